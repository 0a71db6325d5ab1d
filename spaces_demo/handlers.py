"""The demo's event handlers: validate what arrives, call a backend, format what goes back.

Every handler is registered with ``preprocess=False``, so it receives the raw values a browser or an
API client sent — Gradio does not enforce slider ranges or dropdown choices for API calls, and its
own image decoding would fail on odd uploads with an unreadable message. Each value is checked here
and a bad one raises ``gr.Error`` naming the value and what is accepted; the app stays up.
No model math: the backends call the pipelines.
"""

from __future__ import annotations

import base64
import math
import queue
import random
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr
import numpy as np
from PIL import Image

from backends import Backend, to_images
from cats.breeds import BREEDS, breed_name
from cats.images import ImageInputError, from_model_array, load_image, to_model_array

SAMPLERS = ("euler", "heun")
MAX_SEED = 2**32 - 1


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

def _number(name: str, value, lo: float, hi: float, integer: bool) -> float | int:
    kind = "an integer" if integer else "a number"
    if isinstance(value, bool) or value is None:
        raise gr.Error(f"{name} must be {kind} in [{lo}, {hi}], got {value!r}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise gr.Error(f"{name} must be {kind} in [{lo}, {hi}], got {value!r}") from None
    if not math.isfinite(x) or not lo <= x <= hi or (integer and x != int(x)):
        raise gr.Error(f"{name} must be {kind} in [{lo}, {hi}], got {value!r}")
    return int(x) if integer else x


def check_int(name: str, value, bounds: tuple[int, int]) -> int:
    return _number(name, value, bounds[0], bounds[1], integer=True)


def check_float(name: str, value, bounds: tuple[float, float]) -> float:
    return _number(name, value, bounds[0], bounds[1], integer=False)


def check_choice(name: str, value, choices) -> str:
    if value not in choices:
        raise gr.Error(f"{name} must be one of {', '.join(map(str, choices))}; got {value!r}")
    return value


def check_sampling(steps, guidance, seed) -> tuple[int, float, int]:
    """The settings every generating handler takes: steps, guidance scale, seed."""
    return (check_int("steps", steps, LIMITS.steps), check_float("guidance", guidance, LIMITS.guidance),
            check_int("seed", seed, (0, MAX_SEED)))


def check_breed(value, name: str = "breed") -> str:
    try:
        return breed_name(value)
    except ValueError as exc:
        raise gr.Error(f"{name}: {exc}") from None


def check_image(payload) -> Image.Image:
    """A raw Gradio image/file payload -> upright RGB PIL image (cats.images.load_image rules)."""
    if payload is None or payload == "":
        raise gr.Error("no image: upload, paste or take a photo first")
    if isinstance(payload, dict):
        source = payload.get("path")
        url = payload.get("url") or ""
        if not source and url.startswith("data:"):
            source = base64.b64decode(url.split(",", 1)[-1])
    else:
        source = payload
    if not source:
        raise gr.Error(f"the image payload has no file: {payload!r}")
    try:
        return load_image(source)
    except ImageInputError as exc:
        raise gr.Error(f"cannot use this upload: {exc}") from None


# ---- output formatting -------------------------------------------------------------------------

def _gallery(images: list[Image.Image], caption: str) -> list[tuple[Image.Image, str]]:
    return [(img, f"{caption} #{i + 1}" if len(images) > 1 else caption) for i, img in enumerate(images)]


def _blend_text(blend: dict[str, float]) -> str:
    total = sum(blend.values())
    return " + ".join(f"{100 * w / total:.0f}% {name}" for name, w in blend.items() if w > 0)


@dataclass
class Handlers:
    """The handlers bound to the loaded backends (label -> Backend, first = default)."""

    backends: dict[str, Backend]
    download_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="tiny-cats-")))

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
        except Exception as exc:
            raise gr.Error(f"could not load the {backend.label} backend: {exc}") from exc
        return f" · loaded {backend.label} in {time.perf_counter() - t0:.1f} s"

    def _save_pngs(self, images: list[Image.Image], stem: str) -> list[str]:
        folder = Path(tempfile.mkdtemp(dir=self.download_dir))
        paths = []
        for i, img in enumerate(images):
            path = folder / f"{stem}_{i + 1}.png"
            img.save(path, format="PNG")
            paths.append(str(path))
        return paths

    # ---- Generate (streamed) -----------------------------------------------------------------

    def generate(self, breed, steps, guidance, sampler, seed, num_images, backend_label):
        """Generator: one yield per denoising step, then the final images and PNG downloads.

        Yields (current images, predicted clean images, status markdown, download files).
        """
        breed = check_breed(breed)
        steps, guidance, seed = check_sampling(steps, guidance, seed)
        sampler = check_choice("sampler", sampler, SAMPLERS)
        num_images = check_int("number of images", num_images, LIMITS.num_images)
        backend = self.backend(backend_label)
        load_note = self._load(backend)

        events: queue.Queue = queue.Queue()
        cancelled = threading.Event()

        def on_step(i, latents, pred_x0):
            if cancelled.is_set():  # the visitor left: stop the sampler at the next step
                raise InterruptedError("generation cancelled")
            events.put(("step", i, to_images(latents), to_images(pred_x0), time.perf_counter()))

        def work():
            try:
                images = backend.generate(breed, steps, guidance, sampler, seed, num_images, on_step)
                events.put(("done", images, time.perf_counter()))
            except BaseException as exc:  # handed to the consuming generator, which re-raises it
                events.put(("error", exc))

        start = last = time.perf_counter()
        threading.Thread(target=work, daemon=True).start()
        try:
            while True:
                kind, *rest = events.get()
                if kind == "error":
                    exc = rest[0]
                    if isinstance(exc, (ValueError, ImageInputError)):
                        raise gr.Error(str(exc)) from exc
                    raise exc
                if kind == "step":
                    i, current, clean, now = rest
                    status = (f"**Step {i + 1}/{steps}** · {1000 * (now - last):.1f} ms this step · "
                              f"{now - start:.2f} s so far · {backend.label}{load_note}")
                    last = now
                    yield _gallery(current, f"step {i + 1}"), _gallery(clean, "predicted clean"), status, gr.skip()
                    continue
                images, now = rest
                total = now - start
                status = (f"**Done** · {steps} steps in {total:.2f} s ({1000 * total / steps:.1f} ms/step) · "
                          f"{backend.label} · {sampler} · guidance {guidance:g} · seed {seed}{load_note}")
                files = self._save_pngs(images, f"tiny-cats_{breed.replace(' ', '-')}_seed{seed}")
                yield _gallery(images, breed), _gallery(images, breed), status, files
                return
        finally:
            cancelled.set()

    # ---- Classify ----------------------------------------------------------------------------

    def classify(self, payload, backend_label):
        """-> (label dict for gr.Label, verdict markdown, all 13 probabilities)."""
        backend = self.backend(backend_label)
        image = check_image(payload)
        if not backend.has_classifier:
            raise gr.Error(f"the {backend.label} weights have no breed classifier; "
                           "train one with `python -m cats.train classifier --attach-to PIPELINE_DIR`")
        self._load(backend)
        t0 = time.perf_counter()
        result = backend.classify(image, top_k=3)
        ms = 1000 * (time.perf_counter() - t0)
        top = ", ".join(f"{name} {p:.0%}" for name, p in result.top_k)
        verdict = f"### {result.display_verdict}\n\nTop 3: {top} · {ms:.0f} ms on {backend.label}"
        return result.probabilities, verdict, result.probabilities

    # ---- Design: blend and restyle -----------------------------------------------------------

    def blend(self, breed_a, weight_a, breed_b, weight_b, breed_c, weight_c, steps, guidance, seed, backend_label):
        """Two or three breeds mixed by weight -> (image, status). Breed C may be left empty."""
        pairs = [(breed_a, weight_a, "A"), (breed_b, weight_b, "B"), (breed_c, weight_c, "C")]
        blend: dict[str, float] = {}
        for breed, weight, slot in pairs:
            if slot == "C" and breed in (None, ""):
                continue
            name = check_breed(breed, f"breed {slot}")
            blend[name] = blend.get(name, 0.0) + check_float(f"weight {slot}", weight, LIMITS.weight)
        if sum(blend.values()) <= 0:
            raise gr.Error("the blend weights are all zero: set at least one weight above 0")
        blend = {name: w for name, w in blend.items() if w > 0}
        steps, guidance, seed = check_sampling(steps, guidance, seed)
        backend = self.backend(backend_label)
        load_note = self._load(backend)
        t0 = time.perf_counter()
        try:
            image = backend.generate(blend, steps, guidance, "euler", seed, 1)[0]
        except ValueError as exc:
            raise gr.Error(str(exc)) from exc
        status = (f"**{_blend_text(blend)}** · {steps} steps in {time.perf_counter() - t0:.2f} s · "
                  f"{backend.label} · seed {seed}{load_note}")
        return image, status

    def restyle(self, payload, breed, strength, steps, guidance, seed, backend_label):
        """Your cat re-drawn as ``breed`` -> (original as the model sees it, result, status)."""
        image = check_image(payload)
        breed = check_breed(breed)
        strength = check_float("strength", strength, LIMITS.strength)
        steps, guidance, seed = check_sampling(steps, guidance, seed)
        backend = self.backend(backend_label)
        load_note = self._load(backend)
        t0 = time.perf_counter()
        try:
            result = backend.transfer(image, breed, strength, steps, guidance, seed)
        except (ValueError, ImageInputError) as exc:
            raise gr.Error(str(exc)) from exc
        original = from_model_array(to_model_array(image, backend.image_size))
        status = (f"**{breed}** at strength {strength:.2f} · {time.perf_counter() - t0:.2f} s · "
                  f"{backend.label} · seed {seed}{load_note}")
        return original, result, status

    # ---- Backends side by side ---------------------------------------------------------------

    def compare(self, breed, steps, guidance, seed):
        """Every backend, same breed, settings and seed -> (gallery, markdown table)."""
        breed = check_breed(breed)
        steps, guidance, seed = check_sampling(steps, guidance, seed)
        gallery, rows, reference = [], [], None
        for label, backend in self.backends.items():
            self._load(backend)
            t0 = time.perf_counter()
            image = backend.generate(breed, steps, guidance, "euler", seed, 1)[0]
            seconds = time.perf_counter() - t0
            pixels = np.asarray(image, dtype=np.int16)
            reference = pixels if reference is None else reference
            diff = int(np.abs(pixels - reference).max())
            gallery.append((image, f"{label} · {seconds:.2f} s"))
            rows.append(f"| {label} | {seconds:.2f} | {1000 * seconds / steps:.1f} | {diff} |")
        first = next(iter(self.backends))
        table = ("| backend | total s | ms/step | max pixel difference vs " + first + " (0-255) |\n"
                 "|---|---|---|---|\n" + "\n".join(rows))
        return gallery, table


def new_seed() -> int:
    """A fresh random seed for the "new noise" button."""
    return random.randint(0, MAX_SEED)


def pick_breed(evt: gr.SelectData) -> str:
    """Gallery thumbnail clicked -> that breed's name."""
    return BREEDS[evt.index]
