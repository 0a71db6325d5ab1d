"""Datasets: one entry point, ``load_dataset``, for every trainer and evaluator.

    ds = load_dataset("synthcats" | "oxford" | "folder:PATH" | "hf:OWNER/NAME[:CONFIG][@REVISION]",
                      split="train" | "val" | "test",
                      image_size=64, root=None, download=False, include_other=False, seed=0, **options)
    ds[i]          -> (image float32 (3, H, W) in [-1, 1], label int)
    ds.images      -> uint8 tensor (N, 3, H, W), the whole split in memory
    ds.labels      -> int64 tensor (N,): 0..11 breeds, 12 = other (only with include_other)
    ds.class_names -> 12 or 13 names in cats.breeds.CLASSIFIER_LABELS order

Source options: synthcats ``num_per_class``, ``num_other``, ``workers``, ``cache``;
oxford ``crop`` ("center" | "head"), ``val_fraction``; folder ``crop`` ("center"), ``val_fraction``,
``test_fraction``; hf ``image_column``, ``label_column``, ``val_fraction``, ``test_fraction``.
"""

from __future__ import annotations

import inspect
from pathlib import Path

from cats.data import synthcats
from cats.data.cache import default_root

SOURCES = ("synthcats", "oxford", "folder:PATH", "hf:OWNER/NAME[:CONFIG]")
SPLITS = ("train", "val", "test")
MIN_SIZE, MAX_SIZE = 16, 1024

__all__ = ["ArrayDataset", "SOURCES", "SPLITS", "default_root", "load_dataset", "uint8_to_model"]


def __getattr__(name: str):
    if name in ("ArrayDataset", "uint8_to_model"):
        from cats.data import dataset  # imported here: torch on first use; the SynthCats drawing path needs none
        return getattr(dataset, name)
    raise AttributeError(f"module 'cats.data' has no attribute {name!r}")


def _check_options(loader, options: dict, source: str) -> None:
    """Unknown keyword options are a user error that lists the accepted ones."""
    fixed = {"split", "image_size", "root", "include_other", "seed", "download", "path"}
    accepted = sorted(set(inspect.signature(loader).parameters) - fixed)
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} for source {source!r}: accepted options are {accepted}")


def load_dataset(source: str, split: str = "train", image_size: int = 64, root: str | Path | None = None,
                 download: bool = False, include_other: bool = False, seed: int = 0, **source_options):
    """Load a split of a dataset as an in-memory ``cats.data.dataset.ArrayDataset`` (see the module docstring).

    Args:
        source: "synthcats", "oxford", "folder:PATH" (one subfolder per breed, optional other/) or
            "hf:OWNER/NAME[:CONFIG][@REVISION]" (a Hugging Face Hub dataset, or hf:/a/local/dir; see cats.data.hub).
        split: "train", "val" (held out from train with ``seed``) or "test".
        image_size: side of the square images in pixels.
        root: cache directory (default ``$TINY_CATS_CACHE`` or ``~/.cache/tiny-cats``); Oxford-IIIT Pet
            lives in ``root/oxford-iiit-pet`` (torchvision's layout).
        download: Oxford only: fetch and verify the archives if they are missing (falling back to the Hub
            mirror when that fails). A Hub source always downloads what is not cached yet.
        include_other: add class 12 "other" (Oxford dogs, non-cat SynthCats pictures, a folder's other/).
        seed: fixes the SynthCats drawing and the held-out val split.
    """
    if not isinstance(source, str):
        raise ValueError(f"source must be a string, one of {', '.join(SOURCES)}; got {source!r}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: valid splits are {', '.join(SPLITS)}")
    if isinstance(image_size, bool) or not isinstance(image_size, int) or not MIN_SIZE <= image_size <= MAX_SIZE:
        raise ValueError(f"image_size must be an int from {MIN_SIZE} to {MAX_SIZE}, got {image_size!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    root = Path(root).expanduser() if root is not None else default_root()
    common = dict(split=split, image_size=image_size, root=root, include_other=bool(include_other), seed=seed)

    if source == "synthcats":
        _check_options(synthcats.load, source_options, source)
        return synthcats.load(**common, **source_options)
    if source == "oxford":
        from cats.data import oxford  # imported here: this source imports torch; cats.data itself stays torch-free
        _check_options(oxford.load, source_options, source)
        return oxford.load(**common, download=download, **source_options)
    if source.startswith("folder:"):
        path = source[len("folder:"):]
        if not path:
            raise ValueError("source 'folder:' needs a path, e.g. 'folder:~/my_cats' (one subfolder per breed)")
        from cats.data import folder  # imported here: this source imports torch; cats.data itself stays torch-free
        _check_options(folder.load, source_options, source)
        return folder.load(Path(path).expanduser(), **common, **source_options)
    if source.startswith("hf:"):
        from cats.data import hub  # imported here: this source imports torch; cats.data itself stays torch-free
        _check_options(hub.load, source_options, source)
        return hub.load(source, **common, **source_options)
    raise ValueError(f"unknown source {source!r}: valid sources are {', '.join(SOURCES)}")
