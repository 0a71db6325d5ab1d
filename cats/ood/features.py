"""The torch side of the familiarity score: features of a CatClassifier, and fitting its statistics."""

from __future__ import annotations

import numpy as np
import torch

from cats.ood import DEFAULT_SHRINKAGE, DEFAULT_TPR, OodStats, fit


@torch.no_grad()
def logits_and_features(model, images: torch.Tensor, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (N, 3, H, W) -> (raw logits (N, 13), features (N, D)) float64, serving preprocessing.

    Features are the global average of ``model.ood_layer`` (CatClassifier.forward_with_features).
    """
    from cats.training.transforms import eval_transform

    cfg = model.config
    param = next(model.parameters())
    was_training = model.training
    model.eval()
    logits, feats = [], []
    try:
        for start in range(0, len(images), batch_size):
            x = eval_transform(images[start:start + batch_size].to(param.device), cfg.image_size, cfg.mean, cfg.std)
            out, f = model.forward_with_features(x.to(param.dtype))
            logits.append(out.double().cpu().numpy())
            feats.append(f.double().cpu().numpy())
    finally:
        model.train(was_training)
    return np.concatenate(logits), np.concatenate(feats)


def fit_classifier(model, train_images: torch.Tensor, train_labels, val_images: torch.Tensor,
                   tpr: float = DEFAULT_TPR, shrinkage: float = DEFAULT_SHRINKAGE, info: dict | None = None
                   ) -> OodStats:
    """Fit the familiarity statistics of ``model`` (train: means + covariance; val: threshold) and attach them."""
    _, train_features = logits_and_features(model, train_images)
    _, val_features = logits_and_features(model, val_images)
    stats = fit(train_features, np.asarray(train_labels), val_features, model.ood_layer, tpr, shrinkage, info)
    model.set_ood(stats)
    return stats


@torch.no_grad()
def logits_and_features_of(model, pictures, batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Any pictures cats.classify.preprocess takes (PIL, paths, bytes) -> (logits, features) float64."""
    from cats.classify import preprocess

    cfg = model.config
    param = next(model.parameters())
    x = preprocess(list(pictures), cfg.image_size, cfg.mean, cfg.std)
    was_training = model.training
    model.eval()
    logits, feats = [], []
    try:
        for start in range(0, len(x), batch_size):
            out, f = model.forward_with_features(torch.from_numpy(x[start:start + batch_size]).to(param.device, param.dtype))
            logits.append(out.double().cpu().numpy())
            feats.append(f.double().cpu().numpy())
    finally:
        model.train(was_training)
    return np.concatenate(logits), np.concatenate(feats)
