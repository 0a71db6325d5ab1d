"""One screenshot per tab of the Gradio demo, taken in headless Debian Chromium.

    python scripts/screenshots.py [--out docs/screenshots] [--chromium /usr/bin/chromium] [-- APP FLAGS]

Starts ``spaces_demo/app.py`` on a free port (app flags after ``--``, e.g. ``-- --model DIR --onnx
DIR``), draws a cat with it for the Classify and Restyle tabs, then runs the web client's
``scripts/screenshots.mjs``: playwright-core drives Chromium (no browser download, as in the web
tests) through each tab once and writes ``generate.png``, ``classify.png``, ``design.png``,
``compare.png``. Needs Node and the web client's packages (``cd webclient && npm ci``).
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

from cats.paths import DEMO_APP, SCREENSHOTS_DIR, WEB_DIR  # noqa: E402

TOUR = WEB_DIR / "scripts" / "screenshots.mjs"


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


def make_photo(url: str, folder: Path) -> Path:
    """A cat for the Classify and Restyle tabs: one the app draws (Siamese, seed 7)."""
    from gradio_client import Client

    client = Client(url, verbose=False)
    result = client.predict("Siamese", 20, 3.0, "euler", 7, 1, _default_backend(client), api_name="/generate")
    src = Path(result[3][0])
    dst = folder / "cat.png"
    shutil.copy(src, dst)
    return dst


def _default_backend(client) -> str:
    info = client.view_api(print_info=False, return_format="dict")
    param = next(p for p in info["named_endpoints"]["/generate"]["parameters"] if p["parameter_name"] == "backend_label")
    return param["parameter_default"]


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
        photo = make_photo(url, tmp)
        tour = subprocess.run([node, str(TOUR), "--url", url, "--photo", str(photo), "--out", str(args.out.resolve())],
                              cwd=WEB_DIR, env=dict(os.environ, CHROMIUM_PATH=str(args.chromium)))
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
