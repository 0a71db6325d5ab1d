"""An independent breed judge: a linear probe on the evaluation's Inception features.

The project's classifier was trained on the same drawings as the generator and is satisfied by a
sample's colours alone (it calls 99.7% of the bundled generator's samples their breed). This judge
shares nothing with it: softmax regression on the 2048-d Inception pool features that FID and
precision/recall already compute, fitted on training drawings and checked on the test drawings.
A generator's breed accuracy under it is the share of samples whose features land in their own
breed's region of Inception space, which colours alone do not buy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from cats.breeds import BREEDS, NUM_BREEDS

L2 = 1e-3  # weight decay of the regression (on standardised features): a loose prior, the data are plentiful
MAX_ITER = 200  # L-BFGS iterations: the full-batch fit converges well before on 2,400 drawings


@dataclass
class LinearProbe:
    """Softmax regression on standardised features: ``predict(features (N, D)) -> labels (N,)``."""

    mean: np.ndarray  # (D,)
    scale: np.ndarray  # (D,)
    weight: np.ndarray  # (D, 12)
    bias: np.ndarray  # (12,)

    @classmethod
    def fit(cls, features: np.ndarray, labels: np.ndarray, l2: float = L2, max_iter: int = MAX_ITER,
            seed: int = 0) -> "LinearProbe":
        """Fit on features (N, D) of real drawings with breed labels (N,) in 0..11 (full-batch L-BFGS)."""
        labels = np.asarray(labels)
        if len(features) != len(labels) or len(labels) == 0:
            raise ValueError(f"the probe needs one label per feature row, got {len(features)} rows, {len(labels)} labels")
        if labels.min() < 0 or labels.max() >= NUM_BREEDS:
            raise ValueError(f"probe labels must be breed ids 0..{NUM_BREEDS - 1}, got {labels.min()}..{labels.max()}")
        mean = features.mean(0)
        scale = features.std(0) + 1e-6
        x = torch.from_numpy((features - mean) / scale).float()  # (N, D)
        y = torch.from_numpy(labels).long()
        gen = torch.Generator().manual_seed(seed)
        w = (0.01 * torch.randn(x.shape[1], NUM_BREEDS, generator=gen)).requires_grad_()
        b = torch.zeros(NUM_BREEDS, requires_grad=True)
        opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(x @ w + b, y) + l2 * (w ** 2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        return cls(mean, scale, w.detach().numpy(), b.detach().numpy())

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Breed ids (N,) of features (N, D)."""
        logits = ((features - self.mean) / self.scale).astype(np.float32) @ self.weight + self.bias
        return logits.argmax(1)


def accuracy(pred: np.ndarray, labels) -> dict:
    """Mean and per-breed accuracy of predicted breed ids against the intended ones."""
    y = np.asarray(labels)
    per_breed = {BREEDS[b]: float((pred[y == b] == b).mean()) for b in range(NUM_BREEDS) if (y == b).any()}
    return {"mean": float((pred == y).mean()), "per_breed": per_breed, "num_samples": int(len(y))}
