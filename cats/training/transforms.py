"""Classifier transforms on batched tensors (no PIL per sample), and class-balanced sampling weights.

``augment`` and ``class_balanced_weights`` serve training (``classifier_task.py``); ``eval_transform``
is also what ``cats.evaluation`` and the familiarity features (``cats.ood``) feed the classifier. The
model file stays free of them.
Inputs are uint8 image batches (B, 3, H, W) as ``cats.data`` stores them; outputs are float32
(B, 3, S, S) normalised with the classifier's mean/std, exactly what ``CatClassifier.forward`` takes.
``eval_transform`` matches ``cats.classify.preprocess`` (centre square, antialiased bilinear resize)
so what the model sees in training, evaluation and serving agrees.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


def _to_unit(images: torch.Tensor) -> torch.Tensor:
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be a (B, 3, H, W) batch, got shape {tuple(images.shape)}")
    if images.dtype != torch.uint8:
        raise ValueError(f"images must be uint8 in 0..255 (as cats.data stores them), got {images.dtype}")
    return images.float() / 255.0


def _normalise(x: torch.Tensor, mean, std) -> torch.Tensor:
    m = torch.as_tensor(mean, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    s = torch.as_tensor(std, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x - m) / s


def _resize(x: torch.Tensor, size: int) -> torch.Tensor:
    if x.shape[-2:] == (size, size):
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)


def eval_transform(images: torch.Tensor, image_size: int, mean, std) -> torch.Tensor:
    """Deterministic: uint8 (B,3,H,W) -> centre square crop, antialiased bilinear resize -> normalised (B,3,S,S)."""
    x = _to_unit(images)
    h, w = x.shape[-2:]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return _normalise(_resize(x[:, :, top:top + side, left:left + side], image_size), mean, std)


def _uniform(n: int, lo: float, hi: float, generator, device) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=generator, device=device)


def augment(images: torch.Tensor, generator: torch.Generator | None, image_size: int, mean, std,
            scale: tuple[float, float] = (0.5, 1.0), ratio: tuple[float, float] = (3 / 4, 4 / 3),
            flip_p: float = 0.5, brightness: float = 0.2, contrast: float = 0.2,
            saturation: float = 0.2) -> torch.Tensor:
    """Random resized crop + horizontal flip + colour jitter, all batched: uint8 (B,3,H,W) -> normalised (B,3,S,S).

    Each sample gets its own crop (area fraction in ``scale``, aspect in ``ratio``), flip (prob
    ``flip_p``) and brightness/contrast/saturation factors in 1 +- the given amount. Hue is left
    alone on purpose: coat colour is what tells a Russian Blue from a Bombay. ``generator`` must
    live on the images' device (or be None for the global RNG).
    """
    x = _to_unit(images)
    b, dev = x.shape[0], x.device
    pre = math.ceil(image_size / math.sqrt(scale[0]))  # smallest crop ends up about 1:1 in pixels
    if min(x.shape[-2:]) > pre:  # shrink big sources first (antialiased) so the crop does not alias
        h, w = x.shape[-2:]
        k = pre / min(h, w)
        x = F.interpolate(x, size=(round(h * k), round(w * k)), mode="bilinear", antialias=True, align_corners=False)
    h, w = x.shape[-2:]

    # Crop boxes as fractions of each side: area = s * H * W, aspect (width/height) = r.
    area = _uniform(b, scale[0], scale[1], generator, dev) * h * w
    log_r = _uniform(b, math.log(ratio[0]), math.log(ratio[1]), generator, dev)
    cw = (torch.sqrt(area * torch.exp(log_r)) / w).clamp(max=1.0)  # (B,) in (0, 1]
    ch = (torch.sqrt(area / torch.exp(log_r)) / h).clamp(max=1.0)
    cx = (1 - cw) * (2 * torch.rand(b, generator=generator, device=dev) - 1)  # centre in [-1, 1] coords
    cy = (1 - ch) * (2 * torch.rand(b, generator=generator, device=dev) - 1)
    flip = torch.where(torch.rand(b, generator=generator, device=dev) < flip_p, -1.0, 1.0)
    theta = torch.zeros(b, 2, 3, device=dev)
    theta[:, 0, 0], theta[:, 0, 2] = cw * flip, cx
    theta[:, 1, 1], theta[:, 1, 2] = ch, cy
    grid = F.affine_grid(theta, [b, 3, image_size, image_size], align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)  # (B,3,S,S)

    # Colour jitter, per sample.
    bf = _uniform(b, 1 - brightness, 1 + brightness, generator, dev).view(b, 1, 1, 1)
    cf = _uniform(b, 1 - contrast, 1 + contrast, generator, dev).view(b, 1, 1, 1)
    sf = _uniform(b, 1 - saturation, 1 + saturation, generator, dev).view(b, 1, 1, 1)
    x = (x * bf).clamp(0, 1)
    gray = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).unsqueeze(1)  # (B,1,S,S)
    x = ((x - gray.mean(dim=(2, 3), keepdim=True)) * cf + gray.mean(dim=(2, 3), keepdim=True)).clamp(0, 1)
    gray = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).unsqueeze(1)
    x = ((x - gray) * sf + gray).clamp(0, 1)
    return _normalise(x, mean, std)


def class_balanced_weights(labels, num_classes: int | None = None) -> torch.Tensor:
    """Per-sample weights 1 / count(label), scaled to mean 1: float64 (N,) for a WeightedRandomSampler.

    With them every class present is drawn equally often in expectation, so the Oxford dogs
    ("other", about twice the cats) do not crowd out the twelve breeds.
    """
    lab = labels.detach().cpu() if isinstance(labels, torch.Tensor) else torch.as_tensor(np.asarray(labels))
    lab = lab.to(torch.int64).reshape(-1)
    if lab.numel() == 0:
        raise ValueError("labels is empty: cannot weight an empty dataset")
    if int(lab.min()) < 0:
        raise ValueError(f"labels must be >= 0, got {int(lab.min())}")
    counts = torch.bincount(lab, minlength=num_classes or 0).double()
    weights = 1.0 / counts[lab]
    return weights * (lab.numel() / weights.sum())
