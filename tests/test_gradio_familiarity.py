"""The demo's "unfamiliar" verdict on the bundled weights, over HTTP with gradio_client.

The app runs as ``python spaces_demo/app.py`` does with no flags: the bundled SynthCats pipeline and
the web client's export. A real photograph (scikit-image's tabby cat, shipped inside the wheel) must
come back "unfamiliar" with the reason naming what the weights know; SynthCats drawings must get
their breed; restyling the photo must warn that the result may not look like the cat.
"""

from __future__ import annotations

import importlib.util
import re
import socket
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from gradio_client import Client

    spec = importlib.util.spec_from_file_location("tiny_cats_demo_app_familiarity", ROOT / "spaces_demo" / "app.py")
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = app.parse_args(["--port", str(port)])
    demo = app.build_app(args)
    demo.launch(**{**app.launch_kwargs(args), "prevent_thread_lock": True, "quiet": True})
    c = Client(f"http://127.0.0.1:{port}/", verbose=False, download_files=str(tmp_path_factory.mktemp("downloads")))
    yield c
    c.close()
    demo.close()
    demo.handlers.close()


@pytest.fixture(scope="module")
def pictures(tmp_path_factory) -> dict[str, tuple[Path, str | None]]:
    """name -> (PNG path, the breed it shows or None for the photo)."""
    from skimage import data as skdata

    from cats.breeds import BREEDS
    from cats.data import load_dataset

    root = tmp_path_factory.mktemp("pictures")
    out = {"photo": (root / "chelsea.png", None)}
    Image.fromarray(skdata.chelsea()).save(out["photo"][0])
    test = load_dataset("synthcats", split="test", image_size=64)
    for i in range(6):  # the first six test drawings: six different breeds
        path = root / f"drawing{i}.png"
        Image.fromarray(test.images[i].permute(1, 2, 0).numpy()).save(path)
        out[f"drawing{i}"] = (path, BREEDS[int(test.labels[i])])
    return out


def _classify(client, path: Path, backend: str) -> tuple[str, str]:
    """-> (the headline's verdict: a breed name, "unfamiliar", "other" or "unsure"; the whole verdict HTML + details)."""
    from gradio_client import handle_file

    verdict, details, _ = client.predict(handle_file(str(path)), backend, api_name="/classify")
    return re.search(r'data-verdict="([^"]+)"', verdict)[1], verdict + details


@pytest.mark.parametrize("backend", ["PyTorch", "ONNX fp32"])
def test_a_photo_is_unfamiliar_and_drawings_get_their_breed(client, pictures, backend):
    kind, text = _classify(client, pictures["photo"][0], backend)
    assert kind == "unfamiliar", text
    # the headline is the verdict, the bars are only the closest match, the figures wait under Details
    assert "<h2 class=\"verdict-headline\">This doesn&#x27;t look like a cat drawing I know</h2>" in text
    assert "Closest match — not reliable" in text and 'class="verdict unreliable"' in text
    assert "unlike anything these weights were trained on" in text and "SynthCats" in text
    named = [_classify(client, path, backend)[0] == breed for name, (path, breed) in pictures.items() if breed is not None]
    assert sum(named) >= 5, named  # 95% of drawings pass the familiarity check by construction of its threshold


def test_restyling_a_photo_warns_that_it_is_unfamiliar(client, pictures):
    from gradio_client import handle_file

    _, status, result = client.predict(handle_file(str(pictures["photo"][0])), "Siamese", 0.5, 4, 3.0, 0, "PyTorch",
                                       api_name="/restyle")
    assert "unlike the pictures these weights learned from" in status
    assert np.asarray(Image.open(result)).shape == (64, 64, 3)  # the restyle still runs
    familiar = next(path for name, (path, breed) in pictures.items()
                    if breed is not None and _classify(client, path, "PyTorch")[0] == breed)
    _, _, status = client.predict(handle_file(str(familiar)), "Siamese", 0.5, 4, 3.0, 0, "PyTorch", api_name="/restyle")
    assert "unlike the pictures" not in status
