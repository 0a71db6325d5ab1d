"""SynthCats: a procedural, deterministic, offline dataset of drawn cats of the twelve breeds.

Image ``i`` of a split is drawn from ``numpy.random.default_rng([seed, SPLIT_CODE[split], stream, i])``
(stream 0 = cats, 1 = "other"), so the same (seed, split, index) gives the same picture on any
machine and the splits never share a random stream. Cats come first, label ``i % 12``
(balanced, every breed present); "other" pictures (label 12) follow when ``include_other``.
A drawn split is cached under ``root/synthcats/`` as one compressed uint8 array.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path

import numpy as np

from cats.breeds import NUM_BREEDS, OTHER_ID
from cats.data.cache import cache_key, class_names_for, load_arrays, save_arrays
from cats.data.synthcats_draw import draw_cat
from cats.data.synthcats_other import draw_other

VERSION = 1  # bump when the drawing changes: it is part of the cache key
SPLIT_CODE = {"train": 0, "val": 1, "test": 2}
DEFAULT_PER_CLASS = {"train": 1000, "val": 100, "test": 100}
MIN_SIZE, MAX_SIZE = 32, 256


def draw(label: int, size: int, seed: int = 0, split: str = "train", index: int = 0) -> np.ndarray:
    """Picture ``index`` of the stream for ``label`` (0..11 a breed, 12 other): uint8 (size, size, 3).

    Used by ``draw_split``; exposed so a single picture can be reproduced exactly.
    """
    stream = 1 if label == OTHER_ID else 0
    rng = np.random.default_rng([seed, SPLIT_CODE[split], stream, index])
    return draw_other(rng, size) if label == OTHER_ID else draw_cat(label, rng, size)


def _draw_range(args: tuple[int, int, int, int, str, int]) -> np.ndarray:
    """Pictures start..stop-1 of a split (cats then others): uint8 (n, 3, size, size)."""
    start, stop, num_cats, size, split, seed = args
    out = np.empty((stop - start, 3, size, size), np.uint8)
    for k, i in enumerate(range(start, stop)):
        if i < num_cats:
            img = draw(i % NUM_BREEDS, size, seed, split, i)
        else:
            img = draw(OTHER_ID, size, seed, split, i - num_cats)
        out[k] = img.transpose(2, 0, 1)
    return out


def draw_split(split: str, size: int, num_per_class: int, num_other: int = 0, seed: int = 0,
               workers: int = 1, chunk: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """Draw a whole split: images uint8 (N, 3, size, size), labels int64 (N,).

    N = 12 * num_per_class + num_other. ``workers`` > 1 draws chunks of ``chunk`` pictures in
    parallel processes; the result is identical because every picture has its own seed.
    """
    num_cats = NUM_BREEDS * num_per_class
    total = num_cats + num_other
    labels = np.concatenate([np.arange(num_cats) % NUM_BREEDS, np.full(num_other, OTHER_ID)]).astype(np.int64)
    tasks = [(a, min(a + chunk, total), num_cats, size, split, seed) for a in range(0, total, chunk)]
    if workers > 1 and len(tasks) > 1 and "fork" in get_all_start_methods():
        # fork, like torch's DataLoader workers: spawn would re-run a caller's unguarded script.
        # The children only run numpy + Pillow, never torch, so the parent's threads do not matter.
        with ProcessPoolExecutor(min(workers, len(tasks)), mp_context=get_context("fork")) as pool:
            parts = list(pool.map(_draw_range, tasks))
    else:
        parts = [_draw_range(t) for t in tasks]
    images = np.concatenate(parts) if parts else np.empty((0, 3, size, size), np.uint8)
    return images, labels


def load(split: str, image_size: int, root: Path, include_other: bool = False, seed: int = 0,
         num_per_class: int | None = None, num_other: int | None = None, workers: int | None = None,
         cache: bool = True):
    """The SynthCats split as an ``ArrayDataset`` (drawn once, then read from the cache).

    This module imports torch only here, so drawing workers stay light.

    ``num_per_class`` defaults to 1000 for train and 100 for val/test; ``num_other`` (only with
    ``include_other``) defaults to ``num_per_class``. ``workers`` defaults to the CPU count
    (at most 8) for splits over 2,000 pictures, else 1.
    """
    if not MIN_SIZE <= image_size <= MAX_SIZE:
        raise ValueError(f"SynthCats draws sides from {MIN_SIZE} to {MAX_SIZE} px, got image_size={image_size}")
    per_class = DEFAULT_PER_CLASS[split] if num_per_class is None else num_per_class
    if isinstance(per_class, bool) or not isinstance(per_class, int) or per_class < 1:
        raise ValueError(f"num_per_class must be a positive int, got {num_per_class!r}")
    others = (per_class if num_other is None else num_other) if include_other else 0
    if isinstance(others, bool) or not isinstance(others, int) or others < 0:
        raise ValueError(f"num_other must be an int >= 0, got {num_other!r}")
    total = NUM_BREEDS * per_class + others
    if workers is None:
        workers = min(os.cpu_count() or 1, 8) if total > 2000 else 1

    key = cache_key(version=VERSION, split=split, size=image_size, seed=seed, per_class=per_class, others=others)
    path = Path(root) / "synthcats" / f"synthcats-{split}-{image_size}px-{key}.npz"
    arrays = load_arrays(path, ("images", "labels")) if cache else None
    if arrays is None:
        images, labels = draw_split(split, image_size, per_class, others, seed, workers)
        if cache:
            save_arrays(path, images=images, labels=labels)
    else:
        images, labels = arrays["images"], arrays["labels"]
    from cats.data.dataset import ArrayDataset  # imported here: torch; drawing (draw, draw_split) needs none

    return ArrayDataset(images, labels, class_names_for(include_other), source="synthcats", split=split)
