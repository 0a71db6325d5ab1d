"""How familiar a picture is to the classifier: an out-of-distribution score from its own features.

NumPy only (no torch), so ``cats.classify`` and the torch-free ONNX pipeline share it; the web client's
``src/lib/ood.ts`` mirrors ``OodStats.score``. The score, fitted once per classifier:

  f      = global average of the output of one backbone stage (``CatClassifier.ood_layer``; the ONNX
           classifier graph returns it as its ``features`` output), shape (D,)
  t      = sqrt(max(f, 0))                   # power normalisation: pooled ReLU outputs are skewed
  z      = t @ whitener                      # whitener W: W W^T = inverse of the shared covariance
  score  = min over classes c of ||z - class_means[c]||^2   # squared Mahalanobis distance to the nearest class
  unfamiliar  <=>  score > threshold

Class means and the within-class covariance (shared by all 13 classes, shrunk towards a multiple of
the identity so that it inverts stably) come from the training split; the threshold is the smallest
score that at least ``tpr`` (95%) of the validation split stays at or under. Why this feature and
not the penultimate one, and the comparison with energy, max-softmax and k-NN scores:
docs/OOD.md (``python -m cats.ood compare``).

``python -m cats.ood fit --model DIR|synthcats --data synthcats`` refits an existing classifier and
writes ``ood.safetensors`` beside its weights (the threshold and layer also go into config.json);
``cats.ood.features`` holds the torch side (feature extraction, fitting a CatClassifier).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

OOD_FILE = "ood.safetensors"
METHOD = "mahalanobis"
TRANSFORM = "sqrt"
DEFAULT_TPR = 0.95
DEFAULT_SHRINKAGE = 0.1


def transform(features) -> np.ndarray:
    """Raw pooled features (B, D) -> sqrt(max(f, 0)) in float64 (the score's input)."""
    f = np.asarray(features, dtype=np.float64)
    return np.sqrt(np.maximum(f, 0.0))


@dataclass
class OodStats:
    """A fitted score: whitener (D, D), whitened class means (K, D), threshold, and where it came from.

    layer: the backbone module whose pooled output is the feature (e.g. "trunk_output.block3");
    tpr: the share of validation images the threshold lets through; info: provenance (data, counts).
    """

    whitener: np.ndarray
    class_means: np.ndarray
    threshold: float
    layer: str
    tpr: float = DEFAULT_TPR
    shrinkage: float = DEFAULT_SHRINKAGE
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        self.whitener = np.ascontiguousarray(self.whitener, dtype=np.float32)
        self.class_means = np.ascontiguousarray(self.class_means, dtype=np.float32)
        d = self.whitener.shape[0]
        if self.whitener.ndim != 2 or self.whitener.shape != (d, d) or d == 0:
            raise ValueError(f"whitener must be a square (D, D) matrix, got shape {self.whitener.shape}")
        if self.class_means.ndim != 2 or self.class_means.shape[1] != d or len(self.class_means) == 0:
            raise ValueError(f"class_means must be (K, {d}), got shape {self.class_means.shape}")
        if not (np.isfinite(self.whitener).all() and np.isfinite(self.class_means).all()):
            raise ValueError("OOD statistics contain NaN or inf; refit them (python -m cats.ood fit)")
        if not (isinstance(self.threshold, (int, float)) and np.isfinite(self.threshold) and self.threshold > 0):
            raise ValueError(f"OOD threshold must be a positive finite number, got {self.threshold!r}")
        self.threshold = float(self.threshold)

    @property
    def dim(self) -> int:
        return int(self.whitener.shape[0])

    def score(self, features) -> np.ndarray:
        """Raw pooled features (B, D) -> squared Mahalanobis distance to the nearest class (B,), float64."""
        f = np.asarray(features, dtype=np.float64)
        if f.ndim != 2 or f.shape[1] != self.dim:
            raise ValueError(f"features must have shape (batch, {self.dim}), got {f.shape}")
        if not np.isfinite(f).all():
            raise ValueError("features contain NaN or inf; the classifier output is broken")
        z = transform(f) @ self.whitener.astype(np.float64)  # (B, D)
        d = z[:, None, :] - self.class_means.astype(np.float64)[None]  # (B, K, D)
        return (d * d).sum(axis=2).min(axis=1)

    # -- storage ----------------------------------------------------------------------------------

    def metadata(self) -> dict:
        """The JSON-able facts besides the arrays (manifest "ood" block, safetensors metadata)."""
        return {"method": METHOD, "transform": TRANSFORM, "layer": self.layer, "threshold": self.threshold,
                "tpr": float(self.tpr), "shrinkage": float(self.shrinkage), "dim": self.dim,
                "num_classes": int(len(self.class_means)), "info": self.info}

    def save(self, directory: str | Path) -> Path:
        from safetensors.numpy import save_file

        path = Path(directory) / OOD_FILE
        meta = {"tiny_cats_ood": json.dumps(self.metadata())}
        save_file({"whitener": self.whitener, "class_means": self.class_means}, str(path), metadata=meta)
        return path

    @classmethod
    def load(cls, directory: str | Path) -> "OodStats":
        from safetensors import safe_open

        path = Path(directory) / OOD_FILE
        if not path.is_file():
            raise FileNotFoundError(f"no {OOD_FILE} in {str(directory)!r}: refit the familiarity statistics with "
                                    f"`python -m cats.ood fit --model {directory} --data DATA`")
        with safe_open(str(path), framework="numpy") as fh:
            meta = json.loads((fh.metadata() or {}).get("tiny_cats_ood", "{}"))
            arrays = {k: fh.get_tensor(k) for k in fh.keys()}
        if meta.get("method") != METHOD or meta.get("transform") != TRANSFORM:
            raise ValueError(f"{path} holds a {meta.get('method')!r}/{meta.get('transform')!r} score; this version "
                             f"reads {METHOD!r}/{TRANSFORM!r}: refit it (python -m cats.ood fit)")
        return cls(arrays["whitener"], arrays["class_means"], meta["threshold"], meta["layer"],
                   meta.get("tpr", DEFAULT_TPR), meta.get("shrinkage", DEFAULT_SHRINKAGE), meta.get("info", {}))

    def to_manifest(self) -> dict:
        """The manifest's classifier.ood block: the metadata plus both arrays (golden-array encoding)."""
        from cats.onnx.manifest import encode_array

        return {**self.metadata(), "output": "features", "whitener": encode_array(self.whitener),
                "class_means": encode_array(self.class_means)}

    @classmethod
    def from_manifest(cls, block: dict) -> "OodStats":
        from cats.onnx.manifest import decode_array

        if block.get("method") != METHOD or block.get("transform") != TRANSFORM:
            raise ValueError(f"manifest ood block has method {block.get('method')!r} / transform "
                             f"{block.get('transform')!r}; this version reads {METHOD!r}/{TRANSFORM!r}")
        return cls(decode_array(block["whitener"]), decode_array(block["class_means"]), block["threshold"],
                   block["layer"], block.get("tpr", DEFAULT_TPR), block.get("shrinkage", DEFAULT_SHRINKAGE),
                   block.get("info", {}))


# -- fitting ----------------------------------------------------------------------------------------


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
