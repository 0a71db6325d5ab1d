"""SynthCats: deterministic, balanced, breeds told apart by a simple colour statistic, cached."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cats.breeds import BREEDS, CLASSIFIER_LABELS, NUM_BREEDS, OTHER_ID
from cats.data import load_dataset, synthcats


def test_same_seed_split_index_gives_identical_bytes():
    a = synthcats.draw(4, 32, seed=3, split="train", index=17)
    b = synthcats.draw(4, 32, seed=3, split="train", index=17)
    assert a.dtype == np.uint8 and a.shape == (32, 32, 3)
    assert a.tobytes() == b.tobytes()
    for other in (synthcats.draw(4, 32, seed=3, split="train", index=18),
                  synthcats.draw(4, 32, seed=4, split="train", index=17),
                  synthcats.draw(4, 32, seed=3, split="test", index=17)):
        assert np.abs(a.astype(int) - other.astype(int)).mean() > 5  # not just a pixel or two apart


def test_labels_cover_every_breed_and_other_is_opt_in(tmp_path):
    ds = load_dataset("synthcats", "val", 32, root=tmp_path, num_per_class=3)
    assert ds.class_names == BREEDS
    assert ds.class_counts() == {name: 3 for name in BREEDS}  # balanced: no breed collapsed onto another
    assert ds.images.dtype == torch.uint8 and ds.images.shape == (36, 3, 32, 32)
    assert ds.labels.dtype == torch.int64
    image, label = ds[5]
    assert image.dtype == torch.float32 and -1.0 <= float(image.min()) < float(image.max()) <= 1.0
    assert label == int(ds.labels[5]) and torch.equal(image, ds.images[5].float() / 127.5 - 1)
    # the picture of index i is the breed its label says (drawn from that breed's look)
    assert np.array_equal(ds.images[7].numpy().transpose(1, 2, 0), synthcats.draw(int(ds.labels[7]), 32, 0, "val", 7))

    with_other = load_dataset("synthcats", "val", 32, root=tmp_path, num_per_class=3, include_other=True, num_other=5)
    assert with_other.class_names == CLASSIFIER_LABELS
    assert with_other.class_counts()["other"] == 5 and len(with_other) == 41
    assert torch.equal(with_other.images[:36], ds.images)  # the cats do not change when others are added


def test_smaller_split_is_a_prefix_and_splits_share_no_picture(tmp_path):
    small = load_dataset("synthcats", "train", 32, root=tmp_path, num_per_class=2)
    large = load_dataset("synthcats", "train", 32, root=tmp_path, num_per_class=3)
    assert torch.equal(large.images[:24], small.images) and torch.equal(large.labels[:24], small.labels)
    test = load_dataset("synthcats", "test", 32, root=tmp_path, num_per_class=3)
    train_bytes = {img.numpy().tobytes() for img in large.images}
    assert not any(img.numpy().tobytes() in train_bytes for img in test.images)


def _colour_histograms(images: np.ndarray, bins: int = 8) -> np.ndarray:
    """sqrt of the normalised 8x8x8 RGB histogram of the central half of each picture: (N, 512)."""
    side = images.shape[-1]
    centre = images[:, :, side // 4: side - side // 4, side // 4: side - side // 4].astype(np.int64)
    q = centre * bins // 256
    codes = ((q[:, 0] * bins + q[:, 1]) * bins + q[:, 2]).reshape(len(images), -1)
    hist = np.stack([np.bincount(c, minlength=bins ** 3) for c in codes]).astype(np.float64)
    return np.sqrt(hist / hist.sum(1, keepdims=True))


def test_every_breed_is_recognised_by_a_simple_colour_statistic():
    """Nearest class-centroid on colour histograms, fitted on train draws, scored on held-out test draws."""
    train_x, train_y = synthcats.draw_split("train", 32, num_per_class=20)
    test_x, test_y = synthcats.draw_split("test", 32, num_per_class=20)
    fit, held = _colour_histograms(train_x), _colour_histograms(test_x)
    centroids = np.stack([fit[train_y == b].mean(0) for b in range(NUM_BREEDS)])  # (12, 512)
    pred = ((held[:, None] - centroids[None]) ** 2).sum(-1).argmin(1)
    recall = np.array([(pred[test_y == b] == b).mean() for b in range(NUM_BREEDS)])
    assert (pred == test_y).mean() >= 0.75  # chance is 1/12
    assert recall.min() >= 0.5, dict(zip(BREEDS, recall.round(2)))  # no breed lost among the others


def test_parallel_drawing_gives_the_same_pictures():
    serial = synthcats.draw_split("val", 32, num_per_class=2, num_other=4, seed=1, workers=1, chunk=10)
    parallel = synthcats.draw_split("val", 32, num_per_class=2, num_other=4, seed=1, workers=2, chunk=10)
    assert np.array_equal(serial[0], parallel[0]) and np.array_equal(serial[1], parallel[1])
    assert serial[1].tolist().count(OTHER_ID) == 4


def test_cache_is_read_back_and_a_corrupt_cache_is_rebuilt(tmp_path, monkeypatch):
    first = load_dataset("synthcats", "test", 32, root=tmp_path, num_per_class=1)
    files = list((tmp_path / "synthcats").iterdir())
    assert len(files) == 1 and files[0].suffix == ".npz"  # one file, no temporary left behind
    monkeypatch.setattr(synthcats, "draw_split", lambda *a, **k: pytest.fail("drew again despite the cache"))
    assert torch.equal(load_dataset("synthcats", "test", 32, root=tmp_path, num_per_class=1).images, first.images)
    monkeypatch.undo()
    files[0].write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="unreadable cache"):
        rebuilt = load_dataset("synthcats", "test", 32, root=tmp_path, num_per_class=1)
    assert torch.equal(rebuilt.images, first.images)


@pytest.mark.parametrize("size", [33, 256])
def test_any_side_from_32_to_256(size):
    img = synthcats.draw(10, size, index=1)
    assert img.shape == (size, size, 3) and img.std() > 10


@pytest.mark.parametrize("kwargs, match", [
    (dict(source="synthcat"), r"unknown source 'synthcat'.*synthcats, oxford, folder:PATH"),
    (dict(split="valid"), r"unknown split 'valid'.*train, val, test"),
    (dict(image_size=300), r"SynthCats draws sides from 32 to 256 px, got image_size=300"),
    (dict(image_size=20), r"SynthCats draws sides from 32 to 256"),
    (dict(image_size=64.0), r"image_size must be an int"),
    (dict(num_per_class=0), r"num_per_class must be a positive int, got 0"),
    (dict(colour="red"), r"unknown option.*'colour'.*accepted options are.*num_per_class"),
])
def test_bad_arguments_name_the_accepted_values(tmp_path, kwargs, match):
    args = dict(source="synthcats", split="val", image_size=32, root=tmp_path, num_per_class=1) | kwargs
    with pytest.raises(ValueError, match=match):
        load_dataset(**args)


def test_benchmark_quick_reports_its_figures():
    from cats.benchmarks import synthcats as bench

    result = bench.run(quick=True)
    first = result["rows"][0]
    assert first["size"] == 64 and first["images"] == 120
    assert first["images_per_s"] > 0 and first["images_per_cpu_s"] > 0
    assert isinstance(result["meets_target_64px"], bool)
