"""folder:PATH: labels from folder names through the aliases, clear errors, splits, corrupt files."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from PIL import Image

from cats.breeds import BREEDS, OTHER_ID, breed_id
from cats.data import load_dataset

# a distinct colour per folder, so each picture's label can be checked against what it shows
FOLDERS = {"maine-coon": (200, 40, 40), "Siamese": (40, 200, 40), "british_shorthair": (40, 40, 200),
           "Abyssinian": (200, 200, 40)}


def _photo(path, colour, size=(40, 30)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)


@pytest.fixture()
def photos(tmp_path):
    root = tmp_path / "my cats"
    for name, colour in FOLDERS.items():
        for k in range(5):
            _photo(root / name / f"{k}.png", colour)
    _photo(root / "other" / "dog.jpg", (128, 128, 128))
    return root


def _all_splits(path, cache, **kw):
    return [load_dataset(f"folder:{path}", split, 16, root=cache, **kw) for split in ("train", "val", "test")]


def test_labels_come_from_folder_names_not_listing_order(photos, tmp_path):
    splits = _all_splits(photos, tmp_path / "cache", val_fraction=0.25, test_fraction=0.2)
    ids = {name: breed_id(name) for name in FOLDERS}  # maine-coon -> 6, Siamese -> 10, ...
    by_colour = {colour: ids[name] for name, colour in FOLDERS.items()}
    seen = set()
    for ds in splits:
        assert ds.class_names == BREEDS and OTHER_ID not in ds.labels.tolist()
        for image, label in zip(ds.images, ds.labels.tolist()):
            colour = tuple(int(c) for c in image[:, 8, 8])
            assert by_colour[colour] == label
            seen.add(label)
    assert seen == set(ids.values())  # four folders, four distinct labels: no collapse
    # 5 photos per breed: 1 test (0.2), then 1 val (0.25 of 4), 3 train; disjoint and complete
    assert [len(ds) for ds in splits] == [12, 4, 4]


def test_other_folder_only_with_include_other(photos, tmp_path):
    ds = load_dataset(f"folder:{photos}", "train", 16, root=tmp_path, include_other=True, test_fraction=0, val_fraction=0)
    assert ds.class_counts()["other"] == 1 and len(ds.class_names) == 13


def test_explicit_split_folders_are_used_as_given(tmp_path):
    for split, n in (("train", 3), ("test", 2)):
        for k in range(n):
            _photo(tmp_path / "data" / split / "Bombay" / f"{k}.png", (10, 10, 10))
    assert len(load_dataset(f"folder:{tmp_path / 'data'}", "test", 16, root=tmp_path)) == 2
    with pytest.raises(ValueError, match="no val/ folder"):
        load_dataset(f"folder:{tmp_path / 'data'}", "val", 16, root=tmp_path)


def test_unknown_folder_name_lists_valid_names(photos, tmp_path):
    (photos / "Garfield").mkdir()
    with pytest.raises(ValueError, match=r"unknown breed folder\(s\) \['Garfield'\].*Abyssinian, Bengal.*Sphynx, other"):
        load_dataset(f"folder:{photos}", "train", 16, root=tmp_path)


def test_empty_and_missing_folders_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_dataset(f"folder:{tmp_path / 'nowhere'}", "train", 16, root=tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no subfolders"):
        load_dataset(f"folder:{tmp_path / 'empty'}", "train", 16, root=tmp_path)
    (tmp_path / "empty" / "Persian").mkdir()
    (tmp_path / "empty" / "Persian" / "notes.txt").write_text("no photos here")
    with pytest.raises(ValueError, match="no images in"):
        load_dataset(f"folder:{tmp_path / 'empty'}", "train", 16, root=tmp_path)
    _photo(tmp_path / "only_other" / "other" / "a.png", (1, 2, 3))
    with pytest.raises(ValueError, match="include_other"):
        load_dataset(f"folder:{tmp_path / 'only_other'}", "train", 16, root=tmp_path)
    with pytest.raises(ValueError, match="needs a path"):
        load_dataset("folder:", "train", 16, root=tmp_path)


def test_corrupt_photo_is_skipped_and_counted(photos, tmp_path):
    (photos / "Siamese" / "broken.jpg").write_bytes(b"\xff\xd8 definitely not a jpeg")
    with pytest.warns(UserWarning, match=r"skipped 1 of \d+ images.*broken.jpg"):
        ds = load_dataset(f"folder:{photos}", "train", 16, root=tmp_path, test_fraction=0, val_fraction=0)
    assert ds.skipped == 1 and len(ds) == 20


def test_cache_notices_a_changed_folder(photos, tmp_path):
    kw = dict(root=tmp_path / "cache", test_fraction=0, val_fraction=0)
    before = load_dataset(f"folder:{photos}", "train", 16, **kw)
    _photo(photos / "Siamese" / "new.png", (40, 200, 40))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        after = load_dataset(f"folder:{photos}", "train", 16, **kw)
    assert len(after) == len(before) + 1
    assert np.bincount(after.labels.numpy(), minlength=12)[breed_id("Siamese")] == 6
