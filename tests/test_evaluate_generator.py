"""Generator evaluation: breed accuracy of samples, the sweep, FID refusal, sample sheet."""

import json

import numpy as np
import pytest
import torch

from cats.breeds import BREEDS, NUM_BREEDS
from cats.evaluation.cli import main
from cats.evaluation.fid import MIN_FID_SAMPLES, fid, frechet_distance
from cats.evaluation.generator import breed_accuracy


def test_breed_accuracy_counts_per_requested_breed():
    labels = torch.arange(NUM_BREEDS).repeat_interleave(2)  # 2 samples per breed
    probs = np.zeros((len(labels), 13))
    probs[np.arange(len(labels)), labels.numpy()] = 1.0
    probs[1] = 0
    probs[1, 12] = 1.0  # one Abyssinian sample judged "other"
    acc = breed_accuracy(probs, labels)
    assert acc["per_breed"][BREEDS[0]] == 0.5
    assert acc["per_breed"][BREEDS[5]] == 1.0
    assert acc["mean"] == pytest.approx(23 / 24)


def test_frechet_distance_is_zero_for_same_set_and_grows_with_shift():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(400, 8))
    b = rng.normal(size=(400, 8))
    assert abs(frechet_distance(a, a)) < 1e-6
    near, far = frechet_distance(a, b), frechet_distance(a, b + 3.0)
    assert near < 1.0 < far
    assert far == pytest.approx(near + 8 * 9.0, rel=0.05)  # mean term: 8 dims x 3^2


@pytest.mark.parametrize("n, m, d", [(300, 250, 16), (40, 30, 64), (70, 90, 64)])  # full rank, then N, M < D
def test_frechet_distance_equals_the_matrix_square_root_formula(n, m, d):
    """The singular-value route gives the textbook ||mu_a - mu_b||^2 + tr(C_a + C_b - 2 sqrtm(C_a C_b))."""
    import scipy.linalg

    rng = np.random.default_rng(d + n)
    a = rng.normal(size=(n, d)) @ rng.normal(size=(d, d))  # correlated features
    b = 1.3 * rng.normal(size=(m, d)) + 0.5
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    ref = ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(ca + cb - 2 * np.real(scipy.linalg.sqrtm(ca @ cb)))
    assert frechet_distance(a, b) == pytest.approx(ref, rel=1e-6)


def test_fid_refuses_small_sets():
    x = torch.zeros(MIN_FID_SAMPLES - 1, 3, 32, 32)
    result = fid(x, x)
    assert result["fid"] is None and "at least 500" in result["note"]


def test_generator_cli_quick_writes_metrics_and_sheet(tmp_path):
    from cats.models.classifier import CatClassifier
    from cats.pipeline import CatsPipeline

    CatsPipeline.from_preset("micro", classifier=CatClassifier(image_size=32)).save_pretrained(tmp_path / "pipe")
    out = tmp_path / "eval" / "gen.json"
    metrics = main(["generator", "--model", str(tmp_path / "pipe"), "--data", "synthcats", "--quick",
                    "--steps", "2", "--out", str(out), "--data-root", str(tmp_path / "cache"),
                    "--feature-cache", str(tmp_path / "features")])
    saved = json.loads(out.read_text())
    assert saved["default"]["breed_accuracy"]["num_samples"] == 24
    assert set(saved["default"]["breed_accuracy"]["per_breed"]) == set(BREEDS)
    quality = saved["quality"]
    assert "fid" not in quality and "precision" not in quality and "at least 500" in quality["note"]  # 24 samples
    assert quality["memorisation"]["num_fake"] == 24 and quality["memorisation"]["samples"]["q50"] > 0
    points = {(p["steps"], p["guidance"]) for p in saved["sweep"]}
    assert points == {(s, g) for s in (4, 8, 20, 50) for g in (1.0, 2.0, 4.0)}
    sheet = out.with_name("gen.sample_sheet.png")
    assert sheet.is_file() and metrics["sample_sheet"] == sheet.name
    from PIL import Image
    assert Image.open(sheet).size == (8 * 32, NUM_BREEDS * 32)


def test_generator_cli_without_classifier_says_how_to_fix(tmp_path):
    from cats.pipeline import CatsPipeline

    CatsPipeline.from_preset("micro").save_pretrained(tmp_path / "pipe")
    with pytest.raises(ValueError, match="needs a trained classifier"):
        main(["generator", "--model", str(tmp_path / "pipe"), "--data", "synthcats", "--quick",
              "--data-root", str(tmp_path / "cache")])


def test_a_guided_pipeline_is_judged_beside_classifier_free_guidance_alone(tmp_path):
    """The evaluation of a pipeline with a guide: the default (guided, in its interval) and CFG 3 at every step,
    from the same noise; figures that need 500 images are refused at this size, the breed accuracies are not."""
    from test_guidance import _guided

    from cats.evaluation.generator import evaluate_generator

    pipe = _guided()
    calls = []

    def spy(*args, **kwargs):
        calls.append({k: kwargs.get(k, "unset") for k in ("guidance_scale", "autoguidance_scale", "guidance_interval")})
        return pipe(*args, **kwargs)

    m = evaluate_generator(spy_pipe(pipe, spy), None, tmp_path / "m.json", num_samples=24, steps=2,
                           sweep_steps=(2,), sweep_guidance=(1.0,), sweep_per_breed=1)
    assert m["default"]["autoguidance"] == 2.0 and m["default"]["guidance_interval"] == [0.3, 0.8]
    assert m["cfg_only"]["guidance"] == 3.0 and m["cfg_only"]["breed_accuracy"]["num_samples"] == 24
    # the default keeps the pipeline's interval; the comparison is CFG 3 at every step, no guide
    assert calls[0] == {"guidance_scale": 2.0, "autoguidance_scale": 2.0, "guidance_interval": "unset"}
    assert {"guidance_scale": 3.0, "autoguidance_scale": 1.0, "guidance_interval": None} in calls


def spy_pipe(pipe, spy):
    """``pipe`` whose calls go through ``spy`` (evaluate_generator calls the pipeline object itself)."""
    class Spied:
        def __getattr__(self, name):
            return getattr(pipe, name)

        def __call__(self, *args, **kwargs):
            return spy(*args, **kwargs)

    return Spied()
