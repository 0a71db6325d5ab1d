"""The few-step graph: exported beside the guided one, within its budgets, golden fixtures, --check.

A micro pipeline with a few-step student (a perturbed copy of its transformer: the graph's job is to
reproduce whatever weights it is given) exported once into a temporary folder.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from cats.export import export_pipeline
from cats.export.exporter import check_export
from cats.export.fast import FAST_INPUTS, FastGeneratorStep
from cats.export.parity import case_weights, onnx_step, session, step_feed, torch_step
from cats.onnx.manifest import read_golden, read_manifest

pytestmark = pytest.mark.timeout(600)


def _pipeline_with_student():
    from cats.models.dit import CatDiT
    from cats.pipeline import CatsPipeline

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        pipe = CatsPipeline.from_preset("micro")
        with torch.no_grad():
            for p in pipe.transformer.parameters():
                p.add_(0.02 * torch.randn_like(p))
            student = CatDiT.from_config(pipe.transformer.config)
            student.load_state_dict(pipe.transformer.state_dict())
            for p in student.parameters():
                p.add_(0.02 * torch.randn_like(p))
    pipe.fast_transformer = student.eval()
    return pipe


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    pipe = _pipeline_with_student()
    out = tmp_path_factory.mktemp("fast-export")
    export_pipeline(pipe, out, ("fp32", "fp16"), name="micro-fast")
    return pipe, out


def test_the_few_step_graph_is_described_like_every_other_graph(exported):
    pipe, out = exported
    manifest = read_manifest(out)
    fast = manifest["generator_fast"]
    assert [i["name"] for i in fast["inputs"]] == list(FAST_INPUTS)  # no guidance_scale: it is baked in
    assert [o["name"] for o in fast["outputs"]] == ["next_sample", "pred_x0"]
    assert fast["inputs"][0]["shape"] == ["batch", 3, 32, 32]
    assert fast["scheduler"]["sigmas"] == {"1": [1.0, 0.0], "2": [1.0, 0.5, 0.0], "4": [1.0, 0.75, 0.5, 0.25, 0.0]}
    assert fast["guidance"] == {"baked_in": pipe.config.default_guidance_scale, "autoguidance_baked_in": None}
    assert fast["defaults"] == {"num_inference_steps": 2}
    assert set(fast["variants"]) == {"fp32", "fp16"} and fast["default_variant"] == "fp16"
    for variant in fast["variants"].values():
        assert (out / variant["file"]).stat().st_size == variant["bytes"]
        assert all(err <= variant["budget"].get(k, np.inf) for k, err in variant["error"].items())
    assert fast["variants"]["fp32"]["error"]["image2_max_abs"] <= 1e-3


def test_the_graph_is_the_students_conditional_step(exported):
    """One graph call = the student's conditional Euler step, not the teacher's and not a guided one."""
    pipe, out = exported
    manifest = read_manifest(out)
    sess = session(str(out / manifest["generator_fast"]["variants"]["fp32"]["file"]))
    x = np.random.default_rng(0).standard_normal((3, 3, 32, 32)).astype(np.float32)
    feed = step_feed(x, 1.0, 0.5, case_weights(), 1.0)
    got = onnx_step(sess, feed)
    want = torch_step(FastGeneratorStep(pipe.fast_transformer), feed)
    assert np.abs(got[0] - want[0]).max() < 1e-4 and np.abs(got[1] - want[1]).max() < 1e-4
    from cats.export.graphs import GeneratorStep

    teacher = torch_step(GeneratorStep(pipe.transformer), feed)  # guidance 1: the teacher's conditional step
    assert np.abs(got[0] - teacher[0]).max() > 1e-2


def test_golden_fixtures_and_check(exported):
    pipe, out = exported
    manifest = read_manifest(out)
    golden = read_golden(out, manifest)["fast"]
    assert [c["name"] for c in golden["cases"]] == ["Siamese", "Bombay", "Persian+Bengal"]
    assert set(golden["cases"][0]["final"]) == {"1", "2"}
    assert check_export(pipe, out) == []
    # a different student is caught by the parity check, a missing one by the block check
    other = _pipeline_with_student()
    with torch.no_grad():
        for p in other.fast_transformer.parameters():
            p.mul_(1.5)
    assert any("generator_fast" in p for p in check_export(other, out))
    other.fast_transformer = None
    assert any("few-step" in p for p in check_export(other, out))


def test_a_re_export_without_a_student_removes_the_old_graph(exported, tmp_path):
    import shutil

    pipe, out = exported
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    pipe_without = _pipeline_with_student()
    pipe_without.fast_transformer = None
    manifest = export_pipeline(pipe_without, copy, ("fp32",), name="micro")
    assert manifest["generator_fast"] is None and not list(copy.glob("generator_fast.*"))
    assert "fast" not in json.loads((copy / "golden.json").read_text())



def test_fast_mode_gives_the_same_cat_in_pytorch_and_onnx(exported):
    """Same seed, breed and step count: CatsPipeline(mode="fast") and OnnxCatsPipeline(mode="fast") agree."""
    from cats.onnx.pipeline import OnnxCatsPipeline

    pipe, out = exported
    onnx_pipe = OnnxCatsPipeline.from_dir(out, variant="fp32")
    for steps in (1, 2):
        kw = dict(breed={"Siamese": 0.6, "Bombay": 0.4}, num_inference_steps=steps, seed=7, mode="fast",
                  output_type="np")
        a, b = pipe(progress=False, **kw).images, onnx_pipe(**kw).images
        assert np.abs(a - b).max() < 1e-3
    quality = onnx_pipe(breed={"Siamese": 0.6, "Bombay": 0.4}, num_inference_steps=2, seed=7, output_type="np").images
    assert np.abs(quality - b).max() > 1e-2  # fast mode really runs the other graph
