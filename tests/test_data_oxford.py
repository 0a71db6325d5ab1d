"""Oxford-IIIT Pet: the real parser, split and cache on a miniature archive; the downloader offline."""

from __future__ import annotations

import hashlib
import io
import warnings

import numpy as np
import pytest

from cats.breeds import BREEDS, OTHER_ID, breed_id
from cats.data import load_dataset, oxford
from tests import oxford_fixture as fx

CATS = [stem for stem, _, species, _ in fx.BREEDS if species == 1]


@pytest.fixture()
def root(tmp_path):
    fx.build(tmp_path / oxford.DIRNAME)
    return tmp_path


def _counts(ds):
    return {name: n for name, n in ds.class_counts().items() if n}


def test_train_val_test_counts_per_breed(root):
    with pytest.warns(UserWarning, match=r"skipped 1 of .*Bengal_3"):
        train = load_dataset("oxford", "train", 32, root=root, val_fraction=0.2)
    val = load_dataset("oxford", "val", 32, root=root, val_fraction=0.2)
    test = load_dataset("oxford", "test", 32, root=root)
    per_val = round(0.2 * fx.TRAINVAL_PER_BREED)
    expected_train = {breed: fx.TRAINVAL_PER_BREED - per_val for breed in ("Abyssinian", "Bengal", "British Shorthair", "Siamese")}
    expected_val = {breed: per_val for breed in expected_train}
    # the corrupt Bengal image is in train or val, whichever the seeded split put it in
    corrupt_in_val = "Bengal_3" in {e.name for e in oxford.split_entries(root / oxford.DIRNAME, "val", 0, 0.2)}
    (expected_val if corrupt_in_val else expected_train)["Bengal"] -= 1
    assert _counts(train) == {k: v for k, v in expected_train.items() if v}
    assert _counts(val) == {k: v for k, v in expected_val.items() if v}
    assert _counts(test) == {breed: fx.TEST_PER_BREED for breed in expected_train}
    assert train.skipped + val.skipped == 1 and test.skipped == 0
    assert train.class_names == BREEDS and train.images.shape[1:] == (3, 32, 32)
    # labels are our breed ids by name, not Oxford's CLASS-ID order
    assert set(train.labels.tolist()) == {breed_id(b) for b in ("Abyssinian", "Bengal", "British Shorthair", "Siamese")}


def test_val_is_disjoint_from_train_and_depends_on_seed(root):
    directory = root / oxford.DIRNAME
    train = {e.name for e in oxford.split_entries(directory, "train", 0, 0.2)}
    val = {e.name for e in oxford.split_entries(directory, "val", 0, 0.2)}
    assert not train & val and len(train | val) == len(fx.names("trainval"))
    other_seeds = [{e.name for e in oxford.split_entries(directory, "val", s, 0.2)} for s in range(1, 6)]
    assert any(v != val for v in other_seeds)


def test_dogs_become_other_only_when_asked(root):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cats_only = load_dataset("oxford", "test", 32, root=root)
        with_other = load_dataset("oxford", "test", 32, root=root, include_other=True)
    assert OTHER_ID not in cats_only.labels.tolist() and len(cats_only.class_names) == 12
    assert with_other.class_names[-1] == "other"
    assert with_other.class_counts()["other"] == fx.TEST_PER_BREED
    assert len(with_other) == len(cats_only) + fx.TEST_PER_BREED


def test_head_crop_uses_the_annotated_box(root):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        head = load_dataset("oxford", "train", 32, root=root, crop="head", val_fraction=0.0)
        centre = load_dataset("oxford", "train", 32, root=root, crop="center", val_fraction=0.0)

    def redness(ds, index):
        img = ds.images[index].float()
        return float((img[0] - img[2]).mean())  # red minus blue: high on the head square

    directory = root / oxford.DIRNAME
    order = [e.name for e in oxford.split_entries(directory, "train", 0, 0.0)
             if e.species == oxford.CAT and e.name != fx.CORRUPT]  # the dataset's order
    assert len(order) == len(head)
    for i, name in enumerate(order):
        if name in fx.NO_XML:  # no annotation: falls back to the centre crop
            assert redness(head, i) == pytest.approx(redness(centre, i), abs=1.0)
        else:
            # the box is 59% of the square head crop (margin 1.3) but 14% of the centre crop
            assert redness(head, i) > 0 and redness(head, i) - redness(centre, i) > 100


def test_cache_is_reused_and_written_atomically(root):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = load_dataset("oxford", "test", 32, root=root)
    caches = list((root / oxford.DIRNAME / "cache").glob("*.npz"))
    assert len(caches) == 1 and not list(caches[0].parent.glob("*.tmp"))
    (root / oxford.DIRNAME / "images" / "Abyssinian_100.jpg").unlink()  # a rebuild would now skip it
    again = load_dataset("oxford", "test", 32, root=root)
    assert len(again) == len(first) and bool((again.images == first.images).all())


def test_download_flag_is_a_no_op_when_the_dataset_is_unpacked(root, monkeypatch):
    monkeypatch.setattr(oxford, "download_archives", lambda *a, **k: pytest.fail("tried to download"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert len(load_dataset("oxford", "test", 32, root=root, download=True)) == len(CATS) * fx.TEST_PER_BREED


def test_missing_dataset_says_how_to_download(tmp_path):
    with pytest.raises(FileNotFoundError, match="download=True"):
        load_dataset("oxford", "train", 32, root=tmp_path)


def test_bad_options_are_named(root):
    with pytest.raises(ValueError, match="crop.*center, head"):
        load_dataset("oxford", "train", 32, root=root, crop="face")
    with pytest.raises(ValueError, match="unknown option.*colour"):
        load_dataset("oxford", "train", 32, root=root, colour=True)
    (root / oxford.DIRNAME / "annotations" / "test.txt").write_text("Abyssinian_100 1 cat 1\n")
    with pytest.raises(ValueError, match="test.txt:1"):
        load_dataset("oxford", "test", 32, root=root)


# ---------------------------------------------------------------------------------------------- download


class _Response(io.BytesIO):
    def __init__(self, data: bytes, status: int):
        super().__init__(data)
        self.status = status


class RangeServer:
    """A fake opener that serves ``data`` and honours ``Range: bytes=N-`` like a real HTTP server."""

    def __init__(self, data: bytes):
        self.data, self.ranges = data, []

    def __call__(self, request):
        header = request.get_header("Range")
        self.ranges.append(header)
        if header:
            start = int(header.split("=")[1].rstrip("-"))
            return _Response(self.data[start:], 206)
        return _Response(self.data, 200)


def _resource(data: bytes, name="images.tar.gz"):
    return oxford.Resource(f"https://example.invalid/{name}", name, hashlib.md5(data).hexdigest())


def test_download_resumes_a_partial_file_and_verifies(tmp_path):
    data = np.random.default_rng(0).bytes(5000)
    (tmp_path / "images.tar.gz.part").write_bytes(data[:1234])
    server = RangeServer(data)
    path = oxford.download_file(_resource(data), tmp_path, opener=server, chunk=700)
    assert server.ranges == ["bytes=1234-"]
    assert path.read_bytes() == data and not (tmp_path / "images.tar.gz.part").exists()
    # verified once: a second call does not touch the network
    oxford.download_file(_resource(data), tmp_path, opener=lambda request: pytest.fail("downloaded again"))


def test_download_checksum_mismatch_leaves_nothing(tmp_path):
    data = b"x" * 1000
    bad = oxford.Resource("https://example.invalid/images.tar.gz", "images.tar.gz", "0" * 32)
    with pytest.raises(OSError, match="checksum mismatch"):
        oxford.download_file(bad, tmp_path, opener=RangeServer(data))
    assert list(tmp_path.iterdir()) == []


def test_download_from_file_urls_then_load(tmp_path):
    built = fx.build(tmp_path / "src")
    archives = fx.build_archives(built, tmp_path / "mirror")
    resources = [oxford.Resource(path.as_uri(), path.name, oxford.md5sum(path)) for path in archives.values()]
    directory = oxford.download_archives(tmp_path / "cache", resources=resources)
    assert (directory / "annotations" / "list.txt").is_file() and (directory / "images" / "Siamese_1.jpg").is_file()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = load_dataset("oxford", "test", 32, root=tmp_path / "cache")
    assert len(ds) == len(CATS) * fx.TEST_PER_BREED
