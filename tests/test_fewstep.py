"""The few-step generator: teacher pairs, the reflow task, the student's sampler and the comparison's quick run."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from cats.schedule import few_step_sigmas
from cats.training.fewstep_task import train_sigmas

pytestmark = pytest.mark.timeout(600)


def _random_teacher(path):
    """A micro pipeline with small random weights (an untrained one draws the same grey for every input), saved."""
    from cats.benchmarks.fewstep import random_micro_pipeline

    pipe = random_micro_pipeline()
    pipe.save_pretrained(str(path))
    return pipe


def _pairs(argv):
    from cats.training import pairs

    return pairs.main(argv)


def test_few_step_schedule_is_equal_steps_from_one_to_zero():
    assert few_step_sigmas(1) == [1.0, 0.0]
    assert few_step_sigmas(2) == [1.0, 0.5, 0.0]
    assert few_step_sigmas(4) == [1.0, 0.75, 0.5, 0.25, 0.0]
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="positive integer"):
            few_step_sigmas(bad)


def test_training_sigmas_follow_the_chosen_variant():
    gen = torch.Generator().manual_seed(0)
    assert torch.equal(train_sigmas(64, "one", gen), torch.ones(64))
    uniform = train_sigmas(4000, "uniform", gen)
    assert 0 <= float(uniform.min()) and float(uniform.max()) < 1 and abs(float(uniform.mean()) - 0.5) < 0.03
    mix = train_sigmas(4000, "mix", gen)
    at_one = float((mix == 1).float().mean())
    at_points = float(sum((mix == p).float().mean() for p in (0.25, 0.5, 0.75)))
    assert abs(at_one - 0.4) < 0.03 and abs(at_points - 0.3) < 0.03


def test_an_exact_straight_line_lands_on_the_image_at_any_step_count():
    """A student that knows v = z - x0 exactly (what reflow learns) gives x0 in 1, 2 and 4 Euler steps
    over the few-step schedule, through the sampling core the pipelines share."""
    from cats.sampling import run_sampler

    x0 = torch.rand(2, 3, 8, 8) * 2 - 1
    z = torch.randn(2, 3, 8, 8)

    def step(x, sigma, sigma_next):  # the exact velocity of the line through x towards x0
        v = (x - x0) / sigma  # x = (1 - s) x0 + s z  ->  (x - x0) / s = z - x0
        return x + (sigma_next - sigma) * v, x0

    for steps in (1, 2, 4):
        assert torch.allclose(run_sampler(step, z, few_step_sigmas(steps)), x0, atol=1e-5)


def test_pairs_are_the_teachers_images_resumable_and_refuse_other_settings(tmp_path):
    from cats.breeds import breed_weights
    from cats.training.pairs import load_pairs

    pipe = _random_teacher(tmp_path / "teacher")
    common = ["--teacher", str(tmp_path / "teacher"), "--steps", "2", "--threads", "1", "--no-bf16"]
    _pairs([*common, "--out", str(tmp_path / "a"), "--count", "128"])
    _pairs([*common, "--out", str(tmp_path / "a"), "--count", "256"])  # adds the second chunk only
    _pairs([*common, "--out", str(tmp_path / "b"), "--count", "256"])  # the same in one go
    a, b = load_pairs(tmp_path / "a"), load_pairs(tmp_path / "b")
    assert len(a["noise"]) == 256 and all(np.array_equal(a[k], b[k]) for k in a)
    w = a["weights"]
    assert np.allclose(w.sum(1), 1) and w[:, 12].max() == 0  # every row a breed or a blend, never the null slot
    blends = (w > 0).sum(1) == 2
    assert 0.1 < blends.mean() < 0.45  # the default 25% two-breed blends
    # a pair is the teacher's own sampler from that noise and conditioning
    i = int(np.flatnonzero(blends)[0])
    entry = {int(j): float(w[i, j]) for j in np.flatnonzero(w[i])}
    assert np.allclose(breed_weights(entry), w[i:i + 1])
    image = pipe(breed=[entry], latents=a["noise"][i:i + 1], num_inference_steps=2, output_type="pt").images
    assert np.allclose(image.numpy() * 2 - 1, a["image"][i:i + 1], atol=1e-5)
    with pytest.raises(ValueError, match="other settings"):
        _pairs([*common[:-1], "--out", str(tmp_path / "a"), "--count", "384", "--blend-share", "0.5", "--no-bf16"])


def test_reflow_brings_the_student_closer_to_the_teacher(tmp_path):
    from cats.training.cli import main as train_main

    _random_teacher(tmp_path / "teacher")
    _pairs(["--teacher", str(tmp_path / "teacher"), "--out", str(tmp_path / "pairs"), "--count", "384",
            "--steps", "2", "--threads", "1", "--no-bf16"])
    out = tmp_path / "run"
    train_main(["fewstep", "--teacher", str(tmp_path / "teacher"), "--pairs", str(tmp_path / "pairs"),
                "--out", str(out), "--steps", "60", "--batch-size", "16", "--lr", "2e-3", "--warmup", "5",
                "--ema-decay", "0", "--eval-every", "0", "--checkpoint-every", "0", "--threads", "1",
                "--mixed-precision", "no"])
    metrics = json.loads((out / "metrics.json").read_text())

    from cats.models.dit import CatDiT
    from cats.training.pairs import load_pairs

    student = CatDiT.from_pretrained(str(out / "fast_transformer")).eval()
    teacher = CatDiT.from_pretrained(str(tmp_path / "teacher" / "transformer")).eval()
    val = {k: torch.from_numpy(v[-256:]) for k, v in load_pairs(tmp_path / "pairs").items()}

    from cats.pipeline import CatsPipeline

    teacher_pipe = CatsPipeline.from_pretrained(str(tmp_path / "teacher"))
    entries = [{int(j): float(row[j]) for j in torch.nonzero(row).flatten()} for row in val["weights"]]

    def mse(model):
        pipe = CatsPipeline(transformer=teacher_pipe.transformer, scheduler=teacher_pipe.scheduler, fast_transformer=model)
        x = pipe(breed=entries, latents=val["noise"], num_inference_steps=1, mode="fast", output_type="pt",
                 progress=False).images * 2 - 1
        return float(((x - val["image"]) ** 2).mean())

    assert metrics["mse_1step"] == pytest.approx(mse(student), rel=1e-3)  # the saved student is the validated one
    assert mse(student) < 0.7 * mse(teacher)  # one step of the student is closer to 2 steps of the teacher
    assert json.loads((out / "fewstep.json").read_text())["pair_count"] == 384


def test_fewstep_task_refuses_missing_inputs(tmp_path):
    from cats.training.cli import main as train_main

    with pytest.raises(ValueError, match="--teacher PIPELINE"):
        train_main(["fewstep", "--out", str(tmp_path / "x"), "--steps", "1"])
    from cats.training.config import TrainConfig, resolve

    with pytest.raises(ValueError, match="fewstep task"):  # e.g. from a --config file of a generator run
        resolve(TrainConfig(task="generator", preset="micro", pairs=str(tmp_path)))


def test_quick_comparison_trains_each_variant_and_writes_the_table(tmp_path):
    from cats.benchmarks import fewstep

    fewstep.main(["--quick", "--out", str(tmp_path)])
    report = json.loads((tmp_path / "fewstep.json").read_text())
    models = [(r["model"], r["steps"]) for r in report["rows"]]
    assert models == [("teacher", 2)] + [(f"student ({v})", n) for v in ("mix", "uniform", "one") for n in (1, 2)]
    for r in report["rows"]:
        assert 0.0 <= r["accuracy"] <= 1.0 and np.isfinite(r["mse_to_teacher"]) and r["mse_to_teacher"] > 0
    assert "| student (one) |" in (tmp_path / "fewstep.md").read_text()


def test_fast_mode_of_the_pipeline(tmp_path):
    """mode="fast" runs the student over the few-step schedule, refuses what it cannot honour, and round-trips."""
    from cats.models.dit import CatDiT
    from cats.pipeline import CatsPipeline

    teacher = _random_teacher(tmp_path / "teacher")
    assert CatsPipeline.from_pretrained(str(tmp_path / "teacher")).fast_transformer is None
    with pytest.raises(ValueError, match="no few-step generator"):
        teacher(mode="fast", progress=False)
    student = CatDiT.from_config(teacher.transformer.config)
    student.load_state_dict(teacher.transformer.state_dict())
    with torch.no_grad():
        for p in student.parameters():
            p.add_(0.01 * torch.randn(p.shape, generator=torch.Generator().manual_seed(1)))
    pipe = CatsPipeline(transformer=teacher.transformer, scheduler=teacher.scheduler, fast_transformer=student,
                        fast_guidance_scale=3.0)
    seen = []
    out = pipe(breed="Bengal", mode="fast", seed=1, output_type="np", progress=False,
               callback_on_step_end=lambda p, i, sigma, t: seen.append(sigma))
    assert seen == [1.0, 0.5]  # the default two steps of the few-step schedule
    one = pipe(breed="Bengal", mode="fast", num_inference_steps=1, seed=1, output_type="pt", progress=False).images
    z = torch.from_numpy(__import__("cats.noise", fromlist=["gaussian_noise"]).gaussian_noise((1, 3, 32, 32), 1))
    with torch.no_grad():  # one step of an x-predicting student from sigma 1 is its prediction itself
        x0 = student(z, torch.full((1,), 1000.0), pipe.class_weights("Bengal"))
    assert torch.allclose(one * 2 - 1, x0.clamp(-1, 1), atol=1e-5)
    for bad, match in ((dict(guidance_scale=3.0), "baked"), (dict(sampler="heun"), "euler"),
                       (dict(mode="turbo"), "mode must be one of")):
        with pytest.raises(ValueError, match=match):
            pipe(**{"mode": "fast", **bad}, progress=False)
    pipe.save_pretrained(tmp_path / "saved")
    again = CatsPipeline.from_pretrained(str(tmp_path / "saved"))
    assert again.config.fast_guidance_scale == 3.0 and again.config.fast_default_steps == 2
    assert np.allclose(again(breed="Bengal", mode="fast", seed=1, output_type="np", progress=False).images,
                       out.images, atol=1e-5)
