"""CatsPipeline: generate cats of a breed (or a blend of breeds), restyle a photo, classify a photo.

A diffusers ``DiffusionPipeline`` with three modules: ``transformer`` (``CatDiT``), ``scheduler``
(diffusers' ``FlowMatchEulerDiscreteScheduler``) and an optional ``classifier`` (``CatClassifier``).
The breeds, the preset name and the default steps and guidance live in ``model_index.json`` so
``save_pretrained(dir)`` / ``from_pretrained(dir)`` round-trip with no flags.

Sampling follows ``cats.flow`` (the one flow-matching convention): the scheduler gives the sigmas,
``guided_velocity`` combines classifier-free guidance in one batched pass, ``euler_step`` moves.
Initial noise is drawn on the CPU in float32 with ``torch.randn(shape, generator=...)`` so the ONNX
pipeline and the browser can replay it from a saved array (or pass it back in as ``latents=``).
"""

from __future__ import annotations

import contextlib
import math
from numbers import Real
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from diffusers import DiffusionPipeline, FlowMatchEulerDiscreteScheduler, ImagePipelineOutput

from cats.breeds import BREEDS, NULL_ID, breed_weights
from cats.flow import SIGMA_MIN, euler_step, guided_velocity, model_velocity, velocity_to_x0
from cats.images import from_model_array, load_image, to_model_array
from cats.models.classifier import CatClassifier  # noqa: F401 - diffusers' loader resolves the module by import
from cats.models.dit import PRESETS, CatDiT, get_preset
from cats.schedule import transfer_sigmas

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"  # bundled pipelines: cats/weights/<name>/
SAMPLERS = ("euler", "heun")
OUTPUT_TYPES = ("pil", "np", "pt")
DEFAULT_GUIDANCE_SCALE = 3.0
DEFAULT_NUM_INFERENCE_STEPS = 20
PRESET_OPTION_DEFAULTS = {"long_skip": False, "conv_out": False}  # CatDiT's options a preset may leave out

StepCallback = Callable[["CatsPipeline", int, float, dict], "dict | None"]


def bundled_names() -> list[str]:
    """Names of the pipelines shipped inside the package (directories of ``cats/weights/``)."""
    if not WEIGHTS_DIR.is_dir():
        return []
    return sorted(p.name for p in WEIGHTS_DIR.iterdir() if (p / "model_index.json").is_file())


def resolve_pretrained(name_or_path: str | Path) -> str:
    """A directory is used as is; a bare name (no slash) is a bundled pipeline; ``owner/repo`` goes to the Hub."""
    path = Path(name_or_path)
    if path.is_dir():
        return str(path)
    text = str(name_or_path)
    if "/" not in text and "\\" not in text:
        if text in bundled_names():
            return str(WEIGHTS_DIR / text)
        names = ", ".join(bundled_names()) or "none yet"
        raise ValueError(f"{text!r} is neither a directory nor a bundled pipeline (bundled: {names}); "
                         "pass a directory written by save_pretrained")
    return text


class CatsPipeline(DiffusionPipeline):
    """Generate (``__call__``), restyle (``transfer``) and classify (``classify``) cats.

    Build with ``CatsPipeline.from_preset("tiny")`` (untrained) or ``CatsPipeline.from_pretrained(dir
    | "synthcats")``.
    """

    model_cpu_offload_seq = "transformer"
    _optional_components = ["classifier"]

    def __init__(self, transformer: CatDiT, scheduler: FlowMatchEulerDiscreteScheduler, classifier=None,
                 breeds: list[str] | None = None, null_id: int = NULL_ID, preset: str | None = None,
                 default_guidance_scale: float = DEFAULT_GUIDANCE_SCALE,
                 default_num_inference_steps: int = DEFAULT_NUM_INFERENCE_STEPS, trained_on: str | None = None):
        super().__init__()
        if breeds is not None and tuple(breeds) != BREEDS:
            raise ValueError(f"these weights were saved with breeds {list(breeds)}, but this version of tiny-cats "
                             f"uses {list(BREEDS)}; they cannot be mixed")
        self.register_modules(transformer=transformer, scheduler=scheduler, classifier=classifier)
        if preset is None:  # built around a bare transformer (e.g. by the trainer): name its size if it has one
            # a preset leaves the architecture options at their defaults: compare those too, or a
            # `tiny` with long skips would be named `tiny`
            preset = next((name for name, cfg in PRESETS.items()
                           if all(transformer.config.get(k) == v for k, v in {**PRESET_OPTION_DEFAULTS, **cfg}.items())),
                          None)
        self.register_to_config(breeds=list(BREEDS), null_id=NULL_ID, preset=preset,
                                default_guidance_scale=float(default_guidance_scale),
                                default_num_inference_steps=int(default_num_inference_steps),
                                trained_on=trained_on)  # what the weights learned from; shown by the demos

    # -- construction --------------------------------------------------------------------------

    @classmethod
    def from_preset(cls, name: str, seed: int = 0, prediction_type: str | None = None, shift: float | None = None,
                    classifier=None, default_guidance_scale: float = DEFAULT_GUIDANCE_SCALE,
                    default_num_inference_steps: int = DEFAULT_NUM_INFERENCE_STEPS) -> "CatsPipeline":
        """An untrained pipeline of a named model size (``cats.models.dit.PRESETS``), initialised from ``seed``."""
        config = get_preset(name)
        if prediction_type is not None:
            config["prediction_type"] = prediction_type
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            transformer = CatDiT(**config).eval()
        scheduler = FlowMatchEulerDiscreteScheduler(shift=1.0 if shift is None else float(shift))
        return cls(transformer=transformer, scheduler=scheduler, classifier=classifier, preset=name,
                   default_guidance_scale=default_guidance_scale,
                   default_num_inference_steps=default_num_inference_steps)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | Path, **kwargs) -> "CatsPipeline":
        """Load a directory written by ``save_pretrained``, or a bundled pipeline by bare name ("synthcats").

        Weights stored in half precision (the bundled ones are, to stay small) are cast to float32
        unless ``dtype`` is given: CPU inference and the ONNX export expect float32.
        """
        if "torch_dtype" not in kwargs:
            kwargs.setdefault("dtype", torch.float32)
        return super().from_pretrained(resolve_pretrained(pretrained_model_name_or_path), **kwargs)

    # -- conditioning --------------------------------------------------------------------------

    def class_weights(self, breed, batch: int = 1) -> torch.Tensor:
        """Conditioning weights (rows, 13) on the pipeline's device; see ``breed_weights`` for the rules."""
        return torch.from_numpy(breed_weights(breed, batch)).to(self._execution_device)

    # -- generation ----------------------------------------------------------------------------

    @torch.no_grad()
    def __call__(self, breed="Siamese", num_inference_steps: int | None = None, guidance_scale: float | None = None,
                 sampler: str = "euler", generator: torch.Generator | None = None, num_images_per_prompt: int = 1,
                 output_type: str = "pil", callback_on_step_end: StepCallback | None = None, progress: bool = True,
                 latents: torch.Tensor | np.ndarray | None = None) -> ImagePipelineOutput:
        """Generate ``num_images_per_prompt`` images per breed entry (see ``breed_weights``).

        latents: optional initial noise (B, 3, S, S) instead of ``torch.randn(..., generator=generator)``.
        callback_on_step_end(pipe, step_index, sigma, {"latents": x, "pred_x0": x0}) runs after each
        step; a returned dict with "latents" replaces the current sample.
        """
        weights = self.class_weights(breed, num_images_per_prompt)  # (B, 13)
        steps = self._steps(num_inference_steps)
        self.scheduler.set_timesteps(steps, device="cpu")
        sigmas = self.scheduler.sigmas.tolist()  # steps + 1 values, 1 -> 0
        noise = self._initial_noise(weights.shape[0], generator, latents)
        x = self._integrate(noise, sigmas, weights, guidance_scale, sampler, callback_on_step_end, progress)
        return ImagePipelineOutput(images=self._postprocess(x, output_type))

    @torch.no_grad()
    def transfer(self, image, breed="Siamese", strength: float = 0.6, num_inference_steps: int | None = None,
                 guidance_scale: float | None = None, sampler: str = "euler", generator: torch.Generator | None = None,
                 output_type: str = "pil", callback_on_step_end: StepCallback | None = None, progress: bool = True,
                 latents: torch.Tensor | np.ndarray | None = None) -> ImagePipelineOutput:
        """Restyle a photo as another breed (SDEdit): noise it to sigma ~ strength, integrate to 0.

        image: anything ``cats.images.load_image`` accepts (PIL of any mode, path, bytes, array).
        Uses the last round(steps * strength) steps of the schedule (``cats.schedule.transfer_sigmas``);
        strength 0 returns the resized input, strength 1 ignores it. One image per breed entry.
        """
        if isinstance(strength, bool) or not isinstance(strength, Real) or not 0.0 <= strength <= 1.0:
            raise ValueError(f"strength must be a number in [0, 1], got {strength!r}")
        size = self.transformer.config.sample_size
        pixels = torch.from_numpy(to_model_array(load_image(image), size))  # (3, S, S) in [-1, 1]
        weights = self.class_weights(breed, 1)  # (B, 13)
        steps = self._steps(num_inference_steps)
        self.scheduler.set_timesteps(steps, device="cpu")
        run = len(transfer_sigmas(steps, strength)) - 1  # how many of the last steps run (the one cut rule)
        sigmas = self.scheduler.sigmas[steps - run:].tolist()  # run + 1 values ending at 0
        noise = self._initial_noise(weights.shape[0], generator, latents)
        s0 = sigmas[0]
        x = (1.0 - s0) * pixels.to(noise) + s0 * noise  # (B, 3, S, S)
        x = self._integrate(x, sigmas, weights, guidance_scale, sampler, callback_on_step_end, progress)
        return ImagePipelineOutput(images=self._postprocess(x, output_type))

    def classify(self, images, top_k: int = 3, tta: bool = False):
        """Breed of each image (list[ClassifyResult]) with the pipeline's classifier; see ``cats.classify``."""
        if self.classifier is None:
            raise ValueError("this pipeline has no classifier: load one that was saved with a classifier "
                             "(e.g. CatsPipeline.from_pretrained('synthcats')) or pass classifier= to from_preset")
        from cats.classify import classify  # imported here: the classifier side is optional for generation

        return classify(self.classifier, images, top_k=top_k, tta=tta)

    # -- internals ------------------------------------------------------------------------------

    def _steps(self, num_inference_steps: int | None) -> int:
        steps = self.config.default_num_inference_steps if num_inference_steps is None else num_inference_steps
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ValueError(f"num_inference_steps must be a positive integer, got {num_inference_steps!r}")
        return steps

    def _initial_noise(self, batch: int, generator: torch.Generator | None, latents) -> torch.Tensor:
        """(B, 3, S, S) standard normal noise drawn on the CPU in float32, or the given ``latents``."""
        cfg = self.transformer.config
        shape = (batch, cfg.in_channels, cfg.sample_size, cfg.sample_size)
        if latents is None:
            noise = torch.randn(shape, generator=generator, dtype=torch.float32)
        else:
            noise = torch.as_tensor(np.asarray(latents) if not torch.is_tensor(latents) else latents).float().cpu()
            if tuple(noise.shape) != shape:
                raise ValueError(f"latents must have shape {shape} (images, channels, size, size), "
                                 f"got {tuple(noise.shape)}")
        return noise.to(self._execution_device, self.transformer.dtype)

    def _velocity(self, x: torch.Tensor, sigma: float, weights: torch.Tensor, guidance: float):
        """(v, pred_x0) at one noise level; guidance 1 runs only the conditional branch (batch B)."""
        s = torch.full((x.shape[0],), sigma, device=x.device, dtype=x.dtype)  # (B,)
        prediction_type = self.transformer.config.prediction_type
        if guidance == 1.0:
            v = model_velocity(self.transformer, x, s, weights.to(x.dtype), prediction_type)
            return v, velocity_to_x0(x, v, s)
        return guided_velocity(self.transformer, x, s, weights.to(x.dtype), guidance, prediction_type)

    def _integrate(self, x: torch.Tensor, sigmas: list[float], weights: torch.Tensor, guidance_scale: float | None,
                   sampler: str, callback: StepCallback | None, progress: bool) -> torch.Tensor:
        """Integrate dx/dsigma = v from sigmas[0] to sigmas[-1] (= 0) with Euler or Heun (2nd order)."""
        if sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
        guidance = self.config.default_guidance_scale if guidance_scale is None else guidance_scale
        if isinstance(guidance, bool) or not isinstance(guidance, Real) or not math.isfinite(guidance) or guidance < 0:
            raise ValueError(f"guidance_scale must be a finite number >= 0 (1 = no guidance), got {guidance_scale!r}")
        guidance = float(guidance)
        bar = self.progress_bar(total=len(sigmas) - 1) if progress else contextlib.nullcontext()
        with bar:
            for i, (sigma, sigma_next) in enumerate(zip(sigmas[:-1], sigmas[1:])):
                v, x0 = self._velocity(x, sigma, weights, guidance)
                s = torch.full((x.shape[0],), sigma, device=x.device, dtype=x.dtype)
                s_next = torch.full_like(s, sigma_next)
                x_next = euler_step(x, v, s, s_next)
                # Heun: average with the slope at the end point. Not on steps ending below SIGMA_MIN (the last
                # one ends at 0): there the x -> v clamp makes that slope wrong (a 3-step x-prediction run
                # kept ~25% of the noise), and the step is tiny anyway.
                if sampler == "heun" and sigma_next >= SIGMA_MIN:
                    v_end, _ = self._velocity(x_next, sigma_next, weights, guidance)
                    x_next = euler_step(x, 0.5 * (v + v_end), s, s_next)
                x = x_next
                if callback is not None:
                    returned = callback(self, i, sigma, {"latents": x, "pred_x0": x0})
                    if isinstance(returned, dict) and "latents" in returned:
                        x = returned["latents"]
                if progress:
                    bar.update()
        return x

    @staticmethod
    def _postprocess(x: torch.Tensor, output_type: str):
        """(B, 3, S, S) in [-1, 1] -> PIL list | float (B, S, S, 3) in [0, 1] | tensor (B, 3, S, S) in [0, 1]."""
        if output_type not in OUTPUT_TYPES:
            raise ValueError(f"output_type must be one of {OUTPUT_TYPES}, got {output_type!r}")
        x = x.float().clamp(-1.0, 1.0)
        if output_type == "pil":
            return [from_model_array(img) for img in x.cpu().numpy()]
        images = (x + 1.0) / 2.0  # (B, 3, S, S) in [0, 1]
        if output_type == "pt":
            return images
        return images.permute(0, 2, 3, 1).cpu().numpy()  # (B, S, S, 3)
