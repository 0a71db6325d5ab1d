"""The demo's event handlers: validate what arrives, call a backend, format what goes back.

Every handler is registered with ``preprocess=False``, so it receives the raw values a browser or an
API client sent — Gradio does not enforce slider ranges or dropdown choices for API calls, and its
own image decoding would fail on odd uploads with an unreadable message. Each value is checked here
and a bad one raises ``gr.Error`` naming the input, the accepted range and (truncated) the value;
the app stays up. Those refusals are the visitor's mistakes, not faults: each is logged as one line
(``tiny_cats.demo`` logger) with no traceback; anything else propagates and Gradio prints its
traceback. Image payloads are only ever an upload Gradio received or inline ``data:`` bytes: a path
the client names is refused, with one message that says nothing about the server's files.
No model math: the backends call the pipelines.
"""

from __future__ import annotations

import base64
import binascii
import html
import io
import logging
import math
import os
import queue
import random
import shutil
import stat
import tempfile
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr
import numpy as np
from backends import Backend, to_images
from PIL import Image

from cats.breeds import BREEDS, breed_name
from cats.classify import UNFAMILIAR
from cats.images import ImageInputError, from_model_array, load_image, to_model_array
from cats.noise import MAX_SEED  # the seed box means cats.noise's seed: the web client's seed field too
from cats.sampling import MODES, SAMPLERS

# At most this many previews per generation, then the final images: each streamed update costs
# Gradio a round trip of about a model step's time or more, so one per step would dominate.
PREVIEWS = 4
ECHO_CHARS = 60  # an echoed value is cut to this many characters
MAX_UPLOAD_MB = 25  # the app's max_file_size; inline data: images are held to the same size
FILE_META = {"_type": "gradio.FileData"}
log = logging.getLogger("tiny_cats.demo")


@dataclass(frozen=True)
class Limits:
    """Accepted ranges, shared by the sliders and the handlers' checks."""

    steps: tuple[int, int] = (1, 100)
    guidance: tuple[float, float] = (0.0, 15.0)
    num_images: tuple[int, int] = (1, 4)
    strength: tuple[float, float] = (0.0, 1.0)
    weight: tuple[float, float] = (0.0, 1.0)


LIMITS = Limits()


# ---- validation --------------------------------------------------------------------------------

def echo(value) -> str:
    """A short description of what arrived, for error messages: at most about ECHO_CHARS characters."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
        return f"an integer of about {int(value.bit_length() * math.log10(2)) + 1:,} digits"
    if isinstance(value, dict):
        keys = ", ".join(repr(k)[:20] for k in list(value)[:6])
        text = f"a dict with keys {keys}" if value else "an empty dict"
    elif isinstance(value, (list, tuple)):
        text = f"a {type(value).__name__} of {len(value)} items"
    elif isinstance(value, str):
        text = repr(value[:ECHO_CHARS + 1])
    else:
        text = repr(value)
    if len(text) <= ECHO_CHARS:
        return text
    total = f" ({len(value):,} characters)" if isinstance(value, str) else ""
    return f"{text[:ECHO_CHARS]}...{total}"


def _trained_on(backend) -> str | None:
    """What a backend's weights learned from (the ONNX manifest's or the pipeline's), for the verdict's reason."""
    manifest = getattr(backend, "manifest", None)
    if manifest:
        return (manifest.get("weights") or {}).get("trained_on")
    pipe = getattr(backend, "pipe", None)
    return pipe.config.get("trained_on") if pipe is not None else None


def refuse(message: str) -> gr.Error:
    """A request the visitor got wrong: one log line, no traceback, the message shown as is.

    Gradio renders the message as HTML, so the echoed parts cannot add markup.
    """
    message = html.escape(message, quote=False)
    log.info("refused: %s", message.replace("\n", " "))
    return gr.Error(message, print_exception=False)


def _number(name: str, value, lo: float, hi: float, integer: bool) -> float | int:
    kind = "an integer" if integer else "a number"

    def bad() -> gr.Error:
        return refuse(f"{name} must be {kind} in [{lo}, {hi}], got {echo(value)}")

    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise bad()
    if isinstance(value, str) and len(value) > ECHO_CHARS:  # no number of the ranges here is that long
        raise bad()
    try:
        x = float(value)
    except (ValueError, OverflowError):  # OverflowError: an int too large for a float (10**400)
        raise bad() from None
    if not math.isfinite(x) or not lo <= x <= hi or (integer and x != int(x)):
        raise bad()
    return int(x) if integer else x


def check_int(name: str, value, bounds: tuple[int, int]) -> int:
    return _number(name, value, bounds[0], bounds[1], integer=True)


def check_float(name: str, value, bounds: tuple[float, float]) -> float:
    return _number(name, value, bounds[0], bounds[1], integer=False)


def check_choice(name: str, value, choices) -> str:
    if not isinstance(value, str) or value not in choices:
        raise refuse(f"{name} must be one of {', '.join(map(str, choices))}; got {echo(value)}")
    return value


FAST_COMPARE_STEPS = 2  # the Compare tab's fast row: the few-step student's default


def check_sampling(steps, guidance, seed) -> tuple[int, float, int]:
    """The settings every generating handler takes: steps, guidance scale, seed."""
    return (check_int("steps", steps, LIMITS.steps), check_float("guidance", guidance, LIMITS.guidance),
            check_int("seed", seed, (0, MAX_SEED)))


def check_breed(value, name: str = "breed") -> str:
    ok_type = isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))
    if not ok_type or (isinstance(value, str) and len(value) > ECHO_CHARS) or (
            isinstance(value, int) and not 0 <= value < len(BREEDS)):
        raise refuse(f"{name} must be one of {', '.join(BREEDS)} (or an id 0-{len(BREEDS) - 1}); got {echo(value)}")
    try:
        return breed_name(value)
    except ValueError as exc:  # cats.breeds names the value (at most ECHO_CHARS long here) and the choices
        raise refuse(f"{name}: {exc}") from None


def refused_file(name: str) -> gr.Error:
    """The one answer for every path this app will not open: it says nothing about the path."""
    return refuse(f"{name}: this app only opens images uploaded to it; upload the image (in the page, or "
                  "gradio_client's handle_file(path)) or send it inline as a data: URL")


def upload_folder() -> Path:
    """Where Gradio stores the files clients upload (GRADIO_TEMP_DIR, else <tmp>/gradio)."""
    from gradio.utils import get_upload_folder

    return Path(get_upload_folder())


def uploaded_path(path, name: str, is_uploaded: Callable[[str], bool] | None = None) -> Path:
    """``path`` if it is a regular file Gradio stored from an upload, else the refused-file error.

    Inside the upload folder, reached without a symlink or ``..`` anywhere, and (when the app knows
    its uploads) one of the files Gradio received. Whether the path exists is never told apart
    from any other refusal.
    """
    if not isinstance(path, str) or not path or "\x00" in path or "://" in path or ".." in Path(path).parts:
        raise refused_file(name)
    candidate = Path(os.path.abspath(path))
    root = Path(os.path.abspath(upload_folder()))
    try:
        relative = candidate.relative_to(root)
        real_root = Path(os.path.realpath(root))
        real = Path(os.path.realpath(candidate))
        # A symlink anywhere below the upload folder changes the resolved path.
        same = real == real_root / relative
        regular = same and stat.S_ISREG(os.lstat(real).st_mode)
    except (ValueError, OSError):  # outside the folder, or missing / unreadable: all the same refusal
        raise refused_file(name) from None
    if not regular or (is_uploaded is not None and not is_uploaded(str(candidate))):
        raise refused_file(name)
    return real


def image_source(payload, name: str = "image", is_uploaded: Callable[[str], bool] | None = None,
                 decode: bool = True) -> Path | bytes | None:
    """A raw image payload -> the uploaded file's path, or the inline data's bytes (None if decode=False).

    Accepted: a Gradio file payload ({"path": ..., "meta": {"_type": "gradio.FileData"}}) of a file
    Gradio received, or a ``data:`` URL (alone, or as the payload's "url" with no path). Anything
    else is refused with a message naming the input.
    """
    if payload is None or payload == "" or payload == {}:
        raise refuse(f"{name}: no image; upload, paste or take a photo first")
    url = payload.get("url") if isinstance(payload, dict) else payload
    path = payload.get("path") if isinstance(payload, dict) else None
    if isinstance(url, str) and url.startswith("data:") and path in (None, ""):
        return _inline_bytes(url, name) if decode else None
    if isinstance(payload, str) or (isinstance(payload, dict) and path not in (None, "")):
        if not isinstance(payload, dict) or payload.get("meta") != FILE_META:
            raise refused_file(name)  # a bare path, or a file dict Gradio did not check
        return uploaded_path(path, name, is_uploaded)
    raise refuse(f"{name} must be an uploaded image (gradio_client: handle_file(path)) or a data: URL "
                 f"with base64 image bytes; got {echo(payload)}")


def _inline_bytes(url: str, name: str) -> bytes:
    header, sep, data = url.partition(",")
    if not sep or not header.endswith(";base64"):
        raise refuse(f"{name}: a data: URL must look like data:image/png;base64,BASE64; got {echo(url)}")
    if len(data) > MAX_UPLOAD_MB * 1024 * 1024 * 4 // 3 + 4:
        raise refuse(f"{name}: the inline image is over the {MAX_UPLOAD_MB} MB upload limit")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise refuse(f"{name}: the data: URL's payload is not valid base64; got {echo(url)}") from None


def check_image(payload, name: str = "image", is_uploaded: Callable[[str], bool] | None = None) -> Image.Image:
    """A raw Gradio image payload -> upright RGB PIL image (image_source rules, then cats.images.load_image)."""
    source = image_source(payload, name, is_uploaded)
    try:
        return load_image(source)
    except ImageInputError as exc:
        raise refuse(f"cannot use this upload: {exc}") from None


# ---- output formatting -------------------------------------------------------------------------

def _gallery(images: list[Image.Image], caption: str) -> list[tuple[Image.Image, str]]:
    return [(img, f"{caption} #{i + 1}" if len(images) > 1 else caption) for i, img in enumerate(images)]


def _blend_text(blend: dict[str, float]) -> str:
    total = sum(blend.values())
    return " + ".join(f"{100 * w / total:.0f}% {name}" for name, w in blend.items() if w > 0)


def preview_steps(steps: int) -> set[int]:
    """Step indices (from 0) that stream a preview: every k-th, at most PREVIEWS, never the last.

    The last step's preview comes with the final images.
    """
    k = math.ceil(steps / PREVIEWS)
    return {i for i in range(steps - 1) if (i + 1) % k == 0}


def _data_url(img: Image.Image) -> str:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def preview_html(noisy: list[Image.Image], clean: list[Image.Image], caption: str) -> str:
    """The denoising preview as inline images: no file in Gradio's cache for a streamed step."""
    cells = []
    for i, (a, b) in enumerate(zip(noisy, clean)):
        n = f" #{i + 1}" if len(noisy) > 1 else ""
        for img, what in ((a, "noisy"), (b, "predicted clean")):
            cells.append(f'<figure><img src="{_data_url(img)}" alt="{what}{n}" width="128" height="128">'
                         f"<figcaption>{what}{n}</figcaption></figure>")
    return (f'<div class="denoise-preview"><p>{html.escape(caption)}</p>'
            f'<div class="denoise-cells">{"".join(cells)}</div></div>')


def _remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)  # best effort at exit: a file still open stays behind


@dataclass
class Handlers:
    """The handlers bound to the loaded backends (label -> Backend, first = default)."""

    backends: dict[str, Backend]
    download_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="tiny-cats-")))
    # Set by the app to "Gradio received this file from a client"; None: only the folder checks.
    is_uploaded: Callable[[str], bool] | None = None

    def __post_init__(self) -> None:
        # Each request's PNGs live in a subfolder removed when the request ends; the folder itself
        # goes when this object is collected or the process exits.
        self._finalizer = weakref.finalize(self, _remove_tree, self.download_dir)

    def close(self) -> None:
        """Remove the download folder now."""
        self._finalizer()

    def backend(self, label) -> Backend:
        check_choice("backend", label, list(self.backends))
        return self.backends[label]

    def _load(self, backend: Backend) -> str:
        """Load the backend now (first use) so its load time is not counted as a denoising step."""
        if backend.loaded:
            return ""
        t0 = time.perf_counter()
        try:
            backend.pipe  # noqa: B018 - loads on first access
        except Exception as exc:  # a fault of the server, not the visitor: keeps its traceback
            raise gr.Error(f"could not load the {backend.label} backend") from exc
        return f" · loaded {backend.label} in {time.perf_counter() - t0:.1f} s"

    def _save_pngs(self, images: list[Image.Image], stem: str, folder: Path) -> list[str]:
        paths = []
        for i, img in enumerate(images):
            path = folder / f"{stem}_{i + 1}.png"
            img.save(path, format="PNG")
            paths.append(str(path))
        return paths

    # ---- Generate (streamed) -----------------------------------------------------------------

    def generate(self, breed, steps, guidance, sampler, seed, num_images, backend_label, mode="quality"):
        """Generator: a preview every k-th step (at most PREVIEWS), then the final images and PNG downloads.

        mode "fast": the few-step student (its guidance is baked in: the guidance value is not used).

        Yields (final images, preview HTML, status markdown, download files); a preview clears the
        images and the downloads of the previous run and shows its step as inline images (no file).
        """
        breed = check_breed(breed)
        steps, guidance, seed = check_sampling(steps, guidance, seed)
        sampler = check_choice("sampler", sampler, SAMPLERS)
        num_images = check_int("number of images", num_images, LIMITS.num_images)
        mode = check_choice("mode", mode, MODES)
        if mode == "fast" and sampler != "euler":
            raise refuse("fast mode samples with euler (the few-step student's paths are straight): choose euler")
        backend = self.backend(backend_label)
        load_note = self._load(backend)

        events: queue.Queue = queue.Queue()
        cancelled = threading.Event()
        shown = preview_steps(steps) | {steps - 1}  # the last step's preview comes with the final images

        def on_step(i, latents, pred_x0):
            if cancelled.is_set():  # the visitor left: stop the sampler at the next step
                raise InterruptedError("generation cancelled")
            if i in shown:
                events.put(("step", i, to_images(latents), to_images(pred_x0), time.perf_counter()))

        def work():
            try:
                images = backend.generate(breed, steps, guidance, sampler, seed, num_images, on_step, mode)
                events.put(("done", images, time.perf_counter()))
            except BaseException as exc:  # handed to the consuming generator, which re-raises it
                events.put(("error", exc))

        start = time.perf_counter()
        last = None
        folder = None
        threading.Thread(target=work, daemon=True).start()
        try:
            while True:
                kind, *rest = events.get()
                if kind == "error":
                    exc = rest[0]
                    if isinstance(exc, (ValueError, ImageInputError)):
                        raise refuse(str(exc)) from exc
                    raise exc
                if kind == "step":
                    i, current, clean, now = rest
                    last = (i, current, clean)
                    if i == steps - 1:
                        continue
                    status = (f"**Step {i + 1}/{steps}** · {now - start:.2f} s so far · "
                              f"{backend.label}{load_note}")
                    # None, not gr.skip(): a skip makes Gradio answer the final value with an unregistered
                    # copy of the component, whose files its delete_cache then never deletes.
                    yield None, preview_html(current, clean, f"step {i + 1}/{steps}"), status, None
                    continue
                images, now = rest
                total = now - start
                status = (f"**Done** · {steps} steps in {total:.2f} s ({1000 * total / steps:.1f} ms/step) · "
                          f"{backend.label} · {sampler} · guidance {guidance:g} · seed {seed}{load_note}")
                folder = Path(tempfile.mkdtemp(dir=self.download_dir))
                files = self._save_pngs(images, f"tiny-cats_{breed.replace(' ', '-')}_seed{seed}", folder)
                preview = preview_html(last[1], last[2], f"step {last[0] + 1}/{steps}") if last else ""
                yield _gallery(images, breed), preview, status, files
                return
        finally:
            cancelled.set()
            if folder is not None:  # Gradio copied the PNGs into its cache before asking for more
                shutil.rmtree(folder)

    # ---- Classify ----------------------------------------------------------------------------

    def classify(self, payload, backend_label):
        """-> (label dict for gr.Label, verdict markdown, all 13 probabilities)."""
        backend = self.backend(backend_label)
        image = check_image(payload, "photo", self.is_uploaded)
        if not backend.has_classifier:
            raise refuse(f"the {backend.label} weights have no breed classifier; "
                           "train one with `python -m cats.training classifier --attach-to PIPELINE_DIR`")
        self._load(backend)
        t0 = time.perf_counter()
        result = backend.classify(image, top_k=3)
        ms = 1000 * (time.perf_counter() - t0)
        top = ", ".join(f"{name} {p:.0%}" for name, p in result.top_k)
        verdict = (f"### {result.display_verdict}\n\n{result.reason(_trained_on(backend))}\n\n"
                   f"Top 3: {top} · {ms:.0f} ms on {backend.label}")
        return result.probabilities, verdict, result.probabilities

    # ---- Design: blend and restyle -----------------------------------------------------------

    def blend(self, breed_a, weight_a, breed_b, weight_b, breed_c, weight_c, steps, guidance, seed, backend_label):
        """Up to three breeds mixed by weight -> (image, status).

        A slot may be left empty (no breed, weight 0 or none). A weight above 0 without a breed, or
        a breed without a weight, is refused naming the slot; a breed at weight 0 is left out and
        the status says so.
        """
        pairs = [(breed_a, weight_a, "A"), (breed_b, weight_b, "B"), (breed_c, weight_c, "C")]
        blend: dict[str, float] = {}
        left_out: list[str] = []
        for breed, weight, slot in pairs:
            no_breed, no_weight = breed in (None, ""), weight in (None, "")
            if no_breed:
                w = 0.0 if no_weight else check_float(f"weight {slot}", weight, LIMITS.weight)
                if w > 0:
                    raise refuse(f"weight {slot} is {w:g} but breed {slot} is empty: choose breed {slot} "
                                 f"or set weight {slot} to 0")
                continue
            name = check_breed(breed, f"breed {slot}")
            if no_weight:
                raise refuse(f"breed {slot} is {name} but weight {slot} is empty: give weight {slot} a value "
                             f"in [{LIMITS.weight[0]}, {LIMITS.weight[1]}]")
            w = check_float(f"weight {slot}", weight, LIMITS.weight)
            if w > 0:
                blend[name] = blend.get(name, 0.0) + w
            else:
                left_out.append(name)
        if not blend:
            raise refuse("the blend weights are all zero: give at least one breed a weight above 0")
        steps, guidance, seed = check_sampling(steps, guidance, seed)
        backend = self.backend(backend_label)
        load_note = self._load(backend)
        t0 = time.perf_counter()
        try:
            image = backend.generate(blend, steps, guidance, "euler", seed, 1)[0]
        except ValueError as exc:
            raise refuse(str(exc)) from exc
        skipped = f" ({', '.join(left_out)} at weight 0: left out)" if left_out else ""
        status = (f"**{_blend_text(blend)}**{skipped} · {steps} steps in {time.perf_counter() - t0:.2f} s · "
                  f"{backend.label} · seed {seed}{load_note}")
        return image, status

    def restyle(self, payload, breed, strength, steps, guidance, seed, backend_label):
        """Your cat re-drawn as ``breed`` -> (original as the model sees it, result, status)."""
        image = check_image(payload, "your cat", self.is_uploaded)
        breed = check_breed(breed)
        strength = check_float("strength", strength, LIMITS.strength)
        steps, guidance, seed = check_sampling(steps, guidance, seed)
        backend = self.backend(backend_label)
        load_note = self._load(backend)
        t0 = time.perf_counter()
        try:
            result = backend.transfer(image, breed, strength, steps, guidance, seed)
        except (ValueError, ImageInputError) as exc:
            raise refuse(str(exc)) from exc
        original = from_model_array(to_model_array(image, backend.image_size))
        status = (f"**{breed}** at strength {strength:.2f} · {time.perf_counter() - t0:.2f} s · "
                  f"{backend.label} · seed {seed}{load_note}")
        if backend.has_classifier:  # the classifier's familiarity check tells whether the restyle can be trusted
            verdict = backend.classify(image, top_k=3)
            if verdict.verdict == UNFAMILIAR:
                status += (f"\n\n**Warning: this picture is unfamiliar to these weights**; the restyle may not look "
                           f"like your cat. {verdict.reason(_trained_on(backend))}")
        return original, result, status

    # ---- Backends side by side ---------------------------------------------------------------

    def compare(self, breed, steps, guidance, seed):
        """Every backend, same breed, settings and seed -> (gallery, markdown table)."""
        breed = check_breed(breed)
        steps, guidance, seed = check_sampling(steps, guidance, seed)
        gallery, rows, reference = [], [], {}
        for label, backend in self.backends.items():
            self._load(backend)
            modes = [("quality", steps)] + ([("fast", FAST_COMPARE_STEPS)] if backend.has_fast else [])
            for mode, n in modes:
                t0 = time.perf_counter()
                image = backend.generate(breed, n, guidance, "euler", seed, 1, mode=mode)[0]
                seconds = time.perf_counter() - t0
                pixels = np.asarray(image, dtype=np.int16)
                reference.setdefault(mode, pixels)  # each mode against the first backend's image of that mode
                diff = int(np.abs(pixels - reference[mode]).max())
                name = label if mode == "quality" else f"{label}, fast ({n} steps)"
                gallery.append((image, f"{name} · {seconds:.2f} s"))
                rows.append(f"| {name} | {seconds:.2f} | {1000 * seconds / n:.1f} | {diff} |")
        first = next(iter(self.backends))
        table = ("| backend | total s | ms/step | max pixel difference vs " + first + " in the same mode (0-255) |\n"
                 "|---|---|---|---|\n" + "\n".join(rows))
        return gallery, table


def new_seed() -> int:
    """A fresh random seed for the "new noise" button."""
    return random.randint(0, MAX_SEED)


def pick_breed(evt: gr.SelectData) -> str:
    """Gallery thumbnail clicked -> that breed's name."""
    return BREEDS[evt.index]
