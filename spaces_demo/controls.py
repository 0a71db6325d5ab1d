"""The sampling settings' controls, shared by the Generate, Blend, Restyle and Compare tabs.

Their ranges are what the handlers accept (``checks.LIMITS``) and their defaults the weights'
(``backends.Facts``), so a control never offers a value a handler refuses. The Guide slider
(autoguidance) is hidden for weights without a guide network. In fast mode Guidance and Guide are
greyed out: the few-step student has its guidance built in, so neither is used.
"""

from __future__ import annotations

import gradio as gr
from backends import Facts
from checks import LIMITS

from cats.sampling import SAMPLERS

GUIDANCE_INFO = "how strongly the breed is followed (1 = not at all)"
GUIDE_INFO = "autoguidance by a weaker copy of the model (1 = classifier-free guidance only)"
FAST_INFO = "built into fast mode"


def kwargs(facts: Facts) -> dict[str, dict]:
    """Each setting's component arguments: "steps", "guidance", "guide" (sliders) and "seed" (a number box)."""
    return {
        "steps": dict(minimum=LIMITS.steps[0], maximum=LIMITS.steps[1], step=1, value=facts.steps, label="Steps",
                      info="more steps: more detail, slower"),
        "guidance": dict(minimum=LIMITS.guidance[0], maximum=LIMITS.guidance[1], step=0.5, value=facts.guidance,
                         label="Guidance", info=GUIDANCE_INFO),
        # without a guide it stays hidden at 1 (off), the one value such weights accept
        "guide": dict(minimum=LIMITS.autoguidance[0], maximum=LIMITS.autoguidance[1], step=0.1,
                      value=facts.autoguidance or 1.0, label="Guide", info=GUIDE_INFO, visible=facts.has_guide),
        "seed": dict(label="Seed", value=0, precision=0, minimum=LIMITS.seed[0], maximum=LIMITS.seed[1]),
    }


def advanced(kw: dict[str, dict]):
    """A closed "Advanced" section with steps, guidance, guide and seed -> the four components."""
    with gr.Accordion("Advanced", open=False):
        steps, guidance, guide = gr.Slider(**kw["steps"]), gr.Slider(**kw["guidance"]), gr.Slider(**kw["guide"])
        seed = gr.Number(**kw["seed"])
    return steps, guidance, guide, seed


def mode_updates(facts: Facts, mode: str, steps: int | None = None):
    """Updates of the Generate tab's steps, fast steps, guidance, guide and sampler for a mode.

    Fast offers only its step counts and the euler sampler, and greys out both guidance settings.
    """
    fast = mode == "fast"
    n = steps or (facts.fast_default if fast else facts.steps)
    return (gr.update(value=n, visible=not fast),
            gr.update(value=n if fast else facts.fast_default, visible=fast),
            gr.update(interactive=not fast, info=FAST_INFO if fast else GUIDANCE_INFO),
            gr.update(interactive=not fast, info=FAST_INFO if fast else GUIDE_INFO),
            gr.update(value="euler" if fast else SAMPLERS[0], interactive=not fast))
