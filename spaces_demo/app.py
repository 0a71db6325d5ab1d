"""tiny-cats Gradio demo: generate cats of a chosen breed, classify a cat photo, blend and restyle.

    python spaces_demo/app.py [--model PATH_OR_HUB_REPO] [--onnx DIR] [--host H] [--port P] [--share]

No flags: the bundled SynthCats weights (``cats/weights/synthcats``) and, when present, the ONNX
graphs the web client ships — no download. On a Hugging Face Space, ``TINY_CATS_MODEL`` names a Hub
repo to load instead (see ``sources.py``). UI only: the handlers call the PyTorch or the ONNX
pipeline through ``backends.py``; every event is a named API endpoint for ``gradio_client``.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if not (HERE / "cats").is_dir():  # in the repository; on a Space, cats/ is copied beside app.py
    sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from sources import SourceError, Sources, read_manifest, resolve_sources  # noqa: E402  (light imports)

# The model draws 32-64 px images: show them large, with crisp pixels instead of blur.
CSS = """
.pixelated img { image-rendering: pixelated; }
.upscale img { width: 100%; height: 100%; object-fit: contain; }
.denoise-cells { display: flex; flex-wrap: wrap; gap: 8px; }
.denoise-cells figure { margin: 0; text-align: center; }
.denoise-cells img { image-rendering: pixelated; width: 128px; height: 128px; }
"""
MAX_FILE_SIZE = "25mb"  # uploads; inline data: images are held to the same size (handlers.MAX_UPLOAD_MB)


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
    p.add_argument("--thumbnail-steps", type=int, default=8, help="denoising steps of the breed thumbnails")
    p.add_argument("--cache-ttl", type=int, default=3600, metavar="SECONDS",
                   help="uploads and results older than this are deleted from Gradio's cache (checked every "
                        "quarter of it); the cache is emptied when the app stops")
    args = p.parse_args(argv)
    if args.concurrency < 1 or args.max_queue < 1 or args.thumbnail_steps < 1 or args.cache_ttl < 1:
        p.error("--concurrency, --max-queue, --thumbnail-steps and --cache-ttl must be >= 1")
    return args


def launch_kwargs(args: argparse.Namespace) -> dict:
    """What main() passes to demo.launch (the tests launch with the same).

    show_error=False: a fault's text (paths, library internals) stays in the server log; the
    visitor's own mistakes are gr.Error messages, which Gradio always shows.
    """
    from guard import cache_lifespan
    from handlers import upload_folder

    every = max(1, args.cache_ttl // 4)  # Gradio's delete_cache period (see build_demo)
    # A folder left empty by delete_cache is pruned once it has stayed empty for one period.
    return dict(server_name=args.host, server_port=args.port, share=args.share, css=CSS,
                max_file_size=MAX_FILE_SIZE, show_error=False,
                app_kwargs={"lifespan": cache_lifespan(upload_folder(), every, every)})


def load_sources(args: argparse.Namespace) -> Sources:
    """Resolve the weights or exit with a clear message (non-zero status)."""
    try:
        return resolve_sources(args.model, args.onnx)
    except SourceError as exc:
        raise SystemExit(f"tiny-cats demo: {exc}") from None


def weights_note(sources: Sources, manifest: dict | None, backends) -> str:
    """Markdown: which weights are loaded, what they were trained on, which backends exist."""
    trained_on = (manifest or {}).get("weights", {}).get("trained_on")
    if trained_on is None:
        trained_on = _pipeline_trained_on(sources.model_dir)
    return (f"**Weights:** {sources.model_label} — trained on: {trained_on or 'not recorded in the weights'}.  \n"
            f"**Backends:** {', '.join(backends)} · ONNX graphs: {sources.onnx_note}.")


def _model_index(model_dir: Path) -> dict:
    """The pipeline's saved config (CatsPipeline.save_pretrained writes model_index.json)."""
    try:
        return json.loads((model_dir / "model_index.json").read_text())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"tiny-cats demo: cannot read {model_dir / 'model_index.json'}: {exc}") from None


def _pipeline_trained_on(model_dir: Path) -> str | None:
    config = _model_index(model_dir)
    weights = config.get("weights")
    return config.get("trained_on") or (weights.get("trained_on") if isinstance(weights, dict) else None)


def build_app(args: argparse.Namespace, sources: Sources | None = None):
    """Load the backends, draw the breed thumbnails once and lay out the UI -> gr.Blocks."""
    import gradio as gr  # here, not at the top, so a wrong --model fails before the slow import
    from backends import make_backends
    from guard import DemoBlocks
    from handlers import LIMITS, SAMPLERS, Handlers, new_seed, pick_breed

    from cats.breeds import BREEDS

    sources = sources or load_sources(args)
    manifest = read_manifest(sources.onnx_dir) if sources.onnx_dir else None
    backends = make_backends(sources.model_dir, sources.onnx_dir, manifest, args.threads)
    h = Handlers(backends)
    default_backend = next(iter(backends))
    steps0, guidance0 = _defaults(manifest, sources.model_dir)
    thumbs = backends[default_backend].generate(list(BREEDS), args.thumbnail_steps, guidance0, "euler", 0, len(BREEDS))

    ttl = getattr(args, "cache_ttl", 3600)
    with DemoBlocks(title="tiny-cats", delete_cache=(max(1, ttl // 4), ttl)) as demo:
        gr.Markdown("# tiny-cats\nGenerate cats of a chosen breed, tell the breed of a cat photo, "
                    "blend breeds and restyle your own cat.")
        gr.Markdown(weights_note(sources, manifest, backends), elem_id="weights-note")
        backend = gr.Radio(list(backends), value=default_backend, label="Backend",
                           info="Same seed, same starting noise on every backend: compare speed and output.")
        seed_kw = dict(label="Seed", value=0, precision=0, minimum=0, maximum=2**32 - 1)
        steps_kw = dict(minimum=LIMITS.steps[0], maximum=LIMITS.steps[1], step=1, value=steps0, label="Steps")
        guidance_kw = dict(minimum=LIMITS.guidance[0], maximum=LIMITS.guidance[1], step=0.5, value=guidance0,
                           label="Guidance", info="1 = no classifier-free guidance")

        with gr.Tabs():
            with gr.Tab("Generate", id="generate"):
                with gr.Row():
                    with gr.Column(scale=1):
                        picker = gr.Gallery([(img, name) for img, name in zip(thumbs, BREEDS)],
                                            label="Pick a breed", columns=4, height="auto", allow_preview=False,
                                            format="png", elem_id="breed-picker", elem_classes="pixelated")
                        breed = gr.Dropdown(list(BREEDS), value=BREEDS[0], label="Breed")
                        picker.select(pick_breed, None, breed, api_visibility="private")
                        has_fast = any(b.has_fast for b in backends.values())
                        mode = gr.Radio(["quality", "fast"], value="quality", label="Mode", visible=has_fast,
                                        info="fast: the few-step student, 1-4 steps, guidance baked in")
                        steps = gr.Slider(**steps_kw)
                        guidance = gr.Slider(**guidance_kw)
                        sampler = gr.Radio(list(SAMPLERS), value=SAMPLERS[0], label="Sampler")
                        mode.change(lambda m: _mode_settings(m, steps0), mode, [steps, guidance, sampler],
                                    api_visibility="private")
                        with gr.Row():
                            seed = gr.Number(**seed_kw)
                            gr.Button("New noise", size="sm").click(new_seed, None, seed, api_name="new_noise")
                        num_images = gr.Slider(LIMITS.num_images[0], LIMITS.num_images[1], step=1, value=1,
                                               label="Number of images")
                        go = gr.Button("Generate", variant="primary")
                    with gr.Column(scale=1):
                        result = gr.Gallery(label="Generated", columns=2, format="png", elem_classes="pixelated")
                        # Inline images: a streamed step writes no file into Gradio's cache.
                        preview = gr.HTML(label="Denoising: noisy and predicted clean image", elem_id="denoise-preview")
                        status = gr.Markdown()
                        files = gr.File(label="Download PNG", file_count="multiple")
                go.click(h.generate, [breed, steps, guidance, sampler, seed, num_images, backend, mode],
                         [result, preview, status, files], api_name="generate", preprocess=False)

            with gr.Tab("Classify", id="classify"):
                with gr.Row():
                    with gr.Column():
                        photo = gr.Image(sources=["upload", "clipboard", "webcam"], type="filepath",
                                         label="A cat photo (upload, paste or webcam)", height=320)
                        photo.input_name = "photo"  # what refusals call it (handlers.classify too)
                        classify_btn = gr.Button("Classify", variant="primary")
                    with gr.Column():
                        top3 = gr.Label(num_top_classes=3, label="Top 3 breeds")
                        verdict = gr.Markdown()
                        with gr.Accordion("All probabilities", open=False):
                            probs = gr.JSON(label="probabilities")
                classify_btn.click(h.classify, [photo, backend], [top3, verdict, probs],
                                   api_name="classify", preprocess=False)

            with gr.Tab("Design", id="design"):
                gr.Markdown("### Blend breeds\nThe weights are normalised to sum to 1; leave breed C empty to mix two.")
                blend_inputs = []
                with gr.Row():
                    for slot, (name, weight) in zip("ABC", [(BREEDS[1], 0.5), (BREEDS[11], 0.5), (None, 0.0)]):
                        with gr.Column(min_width=160):
                            blend_inputs += [gr.Dropdown(list(BREEDS), value=name, label=f"Breed {slot}"),
                                             gr.Slider(*LIMITS.weight, step=0.05, value=weight, label=f"Weight {slot}")]
                with gr.Row():
                    b_steps, b_guidance, b_seed = gr.Slider(**steps_kw), gr.Slider(**guidance_kw), gr.Number(**seed_kw)
                blend_btn = gr.Button("Blend", variant="primary")
                with gr.Row():
                    blend_img = gr.Image(label="Blend", format="png", elem_classes=["pixelated", "upscale"], height=256)
                    blend_status = gr.Markdown()
                blend_btn.click(h.blend, blend_inputs + [b_steps, b_guidance, b_seed, backend],
                                [blend_img, blend_status], api_name="blend", preprocess=False)

                gr.Markdown("### Restyle your cat\nStrength 0 keeps your photo; 1 draws a new cat of the breed.")
                with gr.Row():
                    with gr.Column():
                        r_photo = gr.Image(sources=["upload", "clipboard", "webcam"], type="filepath",
                                           label="Your cat", height=256)
                        r_photo.input_name = "your cat"
                        r_breed = gr.Dropdown(list(BREEDS), value=BREEDS[10], label="Breed")
                        r_strength = gr.Slider(*LIMITS.strength, step=0.05, value=0.6, label="Strength")
                        r_steps, r_guidance, r_seed = gr.Slider(**steps_kw), gr.Slider(**guidance_kw), gr.Number(**seed_kw)
                        restyle_btn = gr.Button("Restyle", variant="primary")
                    r_original = gr.Image(label="Original (as the model sees it)", format="png",
                                          elem_classes=["pixelated", "upscale"], height=256)
                    r_result = gr.Image(label="Restyled", format="png", elem_classes=["pixelated", "upscale"], height=256)
                r_status = gr.Markdown()
                restyle_btn.click(h.restyle, [r_photo, r_breed, r_strength, r_steps, r_guidance, r_seed, backend],
                                  [r_original, r_result, r_status], api_name="restyle", preprocess=False)

            with gr.Tab("Compare backends", id="compare"):
                gr.Markdown("Every backend draws the same breed from the same seed and starting noise.")
                with gr.Row():
                    c_breed = gr.Dropdown(list(BREEDS), value=BREEDS[0], label="Breed")
                    c_steps, c_guidance, c_seed = gr.Slider(**steps_kw), gr.Slider(**guidance_kw), gr.Number(**seed_kw)
                compare_btn = gr.Button("Compare", variant="primary")
                c_gallery = gr.Gallery(label="Side by side", columns=4, format="png", elem_classes="pixelated")
                c_table = gr.Markdown()
                compare_btn.click(h.compare, [c_breed, c_steps, c_guidance, c_seed], [c_gallery, c_table],
                                  api_name="compare", preprocess=False)

    demo.queue(default_concurrency_limit=args.concurrency, max_size=args.max_queue)
    h.is_uploaded = demo.was_uploaded
    demo.handlers = h  # so whoever closes the app can remove the download folder
    return demo


def _mode_settings(mode: str, quality_steps: int):
    """The generate tab's steps, guidance and sampler when the mode changes: fast = 2 Euler steps, no guidance."""
    import gradio as gr
    from handlers import FAST_COMPARE_STEPS

    fast = mode == "fast"
    return (gr.update(value=FAST_COMPARE_STEPS if fast else quality_steps),
            gr.update(interactive=not fast, info="baked into the fast model" if fast else "1 = no classifier-free guidance"),
            gr.update(value="euler", interactive=not fast))


def _defaults(manifest: dict | None, model_dir: Path) -> tuple[int, float]:
    """Default (steps, guidance) from the export's manifest, else the pipeline's model_index.json."""
    if manifest is not None:
        d = manifest["generator"]["defaults"]
        return int(d["num_inference_steps"]), float(d["guidance_scale"])
    config = _model_index(model_dir)
    return int(config["default_num_inference_steps"]), float(config["default_guidance_scale"])


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    sources = load_sources(args)
    # One line per refused request (handlers.refuse); faults keep Gradio's tracebacks.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for noisy in ("httpx", "httpcore"):  # one line per internal HTTP call otherwise
        logging.getLogger(noisy).setLevel(logging.WARNING)
    demo = build_app(args, sources)
    # A Space (and the soak benchmark) stops the app with SIGTERM: as Ctrl-C, so Gradio closes the
    # server (its shutdown empties the cache) and the download folder is removed at exit.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    demo.launch(**launch_kwargs(args))


if __name__ == "__main__":
    main()
