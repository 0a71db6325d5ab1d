"""tiny-cats Gradio demo: generate cats of a chosen breed, classify a cat picture, blend and restyle.

    python spaces_demo/app.py [--model PATH_OR_HUB_REPO] [--onnx DIR] [--host H] [--port P] [--share]

No flags: the bundled SynthCats weights (``cats/weights/synthcats``) and, when built, the ONNX
graphs the web client runs — no download. On a Hugging Face Space, ``TINY_CATS_MODEL`` names a Hub
repo to load instead (see ``sources.py``). This file is the command line and the layout; the
endpoints are in ``handlers.py``, every one a named API endpoint for ``gradio_client``.
"""

from __future__ import annotations

import argparse
import logging
import signal
import socket
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if not (HERE / "cats").is_dir():  # in the repository; on a Space, cats/ is copied beside app.py
    sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from sources import SourceError, Sources, read_manifest, resolve_sources  # noqa: E402  (light imports)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="tiny-cats demo: generate, classify, blend and restyle cats.")
    p.add_argument("--model", default=None, metavar="PATH_OR_HUB_REPO",
                   help="CatsPipeline directory, bundled name or Hub repo (default: bundled 'synthcats', "
                        "or the TINY_CATS_MODEL environment variable)")
    p.add_argument("--onnx", default=None, metavar="DIR",
                   help="ONNX export directory (manifest.json) for the ONNX backend (default: the web "
                        "client's export with the bundled weights, or DIR/onnx beside --model)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 on a Space)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    p.add_argument("--threads", type=int, default=None, help="ONNX Runtime intra-op threads (default: its own)")
    p.add_argument("--concurrency", type=int, default=1,
                   help="requests run at once; the rest wait in the queue (each backend runs one at a time)")
    p.add_argument("--max-queue", type=int, default=32, help="queued requests before new ones are turned away")
    p.add_argument("--cache-ttl", type=int, default=3600, metavar="SECONDS",
                   help="uploads and results older than this are deleted from Gradio's cache (checked at start "
                        "and every quarter of it), also those a killed instance left; emptied when the app stops")
    args = p.parse_args(argv)
    if args.concurrency < 1 or args.max_queue < 1 or args.cache_ttl < 1:
        p.error("--concurrency, --max-queue and --cache-ttl must be >= 1")
    return args


def launch_kwargs(args: argparse.Namespace) -> dict:
    """What main() passes to demo.launch (the tests launch with the same).

    show_error=False: a fault's text (paths, library internals) stays in the server log; the
    visitor's own mistakes are gr.Error messages, which Gradio always shows.
    """
    # imported here: these modules import gradio, which app.py loads only after the port and the flags check out
    from guard import cache_lifespan
    from ui import CSS
    from uploads import MAX_UPLOAD_MB, upload_folder

    every = max(1, args.cache_ttl // 4)  # Gradio's delete_cache period (see build_app)
    return dict(server_name=args.host, server_port=args.port, share=args.share, css=CSS,
                max_file_size=f"{MAX_UPLOAD_MB}mb", show_error=False,
                app_kwargs={"lifespan": cache_lifespan(upload_folder(), every, args.cache_ttl)})


def load_sources(args: argparse.Namespace) -> Sources:
    """Resolve the weights or exit with a clear message (non-zero status)."""
    try:
        return resolve_sources(args.model, args.onnx)
    except SourceError as exc:
        raise SystemExit(f"tiny-cats demo: {exc}") from None


def check_port(host: str, port: int) -> None:
    """Exit with the fix (``--port``) when the address is taken, before the slow start."""
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            raise SystemExit(port_taken(host, port)) from None


def port_taken(host: str, port: int) -> str:
    return (f"tiny-cats demo: port {port} on {host} is already in use (another demo running?); "
            f"start this one on another port with --port, e.g. --port {port + 1}")


def build_app(args: argparse.Namespace, sources: Sources | None = None):
    """Load the backends and lay out the UI (ui.py) -> gr.Blocks, queued."""
    from backends import make_backends  # here, not at the top, so a wrong --model fails before the slow imports
    from guard import remove_dead_downloads  # imported here: gradio and the pipelines, as make_backends
    from handlers import Handlers
    from ui import build_ui

    sources = sources or load_sources(args)
    remove_dead_downloads()
    manifest = read_manifest(sources.onnx_dir) if sources.onnx_dir else None
    h = Handlers(make_backends(sources.model_dir, sources.onnx_dir, manifest, args.threads))
    demo = build_ui(h, sources, args.cache_ttl)
    demo.queue(default_concurrency_limit=args.concurrency, max_size=args.max_queue)
    h.is_uploaded = demo.was_uploaded
    demo.handlers = h  # so whoever closes the app can remove the download folder
    return demo


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    sources = load_sources(args)
    check_port(args.host, args.port)
    # One line per refused request (checks.refuse); faults keep Gradio's tracebacks.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for noisy in ("httpx", "httpcore"):  # one line per internal HTTP call otherwise
        logging.getLogger(noisy).setLevel(logging.WARNING)
    demo = build_app(args, sources)
    # A Space (and the soak benchmark) stops the app with SIGTERM: as Ctrl-C, so Gradio closes the
    # server (its shutdown empties the cache) and the download folder is removed at exit.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        demo.launch(**launch_kwargs(args))
    except OSError as exc:  # taken between check_port and now: Gradio's advice names its own variable
        if "port" not in str(exc).lower():
            raise
        raise SystemExit(port_taken(args.host, args.port)) from None


if __name__ == "__main__":
    main()
