"""CatsPipeline: generate cats of a breed (or a blend of breeds), restyle a photo, classify a photo.

A diffusers ``DiffusionPipeline`` with ``transformer`` (``CatDiT``), ``scheduler`` (diffusers'
``FlowMatchEulerDiscreteScheduler``), an optional ``classifier`` (``CatClassifier``) and an optional
``fast_transformer`` (a few-step student of the transformer, ``mode="fast"``: docs/fewstep.md).
The breeds, the preset name and the default steps and guidance live in ``model_index.json`` so
``save_pretrained(dir)`` / ``from_pretrained(dir)`` round-trip with no flags.

Sampling is the torch-free core ``cats.sampling`` (shared with the ONNX pipeline) over this
pipeline's step: ``cats.flow.guided_velocity`` (classifier-free guidance in one batched pass) and
``euler_step``, at the sigmas of the scheduler. The scheduler is checked (``cats.schedule.check_scheduler``)
at construction and at every call: an option the ONNX and web runtimes cannot reproduce is refused.

Initial noise: ``seed=INT`` draws ``cats.noise.gaussian_noise`` (the same noise as the ONNX pipeline,
the Gradio demo and the web client for that seed); ``generator=`` draws ``torch.randn(shape,
generator=...)`` on the CPU in float32 as diffusers pipelines do; ``latents=`` passes it in.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from diffusers import DiffusionPipeline, FlowMatchEulerDiscreteScheduler, ImagePipelineOutput

from cats import paths, sampling
from cats.breeds import BREEDS, NULL_ID, breed_weights
from cats.flow import SIGMA_MIN, euler_step, guided_velocity, model_velocity, velocity_to_x0
from cats.images import load_image, to_model_array
from cats.models.classifier import CatClassifier  # noqa: F401 - diffusers' loader resolves the module by import
from cats.models.dit import PRESETS, CatDiT, get_preset
from cats.paths import WEIGHTS_DIR, bundled_names  # noqa: F401 - WEIGHTS_DIR stays importable from here
from cats.sampling import (
    Call,
    check_call,
    check_fast_call,
    initial_noise,
    initial_sample,
    postprocess,
    run_sampler,
    step_callback,
)
from cats.schedule import check_scheduler, check_strength, few_step_sigmas, transfer_tail

SAMPLERS = sampling.SAMPLERS
OUTPUT_TYPES = (*sampling.OUTPUT_TYPES, "pt")  # "pt": a tensor
DEFAULT_GUIDANCE_SCALE = 3.0
DEFAULT_NUM_INFERENCE_STEPS = 20
FAST_DEFAULT_STEPS = 2  # the few-step student's default (mode="fast")
PRESET_OPTION_DEFAULTS = {"long_skip": False, "conv_out": False}  # CatDiT's options a preset may leave out

StepCallback = Callable[["CatsPipeline", int, float, dict], "dict | None"]


def resolve_pretrained(name_or_path: str | Path) -> str:
    """A directory is used as is; a bare name (no slash) is a bundled pipeline; ``owner/repo`` goes to the Hub."""
    path = Path(name_or_path)
    if path.is_dir():
        return str(path)
    text = str(name_or_path)
    if "/" not in text and "\\" not in text:
        if text in bundled_names():
            return str(paths.bundled_pipeline(text))
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
    _optional_components = ["classifier", "fast_transformer"]

    def __init__(self, transformer: CatDiT, scheduler: FlowMatchEulerDiscreteScheduler, classifier=None,
                 breeds: list[str] | None = None, null_id: int = NULL_ID, preset: str | None = None,
                 default_guidance_scale: float = DEFAULT_GUIDANCE_SCALE,
                 default_num_inference_steps: int = DEFAULT_NUM_INFERENCE_STEPS, trained_on: str | None = None,
                 fast_transformer: CatDiT | None = None, fast_guidance_scale: float | None = None,
                 fast_default_steps: int = FAST_DEFAULT_STEPS):
        super().__init__()
        check_scheduler(scheduler)
        if breeds is not None and tuple(breeds) != BREEDS:
            raise ValueError(f"these weights were saved with breeds {list(breeds)}, but this version of tiny-cats "
                             f"uses {list(BREEDS)}; they cannot be mixed")
        self.register_modules(transformer=transformer, scheduler=scheduler, classifier=classifier,
                              fast_transformer=fast_transformer)
        if preset is None:  # built around a bare transformer (e.g. by the trainer): name its size if it has one
            # a preset leaves the architecture options at their defaults: compare those too, or a
            # `tiny` with long skips would be named `tiny`
            preset = next((name for name, cfg in PRESETS.items()
                           if all(transformer.config.get(k) == v for k, v in {**PRESET_OPTION_DEFAULTS, **cfg}.items())),
                          None)
        self.register_to_config(breeds=list(BREEDS), null_id=NULL_ID, preset=preset,
                                default_guidance_scale=float(default_guidance_scale),
                                default_num_inference_steps=int(default_num_inference_steps),
                                trained_on=trained_on,  # what the weights learned from; shown by the demos
                                # the few-step student (mode="fast"): the guidance its teacher baked in, its steps
                                fast_guidance_scale=None if fast_guidance_scale is None else float(fast_guidance_scale),
                                fast_default_steps=int(fast_default_steps))

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
                 latents: torch.Tensor | np.ndarray | None = None, seed: int | None = None,
                 mode: str = "quality") -> ImagePipelineOutput:
        """Generate ``num_images_per_prompt`` images per breed entry (see ``breed_weights``).

        mode: "quality" (the guided model over the scheduler's sigmas) or "fast" (the few-step student
        ``fast_transformer``: 1-4 Euler steps, default ``fast_default_steps``, guidance baked in, so
        ``guidance_scale`` stays None; see ``cats.sampling.check_fast_call``).

        seed: the shared seeded noise (``cats.noise``: the same cat as the ONNX pipeline and the web
        client for that seed); else ``torch.randn(..., generator=generator)``; latents: the noise itself
        (B, 3, S, S). callback_on_step_end(pipe, step_index, sigma, {"latents": x, "pred_x0": x0}) runs
        after each step; a returned dict with "latents" replaces the current sample.
        """
        weights = self.class_weights(breed, num_images_per_prompt)  # (B, 13)
        fast = check_fast_call(mode, self.fast_transformer is not None, num_inference_steps, guidance_scale, sampler,
                               output_type, default_steps=self.config.fast_default_steps,
                               baked_guidance=self.config.fast_guidance_scale, output_types=OUTPUT_TYPES)
        call = fast or self._check_call(num_inference_steps, guidance_scale, sampler, output_type)
        sigmas = few_step_sigmas(call.steps) if fast else self._sigmas(call.steps)
        noise = self._initial_noise(weights.shape[0], seed, generator, latents)
        model = self.fast_transformer if fast else self.transformer
        x = self._sample(initial_sample(noise, sigmas), sigmas, weights, call, callback_on_step_end, progress, model)
        return ImagePipelineOutput(images=self._postprocess(x, call.output_type))

    @torch.no_grad()
    def transfer(self, image, breed="Siamese", strength: float = 0.6, num_inference_steps: int | None = None,
                 guidance_scale: float | None = None, sampler: str = "euler", generator: torch.Generator | None = None,
                 output_type: str = "pil", callback_on_step_end: StepCallback | None = None, progress: bool = True,
                 latents: torch.Tensor | np.ndarray | None = None, seed: int | None = None) -> ImagePipelineOutput:
        """Restyle a photo as another breed (SDEdit): noise it to sigma ~ strength, integrate to 0.

        image: anything ``cats.images.load_image`` accepts (PIL of any mode, path, bytes, array).
        Uses the last round(steps * strength) steps of the schedule (``cats.schedule.transfer_tail``);
        strength 0 returns the resized input, strength 1 ignores it. One image per breed entry.
        """
        strength = check_strength(strength)
        pixels = torch.from_numpy(to_model_array(load_image(image), self.transformer.config.sample_size))  # (3, S, S)
        weights = self.class_weights(breed, 1)  # (B, 13)
        call = self._check_call(num_inference_steps, guidance_scale, sampler, output_type)
        sigmas = transfer_tail(self._sigmas(call.steps), strength)  # the last steps, ending at 0
        noise = self._initial_noise(weights.shape[0], seed, generator, latents)
        x = initial_sample(noise, sigmas, pixels.to(noise))  # (B, 3, S, S)
        x = self._sample(x, sigmas, weights, call, callback_on_step_end, progress)
        return ImagePipelineOutput(images=self._postprocess(x, call.output_type))

    def classify(self, images, top_k: int = 3, tta: bool = False):
        """Breed of each image (list[ClassifyResult]) with the pipeline's classifier; see ``cats.classify``."""
        if self.classifier is None:
            raise ValueError("this pipeline has no classifier: load one that was saved with a classifier "
                             "(e.g. CatsPipeline.from_pretrained('synthcats')) or pass classifier= to from_preset")
        from cats.classify import classify  # imported here: the classifier side is optional for generation

        return classify(self.classifier, images, top_k=top_k, tta=tta)

    # -- internals: the adapter over cats.sampling -----------------------------------------------

    def _check_call(self, num_inference_steps, guidance_scale, sampler: str, output_type: str) -> Call:
        return check_call(num_inference_steps, guidance_scale, sampler, output_type,
                          default_steps=self.config.default_num_inference_steps,
                          default_guidance=self.config.default_guidance_scale, output_types=OUTPUT_TYPES)

    def _sigmas(self, steps: int) -> list[float]:
        """The scheduler's sigmas (steps + 1 values, 1 -> 0), after checking it is one every runtime reproduces
        (``pipe.scheduler`` may have been replaced since construction)."""
        check_scheduler(self.scheduler)
        self.scheduler.set_timesteps(steps, device="cpu")
        return self.scheduler.sigmas.tolist()

    def _initial_noise(self, batch: int, seed: int | None, generator: torch.Generator | None, latents) -> torch.Tensor:
        """(B, 3, S, S) standard normal noise in float32 (see ``__call__``), on the pipeline's device."""
        cfg = self.transformer.config
        shape = (batch, cfg.in_channels, cfg.sample_size, cfg.sample_size)
        if latents is not None:
            latents = torch.as_tensor(np.asarray(latents) if not torch.is_tensor(latents) else latents).float().cpu()
        noise = initial_noise(shape, seed=seed, generator=generator, latents=latents,
                              draw=lambda g: torch.randn(shape, generator=g, dtype=torch.float32))
        return torch.as_tensor(noise).to(self._execution_device, self.transformer.dtype)

    def _step(self, weights: torch.Tensor, guidance: float, model: CatDiT):
        """The core's step: (x, sigma, sigma_next) -> (x_next, pred_x0), one guided Euler move of ``model``.

        Guidance 1 runs only the conditional branch (batch B); any other, both branches in one batch 2B.
        """
        prediction_type = model.config.prediction_type

        def step(x: torch.Tensor, sigma: float, sigma_next: float):
            s = torch.full((x.shape[0],), sigma, device=x.device, dtype=x.dtype)  # (B,)
            w = weights.to(x.dtype)
            if guidance == 1.0:
                v = model_velocity(model, x, s, w, prediction_type)
                x0 = velocity_to_x0(x, v, s)
            else:
                v, x0 = guided_velocity(model, x, s, w, guidance, prediction_type)
            return euler_step(x, v, s, torch.full_like(s, sigma_next)), x0

        return step

    def _sample(self, x: torch.Tensor, sigmas: list[float], weights: torch.Tensor, call: Call,
                callback: StepCallback | None, progress: bool, model: CatDiT | None = None) -> torch.Tensor:
        """``cats.sampling.run_sampler`` with this pipeline's step, callback and progress bar."""
        user = step_callback(self, callback)
        bar = self.progress_bar(total=len(sigmas) - 1) if progress else None

        def on_step(index: int, sigma: float, latents: torch.Tensor, pred_x0: torch.Tensor):
            replaced = user(index, sigma, latents, pred_x0) if user is not None else None
            if bar is not None:
                bar.update()
            return replaced

        with bar if bar is not None else contextlib.nullcontext():
            return run_sampler(self._step(weights, call.guidance, model or self.transformer), x, sigmas, call.sampler,
                               on_step, SIGMA_MIN)

    @staticmethod
    def _postprocess(x: torch.Tensor, output_type: str):
        """(B, 3, S, S) in [-1, 1] -> PIL list | float (B, S, S, 3) in [0, 1] | tensor (B, 3, S, S) in [0, 1]."""
        if output_type == "pt":
            return (x.float().clamp(-1.0, 1.0) + 1.0) / 2.0
        return postprocess(x.float().cpu().numpy(), output_type)
