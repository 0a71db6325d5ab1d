"""Sampling schedules in NumPy (no torch), equal to diffusers' FlowMatchEulerDiscreteScheduler.

The PyTorch pipeline uses the diffusers scheduler itself; the ONNX pipeline and the export
manifest use these functions, and a test checks both give the same sigmas. The web client
reads the exported sigmas from the manifest and mirrors ``transfer_sigmas``.
"""

from __future__ import annotations

import numpy as np

NUM_TRAIN_TIMESTEPS = 1000


def _shift(sigmas: np.ndarray, shift: float) -> np.ndarray:
    return shift * sigmas / (1 + (shift - 1) * sigmas)


def flow_sigmas(num_inference_steps: int, shift: float = 1.0,
                num_train_timesteps: int = NUM_TRAIN_TIMESTEPS) -> np.ndarray:
    """Sigmas for ``num_inference_steps`` Euler steps, float32, length steps + 1, from 1 down to a final 0."""
    if int(num_inference_steps) != num_inference_steps or num_inference_steps < 1:
        raise ValueError(f"num_inference_steps must be a positive integer, got {num_inference_steps!r}")
    if shift <= 0:
        raise ValueError(f"shift must be positive, got {shift}")
    n = num_train_timesteps
    # diffusers computes sigma_min in float32 torch at construction, then the grid in float64.
    sigma_min = float(_shift(np.float32(1.0) / np.float32(n), np.float32(shift)).astype(np.float32))
    sigma_max = 1.0
    timesteps = np.linspace(sigma_max * n, sigma_min * n, int(num_inference_steps))
    sigmas = _shift(timesteps / n, shift).astype(np.float32)
    return np.concatenate([sigmas, np.zeros(1, dtype=np.float32)])


def transfer_sigmas(num_inference_steps: int, strength: float, shift: float = 1.0) -> np.ndarray:
    """The tail of the schedule that "restyle" (SDEdit) integrates: start near sigma = strength.

    Like diffusers' img2img: of ``num_inference_steps`` steps, the last
    ``round(num_inference_steps * strength)`` are run (Python's round: halves go to the even number,
    e.g. 5 steps at strength 0.5 run 2; webclient/src/lib/schedule.ts mirrors it). Strength 0 gives
    ``[0.0]`` (no step: the input image comes back unchanged); strength 1 gives the full schedule.
    """
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be in [0, 1], got {strength}")
    full = flow_sigmas(num_inference_steps, shift)
    run = int(round(num_inference_steps * strength))
    return full[num_inference_steps - run:]
