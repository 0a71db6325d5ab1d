"""The familiarity score at run time: ``OodStats`` scores a classifier's features (NumPy only).

``cats.classify`` and both pipelines (the torch-free ONNX one included) score with it; the web
client's ``src/lib/ood.ts`` mirrors ``OodStats.score``. The formula and how it is fitted: ``cats.ood``.
Stored as ``ood.safetensors`` beside a classifier's weights, and as the export manifest's
``classifier.ood`` block (arrays in ``cats.arrays``' exact encoding).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cats.arrays import decode_array, encode_array

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
            raise ValueError("OOD statistics contain NaN or inf; refit them (python -m cats.evaluation.ood fit)")
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
        from safetensors.numpy import save_file  # imported here: the ONNX runtime reads statistics from the manifest

        path = Path(directory) / OOD_FILE
        meta = {"tiny_cats_ood": json.dumps(self.metadata())}
        save_file({"whitener": self.whitener, "class_means": self.class_means}, str(path), metadata=meta)
        return path

    @classmethod
    def load(cls, directory: str | Path) -> "OodStats":
        from safetensors import safe_open  # imported here: the ONNX runtime reads statistics from the manifest

        path = Path(directory) / OOD_FILE
        if not path.is_file():
            raise FileNotFoundError(f"no {OOD_FILE} in {str(directory)!r}: refit the familiarity statistics with "
                                    f"`python -m cats.evaluation.ood fit --model {directory} --data DATA`")
        with safe_open(str(path), framework="numpy") as fh:
            meta = json.loads((fh.metadata() or {}).get("tiny_cats_ood", "{}"))
            arrays = {k: fh.get_tensor(k) for k in fh.keys()}
        if meta.get("method") != METHOD or meta.get("transform") != TRANSFORM:
            raise ValueError(f"{path} holds a {meta.get('method')!r}/{meta.get('transform')!r} score; this version "
                             f"reads {METHOD!r}/{TRANSFORM!r}: refit it (python -m cats.evaluation.ood fit)")
        return cls(arrays["whitener"], arrays["class_means"], meta["threshold"], meta["layer"],
                   meta.get("tpr", DEFAULT_TPR), meta.get("shrinkage", DEFAULT_SHRINKAGE), meta.get("info", {}))

    def to_manifest(self) -> dict:
        """The manifest's classifier.ood block: the metadata plus both arrays (golden-array encoding)."""
        return {**self.metadata(), "output": "features", "whitener": encode_array(self.whitener),
                "class_means": encode_array(self.class_means)}

    @classmethod
    def from_manifest(cls, block: dict) -> "OodStats":
        if block.get("method") != METHOD or block.get("transform") != TRANSFORM:
            raise ValueError(f"manifest ood block has method {block.get('method')!r} / transform "
                             f"{block.get('transform')!r}; this version reads {METHOD!r}/{TRANSFORM!r}")
        return cls(decode_array(block["whitener"]), decode_array(block["class_means"]), block["threshold"],
                   block["layer"], block.get("tpr", DEFAULT_TPR), block.get("shrinkage", DEFAULT_SHRINKAGE),
                   block.get("info", {}))
