"""OnnxCatsPipeline: the CatsPipeline calls (generate, blend, transfer, classify) on ONNX Runtime.

Built only from an export directory (``manifest.json`` + graphs) and NumPy: no torch import, so it
runs where torch is not installed (the Gradio Space's ONNX backend). ``__call__`` and ``transfer``
hand their arguments to the torch-free sampling core (``cats.sampling.generate`` / ``restyle``,
shared with ``CatsPipeline``); this class implements the core's ``Runtime`` over the exported step
graphs, which hold the guided Euler update (CFG lives in the graph, never here), at the sigmas of
``cats.schedule.sigmas`` with the manifest's shift (equal to diffusers' scheduler).

Noise: ``seed=INT`` draws ``cats.noise.gaussian_noise``, the same noise as ``CatsPipeline(seed=)``
and the web client for that seed, so the same seed and breed give the same cat; ``generator=`` (a
NumPy Generator) draws its own; ``latents=`` passes it in.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import onnxruntime as ort

from cats import sampling, schedule
from cats.breeds import breed_weights
from cats.classify import ClassifyResult, preprocess, results_from_logits
from cats.onnx.manifest import read_manifest, variant_path
from cats.ood import OodStats
from cats.sampling import Call, ModeDefaults, guidance_at, postprocess

SAMPLERS = sampling.SAMPLERS
OUTPUT_TYPES = sampling.OUTPUT_TYPES  # "pil", "np": no torch here

StepCallback = Callable[["OnnxCatsPipeline", int, float, dict], "dict | None"]


@dataclass
class OnnxPipelineOutput:
    """``images``: a list of PIL images, or float32 (B, S, S, 3) in [0, 1] for output_type="np"."""

    images: list | np.ndarray


def make_session(model: str | Path | bytes, threads: int | None = None) -> ort.InferenceSession:
    """A CPU session (model: a graph file or its serialized bytes) with spin-waiting off (spinning threads
    stall a busy 2-core machine); threads: intra-op threads, None for onnxruntime's default."""
    opts = ort.SessionOptions()
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.inter_op_num_threads = 1
    if threads is not None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads must be a positive integer or None (onnxruntime's default), got {threads!r}")
        opts.intra_op_num_threads = threads
    return ort.InferenceSession(model if isinstance(model, bytes) else str(model), opts,
                                providers=["CPUExecutionProvider"])


class OnnxCatsPipeline:
    """Generate (``__call__``), restyle (``transfer``) and classify (``classify``) with ONNX Runtime."""

    def __init__(self, directory: Path, manifest: dict, generator: ort.InferenceSession,
                 classifier: ort.InferenceSession | None, variant: str, fast: ort.InferenceSession | None = None):
        self.directory = Path(directory)
        self.manifest = manifest
        self.variant = variant
        self.generator_session = generator
        self.classifier_session = classifier
        self.fast_session = fast  # the few-step graph (mode="fast"), when the export has a student
        fast_block = manifest.get("generator_fast") or {}
        self.fast_default_steps = int(fast_block.get("defaults", {}).get("num_inference_steps", 2))
        self.fast_guidance_scale = fast_block.get("guidance", {}).get("baked_in")
        gen = manifest["generator"]
        self.image_size = int(gen["image_size"])
        self.channels = int(gen["channels"])
        self.shift = float(gen["scheduler"]["shift"])
        self.sigma_min = float(gen["sigma_min"])  # the graph's x -> v clamp
        self.default_num_inference_steps = int(gen["defaults"]["num_inference_steps"])
        self.default_guidance_scale = float(gen["defaults"]["guidance_scale"])
        # a step graph with a guide network takes autoguidance_scale (the manifest's "guide" block says so)
        self.has_guide = gen.get("guide") is not None
        self.default_autoguidance_scale = gen["defaults"].get("autoguidance_scale") if self.has_guide else None
        interval = gen["defaults"].get("guidance_interval")  # the sigmas [lo, hi] where guidance applies (None: all)
        self.default_guidance_interval = None if interval is None else tuple(interval)
        block = (manifest.get("classifier") or {}).get("ood")
        self.ood = OodStats.from_manifest(block) if block else None  # familiarity statistics (cats.ood)

    @classmethod
    def from_dir(cls, directory: str | Path, variant: str | None = None, threads: int | None = None,
                 classifier_variant: str | None = None) -> "OnnxCatsPipeline":
        """Load an export. variant: "fp32" | "fp16" | "int8" (default: the manifest's default_variant);
        the classifier uses ``classifier_variant``, else the same precision if exported, else its default."""
        directory = Path(directory)
        manifest = read_manifest(directory)
        gen_path = variant_path(directory, manifest, "generator", variant)
        variant = variant or manifest["generator"]["default_variant"]
        clf, fast = None, None
        if manifest.get("classifier"):
            written = manifest["classifier"]["variants"]
            choice = classifier_variant or (variant if variant in written else None)
            clf = make_session(variant_path(directory, manifest, "classifier", choice), threads)
        if manifest.get("generator_fast"):  # the same precision when it was exported (no int8 of it), else its default
            choice = variant if variant in manifest["generator_fast"]["variants"] else None
            fast = make_session(variant_path(directory, manifest, "generator_fast", choice), threads)
        return cls(directory, manifest, make_session(gen_path, threads), clf, variant, fast)

    # -- generation: thin adapters over cats.sampling ---------------------------------------------

    def __call__(self, breed="Siamese", num_inference_steps: int | None = None, guidance_scale: float | None = None,
                 sampler: str = "euler", seed: int | None = None, generator: np.random.Generator | None = None,
                 num_images_per_prompt: int = 1, output_type: str = "pil",
                 callback_on_step_end: StepCallback | None = None, latents: np.ndarray | None = None,
                 mode: str = "quality", autoguidance_scale: float | None = None,
                 guidance_interval="default") -> OnnxPipelineOutput:
        """Generate ``num_images_per_prompt`` images per breed entry (see ``breed_weights``).

        mode: "quality" (the guided step graph) or "fast" (the few-step graph: guidance baked in,
        ``guidance_scale`` left out, 1-4 Euler steps; ``cats.sampling.check_call``).
        autoguidance_scale: the guide network's weight (None: the manifest's default; 1: off, CFG only;
        refused above 1 when the export has no guide). guidance_interval: (lo, hi), None (every step) or
        "default" (the manifest's); outside it a step feeds both scales as 1 (the graph still runs every branch).

        seed: the shared seeded noise (``cats.noise``); generator: a NumPy Generator instead; latents:
        the initial noise itself (B, 3, S, S). Neither seed nor generator: fresh NumPy noise.
        callback_on_step_end(pipe, step_index, sigma, {"latents": x, "pred_x0": x0}) after each step.
        """
        return OnnxPipelineOutput(images=sampling.generate(
            self, breed, num_inference_steps, guidance_scale, sampler, output_type, batch=num_images_per_prompt,
            mode=mode, seed=seed, generator=generator, latents=latents, callback=callback_on_step_end,
            autoguidance_scale=autoguidance_scale, guidance_interval=guidance_interval))

    def transfer(self, image, breed="Siamese", strength: float = 0.6, num_inference_steps: int | None = None,
                 guidance_scale: float | None = None, sampler: str = "euler", seed: int | None = None,
                 generator: np.random.Generator | None = None, output_type: str = "pil",
                 callback_on_step_end: StepCallback | None = None, latents: np.ndarray | None = None,
                 autoguidance_scale: float | None = None, guidance_interval="default") -> OnnxPipelineOutput:
        """Restyle a photo as another breed (SDEdit): noise it to sigma ~ strength, integrate to 0.

        Strength 0 returns the input (resized to the model's size), strength 1 ignores it.
        """
        return OnnxPipelineOutput(images=sampling.restyle(
            self, image, breed, strength, num_inference_steps, guidance_scale, sampler, output_type, seed=seed,
            generator=generator, latents=latents, callback=callback_on_step_end, autoguidance_scale=autoguidance_scale,
            guidance_interval=guidance_interval))

    # -- classification ----------------------------------------------------------------------------

    def classify(self, images, top_k: int = 3, tta: bool = False) -> list[ClassifyResult]:
        """Breed of each image (one image or a list): verdict, top-k and all 13 probabilities."""
        if self.classifier_session is None:
            raise ValueError(f"the export in {self.directory} has no classifier graph; export a pipeline "
                             "that has a classifier")
        clf = self.manifest["classifier"]
        x = preprocess(images, clf["image_size"], clf["mean"], clf["std"])  # (B, 3, S, S)
        ood = self.ood
        # Graphs exported before the familiarity score have no "features" output; they still classify.
        names = ["logits", "features"] if ood is not None else ["logits"]
        outputs = self.classifier_session.run(names, {"image": x})
        if tta:
            flipped = np.ascontiguousarray(x[..., ::-1])
            outputs = [0.5 * (a + b) for a, b in zip(outputs, self.classifier_session.run(names, {"image": flipped}))]
        return results_from_logits(outputs[0], clf["temperature"], clf["unsure_threshold"], top_k,
                                   features=outputs[1] if ood is not None else None, ood=ood)

    # -- the runtime cats.sampling drives (cats.sampling.Runtime) ------------------------------------

    output_types = OUTPUT_TYPES
    note = " (no torch here)"
    postprocess = staticmethod(postprocess)

    @staticmethod
    def class_weights(breed, batch: int = 1) -> np.ndarray:
        return breed_weights(breed, batch)

    def defaults(self, mode: str) -> ModeDefaults | None:
        """The manifest's defaults of ``mode``; None for fast mode when the export has no few-step graph."""
        if mode == "fast":
            return None if self.fast_session is None else ModeDefaults(self.fast_default_steps,
                                                                       self.fast_guidance_scale)
        return ModeDefaults(self.default_num_inference_steps, self.default_guidance_scale,
                            self.default_autoguidance_scale, self.default_guidance_interval)

    def sigmas(self, num_inference_steps: int, mode: str = "quality") -> np.ndarray:
        """``cats.schedule.sigmas`` with the manifest's shift, float32 (steps + 1 values from 1 to 0)."""
        return schedule.sigmas(num_inference_steps, mode, self.shift).astype(np.float32)

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        return (self.channels, self.image_size, self.image_size)

    @staticmethod
    def draw(generator: np.random.Generator | None, shape: tuple[int, ...]) -> np.ndarray:
        """NumPy noise from ``generator`` (None: a fresh one), float32."""
        if generator is not None and not isinstance(generator, np.random.Generator):
            raise ValueError(f"generator must be a numpy.random.Generator (np.random.default_rng(seed)), "
                             f"got {type(generator).__name__}; or pass seed=INT")
        return (np.random.default_rng() if generator is None else generator).standard_normal(shape, dtype=np.float32)

    @staticmethod
    def convert(array) -> np.ndarray:
        return np.asarray(array, dtype=np.float32)

    @staticmethod
    def encode(pixels: np.ndarray) -> np.ndarray:
        """The exported graphs draw pixels: a restyled photo enters the sampler as it is."""
        return pixels

    def step(self, weights: np.ndarray, call: Call):
        """(x, sigma, sigma_next) -> (x_next, pred_x0): one call of the mode's step graph (CFG inside the guided one)."""
        session = self.fast_session if call.mode == "fast" else self.generator_session
        weights = np.ascontiguousarray(weights, dtype=np.float32)

        def step(x: np.ndarray, sigma: float, sigma_next: float):
            b = x.shape[0]
            feeds = {"class_weights": weights}
            guidance, autoguidance = guidance_at(call, sigma)  # scales 1 outside the guidance interval
            if guidance is not None:  # the few-step graph has no guidance_scale input: its guidance is baked in
                feeds["guidance_scale"] = np.asarray([guidance], dtype=np.float32)
                if self.has_guide:  # the guide runs inside the graph either way; 1 turns its term off
                    feeds["autoguidance_scale"] = np.asarray([autoguidance or 1.0], dtype=np.float32)
            nxt, x0 = session.run(["next_sample", "pred_x0"], {
                "sample": np.ascontiguousarray(x, dtype=np.float32), "sigma": np.full((b,), sigma, dtype=np.float32),
                "sigma_next": np.full((b,), sigma_next, dtype=np.float32), **feeds})
            return nxt, x0

        return step

    @staticmethod
    def progress(total: int):
        return contextlib.nullcontext(None)  # no progress display: the callback reports each step
