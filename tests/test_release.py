"""A weights release commits weights only: the ONNX export is a build output, cached by a stamp.

* nothing under the web client's models folder or the Space's graph folder is tracked by git;
* ``python export.py`` rebuilds when the weights, the exporter's sources or its settings change, reuses
  the export otherwise, and its stamp never depends on the graphs' bytes;
* graphs exported from two checkouts in different folders compute the same function (within the fp32
  parity budget) and carry no trace of the folder they were exported from.
"""

import json
import shutil
import subprocess
import sys

import numpy as np
import onnx
import pytest

from cats import paths
from cats.export import cli
from cats.export.cli import build_block, why_stale
from cats.export.cli import main as export_main
from cats.export.parity import (
    GENERATOR_BUDGETS,
    IMAGE_STEPS,
    PARITY_SIGMAS,
    case_weights,
    onnx_step,
    over_budget,
    parity_noise,
    sample_loop,
    session,
    step_feed,
)
from cats.onnx.manifest import GOLDEN, MANIFEST
from cats.schedule import flow_sigmas

BUILT = (paths.WEB_MODELS, paths.ROOT / "spaces_demo" / paths.SPACE_EXPORT)  # what export.py writes, never git


def _git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=paths.ROOT, capture_output=True, text=True)


def test_no_graph_manifest_or_fixture_is_tracked_by_git():
    assert _git("rev-parse", "--is-inside-work-tree").returncode == 0, \
        "run the tests from a git checkout (git clone ...): this test reads what git tracks"
    folders = [str(p.relative_to(paths.ROOT)) for p in BUILT]
    tracked = _git("ls-files", "--", *folders).stdout.split()
    assert tracked == [], (f"build outputs of python export.py are tracked by git: {tracked[:5]}; "
                           f"untrack them with: git rm -r --cached {' '.join(folders)}")
    for folder in folders:  # and a new export there stays out of `git status`
        assert _git("check-ignore", "-q", f"{folder}/{MANIFEST}").returncode == 0, f"{folder}/ is not in .gitignore"


# -- the stamp, on a pretend pipeline and export (no torch) -------------------------------------------------


@pytest.fixture
def built(tmp_path, monkeypatch):
    """(pipeline dir, export dir, source file): an export whose manifest carries the stamp of a fake build."""
    root = tmp_path / "checkout"
    (root / "cats").mkdir(parents=True)
    source = root / "cats" / "graphs.py"
    source.write_text("OPSET = 18\n")
    monkeypatch.setattr(paths, "ROOT", root)
    model = root / "weights"
    (model / "transformer").mkdir(parents=True)
    (model / "model_index.json").write_text('{"preset": "micro"}')
    (model / "transformer" / "diffusion_pytorch_model.safetensors").write_bytes(b"\x01" * 64)
    (model / "metrics_generator.json").write_text('{"fid": 300}')
    (model / "training.json").write_text("{}")
    out = root / "export"
    out.mkdir()
    graph = out / "generator.fp32.onnx"
    graph.write_bytes(b"graph bytes")
    manifest = {"generator": {"variants": {"fp32": {"file": graph.name, "sha256": cli.sha256(graph),
                                                    "bytes": graph.stat().st_size}}},
                "build": build_block(model, ["fp32", "fp16"], ["cats/graphs.py"])}
    (out / MANIFEST).write_text(json.dumps(manifest))
    (out / GOLDEN).write_text("{}")
    return model, out, source


def test_an_intact_export_of_the_same_weights_is_reused(built):
    model, out, _ = built
    assert why_stale(model, out, ["fp32", "fp16"]) is None
    # files the export never reads (evaluation, provenance) may change after it
    (model / "metrics_generator.json").write_text('{"fid": 200}')
    (model / "training.json").write_text('{"steps": 1}')
    assert why_stale(model, out, ["fp32", "fp16"]) is None


def test_new_weights_sources_or_settings_make_it_stale(built):
    model, out, source = built
    assert "settings" in why_stale(model, out, ["fp32", "fp16", "int8"])
    weights = model / "transformer" / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(b"\x02" * 64)  # a release: retrained weights
    assert "weights" in why_stale(model, out, ["fp32", "fp16"])
    weights.write_bytes(b"\x01" * 64)
    (model / "classifier").mkdir()
    (model / "classifier" / "config.json").write_text("{}")  # a component added beside the others
    assert "weights" in why_stale(model, out, ["fp32", "fp16"])
    shutil.rmtree(model / "classifier")
    source.write_text("OPSET = 19\n")
    assert "sources" in why_stale(model, out, ["fp32", "fp16"])


def test_the_stamp_does_not_depend_on_the_graph_bytes(built):
    model, out, _ = built
    before = json.loads((out / MANIFEST).read_text())["build"]["stamp"]
    (out / "generator.fp32.onnx").write_bytes(b"other graph bytes, as another machine may write")
    assert build_block(model, ["fp32", "fp16"], ["cats/graphs.py"])["stamp"] == before
    # a graph that no longer matches its own manifest is rebuilt, named in the reason
    assert "generator.fp32.onnx" in why_stale(model, out, ["fp32", "fp16"])
    (out / GOLDEN).unlink()
    (out / "generator.fp32.onnx").write_bytes(b"graph bytes")
    assert GOLDEN in why_stale(model, out, ["fp32", "fp16"])
    (out / MANIFEST).write_text("{not json")
    assert "cannot be read" in why_stale(model, out, ["fp32", "fp16"])


# -- the real thing on the micro pipeline ------------------------------------------------------------------


@pytest.fixture(scope="module")
def micro_dir(tmp_path_factory):
    from test_export import make_test_pipeline

    path = tmp_path_factory.mktemp("micro") / "pipeline"
    make_test_pipeline().save_pretrained(path)
    return path


def test_export_builds_once_then_reuses_until_forced(micro_dir, tmp_path, capsys):
    out = tmp_path / "models"
    (out).mkdir()
    (out / "generator.int8.onnx").write_bytes(b"an int8 graph from an older build")
    assert export_main(["--model", str(micro_dir), "--out", str(out)]) == 0
    first = capsys.readouterr().out
    assert "building the ONNX export" in first and "no export there yet" in first
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["build"]["settings"]["precisions"] == ["fp32", "fp16"]
    assert set(manifest["generator"]["variants"]) == {"fp32", "fp16"}
    assert not (out / "generator.int8.onnx").exists()  # a variant this build did not write is not left behind
    assert "cats/export/graphs.py" in manifest["build"]["sources"]
    assert manifest["build"]["weights"]["transformer/diffusion_pytorch_model.safetensors"]
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}

    assert export_main(["--model", str(micro_dir), "--out", str(out)]) == 0
    again = capsys.readouterr().out.strip().splitlines()
    assert len(again) == 1 and "up to date" in again[0]
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == mtimes  # nothing rewritten

    assert export_main(["--model", str(micro_dir), "--out", str(out), "--force"]) == 0
    assert "generator.fp32.onnx" in capsys.readouterr().out
    assert json.loads((out / MANIFEST).read_text())["build"]["stamp"] == manifest["build"]["stamp"]


EXPORT_ONE_GRAPH = """
import sys
from cats.export.graphs import export_generator
from cats.pipeline import CatsPipeline
export_generator(CatsPipeline.from_pretrained(sys.argv[1]).transformer, sys.argv[2])
"""


def test_graphs_exported_from_two_checkouts_agree_within_the_parity_budget(micro_dir, tmp_path):
    """The same weights exported from this checkout and from a copy of the package in another folder."""
    other = tmp_path / "elsewhere" / "checkout"
    shutil.copytree(paths.PACKAGE_DIR, other / "cats", ignore=shutil.ignore_patterns("weights", "__pycache__"))
    graphs = {}
    for name, root in (("here", paths.ROOT), ("elsewhere", other)):
        graphs[name] = tmp_path / f"{name}.onnx"
        subprocess.run([sys.executable, "-c", EXPORT_ONE_GRAPH, str(micro_dir), str(graphs[name])], cwd=root,
                       env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"}, check=True, capture_output=True)
    for name, root in (("here", paths.ROOT), ("elsewhere", other)):
        data = graphs[name].read_bytes()
        assert str(root).encode() not in data, f"the graph exported {name} names its checkout folder"
        producer = onnx.load_from_string(data).producer_version
        assert "+" not in producer, f"producer version {producer!r} names torch's local build"

    a, b = session(str(graphs["here"])), session(str(graphs["elsewhere"]))
    weights = case_weights()
    noise = parity_noise(len(weights), 32)
    step = max(float(np.abs(onnx_step(a, feed)[0] - onnx_step(b, feed)[0]).max())
               for feed in (step_feed(noise, s, s - 0.05, weights, 3.0) for s in PARITY_SIGMAS))
    sigmas = np.asarray(flow_sigmas(IMAGE_STEPS, 1.5), np.float32)
    images = [sample_loop(lambda f, sess=sess: onnx_step(sess, f), noise, sigmas, weights, 3.0) for sess in (a, b)]
    errors = {"step_max_abs": step, f"image{IMAGE_STEPS}_max_abs": float(np.abs(images[0] - images[1]).max())}
    assert not over_budget(errors, GENERATOR_BUDGETS["fp32"]), errors
