"""The demo's fast mode: the few-step student on every backend, and the Compare tab showing both modes;
and weights without a guide network, whose Guide setting is hidden and only 1 (off) is accepted.

The handlers are driven in-process (the served app and its API are covered by test_gradio_app.py)
over a micro pipeline with a few-step student and a guide network, saved and exported like the bundled
weights, and over a plain micro pipeline (PyTorch only: nothing to export).
"""

from __future__ import annotations

import base64
import io
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def handlers(tmp_path_factory):
    import torch

    from cats.benchmarks.fewstep import random_micro_pipeline
    from cats.models.dit import CatDiT
    from cats.onnx.manifest import read_manifest
    from cats.pipeline import CatsPipeline

    sys.path.insert(0, str(ROOT / "spaces_demo"))
    from backends import make_backends
    from handlers import Handlers

    root = tmp_path_factory.mktemp("fast-demo")
    base = random_micro_pipeline()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        student = CatDiT.from_config(base.transformer.config)
        student.load_state_dict(base.transformer.state_dict())
        for p in student.parameters():
            p.add_(0.02 * torch.randn(p.shape, generator=gen))
        guide = CatDiT.from_config(base.transformer.config).eval()
        guide.load_state_dict(base.transformer.state_dict())
        for p in guide.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=gen))
    pipe = CatsPipeline(transformer=base.transformer, scheduler=base.scheduler, fast_transformer=student,
                        fast_guidance_scale=3.0, guide_transformer=guide, default_autoguidance_scale=2.0)
    model_dir, onnx_dir = root / "pipeline", root / "onnx"
    pipe.save_pretrained(model_dir)
    subprocess.run([sys.executable, str(ROOT / "export.py"), "--model", str(model_dir), "--out", str(onnx_dir),
                    "--precision", "fp32"], check=True, cwd=ROOT, capture_output=True)
    return Handlers(make_backends(model_dir, onnx_dir, read_manifest(onnx_dir)))


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    """Handlers over weights without a guide network (nor a student): the PyTorch engine only."""
    from cats.benchmarks.fewstep import random_micro_pipeline

    sys.path.insert(0, str(ROOT / "spaces_demo"))
    from backends import make_backends
    from handlers import Handlers

    model_dir = tmp_path_factory.mktemp("plain-demo") / "pipeline"
    random_micro_pipeline().save_pretrained(model_dir)
    return Handlers(make_backends(model_dir, None, None))


def _images(html: str) -> list[np.ndarray]:
    urls = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    return [np.asarray(Image.open(io.BytesIO(base64.b64decode(u))).convert("RGB"), dtype=np.int16) for u in urls]


def _final(h, mode, backend, steps=2, guidance=3.0, sampler="euler", guide=2.0):
    *_, last = h.generate("Bengal", steps, guidance, sampler, 3, 1, backend, mode, guide)
    return _images(last[0])[0], last[1]


def test_fast_mode_runs_the_student_on_every_backend_and_they_agree(handlers):
    assert all(b.facts.has_fast for b in handlers.backends.values())
    fast = {label: _final(handlers, "fast", label)[0] for label in handlers.backends}
    onnx, torch_ = fast["ONNX fp32"], fast["PyTorch"]
    assert np.abs(onnx - torch_).max() <= 2  # same seed, same student
    quality = _final(handlers, "quality", "ONNX fp32")[0]
    assert np.abs(quality - onnx).mean() > 2  # the other model, not the guided one at 2 steps
    # neither guidance nor guide is used in fast mode (it is baked in): any values give the same picture,
    # and the status line says so instead of naming them
    for label in handlers.backends:
        image, status = _final(handlers, "fast", label, guidance=7.0, guide=4.5)
        assert np.array_equal(image, fast[label]), label
        assert "fast mode, 2 steps, guidance built into fast mode" in status and "guidance 7" not in status
        assert "guide" not in status.split("[link")[0] and "guide=" not in status, status


def test_fast_mode_offers_only_its_step_counts(handlers):
    import gradio as gr

    assert {b.facts.fast_steps for b in handlers.backends.values()} == {(1, 2, 4)}  # manifest and model_index agree
    for steps in (1, 4):
        _final(handlers, "fast", "PyTorch", steps=steps)
    for steps in (3, 50):
        with pytest.raises(gr.Error, match="fast mode takes 1, 2 or 4 steps; got " + str(steps)):
            _final(handlers, "fast", "ONNX fp32", steps=steps)


def test_fast_mode_refuses_heun_and_an_unknown_mode(handlers):
    import gradio as gr

    with pytest.raises(gr.Error, match="euler"):
        _final(handlers, "fast", "ONNX fp32", sampler="heun")
    with pytest.raises(gr.Error, match="mode"):
        _final(handlers, "turbo", "ONNX fp32")


def test_compare_shows_both_modes_for_each_backend(handlers):
    *_, (grid, table) = handlers.compare("Siamese", 4, 3.0, 5, 2.0)
    names = [caption.strip() for caption in re.findall(r'alt="([^"·]+) ·', grid)]
    assert names == ["ONNX fp32", "ONNX fp32, fast (2 steps)", "PyTorch", "PyTorch, fast (2 steps)"]
    assert "in the same mode" in table and table.count("\n| ") == 4
    guided = [row.split(" | ")[1] for row in table.splitlines()[2:]]  # the guidance each row was drawn with
    assert guided == ["guidance 3, guide 2", "guidance built into fast mode"] * 2, table


def test_weights_without_a_guide_hide_the_setting_and_take_only_1(handlers, plain):
    import controls
    import gradio as gr
    from backends import manifest_facts

    facts = plain.backends["PyTorch"].facts
    assert (facts.has_guide, facts.autoguidance) == (False, None)
    onnx = handlers.backends["ONNX fp32"]
    assert (onnx.facts.has_guide, onnx.facts.autoguidance) == (True, 2.0)  # manifest and model_index agree
    assert handlers.backends["PyTorch"].facts.autoguidance == 2.0
    no_guide = {**onnx.manifest, "generator": {**onnx.manifest["generator"], "guide": None}}
    assert manifest_facts(no_guide).has_guide is False and manifest_facts(no_guide).autoguidance is None
    hidden, shown = controls.kwargs(facts)["guide"], controls.kwargs(onnx.facts)["guide"]
    assert (hidden["visible"], hidden["value"]) == (False, 1.0)  # hidden at 1 (off), the one value accepted
    assert (shown["visible"], shown["value"], shown["minimum"], shown["maximum"]) == (True, 2.0, 1.0, 5.0)

    image, status = _final(plain, "quality", "PyTorch", steps=3, guide=1.0)
    assert "guidance 3)" in status and "guide" not in status.split("[link")[0] and "guide=" not in status
    for call in (lambda: _final(plain, "quality", "PyTorch", steps=3, guide=2.5),
                 lambda: list(plain.compare("Siamese", 3, 3.0, 5, 2.5)),
                 lambda: list(plain.blend("Bengal", 1.0, None, 0.0, None, 0.0, 3, 3.0, 0, "PyTorch", 2.5))):
        with pytest.raises(gr.Error, match=re.escape("guide must be 1 (off): these weights have no guide network; "
                                                     "got 2.5")):
            call()
