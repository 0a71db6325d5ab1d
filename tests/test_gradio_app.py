"""The Gradio demo, driven over HTTP with gradio_client like a visitor's browser or an API user.

One module-scoped app: a ``micro`` pipeline with a small classifier and a guide network (autoguidance:
a perturbed copy of the transformer), its zero-initialised output layers randomised so images depend on
breed and noise, saved to tmp and exported with
``python export.py``; the app is launched on a free localhost port with ``--model`` and ``--onnx``
and the same launch settings as ``python spaces_demo/app.py``, its Gradio cache in a folder of its
own. Hostile requests go in as raw HTTP (``/gradio_api/call``), the way a script would send them.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import logging
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qsl

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
APP_PATH = ROOT / "spaces_demo" / "app.py"
SIZE = 32  # the micro preset's image size
GUIDE = 2.0  # the test weights' default autoguidance scale (the Guide sliders' default)
pytestmark = pytest.mark.timeout(600)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _load_app_module():
    spec = importlib.util.spec_from_file_location("tiny_cats_demo_app", APP_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> tuple[Path, Path]:
    import torch

    from cats.models.classifier import CatClassifier
    from cats.models.dit import CatDiT
    from cats.pipeline import CatsPipeline

    root = tmp_path_factory.mktemp("demo")
    classifier = CatClassifier.from_backbone("mobilenet_v3_small", pretrained=False, image_size=SIZE).eval()
    pipe = CatsPipeline.from_preset("micro", seed=0, classifier=classifier)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():  # adaLN-Zero starts at exactly 0 output: give those layers small weights,
        for p in pipe.transformer.parameters():  # and the breed table a large one so breeds look different
            if not p.any():
                p.copy_(0.05 * torch.randn(p.shape, generator=gen))
        table = pipe.transformer.y_embedder.weight  # (D, 13): the conditioning vector of each slot
        table.copy_(torch.randn(table.shape, generator=gen))
        guide = CatDiT.from_config(pipe.transformer.config).eval()  # a weaker copy: the same net, perturbed
        guide.load_state_dict(pipe.transformer.state_dict())
        for p in guide.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=gen))
    pipe = CatsPipeline(transformer=pipe.transformer, scheduler=pipe.scheduler, classifier=classifier, preset="micro",
                        guide_transformer=guide, default_autoguidance_scale=GUIDE)
    model_dir, onnx_dir = root / "pipeline", root / "onnx"
    pipe.save_pretrained(model_dir)
    subprocess.run([sys.executable, str(ROOT / "export.py"), "--model", str(model_dir), "--out", str(onnx_dir)],
                   check=True, cwd=ROOT, capture_output=True)
    return model_dir, onnx_dir


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    """Gradio's upload/cache folder for this module's app (GRADIO_TEMP_DIR), restored afterwards."""
    folder = tmp_path_factory.mktemp("gradio-cache")
    before = os.environ.get("GRADIO_TEMP_DIR")
    os.environ["GRADIO_TEMP_DIR"] = str(folder)
    yield folder
    if before is None:
        os.environ.pop("GRADIO_TEMP_DIR", None)
    else:
        os.environ["GRADIO_TEMP_DIR"] = before


@pytest.fixture(scope="module")
def served(weights, cache_dir):
    """(demo, url) of the running app."""
    model_dir, onnx_dir = weights
    app = _load_app_module()
    port = _free_port()
    args = app.parse_args(["--model", str(model_dir), "--onnx", str(onnx_dir), "--port", str(port)])
    demo = app.build_app(args)
    demo.launch(**{**app.launch_kwargs(args), "prevent_thread_lock": True, "quiet": True})
    yield demo, f"http://127.0.0.1:{port}/"
    demo.close()
    demo.handlers.close()


@pytest.fixture(scope="module")
def client(served, tmp_path_factory):
    from gradio_client import Client

    # The client's copies of results go elsewhere than the server's cache, which tests count.
    c = Client(served[1], verbose=False, download_files=str(tmp_path_factory.mktemp("client-downloads")))
    yield c
    c.close()


def raw_call(url: str, api: str, data) -> tuple[str, object]:
    """POST a raw JSON body to /gradio_api/call/<api> -> (last event: "complete" | "error", its data)."""
    import httpx

    with httpx.Client(base_url=url, timeout=120) as http:
        r = http.post(f"gradio_api/call/{api}", json={"data": data})
        if r.status_code != 200:
            return "http", (r.status_code, r.text)
        event_id = r.json()["event_id"]
        text = http.get(f"gradio_api/call/{api}/{event_id}").text
    events = re.findall(r"event: (\w+)\ndata: (.*)", text)
    kind, payload = [(k, v) for k, v in events if k != "heartbeat"][-1]
    return kind, json.loads(payload)


@pytest.fixture(scope="module")
def manifest(weights) -> dict:
    return json.loads((weights[1] / "manifest.json").read_text())


@pytest.fixture(scope="module")
def backends(manifest) -> list[str]:
    gen = manifest["generator"]
    variants = [gen["default_variant"]] + [v for v in gen["variants"] if v != gen["default_variant"]]
    return [f"ONNX {v}" for v in variants] + ["PyTorch"]


@pytest.fixture
def files(tmp_path) -> dict[str, Path]:
    """Uploads: good pictures in odd modes, and bad files."""
    paths = {}
    rgb = Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 56, 3), dtype=np.uint8))
    for name, img, fmt in [("rgb.png", rgb, "PNG"), ("gray.png", rgb.convert("L"), "PNG"),
                           ("rgba.png", rgb.convert("RGBA"), "PNG"), ("cmyk.jpg", rgb.convert("CMYK"), "JPEG"),
                           ("deep16.png", Image.fromarray(np.full((30, 30), 40000, np.uint16)), "PNG")]:
        img.save(tmp_path / name, format=fmt)
        paths[name] = tmp_path / name
    frames = [Image.new("RGB", (24, 24), c) for c in ("red", "blue")]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=50)
    paths["anim.gif"] = tmp_path / "anim.gif"
    (tmp_path / "notes.txt").write_text("not a picture")
    (tmp_path / "empty.png").write_bytes(b"")
    Image.new("1", (64_000_000, 1)).save(tmp_path / "huge.png")  # a strip: one row of 64 MP, tiny on disk
    for name in ("notes.txt", "empty.png", "huge.png"):
        paths[name] = tmp_path / name
    return paths


def _pixels(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)


def _generate(client, backend, breed="Bengal", steps=3, seed=1, num_images=1, sampler="euler", guidance=3.0,
              mode="quality", guide=None):
    """guide None: left out, so gradio_client sends the Guide slider's default (as an older API caller does)."""
    extra = () if guide is None else (guide,)
    job = client.submit(breed, steps, guidance, sampler, seed, num_images, backend, mode, *extra, api_name="/generate")
    final = job.result()
    return job.outputs(), final


def _inline_images(html: str) -> list[np.ndarray]:
    """The data: URL images of a result or a preview, as pixel arrays."""
    urls = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    return [np.asarray(Image.open(io.BytesIO(base64.b64decode(u))).convert("RGB"), dtype=np.int16) for u in urls]


def test_generate_streams_previews_then_the_final_images_on_every_backend(client, backends):
    for backend, sampler in zip(backends, ["euler"] * (len(backends) - 1) + ["heun"]):
        outputs, final = _generate(client, backend, steps=4, num_images=2, sampler=sampler)
        assert outputs[0] == ("", "Checking the settings…", None)  # the previous result is cleared at once
        steps = [re.search(r"step (\d+) of (\d+)", o[1]) for o in outputs[:-1]]
        steps = [(int(m[1]), int(m[2])) for m in steps if m]
        assert steps == [(i, 4) for i in range(1, 4)], (backend, outputs)
        assert final[1].startswith("**Done:** Bengal, seed 1 (quality mode, 4 steps, guidance 3, guide 2")
        previews = [o[0] for o in outputs if "Drawing… step" in (o[0] or "")]
        assert len(previews) == 3 and all(len(_inline_images(p)) == 4 for p in previews)  # noisy + clean, twice
        result, _, downloads = final
        assert "Drawing…" not in result  # one result area: the preview is gone once the images are there
        images = _inline_images(result)
        assert len(images) == 2 and len(downloads) == 2
        assert [Path(p).name for p in downloads] == ["tiny-cats_Bengal_seed1_quality_1.png",
                                                      "tiny-cats_Bengal_seed1_quality_2.png"]
        for img, path in zip(images, downloads):
            assert img.shape == (SIZE, SIZE, 3) and np.array_equal(img, _pixels(path))
        first = _inline_images(previews[0])[0]
        assert np.abs(first - images[0]).max() > 10  # the stream shows progress


def test_streaming_is_bounded_and_writes_no_file_per_step(client, served, cache_dir):
    from render import PREVIEWS

    before = {p for p in cache_dir.rglob("*") if p.is_file()}
    outputs, final = _generate(client, "ONNX fp32", steps=40, num_images=2)
    previews = [o for o in outputs if "Drawing… step" in (o[0] or "")]
    assert len(previews) <= PREVIEWS  # a preview every 10th step, not 40 updates
    assert [int(re.search(r"step (\d+) of 40", o[1])[1]) for o in previews] == [10, 20, 30]
    for streamed in previews:
        assert streamed[2] is None and "data:image/png;base64," in streamed[0]
    new = {p for p in cache_dir.rglob("*") if p.is_file()} - before
    assert len(new) <= 2, sorted(p.name for p in new)  # the downloads only; previews and results are inline
    assert not [p for p in served[0].handlers.download_dir.iterdir()]  # the request's PNG folder is gone


def test_same_seed_same_picture_across_backends(client, backends):
    grid, table = client.predict("Siamese", 4, 3.0, 5, api_name="/compare")
    assert re.findall(r'alt="([^"·]+) ·', grid) == backends  # variants read from the manifest
    images = _inline_images(grid)
    onnx32, torch_ = images[0], images[-1]
    assert np.abs(onnx32 - torch_).max() <= 2  # same noise, same weights: the backends agree
    _, other_seed = _generate(client, "ONNX fp32", breed="Siamese", steps=4, seed=6)
    assert np.abs(_inline_images(other_seed[0])[0] - onnx32).mean() > 5
    assert "max pixel difference" in table


def test_the_guide_reaches_the_pipeline_on_every_backend(client, files):
    """Guide 1 (off), the default and 4 give three cats from one seed; each engine draws each one alike."""
    drawn = {}
    for backend in ("ONNX fp32", "PyTorch"):
        for guide in (None, 1.0, 4.0):
            _, (result, status, _) = _generate(client, backend, steps=4, seed=2, guide=guide)
            drawn[backend, guide] = _inline_images(result)[0]
            words, link = {None: ("guide 2", "guide=2"), 1.0: ("guide off", "guide=1"), 4.0: ("guide 4", "guide=4")}[guide]
            assert f"guidance 3, {words})" in status, status
            assert re.search(r"\(\?[^)]*&guidance=3&" + link + r"\)", status), status  # the link reopens it, after guidance
        _, default = _generate(client, backend, steps=4, seed=2, guide=GUIDE)
        assert np.array_equal(drawn[backend, None], _inline_images(default[0])[0])  # left out = the weights' default
        for a, b in ((None, 1.0), (None, 4.0), (1.0, 4.0)):
            assert np.abs(drawn[backend, a] - drawn[backend, b]).mean() > 1, (backend, a, b)
    for guide in (None, 1.0, 4.0):  # same seed, same guide: the same cat on both engines
        assert np.abs(drawn["ONNX fp32", guide] - drawn["PyTorch", guide]).max() <= 2, guide


def test_blend_and_restyle_take_the_guide(client, files):
    for backend in ("ONNX fp32", "PyTorch"):
        blends = {}
        for guide in (1.0, 3.5):
            html, status, _ = client.predict("Bengal", 0.5, "Sphynx", 0.5, None, 0.0, 3, 3.0, 4, backend, guide,
                                             api_name="/blend")
            blends[guide] = _inline_images(html)[0]
            assert ("guide off" if guide == 1 else "guide 3.5") in status
            assert f"guide={guide:g}" in status  # the blend's link keeps it
        assert np.abs(blends[1.0] - blends[3.5]).mean() > 1, backend
        restyled = {}
        for guide in (1.0, 3.5):
            pair, status, _ = client.predict(_file(files["rgb.png"]), "Siamese", 1.0, 4, 3.0, 0, backend, guide,
                                             api_name="/restyle")
            restyled[guide] = _inline_images(pair)[1]
            assert f"(guidance 3, {'guide off' if guide == 1 else 'guide 3.5'})" in status, status
        assert np.abs(restyled[1.0] - restyled[3.5]).mean() > 1, backend


def test_compare_runs_every_engine_at_the_same_guide(client, backends):
    pictures = {}
    for guide, words in ((1.0, "guidance 3, guide off"), (4.0, "guidance 3, guide 4")):
        grid, table = client.predict("Siamese", 4, 3.0, 5, guide, api_name="/compare")
        images = _inline_images(grid)
        assert np.abs(images[0] - images[-1]).max() <= 2  # ONNX and PyTorch: the same cat at this guide
        rows = [r for r in table.splitlines()[2:] if r.startswith("| ")]
        assert len(rows) == len(backends) and all(f"| {words} |" in r for r in rows), table  # which guidance ran
        pictures[guide] = images[0]
    assert "| guidance |" in table.splitlines()[0]
    assert np.abs(pictures[1.0] - pictures[4.0]).mean() > 1  # the guide reached every engine


def test_classify_headline_bars_and_probabilities(client, files):
    results = {}
    for backend in ("ONNX fp32", "PyTorch"):
        verdict, details, probs = client.predict(_file(files["rgb.png"]), backend, api_name="/classify")
        assert len(probs) == 13 and abs(sum(probs.values()) - 1.0) < 1e-5
        best3 = sorted(probs, key=probs.get, reverse=True)[:3]
        names = [n.replace("not one of the 12 breeds", "other") for n in re.findall(r'class="bar-name">([^<]+)<', verdict)]
        assert names == best3
        kind = re.search(r'data-verdict="([^"]+)"', verdict)[1]
        headline = re.search(r'<h2 class="verdict-headline">([^<]+)</h2>', verdict)[1]
        if kind in ("unfamiliar", "other", "unsure"):  # no breed headline and no green bars then
            assert "unreliable" in verdict and "Closest match — not reliable" in verdict
            assert headline in ("This doesn&#x27;t look like a cat drawing I know", "Not a cat breed I know", "Not sure")
        else:
            assert headline == kind == best3[0]
        assert backend in details
        results[backend] = probs
    assert max(abs(results["ONNX fp32"][k] - results["PyTorch"][k]) for k in results["PyTorch"]) < 1e-4


def test_blend_weights_reach_the_pipeline(client):
    bengal_only, status, file = client.predict("Bengal", 1.0, "Sphynx", 0.0, None, 0.0, 3, 3.0, 4, "ONNX fp32",
                                               api_name="/blend")
    assert "100% Bengal" in status and Path(file).name == "tiny-cats_Bengal100_seed4_quality.png"
    assert "Sphynx at weight 0: left out" in status  # a breed at weight 0 is said to be dropped
    bengal_only = _inline_images(bengal_only)[0]
    assert bengal_only.shape == (SIZE, SIZE, 3) and np.array_equal(bengal_only, _pixels(file))
    _, plain = _generate(client, "ONNX fp32", breed="Bengal", steps=3, seed=4)
    assert np.array_equal(bengal_only, _inline_images(plain[0])[0])  # a one-breed blend is that breed
    mixed, status, file = client.predict("Bengal", 0.3, "Sphynx", 0.3, "Persian", 0.4, 3, 3.0, 4, "PyTorch",
                                         api_name="/blend")
    assert "30% Bengal + 30% Sphynx + 40% Persian" in status
    assert Path(file).name == "tiny-cats_Bengal30-Persian40-Sphynx30_seed4_quality.png"  # breed order, as the web client
    assert np.abs(_inline_images(mixed)[0] - bengal_only).max() > 10


def test_restyle_strength(client, files):
    for backend in ("ONNX fp32", "PyTorch"):
        pair, status, file = client.predict(_file(files["rgb.png"]), "Siamese", 0.0, 4, 3.0, 0, backend,
                                            api_name="/restyle")
        before, after = _inline_images(pair)
        assert before.shape == after.shape == (SIZE, SIZE, 3) and np.array_equal(after, _pixels(file))
        assert Path(file).name == "tiny-cats_restyle-Siamese_seed0_quality.png"
        assert np.abs(before - after).max() <= 1  # strength 0 keeps the photo
        pair, _, _ = client.predict(_file(files["rgb.png"]), "Siamese", 1.0, 4, 3.0, 0, backend, api_name="/restyle")
        assert np.abs(_inline_images(pair)[0] - _inline_images(pair)[1]).mean() > 5


def test_odd_but_valid_images_are_classified(client, files):
    for name in ("gray.png", "rgba.png", "cmyk.jpg", "deep16.png", "anim.gif"):
        _, _, probs = client.predict(_file(files[name]), "ONNX fp32", api_name="/classify")
        assert abs(sum(probs.values()) - 1.0) < 1e-5, name


BAD_REQUESTS = [
    ("/classify", lambda f: (_file(f["notes.txt"]), "ONNX fp32"), "not an image"),
    ("/classify", lambda f: (_file(f["empty.png"]), "ONNX fp32"), "empty (0 bytes)"),
    ("/classify", lambda f: (_file(f["huge.png"]), "ONNX fp32"), "over the limit of 8,000 pixels on the longer side"),
    ("/classify", lambda f: (None, "ONNX fp32"), "no image"),
    ("/restyle", lambda f: (_file(f["notes.txt"]), "Siamese", 0.5, 4, 3.0, 0, "PyTorch"), "not an image"),
    ("/generate", lambda f: ("Bengal", 0, 3.0, "euler", 0, 1, "ONNX fp32"), "steps must be an integer in [1, 100]"),
    ("/generate", lambda f: ("Bengal", 10_000, 3.0, "euler", 0, 1, "PyTorch"), "steps must be an integer in [1, 100]"),
    ("/generate", lambda f: ("Bengal", 4, -1.0, "euler", 0, 1, "ONNX fp32"), "guidance must be a number in [0.0, 15.0]"),
    ("/generate", lambda f: ("Bengal", 4, 3.0, "ddim", 0, 1, "ONNX fp32"), "sampler must be one of euler, heun"),
    ("/generate", lambda f: ("Bengal", 4, 3.0, "euler", -5, 1, "ONNX fp32"), "seed must be an integer"),
    ("/generate", lambda f: ("Bengal", 4, 3.0, "euler", 0, 50, "ONNX fp32"), "number of images must be an integer in [1, 4]"),
    ("/generate", lambda f: ("Dog", 4, 3.0, "euler", 0, 1, "ONNX fp32"), "unknown breed 'Dog'"),
    ("/generate", lambda f: ("Bengal", 4, 3.0, "euler", 0, 1, "CUDA"), "backend must be one of"),
    ("/restyle", lambda f: (_file(f["rgb.png"]), "Siamese", 1.5, 4, 3.0, 0, "ONNX fp32"), "strength must be a number in [0.0, 1.0]"),
    ("/blend", lambda f: ("Bengal", 0.0, "Sphynx", 0.0, None, 0.0, 3, 3.0, 0, "ONNX fp32"), "weights are all zero"),
    ("/blend", lambda f: ("Bengal", -0.5, "Sphynx", 1.0, None, 0.0, 3, 3.0, 0, "ONNX fp32"), "weight A must be a number in [0.0, 1.0]"),
    # a weight without a breed, a breed without a weight: refused, naming the slot
    ("/blend", lambda f: ("Bengal", 0.5, "Sphynx", 0.5, None, 1.0, 3, 3.0, 0, "ONNX fp32"),
     "weight C is 1 but breed C is empty"),
    ("/blend", lambda f: ("Bengal", 0.5, "Sphynx", 0.5, "Persian", None, 3, 3.0, 0, "ONNX fp32"),
     "breed C is Persian but weight C is empty"),
    ("/blend", lambda f: (None, 0.7, "Sphynx", 0.5, None, 0.0, 3, 3.0, 0, "ONNX fp32"), "weight A is 0.7 but breed A is empty"),
    # values no float can hold, huge echoes
    ("/generate", lambda f: ("Bengal", 10**400, 3.0, "euler", 0, 1, "ONNX fp32"),
     "steps must be an integer in [1, 100], got an integer of about 401 digits"),
    ("/generate", lambda f: ("Bengal", 4, 3.0, "euler", 10**400, 1, "ONNX fp32"),
     "seed must be an integer in [0, 4294967295], got an integer of about 401 digits"),
    ("/blend", lambda f: ("Bengal", 0.5, "Sphynx", 0.5, None, 0.0, 3, 3.0, 10**400, "ONNX fp32"), "seed must be an integer"),
    # the guide (autoguidance), on every endpoint that draws: the value is named
    ("/generate", lambda f: ("Bengal", 4, 3.0, "euler", 0, 1, "ONNX fp32", "quality", 7.5),
     "guide must be a number in [1.0, 5.0], got 7.5"),
    ("/generate", lambda f: ("Bengal", 4, 3.0, "euler", 0, 1, "PyTorch", "quality", 0.5),
     "guide must be a number in [1.0, 5.0], got 0.5"),
    ("/blend", lambda f: ("Bengal", 0.5, "Sphynx", 0.5, None, 0.0, 3, 3.0, 0, "ONNX fp32", "strong"),
     "guide must be a number in [1.0, 5.0], got 'strong'"),
    ("/restyle", lambda f: (_file(f["rgb.png"]), "Siamese", 0.5, 4, 3.0, 0, "PyTorch", 10**400),
     "guide must be a number in [1.0, 5.0], got an integer of about 401 digits"),
    ("/compare", lambda f: ("Bengal", 3, 3.0, 0, -1), "guide must be a number in [1.0, 5.0], got -1"),
]


@pytest.mark.parametrize("endpoint,make_args,message", BAD_REQUESTS,
                         ids=[f"{e}:{m[:24]}" for e, _, m in BAD_REQUESTS])
def test_bad_input_is_a_clear_error_and_the_app_stays_up(client, files, endpoint, make_args, message):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match=re.escape(message)):
        client.predict(*make_args(files), api_name=endpoint)
    _, _, probs = client.predict(_file(files["rgb.png"]), "ONNX fp32", api_name="/classify")  # still serving
    assert abs(sum(probs.values()) - 1.0) < 1e-5


def _file(path):
    from gradio_client import handle_file

    return handle_file(str(path))


def _message(result) -> str:
    kind, data = result
    assert kind == "error", result
    return data["error"] if isinstance(data, dict) else str(data)


REFUSED = ("this app only opens images uploaded to it; upload the image (in the page, or gradio_client's "
           "handle_file(path)) or send it inline as a data: URL")
META = {"_type": "gradio.FileData"}


def test_files_nobody_uploaded_are_refused_alike(served, cache_dir, files, tmp_path):
    """Bare paths, meta-less dicts, '..', symlinks in the upload folder, file:// URLs: one message, no image."""
    url = served[1]
    outside = files["rgb.png"]  # a real image on the server's disk that nobody uploaded
    inside = cache_dir / "planted"
    inside.mkdir(exist_ok=True)
    (inside / "link.png").unlink(missing_ok=True)
    (inside / "link.png").symlink_to(outside)
    payloads = {
        "bare path": {"path": str(outside)},
        "bare path, no such file": {"path": str(tmp_path / "nothing-here.png")},
        "bare dot-file": {"path": str(Path.home() / ".bashrc")},
        "bare /proc": {"path": "/proc/self/environ"},
        "path string": str(outside),
        "meta-less dict with url": {"path": str(outside), "url": "http://127.0.0.1/x.png", "orig_name": "x.png"},
        "meta, outside": {"path": str(outside), "meta": META},
        "meta, dot-dot out of the upload folder": {"path": f"{cache_dir}/../{outside.parent.name}/rgb.png", "meta": META},
        "meta, symlink in the upload folder": {"path": str(inside / "link.png"), "meta": META},
        "file:// URL": {"path": f"file://{outside}", "meta": META},
        "file:// url field": {"url": f"file://{outside}", "meta": META},
    }
    for what, payload in payloads.items():
        for api, data in (("classify", [payload, "ONNX fp32"]),
                          ("restyle", [payload, "Siamese", 0.0, 2, 3.0, 0, "ONNX fp32", GUIDE])):
            result = raw_call(url, api, data)
            message = _message(result)
            assert REFUSED in message or "must be an uploaded image" in message, (what, api, message)
            if isinstance(payload, dict) and "path" in payload:  # every path: word for word the same answer
                assert message == f"{'photo' if api == 'classify' else 'your cat'}: {REFUSED}", (what, message)
            assert str(outside.parent) not in message and "/proc" not in message and "bashrc" not in message


def test_an_uploaded_file_and_inline_data_are_accepted(served, files):
    from gradio_client import Client, handle_file

    c = Client(served[1], verbose=False, download_files=False)
    _, _, probs = c.predict(handle_file(str(files["rgb.png"])), "ONNX fp32", api_name="/classify")
    assert abs(sum(probs.values()) - 1.0) < 1e-5
    c.close()
    data = "data:image/png;base64," + base64.b64encode(files["rgb.png"].read_bytes()).decode()
    for payload in (data, {"url": data}, {"url": data, "meta": META}):
        kind, out = raw_call(served[1], "classify", [payload, "ONNX fp32"])
        assert kind == "complete", (payload if isinstance(payload, str) else payload.keys(), out)
        assert abs(sum(out[2].values()) - 1.0) < 1e-5


INTERNALS = ("pydantic", "object at 0x", "Traceback", "base64.b64decode", "binascii", "int too large",
             "Wanted inputs", "gradio.components", "validation error")


@pytest.mark.parametrize("api,data,message", [
    ("classify", ["", "ONNX fp32"], "photo: no image"),
    ("classify", [123, "ONNX fp32"], "photo must be an uploaded image"),
    ("classify", [["a", "b"], "ONNX fp32"], "photo must be an uploaded image"),
    ("classify", [{"url": "data:image/png;base64,@@not-base64@@"}, "ONNX fp32"], "photo: the data: URL's payload is not valid base64"),
    ("classify", ["data:image/png,plain", "ONNX fp32"], "photo: a data: URL must look like data:image/png;base64,BASE64"),
    ("restyle", [{"url": "data:image/png;base64,AAAA"}, "Siamese", 0.5, 2, 3.0, 0, "ONNX fp32", GUIDE],
     "cannot use this upload"),
    ("classify", [None], "/classify takes 2 inputs (photo, backend); got 1"),
    ("generate", ["Bengal", 4], "/generate takes 9 inputs (breed, steps, guidance, sampler, seed, number of images, "
                                "backend, mode, guide); got 2"),
    ("generate", ["Bengal", 4, 3.0, "euler", 0, 1, "ONNX fp32", "quality", None], "guide must be a number in [1.0, 5.0], got None"),
    ("generate", ["Bengal" * 40_000, 4, 3.0, "euler", 0, 1, "ONNX fp32", "quality", GUIDE], "breed must be one of Abyssinian"),
    ("generate", ["Bengal", 4, 3.0, "x" * 200_000, 0, 1, "ONNX fp32", "quality", GUIDE], "sampler must be one of euler, heun"),
    ("generate", ["Bengal", 4, 3.0, "euler", 0, 1, "ONNX fp32", "fast", GUIDE], "these weights have no few-step generator"),
])
def test_bad_payloads_get_the_apps_own_words(served, api, data, message):
    text = _message(raw_call(served[1], api, data))
    assert message in text
    assert not any(word in text for word in INTERNALS), text
    assert len(text) < 400, len(text)  # echoed values are cut short


def test_refusals_log_one_line_and_no_traceback(client, caplog, capfd):
    from gradio_client.exceptions import AppError

    capfd.readouterr()
    with caplog.at_level(logging.INFO, logger="tiny_cats.demo"):
        with pytest.raises(AppError, match="steps must be an integer"):
            client.predict("Bengal", 0, 3.0, "euler", 0, 1, "ONNX fp32", api_name="/generate")
        with pytest.raises(AppError, match="unknown breed"):
            client.predict("Dog", 3, 3.0, 4, "ONNX fp32", api_name="/compare")
    refused = [r for r in caplog.records if r.name == "tiny_cats.demo"]
    assert [r.getMessage().split(":")[0] for r in refused] == ["refused", "refused"]
    assert all("\n" not in r.getMessage() and r.exc_info is None for r in refused)
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.parametrize("flags,message", [(["--model", "/no/such/weights"], "no such directory"),
                                           (["--onnx", "/no/such/export"], "not an ONNX export")])
def test_missing_weights_stop_the_start_with_a_clear_message(weights, flags, message):
    if flags[0] == "--onnx":
        flags = ["--model", str(weights[0]), *flags]
    proc = subprocess.run([sys.executable, str(APP_PATH), *flags], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert message in proc.stderr


def test_startup_benchmark_serves_a_first_request(weights):
    from cats.benchmarks import gradio_startup

    result = gradio_startup.run(quick=True, model=weights[0], onnx=weights[1])
    assert result["runs"] == 1
    assert 0 < result["listening_s"] <= result["first_request_s"]



def _queue_call(url: str, fn_index: int, data, event_data=None) -> tuple[str, dict]:
    """Call an event by its index through the queue, as the page does -> (last message kind, message)."""
    import httpx

    session = f"probe{fn_index}"
    with httpx.Client(base_url=url, timeout=60) as http:
        r = http.post("gradio_api/queue/join", json={"data": data, "fn_index": fn_index, "session_hash": session,
                                                     "event_data": event_data, "trigger_id": None})
        assert r.status_code == 200, r.text
        text = http.get("gradio_api/queue/data", params={"session_hash": session}).text
    messages = [json.loads(line[len("data: "):]) for line in text.splitlines() if line.startswith("data: ")]
    done = next(m for m in messages if m.get("msg") == "process_completed")
    return ("ok" if done.get("success") else "error"), done.get("output", {})


def test_private_ui_events_refuse_bad_event_data_in_the_apps_words(served, caplog):
    demo, url = served
    names = {fn.fn.__name__: i for i, fn in enumerate(demo.fns.values()) if fn.fn is not None}
    cases = [(names["pick_breed"], [], {"index": "abc", "value": None}, "breed picture must be an integer"),
             (names["pick_breed"], [], {"index": 99, "value": None}, "breed picture must be an integer in [0, 11]"),
             (names["pick_breed"], [], {"value": None}, "this request is not one the page sends"),
             (names["pick_breed"], [], None, "this request is not one the page sends"),
             (names["on_mode"], ["turbo"], None, "mode must be one of quality, fast")]
    with caplog.at_level(logging.INFO, logger="tiny_cats.demo"):
        for fn_index, data, event_data, message in cases:
            kind, output = _queue_call(url, fn_index, data, event_data)
            assert kind == "error" and message in (output.get("error") or ""), (message, output)
    refused = [r for r in caplog.records if r.name == "tiny_cats.demo" and r.getMessage().startswith("refused")]
    assert len(refused) == len(cases) and all(r.exc_info is None for r in refused)  # one line each, no traceback
    kind, output = _queue_call(url, names["pick_breed"], [], {"index": 3, "value": None})
    assert kind == "ok" and output["data"] == ["Bombay"]  # what the page sends still works


def test_download_names_are_the_web_clients():
    """The same names as webclient/tests/unit/share.test.ts: a blend in breed-id order whatever order it was given."""
    _load_app_module()  # puts spaces_demo/ on the path
    import render

    assert render.subject(blend={"Siamese": 0.5, "Persian": 0.5}) == "Persian50-Siamese50"
    assert render.subject(blend={"Persian": 1.0, "Bengal": 3.0, "Sphynx": 0.0}) == "Bengal75-Persian25"
    assert render.download_names(render.subject("British Shorthair"), 0, "quality", 1) == \
        ["tiny-cats_British-Shorthair_seed0_quality.png"]
    assert render.download_names(render.subject(restyle="Siamese"), 12, "quality", 1) == \
        ["tiny-cats_restyle-Siamese_seed12_quality.png"]


def test_share_links_name_what_they_ignore_and_refuse_blends_the_tab_cannot_hold():
    """The rules both front-ends share are in webclient/tests/fixtures/share.json (test_web_fixtures.py keeps it
    current); here: the notice a visitor reads, and the Gradio-only limit of three blend slots."""
    _load_app_module()  # puts spaces_demo/ on the path
    import share

    link = share.read_query({"blend": "Siamese:0.4,Persian:0.3,Bengal:0.2,Bombay:0.1", "seed": "7"}, (1, 2, 4))
    assert link.blend is None and link.seed == 7 and link.ignored == ["blend"]
    assert "up to 3 breeds" in link.notice
    link = share.read_query({"breed": "Bombay", "blend": "Siamese:1", "utm_source": "chat"}, (1, 2, 4))
    assert link.breed == "Bombay" and link.ignored == ["blend"]
    assert link.notice.startswith("**Some of this link's settings were not used:**")
    assert "not both" in link.notice and "“utm_source” is not a setting of this demo" in link.notice
    assert share.read_query({"breed": "Bombay", "seed": "3"}, (1, 2, 4)).notice == ""
    assert "the weight of Siamese must be a number from 0 to 1" in share.read_query({"blend": "Siamese"}, (1, 2, 4)).notice


def test_share_links_carry_the_guide_in_quality_mode_only():
    """The guide key: read (rules in share.json too) and written after guidance; the notice names a bad value."""
    _load_app_module()  # puts spaces_demo/ on the path
    import render
    import share

    link = share.read_query({"breed": "Bombay", "guidance": "2", "guide": "2.5"}, (1, 2, 4))
    assert (link.guidance, link.guide, link.notice) == (2.0, 2.5, "")
    for bad in ("9", "0.5", "two", ""):
        link = share.read_query({"guide": bad}, (1, 2, 4))
        assert link.guide is None and link.ignored == ["guide"]
        assert f"guide “{bad}” should be a number from 1 to 5" in link.notice, link.notice
    link = share.read_query({"mode": "fast", "steps": "2", "guidance": "3", "guide": "2"}, (1, 2, 4))
    assert link.guide is None and link.ignored == ["guidance", "guide"]
    assert link.notice.count("fast mode has its guidance built in") == 1  # one reason, said once
    link = share.read_query({"guide": "2"}, (1, 2, 4), has_guide=False)
    assert link.guide is None and "these weights have no guide network" in link.notice
    link = share.read_query({"guide": "1"}, (1, 2, 4), has_guide=False)  # off: the same picture without a guide
    assert (link.guide, link.notice) == (1.0, "")

    assert render.share_query(7, "quality", 20, 2.0, breed="Siamese", guide=1.5) == \
        "?breed=Siamese&seed=7&mode=quality&steps=20&guidance=2&guide=1.5"
    assert render.share_query(7, "quality", 20, 2.0, breed="Siamese") == \
        "?breed=Siamese&seed=7&mode=quality&steps=20&guidance=2"  # weights without a guide
    assert render.share_query(7, "fast", 2, 2.0, breed="Siamese", guide=2.0) == "?breed=Siamese&seed=7&mode=fast&steps=2"
    written = render.share_query(3, "quality", 8, 4.5, blend={"Siamese": 1.0, "Persian": 1.0}, guide=3.0)
    read = share.read_query(dict(parse_qsl(written[1:])), (1, 2, 4))
    assert (read.blend, read.seed, read.steps, read.guidance, read.guide, read.notice) == \
        ({"Siamese": 0.5, "Persian": 0.5}, 3, 8, 4.5, 3.0, "")
