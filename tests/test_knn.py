"""k-NN precision/recall and the memorisation check (cats.evaluation.knn) on sets whose answers are known."""

import numpy as np
import pytest
import torch

from cats.evaluation.knn import memorisation, nearest_distances, precision_recall


def _blobs(n, centres, rng, spread=0.1):
    centres = np.asarray(centres, dtype=np.float64)
    picks = rng.integers(0, len(centres), n)
    return centres[picks] + spread * rng.standard_normal((n, centres.shape[1]))


def test_same_distribution_has_high_precision_and_recall():
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((4, 8)) * 5
    pr = precision_recall(_blobs(400, centres, rng), _blobs(400, centres, rng))
    assert pr["precision"] > 0.75 and pr["recall"] > 0.75  # k=3 balls miss some tail points even then


def test_far_samples_have_zero_precision():
    rng = np.random.default_rng(1)
    real = rng.standard_normal((200, 8))
    pr = precision_recall(real, rng.standard_normal((200, 8)) + 50.0)
    assert pr["precision"] == 0.0 and pr["recall"] == 0.0


def test_mode_collapse_keeps_precision_and_loses_recall():
    rng = np.random.default_rng(2)
    centres = rng.standard_normal((4, 8)) * 10
    real = _blobs(400, centres, rng)
    collapsed = _blobs(400, centres[:1], rng)  # every sample from one of the four modes
    pr = precision_recall(real, collapsed)
    assert pr["precision"] > 0.7
    assert pr["recall"] < 0.4


def test_precision_recall_refuses_tiny_sets():
    with pytest.raises(ValueError, match="needs more than 3 points"):
        precision_recall(np.zeros((3, 2)), np.zeros((10, 2)))


def test_memorisation_flags_copies_and_mirrors_but_not_new_images():
    gen = torch.Generator().manual_seed(0)
    train = torch.randint(0, 256, (64, 3, 8, 8), generator=gen, dtype=torch.uint8)
    test = torch.randint(0, 256, (32, 3, 8, 8), generator=gen, dtype=torch.uint8)
    copies = torch.cat([train[:16], train[16:32].flip(-1)]).float() / 127.5 - 1  # in [-1, 1]
    m_copy = memorisation(copies, test, train)
    assert m_copy["samples"]["q50"] < 1e-3 and m_copy["share_closer_than_any_test"] == 1.0
    fresh = torch.randint(0, 256, (32, 3, 8, 8), generator=gen, dtype=torch.uint8).float() / 127.5 - 1
    m_fresh = memorisation(fresh, test, train)
    assert 0.7 < m_fresh["ratio_q05"] < 1.4 and m_fresh["share_closer_than_any_test"] < 0.5


def test_nearest_distance_is_rms_in_unit_range():
    a = torch.zeros(1, 3, 4, 4, dtype=torch.uint8)
    b = torch.full((1, 3, 4, 4), 255, dtype=torch.uint8)
    assert nearest_distances(a, b) == pytest.approx([1.0])
