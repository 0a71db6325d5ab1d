"""The independent breed judge: a linear probe on Inception features, fitted on training images."""

import numpy as np
import pytest

from cats.breeds import BREEDS
from cats.evaluation.generator import independent_judge
from cats.evaluation.probe import LinearProbe, accuracy


def _clusters(per_class: int, seed: int, dim: int = 16, spread: float = 0.6):
    """Features (12 * per_class, dim) around one centre per breed (fixed centres), labels i % 12."""
    centres = np.random.default_rng(0).standard_normal((12, dim)) * 3
    labels = np.arange(12 * per_class) % 12
    noise = np.random.default_rng(seed).standard_normal((len(labels), dim)) * spread
    return centres[labels] + noise, labels


def test_the_probe_learns_separable_breeds_and_reports_each():
    x, y = _clusters(20, seed=1)
    probe = LinearProbe.fit(x, y)
    test_x, test_y = _clusters(10, seed=2)
    acc = accuracy(probe.predict(test_x), test_y)
    assert acc["mean"] > 0.97 and set(acc["per_breed"]) == set(BREEDS) and acc["num_samples"] == 120
    shuffled = accuracy(probe.predict(test_x), np.roll(test_y, 1))  # samples asked for another breed
    assert shuffled["mean"] < 0.1


@pytest.mark.parametrize("labels, message", [(np.arange(5), "one label per feature row"),
                                             (np.full(24, 12), "breed ids 0..11")])
def test_the_probe_refuses_bad_labels(labels, message):
    with pytest.raises(ValueError, match=message):
        LinearProbe.fit(np.zeros((24, 4)), labels)


def test_the_judge_fits_on_training_features_and_reports_the_held_out_accuracy():
    train_x, train_y = _clusters(30, seed=3)
    test_x, test_y = _clusters(10, seed=4)
    asked = test_y.copy()
    asked[:12] = (asked[:12] + 1) % 12  # 12 of 120 samples drew another breed than the one asked for
    judge = independent_judge(test_x, asked, test_x, test_y, train_x, train_y)
    assert judge["real_accuracy"] > 0.97 and judge["num_train"] == len(train_x)
    assert abs(judge["mean"] - judge["real_accuracy"] * 108 / 120) < 0.03
