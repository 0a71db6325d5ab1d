"""One interface over the two pipelines, so the UI never cares which one runs.

``TorchBackend`` wraps ``cats.pipeline.CatsPipeline``; ``OnnxBackend`` wraps
``cats.onnx.OnnxCatsPipeline`` for one precision variant. No model math here: every call goes to
the pipeline. Two things are decided here once for every backend:

* the seed goes to the pipeline as ``seed=``: both pipelines draw ``cats.noise.gaussian_noise``, the
  noise the web client draws for the same seed, so a seed names one cat on every backend and in the
  browser (and a side-by-side comparison starts each backend from the same noise);
* a backend is loaded on first use (torch is a slow import; a visitor who stays on ONNX never pays
  for it) and one lock serialises its calls (a diffusers scheduler keeps per-call state).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from cats.images import from_model_array

# on_step(step_index from 0, latents (B,3,H,W), pred_x0 (B,3,H,W)), both float arrays in [-1, 1]
StepFn = Callable[[int, np.ndarray, np.ndarray], None]


def to_images(batch) -> list[Image.Image]:
    """(B, 3, H, W) in [-1, 1], a NumPy array or a torch tensor -> B RGB images (display only)."""
    if hasattr(batch, "detach"):  # a torch tensor; duck-typed so the ONNX path never imports torch
        batch = batch.detach().float().cpu().numpy()
    return [from_model_array(x) for x in np.asarray(batch)]


class Backend:
    """A pipeline loaded on first use, with one lock around each call.

    Subclasses give ``_load()``; both pipelines take the same call (``seed=`` included).
    """

    label: str  # what the UI shows, e.g. "PyTorch" or "ONNX fp16"

    def __init__(self) -> None:
        self._pipe = None
        self._lock = threading.Lock()

    @property
    def pipe(self):
        with self._lock:
            if self._pipe is None:
                self._pipe = self._load()
            return self._pipe

    @property
    def loaded(self) -> bool:
        return self._pipe is not None

    def _load(self):
        raise NotImplementedError

    @property
    def image_size(self) -> int:
        raise NotImplementedError

    has_fast = False  # whether the weights hold a few-step student (mode="fast")

    def generate(self, breed, steps: int, guidance: float, sampler: str, seed: int, num_images: int,
                 on_step: StepFn | None = None, mode: str = "quality") -> list[Image.Image]:
        """breed: a name, an id, a blend dict {name: weight} or a list of num_images breeds.

        mode "fast": the few-step student (guidance is baked into it, so ``guidance`` is not passed).
        Returns num_images RGB images of the model's size.
        """
        pipe = self.pipe
        with self._lock:
            out = pipe(breed=breed, num_inference_steps=steps, guidance_scale=None if mode == "fast" else guidance,
                       sampler=sampler, seed=seed, num_images_per_prompt=_per_prompt(breed, num_images),
                       output_type="pil", callback_on_step_end=_callback(on_step), mode=mode)
        return list(out.images)

    def transfer(self, image: Image.Image, breed, strength: float, steps: int, guidance: float,
                 seed: int) -> Image.Image:
        """Restyle ``image`` toward ``breed``; the result has the model's size."""
        pipe = self.pipe
        with self._lock:
            out = pipe.transfer(image, breed=breed, strength=strength, num_inference_steps=steps,
                                guidance_scale=guidance, seed=seed, output_type="pil")
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

    def _load(self):
        from cats.pipeline import CatsPipeline

        pipe = CatsPipeline.from_pretrained(str(self.model_dir))
        pipe.set_progress_bar_config(disable=True)
        return pipe

    @property
    def image_size(self) -> int:
        return int(self.pipe.transformer.config.sample_size)

    @property
    def has_classifier(self) -> bool:
        return getattr(self.pipe, "classifier", None) is not None

    @property
    def has_fast(self) -> bool:
        """A few-step student in the weights (read from model_index.json: no need to load them)."""
        entry = json.loads((self.model_dir / "model_index.json").read_text()).get("fast_transformer")
        return bool(entry) and entry[0] is not None  # save_pretrained writes [null, null] for none


class OnnxBackend(Backend):
    def __init__(self, onnx_dir: Path, variant: str, manifest: dict, threads: int | None = None) -> None:
        super().__init__()
        self.onnx_dir = Path(onnx_dir)
        self.variant = variant
        self.manifest = manifest
        self.threads = threads
        self.label = f"ONNX {variant}"

    def _load(self):
        from cats.onnx import OnnxCatsPipeline

        return OnnxCatsPipeline.from_dir(self.onnx_dir, variant=self.variant, threads=self.threads)

    @property
    def image_size(self) -> int:
        return int(self.manifest["generator"]["image_size"])

    @property
    def has_classifier(self) -> bool:
        return bool(self.manifest.get("classifier"))

    @property
    def has_fast(self) -> bool:
        return bool(self.manifest.get("generator_fast"))


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
