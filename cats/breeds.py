"""The twelve Oxford-IIIT Pet cat breeds: ids, display names and the aliases a user may type.

Ids 0-11 are fixed: saved weights and exported graphs depend on them. Slot 12 means *null* for the generator (unconditional, used by
classifier-free guidance) and *other* for the classifier (not one of these cat breeds).
This module is the only place the list is written in Python; exports copy it into the manifest.
"""

from __future__ import annotations

import math
import re
from numbers import Real

import numpy as np

BREEDS: tuple[str, ...] = (
    "Abyssinian",
    "Bengal",
    "Birman",
    "Bombay",
    "British Shorthair",
    "Egyptian Mau",
    "Maine Coon",
    "Persian",
    "Ragdoll",
    "Russian Blue",
    "Siamese",
    "Sphynx",
)
NUM_BREEDS = len(BREEDS)  # 12
NULL_ID = 12  # generator: the unconditional slot
NUM_SLOTS = NUM_BREEDS + 1  # generator conditioning vector length (12 breeds + null)
OTHER_ID = 12  # classifier: "not one of these cat breeds"
OTHER_LABEL = "other"
CLASSIFIER_LABELS: tuple[str, ...] = BREEDS + (OTHER_LABEL,)
NUM_CLASSIFIER_OUTPUTS = len(CLASSIFIER_LABELS)  # 13

# The Oxford-IIIT Pet file-name stem of each breed (e.g. "British_Shorthair_12.jpg").
OXFORD_NAMES: tuple[str, ...] = tuple(name.replace(" ", "_") for name in BREEDS)


def slug(name: str) -> str:
    """Normalise a typed name: 'British_Shorthair', 'british-shorthair ' -> 'british shorthair'."""
    return re.sub(r"[\s_\-]+", " ", name.strip().lower()).strip()


_EXTRA_ALIASES = {
    "brit": "British Shorthair",
    "bsh": "British Shorthair",
    "mau": "Egyptian Mau",
    "maine": "Maine Coon",
    "russian": "Russian Blue",
    "sphinx": "Sphynx",
}
_ALIASES: dict[str, int] = {slug(name): i for i, name in enumerate(BREEDS)}
_ALIASES.update({slug(alias): BREEDS.index(name) for alias, name in _EXTRA_ALIASES.items()})


def breed_id(breed: str | int) -> int:
    """Resolve a breed name (any case, spaces/underscores/hyphens) or id to its id in 0..11.

    Raises ValueError naming the bad value and listing the valid names.
    """
    if isinstance(breed, bool):  # bool is an int subclass; True is not a breed
        raise ValueError(f"breed must be a name or an id 0..{NUM_BREEDS - 1}, got {breed!r}")
    if isinstance(breed, int):
        if 0 <= breed < NUM_BREEDS:
            return breed
        raise ValueError(f"breed id {breed} is out of range: valid ids are 0..{NUM_BREEDS - 1} ({', '.join(BREEDS)})")
    if isinstance(breed, str):
        key = slug(breed)
        if key.isdigit():
            return breed_id(int(key))
        if key in _ALIASES:
            return _ALIASES[key]
        raise ValueError(f"unknown breed {breed!r}: valid names are {', '.join(BREEDS)}")
    raise ValueError(f"breed must be a name or an id 0..{NUM_BREEDS - 1}, got {type(breed).__name__} {breed!r}")


def breed_name(breed: str | int) -> str:
    """Display name of a breed given by name, alias or id."""
    return BREEDS[breed_id(breed)]


def classifier_label_id(label: str | int) -> int:
    """Like breed_id, but also accepts 'other' (id 12) for the classifier's extra class."""
    if isinstance(label, str) and slug(label) in (OTHER_LABEL, "not a cat", "dog"):
        return OTHER_ID
    if isinstance(label, int) and not isinstance(label, bool) and label == OTHER_ID:
        return OTHER_ID
    return breed_id(label)


def breed_weights(breed, batch: int = 1) -> np.ndarray:
    """Validate a breed request and return float32 conditioning weights (rows, 13) that sum to 1.

    breed: a name, alias or id (one-hot); a dict {breed: weight} (a blend: weights finite, >= 0, not all
    zero, normalised); None (unconditional: the null slot); or a list of those (one entry per image).
    Each entry is repeated ``batch`` times, so rows = batch for a single entry and len(list) * batch
    for a list. Both pipelines (PyTorch and ONNX) call this; the web client mirrors it.
    """
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValueError(f"the number of images per breed must be a positive integer, got {batch!r}")
    entries = list(breed) if isinstance(breed, (list, tuple)) else [breed]
    if not entries:
        raise ValueError("breed list is empty: give at least one breed name, id or blend")
    rows = [_one_breed(entry) for entry in entries]
    return np.repeat(np.stack(rows), batch, axis=0)  # (len(entries) * batch, 13)


def _one_breed(breed) -> np.ndarray:
    w = np.zeros(NUM_SLOTS, dtype=np.float64)
    if breed is None:
        w[NULL_ID] = 1.0
    elif isinstance(breed, dict):
        if not breed:
            raise ValueError(f"a breed blend needs at least one breed, got {{}}; valid names: {', '.join(BREEDS)}")
        for name, weight in breed.items():
            if isinstance(weight, bool) or not isinstance(weight, Real) or not math.isfinite(weight):
                raise ValueError(f"blend weight for {name!r} must be a finite number, got {weight!r}")
            if weight < 0:
                raise ValueError(f"blend weight for {name!r} is negative ({weight}); weights must be >= 0")
            w[breed_id(name)] += float(weight)
        if w.sum() <= 0:
            raise ValueError(f"blend weights are all zero ({breed}); give at least one breed a positive weight")
        w /= w.sum()
    else:
        w[breed_id(breed)] = 1.0  # raises ValueError listing the names for an unknown breed
    return w.astype(np.float32)
