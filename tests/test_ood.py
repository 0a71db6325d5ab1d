"""Familiarity (out-of-distribution) score: fitting, storage, the "unfamiliar" verdict, and the bundled weights."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from cats.classify import SYNTHCATS_NOTE, UNFAMILIAR, UNSURE, results_from_logits, verdict_reason
from cats.models.classifier import CatClassifier
from cats.ood import OOD_FILE, OodStats, fit, threshold_at, transform


def _toy(seed=0, n=300, dim=5):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3
    feats = np.abs(rng.normal(1.0, 0.4, (n, dim)) + 2.0 * np.eye(3, dim)[labels])
    return feats, labels, np.abs(rng.normal(1.0, 0.4, (100, dim)) + 2.0 * np.eye(3, dim)[np.arange(100) % 3])


def test_score_is_the_mahalanobis_distance_to_the_nearest_class_with_the_shrunk_shared_covariance():
    feats, labels, val = _toy()
    stats = fit(feats, labels, val, layer="x", shrinkage=0.1)
    t = transform(feats)
    means = np.stack([t[labels == c].mean(0) for c in range(3)])
    cov = np.cov((t - means[labels]).T, bias=True)
    cov += 0.1 * np.trace(cov) / cov.shape[0] * np.eye(cov.shape[0])
    inv = np.linalg.inv(cov)
    probe = np.abs(np.random.default_rng(1).normal(2, 1, (7, feats.shape[1])))
    d = transform(probe)[:, None] - means[None]
    want = np.einsum("nkd,de,nke->nk", d, inv, d).min(1)
    np.testing.assert_allclose(stats.score(probe), want, rtol=1e-5)


def test_threshold_lets_the_asked_share_of_validation_through():
    feats, labels, val = _toy()
    for tpr in (0.95, 0.8):
        stats = fit(feats, labels, val, layer="x", tpr=tpr)
        assert np.mean(stats.score(val) <= stats.threshold) == pytest.approx(tpr, abs=1e-9)
        assert stats.info["val_pass_rate"] == pytest.approx(tpr, abs=1e-9)
    assert threshold_at([3.0, 1.0, 2.0, 4.0], 0.5) == 2.0
    with pytest.raises(ValueError, match="tpr must be in"):
        threshold_at([1.0], 1.5)


def test_unfamiliar_comes_before_unsure_and_other_and_says_why():
    feats, labels, val = _toy()
    stats = fit(feats, labels, val, layer="x")
    far = np.full((1, feats.shape[1]), 50.0)
    flat, other = np.zeros((1, 13)), np.eye(13)[[12]] * 9
    assert results_from_logits(flat, 1.0, 0.5, features=feats[:1], ood=stats)[0].verdict == UNSURE
    for logits in (flat, other, np.eye(13)[[3]] * 9):
        r = results_from_logits(logits, 1.0, 0.5, features=far, ood=stats)[0]
        assert r.verdict == UNFAMILIAR and r.display_verdict == "unfamiliar picture"
        assert r.ood_score > stats.threshold == r.ood_threshold
    assert verdict_reason(r).startswith("This picture is unlike anything these weights were trained on")
    assert SYNTHCATS_NOTE not in verdict_reason(r, "Oxford-IIIT Pet")
    assert verdict_reason(r, "SynthCats: drawings").endswith(SYNTHCATS_NOTE)
    with pytest.raises(ValueError, match="no features"):
        results_from_logits(flat, ood=stats)
    with pytest.raises(ValueError, match=r"features must have shape \(batch, 5\)"):
        results_from_logits(flat, features=np.ones((1, 4)), ood=stats)


def test_features_come_with_the_same_logits_as_forward():
    model = CatClassifier(image_size=32).eval()
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        logits, feats = model.forward_with_features(x)
        assert torch.equal(logits, model(x))
    assert feats.shape == (3, 208) and model.ood_layer == "trunk_output.block3"
    with pytest.raises(ValueError, match="ood_layer 'nope' is not a stage of regnet_y_400mf"):
        CatClassifier(ood_layer="nope")


def test_statistics_are_saved_with_the_classifier_and_refused_when_they_do_not_match(tmp_path):
    model = CatClassifier(image_size=32).eval()
    feats, labels, val = _toy(dim=208)
    stats = fit(feats, labels, val, layer=model.ood_layer)
    model.set_ood(stats)
    model.save_pretrained(tmp_path)
    loaded = CatClassifier.from_pretrained(tmp_path)
    assert loaded.config.ood_threshold == stats.threshold
    np.testing.assert_array_equal(loaded.ood.score(val), stats.score(val))
    back = OodStats.from_manifest(stats.to_manifest())  # the export manifest carries the same arrays
    np.testing.assert_array_equal(back.score(val), stats.score(val))
    (tmp_path / OOD_FILE).unlink()
    with pytest.raises(FileNotFoundError, match="python -m cats.evaluation.ood fit"):
        CatClassifier.from_pretrained(tmp_path)
    model.set_ood(None)
    model.save_pretrained(tmp_path)
    assert not (tmp_path / OOD_FILE).exists() and CatClassifier.from_pretrained(tmp_path).ood is None


def test_numpy_part_imports_without_torch():
    code = ("import sys; sys.modules['torch'] = None; import cats.ood, cats.classify, cats.onnx; "
            "print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


@pytest.fixture(scope="module")
def bundled():
    from cats.pipeline import CatsPipeline

    pipe = CatsPipeline.from_pretrained("synthcats")
    pipe.set_progress_bar_config(disable=True)
    return pipe


def test_bundled_weights_call_real_photos_unfamiliar_and_synthcats_familiar(bundled):
    pytest.importorskip("skimage", reason="the photo probes need scikit-image (requirements-dev.txt)")
    from cats.data import load_dataset
    from cats.ood.probes import non_pictures, real_photos

    photos = real_photos()
    assert len(photos) >= 8
    verdicts = [r.verdict for r in bundled.classify(list(photos.values()))]
    assert np.mean([v == UNFAMILIAR for v in verdicts]) >= 0.9, dict(zip(photos, verdicts))
    assert all(r.verdict == UNFAMILIAR for r in bundled.classify(list(non_pictures().values())))

    ds = load_dataset("synthcats", split="test", image_size=64, include_other=True)
    images = [img.permute(1, 2, 0).numpy() for img in ds.images]
    results = bundled.classify(images)
    familiar = np.array([r.verdict != UNFAMILIAR for r in results])
    assert familiar.mean() >= 0.95
    labels = np.asarray(ds.labels)
    pred = np.array([bundled.classifier.config.num_classes and
                     max(r.probabilities, key=r.probabilities.get) for r in results])
    from cats.breeds import CLASSIFIER_LABELS

    right = pred == np.array(CLASSIFIER_LABELS)[labels]
    assert right[familiar].mean() >= right.mean()  # top-1 on the accepted images does not drop
