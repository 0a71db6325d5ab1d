"""Screenshots of the Gradio demo as a visitor sees it, taken in headless Debian Chromium.

    python scripts/screenshots.py [--out docs/screenshots] [--chromium /usr/bin/chromium] [-- APP FLAGS]

Starts ``spaces_demo/app.py`` on a free port (app flags after ``--``, e.g. ``-- --model DIR --onnx
DIR``), then runs ``scripts/gradio_browser.mjs`` (playwright-core, the web client's Chromium
launcher: no browser download) with ``--shots``: ``generate.png`` (the first screen at 1280 x 900
after one Generate), ``generate-phone.png`` (the whole page at 390 px), ``classify.png`` (a photo
of a person: the unfamiliar verdict) and ``restyle.png`` (a SynthCats drawing, restyled). Needs Node and
the web client's packages (``cd webclient && npm ci``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cats.paths import DEMO_APP, ROOT, SCREENSHOTS_DIR, WEB_DIR  # noqa: E402

TOUR = ROOT / "scripts" / "gradio_browser.mjs"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the process exited with status {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.25)
    raise SystemExit(f"{url} did not answer within {timeout:.0f} s")


def make_pictures(folder: Path) -> tuple[Path, Path, Path]:
    """A photo with no cat (a person), a file that is not a picture, and a SynthCats test drawing."""
    from PIL import Image
    from skimage import data as skdata

    from cats.data import load_dataset

    photo, broken, cat = folder / "person.png", folder / "broken.png", folder / "cat.png"
    Image.fromarray(skdata.astronaut()).save(photo)
    broken.write_text("this is not a picture")
    drawing = load_dataset("synthcats", split="test", image_size=64).images[0]  # (3, 64, 64) uint8
    Image.fromarray(drawing.permute(1, 2, 0).numpy()).save(cat)
    return photo, broken, cat


def main() -> None:
    argv = sys.argv[1:]
    app_flags = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=SCREENSHOTS_DIR)
    p.add_argument("--chromium", default=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
    p.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for the app to start")
    args = p.parse_args(argv)
    if not Path(args.chromium).is_file():
        raise SystemExit(f"no Chromium at {args.chromium}; pass --chromium PATH or set CHROMIUM_PATH")
    node = shutil.which("node")
    if node is None or not (WEB_DIR / "node_modules" / "playwright-core").is_dir():
        raise SystemExit("the browser tour needs Node and the web client's packages: cd webclient && npm ci")

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    tmp = Path(tempfile.mkdtemp(prefix="tiny-cats-shots-"))
    app = subprocess.Popen([sys.executable, str(DEMO_APP), "--port", str(port), *app_flags])
    try:
        wait_http(url, app, args.timeout)
        photo, broken, cat = make_pictures(tmp)
        tour = subprocess.run([node, str(TOUR), "--url", url, "--photo", str(photo), "--broken", str(broken),
                               "--shots", str(args.out.resolve()), "--cat", str(cat)],
                              cwd=WEB_DIR, env=dict(os.environ, CHROMIUM_PATH=str(args.chromium)), stdout=subprocess.DEVNULL)
        if tour.returncode != 0:
            raise SystemExit(f"the browser tour failed (status {tour.returncode}); its output is above")
    finally:
        if app.poll() is None:
            app.terminate()
            try:
                app.wait(timeout=10)
            except subprocess.TimeoutExpired:
                app.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
