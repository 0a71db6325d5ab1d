"""The sampling core: the sampling rules, written once for every Python runtime (no torch import).

``CatsPipeline`` (PyTorch) and ``OnnxCatsPipeline`` (ONNX Runtime) are thin adapters over it: each
supplies a ``step(x, sigma, sigma_next) -> (x_next, pred_x0)`` callable (the network with its
guidance and one Euler move: the PyTorch model with ``cats.flow.guided_velocity``, or one call of
the exported step graph) and an explicit list of sigmas; the core checks the call, starts the
sample, integrates, calls back after each step and turns the result into images. The web client's
``webclient/src/lib/sampler.ts`` mirrors it function for function, proven by the fixture
``webclient/tests/fixtures/sampling.json`` (written from this module by make_fixtures.py).

Another model is another step callable and another schedule: a distilled few-step generator with
its guidance baked in runs the conditional branch only, over ``linspace(1, 0, n + 1)``, through
the same ``run_sampler``.

Arrays are NumPy arrays or torch tensors alike: the core only adds, scales and passes them on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, Callable

import numpy as np

from cats.convention import SIGMA_MIN, interpolate
from cats.images import from_model_array
from cats.noise import gaussian_noise

SAMPLERS = ("euler", "heun")
OUTPUT_TYPES = ("pil", "np")  # what ``postprocess`` makes; the PyTorch pipeline adds "pt"

Array = Any  # a NumPy array or a torch tensor
StepFn = Callable[[Array, float, float], "tuple[Array, Array]"]
OnStep = Callable[[int, float, Array, Array], "Array | None"]


# -- checking a call ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Call:
    """The checked settings of one sampling call."""

    steps: int
    guidance: float
    sampler: str
    output_type: str


def check_steps(steps) -> int:
    if isinstance(steps, bool) or not isinstance(steps, Integral) or steps < 1:
        raise ValueError(f"num_inference_steps must be a positive integer, got {steps!r}")
    return int(steps)


def check_guidance(guidance) -> float:
    if isinstance(guidance, bool) or not isinstance(guidance, Real) or not math.isfinite(guidance) or guidance < 0:
        raise ValueError(f"guidance_scale must be a finite number >= 0 (1 = no guidance), got {guidance!r}")
    return float(guidance)


def check_choice(name: str, value, choices: tuple[str, ...], note: str = "") -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}{note}, got {value!r}")
    return value


def check_call(num_inference_steps, guidance_scale, sampler: str, output_type: str, *, default_steps: int,
               default_guidance: float, output_types: tuple[str, ...] = OUTPUT_TYPES, note: str = "") -> Call:
    """Every setting of a call checked, None replaced by the model's default. Raises ValueError naming the bad one."""
    return Call(steps=check_steps(default_steps if num_inference_steps is None else num_inference_steps),
                guidance=check_guidance(default_guidance if guidance_scale is None else guidance_scale),
                sampler=check_choice("sampler", sampler, SAMPLERS),
                output_type=check_choice("output_type", output_type, output_types, note))


# -- fast mode: the few-step student --------------------------------------------------------------------

MODES = ("quality", "fast")  # quality: the guided model over its scheduler; fast: the few-step student


def check_fast_call(mode: str, has_student: bool, num_inference_steps, guidance_scale, sampler: str,
                    output_type: str, *, default_steps: int, baked_guidance: float | None,
                    output_types: tuple[str, ...] = OUTPUT_TYPES, note: str = "") -> Call | None:
    """None for ``mode="quality"``; for ``"fast"`` the checked call of the few-step student.

    The student learned the teacher's guided images, so guidance is part of its weights (a second
    guidance would apply it twice: ``guidance_scale`` must be left out, and the step runs the
    conditional branch only); its paths are straight, so it integrates with Euler over
    ``cats.schedule.few_step_sigmas``.
    """
    check_choice("mode", mode, MODES)
    if mode == "quality":
        return None
    if not has_student:
        raise ValueError("these weights have no few-step generator (fast mode): train one with "
                         "python -m cats.training fewstep (docs/fewstep.md) or use mode='quality'")
    if guidance_scale is not None:
        baked = "" if baked_guidance is None else f" (its teacher's {baked_guidance:g})"
        raise ValueError(f"fast mode has its guidance baked into the weights{baked}; leave guidance_scale out")
    if sampler != "euler":
        raise ValueError(f"fast mode integrates with 'euler' (the student's paths are straight), got sampler={sampler!r}")
    return check_call(num_inference_steps, 1.0, sampler, output_type, default_steps=default_steps,
                      default_guidance=1.0, output_types=output_types, note=note)


# -- the start -----------------------------------------------------------------------------------------

def initial_noise(shape: tuple[int, ...], *, seed: int | None, generator, latents: Array | None,
                  draw: Callable[[Any], Array]) -> Array:
    """The starting noise of ``shape`` (B, C, S, S): ``latents`` if given (shape checked), else the shared
    seeded generator ``cats.noise.gaussian_noise(shape, seed)`` (the same numbers in every runtime), else
    ``draw(generator)`` (the runtime's own generator: ``torch.randn`` or a NumPy Generator)."""
    if latents is not None:
        if tuple(latents.shape) != tuple(shape):
            raise ValueError(f"latents must have shape {tuple(shape)} (images, channels, size, size), "
                             f"got {tuple(latents.shape)}")
        return latents
    if seed is not None:
        if generator is not None:
            raise ValueError("pass either seed or generator, not both")
        return gaussian_noise(shape, seed)
    return draw(generator)


def initial_sample(noise: Array, sigmas, image: Array | None = None) -> Array:
    """The first sample: the noise itself (generate, sigmas[0] = 1), or for restyle (SDEdit) the image
    noised to the first sigma of its schedule tail, (1 - s0) * image + s0 * noise. image broadcasts over noise."""
    if len(sigmas) == 0:
        raise ValueError("the schedule is empty")
    return noise if image is None else interpolate(image, noise, sigmas[0])


# -- the integration -------------------------------------------------------------------------------------

def run_sampler(step: StepFn, init: Array, sigmas, sampler: str = "euler", on_step: OnStep | None = None,
                sigma_min: float = SIGMA_MIN) -> Array:
    """Integrate dx/dsigma = v from sigmas[0] to sigmas[-1] (= 0) with Euler or Heun (2nd order).

    step(x, sigma, sigma_next) -> (x_next, pred_x0) is one Euler step of the model (guidance included).
    on_step(index, sigma, x, pred_x0) runs after each step; a returned array replaces x.
    Heun: x + dt/2 (v + v_end). A step gives x + dt v; a second call at the end point with the same dt
    gives x_next + dt v_end, so the update is their mean with x. Not on steps ending below ``sigma_min``
    (the last one ends at 0): there the clamped x -> v slope is wrong and the step is tiny anyway.
    """
    check_choice("sampler", sampler, SAMPLERS)
    x = init
    for i in range(len(sigmas) - 1):
        sigma, sigma_next = float(sigmas[i]), float(sigmas[i + 1])
        x_next, pred_x0 = step(x, sigma, sigma_next)
        if sampler == "heun" and sigma_next >= sigma_min:
            end, _ = step(x_next, sigma_next, 2.0 * sigma_next - sigma)
            x_next = 0.5 * (x + end)
        x = x_next
        if on_step is not None:
            replaced = on_step(i, sigma, x, pred_x0)
            if replaced is not None:
                x = replaced
    return x


def step_callback(owner, callback, convert: Callable[[Array], Array] | None = None) -> OnStep | None:
    """The core's ``on_step`` for a diffusers-style ``callback_on_step_end(owner, step_index, sigma,
    {"latents": x, "pred_x0": x0})``: a returned dict with "latents" replaces the sample (made the
    runtime's array by ``convert``)."""
    if callback is None:
        return None

    def on_step(index: int, sigma: float, x: Array, pred_x0: Array) -> Array | None:
        returned = callback(owner, index, sigma, {"latents": x, "pred_x0": pred_x0})
        if isinstance(returned, dict) and "latents" in returned:
            return returned["latents"] if convert is None else convert(returned["latents"])
        return None

    return on_step


# -- the output ----------------------------------------------------------------------------------------------

def postprocess(x: np.ndarray, output_type: str):
    """(B, 3, S, S) in [-1, 1] -> a list of RGB PIL images ("pil") | float32 (B, S, S, 3) in [0, 1] ("np")."""
    check_choice("output_type", output_type, OUTPUT_TYPES)
    x = np.clip(np.asarray(x, dtype=np.float32), -1.0, 1.0)
    if output_type == "pil":
        return [from_model_array(img) for img in x]
    return ((x + 1.0) / 2.0).transpose(0, 2, 3, 1)
