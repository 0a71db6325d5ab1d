"""The Gradio demo in headless Chromium, as a visitor sees it (scripts/gradio_browser.mjs drives the page).

The app runs on the bundled SynthCats weights (whose classifier knows drawings, not photos) on a free
localhost port with its own Gradio cache. One browser tour, then one test per promise of the page:
the first screen, the phone width, the verdict on a photo that is not a cat drawing, share links and
a failed upload. Needs Node, the web client's packages (playwright-core) and Chromium.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
pytestmark = pytest.mark.timeout(900)


def _missing_tools() -> list[str]:
    """What this machine lacks for the browser tour (scripts/test.sh installs all of it first)."""
    missing = [] if shutil.which("node") else ["Node 20+"]
    if not Path(CHROMIUM).is_file():
        missing.append(f"Chromium at {CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)")
    if not (ROOT / "webclient" / "node_modules" / "playwright-core").is_dir():
        missing.append("the web client's packages (cd webclient && npm ci)")
    return missing


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def tour(tmp_path_factory) -> dict:
    missing = _missing_tools()
    if missing:  # a failure, not a skip: these checks are the demo's first-screen promises
        pytest.fail("the Gradio browser tests need " + ", ".join(missing) + "; bash scripts/test.sh sets them up")
    from PIL import Image
    from skimage import data as skdata

    root = tmp_path_factory.mktemp("browser")
    photo, broken = root / "person.png", root / "broken.png"
    Image.fromarray(skdata.astronaut()).save(photo)  # a person: no cat, and a photo
    broken.write_text("this is not a picture")
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {**os.environ, "GRADIO_TEMP_DIR": str(root / "cache"), "GRADIO_ANALYTICS_ENABLED": "False"}
    app = subprocess.Popen([sys.executable, str(ROOT / "spaces_demo" / "app.py"), "--port", str(port)], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                urllib.request.urlopen(url, timeout=2).close()
                break
            except OSError:
                assert app.poll() is None and time.monotonic() < deadline, "the app did not start"
                time.sleep(0.5)
        out = subprocess.run(["node", str(ROOT / "scripts" / "gradio_browser.mjs"), "--url", url, "--photo", str(photo),
                              "--broken", str(broken)], cwd=ROOT / "webclient", capture_output=True, text=True,
                             timeout=600, env={**os.environ, "CHROMIUM_PATH": CHROMIUM})
        assert out.returncode == 0, out.stderr[-3000:]
        return json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        app.terminate()
        app.wait(timeout=30)


def _inside(box: dict, width: int, height: int) -> bool:
    return box["x"] >= 0 and box["y"] >= 0 and box["right"] <= width and box["bottom"] <= height


def test_generate_and_the_whole_result_are_on_the_first_screen(tour):
    first = tour["first_screen"]
    assert first["viewport"] == {"width": 1280, "height": 900}
    assert _inside(first["button"], 1280, 900), first["button"]
    assert len(first["images"]) == 1
    for img in first["images"]:  # whole, square, and at a whole multiple of the model's pixels
        assert _inside(img, 1280, 900), img
        assert img["width"] == img["height"] and img["width"] % img["natural"] == 0, img


def test_nothing_leaves_a_phone_screen_sideways(tour):
    phone = tour["phone"]
    assert phone["width"] == 390 and phone["scrollWidth"] <= 390
    assert phone["breeds"] == 12 and phone["checked"] > 20  # the breed pictures and the controls were looked at
    assert phone["outside"] == []


def test_a_photo_of_a_person_is_headlined_as_unfamiliar(tour):
    v = tour["verdict"]
    assert v["kind"] == "unfamiliar"
    assert v["headline"] == "This doesn't look like a cat drawing I know"
    assert v["barsTitle"] == "Closest match — not reliable"
    assert v["barColors"] and all(c == "rgb(154, 154, 154)" for c in v["barColors"])  # grey, not green


def test_share_links_set_the_same_settings(tour):
    share = tour["share"]
    assert share["quality"] == {"breed": "British Shorthair", "seed": "4294967295", "steps": "7", "guidance": "4.5",
                                "guide": "3.5", "guideDisabled": False, "mode": "quality", "fastSteps": None,
                                "notice": ""}
    fast = share["fast"]
    assert (fast["breed"], fast["seed"], fast["mode"], fast["fastSteps"], fast["notice"]) == ("Sphynx", "12", "fast", "4", "")
    assert fast["guideDisabled"] is True  # fast mode has its guidance built in: the guide is greyed out
    assert share["blend"] == {"breed_a": "Siamese", "weight_a": "0.7", "breed_b": "Persian", "weight_b": "0.3",
                              "breed_c": "", "weight_c": "0"}
    bad = share["bad"]  # a mistyped link opens the demo at its defaults and says what it did not use
    assert (bad["breed"], bad["seed"], bad["mode"]) == ("Abyssinian", "0", "quality")
    default = json.loads((ROOT / "cats" / "weights" / "synthcats" / "model_index.json").read_text())
    assert float(bad["guide"]) == default["default_autoguidance_scale"]  # the weights' default, not the link's 9
    for words in ("“colour” is not a setting", "“Dog” is not one of the 12 breeds", "seed must be", "steps must be",
                  "guide “9” should be a number from 1 to 5"):
        assert words in bad["notice"], bad["notice"]


def test_a_failed_upload_clears_the_previous_verdict(tour):
    failed = tour["failed_upload"]
    assert failed["before"] and not failed["verdictLeft"]
    assert "is not an image this app can read" in failed["message"]
