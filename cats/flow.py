"""Flow matching on torch tensors: the convention of ``cats.convention`` for (B,) sigmas, plus training.

The convention itself (which end is noise, what v is, the 1000 * sigma timestep, the x -> v clamp,
the CFG formula) is written once, torch-free, in ``cats.convention``; this module shapes (B,) sigmas
to broadcast over an image batch, calls the network, combines classifier-free guidance from ONE
batched forward pass, gives the sampling core its step for a torch model (``sampling_step``), and
holds the training-side draws (logit-normal sigmas, label dropout, loss).

Everything here works on any ``model(sample, timestep, class_weights) -> tensor`` and is
export-friendly (no Python branching on tensor values).
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from cats import convention
from cats.breeds import NULL_ID, NUM_SLOTS
from cats.convention import PREDICTION_TYPES, SIGMA_MIN, TIMESTEP_SCALE, velocity_target

__all__ = ["PREDICTION_TYPES", "SIGMA_MIN", "TIMESTEP_SCALE", "drop_labels", "euler_step", "flow_matching_loss",
           "guided_velocity", "interpolate", "labels_to_weights", "model_velocity", "null_weights", "sample_sigmas",
           "sampling_step", "velocity_target", "velocity_to_x0", "x0_to_velocity"]

Model = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def _expand(sigma: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """(B,) -> (B, 1, 1, 1) so it broadcasts over an image batch."""
    return sigma.reshape(-1, *([1] * (like.ndim - 1)))


def interpolate(x0: torch.Tensor, noise: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """x_sigma = (1 - sigma) * x0 + sigma * noise. x0, noise: (B, C, H, W); sigma: (B,)."""
    return convention.interpolate(x0, noise, _expand(sigma, x0))


def x0_to_velocity(x_sigma: torch.Tensor, x0_hat: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """v_hat = (x_sigma - x0_hat) / max(sigma, SIGMA_MIN); sigma: (B,)."""
    return convention.x0_to_velocity(x_sigma, x0_hat, _expand(sigma, x_sigma))


def velocity_to_x0(x_sigma: torch.Tensor, v: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """x0_hat = x_sigma - sigma * v; sigma: (B,)."""
    return convention.velocity_to_x0(x_sigma, v, _expand(sigma, x_sigma))


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
                    guidance_scale: torch.Tensor | float, prediction_type: str, guide: Model | None = None,
                    autoguidance_scale: torch.Tensor | float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Classifier-free guided velocity from ONE batched forward pass (conditional + null halves),
    autoguided by ``guide`` (a weaker CatDiT of the same data) when one is given.

    x_sigma: (B, C, H, W); sigma: (B,); class_weights: (B, 13); guidance_scale, autoguidance_scale:
    scalars or (1,). The guide sees the conditional rows only and predicts what its own config says.
    Returns (v, x0_hat), each (B, C, H, W). This is the only place guidance is combined in PyTorch; the
    exported ONNX step graph is traced from this function, so it is also the only place for ONNX.
    """
    b = x_sigma.shape[0]
    x_in = torch.cat([x_sigma, x_sigma], dim=0)  # (2B, C, H, W)
    s_in = torch.cat([sigma, sigma], dim=0)  # (2B,)
    w_in = torch.cat([class_weights, null_weights(b, x_sigma.device, class_weights.dtype)], dim=0)  # (2B, 13)
    v_both = model_velocity(model, x_in, s_in, w_in, prediction_type)  # (2B, C, H, W)
    # Slices, not .chunk(2): chunk makes torch.export specialise a dynamic batch to the example size.
    v_cond, v_null = v_both[:b], v_both[b:]
    v_guide = None
    if guide is not None:
        v_guide = model_velocity(guide, x_sigma, sigma, class_weights, guide.config.prediction_type)  # (B, C, H, W)
    v = convention.guide(v_cond, v_null, guidance_scale, v_guide, autoguidance_scale)
    return v, velocity_to_x0(x_sigma, v, sigma)


def sampling_step(model: Model, class_weights: torch.Tensor, guidance_scale: float | None, prediction_type: str,
                  guide: Model | None = None, autoguidance_scale: float | None = None,
                  interval: tuple[float, float] | None = None
                  ) -> Callable[[torch.Tensor, float, float], tuple[torch.Tensor, torch.Tensor]]:
    """The sampling core's step for a torch model: (x, sigma, sigma_next) -> (x_next, pred_x0), one Euler move.

    class_weights: (B, 13). guidance_scale None (a few-step student: guidance baked in) or 1 runs no
    unconditional branch; any other, both branches in one batch 2B (``guided_velocity``). ``guide``
    with an ``autoguidance_scale`` other than None and 1 adds the guide's pass (batch B).
    interval (lo, hi): guidance only at steps starting at lo <= sigma <= hi, the conditional velocity
    elsewhere (Kynkäänniemi et al. 2024); the network passes skipped there are saved.
    """
    def step(x: torch.Tensor, sigma: float, sigma_next: float) -> tuple[torch.Tensor, torch.Tensor]:
        s = torch.full((x.shape[0],), sigma, device=x.device, dtype=x.dtype)  # (B,)
        w = class_weights.to(x.dtype)
        inside = convention.in_interval(sigma, interval)
        cfg = inside and guidance_scale is not None and guidance_scale != 1.0
        auto = inside and guide is not None and autoguidance_scale is not None and autoguidance_scale != 1.0
        if cfg:
            v, x0 = guided_velocity(model, x, s, w, guidance_scale, prediction_type, guide if auto else None,
                                    autoguidance_scale if auto else 1.0)
        else:
            v = model_velocity(model, x, s, w, prediction_type)
            if auto:  # autoguidance alone: v_cond + (w - 1) (v_cond - v_guide)
                v = convention.guide(v, v, 1.0, model_velocity(guide, x, s, w, guide.config.prediction_type),
                                     autoguidance_scale)
            x0 = velocity_to_x0(x, v, s)
        return euler_step(x, v, s, torch.full_like(s, sigma_next)), x0

    return step


def euler_step(x: torch.Tensor, v: torch.Tensor, sigma: torch.Tensor, sigma_next: torch.Tensor) -> torch.Tensor:
    """One Euler step from sigma to sigma_next (both (B,)): x + (sigma_next - sigma) * v.

    Same update as diffusers' FlowMatchEulerDiscreteScheduler.step.
    """
    return convention.euler_step(x, v, _expand(sigma, x), _expand(sigma_next, x))


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
