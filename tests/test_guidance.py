"""Autoguidance: the formula, the torch step, the pipeline component, its export, and the guidance benchmark.

A guided micro pipeline (the export test's micro generator, guided by a second micro network) is saved,
loaded and exported once here; tests/test_export.py and tests/test_pipeline_contract.py keep the
pipeline without a guide, which must go on sampling with classifier-free guidance alone.
"""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from test_export import make_test_pipeline

from cats import convention
from cats.benchmarks.guidance import Setting, parse_setting
from cats.export import export_pipeline
from cats.export.exporter import check_export
from cats.export.golden import replay_golden
from cats.flow import model_velocity, sampling_step
from cats.models.dit import CatDiT, get_preset
from cats.onnx import OnnxCatsPipeline
from cats.onnx.manifest import read_golden, read_manifest
from cats.paths import ROOT
from cats.pipeline import CatsPipeline

STEPS = 4


def _guide(seed=1) -> CatDiT:
    """A micro CatDiT with random weights away from the zero init (so its velocity depends on them)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        guide = CatDiT(**get_preset("micro")).eval()
        with torch.no_grad():
            for p in guide.parameters():
                p.add_(0.02 * torch.randn_like(p))
    return guide


INTERVAL = [0.3, 0.8]  # the guided test pipeline guides only at steps starting at these sigmas


def _guided(pipe=None, scale=2.0) -> CatsPipeline:
    pipe = pipe or make_test_pipeline()
    guided = CatsPipeline(transformer=pipe.transformer, scheduler=pipe.scheduler, classifier=pipe.classifier,
                          guide_transformer=_guide(), default_autoguidance_scale=scale, default_guidance_scale=2.0,
                          default_guidance_interval=INTERVAL)
    guided.set_progress_bar_config(disable=True)
    return guided


@pytest.fixture(scope="module")
def guided_export(tmp_path_factory):
    """(loaded guided pipeline, its export dir): saved, loaded back, exported fp32 + fp16."""
    root = tmp_path_factory.mktemp("guided")
    _guided().save_pretrained(root / "pipe")
    pipe = CatsPipeline.from_pretrained(root / "pipe")
    pipe.set_progress_bar_config(disable=True)
    export_pipeline(pipe, root / "onnx", ("fp32", "fp16"), name="micro-guided")
    return pipe, root / "onnx"


def test_the_formula_is_cfg_at_scale_one_and_autoguidance_alone_without_cfg():
    rng = np.random.default_rng(0)
    v_cond, v_null, v_guide = (rng.standard_normal(8) for _ in range(3))
    cfg = convention.guide(v_cond, v_null, 3.0)
    np.testing.assert_allclose(convention.guide(v_cond, v_null, 3.0, v_guide, 1.0), cfg)
    np.testing.assert_allclose(convention.guide(v_cond, v_null, 1.0, v_guide, 2.5),
                               v_guide + 2.5 * (v_cond - v_guide))
    both = v_cond + 1.0 * (v_cond - v_null) + 1.5 * (v_cond - v_guide)
    np.testing.assert_allclose(convention.guide(v_cond, v_null, 2.0, v_guide, 2.5), both)


def test_the_torch_step_guides_once_and_only_inside_the_interval():
    pipe, guide = make_test_pipeline(), _guide()
    model, pt = pipe.transformer, pipe.transformer.config.prediction_type
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    w = torch.eye(13)[[1, 10]]
    s = torch.full((2,), 0.5)
    with torch.no_grad():
        v_c, v_n = model_velocity(model, x, s, w, pt), model_velocity(model, x, s, torch.eye(13)[[12, 12]], pt)
        v_g = model_velocity(guide, x, s, w, guide.config.prediction_type)
        want = x + (0.25 - 0.5) * convention.guide(v_c, v_n, 2.0, v_g, 3.0)
        got, _ = sampling_step(model, w, 2.0, pt, guide=guide, autoguidance_scale=3.0)(x, 0.5, 0.25)
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
        alone = x + (0.25 - 0.5) * convention.guide(v_c, v_c, 1.0, v_g, 3.0)
        got, _ = sampling_step(model, w, 1.0, pt, guide=guide, autoguidance_scale=3.0)(x, 0.5, 0.25)
        torch.testing.assert_close(got, alone, rtol=1e-5, atol=1e-5)
        outside, _ = sampling_step(model, w, 2.0, pt, guide=guide, autoguidance_scale=3.0,
                                   interval=(0.6, 0.9))(x, 0.5, 0.25)
        torch.testing.assert_close(outside, x + (0.25 - 0.5) * v_c, rtol=1e-5, atol=1e-5)


def test_a_guided_pipeline_round_trips_and_scale_one_is_the_unguided_pipeline(guided_export, tmp_path):
    pipe, _ = guided_export
    assert pipe.guide_transformer is not None and pipe.config.default_autoguidance_scale == 2.0
    plain = CatsPipeline(transformer=pipe.transformer, scheduler=pipe.scheduler, default_guidance_scale=2.0,
                         default_guidance_interval=INTERVAL)
    plain.set_progress_bar_config(disable=True)
    kw = dict(seed=5, num_inference_steps=STEPS, output_type="np")
    default, off = pipe("Bengal", **kw).images, pipe("Bengal", autoguidance_scale=1, **kw).images
    assert np.array_equal(off, plain("Bengal", **kw).images)  # the guide is out of the sum, not just small
    assert np.abs(default - off).max() > 1e-3  # and in it by default
    assert np.array_equal(default, pipe("Bengal", autoguidance_scale=2.0, **kw).images)
    pipe.save_pretrained(tmp_path / "again")
    index = json.loads((tmp_path / "again" / "model_index.json").read_text())
    assert index["guide_transformer"] == ["cats.models.dit", "CatDiT"] and index["default_autoguidance_scale"] == 2.0
    assert index["default_guidance_interval"] == INTERVAL


def test_guidance_applies_only_at_steps_inside_the_interval(guided_export):
    pipe, _ = guided_export
    seen = []
    step = pipe.step

    def spy(weights, call):  # the runtime's step, recording what each step was asked to apply
        inner = step(weights, call)

        def run(x, sigma, sigma_next):
            from cats.sampling import guidance_at

            seen.append((sigma, guidance_at(call, sigma)))
            return inner(x, sigma, sigma_next)

        return run

    pipe.step = spy
    try:
        kw = dict(seed=3, num_inference_steps=8, output_type="np")
        default = pipe("Bombay", **kw).images
        everywhere = pipe("Bombay", guidance_interval=None, **kw).images
    finally:
        del pipe.step
    inside = [(s, g) for s, g in seen[:8] if INTERVAL[0] <= s <= INTERVAL[1]]
    outside = [(s, g) for s, g in seen[:8] if not INTERVAL[0] <= s <= INTERVAL[1]]
    assert inside and outside
    assert all(g == (2.0, 2.0) for _, g in inside) and all(g == (1.0, None) for _, g in outside)
    assert all(g == (2.0, 2.0) for _, g in seen[8:])  # guidance_interval=None: every step
    assert np.abs(default - everywhere).max() > 1e-3


@pytest.mark.parametrize("interval", [(0.8, 0.3), (0.0, 1.5), ("a", 1), (0.5,), float("nan"), "01"])
def test_a_bad_guidance_interval_is_refused_by_name(guided_export, interval):
    pipe, _ = guided_export
    with pytest.raises(ValueError, match="guidance_interval must"):
        pipe("Siamese", num_inference_steps=2, guidance_interval=interval)


@pytest.mark.parametrize("kwargs, message", [
    (dict(autoguidance_scale=0.5), "autoguidance_scale must be a finite number >= 1"),
    (dict(autoguidance_scale=float("nan")), "autoguidance_scale must be a finite number >= 1"),
    (dict(autoguidance_scale=True), "autoguidance_scale must be a finite number >= 1"),
])
def test_a_bad_autoguidance_scale_is_refused_by_name(guided_export, kwargs, message):
    pipe, out = guided_export
    for runtime in (pipe, OnnxCatsPipeline.from_dir(out, "fp32", threads=1)):
        with pytest.raises(ValueError, match=message):
            runtime("Siamese", num_inference_steps=2, **kwargs)


def test_a_pipeline_without_a_guide_refuses_autoguidance_and_keeps_cfg():
    pipe = make_test_pipeline()
    pipe.set_progress_bar_config(disable=True)
    assert pipe.config.default_autoguidance_scale is None
    with pytest.raises(ValueError, match="needs a guide network, and these weights have none"):
        pipe("Siamese", num_inference_steps=2, autoguidance_scale=2.0)
    one = pipe("Siamese", num_inference_steps=2, autoguidance_scale=1.0, seed=0, output_type="np").images
    assert np.array_equal(one, pipe("Siamese", num_inference_steps=2, seed=0, output_type="np").images)


def test_the_guide_must_draw_the_transformers_images():
    pipe = make_test_pipeline()
    other = CatDiT(**{**get_preset("micro"), "sample_size": 64})
    with pytest.raises(ValueError, match="the guide must draw the transformer's images; its sample_size differ"):
        CatsPipeline(transformer=pipe.transformer, scheduler=pipe.scheduler, guide_transformer=other)


def test_the_export_holds_the_guide_and_every_runtime_draws_the_same_cat(guided_export):
    pipe, out = guided_export
    manifest = read_manifest(out)
    gen = manifest["generator"]
    assert [i["name"] for i in gen["inputs"]][-1] == "autoguidance_scale"
    assert gen["defaults"]["autoguidance_scale"] == 2.0 and gen["guide"]["parameters"] == sum(
        p.numel() for p in pipe.guide_transformer.parameters())
    assert check_export(pipe, out) == []
    golden = read_golden(out, manifest)
    assert golden["autoguidance_scale"] == 2.0 and golden["guidance_interval"] == INTERVAL
    assert gen["defaults"]["guidance_interval"] == INTERVAL
    from cats.export.parity import session

    assert replay_golden(golden, session(str(out / gen["variants"]["fp32"]["file"]))) == []
    onnx = OnnxCatsPipeline.from_dir(out, "fp32", threads=1)
    kw = dict(seed=11, num_inference_steps=STEPS, output_type="np")
    for scale, interval in ((None, "default"), (1.0, "default"), (3.0, None)):
        a = pipe("Persian", autoguidance_scale=scale, guidance_interval=interval, **kw).images
        b = onnx("Persian", autoguidance_scale=scale, guidance_interval=interval, **kw).images
        assert np.abs(a - b).max() < 1e-3, scale
    restyled = [p.transfer(np.zeros((32, 32, 3), np.uint8), "Sphynx", strength=0.5, seed=2, output_type="np",
                           num_inference_steps=STEPS).images for p in (pipe, onnx)]
    assert np.abs(restyled[0] - restyled[1]).max() < 1e-3


def test_check_export_names_a_guide_the_export_lacks(guided_export):
    pipe, out = guided_export
    plain = CatsPipeline(transformer=pipe.transformer, scheduler=pipe.scheduler, classifier=pipe.classifier,
                         default_guidance_scale=2.0)
    assert any("guide network" in p for p in check_export(plain, out))


def test_fast_mode_refuses_autoguidance():
    from cats.sampling import ModeDefaults, check_call

    with pytest.raises(ValueError, match="leave autoguidance_scale out"):
        check_call("fast", 2, None, "euler", "np", defaults=ModeDefaults(2, 3.0), autoguidance_scale=2.0)
    with pytest.raises(ValueError, match="leave guidance_interval out"):
        check_call("fast", 2, None, "euler", "np", defaults=ModeDefaults(2, 3.0), guidance_interval=None)


def test_settings_of_the_guidance_benchmark_are_parsed_and_bad_ones_named():
    s = parse_setting("both:cfg=2,ag=2.5,guide=old,interval=0.1-0.8")
    assert s == Setting("both", 2.0, 2.5, "old", (0.1, 0.8))
    assert s.evaluations(4, [1.0, 0.75, 0.5, 0.25, 0.0]) == 1 + 3 + 3 + 3  # sigma 1 is outside the interval
    import argparse

    for bad, says in [("nocolon", "NAME:cfg=3"), ("x:cfg=2,ag=2", "go together"), ("x:cfg=a", "numbers"),
                      ("x:cfg=2,interval=0.9-0.1", "LO < HI"), ("x:foo=1", "is not cfg=")]:
        with pytest.raises(argparse.ArgumentTypeError, match=says):
            parse_setting(bad)


def test_the_guidance_benchmark_quick_mode_runs_and_writes_its_table():
    out = subprocess.run([sys.executable, "-m", "cats.benchmarks.guidance", "--quick"], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "| ag2 | 1 | 2 (g) | all |" in out.stdout and "| both | 2 | 2 (g) | 0.1-0.9 |" in out.stdout
