"""The Hugging Face Hub source (``hf:``) on small datasets written with ``datasets``; nothing touches the network.

conftest sets HF_HUB_OFFLINE=1, so a Hub name can only be read from the library's cache: the tests
load local directories through ``hf:/path`` and Hub names through a cache they fill themselves.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from cats.breeds import BREEDS, CLASSIFIER_LABELS, OTHER_ID, breed_id
from cats.data import hub, labels, load_dataset
from tests import hub_fixture as hx

REVISION = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    base = tmp_path_factory.mktemp("hub")
    return {"oxford": hx.build_oxford_mirror(base / "oxford-iiit-pet"), "generic": hx.build_generic(base / "pets")}


def _quiet(source, split, root, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_dataset(source, split, 32, root=root, **kwargs)


def _counts(ds):
    return {name: n for name, n in ds.class_counts().items() if n}


# ---------------------------------------------------------------------------------------------- labels


def test_label_spellings_map_to_breeds_other_or_are_refused():
    assert [labels.resolve(n) for n in ("maine_coon", "Maine Coon cat", "RUSSIAN-BLUE", "sphinx", "Bengal Cat")] == [
        breed_id(b) for b in ("Maine Coon", "Maine Coon", "Russian Blue", "Sphynx", "Bengal")]
    assert [labels.resolve(n) for n in ("dog", "other", "golden retriever", "parrot")] == [OTHER_ID] * 4
    # a cat we cannot place is never "other": that would teach the classifier that cats are not cats
    assert [labels.resolve(n) for n in ("Scottish Fold", "tabby", "cat", "Norwegian Forest Cat")] == [None] * 4
    # a species column decides: a non-cat is "other" whatever its name, a cat needs a breed
    assert labels.resolve("Scottish Fold", is_cat=False) == OTHER_ID
    assert labels.resolve("american_bulldog", is_cat=True) is None
    with pytest.raises(labels.UnknownCatLabelError, match=r"'Scottish Fold', 'tabby'.*Known breeds: Abyssinian"):
        labels.map_names(["Siamese", "Scottish Fold", "tabby", "dog"])
    with pytest.raises(labels.NoBreedError, match=r"no cat breed.*'dog', 'car'.*Abyssinian"):
        labels.map_names(["dog", "car"])


def test_source_names_are_parsed_and_bad_ones_refused(tmp_path):
    assert hub.parse_source("hf:timm/oxford-iiit-pet") == hub.HubSource("timm/oxford-iiit-pet")
    assert hub.parse_source("hf:me/pets:full@v1.0") == hub.HubSource("me/pets", "full", "v1.0")
    assert hub.parse_source(f"hf:{tmp_path}") == hub.HubSource(str(tmp_path.resolve()))
    for bad in ("hf:", "hf:justaname", "hf:me/pets@", "hf:a/b/c"):
        with pytest.raises(ValueError, match="hf:"):
            load_dataset(bad, root=tmp_path)
    with pytest.raises(ValueError, match=r"unknown option.*colour.*image_column"):
        load_dataset("hf:me/pets", root=tmp_path, colour=True)


# ---------------------------------------------------------------------------------------------- Oxford layout


def test_oxford_mirror_labels_and_official_splits(built, tmp_path):
    src = f"hf:{built['oxford']}"
    with pytest.warns(UserWarning, match=r"skipped 1 of .*Bengal_3\.jpg"):
        train = load_dataset(src, "train", 32, root=tmp_path, val_fraction=0.2)
    val = _quiet(src, "val", tmp_path, val_fraction=0.2)
    test = _quiet(src, "test", tmp_path)
    cats = ("Abyssinian", "Bengal", "British Shorthair", "Siamese")
    # dogs (label_cat_dog = dog) are left out for the generator; every cat class keeps 1 of 5 for val
    assert len(train) + train.skipped == 4 * 4 and len(val) + val.skipped == 4 * 1
    assert _counts(test) == {breed: 2 for breed in cats} and train.class_names == BREEDS
    assert set(_counts(train)) | set(_counts(val)) == set(cats)
    other = _quiet(src, "test", tmp_path, include_other=True)
    assert other.class_names == CLASSIFIER_LABELS and _counts(other) == {**{b: 2 for b in cats}, "other": 2}
    assert test.provenance["species_column"] == "label_cat_dog" and test.provenance["label_column"] == "label"


def test_both_oxford_sources_give_the_same_labels_and_split_sizes(built, tmp_path):
    from cats.data import oxford
    from tests import oxford_fixture as ox

    ox.build(tmp_path / "archive" / oxford.DIRNAME)
    for other in (False, True):
        for split in ("train", "val", "test"):
            a = _quiet("oxford", split, tmp_path / "archive", include_other=other, val_fraction=0.2)
            b = _quiet(f"hf:{built['oxford']}", split, tmp_path / "mirror", include_other=other, val_fraction=0.2)
            assert a.class_names == b.class_names
            assert len(a) + a.skipped == len(b) + b.skipped, (split, other)
            if split == "test":  # the official list, same bytes, same order: the very same pixels and labels
                assert a.labels.tolist() == b.labels.tolist() and bool((a.images == b.images).all())
        trainval = [(_counts(_quiet(s, "train", r, include_other=other, val_fraction=0.2)),
                     _counts(_quiet(s, "val", r, include_other=other, val_fraction=0.2)))
                    for s, r in (("oxford", tmp_path / "archive"), (f"hf:{built['oxford']}", tmp_path / "mirror"))]
        merged = [{k: tr.get(k, 0) + va.get(k, 0) for k in set(tr) | set(va)} for tr, va in trainval]
        assert merged[0] == merged[1]


def test_offline_cache_by_hub_name_with_the_revision_recorded(built, tmp_path):
    hx.cache_as_hub(built["oxford"], hub.hf_cache_dir(tmp_path), "timm/oxford-iiit-pet", REVISION)
    ds = _quiet("hf:timm/oxford-iiit-pet", "test", tmp_path)
    assert _counts(ds) == {b: 2 for b in ("Abyssinian", "Bengal", "British Shorthair", "Siamese")}
    assert ds.provenance["revision"] == REVISION and ds.provenance["source"] == "hf:timm/oxford-iiit-pet"
    cached = list((tmp_path / "hub" / "timm_oxford-iiit-pet").glob("*.npz"))
    assert len(cached) == 1
    # a new revision of the dataset is a new cache entry, never the old arrays
    hx.cache_as_hub(built["oxford"], hub.hf_cache_dir(tmp_path), "timm/oxford-iiit-pet", "f" * 40)
    assert _quiet("hf:timm/oxford-iiit-pet", "test", tmp_path).provenance["revision"] == "f" * 40
    assert len(list(cached[0].parent.glob("*.npz"))) == 2


def test_oxford_falls_back_to_the_mirror_when_the_archive_fails(built, tmp_path, monkeypatch):
    from cats.data import oxford

    def offline(root=None, **kwargs):
        raise OSError("<urlopen error [Errno -3] Temporary failure in name resolution>")

    monkeypatch.setattr(oxford, "download_archives", offline)
    hx.cache_as_hub(built["oxford"], hub.hf_cache_dir(tmp_path), "timm/oxford-iiit-pet", REVISION)
    with pytest.warns(UserWarning, match=r"could not be downloaded \(<urlopen error.*hf:timm/oxford-iiit-pet"):
        ds = load_dataset("oxford", "test", 32, root=tmp_path, download=True)
    assert len(ds) == 8 and ds.provenance["revision"] == REVISION
    with pytest.raises(OSError, match="no head boxes"):  # the mirror has no head annotations
        load_dataset("oxford", "test", 32, root=tmp_path, download=True, crop="head")
    with pytest.raises(OSError, match="and so did the Hub mirror"):  # nothing cached for the mirror either
        load_dataset("oxford", "test", 32, root=tmp_path / "empty", download=True)
    with pytest.raises(FileNotFoundError, match="hf:timm/oxford-iiit-pet"):  # without --download: offer it
        load_dataset("oxford", "test", 32, root=tmp_path / "empty")


# ---------------------------------------------------------------------------------------------- generic layout


def test_generic_dataset_columns_found_by_features_and_labels_kept_per_image(built, tmp_path):
    src = f"hf:{built['generic']}"
    splits = {s: _quiet(src, s, tmp_path, include_other=True) for s in ("train", "val", "test")}
    # only a train split: test (fixed seed) and val (--seed) held out per class, 1 of 10 each
    assert {s: len(d) for s, d in splits.items()} == {"train": 56, "val": 7, "test": 7}
    assert _counts(splits["test"]) == {"Maine Coon": 1, "Russian Blue": 1, "Siamese": 1, "Bengal": 1, "Sphynx": 1,
                                       "other": 2}
    colours = {}
    for ours, colour, _ in hx.GENERIC_LABELS.values():
        colours.setdefault(CLASSIFIER_LABELS.index(ours), []).append(np.array(colour))
    for ds in splits.values():  # every image still carries its own label (one colour per class)
        mean = ds.images.float().mean(dim=(2, 3)).numpy()
        for rgb, label in zip(mean, ds.labels.tolist()):
            assert min(np.abs(rgb - c).max() for c in colours[label]) < 12
    assert splits["train"].provenance["image_column"] == "photo" and splits["train"].provenance["label_column"] == "breed"
    generator = _quiet(src, "train", tmp_path)  # the generator drops the non-cats
    assert OTHER_ID not in generator.labels.tolist() and len(generator) == 40
    # the held-out splits are disjoint and val moves with the seed while test does not
    moved = _quiet(src, "val", tmp_path, include_other=True, seed=1)
    assert not bool((moved.images == splits["val"].images).all())
    assert bool((_quiet(src, "test", tmp_path, include_other=True, seed=1).images == splits["test"].images).all())


def test_string_label_column_named_by_flag(tmp_path):
    path = hx.build_generic(tmp_path / "strings", string_labels=True, label_column="kind")
    with pytest.raises(ValueError, match=r"no label column.*kind \(Value\).*--label-column"):
        load_dataset(f"hf:{path}", root=tmp_path)
    ds = _quiet(f"hf:{path}", "train", tmp_path, label_column="kind")
    assert _counts(ds) == {"Maine Coon": 8, "Russian Blue": 8, "Siamese": 8, "Bengal": 8, "Sphynx": 8}
    with pytest.raises(ValueError, match=r"--label-column 'width' is Value.*ClassLabel or hold the label names"):
        load_dataset(f"hf:{path}", root=tmp_path, label_column="width")
    with pytest.raises(ValueError, match=r"no column 'pic' \(--image-column\).*photo \(Image\)"):
        load_dataset(f"hf:{path}", root=tmp_path, label_column="kind", image_column="pic")


def test_dataset_splits_used_when_present(tmp_path):
    path = hx.build_generic(tmp_path / "three", splits=("train", "validation", "test"))
    sizes = {s: len(_quiet(f"hf:{path}", s, tmp_path, include_other=True)) for s in ("train", "val", "test")}
    assert sizes == {"train": 70, "val": 70, "test": 70}  # each split is the dataset's own, nothing held out


def test_cache_is_reused_and_an_interrupted_preparation_leaves_nothing(built, tmp_path, monkeypatch):
    src = f"hf:{built['generic']}"
    calls = []
    real_decode = hub.decode_square

    def dies_halfway(data, size):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt  # Ctrl-C (or a killed container) in the middle of decoding
        return real_decode(data, size)

    monkeypatch.setattr(hub, "decode_square", dies_halfway)
    with pytest.raises(KeyboardInterrupt):
        _quiet(src, "test", tmp_path)
    assert not list((tmp_path / "hub").rglob("*.npz")) and not list((tmp_path / "hub").rglob("*.tmp"))
    first = _quiet(src, "test", tmp_path)
    monkeypatch.setattr(hub, "download", lambda *a: pytest.fail("prepared again although the split is cached"))
    again = _quiet(src, "test", tmp_path)
    assert bool((again.images == first.images).all()) and again.labels.tolist() == first.labels.tolist()


# ---------------------------------------------------------------------------------------------- bad input


def test_no_image_column_no_label_column_no_breed_unknown_cat(tmp_path):
    from datasets import ClassLabel, Dataset, Features, Value

    (tmp_path / "text" / "data").mkdir(parents=True)
    Dataset.from_dict({"text": ["a"], "label": [0]}, features=Features(
        {"text": Value("string"), "label": ClassLabel(names=["Siamese"])})).to_parquet(
        str(tmp_path / "text" / "data" / "train-00000-of-00001.parquet"))
    with pytest.raises(ValueError, match=r"no image column.*text \(Value\), label \(ClassLabel\)"):
        load_dataset(f"hf:{tmp_path / 'text'}", root=tmp_path)

    dogs = hx.build_generic(tmp_path / "dogs", labels={"beagle": ("other", (1, 2, 3), 3), "pug": ("other", (9, 9, 9), 3)})
    with pytest.raises(ValueError, match=r"no cat breed among its labels \('beagle', 'pug'\)"):
        load_dataset(f"hf:{dogs}", root=tmp_path)

    odd = hx.build_generic(tmp_path / "odd", labels={"Siamese": ("Siamese", (1, 2, 3), 3),
                                                     "Scottish Fold": ("?", (9, 9, 9), 3)})
    with pytest.raises(labels.UnknownCatLabelError, match=r"'Scottish Fold'.*Known breeds: Abyssinian, Bengal"):
        load_dataset(f"hf:{odd}", root=tmp_path)
    assert not list((tmp_path / "hub").rglob("*.npz"))  # nothing cached from a refused dataset


def test_private_dataset_without_a_token_says_how_to_fix(tmp_path, monkeypatch):
    import datasets
    import huggingface_hub
    from datasets.exceptions import DatasetNotFoundError

    def private(path, **kwargs):
        raise DatasetNotFoundError(f"Dataset '{path}' doesn't exist on the Hub or cannot be accessed.")

    monkeypatch.setattr(datasets, "load_dataset_builder", private)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    with pytest.raises(hub.HubAccessError, match=r"hf:me/secret-cats.*private or gated.*no Hugging Face token.*HF_TOKEN"):
        load_dataset("hf:me/secret-cats", root=tmp_path)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: "hf_xxx")
    with pytest.raises(hub.HubAccessError, match="token is set, but it has no access"):
        load_dataset("hf:me/secret-cats", root=tmp_path)


def test_unreachable_hub_and_a_download_dropped_midway(built, tmp_path, monkeypatch):
    with pytest.raises(hub.HubNetworkError, match=r"hf:me/not-cached: could not reach the Hugging Face Hub"):
        load_dataset("hf:me/not-cached", root=tmp_path)  # offline and not in the cache

    import datasets
    import httpx

    real = datasets.load_dataset_builder

    def dropping(*args, **kwargs):
        builder = real(*args, **kwargs)

        def download_and_prepare(*a, **k):
            raise httpx.ReadTimeout("The read operation timed out")

        builder.download_and_prepare = download_and_prepare
        return builder

    monkeypatch.setattr(datasets, "load_dataset_builder", dropping)
    with pytest.raises(hub.HubNetworkError, match=r"stopped part-way \(ReadTimeout.*run the same command again"):
        load_dataset(f"hf:{built['generic']}", root=tmp_path)
    assert not list((tmp_path / "hub").rglob("*.npz"))


# ---------------------------------------------------------------------------------------------- training


def test_training_on_a_hub_dataset_records_its_revision_in_the_pipeline(built, tmp_path):
    import json

    from cats.pipeline import CatsPipeline
    from cats.training.cli import config_from_args
    from cats.training.loop import Trainer

    hx.cache_as_hub(built["generic"], hub.hf_cache_dir(tmp_path), "someone/pets", REVISION)
    out = tmp_path / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Trainer(config_from_args([
            "generator", "--data", "hf:someone/pets", "--label-column", "breed", "--preset", "micro",
            "--data-root", str(tmp_path), "--out", str(out), "--steps", "1", "--batch-size", "4", "--warmup", "0",
            "--sample-every", "0", "--eval-every", "0", "--sample-steps", "1", "--threads", "1"])).run()
    data = json.loads((out / "data.json").read_text())
    assert data["train"]["revision"] == REVISION and data["train"]["label_column"] == "breed"
    assert data["train"]["images"] == 40 and data["val"]["split"] == "val"
    trained_on = CatsPipeline.from_pretrained(out / "pipeline").config.trained_on
    assert trained_on == f"hf:someone/pets@{REVISION} (train split, 40 images)"
    with pytest.raises(ValueError, match="--label-column name columns of a Hub dataset"):
        from cats.training.config import resolve

        resolve(config_from_args(["generator", "--data", "synthcats", "--label-column", "breed"]))
