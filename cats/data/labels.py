"""A dataset's own label names -> our ids: the twelve breeds, "other", or refused.

Used by the Hub source, where every dataset spells its classes its own way ("maine_coon",
"Maine Coon cat", "RUSSIAN-BLUE", "sphinx"). A name is resolved in this order:

1. one of the twelve breeds through ``cats.breeds`` aliases, also with a "cat"/"cats" word around
   it ("Bengal cat") -> its breed id;
2. a name ``cats.breeds`` already reads as "other" ("other", "not a cat", "dog") -> ``OTHER_ID``;
3. when the dataset says which rows are cats (a species column such as Oxford's ``label_cat_dog``),
   a non-cat row is "other" and a cat row needs a breed name: a cat of another breed is refused;
4. without a species column, a name that reads as a cat of another breed or of no breed
   ("Scottish Fold", "tabby", "cat") is refused, since training it as "other" would teach the
   classifier that a cat is not a cat; any other name (a dog breed, "bird", "car") is "other".

"Refused" raises ``UnknownCatLabelError`` listing the names, so no cat silently lands in the wrong
class. The generator drops "other" rows; the classifier keeps them as class 12.
"""

from __future__ import annotations

from cats.breeds import BREEDS, OTHER_ID, OTHER_LABEL, breed_id, classifier_label_id, slug

CAT_WORDS = frozenset({"cat", "cats", "kitten", "kittens", "kitty", "feline"})
# Cat breeds and coat names outside the twelve; a label among them is a cat we cannot place.
OTHER_CAT_NAMES = frozenset(slug(name) for name in (
    "American Bobtail", "American Curl", "American Shorthair", "American Wirehair", "Balinese", "Burmese",
    "Burmilla", "Chartreux", "Chausie", "Cornish Rex", "Cymric", "Devon Rex", "Donskoy", "Exotic Shorthair",
    "Havana Brown", "Himalayan", "Japanese Bobtail", "Javanese", "Khao Manee", "Korat", "LaPerm",
    "Lykoi", "Manx", "Munchkin", "Nebelung", "Norwegian Forest", "Ocicat", "Oriental", "Oriental Shorthair",
    "Peterbald", "Pixiebob", "Ragamuffin", "Savannah", "Scottish Fold", "Selkirk Rex", "Siberian",
    "Singapura", "Snowshoe", "Somali", "Tonkinese", "Toyger", "Turkish Angora", "Turkish Van",
    "Domestic Shorthair", "Domestic Medium Hair", "Domestic Longhair", "Tabby", "Calico", "Tortoiseshell",
    "Tuxedo", "Tortie",
))


class UnknownCatLabelError(ValueError):
    """Labels that name cats, but not one of the twelve breeds."""


class NoBreedError(ValueError):
    """A label set in which no name is one of the twelve breeds."""


def breed_of(name: str) -> int | None:
    """Our breed id for ``name`` (aliases, with or without a "cat" word), else None."""
    words = slug(name).split()
    for candidate in (words, [w for w in words if w not in CAT_WORDS]):
        try:
            return breed_id(" ".join(candidate))
        except ValueError:
            continue
    return None


def looks_like_a_cat(name: str) -> bool:
    """True for a cat of a breed we do not have, or of no breed ("Scottish Fold cat", "tabby", "Kitten")."""
    words = slug(name).split()
    rest = " ".join(w for w in words if w not in CAT_WORDS)
    return bool(CAT_WORDS & set(words)) or slug(name) in OTHER_CAT_NAMES or rest in OTHER_CAT_NAMES


def resolve(name: str, is_cat: bool | None = None) -> int | None:
    """One label name -> a breed id, ``OTHER_ID``, or None (a cat we cannot place).

    ``is_cat``: what a species column says about the rows with this name (None: no species column).
    """
    found = breed_of(name)
    if found is not None:
        return found
    if is_cat is False:
        return OTHER_ID
    try:
        if classifier_label_id(name) == OTHER_ID:
            return OTHER_ID
    except ValueError:
        pass
    if is_cat or looks_like_a_cat(name):
        return None
    return OTHER_ID


def map_names(names: list[str], is_cat: list[bool | None] | None = None, what: str = "the dataset") -> list[int]:
    """Our id for each of a dataset's label names (breed id or ``OTHER_ID``).

    Raises ``UnknownCatLabelError`` listing every cat label we cannot place, and ``NoBreedError``
    when no name is one of the twelve breeds (the dataset is not a cat-breed dataset).
    """
    is_cat = is_cat or [None] * len(names)
    ids = [resolve(str(name), cat) for name, cat in zip(names, is_cat)]
    unknown = [str(name) for name, i in zip(names, ids) if i is None]
    if unknown:
        raise UnknownCatLabelError(
            f"{what} has cat label(s) that are not one of the twelve breeds: {', '.join(map(repr, unknown))}. "
            f"Known breeds: {', '.join(BREEDS)} (case, spaces, '_' and '-' do not matter; "
            f"'{OTHER_LABEL}' or a non-cat name becomes \"other\"). Remove those rows from the dataset, "
            "or relabel them, before training on it.")
    if not any(i != OTHER_ID for i in ids):
        shown = ", ".join(map(repr, map(str, names[:20]))) + (" ..." if len(names) > 20 else "")
        raise NoBreedError(f"{what} has no cat breed among its labels ({shown}): expected at least one of "
                           f"{', '.join(BREEDS)}")
    return ids
