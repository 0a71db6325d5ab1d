"""Flow matching: the one place the convention is written.

Convention (diffusers' rectified flow):
  * sigma in [0, 1]; sigma = 1 is pure noise, sigma = 0 is the clean image.
  * x_sigma = (1 - sigma) * x0 + sigma * noise
  * velocity target v = noise - x0  (so dx/dsigma = v and sampling integrates sigma 1 -> 0)
  * the network's timestep input is 1000 * sigma (TIMESTEP_SCALE)
  * the network predicts either v ("v") or the clean image x0 ("x", JiT-style); the loss is on v
    either way, with v_hat = (x_sigma - x0_hat) / max(sigma, SIGMA_MIN).
  * conditioning is a weight vector over 13 slots; slot NULL_ID is the unconditional one.
  * classifier-free guidance: v = v_null + g * (v_cond - v_null), both from one batched forward.

Everything here works on any ``model(sample, timestep, class_weights) -> tensor`` and is
export-friendly (no Python branching on tensor values).
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from cats.breeds import NULL_ID, NUM_SLOTS

TIMESTEP_SCALE = 1000.0
SIGMA_MIN = 0.05  # clamp for x -> v conversion; keeps v_hat bounded near the clean end
PREDICTION_TYPES = ("v", "x")

Model = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def _expand(sigma: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """(B,) -> (B, 1, 1, 1) so it broadcasts over an image batch."""
    return sigma.reshape(-1, *([1] * (like.ndim - 1)))


def interpolate(x0: torch.Tensor, noise: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """x_sigma = (1 - sigma) * x0 + sigma * noise. x0, noise: (B, C, H, W); sigma: (B,)."""
    s = _expand(sigma, x0)
    return (1.0 - s) * x0 + s * noise


def velocity_target(x0: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """The regression target v = noise - x0."""
    return noise - x0


def x0_to_velocity(x_sigma: torch.Tensor, x0_hat: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """v_hat = (x_sigma - x0_hat) / max(sigma, SIGMA_MIN)."""
    return (x_sigma - x0_hat) / _expand(sigma, x_sigma).clamp(min=SIGMA_MIN)


def velocity_to_x0(x_sigma: torch.Tensor, v: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """x0_hat = x_sigma - sigma * v (exact inverse of the interpolation for a true v)."""
    return x_sigma - _expand(sigma, x_sigma) * v


def model_velocity(model: Model, x_sigma: torch.Tensor, sigma: torch.Tensor, class_weights: torch.Tensor,
                   prediction_type: str) -> torch.Tensor:
    """Run the network at noise level sigma (B,) and return its velocity estimate (B, C, H, W)."""
    if prediction_type not in PREDICTION_TYPES:
        raise ValueError(f"prediction_type must be one of {PREDICTION_TYPES}, got {prediction_type!r}")
    out = model(x_sigma, sigma * TIMESTEP_SCALE, class_weights)
    if prediction_type == "x":
        return x0_to_velocity(x_sigma, out, sigma)
    return out


def null_weights(batch: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """(B, 13) one-hot at the null slot: the unconditional conditioning."""
    w = torch.zeros(batch, NUM_SLOTS, device=device, dtype=dtype)
    w[:, NULL_ID] = 1.0
    return w


def labels_to_weights(labels: torch.Tensor, dtype=torch.float32) -> torch.Tensor:
    """Integer labels (B,) in 0..12 -> one-hot weights (B, 13). Rejects -1 and other out-of-range ids."""
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= NUM_SLOTS):
        raise ValueError(f"labels must be in 0..{NUM_SLOTS - 1} (12 = null), got min {int(labels.min())}, "
                         f"max {int(labels.max())}")
    return F.one_hot(labels.long(), NUM_SLOTS).to(dtype)


def guided_velocity(model: Model, x_sigma: torch.Tensor, sigma: torch.Tensor, class_weights: torch.Tensor,
                    guidance_scale: torch.Tensor | float, prediction_type: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Classifier-free guided velocity from ONE batched forward pass (conditional + null halves).

    x_sigma: (B, C, H, W); sigma: (B,); class_weights: (B, 13); guidance_scale: scalar or (1,).
    Returns (v, x0_hat), each (B, C, H, W). This is the only place CFG is combined in PyTorch; the
    exported ONNX step graph is traced from this function, so it is also the only place for ONNX.
    """
    b = x_sigma.shape[0]
    x_in = torch.cat([x_sigma, x_sigma], dim=0)  # (2B, C, H, W)
    s_in = torch.cat([sigma, sigma], dim=0)  # (2B,)
    w_in = torch.cat([class_weights, null_weights(b, x_sigma.device, class_weights.dtype)], dim=0)  # (2B, 13)
    v_both = model_velocity(model, x_in, s_in, w_in, prediction_type)  # (2B, C, H, W)
    # Slices, not .chunk(2): chunk makes torch.export specialise a dynamic batch to the example size.
    v_cond, v_null = v_both[:b], v_both[b:]
    v = v_null + guidance_scale * (v_cond - v_null)
    return v, velocity_to_x0(x_sigma, v, sigma)


def euler_step(x: torch.Tensor, v: torch.Tensor, sigma: torch.Tensor, sigma_next: torch.Tensor) -> torch.Tensor:
    """One Euler step from sigma to sigma_next (both (B,)): x + (sigma_next - sigma) * v.

    Same update as diffusers' FlowMatchEulerDiscreteScheduler.step.
    """
    return x + _expand(sigma_next - sigma, x) * v


def sample_sigmas(batch: int, mean: float = 0.0, std: float = 1.0, generator: torch.Generator | None = None,
                  device=None) -> torch.Tensor:
    """Logit-normal training noise levels: sigma = sigmoid(N(mean, std)), shape (B,)."""
    z = torch.randn(batch, generator=generator, device="cpu").to(device) * std + mean
    return torch.sigmoid(z)


def drop_labels(class_weights: torch.Tensor, p: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Replace each row by the null one-hot with probability p (training-loop label dropout for CFG)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"label dropout probability must be in [0, 1], got {p}")
    drop = torch.rand(class_weights.shape[0], generator=generator, device="cpu").to(class_weights.device) < p
    null = null_weights(class_weights.shape[0], class_weights.device, class_weights.dtype)
    return torch.where(drop[:, None], null, class_weights)


def flow_matching_loss(model: Model, x0: torch.Tensor, class_weights: torch.Tensor, prediction_type: str, *,
                       generator: torch.Generator | None = None, logit_mean: float = 0.0, logit_std: float = 1.0,
                       label_dropout: float = 0.1) -> torch.Tensor:
    """Mean squared error between the model's velocity and v = noise - x0 (the training loss).

    x0: (B, C, H, W) clean images in [-1, 1]; class_weights: (B, 13). Noise, sigmas and label
    dropout are drawn from ``generator`` (CPU) so a run is reproducible step by step.
    """
    b = x0.shape[0]
    noise = torch.randn(x0.shape, generator=generator, device="cpu").to(x0.device, x0.dtype)
    sigma = sample_sigmas(b, logit_mean, logit_std, generator, x0.device).to(x0.dtype)
    weights = drop_labels(class_weights, label_dropout, generator)
    x_sigma = interpolate(x0, noise, sigma)
    v_hat = model_velocity(model, x_sigma, sigma, weights, prediction_type)
    return F.mse_loss(v_hat.float(), velocity_target(x0, noise).float())
