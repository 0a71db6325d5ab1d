"""Fitting the familiarity score (NumPy only): class means, the shared covariance, the threshold, AUROC.

The torch side (a classifier's features, attaching the statistics) is ``cats.training.ood_features``;
the command that refits and compares is ``python -m cats.evaluation.ood``.
"""

from __future__ import annotations

import numpy as np

from cats.ood.score import DEFAULT_SHRINKAGE, DEFAULT_TPR, OodStats, transform


def threshold_at(scores, tpr: float = DEFAULT_TPR) -> float:
    """The smallest score s such that at least ``tpr`` of ``scores`` are <= s (those pass as familiar)."""
    s = np.sort(np.asarray(scores, dtype=np.float64))
    if s.ndim != 1 or len(s) == 0 or not np.isfinite(s).all():
        raise ValueError(f"scores must be a non-empty finite 1-D array, got shape {s.shape}")
    if not 0.0 < tpr <= 1.0:
        raise ValueError(f"tpr must be in (0, 1], got {tpr!r}")
    return float(s[int(np.ceil(tpr * len(s))) - 1])


def fit_gaussian(features, labels, shrinkage: float = DEFAULT_SHRINKAGE) -> tuple[np.ndarray, np.ndarray]:
    """Class means and a whitener of the shared within-class covariance of transform(features).

    features: raw pooled (N, D); labels: (N,) ints. Classes absent from ``labels`` get no mean.
    The covariance is shrunk: C + shrinkage * (trace(C) / D) * I, so that directions the training
    data never varies in cannot give infinite distances. Returns (whitener (D, D), whitened means (K, D)).
    """
    t = transform(features)
    lab = np.asarray(labels)
    if t.ndim != 2 or lab.shape != (len(t),) or len(t) < 2:
        raise ValueError(f"need (N, D) features and N labels with N >= 2, got {t.shape} and {lab.shape}")
    if not 0.0 < shrinkage:
        raise ValueError(f"shrinkage must be > 0 (the covariance of {t.shape[1]} dims needs it), got {shrinkage!r}")
    classes = np.unique(lab)
    means = np.stack([t[lab == c].mean(axis=0) for c in classes])  # (K, D)
    centred = t - means[np.searchsorted(classes, lab)]
    cov = centred.T @ centred / len(t)
    d = cov.shape[0]
    cov += shrinkage * np.trace(cov) / d * np.eye(d)
    eigval, eigvec = np.linalg.eigh(cov)
    whitener = eigvec / np.sqrt(eigval)[None, :]  # W W^T = cov^-1
    return whitener, means @ whitener


def fit(train_features, train_labels, val_features, layer: str, tpr: float = DEFAULT_TPR,
        shrinkage: float = DEFAULT_SHRINKAGE, info: dict | None = None) -> OodStats:
    """Fit means + shared covariance on the train split, the threshold on the val split."""
    whitener, means = fit_gaussian(train_features, train_labels, shrinkage)
    provisional = OodStats(whitener, means, 1.0, layer, tpr, shrinkage)
    val_scores = provisional.score(val_features)
    threshold = threshold_at(val_scores, tpr)
    facts = {"train_images": int(len(train_labels)), "val_images": int(len(val_scores)),
             "val_pass_rate": float(np.mean(val_scores <= threshold)), **(info or {})}
    return OodStats(provisional.whitener, provisional.class_means, threshold, layer, tpr, shrinkage, facts)


def auroc(familiar, unfamiliar) -> float:
    """Probability that an unfamiliar picture scores higher than a familiar one (ties count half)."""
    a, b = np.asarray(familiar, np.float64), np.asarray(unfamiliar, np.float64)
    if len(a) == 0 or len(b) == 0:
        raise ValueError("auroc needs scores of both kinds")
    both = np.concatenate([a, b])
    order = both.argsort(kind="stable")
    ranks = np.empty(len(both))
    sorted_vals = both[order]
    # average ranks over ties
    start = 0
    for i in range(1, len(both) + 1):
        if i == len(both) or sorted_vals[i] != sorted_vals[start]:
            ranks[order[start:i]] = (start + i + 1) / 2.0
            start = i
    return float((ranks[len(a):].sum() - len(b) * (len(b) + 1) / 2.0) / (len(a) * len(b)))
