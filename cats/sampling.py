"""The sampling core: the generation and restyle sequences, written once for every Python runtime (no torch).

``generate`` and ``restyle`` are the whole sequence of a call: check the settings (the mode's defaults
filled in), take the mode's sigmas, draw the noise, start the sample, integrate with Euler or Heun,
call back after each step, make images. ``CatsPipeline`` (PyTorch) and ``OnnxCatsPipeline`` (ONNX
Runtime) only implement ``Runtime``, the few things that differ between them (defaults, sigmas as
the runtime's numbers, their own noise generator, the step function of a mode, arrays in and images
out), and their
``__call__`` / ``transfer`` pass the user's arguments straight here. The web client's
``webclient/src/lib/sampler.ts`` mirrors ``check_steps``, ``check_guidance``, ``initial_sample`` and
``run_sampler``, proven by the fixture ``webclient/tests/fixtures/sampling.json`` (written from this
module by make_fixtures.py).

The mode is a value: "quality" (the guided model over the scheduler's sigmas) or "fast" (the
few-step student, guidance baked in, Euler over equal steps); ``check_call`` holds the rules of
each, ``cats.schedule.sigmas`` the schedule of each, and the runtime's ``step(weights, call)`` picks
the network of ``call.mode``.

Arrays are NumPy arrays or torch tensors alike: the core only adds, scales and passes them on.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from numbers import Real
from typing import Any, Callable, ContextManager, Protocol

import numpy as np

from cats.convention import SIGMA_MIN, in_interval, interpolate
from cats.images import from_model_array, load_image, to_model_array
from cats.noise import gaussian_noise
from cats.schedule import MODES, check_steps, check_strength, transfer_tail

__all__ = ["MODES", "OUTPUT_TYPES", "SAMPLERS", "Call", "ModeDefaults", "Runtime", "check_autoguidance", "check_call",
           "check_choice", "check_guidance", "check_interval", "check_steps", "generate", "guidance_at", "initial_noise",
           "initial_sample", "postprocess", "restyle", "run_sampler", "step_callback"]

SAMPLERS = ("euler", "heun")
OUTPUT_TYPES = ("pil", "np")  # what ``postprocess`` makes; the PyTorch pipeline adds "pt"

Array = Any  # a NumPy array or a torch tensor
StepFn = Callable[[Array, float, float], "tuple[Array, Array]"]
OnStep = Callable[[int, float, Array, Array], "Array | None"]


# -- checking a call ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class ModeDefaults:
    """A loaded model's defaults for one mode: its step count and guidance (fast: the guidance baked in, or None),
    and its autoguidance scale (None: the model has no guide, so none can be asked for)."""

    steps: int
    guidance: float | None
    autoguidance: float | None = None
    interval: tuple[float, float] | None = None  # the sigmas where guidance applies (None: every step)


@dataclass(frozen=True)
class Call:
    """The checked settings of one sampling call; ``guidance`` is None in fast mode (baked into the student);
    ``autoguidance`` is None when the guide does not run (fast mode, no guide, or a scale of 1)."""

    steps: int
    guidance: float | None
    sampler: str
    output_type: str
    mode: str = "quality"
    autoguidance: float | None = None
    interval: tuple[float, float] | None = None  # guidance only at steps starting in [lo, hi] (None: every step)


def check_guidance(guidance) -> float:
    if isinstance(guidance, bool) or not isinstance(guidance, Real) or not math.isfinite(guidance) or guidance < 0:
        raise ValueError(f"guidance_scale must be a finite number >= 0 (1 = no guidance), got {guidance!r}")
    return float(guidance)


def check_autoguidance(scale, has_guide: bool) -> float | None:
    """A requested autoguidance scale checked against the model: None (no guide runs) for 1 or no guide."""
    if isinstance(scale, bool) or not isinstance(scale, Real) or not math.isfinite(scale) or scale < 1:
        raise ValueError(f"autoguidance_scale must be a finite number >= 1 (1 = off: classifier-free guidance "
                         f"only), got {scale!r}")
    if scale != 1 and not has_guide:
        raise ValueError(f"autoguidance_scale={scale:g} needs a guide network, and these weights have none: leave "
                         "it out (or 1), or load weights saved with a guide (docs/guidance.md)")
    return None if scale == 1 else float(scale)


def check_interval(interval) -> tuple[float, float] | None:
    """A guidance interval (lo, hi) of sigmas with 0 <= lo < hi <= 1, or None (guidance at every step)."""
    if interval is None:
        return None
    if isinstance(interval, str):
        raise ValueError(f"guidance_interval must be two sigmas (lo, hi) or None, got {interval!r}")
    try:
        lo, hi = (float(v) for v in interval)
    except (TypeError, ValueError):
        raise ValueError(f"guidance_interval must be two sigmas (lo, hi) or None, got {interval!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and 0.0 <= lo < hi <= 1.0):
        raise ValueError(f"guidance_interval must have 0 <= lo < hi <= 1, got {interval!r}")
    return (lo, hi)


def guidance_at(call: Call, sigma: float) -> tuple[float | None, float | None]:
    """The (guidance, autoguidance) a step starting at ``sigma`` applies: the call's inside its interval,
    (1, None) outside it (the conditional velocity alone); fast mode's (None, None) everywhere."""
    if call.guidance is None or in_interval(sigma, call.interval):
        return call.guidance, call.autoguidance
    return 1.0, None


def check_choice(name: str, value, choices: tuple[str, ...], note: str = "") -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}{note}, got {value!r}")
    return value


def check_call(mode: str, num_inference_steps, guidance_scale, sampler: str, output_type: str, *,
               defaults: ModeDefaults | None, output_types: tuple[str, ...] = OUTPUT_TYPES, note: str = "",
               autoguidance_scale=None, guidance_interval="default") -> Call:
    """Every setting of a call checked, None replaced by the mode's default. Raises ValueError naming the bad one.

    autoguidance_scale (quality mode): the weight of the guide network (``cats.convention.guide``), None
    for the model's default; 1 turns it off (classifier-free guidance only). guidance_interval (quality mode):
    (lo, hi) sigmas where guidance applies, None for every step, "default" for the model's.

    defaults: the runtime's ``ModeDefaults`` for ``mode``, None when it has no model for it. Fast mode
    (the few-step student) learned the teacher's guided images, so guidance is part of its weights (a
    second guidance would apply it twice: ``guidance_scale`` must be left out, and its step runs the
    conditional branch only); its paths are straight, so it integrates with Euler.
    """
    check_choice("mode", mode, MODES)
    if defaults is None:
        raise ValueError("these weights have no few-step generator (fast mode): train one with "
                         "python -m cats.training fewstep (docs/fewstep.md) or use mode='quality'")
    guidance = None
    if mode == "fast":
        if guidance_scale is not None or autoguidance_scale is not None or guidance_interval != "default":
            baked = "" if defaults.guidance is None else f" (its teacher's {defaults.guidance:g})"
            name = ("guidance_scale" if guidance_scale is not None else
                    "autoguidance_scale" if autoguidance_scale is not None else "guidance_interval")
            raise ValueError(f"fast mode has its guidance baked into the weights{baked}; leave {name} out")
        if sampler != "euler":
            raise ValueError(f"fast mode integrates with 'euler' (the student's paths are straight), got "
                             f"sampler={sampler!r}")
    steps = check_steps(defaults.steps if num_inference_steps is None else num_inference_steps)
    autoguidance, interval = None, None
    if mode == "quality":
        interval = check_interval(defaults.interval if guidance_interval == "default" else guidance_interval)
        guidance = check_guidance(defaults.guidance if guidance_scale is None else guidance_scale)
        if autoguidance_scale is not None:
            autoguidance = check_autoguidance(autoguidance_scale, defaults.autoguidance is not None)
        elif defaults.autoguidance is not None:
            autoguidance = check_autoguidance(defaults.autoguidance, True)
    return Call(steps=steps, guidance=guidance, sampler=check_choice("sampler", sampler, SAMPLERS),
                output_type=check_choice("output_type", output_type, output_types, note), mode=mode,
                autoguidance=autoguidance, interval=interval)


# -- the runtime a pipeline implements -------------------------------------------------------------------

class Runtime(Protocol):
    """What a pipeline gives the core: the few things that differ between PyTorch and ONNX Runtime."""

    image_size: int  # the side of the images drawn and restyled
    sample_shape: tuple[int, int, int]  # (C, S, S) of what the sampler integrates: pixels or latents
    output_types: tuple[str, ...]  # what ``postprocess`` makes
    note: str  # appended to a refused output_type ("(no torch here)")
    sigma_min: float  # where Heun stops correcting (the model's x -> v clamp)

    def class_weights(self, breed, batch: int = 1) -> Array:
        """(B, 13) conditioning weights (``cats.breeds.breed_weights``) as the runtime's array."""

    def defaults(self, mode: str) -> ModeDefaults | None:
        """The loaded model's defaults for ``mode``; None when there is no model for it."""

    def sigmas(self, num_inference_steps: int, mode: str = "quality") -> Array:
        """``cats.schedule.sigmas`` of the mode, as the runtime's numbers."""

    def draw(self, generator, shape: tuple[int, ...]) -> Array:
        """Standard normal noise of ``shape`` from the runtime's own generator (None: a fresh one)."""

    def convert(self, array) -> Array:
        """A NumPy array (or one returned by a callback) as the runtime's array, on its device and dtype."""

    def encode(self, pixels: Array) -> Array:
        """(B, 3, S, S) images in [-1, 1] -> what the sampler integrates (a latent runtime encodes them)."""

    def step(self, weights: Array, call: Call) -> StepFn:
        """The step of ``call.mode``'s network: (x, sigma, sigma_next) -> (x_next, pred_x0), guidance included."""

    def progress(self, total: int) -> ContextManager[Callable[[], None]]:
        """A progress display of ``total`` steps; the context yields its tick."""

    def postprocess(self, x: Array, output_type: str):
        """The sampler's result (``sample_shape``; a latent runtime decodes it) -> images of ``output_type``."""


# -- the two sequences ---------------------------------------------------------------------------------

def generate(rt: Runtime, breed, num_inference_steps, guidance_scale, sampler: str, output_type: str, *,
             batch: int = 1, mode: str = "quality", seed=None, generator=None, latents=None, callback=None,
             progress: bool = False, autoguidance_scale=None, guidance_interval="default"):
    """Images of ``breed`` from noise: ``batch`` per breed entry (see ``cats.breeds.breed_weights``)."""
    weights = rt.class_weights(breed, batch)  # (B, 13)
    call = check_call(mode, num_inference_steps, guidance_scale, sampler, output_type, defaults=rt.defaults(mode),
                      output_types=rt.output_types, note=rt.note, autoguidance_scale=autoguidance_scale,
                      guidance_interval=guidance_interval)
    sigmas = rt.sigmas(call.steps, call.mode)
    noise = _noise(rt, weights.shape[0], seed, generator, latents)
    return _integrate(rt, initial_sample(noise, sigmas), sigmas, weights, call, callback, progress)


def restyle(rt: Runtime, image, breed, strength, num_inference_steps, guidance_scale, sampler: str,
            output_type: str, *, seed=None, generator=None, latents=None, callback=None, progress: bool = False,
            autoguidance_scale=None, guidance_interval="default"):
    """A photo restyled as ``breed`` (SDEdit): noised to sigma ~ strength, integrated to 0 (quality mode).

    Uses the last round(steps * strength) steps of the schedule (``cats.schedule.transfer_tail``):
    strength 0 returns the resized input, strength 1 ignores it. One image per breed entry.
    """
    strength = check_strength(strength)
    start = rt.encode(rt.convert(to_model_array(load_image(image), rt.image_size)[None]))  # (1, C, S', S')
    weights = rt.class_weights(breed, 1)  # (B, 13)
    call = check_call("quality", num_inference_steps, guidance_scale, sampler, output_type,
                      defaults=rt.defaults("quality"), output_types=rt.output_types, note=rt.note,
                      autoguidance_scale=autoguidance_scale, guidance_interval=guidance_interval)
    sigmas = transfer_tail(rt.sigmas(call.steps), strength)  # the last steps, ending at 0
    noise = _noise(rt, weights.shape[0], seed, generator, latents)
    return _integrate(rt, initial_sample(noise, sigmas, start), sigmas, weights, call, callback, progress)


def _noise(rt: Runtime, batch: int, seed, generator, latents) -> Array:
    """(B, C, S, S) starting noise as the runtime's array: ``initial_noise`` with the runtime's generator."""
    shape = (batch, *rt.sample_shape)
    return rt.convert(initial_noise(shape, seed=seed, generator=generator,
                                    latents=None if latents is None else rt.convert(latents),
                                    draw=lambda g: rt.draw(g, shape)))


def _integrate(rt: Runtime, x: Array, sigmas, weights: Array, call: Call, callback, progress: bool):
    """``run_sampler`` with the runtime's step of the call's mode, the user's callback and a progress tick."""
    user = step_callback(rt, callback, rt.convert)
    with rt.progress(len(sigmas) - 1) if progress else contextlib.nullcontext(None) as tick:
        def on_step(index: int, sigma: float, latents: Array, pred_x0: Array) -> Array | None:
            replaced = user(index, sigma, latents, pred_x0) if user is not None else None
            if tick is not None:
                tick()
            return replaced

        x = run_sampler(rt.step(weights, call), x, sigmas, call.sampler, on_step, rt.sigma_min)
    return rt.postprocess(x, call.output_type)


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
