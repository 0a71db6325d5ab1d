"""The torch side of the familiarity score: a CatClassifier's features, and fitting its statistics.

Fitted at the end of classifier training (``classifier_task.fit_ood``) and refit or compared by
``python -m cats.evaluation.ood``; the statistics themselves are NumPy (``cats.ood``). The features go
through ``eval_transform``, what serving feeds the classifier.
"""

from __future__ import annotations

import numpy as np
import torch

from cats.classify import preprocess
from cats.ood import DEFAULT_SHRINKAGE, DEFAULT_TPR, OodStats, fit
from cats.training.transforms import eval_transform


def _run(model, batches) -> tuple[np.ndarray, np.ndarray]:
    """(logits, features) float64 of normalised batches, in eval mode (the model's mode is restored)."""
    param = next(model.parameters())
    was_training = model.training
    model.eval()
    logits, feats = [], []
    try:
        for x in batches:
            out, f = model.forward_with_features(x.to(param.device, param.dtype))
            logits.append(out.double().cpu().numpy())
            feats.append(f.double().cpu().numpy())
    finally:
        model.train(was_training)
    return np.concatenate(logits), np.concatenate(feats)


@torch.no_grad()
def logits_and_features(model, images: torch.Tensor, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (N, 3, H, W) -> (raw logits (N, 13), features (N, D)) float64, serving preprocessing.

    Features are the global average of ``model.ood_layer`` (CatClassifier.forward_with_features).
    """
    cfg, device = model.config, next(model.parameters()).device
    return _run(model, (eval_transform(images[start:start + batch_size].to(device), cfg.image_size, cfg.mean, cfg.std)
                        for start in range(0, len(images), batch_size)))


@torch.no_grad()
def logits_and_features_of(model, pictures, batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Any pictures cats.classify.preprocess takes (PIL, paths, bytes) -> (logits, features) float64."""
    cfg = model.config
    x = preprocess(list(pictures), cfg.image_size, cfg.mean, cfg.std)
    return _run(model, (torch.from_numpy(x[start:start + batch_size]) for start in range(0, len(x), batch_size)))


def fit_classifier(model, train_images: torch.Tensor, train_labels, val_images: torch.Tensor,
                   tpr: float = DEFAULT_TPR, shrinkage: float = DEFAULT_SHRINKAGE, info: dict | None = None
                   ) -> OodStats:
    """Fit the familiarity statistics of ``model`` (train: means + covariance; val: threshold) and attach them."""
    _, train_features = logits_and_features(model, train_images)
    _, val_features = logits_and_features(model, val_images)
    stats = fit(train_features, np.asarray(train_labels), val_features, model.ood_layer, tpr, shrinkage, info)
    model.set_ood(stats)
    return stats
