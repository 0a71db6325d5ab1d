"""Share links: the query parameters both front-ends read on load (the web client also writes them).

    ?breed=British%20Shorthair&seed=7&mode=quality&steps=20&guidance=3
    ?blend=Siamese:0.5,Persian:0.5&seed=7&mode=fast&steps=2

A missing parameter takes its default; an unknown or bad one is left out and named in a plain-words
notice (never an error): a link someone mistyped still opens the demo.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from checks import LIMITS, choices_text

from cats.breeds import BREEDS
from cats.sampling import MODES

KNOWN = ("breed", "blend", "seed", "mode", "steps", "guidance")


@dataclass
class Shared:
    """What a link asked for; None = not given (or not usable), so the control keeps its default."""

    breed: str | None = None
    blend: dict[str, float] | None = None
    seed: int | None = None
    mode: str | None = None
    steps: int | None = None
    guidance: float | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def notice(self) -> str:
        if not self.problems:
            return ""
        return "**Some of this link's settings were not used:** " + "; ".join(self.problems) + "."


def read_query(params, fast_steps: tuple[int, ...]) -> Shared:
    """``params``: the page's query parameters (a mapping of str -> str). Never raises."""
    out = Shared()
    for key in params:
        if key not in KNOWN:
            out.problems.append(f"“{_short(key)}” is not a setting of this demo")
    if "breed" in params:
        name = _breed(params["breed"])
        if name is None:
            out.problems.append(f"“{_short(params['breed'])}” is not one of the 12 breeds")
        out.breed = name
    if "blend" in params and out.breed is None:
        out.blend = _blend(params["blend"])
        if out.blend is None:
            out.problems.append("the blend must look like Siamese:0.5,Persian:0.5 (up to 3 breeds)")
    out.seed = _number(out, params, "seed", LIMITS.seed, int)
    if "mode" in params:
        out.mode = params["mode"] if params["mode"] in MODES else None
        if out.mode is None:
            out.problems.append(f"mode must be {' or '.join(MODES)}")
    if out.mode == "fast" and not fast_steps:
        out.problems.append("these weights have no fast mode")
        out.mode = None
    if out.mode == "fast":
        out.steps = _number(out, params, "steps", (min(fast_steps), max(fast_steps)), int)
        if out.steps is not None and out.steps not in fast_steps:
            out.problems.append(f"fast mode takes {choices_text(fast_steps)} steps")
            out.steps = None
        if "guidance" in params:
            out.problems.append("fast mode has its guidance built in")
    else:
        out.steps = _number(out, params, "steps", LIMITS.steps, int)
        out.guidance = _number(out, params, "guidance", LIMITS.guidance, float)
    return out


def _number(out: Shared, params, key: str, bounds, kind):
    if key not in params:
        return None
    try:
        x = float(params[key]) if len(params[key]) <= 40 else None
    except ValueError:
        x = None
    if x is None or not bounds[0] <= x <= bounds[1] or (kind is int and x != int(x)):
        out.problems.append(f"{key} must be {'a whole number' if kind is int else 'a number'} "
                            f"from {bounds[0]:,} to {bounds[1]:,}")
        return None
    return kind(x)


def _breed(text: str) -> str | None:
    wanted = text.strip().replace("-", " ").replace("_", " ").lower()
    return next((b for b in BREEDS if b.lower() == wanted), None)


def _blend(text: str) -> dict[str, float] | None:
    parts = [p for p in text.split(",") if p.strip()]
    if not 1 <= len(parts) <= 3:
        return None
    blend: dict[str, float] = {}
    for part in parts:
        name, sep, weight = part.rpartition(":")
        breed = _breed(name) if sep else None
        try:
            w = float(weight) if len(weight) <= 20 else -1.0
        except ValueError:
            w = -1.0
        if breed is None or not 0.0 < w <= 1.0 or breed in blend:
            return None
        blend[breed] = w
    return blend


def _short(text: str) -> str:
    return text if len(text) <= 30 else text[:30] + "…"
