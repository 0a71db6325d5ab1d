"""A user's own photos: ``folder:PATH`` with one subfolder per breed (and optionally ``other/``).

Subfolder names go through ``cats.breeds`` aliases ("maine-coon", "British_Shorthair", "siamese"
all work); each folder's label comes from its own name, never from its position in a listing.
Splits: if PATH holds ``train/``, ``val/``, ``test/`` folders (each laid out as above) they are used
as given; otherwise each breed's photos are divided with fixed seeds (``test_fraction`` with seed 0,
so the test set never moves; ``val_fraction`` of the rest with ``seed``). Decoded once into
``root/folders/*.npz``, keyed by the file names, sizes and modification times.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from cats.breeds import BREEDS, OTHER_ID, OTHER_LABEL, classifier_label_id
from cats.data.cache import cache_key, class_names_for, load_arrays, save_arrays
from cats.data.dataset import ArrayDataset
from cats.data.decode import decode_all

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")
CROPS = ("center",)
SPLIT_DIRS = ("train", "val", "test")


def scan(path: Path, include_other: bool) -> dict[int, list[Path]]:
    """Label -> sorted image paths of one breed-per-subfolder directory. Raises on unknown names / no images."""
    if not path.is_dir():
        raise FileNotFoundError(f"image folder {str(path)!r} does not exist (expected one subfolder per breed)")
    valid = ", ".join((*BREEDS, OTHER_LABEL))
    subdirs = sorted(d for d in path.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not subdirs:
        raise ValueError(f"{path} has no subfolders: put each breed's photos in a subfolder named after it "
                         f"(valid names: {valid})")
    labels, unknown = {}, []
    for d in subdirs:
        try:
            labels[d] = classifier_label_id(d.name)
        except ValueError:
            unknown.append(d.name)
    if unknown:
        raise ValueError(f"unknown breed folder(s) {unknown} in {path}: valid names are {valid} "
                         "(case, spaces, '_' and '-' do not matter)")
    found: dict[int, list[Path]] = {}
    empty = []
    for d, label in labels.items():
        if label == OTHER_ID and not include_other:
            continue
        files = sorted(f for f in d.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS)
        if files:
            found.setdefault(label, []).extend(files)  # two spellings of one breed merge
        else:
            empty.append(d.name)
    if not found:
        raise ValueError(f"no images in {path}: looked for {', '.join(IMAGE_EXTENSIONS)} files in its breed "
                         f"subfolders{' (other/ is ignored unless include_other=True)' if not include_other else ''}")
    if empty:
        warnings.warn(f"{path}: no images in {', '.join(empty)}", stacklevel=3)
    return {label: sorted(files) for label, files in found.items()}


def _divide(files: dict[int, list[Path]], split: str, seed: int, val_fraction: float,
            test_fraction: float) -> list[tuple[Path, int]]:
    """The (path, label) pairs of ``split`` when the folder has no split subfolders."""
    chosen = []
    for label, paths in sorted(files.items()):
        n = len(paths)
        order = np.random.default_rng([0, label]).permutation(n)
        n_test = round(test_fraction * n)
        test, rest = sorted(order[:n_test]), sorted(order[n_test:])
        n_val = round(val_fraction * len(rest))
        val_pick = np.random.default_rng([seed, label]).permutation(len(rest))[:n_val]
        val = sorted(rest[i] for i in val_pick)
        picked = {"test": test, "val": val, "train": sorted(set(rest) - set(val))}[split]
        chosen += [(paths[i], label) for i in picked]
    return chosen


def load(path: Path, split: str, image_size: int, root: Path, include_other: bool = False, seed: int = 0,
         crop: str = "center", val_fraction: float = 0.1, test_fraction: float = 0.1) -> ArrayDataset:
    """The photos of ``path`` for ``split`` as an ``ArrayDataset`` (see the module docstring)."""
    if crop not in CROPS:
        raise ValueError(f"unknown crop {crop!r} for an image folder: valid crops are {', '.join(CROPS)}")
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= value < 1.0:
            raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    path = Path(path).resolve()
    split_dirs = [d for d in SPLIT_DIRS if (path / d).is_dir()]
    if split_dirs:
        if split not in split_dirs:
            raise ValueError(f"{path} is divided into {', '.join(split_dirs)}/ but has no {split}/ folder")
        pairs = [(p, label) for label, ps in sorted(scan(path / split, include_other).items()) for p in ps]
    else:
        pairs = _divide(scan(path, include_other), split, seed, val_fraction, test_fraction)
    if not pairs:
        raise ValueError(f"the {split} split of {path} is empty: add photos or lower the held-out fractions")

    stamp = [(str(p.relative_to(path)), p.stat().st_size, p.stat().st_mtime_ns, label) for p, label in pairs]
    key = cache_key(path=str(path), files=stamp, size=image_size, crop=crop, other=include_other)
    cache = Path(root) / "folders" / f"{path.name}-{split}-{image_size}px-{key}.npz"
    arrays = load_arrays(cache, ("images", "labels", "skipped"))
    if arrays is None:
        images, labels, skipped = decode_all([(p, label, None, None) for p, label in pairs], image_size,
                                             f"folder {path.name} {split}")
        if len(images) == 0:
            raise ValueError(f"none of the {len(pairs)} images of the {split} split of {path} could be read")
        arrays = {"images": images, "labels": labels, "skipped": np.array(len(skipped))}
        save_arrays(cache, **arrays)
    return ArrayDataset(arrays["images"], arrays["labels"], class_names_for(include_other),
                        source=f"folder:{path}", split=split, skipped=int(arrays["skipped"]))
