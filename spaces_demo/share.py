"""Share links: the query parameters both front-ends read on load (the web client also writes them).

    ?breed=British%20Shorthair&seed=7&mode=quality&steps=20&guidance=3&guide=2
    ?blend=Siamese:0.5,Persian:0.5&seed=7&mode=fast&steps=2

A missing parameter takes its default; an unknown or bad one is left out and named in a plain-words
notice (never an error): a link someone mistyped still opens the demo.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from checks import LIMITS, choices_text

from cats.breeds import BREEDS
from cats.sampling import MODES

KNOWN = ("breed", "blend", "seed", "mode", "steps", "guidance", "guide")  # guide: the autoguidance scale
MAX_BLEND = 3  # the Blend tab's slots (the web page has a slider per breed, so it opens larger blends)
# The number grammar both front-ends read (webclient/src/lib/share.ts has the same pattern): a plain decimal,
# optionally signed, with an exponent; not "inf", "nan", "0x10" or "1_000", which one language reads and the other not.
NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")


@dataclass
class Shared:
    """What a link asked for; None = not given (or not usable), so the control keeps its default."""

    breed: str | None = None
    blend: dict[str, float] | None = None
    seed: int | None = None
    mode: str | None = None
    steps: int | None = None
    guidance: float | None = None
    guide: float | None = None  # the autoguidance scale (quality mode; 1 = off)
    problems: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # the share keys whose values were not used

    @property
    def notice(self) -> str:
        if not self.problems:
            return ""
        return "**Some of this link's settings were not used:** " + "; ".join(self.problems) + "."

    def ignore(self, key: str, why: str) -> None:
        self.ignored.append(key)
        if why not in self.problems:  # guidance and guide in fast mode: one reason, said once
            self.problems.append(why)


def read_query(params, fast_steps: tuple[int, ...], has_guide: bool = True) -> Shared:
    """``params``: the page's query parameters (a mapping of str -> str). Never raises.

    fast_steps: the weights' fast-mode step counts (() without fast mode); has_guide: whether they have
    a guide network, without which a link's guide is taken only as 1 (off).

    The rules are the web page's (``parseShare`` in webclient/src/lib/share.ts); the cases both must read
    alike are in webclient/tests/fixtures/share.json, which both test suites run.
    """
    out = Shared()
    for key in params:
        if key not in KNOWN:
            out.problems.append(f"“{_short(key)}” is not a setting of this demo")
    if "breed" in params:
        if "blend" in params:
            out.ignore("blend", "a link names a breed or a blend, not both (the breed was used)")
        out.breed = _breed(params["breed"])
        if out.breed is None:
            out.ignore("breed", f"“{_short(params['breed'])}” is not one of the 12 breeds")
    elif "blend" in params:
        out.blend = _blend(params["blend"])
        if isinstance(out.blend, str):
            out.ignore("blend", out.blend)
            out.blend = None
    out.seed = _number(out, params, "seed", LIMITS.seed, int)
    if "mode" in params:
        out.mode = params["mode"] if params["mode"] in MODES else None
        if out.mode is None:
            out.ignore("mode", f"mode must be {' or '.join(MODES)}")
        elif out.mode == "fast" and not fast_steps:
            out.ignore("mode", "these weights have no fast mode")
            out.mode = None
    if out.mode == "fast":
        out.steps = _number(out, params, "steps", (min(fast_steps), max(fast_steps)), int)
        if out.steps is not None and out.steps not in fast_steps:
            out.ignore("steps", f"fast mode takes {choices_text(fast_steps)} steps")
            out.steps = None
        for key in ("guidance", "guide"):
            if key in params:
                out.ignore(key, "fast mode has its guidance built in")
    else:
        out.steps = _number(out, params, "steps", LIMITS.steps, int)
        out.guidance = _number(out, params, "guidance", LIMITS.guidance, float)
        out.guide = _guide(out, params, has_guide)
    return out


def _guide(out: Shared, params, has_guide: bool) -> float | None:
    """The link's autoguidance scale (quality mode), or None: not given, or ignored with the reason."""
    if "guide" not in params:
        return None
    text = params["guide"]
    lo, hi = LIMITS.autoguidance
    x = float(text) if len(text) <= 40 and NUMBER.fullmatch(text) else None
    if x is None or not lo <= x <= hi:
        out.ignore("guide", f"guide “{_short(text)}” should be a number from {lo:g} to {hi:g}")
        return None
    if not has_guide and x != 1:  # 1 (off) draws the same picture with or without a guide network
        out.ignore("guide", "these weights have no guide network")
        return None
    return x


def _number(out: Shared, params, key: str, bounds, kind):
    if key not in params:
        return None
    text = params[key]
    x = float(text) if len(text) <= 40 and NUMBER.fullmatch(text) else None
    if x is None or not bounds[0] <= x <= bounds[1] or (kind is int and x != int(x)):
        out.ignore(key, f"{key} must be {'a whole number' if kind is int else 'a number'} "
                        f"from {bounds[0]:,} to {bounds[1]:,}")
        return None
    return kind(x)


def _breed(text: str) -> str | None:
    wanted = text.strip().replace("-", " ").replace("_", " ").lower()
    return next((b for b in BREEDS if b.lower() == wanted), None)


def _blend(text: str) -> dict[str, float] | str:
    """The breeds with a weight above 0, or why the blend cannot be used."""
    blend: dict[str, float] = {}
    for part in (p for p in text.split(",") if p.strip()):
        name, sep, weight = part.rpartition(":")
        if not sep:  # a breed without its weight
            name, weight = part, ""
        breed = _breed(name)
        if breed is None:
            return f"“{_short(name.strip())}” in the blend is not one of the 12 breeds"
        w = float(weight) if len(weight) <= 20 and NUMBER.fullmatch(weight) else -1.0
        if not 0.0 <= w <= 1.0:
            return f"the weight of {breed} must be a number from 0 to 1"
        if breed in blend:
            return f"the blend names {breed} twice"
        blend[breed] = w
    blend = {name: w for name, w in blend.items() if w > 0}
    if not blend:
        return "a blend needs at least one breed with a weight above 0, like Siamese:0.5,Persian:0.5"
    if len(blend) > MAX_BLEND:
        return f"this demo blends up to {MAX_BLEND} breeds (the web page opens larger blends)"
    return blend


def _short(text: str) -> str:
    return text if len(text) <= 30 else text[:30] + "…"
