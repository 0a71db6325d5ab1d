"""Sampling schedules in NumPy (no torch): the one source of sigmas for every runtime.

``sigmas(steps, mode, shift)`` is what both pipelines integrate over: for "quality" the grid of
diffusers' FlowMatchEulerDiscreteScheduler (``flow_sigmas``, equal to it bit for bit, a test checks),
for "fast" the few-step student's equal steps (``few_step_sigmas``). The diffusers scheduler stays
the place the PyTorch pipeline saves its settings; ``check_scheduler`` reads its shift and refuses
every class or option this grid does not reproduce, once when a pipeline loads (or is given a new
scheduler) and once at export. The web client reads the exported sigmas from the manifest and
mirrors ``flow_sigmas`` and ``transfer_tail`` (webclient/src/lib/schedule.ts).
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np

MODES = ("quality", "fast")  # quality: the guided model over the scheduler's grid; fast: the few-step student
NUM_TRAIN_TIMESTEPS = 1000
SCHEDULER_CLASS = "FlowMatchEulerDiscreteScheduler"
# The scheduler config values every runtime reproduces; "shift" may be any positive number.
REPRODUCED = {"num_train_timesteps": NUM_TRAIN_TIMESTEPS, "use_dynamic_shifting": False, "invert_sigmas": False,
              "shift_terminal": None, "use_karras_sigmas": False, "use_exponential_sigmas": False,
              "use_beta_sigmas": False, "stochastic_sampling": False}
# Read by diffusers only under use_dynamic_shifting (refused above), so any value gives the same sigmas.
UNUSED_WITHOUT_DYNAMIC_SHIFTING = ("base_shift", "max_shift", "base_image_seq_len", "max_image_seq_len",
                                   "time_shift_type")


def check_scheduler(scheduler) -> float:
    """The shift of a scheduler whose sigmas every runtime reproduces; ValueError naming what is not.

    Accepted: diffusers' FlowMatchEulerDiscreteScheduler with any positive ``shift`` and every other
    option at the value in ``REPRODUCED``. Refused: another class (or a subclass), Karras /
    exponential / beta sigmas, ``shift_terminal``, dynamic shifting, inverted sigmas, stochastic
    sampling, another ``num_train_timesteps``, a shift changed by ``set_shift`` after construction,
    and any option this version does not know.
    """
    cls = type(scheduler)
    if cls.__name__ != SCHEDULER_CLASS or not cls.__module__.startswith("diffusers."):
        raise ValueError(f"scheduler {cls.__module__}.{cls.__qualname__} is not supported: tiny-cats samples with "
                         f"its own Euler/Heun loop over the sigmas of diffusers' {SCHEDULER_CLASS}, which the ONNX "
                         f"and web runtimes reproduce; use {SCHEDULER_CLASS}(shift=...)")
    config = dict(scheduler.config)
    bad = [f"{key}={config[key]!r} (supported: {value!r})" for key, value in REPRODUCED.items()
           if key in config and config[key] != value]
    known = {"shift", *REPRODUCED, *UNUSED_WITHOUT_DYNAMIC_SHIFTING}
    bad += [f"{key}={value!r} (an option this version does not know)" for key, value in config.items()
            if not key.startswith("_") and key not in known]
    shift = config.get("shift", 1.0)
    if isinstance(shift, bool) or not isinstance(shift, Real) or not shift > 0:
        bad.append(f"shift={shift!r} (supported: a positive number)")
    elif float(getattr(scheduler, "shift", shift)) != float(shift):
        bad.append(f"shift changed to {scheduler.shift!r} by set_shift after construction (config says {shift!r}; "
                   "build a new scheduler with that shift instead)")
    if bad:
        raise ValueError(f"{SCHEDULER_CLASS} option(s) that the ONNX and web runtimes cannot reproduce: "
                         + "; ".join(bad) + f". Use {SCHEDULER_CLASS}(shift=...) with the other options at "
                         "their defaults")
    return float(shift)


def check_steps(steps) -> int:
    """A step count as an int, or ValueError: a positive integer (NumPy integers too, not bools or floats)."""
    if isinstance(steps, bool) or not isinstance(steps, Integral) or steps < 1:
        raise ValueError(f"num_inference_steps must be a positive integer, got {steps!r}")
    return int(steps)


def sigmas(num_inference_steps: int, mode: str = "quality", shift: float = 1.0) -> np.ndarray:
    """The steps + 1 sigmas (1 -> 0, float64) a sampling call of ``mode`` integrates over.

    quality: ``flow_sigmas(steps, shift)`` (diffusers' float32 grid, held exactly); fast:
    ``few_step_sigmas(steps)`` (the student ignores ``shift``). Each runtime takes them as its own
    numbers: Python floats for PyTorch, float32 for the ONNX graphs.
    """
    if mode == "fast":
        return np.asarray(few_step_sigmas(num_inference_steps), dtype=np.float64)
    if mode != "quality":
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    return flow_sigmas(num_inference_steps, shift).astype(np.float64)


def _shift(sigmas: np.ndarray, shift: float) -> np.ndarray:
    return shift * sigmas / (1 + (shift - 1) * sigmas)


def flow_sigmas(num_inference_steps: int, shift: float = 1.0,
                num_train_timesteps: int = NUM_TRAIN_TIMESTEPS) -> np.ndarray:
    """Sigmas for ``num_inference_steps`` Euler steps, float32, length steps + 1, from 1 down to a final 0."""
    num_inference_steps = check_steps(num_inference_steps)
    if shift <= 0:
        raise ValueError(f"shift must be positive, got {shift}")
    n = num_train_timesteps
    # diffusers computes sigma_min in float32 torch at construction, then the grid in float64.
    sigma_min = float(_shift(np.float32(1.0) / np.float32(n), np.float32(shift)).astype(np.float32))
    sigma_max = 1.0
    timesteps = np.linspace(sigma_max * n, sigma_min * n, num_inference_steps)
    sigmas = _shift(timesteps / n, shift).astype(np.float32)
    return np.concatenate([sigmas, np.zeros(1, dtype=np.float32)])


def check_strength(strength) -> float:
    if isinstance(strength, bool) or not isinstance(strength, Real) or not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be a number in [0, 1], got {strength!r}")
    return float(strength)


def transfer_tail(sigmas, strength: float):
    """The tail of a full schedule (steps + 1 sigmas ending at 0) that "restyle" (SDEdit) integrates.

    Like diffusers' img2img: of the steps, the last ``round(steps * strength)`` are run (Python's
    round: halves go to the even number, e.g. 5 steps at strength 0.5 run 2;
    webclient/src/lib/schedule.ts::transferSigmas mirrors it). Strength 0 gives ``[0.0]`` (no step:
    the input image comes back unchanged); strength 1 gives the full schedule.
    """
    strength = check_strength(strength)
    steps = len(sigmas) - 1
    run = int(round(steps * strength))
    return sigmas[steps - run:]


def transfer_sigmas(num_inference_steps: int, strength: float, shift: float = 1.0) -> np.ndarray:
    """``transfer_tail`` of ``flow_sigmas(num_inference_steps, shift)``: a start near sigma = strength."""
    check_strength(strength)
    return transfer_tail(flow_sigmas(num_inference_steps, shift), strength)


def few_step_sigmas(num_inference_steps: int) -> list[float]:
    """The few-step student's schedule: ``num_inference_steps`` equal Euler steps from sigma 1 to 0.

    Not diffusers' grid, which ends at 1/1000 and adds a final step to 0 (its 2 steps are 1 -> 0.001
    -> 0, in effect one): the student's straight lines make every step count.
    """
    num_inference_steps = check_steps(num_inference_steps)
    return [1.0 - i / num_inference_steps for i in range(num_inference_steps)] + [0.0]
