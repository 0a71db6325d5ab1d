"""The in-memory dataset every source returns: a whole split as one uint8 tensor.

A training step indexes memory instead of decoding JPEGs; the arrays come from ``cats.data.cache``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset


def uint8_to_model(images: torch.Tensor) -> torch.Tensor:
    """uint8 (..., 3, H, W) in [0, 255] -> float32 in [-1, 1] (the pixel convention: RGB, NCHW, [-1, 1])."""
    return images.to(torch.float32).div(127.5).sub(1.0)


class ArrayDataset(Dataset):
    """A whole split held in memory.

    Attributes:
        images: uint8 tensor (N, 3, H, W); trainers batch from it directly.
        labels: int64 tensor (N,); 0..11 breeds, 12 = other (only when ``include_other``).
        class_names: 12 or 13 names in ``cats.breeds.CLASSIFIER_LABELS`` order.
        skipped: how many source images could not be read (0 for SynthCats).
        provenance: where the images came from (source, split, count; a Hub dataset adds its revision
            and columns), recorded by the trainer in the pipeline it saves.

    ``ds[i]`` is ``(image float32 (3, H, W) in [-1, 1], label int)``.
    """

    def __init__(self, images: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray,
                 class_names: tuple[str, ...], source: str = "", split: str = "", skipped: int = 0,
                 provenance: dict | None = None):
        images = torch.as_tensor(images)
        labels = torch.as_tensor(labels).to(torch.int64)
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"images must be uint8 (N, 3, H, W), got {images.dtype} {tuple(images.shape)}")
        if labels.shape != (images.shape[0],):
            raise ValueError(f"labels must have shape ({images.shape[0]},), got {tuple(labels.shape)}")
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= len(class_names)):
            raise ValueError(f"labels must be in 0..{len(class_names) - 1}, got {int(labels.min())}..{int(labels.max())}")
        self.images = images
        self.labels = labels
        self.class_names = tuple(class_names)
        self.source = source
        self.split = split
        self.skipped = skipped
        self.provenance = dict(provenance or {"source": source, "split": split, "images": int(images.shape[0])})

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return uint8_to_model(self.images[index]), int(self.labels[index])

    @property
    def image_size(self) -> int:
        return int(self.images.shape[-1])

    def class_counts(self) -> dict[str, int]:
        """Images per class name (every class listed, zeros included)."""
        counts = torch.bincount(self.labels, minlength=len(self.class_names)).tolist()
        return dict(zip(self.class_names, counts))

    def __repr__(self) -> str:
        return (f"ArrayDataset(source={self.source!r}, split={self.split!r}, n={len(self)}, "
                f"size={self.image_size}, classes={len(self.class_names)})")
