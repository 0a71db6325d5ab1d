"""Nearest-neighbour measures of a generator: k-NN precision / recall, and a memorisation check.

Precision and recall follow Kynkäänniemi et al. (2019), "Improved Precision and Recall Metric for
Assessing Generative Models": each set of feature vectors is a union of balls, one per point,
whose radius is the distance to that point's k-th nearest neighbour in its own set.
  * precision = share of generated samples inside the real manifold (are samples realistic?);
  * recall    = share of real images inside the generated manifold (is the variety covered?).

Memorisation: a generator that copies its training images scores well on FID and precision. For
every generated sample we take the pixel distance to its nearest training image (or its mirror
image, since training flips), and compare with the same distance for held-out test images: samples
of a generator that does not copy are no closer to the training set than unseen real images are.
"""

from __future__ import annotations

import numpy as np
import torch

DEFAULT_K = 3
QUANTILES = (0.01, 0.05, 0.5)


def _pairwise(a: torch.Tensor, b: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    """Euclidean distances (N, M) between rows of a (N, D) and b (M, D), in float64."""
    out = [torch.cdist(a[i:i + chunk], b) for i in range(0, a.shape[0], chunk)]
    return torch.cat(out)


def _radii(feats: torch.Tensor, k: int) -> torch.Tensor:
    """Distance from each point to its k-th nearest neighbour in the same set (itself excluded), (N,)."""
    d = _pairwise(feats, feats)  # (N, N), zero diagonal
    return d.kthvalue(k + 1, dim=1).values  # +1 skips the point itself


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = DEFAULT_K) -> dict:
    """k-NN precision and recall of generated features against real ones (both (N, D))."""
    if min(len(real), len(fake)) <= k:
        raise ValueError(f"precision/recall with k={k} needs more than {k} points per set "
                         f"(got {len(real)} real, {len(fake)} generated)")
    r = torch.from_numpy(np.asarray(real, dtype=np.float64))
    f = torch.from_numpy(np.asarray(fake, dtype=np.float64))
    real_radii, fake_radii = _radii(r, k), _radii(f, k)
    cross = _pairwise(f, r)  # (M, N): generated x real
    precision = (cross <= real_radii[None, :]).any(dim=1).double().mean()
    recall = (cross <= fake_radii[:, None]).any(dim=0).double().mean()
    return {"precision": float(precision), "recall": float(recall), "k": k,
            "num_real": int(len(real)), "num_fake": int(len(fake))}


def nearest_distances(queries: torch.Tensor, references: torch.Tensor, chunk: int = 256) -> np.ndarray:
    """RMS pixel distance (in [0, 1] units) from each query image to its nearest reference or mirror.

    queries (N, 3, H, W) and references (M, 3, H, W), uint8 or float in [-1, 1]; returns (N,).
    """
    def flat(x: torch.Tensor) -> torch.Tensor:
        x = x.float() / 255.0 if x.dtype == torch.uint8 else (x.float() + 1) / 2
        return x.reshape(x.shape[0], -1)

    ref = torch.cat([flat(references), flat(references.flip(-1))])  # (2M, D): training flips images
    q = flat(queries)
    dims = q.shape[1]
    best = [torch.cdist(q[i:i + chunk], ref).min(dim=1).values for i in range(0, q.shape[0], chunk)]
    return (torch.cat(best) / dims ** 0.5).numpy().astype(np.float64)


def memorisation(fake: torch.Tensor, test: torch.Tensor, train: torch.Tensor) -> dict:
    """Quantiles of nearest-training-image distances for generated samples and for test images.

    ``ratio_q05`` < 1 means the closest samples sit nearer the training set than the closest unseen
    real images do (copies); ``share_closer_than_any_test`` counts samples nearer to a training image
    than every test image is.
    """
    d_fake, d_test = nearest_distances(fake, train), nearest_distances(test, train)
    q_fake = {f"q{int(q * 100):02d}": float(np.quantile(d_fake, q)) for q in QUANTILES}
    q_test = {f"q{int(q * 100):02d}": float(np.quantile(d_test, q)) for q in QUANTILES}
    return {"samples": q_fake, "test": q_test, "ratio_q05": q_fake["q05"] / q_test["q05"],
            "share_closer_than_any_test": float((d_fake < d_test.min()).mean()),
            "num_fake": int(len(d_fake)), "num_test": int(len(d_test)), "num_train": int(len(train)),
            "note": "RMS pixel distance in [0, 1] to the nearest training image or its mirror"}
