"""OnnxCatsPipeline: the CatsPipeline calls (generate, blend, transfer, classify) on ONNX Runtime.

Built only from an export directory (``manifest.json`` + graphs) and NumPy: no torch import, so it
runs where torch is not installed (the Gradio Space's ONNX backend). Sampling is the torch-free
core ``cats.sampling`` (shared with ``CatsPipeline``) over the exported step graph, which holds
the guided Euler update (CFG lives in the graph, never here); the sigmas come from
``cats.schedule`` with the manifest's shift, which equals diffusers' scheduler.

Noise: ``seed=INT`` draws ``cats.noise.gaussian_noise``, the same noise as ``CatsPipeline(seed=)``
and the web client for that seed, so the same seed and breed give the same cat; ``generator=`` (a
NumPy Generator) draws its own; ``latents=`` passes it in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import onnxruntime as ort

from cats import sampling
from cats.breeds import breed_weights
from cats.classify import ClassifyResult, preprocess, results_from_logits
from cats.images import load_image, to_model_array
from cats.onnx.manifest import read_manifest, variant_path
from cats.ood import OodStats
from cats.sampling import Call, initial_sample, postprocess, run_sampler, step_callback
from cats.schedule import check_strength, few_step_sigmas, flow_sigmas, transfer_tail

SAMPLERS = sampling.SAMPLERS
OUTPUT_TYPES = sampling.OUTPUT_TYPES  # "pil", "np": no torch here

StepCallback = Callable[["OnnxCatsPipeline", int, float, dict], "dict | None"]


@dataclass
class OnnxPipelineOutput:
    """``images``: a list of PIL images, or float32 (B, S, S, 3) in [0, 1] for output_type="np"."""

    images: list | np.ndarray


def make_session(path: str | Path, threads: int | None = None) -> ort.InferenceSession:
    """CPU session with spin-waiting off (spinning threads stall a busy 2-core machine)."""
    opts = ort.SessionOptions()
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.inter_op_num_threads = 1
    if threads is not None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads must be a positive integer or None (onnxruntime's default), got {threads!r}")
        opts.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


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

    # -- schedule and conditioning ---------------------------------------------------------------

    def sigmas(self, num_inference_steps: int) -> np.ndarray:
        """The scheduler's sigmas (steps + 1 values from 1 to 0), float32."""
        return flow_sigmas(num_inference_steps, self.shift)

    @staticmethod
    def class_weights(breed, batch: int = 1) -> np.ndarray:
        return breed_weights(breed, batch)

    # -- the step graph --------------------------------------------------------------------------

    def step(self, x: np.ndarray, sigma: float, sigma_next: float, weights: np.ndarray,
             guidance_scale: float | None) -> tuple[np.ndarray, np.ndarray]:
        """One Euler step of a graph: x (B,C,S,S) at sigma -> (x at sigma_next, pred_x0).

        guidance_scale None: the few-step graph (conditional only, guidance baked in); else the guided one.
        """
        b = x.shape[0]
        feed = {"sample": np.ascontiguousarray(x, dtype=np.float32),
                "sigma": np.full((b,), sigma, dtype=np.float32),
                "sigma_next": np.full((b,), sigma_next, dtype=np.float32),
                "class_weights": np.ascontiguousarray(weights, dtype=np.float32)}
        if guidance_scale is None:
            return tuple(self.fast_session.run(["next_sample", "pred_x0"], feed))
        feed["guidance_scale"] = np.asarray([guidance_scale], dtype=np.float32)
        nxt, x0 = self.generator_session.run(["next_sample", "pred_x0"], feed)
        return nxt, x0

    # -- generation --------------------------------------------------------------------------------

    def __call__(self, breed="Siamese", num_inference_steps: int | None = None, guidance_scale: float | None = None,
                 sampler: str = "euler", seed: int | None = None, generator: np.random.Generator | None = None,
                 num_images_per_prompt: int = 1, output_type: str = "pil",
                 callback_on_step_end: StepCallback | None = None, latents: np.ndarray | None = None,
                 mode: str = "quality") -> OnnxPipelineOutput:
        """Generate ``num_images_per_prompt`` images per breed entry (see ``breed_weights``).

        mode: "quality" (the guided step graph) or "fast" (the few-step graph: guidance baked in,
        ``guidance_scale`` left out, 1-4 Euler steps; ``cats.sampling.check_fast_call``).

        seed: the shared seeded noise (``cats.noise``); generator: a NumPy Generator instead; latents:
        the initial noise itself (B, 3, S, S). Neither seed nor generator: fresh NumPy noise.
        callback_on_step_end(pipe, step_index, sigma, {"latents": x, "pred_x0": x0}) after each step.
        """
        weights = self.class_weights(breed, num_images_per_prompt)  # (B, 13)
        fast = sampling.check_fast_call(mode, self.fast_session is not None, num_inference_steps, guidance_scale,
                                        sampler, output_type, default_steps=self.fast_default_steps,
                                        baked_guidance=self.fast_guidance_scale, note=" (no torch here)")
        call = fast or self._check_call(num_inference_steps, guidance_scale, sampler, output_type)
        sigmas = np.asarray(few_step_sigmas(call.steps), np.float32) if fast else self.sigmas(call.steps)
        noise = self._noise(weights.shape[0], seed, generator, latents)
        x = self._sample(initial_sample(noise, sigmas), sigmas, weights, call, callback_on_step_end, fast=bool(fast))
        return OnnxPipelineOutput(images=postprocess(x, call.output_type))

    def transfer(self, image, breed="Siamese", strength: float = 0.6, num_inference_steps: int | None = None,
                 guidance_scale: float | None = None, sampler: str = "euler", seed: int | None = None,
                 generator: np.random.Generator | None = None, output_type: str = "pil",
                 callback_on_step_end: StepCallback | None = None, latents: np.ndarray | None = None
                 ) -> OnnxPipelineOutput:
        """Restyle a photo as another breed (SDEdit): noise it to sigma ~ strength, integrate to 0.

        Strength 0 returns the input (resized to the model's size), strength 1 ignores it.
        """
        strength = check_strength(strength)
        pixels = to_model_array(load_image(image), self.image_size)  # (3, S, S) in [-1, 1]
        weights = self.class_weights(breed, 1)
        call = self._check_call(num_inference_steps, guidance_scale, sampler, output_type)
        sigmas = transfer_tail(self.sigmas(call.steps), strength)  # the last steps, ending at 0
        noise = self._noise(weights.shape[0], seed, generator, latents)
        x = initial_sample(noise, sigmas, pixels[None])  # (B, 3, S, S)
        x = self._sample(x, sigmas, weights, call, callback_on_step_end)
        return OnnxPipelineOutput(images=postprocess(x, call.output_type))

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

    # -- internals: the adapter over cats.sampling ------------------------------------------------------

    def _check_call(self, num_inference_steps, guidance_scale, sampler: str, output_type: str) -> Call:
        return sampling.check_call(num_inference_steps, guidance_scale, sampler, output_type,
                                   default_steps=self.default_num_inference_steps,
                                   default_guidance=self.default_guidance_scale, note=" (no torch here)")

    def _noise(self, batch: int, seed, generator, latents) -> np.ndarray:
        """(B, C, S, S) float32 standard normal noise (see ``__call__``)."""
        shape = (batch, self.channels, self.image_size, self.image_size)
        if generator is not None and not isinstance(generator, np.random.Generator):
            raise ValueError(f"generator must be a numpy.random.Generator (np.random.default_rng(seed)), "
                             f"got {type(generator).__name__}; or pass seed=INT")
        return sampling.initial_noise(shape, seed=seed, generator=generator,
                             latents=None if latents is None else np.asarray(latents, dtype=np.float32),
                             draw=lambda g: (np.random.default_rng() if g is None else g).standard_normal(
                                 shape, dtype=np.float32))

    def _sample(self, x: np.ndarray, sigmas: np.ndarray, weights: np.ndarray, call: Call, callback,
                fast: bool = False) -> np.ndarray:
        """``cats.sampling.run_sampler`` over the step graph (CFG inside) with the manifest's sigma_min."""
        def step(sample: np.ndarray, sigma: float, sigma_next: float):
            return self.step(sample, sigma, sigma_next, weights, None if fast else call.guidance)

        on_step = step_callback(self, callback, convert=lambda a: np.asarray(a, dtype=np.float32))
        return run_sampler(step, x, sigmas, call.sampler, on_step, self.sigma_min)
