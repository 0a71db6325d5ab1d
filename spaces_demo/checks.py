"""The demo's checks of what arrives: every value a handler takes is validated here, once.

Every handler is registered with ``preprocess=False``, so it receives the raw values a browser or an
API client sent — Gradio does not enforce slider ranges or dropdown choices for API calls. A bad
value raises ``gr.Error`` naming the input, the accepted range and (truncated) the value; the app
stays up. Those refusals are the visitor's mistakes, not faults: each is logged as one line
(``tiny_cats.demo`` logger) with no traceback.
"""

from __future__ import annotations

import html
import logging
import math
from dataclasses import dataclass

import gradio as gr

from cats.breeds import BREEDS, breed_name
from cats.noise import MAX_SEED  # the seed box means cats.noise's seed: the web client's seed field too

ECHO_CHARS = 60  # an echoed value is cut to this many characters
log = logging.getLogger("tiny_cats.demo")


@dataclass(frozen=True)
class Limits:
    """Accepted ranges, shared by the sliders and the handlers' checks."""

    steps: tuple[int, int] = (1, 100)
    guidance: tuple[float, float] = (0.0, 15.0)
    autoguidance: tuple[float, float] = (1.0, 5.0)  # the Guide setting and a link's guide (1 = off)
    num_images: tuple[int, int] = (1, 4)
    strength: tuple[float, float] = (0.0, 1.0)
    weight: tuple[float, float] = (0.0, 1.0)
    seed: tuple[int, int] = (0, MAX_SEED)


LIMITS = Limits()


def echo(value) -> str:
    """A short description of what arrived, for error messages: at most about ECHO_CHARS characters."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
        return f"an integer of about {int(value.bit_length() * math.log10(2)) + 1:,} digits"
    if isinstance(value, dict):
        keys = ", ".join(repr(k)[:20] for k in list(value)[:6])
        text = f"a dict with keys {keys}" if value else "an empty dict"
    elif isinstance(value, (list, tuple)):
        text = f"a {type(value).__name__} of {len(value)} items"
    elif isinstance(value, str):
        text = repr(value[:ECHO_CHARS + 1])
    else:
        text = repr(value)
    if len(text) <= ECHO_CHARS:
        return text
    total = f" ({len(value):,} characters)" if isinstance(value, str) else ""
    return f"{text[:ECHO_CHARS]}...{total}"


def refuse(message: str) -> gr.Error:
    """A request the visitor got wrong: one log line, no traceback, the message shown as is.

    Gradio renders the message as HTML, so the echoed parts cannot add markup.
    """
    message = html.escape(message, quote=False)
    log.info("refused: %s", message.replace("\n", " "))
    return gr.Error(message, print_exception=False)


def _number(name: str, value, lo: float, hi: float, integer: bool) -> float | int:
    kind = "an integer" if integer else "a number"

    def bad() -> gr.Error:
        return refuse(f"{name} must be {kind} in [{lo}, {hi}], got {echo(value)}")

    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise bad()
    if isinstance(value, str) and len(value) > ECHO_CHARS:  # no number of the ranges here is that long
        raise bad()
    try:
        x = float(value)
    except (ValueError, OverflowError):  # OverflowError: an int too large for a float (10**400)
        raise bad() from None
    if not math.isfinite(x) or not lo <= x <= hi or (integer and x != int(x)):
        raise bad()
    return int(x) if integer else x


def check_int(name: str, value, bounds: tuple[int, int]) -> int:
    return _number(name, value, bounds[0], bounds[1], integer=True)


def check_float(name: str, value, bounds: tuple[float, float]) -> float:
    return _number(name, value, bounds[0], bounds[1], integer=False)


def check_choice(name: str, value, choices) -> str:
    if not isinstance(value, str) or value not in choices:
        raise refuse(f"{name} must be one of {', '.join(map(str, choices))}; got {echo(value)}")
    return value


def check_sampling(steps, guidance, guide, seed) -> tuple[int, float, float, int]:
    """The settings every generating handler takes: steps, guidance scale, guide (autoguidance) scale, seed."""
    return (check_int("steps", steps, LIMITS.steps), check_float("guidance", guidance, LIMITS.guidance),
            check_float("guide", guide, LIMITS.autoguidance), check_int("seed", seed, LIMITS.seed))


def check_breed(value, name: str = "breed") -> str:
    ok_type = isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))
    if not ok_type or (isinstance(value, str) and len(value) > ECHO_CHARS) or (
            isinstance(value, int) and not 0 <= value < len(BREEDS)):
        raise refuse(f"{name} must be one of {', '.join(BREEDS)} (or an id 0-{len(BREEDS) - 1}); got {echo(value)}")
    try:
        return breed_name(value)
    except ValueError as exc:  # cats.breeds names the value (at most ECHO_CHARS long here) and the choices
        raise refuse(f"{name}: {exc}") from None


def choices_text(values) -> str:
    """[1, 2, 4] -> "1, 2 or 4"; [] -> "none"."""
    values = [str(v) for v in values]
    if not values:
        return "none"
    return values[0] if len(values) == 1 else ", ".join(values[:-1]) + " or " + values[-1]
