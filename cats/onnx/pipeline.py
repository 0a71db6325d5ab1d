"""OnnxCatsPipeline: the CatsPipeline calls (generate, blend, transfer, classify) on ONNX Runtime.

Built only from an export directory (``manifest.json`` + graphs) and NumPy: no torch import, so it
runs where torch is not installed (the Gradio Space's ONNX backend). Sampling loops the exported
step graph, which holds the guided Euler update (CFG lives in the graph, never here); the sigmas
come from ``cats.schedule`` with the manifest's shift, which equals diffusers' scheduler.

Noise is drawn with NumPy (``seed`` / ``generator``), so a seed gives a different image than the
PyTorch pipeline's ``torch.Generator``; pass the same ``latents`` to both to get the same picture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real
from pathlib import Path
from typing import Callable

import numpy as np
import onnxruntime as ort

from cats.breeds import breed_weights
from cats.classify import ClassifyResult, preprocess, results_from_logits
from cats.images import from_model_array, load_image, to_model_array
from cats.onnx.manifest import read_manifest, variant_path
from cats.ood import OodStats
from cats.schedule import flow_sigmas, transfer_sigmas

SAMPLERS = ("euler", "heun")
OUTPUT_TYPES = ("pil", "np")

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
                 classifier: ort.InferenceSession | None, variant: str):
        self.directory = Path(directory)
        self.manifest = manifest
        self.variant = variant
        self.generator_session = generator
        self.classifier_session = classifier
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
        clf = None
        if manifest.get("classifier"):
            written = manifest["classifier"]["variants"]
            choice = classifier_variant or (variant if variant in written else None)
            clf = make_session(variant_path(directory, manifest, "classifier", choice), threads)
        return cls(directory, manifest, make_session(gen_path, threads), clf, variant)

    # -- schedule and conditioning ---------------------------------------------------------------

    def sigmas(self, num_inference_steps: int) -> np.ndarray:
        """The scheduler's sigmas (steps + 1 values from 1 to 0), float32."""
        return flow_sigmas(num_inference_steps, self.shift)

    @staticmethod
    def class_weights(breed, batch: int = 1) -> np.ndarray:
        return breed_weights(breed, batch)

    # -- the step graph --------------------------------------------------------------------------

    def step(self, x: np.ndarray, sigma: float, sigma_next: float, weights: np.ndarray,
             guidance_scale: float) -> tuple[np.ndarray, np.ndarray]:
        """One guided Euler step of the graph: x (B,C,S,S) at sigma -> (x at sigma_next, pred_x0)."""
        b = x.shape[0]
        nxt, x0 = self.generator_session.run(["next_sample", "pred_x0"], {
            "sample": np.ascontiguousarray(x, dtype=np.float32),
            "sigma": np.full((b,), sigma, dtype=np.float32),
            "sigma_next": np.full((b,), sigma_next, dtype=np.float32),
            "class_weights": np.ascontiguousarray(weights, dtype=np.float32),
            "guidance_scale": np.asarray([guidance_scale], dtype=np.float32)})
        return nxt, x0

    def _integrate(self, x, sigmas, weights, guidance: float, sampler: str, callback) -> np.ndarray:
        for i, (sigma, sigma_next) in enumerate(zip(sigmas[:-1], sigmas[1:])):
            sigma, sigma_next = float(sigma), float(sigma_next)
            x_next, x0 = self.step(x, sigma, sigma_next, weights, guidance)
            if sampler == "heun" and sigma_next >= self.sigma_min:
                # Heun: x + dt/2 (v + v_end). The graph gives x_next = x + dt v; a second call at the end
                # point with the same dt gives x_next + dt v_end, so the update is their mean with x.
                # Skipped on steps ending below sigma_min (as CatsPipeline): the clamped x -> v slope is
                # wrong there and the step is tiny.
                end, _ = self.step(x_next, sigma_next, 2.0 * sigma_next - sigma, weights, guidance)
                x_next = 0.5 * (x + end)
            x = x_next
            if callback is not None:
                returned = callback(self, i, sigma, {"latents": x, "pred_x0": x0})
                if isinstance(returned, dict) and "latents" in returned:
                    x = np.asarray(returned["latents"], dtype=np.float32)
        return x

    # -- generation --------------------------------------------------------------------------------

    def __call__(self, breed="Siamese", num_inference_steps: int | None = None, guidance_scale: float | None = None,
                 sampler: str = "euler", seed: int | None = None, generator: np.random.Generator | None = None,
                 num_images_per_prompt: int = 1, output_type: str = "pil",
                 callback_on_step_end: StepCallback | None = None, latents: np.ndarray | None = None
                 ) -> OnnxPipelineOutput:
        """Generate ``num_images_per_prompt`` images per breed entry (see ``breed_weights``).

        latents: optional initial noise (B, 3, S, S) instead of NumPy normal noise from seed/generator.
        callback_on_step_end(pipe, step_index, sigma, {"latents": x, "pred_x0": x0}) after each step.
        """
        weights = self.class_weights(breed, num_images_per_prompt)  # (B, 13)
        steps, guidance = self._steps(num_inference_steps), self._guidance(guidance_scale)
        self._check(sampler, output_type)
        noise = self._noise(weights.shape[0], seed, generator, latents)
        x = self._integrate(noise, self.sigmas(steps), weights, guidance, sampler, callback_on_step_end)
        return OnnxPipelineOutput(images=self._postprocess(x, output_type))

    def transfer(self, image, breed="Siamese", strength: float = 0.6, num_inference_steps: int | None = None,
                 guidance_scale: float | None = None, sampler: str = "euler", seed: int | None = None,
                 generator: np.random.Generator | None = None, output_type: str = "pil",
                 callback_on_step_end: StepCallback | None = None, latents: np.ndarray | None = None
                 ) -> OnnxPipelineOutput:
        """Restyle a photo as another breed (SDEdit): noise it to sigma ~ strength, integrate to 0.

        Strength 0 returns the input (resized to the model's size), strength 1 ignores it.
        """
        if isinstance(strength, bool) or not isinstance(strength, Real) or not 0.0 <= strength <= 1.0:
            raise ValueError(f"strength must be a number in [0, 1], got {strength!r}")
        pixels = to_model_array(load_image(image), self.image_size)  # (3, S, S) in [-1, 1]
        weights = self.class_weights(breed, 1)
        steps, guidance = self._steps(num_inference_steps), self._guidance(guidance_scale)
        self._check(sampler, output_type)
        sigmas = transfer_sigmas(steps, float(strength), self.shift)  # the last steps, ending at 0
        noise = self._noise(weights.shape[0], seed, generator, latents)
        s0 = sigmas[0]
        x = ((1.0 - s0) * pixels[None] + s0 * noise).astype(np.float32)  # (B, 3, S, S)
        x = self._integrate(x, sigmas, weights, guidance, sampler, callback_on_step_end)
        return OnnxPipelineOutput(images=self._postprocess(x, output_type))

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

    # -- internals -----------------------------------------------------------------------------------

    def _steps(self, num_inference_steps):
        steps = self.default_num_inference_steps if num_inference_steps is None else num_inference_steps
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
            raise ValueError(f"num_inference_steps must be a positive integer, got {num_inference_steps!r}")
        return int(steps)

    def _guidance(self, guidance_scale) -> float:
        g = self.default_guidance_scale if guidance_scale is None else guidance_scale
        if isinstance(g, bool) or not isinstance(g, Real) or not math.isfinite(g) or g < 0:
            raise ValueError(f"guidance_scale must be a finite number >= 0 (1 = no guidance), got {guidance_scale!r}")
        return float(g)

    @staticmethod
    def _check(sampler: str, output_type: str) -> None:
        if sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
        if output_type not in OUTPUT_TYPES:
            raise ValueError(f"output_type must be one of {OUTPUT_TYPES} (no torch here), got {output_type!r}")

    def _noise(self, batch: int, seed, generator, latents) -> np.ndarray:
        shape = (batch, self.channels, self.image_size, self.image_size)
        if latents is not None:
            noise = np.asarray(latents, dtype=np.float32)
            if noise.shape != shape:
                raise ValueError(f"latents must have shape {shape} (images, channels, size, size), got {noise.shape}")
            return noise
        if generator is None:
            generator = np.random.default_rng(seed)
        elif not isinstance(generator, np.random.Generator):
            raise ValueError(f"generator must be a numpy.random.Generator (np.random.default_rng(seed)), "
                             f"got {type(generator).__name__}; or pass seed=INT")
        elif seed is not None:
            raise ValueError("pass either seed or generator, not both")
        return generator.standard_normal(shape, dtype=np.float32)

    @staticmethod
    def _postprocess(x: np.ndarray, output_type: str):
        """(B, 3, S, S) in [-1, 1] -> PIL list | float32 (B, S, S, 3) in [0, 1] (as CatsPipeline)."""
        x = np.clip(x, -1.0, 1.0)
        if output_type == "pil":
            return [from_model_array(img) for img in x]
        return ((x + 1.0) / 2.0).transpose(0, 2, 3, 1).astype(np.float32)
