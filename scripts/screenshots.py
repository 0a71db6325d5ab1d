"""One screenshot per tab of the Gradio demo, taken in headless Debian Chromium.

    python scripts/screenshots.py [--out docs/screenshots] [--chromium /usr/bin/chromium] [-- APP FLAGS]

Starts ``spaces_demo/app.py`` on a free port (app flags after ``--``, e.g. ``-- --model DIR --onnx
DIR``), drives Chromium through the DevTools protocol (no browser download: playwright cannot fetch
browsers here), runs each tab once — generate, classify and restyle a cat the app itself drew, blend,
compare backends — and writes ``generate.png``, ``classify.png``, ``design.png``, ``compare.png``.
Every wait is on a condition in the page, with a timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import aiohttp  # a dependency of modal (pinned in requirements.txt); gives a WebSocket client

ROOT = Path(__file__).resolve().parents[1]
TABS = ("Generate", "Classify", "Design", "Compare backends")
WIDTH, HEIGHT = 1280, 900


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


class Page:
    """The smallest DevTools-protocol client that can click, upload and capture."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws, self.next_id = ws, 0

    async def send(self, method: str, **params) -> dict:
        self.next_id += 1
        my_id = self.next_id
        await self.ws.send_str(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            msg = json.loads((await self.ws.receive()).data)
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    async def js(self, expression: str):
        res = await self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in res:
            raise RuntimeError(f"page script failed: {res['exceptionDetails'].get('text')} in {expression[:80]}")
        return res["result"].get("value")

    async def wait_for(self, expression: str, what: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if await self.js(expression):
                return
            await asyncio.sleep(0.2)
        raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")

    async def click_text(self, text: str, tab: bool = False) -> None:
        """Click the visible button (or, with ``tab``, the tab) whose text is exactly ``text``.

        The last match wins: Gradio's tab bar keeps hidden copies of the tab names before the panels.
        """
        selector = "button[role=tab]" if tab else "button:not([role=tab])"
        found = await self.js(f"""(() => {{
            const b = [...document.querySelectorAll({json.dumps(selector)})].filter(
                e => e.textContent.trim() === {json.dumps(text)} && e.offsetParent !== null).pop();
            if (b) b.click();
            return !!b; }})()""")
        if not found:
            raise SystemExit(f"no visible button {text!r} on the page")

    async def upload(self, path: Path, index: int = 0) -> None:
        """Set a file on the index-th visible file input of the current tab."""
        doc = await self.send("DOM.getDocument", depth=-1, pierce=True)
        nodes = await self.send("DOM.querySelectorAll", nodeId=doc["root"]["nodeId"],
                                selector="[role=tabpanel]:not([style*='display: none']) input[type=file]")
        ids = nodes["nodeIds"]
        if len(ids) <= index:
            raise SystemExit(f"the tab has {len(ids)} file inputs, wanted #{index}")
        await self.send("DOM.setFileInputFiles", nodeId=ids[index], files=[str(path)])

    async def screenshot(self, path: Path) -> None:
        await self.wait_for("[...document.images].every(i => i.complete && (i.naturalWidth > 0 || !i.src))",
                            "the images to load", 30)
        height = await self.js("Math.ceil(document.documentElement.scrollHeight)")
        await self.send("Emulation.setDeviceMetricsOverride", width=WIDTH, height=int(height),
                        deviceScaleFactor=1, mobile=False)
        await asyncio.sleep(0.5)  # let the layout settle at the new height
        shot = await self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        await self.send("Emulation.setDeviceMetricsOverride", width=WIDTH, height=HEIGHT,
                        deviceScaleFactor=1, mobile=False)
        print(f"wrote {path} ({path.stat().st_size:,} bytes)")


TEXT_IN = "[...document.querySelectorAll('.prose, .md')].some(e => e.offsetParent !== null && e.textContent.includes({}))"


async def tour(url: str, devtools_port: int, out: Path, photo: Path) -> None:
    with urllib.request.urlopen(f"http://127.0.0.1:{devtools_port}/json/list") as r:
        target = next(t for t in json.load(r) if t["type"] == "page")
    async with aiohttp.ClientSession() as session, \
            session.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as ws:
        page = Page(ws)
        await page.send("Page.enable")
        await page.send("Emulation.setDeviceMetricsOverride", width=WIDTH, height=HEIGHT,
                        deviceScaleFactor=1, mobile=False)
        await page.send("Page.navigate", url=url)
        await page.wait_for("!!document.querySelector('#weights-note')", "the app to render", 60)
        await page.wait_for("document.querySelectorAll('#breed-picker img').length >= 12", "breed thumbnails", 60)

        await page.click_text("Generate")
        await page.wait_for(TEXT_IN.format(json.dumps("Done")), "the generation to finish")
        await page.screenshot(out / "generate.png")

        await page.click_text("Classify", tab=True)
        await page.upload(photo)
        await page.wait_for("[...document.querySelectorAll('[role=tabpanel] img')].some(e => e.offsetParent)",
                            "the uploaded photo to show")
        await page.click_text("Classify")
        await page.wait_for(TEXT_IN.format(json.dumps("Top 3")), "the classification")
        await page.screenshot(out / "classify.png")

        await page.click_text("Design", tab=True)
        await page.click_text("Blend")
        await page.wait_for(TEXT_IN.format(json.dumps("steps in")), "the blend")
        await page.upload(photo)
        await asyncio.sleep(1.0)  # the upload's preview appears before the restyle uses it
        await page.click_text("Restyle")
        await page.wait_for(TEXT_IN.format(json.dumps("at strength")), "the restyle")
        await page.screenshot(out / "design.png")

        await page.click_text("Compare backends", tab=True)
        await page.click_text("Compare")
        await page.wait_for(TEXT_IN.format(json.dumps("ms/step")), "the backend comparison", 300)
        await page.screenshot(out / "compare.png")


def make_photo(url: str, folder: Path) -> Path:
    """A cat for the Classify and Restyle tabs: one the app draws (Siamese, seed 7)."""
    from gradio_client import Client

    client = Client(url, verbose=False)
    backend = client.view_api(print_info=False, return_format="dict")  # noqa: F841 - fails early if down
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
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    p.add_argument("--chromium", default=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
    p.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for the app to start")
    args = p.parse_args(argv)
    if not Path(args.chromium).is_file():
        raise SystemExit(f"no Chromium at {args.chromium}; pass --chromium PATH or set CHROMIUM_PATH")
    args.out.mkdir(parents=True, exist_ok=True)

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    tmp = Path(tempfile.mkdtemp(prefix="tiny-cats-shots-"))
    app = subprocess.Popen([sys.executable, str(ROOT / "spaces_demo" / "app.py"), "--port", str(port), *app_flags])
    browser = None
    try:
        wait_http(url, app, args.timeout)
        photo = make_photo(url, tmp)
        browser = subprocess.Popen(
            [args.chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--hide-scrollbars", f"--user-data-dir={tmp / 'profile'}", "--remote-debugging-port=0",
             f"--window-size={WIDTH},{HEIGHT}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = tmp / "profile" / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not port_file.is_file() or not port_file.read_text().strip():
            if time.monotonic() > deadline or browser.poll() is not None:
                raise SystemExit("Chromium did not open its DevTools port")
            time.sleep(0.1)
        asyncio.run(tour(url, int(port_file.read_text().split()[0]), args.out, photo))
    finally:
        for proc in (browser, app):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
