"""One interface over the two pipelines, so the UI never cares which one runs.

``TorchBackend`` wraps ``cats.pipeline.CatsPipeline``; ``OnnxBackend`` wraps
``cats.onnx.OnnxCatsPipeline`` for one precision variant. No model math here: every call goes to
the pipeline. Two things are decided here once for every backend:

* the seed goes to the pipeline as ``seed=``: both pipelines draw ``cats.noise.gaussian_noise``, the
  noise the web client draws for the same seed, so a seed names one cat on every backend and in the
  browser (and a side-by-side comparison starts each backend from the same noise);
* a backend is loaded on first use (torch is a slow import; a visitor who stays on ONNX never pays
  for it) and one lock serialises its calls (a diffusers scheduler keeps per-call state);
* what the UI needs to know about the weights (defaults, the fast mode's step counts, whether there
  is a classifier or a guide network, what they were trained on) is read once, from the export's manifest or the
  pipeline's ``model_index.json``, into a ``Facts`` — never by loading the pipeline.
"""

from __future__ import annotations

import json
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from PIL import Image

from cats.images import from_model_array

# One pipeline load at a time in the process: diffusers' from_pretrained builds modules under
# accelerate's init_empty_weights, which patches torch for every thread while it runs, so a second
# load (the breed pictures' copy, a visitor's first request) must not overlap it.
_LOADING = threading.Lock()

# on_step(step_index from 0, latents (B,3,H,W), pred_x0 (B,3,H,W)), both float arrays in [-1, 1]
StepFn = Callable[[int, np.ndarray, np.ndarray], None]


def to_images(batch) -> list[Image.Image]:
    """(B, 3, H, W) in [-1, 1], a NumPy array or a torch tensor -> B RGB images (display only)."""
    if hasattr(batch, "detach"):  # a torch tensor; duck-typed so the ONNX path never imports torch
        batch = batch.detach().float().cpu().numpy()
    return [from_model_array(x) for x in np.asarray(batch)]


@dataclass(frozen=True)
class Facts:
    """What the demo knows about one backend's weights, read once from their files."""

    trained_on: str | None  # what the weights learned from (shown in About)
    steps: int  # the default number of steps (quality mode)
    guidance: float  # the default guidance scale (quality mode)
    image_size: int  # the generator's image side, in pixels
    has_classifier: bool
    fast_steps: tuple[int, ...] = ()  # the few-step student's step counts; () when the weights have none
    fast_default: int | None = None  # its default step count
    fast_guidance: float | None = None  # the guidance baked into the student (its teacher's)
    has_guide: bool = False  # a guide network (autoguidance, quality mode): the Guide setting is offered
    autoguidance: float | None = None  # its default scale (1 = off); None without a guide

    @property
    def has_fast(self) -> bool:
        return bool(self.fast_steps)


def manifest_facts(manifest: dict) -> Facts:
    """Facts of an ONNX export from its manifest.json (written by python export.py)."""
    gen, fast = manifest["generator"], manifest.get("generator_fast") or {}
    guide = gen.get("guide") is not None  # the step graph holds the guide and takes autoguidance_scale
    return Facts(trained_on=(manifest.get("weights") or {}).get("trained_on"),
                 steps=int(gen["defaults"]["num_inference_steps"]),
                 guidance=float(gen["defaults"]["guidance_scale"]),
                 image_size=int(gen["image_size"]), has_classifier=bool(manifest.get("classifier")),
                 fast_steps=tuple(sorted(int(n) for n in fast.get("scheduler", {}).get("sigmas", {}))),
                 fast_default=int(fast["defaults"]["num_inference_steps"]) if fast else None,
                 fast_guidance=(fast.get("guidance") or {}).get("baked_in"), has_guide=guide,
                 autoguidance=_scale(gen["defaults"].get("autoguidance_scale")) if guide else None)


def pipeline_facts(model_dir: Path) -> Facts:
    """Facts of a CatsPipeline directory from model_index.json and the transformer's config.json."""
    index = _read_json(model_dir / "model_index.json")
    config = _read_json(model_dir / "transformer" / "config.json")
    fast = _component(index, "fast_transformer")
    fast_steps: tuple[int, ...] = ()
    if fast:  # torch imports: TorchBackend asks for its facts only when it is used
        from cats.export.fast import FAST_STEPS  # the step counts the student is exported (and offered) for
        from cats.pipeline import FAST_DEFAULT_STEPS  # what the pipeline uses when its config has no value

        fast_steps = tuple(FAST_STEPS)
    guide = _component(index, "guide_transformer")
    autoguidance = index.get("default_autoguidance_scale") if guide else None
    if guide and autoguidance is None:
        from cats.pipeline import DEFAULT_AUTOGUIDANCE_SCALE  # what the pipeline uses when its config has no value

        autoguidance = DEFAULT_AUTOGUIDANCE_SCALE
    return Facts(trained_on=index.get("trained_on"), steps=int(index["default_num_inference_steps"]),
                 guidance=float(index["default_guidance_scale"]), image_size=int(config["sample_size"]),
                 has_classifier=_component(index, "classifier"), fast_steps=fast_steps,
                 fast_default=int(index.get("fast_default_steps", FAST_DEFAULT_STEPS)) if fast else None,
                 fast_guidance=index.get("fast_guidance_scale") if fast else None, has_guide=guide,
                 autoguidance=_scale(autoguidance))


def _scale(value) -> float | None:
    return None if value is None else float(value)


def _component(index: dict, name: str) -> bool:
    """Whether model_index.json lists a saved component (save_pretrained writes [null, null] for none)."""
    entry = index.get(name)
    return bool(entry) and entry[0] is not None


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"tiny-cats demo: cannot read {path}: {exc}") from None


class Backend(ABC):
    """A pipeline loaded on first use, with one lock around each call.

    Subclasses give ``_load()`` and ``copy()``; both pipelines take the same call (``seed=`` included).
    """

    label: str  # what the UI shows, e.g. "PyTorch" or "ONNX fp16"
    facts: Facts  # read once from the weights' files

    def __init__(self) -> None:
        self._pipe = None
        self._lock = threading.Lock()

    @property
    def pipe(self):
        with self._lock:
            if self._pipe is None:
                with _LOADING:
                    self._pipe = self._load()
            return self._pipe

    @property
    def loaded(self) -> bool:
        return self._pipe is not None

    @abstractmethod
    def _load(self):
        """-> the pipeline (CatsPipeline or OnnxCatsPipeline)."""

    @abstractmethod
    def copy(self) -> "Backend":
        """The same weights with a pipeline and a lock of their own (background work that must not queue)."""

    def generate(self, breed, steps: int, guidance: float, sampler: str, seed: int, num_images: int,
                 on_step: StepFn | None = None, mode: str = "quality",
                 autoguidance: float | None = None) -> list[Image.Image]:
        """breed: a name, an id, a blend dict {name: weight} or a list of num_images breeds.

        autoguidance: the guide network's scale (1 = off; None = the weights' default).
        mode "fast": the few-step student (its guidance is baked in, so neither ``guidance`` nor
        ``autoguidance`` is passed). Returns num_images RGB images of the model's size.
        """
        fast = mode == "fast"
        pipe = self.pipe
        with self._lock:
            out = pipe(breed=breed, num_inference_steps=steps, guidance_scale=None if fast else guidance,
                       autoguidance_scale=None if fast else autoguidance, sampler=sampler, seed=seed,
                       num_images_per_prompt=_per_prompt(breed, num_images), output_type="pil",
                       callback_on_step_end=_callback(on_step), mode=mode)
        return list(out.images)

    def transfer(self, image: Image.Image, breed, strength: float, steps: int, guidance: float,
                 seed: int, autoguidance: float | None = None) -> Image.Image:
        """Restyle ``image`` toward ``breed`` (autoguidance as in ``generate``); the result has the model's size."""
        pipe = self.pipe
        with self._lock:
            out = pipe.transfer(image, breed=breed, strength=strength, num_inference_steps=steps,
                                guidance_scale=guidance, autoguidance_scale=autoguidance, seed=seed,
                                output_type="pil")
        return out.images[0]

    def classify(self, image: Image.Image, top_k: int = 3):
        """-> cats.classify.ClassifyResult for one image."""
        pipe = self.pipe
        with self._lock:
            return pipe.classify(image, top_k=top_k)[0]


def _per_prompt(breed, num_images: int) -> int:
    """Images per breed entry: a list of breeds gives one image each, anything else all of them."""
    return 1 if isinstance(breed, list) else num_images


def _callback(on_step: StepFn | None):
    if on_step is None:
        return None

    def callback(pipe, step_index, sigma, tensors):
        on_step(step_index, tensors["latents"], tensors["pred_x0"])
        return tensors

    return callback


class TorchBackend(Backend):
    label = "PyTorch"

    def __init__(self, model_dir: Path) -> None:
        super().__init__()
        self.model_dir = Path(model_dir)

    @cached_property
    def facts(self) -> Facts:
        return pipeline_facts(self.model_dir)

    def _load(self):
        from cats.pipeline import CatsPipeline  # imported here: torch loads only for a PyTorch backend in use

        pipe = CatsPipeline.from_pretrained(str(self.model_dir))
        pipe.set_progress_bar_config(disable=True)
        return pipe

    def copy(self) -> "TorchBackend":
        return TorchBackend(self.model_dir)


class OnnxBackend(Backend):
    def __init__(self, onnx_dir: Path, variant: str, manifest: dict, threads: int | None = None) -> None:
        super().__init__()
        self.onnx_dir = Path(onnx_dir)
        self.variant = variant
        self.manifest = manifest
        self.threads = threads
        self.label = f"ONNX {variant}"
        self.facts = manifest_facts(manifest)

    def _load(self):
        from cats.onnx import OnnxCatsPipeline  # imported here: onnxruntime loads only for an ONNX backend in use

        return OnnxCatsPipeline.from_dir(self.onnx_dir, variant=self.variant, threads=self.threads)

    def copy(self) -> "OnnxBackend":
        return OnnxBackend(self.onnx_dir, self.variant, self.manifest, self.threads)


def onnx_variants(manifest: dict) -> list[str]:
    """The generator variants the export wrote, default first (the export drops any over budget)."""
    gen = manifest["generator"]
    names = list(gen["variants"])
    default = gen.get("default_variant", names[0])
    return [default] + [n for n in names if n != default]


def make_backends(model_dir: Path | None, onnx_dir: Path | None, manifest: dict | None,
                  threads: int | None = None) -> dict[str, Backend]:
    """label -> backend, ONNX variants first (fastest to load and to run), then PyTorch."""
    backends: dict[str, Backend] = {}
    if onnx_dir is not None and manifest is not None:
        for variant in onnx_variants(manifest):
            b = OnnxBackend(onnx_dir, variant, manifest, threads)
            backends[b.label] = b
    if model_dir is not None:
        b = TorchBackend(model_dir)
        backends[b.label] = b
    return backends
