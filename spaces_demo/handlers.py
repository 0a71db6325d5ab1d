"""The demo's endpoints: check what arrives (checks.py, uploads.py), call a backend, draw the answer (render.py).

Each endpoint is a generator whose first answer clears the previous result and says what it is
doing, so a refused request never leaves an old result on screen under its error, and a run never
shows the previous run's "Done" line. Refusals are the visitor's mistakes (``checks.refuse``: one
log line, no traceback); anything else propagates and Gradio logs its traceback. No model math: the
backends call the pipelines.
"""

from __future__ import annotations

import logging
import os
import queue
import random
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr
import numpy as np
import render
from backends import Backend, to_images
from checks import LIMITS, check_breed, check_choice, check_float, check_int, check_sampling, choices_text, refuse
from PIL import Image
from uploads import check_image

from cats.breeds import BREEDS
from cats.classify import UNFAMILIAR
from cats.images import ImageInputError, from_model_array, to_model_array
from cats.noise import MAX_SEED
from cats.sampling import MODES, SAMPLERS

DOWNLOAD_PREFIX = "tiny-cats-downloads-"  # + the process id: guard.remove_leftovers knows a dead one's folder
log = logging.getLogger("tiny_cats.demo")


def _remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)  # best effort at exit: a file still open stays behind


def _seconds(t0: float) -> str:
    return f"{time.perf_counter() - t0:.1f} s"


@dataclass
class Handlers:
    """The endpoints bound to the loaded backends (label -> Backend, first = default)."""

    backends: dict[str, Backend]
    download_dir: Path = field(
        default_factory=lambda: Path(tempfile.mkdtemp(prefix=f"{DOWNLOAD_PREFIX}{os.getpid()}-")))
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

    def _load(self, backend: Backend) -> None:
        try:
            backend.pipe  # noqa: B018 - loads on first access
        except Exception as exc:  # a fault of the server, not the visitor: keeps its traceback
            raise gr.Error("the image engine could not start; the server log says why") from exc

    @staticmethod
    def _loading(backend: Backend) -> str:
        return "" if backend.loaded else f"Starting the {backend.label} engine (first use, a few seconds)…"

    @contextmanager
    def _pngs(self, images: list[Image.Image], names: list[str]) -> Iterator[list[str]]:
        """The images saved under their download names, in a folder removed when the request ends.

        Gradio copies an output file into its cache before it asks the generator for more, so the
        folder can go as soon as the last answer has been yielded.
        """
        folder = Path(tempfile.mkdtemp(dir=self.download_dir))
        try:
            paths = []
            for img, name in zip(images, names):
                img.save(folder / name, format="PNG")
                paths.append(str(folder / name))
            yield paths
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    # ---- Generate (streamed) -----------------------------------------------------------------

    def generate(self, breed, steps, guidance, sampler, seed, num_images, backend_label, mode, guide):
        """Yields (result HTML, status markdown, download files): a preview every k-th step, then the images.

        guide: the autoguidance scale (1 = off). mode "fast": the few-step student, at one of its step
        counts; its guidance is built into its weights, so neither guidance nor guide is used (the
        status line says so).
        """
        yield "", "Checking the settings…", None
        breed = check_breed(breed)
        steps, guidance, guide, seed = check_sampling(steps, guidance, guide, seed)
        sampler = check_choice("sampler", sampler, SAMPLERS)
        num_images = check_int("number of images", num_images, LIMITS.num_images)
        mode = check_choice("mode", mode, MODES)
        backend = self.backend(backend_label)
        fast = backend.facts.fast_steps
        if mode == "fast" and fast and steps not in fast:
            raise refuse(f"fast mode takes {choices_text(fast)} steps; got {steps}")
        if mode == "quality":
            _check_guide(backend, guide)
        if loading := self._loading(backend):
            yield "", loading, None
        self._load(backend)

        events: queue.Queue = queue.Queue()
        cancelled = threading.Event()
        shown = render.preview_steps(steps)

        def on_step(i, latents, pred_x0):
            if cancelled.is_set():  # the visitor left: stop the sampler at the next step
                raise InterruptedError("generation cancelled")
            if i in shown:
                events.put(("step", i, to_images(latents), to_images(pred_x0)))

        def work():
            try:
                events.put(("done", backend.generate(breed, steps, guidance, sampler, seed, num_images, on_step, mode,
                                                     guide)))
            except BaseException as exc:  # handed to the consuming generator, which re-raises it
                events.put(("error", exc))

        t0 = time.perf_counter()
        threading.Thread(target=work, daemon=True).start()
        try:
            while True:
                kind, *rest = events.get()
                if kind == "error":
                    if isinstance(rest[0], (ValueError, ImageInputError)):
                        raise refuse(str(rest[0])) from rest[0]
                    raise rest[0]
                if kind == "step":
                    i, noisy, clean = rest
                    yield render.preview(noisy, clean, i + 1, steps), f"Drawing **{breed}**: step {i + 1} of {steps}…", None
                    continue
                images = rest[0]
                settings = f"{mode} mode, {steps} steps, {_guided(backend, mode, guidance, guide)}"
                settings += f", {sampler} sampler" if sampler != SAMPLERS[0] else ""
                link = render.share_query(seed, mode, steps, guidance, breed=breed, guide=_link_guide(backend, guide))
                status = (f"**Done:** {breed}, seed {seed} ({settings}) in {_seconds(t0)} · "
                          f"[link to this cat]({link})")
                names = render.download_names(render.subject(breed), seed, mode, len(images))
                captions = [f"{breed} #{k + 1}" if len(images) > 1 else breed for k in range(len(images))]
                with self._pngs(images, names) as files:
                    yield render.figures(list(zip(images, captions))), status, files
                return
        finally:
            cancelled.set()

    # ---- Classify ----------------------------------------------------------------------------

    def classify(self, payload, backend_label):
        """Yields (verdict HTML, details markdown, all 13 probabilities)."""
        yield "", "", None
        backend = self.backend(backend_label)
        image = check_image(payload, "photo", self.is_uploaded)
        if not backend.facts.has_classifier:
            raise refuse("these weights have no breed classifier, so this app cannot tell breeds apart")
        if loading := self._loading(backend):
            yield "", loading, None
        self._load(backend)
        t0 = time.perf_counter()
        result = backend.classify(image, top_k=3)
        details = (f"{result.reason(backend.facts.trained_on)}\n\n"
                   f"Classified in {_seconds(t0)} by {backend.label}.")
        yield render.verdict_html(result), details, result.probabilities

    # ---- Blend and restyle --------------------------------------------------------------------

    def blend(self, breed_a, weight_a, breed_b, weight_b, breed_c, weight_c, steps, guidance, seed, backend_label,
              guide):
        """Up to three breeds mixed by weight -> yields (result HTML, status, download file).

        A slot may be left empty (no breed, weight 0 or none). A weight above 0 without a breed, or
        a breed without a weight, is refused naming the slot; a breed at weight 0 is left out and
        the status says so.
        """
        yield "", "Checking the settings…", None
        blend, left_out = _blend_slots([(breed_a, weight_a, "A"), (breed_b, weight_b, "B"), (breed_c, weight_c, "C")])
        steps, guidance, guide, seed = check_sampling(steps, guidance, guide, seed)
        backend = self.backend(backend_label)
        _check_guide(backend, guide)
        yield "", self._loading(backend) or f"Blending ({steps} steps)…", None
        self._load(backend)
        t0 = time.perf_counter()
        try:
            image = backend.generate(blend, steps, guidance, "euler", seed, 1, autoguidance=guide)[0]
        except ValueError as exc:
            raise refuse(str(exc)) from exc
        total = sum(blend.values())
        text = " + ".join(f"{100 * w / total:.0f}% {name}" for name, w in blend.items())
        skipped = f" ({', '.join(left_out)} at weight 0: left out)" if left_out else ""
        link = render.share_query(seed, "quality", steps, guidance, blend=blend, guide=_link_guide(backend, guide))
        guided = _guided(backend, "quality", guidance, guide)
        status = (f"**Done:** {text}{skipped}, seed {seed} ({steps} steps, {guided}) in {_seconds(t0)} · "
                  f"[link to this blend]({link})")
        names = render.download_names(render.subject(blend=blend), seed, "quality", 1)
        with self._pngs([image], names) as files:
            yield render.figures([(image, text)]), status, files[0]

    def restyle(self, payload, breed, strength, steps, guidance, seed, backend_label, guide):
        """Your cat re-drawn as ``breed`` -> yields (before/after HTML, status, download file)."""
        yield "", "Checking the photo…", None
        image = check_image(payload, "your cat", self.is_uploaded)
        breed = check_breed(breed)
        strength = check_float("strength", strength, LIMITS.strength)
        steps, guidance, guide, seed = check_sampling(steps, guidance, guide, seed)
        backend = self.backend(backend_label)
        _check_guide(backend, guide)
        yield "", self._loading(backend) or f"Restyling as {breed}…", None
        self._load(backend)
        t0 = time.perf_counter()
        try:
            result = backend.transfer(image, breed, strength, steps, guidance, seed, autoguidance=guide)
        except (ValueError, ImageInputError) as exc:
            raise refuse(str(exc)) from exc
        before = from_model_array(to_model_array(image, backend.facts.image_size))
        status = (f"**Done:** restyled as {breed} at strength {strength:.2f}, seed {seed} "
                  f"({_guided(backend, 'quality', guidance, guide)}), in {_seconds(t0)}.")
        if backend.facts.has_classifier:  # the familiarity check tells whether the restyle can be trusted
            if backend.classify(image, top_k=3).verdict == UNFAMILIAR:
                status += ("\n\n**This picture is unlike the pictures these weights learned from**, so the "
                           "restyle may not look like your cat.")
        names = render.download_names(render.subject(restyle=breed), seed, "quality", 1)
        pair = [(before, "before (as the model sees it)"), (result, f"after: {breed}")]
        with self._pngs([result], names) as files:
            yield render.figures(pair, size=render.GRID_SIZE), status, files[0]

    # ---- Backends side by side ---------------------------------------------------------------

    def compare(self, breed, steps, guidance, seed, guide):
        """Every backend, same breed, settings (guide included) and seed -> yields (HTML grid, markdown table)."""
        yield "", "Checking the settings…"
        breed = check_breed(breed)
        steps, guidance, guide, seed = check_sampling(steps, guidance, guide, seed)
        for backend in self.backends.values():  # before any runs: all engines or none
            _check_guide(backend, guide)
        items, rows, reference = [], [], {}
        for label, backend in self.backends.items():
            yield render.figures(items) if items else "", self._loading(backend) or f"Running {label}…"
            self._load(backend)
            modes = [("quality", steps)] + ([("fast", backend.facts.fast_default)] if backend.facts.has_fast else [])
            for mode, n in modes:
                t0 = time.perf_counter()
                image = backend.generate(breed, n, guidance, "euler", seed, 1, mode=mode, autoguidance=guide)[0]
                seconds = time.perf_counter() - t0
                pixels = np.asarray(image, dtype=np.int16)
                reference.setdefault(mode, pixels)  # each mode against the first backend's image of that mode
                diff = int(np.abs(pixels - reference[mode]).max())
                name = label if mode == "quality" else f"{label}, fast ({n} steps)"
                items.append((image, f"{name} · {seconds:.2f} s"))
                guided = _guided(backend, mode, guidance, guide)
                rows.append(f"| {name} | {guided} | {seconds:.2f} | {1000 * seconds / n:.1f} | {diff} |")
        first = next(iter(self.backends))
        table = ("| backend | guidance | total s | ms/step | max pixel difference vs " + first +
                 " in the same mode (0-255) |\n|---|---|---|---|---|\n" + "\n".join(rows))
        yield render.figures(items, size=render.GRID_SIZE), table


def _check_guide(backend: Backend, guide: float) -> None:
    """The guide (in range: check_sampling) against the weights: without a guide network they draw only with it off."""
    if guide != 1 and not backend.facts.has_guide:
        raise refuse(f"guide must be 1 (off): these weights have no guide network; got {guide:g}")


def _guided(backend: Backend, mode: str, guidance: float, guide: float) -> str:
    """The status line's words for the guidance a picture was drawn with (render.guidance_text)."""
    if mode == "fast":
        return render.guidance_text(None, None)
    return render.guidance_text(guidance, guide if backend.facts.has_guide else None)


def _link_guide(backend: Backend, guide: float) -> float | None:
    """A share link's guide: None for weights without a guide network, whose links leave the key out."""
    return guide if backend.facts.has_guide else None


def _blend_slots(pairs) -> tuple[dict[str, float], list[str]]:
    """[(breed, weight, slot name)] -> ({breed: summed weight > 0}, breeds left out at weight 0)."""
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
    return blend, left_out


def new_seed() -> int:
    """A fresh random seed for the "new noise" button."""
    return random.randint(0, MAX_SEED)


def pick_breed(evt: gr.SelectData) -> str:
    """A breed picture clicked -> that breed's name (an index the page never sends is refused)."""
    index = getattr(evt, "index", None)
    return BREEDS[check_int("breed picture", index, (0, len(BREEDS) - 1))]
