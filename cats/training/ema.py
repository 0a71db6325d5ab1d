"""Exponential moving average of a model's weights (what the exported pipeline ships).

A small equivalent of diffusers' ``EMAModel``: the average lives in a full copy of the model (so
it can be sampled and evaluated directly), float tensors are averaged, integer buffers (BatchNorm
counters) are copied. The decay warms up as ``min(decay, (1 + n) / (10 + n))`` after ``n``
updates, as diffusers and timm do, so short runs are not dominated by the random init.
"""

from __future__ import annotations

import copy

import torch


class EMA:
    """EMA of ``model``'s state; ``decay = 0`` makes the average equal to the live weights."""

    def __init__(self, model: torch.nn.Module, decay: float, ramp: bool = True):
        if not 0.0 <= decay <= 1.0:
            raise ValueError(f"EMA decay must be in [0, 1], got {decay}")
        self.decay = float(decay)
        self.ramp = ramp  # early updates use a smaller decay, so a fresh model's average leaves its init fast
        self.num_updates = 0
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    def current_decay(self) -> float:
        if not self.ramp:
            return self.decay
        return min(self.decay, (1.0 + self.num_updates) / (10.0 + self.num_updates))

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        """Move the average towards ``model``'s current weights (call after each optimizer step)."""
        weight = 1.0 - self.current_decay()
        avg, live = [], []
        for a, b in zip(self.model.state_dict().values(), model.state_dict().values()):
            if a.is_floating_point():
                avg.append(a)
                live.append(b.detach().to(a.dtype))
            else:
                a.copy_(b)
        torch._foreach_lerp_(avg, live, weight)  # a += weight * (b - a), in place, fused
        self.num_updates += 1

    def state_dict(self) -> dict:
        return {"decay": self.decay, "num_updates": self.num_updates, "weights": self.model.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.decay = float(state["decay"])
        self.num_updates = int(state["num_updates"])
        self.model.load_state_dict(state["weights"])
