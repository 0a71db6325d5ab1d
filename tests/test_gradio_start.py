"""How the Gradio demo starts: a taken port names --port, missing ONNX graphs leave a working PyTorch engine."""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "spaces_demo" / "app.py"
pytestmark = pytest.mark.timeout(300)


def _module(name: str):
    sys.path.insert(0, str(APP.parent))
    spec = importlib.util.spec_from_file_location(f"tiny_cats_start_{name}", APP.parent / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_a_taken_port_stops_the_start_with_the_flag_to_use():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run([sys.executable, str(APP), "--port", str(port)], capture_output=True, text=True,
                              timeout=120)
    assert proc.returncode != 0
    assert f"port {port} on 127.0.0.1 is already in use" in proc.stderr and "--port" in proc.stderr
    assert "Traceback" not in proc.stderr and "GRADIO_SERVER_PORT" not in proc.stderr


def test_without_the_onnx_graphs_the_app_says_how_to_build_them_and_runs_pytorch(monkeypatch, tmp_path):
    sources = _module("sources")
    monkeypatch.setattr(sources, "BUNDLED_ONNX", (tmp_path / "no-export", tmp_path / "no-space-export"))
    found = sources.resolve_sources(None, None, env={})
    assert found.onnx_dir is None
    assert "not built yet" in found.onnx_note and "python export.py" in found.onnx_note
    assert "PyTorch engine works" in found.onnx_note

    app = _module("app")
    demo = app.build_app(app.parse_args(["--port", "7860"]), found)
    try:
        assert list(demo.handlers.backends) == ["PyTorch"]
        about = next(b.value for b in demo.blocks.values() if getattr(b, "elem_id", None) == "weights-note")
        assert "not built yet" in about
        *_, (result, status, files) = demo.handlers.generate("Bengal", 2, 3.0, "euler", 0, 1, "PyTorch", "quality", 2.0)
        assert status.startswith("**Done:**") and Path(files[0]).name == "tiny-cats_Bengal_seed0_quality.png"
    finally:
        demo.thumbnails.get(timeout=300)  # no pipeline load left running into the next test
        demo.handlers.close()
