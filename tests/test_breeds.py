"""cats.breeds: the fixed ids, the aliases a user may type, and errors that list the valid names."""

from __future__ import annotations

import pytest

from cats import breeds
from cats.breeds import BREEDS, breed_id, breed_name, classifier_label_id


def test_fixed_order_and_special_ids():
    assert BREEDS[0] == "Abyssinian" and BREEDS[4] == "British Shorthair" and BREEDS[11] == "Sphynx"
    assert len(BREEDS) == breeds.NUM_BREEDS == 12 and len(set(BREEDS)) == 12
    assert breeds.NULL_ID == breeds.OTHER_ID == 12 and breeds.NUM_SLOTS == 13
    assert breeds.CLASSIFIER_LABELS == BREEDS + ("other",)
    assert breeds.OXFORD_NAMES[4] == "British_Shorthair" and breeds.OXFORD_NAMES[6] == "Maine_Coon"


@pytest.mark.parametrize("typed, expected", [
    ("british shorthair", 4), ("British_Shorthair", 4), ("BRITISH-SHORTHAIR ", 4), ("maine-coon", 6),
    ("Maine Coon", 6), ("russian_blue", 9), ("egyptian mau", 5), ("sphinx", 11), ("Siamese", 10), ("3", 3), (0, 0),
])
def test_aliases_resolve(typed, expected):
    assert breed_id(typed) == expected


def test_every_display_and_oxford_name_round_trips():
    for i, (name, oxford) in enumerate(zip(BREEDS, breeds.OXFORD_NAMES)):
        assert breed_id(name) == breed_id(oxford) == breed_id(name.lower()) == i
        assert breed_name(i) == breed_name(oxford) == name


@pytest.mark.parametrize("bad", ["Garfield", "", "maine coonn", 12, -1, True, 2.0, None])
def test_bad_breed_raises_listing_valid_names(bad):
    with pytest.raises(ValueError) as info:
        breed_id(bad)
    message = str(info.value)
    assert repr(bad) in message or str(bad) in message
    if isinstance(bad, str):
        assert all(name in message for name in BREEDS)


def test_other_is_only_a_classifier_label():
    assert classifier_label_id("other") == classifier_label_id("Other") == classifier_label_id(12) == 12
    assert classifier_label_id("Bengal") == 1
    with pytest.raises(ValueError):
        breed_id("other")  # the generator has no "other" breed: its slot 12 is null
    with pytest.raises(ValueError):
        classifier_label_id(13)
