"""Learning-rate schedule: linear warm-up, then cosine decay to a floor at the horizon.

The schedule is a callable object, so ``LambdaLR.state_dict()`` stores its fields (warm-up,
horizon, floor) and a resumed run continues on the same curve: the horizon never resets.

With ``--minutes`` and no ``--steps`` the horizon is unknown at the start. The loop then measures
its speed over the first steps (``HORIZON_PROBE_STEPS``, after warm-up compilation) and sets
``horizon = steps so far + remaining time / seconds per step``; until then the factor is the
warm-up ramp (or 1). The estimate is saved with the checkpoint and kept on resume.
"""

from __future__ import annotations

import math

import torch

HORIZON_PROBE_STEPS = 20


class WarmupCosine:
    """LR multiplier for optimizer step ``step`` (0-based: the step about to be taken)."""

    def __init__(self, warmup: int, horizon: int | None, min_ratio: float):
        self.warmup = int(warmup)
        self.horizon = None if horizon is None else int(horizon)
        self.min_ratio = float(min_ratio)

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / self.warmup
        if self.horizon is None:
            return 1.0
        span = max(1, self.horizon - self.warmup)
        progress = min(1.0, (step - self.warmup) / span)
        return self.min_ratio + (1.0 - self.min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def make_lr_scheduler(optimizer: torch.optim.Optimizer, warmup: int, horizon: int | None,
                      min_ratio: float) -> tuple[torch.optim.lr_scheduler.LambdaLR, WarmupCosine]:
    """A LambdaLR stepped once per optimizer step, and its schedule object (to set the horizon later)."""
    schedule = WarmupCosine(warmup, horizon, min_ratio)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, schedule), schedule


def estimate_horizon(step: int, seconds_per_step: float, seconds_left: float) -> int:
    """Steps reachable in the remaining time at the measured speed (at least one more than now)."""
    return step + max(1, int(seconds_left / max(seconds_per_step, 1e-9)))
