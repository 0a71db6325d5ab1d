"""On-disk array cache and the cache root, without torch (SynthCats drawing workers import this).

Every source ends as one uint8 array of the whole split, cached as one compressed ``.npz`` file
written atomically (temporary file + ``os.replace``), so a killed run never leaves a half-written
cache that a later run trusts.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

from cats.breeds import BREEDS, CLASSIFIER_LABELS

CACHE_ENV = "TINY_CATS_CACHE"  # overrides the default cache root, e.g. a Modal volume


def default_root() -> Path:
    """``$TINY_CATS_CACHE`` or ``~/.cache/tiny-cats``: where datasets and their caches live."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "tiny-cats")


def class_names_for(include_other: bool) -> tuple[str, ...]:
    """The 12 breed names, plus "other" (id 12) when the classifier's extra class is wanted."""
    return CLASSIFIER_LABELS if include_other else BREEDS


def cache_key(**params) -> str:
    """A short stable hash of the parameters that determine a cached array."""
    blob = json.dumps(params, sort_keys=True, default=str).encode()
    return hashlib.sha1(blob).hexdigest()[:12]


def save_arrays(path: Path, **arrays: np.ndarray) -> None:
    """Write arrays to one compressed ``.npz`` atomically (no partial file is ever visible at ``path``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_arrays(path: Path, names: tuple[str, ...]) -> dict[str, np.ndarray] | None:
    """Read a cache written by ``save_arrays``; None (with a warning) if it is missing pieces or unreadable."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in names}
    except (OSError, ValueError, KeyError, EOFError) as exc:
        warnings.warn(f"ignoring unreadable cache {path} ({exc}); rebuilding it", stacklevel=3)
        return None
