"""The twelve Oxford-IIIT Pet cat breeds: ids, display names and the aliases a user may type.

Ids 0-11 are fixed (DESIGN.md). Slot 12 means *null* for the generator (unconditional, used by
classifier-free guidance) and *other* for the classifier (not one of these cat breeds).
This module is the only place the list is written in Python; exports copy it into the manifest.
"""

from __future__ import annotations

import re

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
