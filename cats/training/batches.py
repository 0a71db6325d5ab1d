"""Reproducible batches from a split held on the device as one uint8 tensor.

Resume reproduces the exact data order and randomness without pickled RNG state:
  * the sample order is an endless stream of permutations, permutation ``e`` seeded by (seed, e);
    micro-batch ``m`` of process ``r`` (of ``R``) takes stream positions
    ``[(m * R + r) * B, (m * R + r + 1) * B)``, with ``m = step * grad_accum + k``;
  * each micro-batch's random draws (noise, sigmas, label dropout, flips, augmentation) come from a
    CPU ``torch.Generator`` seeded by (seed, step, k, r).
"""

from __future__ import annotations

import numpy as np
import torch

from cats.data import load_dataset


def seed_for(*parts: int) -> int:
    """A well-mixed 63-bit seed from integers (numpy's SeedSequence), stable across machines."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(2, np.uint64)[0] >> np.uint64(1))


def step_generator(seed: int, step: int, micro: int = 0, rank: int = 0) -> torch.Generator:
    """The CPU generator for one micro-batch's random draws."""
    return torch.Generator().manual_seed(seed_for(seed, 1, step, micro, rank))


class DeviceSplit:
    """A dataset split as device tensors: ``images`` uint8 (N, 3, H, W), ``labels`` int64 (N,)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, device: torch.device | str,
                 provenance: dict | None = None):
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected uint8 images (N, 3, H, W), got {images.dtype} {tuple(images.shape)}")
        if labels.shape != (images.shape[0],):
            raise ValueError(f"expected one label per image, got labels {tuple(labels.shape)} for "
                             f"{images.shape[0]} images")
        if images.shape[0] == 0:
            raise ValueError("the dataset split is empty")
        self.images = images.to(device)
        self.labels = labels.long().to(device)
        self.provenance = dict(provenance or {})  # where the split came from (cats.data: source, revision, ...)

    def __len__(self) -> int:
        return self.images.shape[0]


class IndexStream:
    """Positions in the endless stream of seeded per-epoch permutations of ``n`` samples."""

    def __init__(self, n: int, seed: int):
        self.n = n
        self.seed = seed
        self._epoch = -1
        self._perm = torch.empty(0, dtype=torch.long)

    def _permutation(self, epoch: int) -> torch.Tensor:
        if epoch != self._epoch:
            gen = torch.Generator().manual_seed(seed_for(self.seed, 0, epoch))
            self._perm = torch.randperm(self.n, generator=gen)
            self._epoch = epoch
        return self._perm

    def take(self, start: int, count: int) -> torch.Tensor:
        """Indices at stream positions [start, start + count), shape (count,), on the CPU."""
        out, pos = [], start
        while pos < start + count:
            epoch, offset = divmod(pos, self.n)
            chunk = self._permutation(epoch)[offset:offset + (start + count - pos)]
            out.append(chunk)
            pos += chunk.numel()
        return torch.cat(out)

    def batch(self, step: int, micro: int, grad_accum: int, batch_size: int, rank: int = 0,
              world: int = 1) -> torch.Tensor:
        m = step * grad_accum + micro
        return self.take((m * world + rank) * batch_size, batch_size)


def random_hflip(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Flip each image (B, C, H, W) left-right with probability 1/2, on its device."""
    flip = (torch.rand(images.shape[0], generator=generator) < 0.5).to(images.device)
    return torch.where(flip[:, None, None, None], images.flip(-1), images)


def to_model_range(images_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float32 [-1, 1] (the pixel convention: RGB, NCHW, [-1, 1])."""
    return images_uint8.float() / 127.5 - 1.0


def load_split(config, split: str, include_other: bool, device) -> DeviceSplit:
    """One split of ``config.data`` at ``config.image_size`` through ``cats.data.load_dataset``, on the device."""
    options = {}
    if config.num_per_class is not None:
        if config.data != "synthcats":
            raise ValueError(f"--num-per-class applies to --data synthcats only, not {config.data!r}")
        options["num_per_class"] = config.num_per_class
    for column in ("image_column", "label_column"):  # hf: sources only (checked by the config)
        if getattr(config, column, None):
            options[column] = getattr(config, column)
    ds = load_dataset(config.data, split=split, image_size=config.image_size, root=config.data_root,
                      download=config.download, include_other=include_other, **options)
    return DeviceSplit(ds.images, ds.labels, device, provenance=ds.provenance)
