"""Flow matching: the one place the convention is written, as plain array arithmetic (no torch import).

Convention (diffusers' rectified flow):
  * sigma in [0, 1]; sigma = 1 is pure noise, sigma = 0 is the clean image.
  * x_sigma = (1 - sigma) * x0 + sigma * noise
  * velocity target v = noise - x0  (so dx/dsigma = v and sampling integrates sigma 1 -> 0)
  * the network's timestep input is 1000 * sigma (TIMESTEP_SCALE)
  * the network predicts either v ("v") or the clean image x0 ("x", JiT-style); the loss is on v
    either way, with v_hat = (x_sigma - x0_hat) / max(sigma, SIGMA_MIN).
  * conditioning is a weight vector over 13 slots; slot NULL_ID is the unconditional one.
  * classifier-free guidance: v = v_null + g * (v_cond - v_null); with a guide network
    (autoguidance), + (w - 1) * (v_cond - v_guide) on top (``guide``).

Every function takes NumPy arrays or torch tensors alike (only operators and ``.clip``), with
``sigma`` already shaped to broadcast over the sample (a scalar or e.g. (B, 1, 1, 1)). The
sampling core and the ONNX pipeline call these directly; ``cats.flow`` (the torch side: (B,)
sigmas, the network call, CFG in one batched pass, the loss) wraps them; the exported step graph
is traced through ``cats.flow``, so it is built from these formulas too.
"""

from __future__ import annotations

TIMESTEP_SCALE = 1000.0
SIGMA_MIN = 0.05  # clamp for x -> v conversion; keeps v_hat bounded near the clean end
PREDICTION_TYPES = ("v", "x")


def interpolate(x0, noise, sigma):
    """x_sigma = (1 - sigma) * x0 + sigma * noise."""
    return (1.0 - sigma) * x0 + sigma * noise


def velocity_target(x0, noise):
    """The regression target v = noise - x0."""
    return noise - x0


def x0_to_velocity(x_sigma, x0_hat, sigma):
    """v_hat = (x_sigma - x0_hat) / max(sigma, SIGMA_MIN); sigma an array (tensor) broadcasting over x."""
    return (x_sigma - x0_hat) / sigma.clip(min=SIGMA_MIN)


def velocity_to_x0(x_sigma, v, sigma):
    """x0_hat = x_sigma - sigma * v (exact inverse of the interpolation for a true v)."""
    return x_sigma - sigma * v


def guide(v_cond, v_null, guidance_scale, v_guide=None, autoguidance_scale=1.0):
    """Classifier-free guidance, plus autoguidance when a guide's velocity is given.

    CFG: v_null + g * (v_cond - v_null); g = 1 is the conditional velocity. Autoguidance (Karras et
    al. 2024) pushes away from a weaker copy of the model, the guide, instead of the unconditional
    model: with v_guide (the guide's conditional velocity) and w the autoguidance scale,

        v = v_null + g * (v_cond - v_null) + (w - 1) * (v_cond - v_guide)
          = v_cond + (g - 1) * (v_cond - v_null) + (w - 1) * (v_cond - v_guide),

    so w = 1 (or no guide) is plain CFG and g = 1 is autoguidance alone, v_guide + w (v_cond - v_guide).
    """
    v = v_null + guidance_scale * (v_cond - v_null)
    if v_guide is None:
        return v
    return v + (autoguidance_scale - 1.0) * (v_cond - v_guide)


def in_interval(sigma: float, interval) -> bool:
    """Whether guidance applies at a step starting at ``sigma``: interval (lo, hi) holds lo <= sigma <= hi, None all.

    Guidance limited to an interval of noise levels (Kynkäänniemi et al. 2024): outside it a step takes the
    conditional velocity alone (guidance scales 1), which also spares the unconditional and guide passes.
    """
    return interval is None or interval[0] <= sigma <= interval[1]


def euler_step(x, v, sigma, sigma_next):
    """One Euler step from sigma to sigma_next: x + (sigma_next - sigma) * v (diffusers' scheduler step)."""
    return x + (sigma_next - sigma) * v
