"""CatsPipeline: generate cats of a breed (or a blend of breeds), restyle a photo, classify a photo.

A diffusers ``DiffusionPipeline`` with ``transformer`` (``CatDiT``), ``scheduler`` (diffusers'
``FlowMatchEulerDiscreteScheduler``), an optional ``classifier`` (``CatClassifier``) and an optional
``fast_transformer`` (a few-step student of the transformer, ``mode="fast"``: docs/fewstep.md) and an
optional ``guide_transformer`` (a weaker CatDiT of the same data that guides the transformer in quality
mode, autoguidance: docs/guidance.md; a pipeline without one samples with classifier-free guidance only)
and an optional ``vae`` (``AutoencoderKL``, ``cats.models.autoencoder``): with one the transformers
work on its scaled latents and the pipeline decodes once at the end (a latent generator,
docs/latent.md; the ONNX export and the web client take pixel generators only).
The breeds, the preset name and the default steps and guidance live in ``model_index.json`` so
``save_pretrained(dir)`` / ``from_pretrained(dir)`` round-trip with no flags.

``__call__`` and ``transfer`` hand their arguments to the torch-free sampling core
(``cats.sampling.generate`` / ``restyle``, shared with the ONNX pipeline); this class implements the
core's ``Runtime``: its defaults, the sigmas of ``cats.schedule.sigmas`` at the scheduler's shift,
the noise generator, and the step of each mode (``cats.flow.sampling_step``: classifier-free
guidance in one batched pass, then an Euler move). The scheduler is checked
(``cats.schedule.check_scheduler``) and its shift read once, at construction or, for a scheduler
set later, at its first use: an option the ONNX and web runtimes cannot reproduce is refused.

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
from diffusers import AutoencoderKL, DiffusionPipeline, FlowMatchEulerDiscreteScheduler, ImagePipelineOutput

from cats import paths, sampling, schedule
from cats.breeds import BREEDS, NULL_ID, breed_weights
from cats.classify import classify
from cats.flow import SIGMA_MIN, sampling_step
from cats.models.autoencoder import downsampling, from_latents, to_latents
from cats.models.classifier import CatClassifier  # noqa: F401 - diffusers' loader resolves the module by import
from cats.models.dit import PRESETS, CatDiT, get_preset
from cats.paths import bundled_names
from cats.sampling import Call, ModeDefaults, postprocess
from cats.schedule import check_scheduler

SAMPLERS = sampling.SAMPLERS
OUTPUT_TYPES = (*sampling.OUTPUT_TYPES, "pt")  # "pt": a tensor
DEFAULT_GUIDANCE_SCALE = 3.0
DEFAULT_NUM_INFERENCE_STEPS = 20
DEFAULT_AUTOGUIDANCE_SCALE = 2.0  # a guide given without a scale (docs/guidance.md: w near 2 measured best)
FAST_DEFAULT_STEPS = 2  # the few-step student's default (mode="fast")
PRESET_OPTION_DEFAULTS = {"in_channels": 3, "long_skip": False, "conv_out": False}  # CatDiT options a preset may leave out

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

    model_cpu_offload_seq = "transformer->vae"
    _optional_components = ["classifier", "fast_transformer", "guide_transformer", "vae"]

    def __init__(self, transformer: CatDiT, scheduler: FlowMatchEulerDiscreteScheduler, classifier=None,
                 breeds: list[str] | None = None, null_id: int = NULL_ID, preset: str | None = None,
                 default_guidance_scale: float = DEFAULT_GUIDANCE_SCALE,
                 default_num_inference_steps: int = DEFAULT_NUM_INFERENCE_STEPS, trained_on: str | None = None,
                 fast_transformer: CatDiT | None = None, fast_guidance_scale: float | None = None,
                 fast_default_steps: int = FAST_DEFAULT_STEPS, guide_transformer: CatDiT | None = None,
                 default_autoguidance_scale: float | None = None, fast_autoguidance_scale: float | None = None,
                 default_guidance_interval: list[float] | None = None, vae: AutoencoderKL | None = None):
        super().__init__()
        shift = check_scheduler(scheduler)
        if breeds is not None and tuple(breeds) != BREEDS:
            raise ValueError(f"these weights were saved with breeds {list(breeds)}, but this version of tiny-cats "
                             f"uses {list(BREEDS)}; they cannot be mixed")
        if guide_transformer is None:
            default_autoguidance_scale = None  # nothing to guide with: classifier-free guidance only
        elif default_autoguidance_scale is None:
            default_autoguidance_scale = DEFAULT_AUTOGUIDANCE_SCALE
        if guide_transformer is not None:
            g, t = guide_transformer.config, transformer.config
            mismatch = [k for k in ("sample_size", "in_channels") if g.get(k) != t.get(k)]
            if mismatch:
                raise ValueError(f"the guide must draw the transformer's images; its {', '.join(mismatch)} differ "
                                 f"({[g.get(k) for k in mismatch]} vs {[t.get(k) for k in mismatch]})")
        if vae is not None and vae.config.latent_channels != transformer.config.in_channels:
            raise ValueError(f"the autoencoder's latents have {vae.config.latent_channels} channels but the transformer "
                             f"draws {transformer.config.in_channels}: train the transformer on this autoencoder "
                             "(python -m cats.training generator --vae DIR ...)")
        self.register_modules(transformer=transformer, scheduler=scheduler, classifier=classifier,
                              fast_transformer=fast_transformer, guide_transformer=guide_transformer, vae=vae)
        self._shift = shift  # the scheduler's settings, read and checked once
        interval = sampling.check_interval(default_guidance_interval)
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
                                fast_default_steps=int(fast_default_steps),
                                # the guide weight its teacher's pairs were drawn with (None: no guide)
                                fast_autoguidance_scale=None if fast_autoguidance_scale is None
                                else float(fast_autoguidance_scale),
                                # the guide's weight in quality mode (None: no guide, CFG only)
                                default_autoguidance_scale=None if default_autoguidance_scale is None
                                else float(default_autoguidance_scale),
                                # the sigmas [lo, hi] where quality mode guides (None: every step; docs/guidance.md)
                                default_guidance_interval=None if interval is None else list(interval))

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

    # -- generation: thin adapters over cats.sampling ---------------------------------------------

    @torch.no_grad()
    def __call__(self, breed="Siamese", num_inference_steps: int | None = None, guidance_scale: float | None = None,
                 sampler: str = "euler", generator: torch.Generator | None = None, num_images_per_prompt: int = 1,
                 output_type: str = "pil", callback_on_step_end: StepCallback | None = None, progress: bool = True,
                 latents: torch.Tensor | np.ndarray | None = None, seed: int | None = None,
                 mode: str = "quality", autoguidance_scale: float | None = None,
                 guidance_interval="default") -> ImagePipelineOutput:
        """Generate ``num_images_per_prompt`` images per breed entry (see ``breed_weights``).

        mode: "quality" (the guided model over the scheduler's sigmas) or "fast" (the few-step student
        ``fast_transformer``: 1-4 Euler steps, default ``fast_default_steps``, guidance baked in, so
        ``guidance_scale`` stays None; see ``cats.sampling.check_call``).
        autoguidance_scale: the guide network's weight in quality mode (None: the saved default; 1: off,
        classifier-free guidance only; refused above 1 for a pipeline without a guide).
        guidance_interval: (lo, hi) sigmas where quality mode guides, None for every step, "default" for the
        saved ``default_guidance_interval``; elsewhere a step takes the conditional velocity alone.

        seed: the shared seeded noise (``cats.noise``: the same cat as the ONNX pipeline and the web
        client for that seed); else ``torch.randn(..., generator=generator)``; latents: the noise itself
        (B, *pipe.sample_shape): pixels (B, 3, S, S), or the autoencoder's latents for a pipeline with a vae.
        callback_on_step_end(pipe, step_index, sigma, {"latents": x, "pred_x0": x0}) runs after each step
        (latents in a pipeline with a vae); a returned dict with "latents" replaces the current sample.
        """
        return ImagePipelineOutput(images=sampling.generate(
            self, breed, num_inference_steps, guidance_scale, sampler, output_type, batch=num_images_per_prompt,
            mode=mode, seed=seed, generator=generator, latents=latents, callback=callback_on_step_end,
            progress=progress, autoguidance_scale=autoguidance_scale, guidance_interval=guidance_interval))

    @torch.no_grad()
    def transfer(self, image, breed="Siamese", strength: float = 0.6, num_inference_steps: int | None = None,
                 guidance_scale: float | None = None, sampler: str = "euler", generator: torch.Generator | None = None,
                 output_type: str = "pil", callback_on_step_end: StepCallback | None = None, progress: bool = True,
                 latents: torch.Tensor | np.ndarray | None = None, seed: int | None = None,
                 autoguidance_scale: float | None = None, guidance_interval="default") -> ImagePipelineOutput:
        """Restyle a photo as another breed (SDEdit): noise it to sigma ~ strength, integrate to 0.

        image: anything ``cats.images.load_image`` accepts (PIL of any mode, path, bytes, array).
        Uses the last round(steps * strength) steps of the schedule (``cats.schedule.transfer_tail``);
        strength 0 returns the resized input, strength 1 ignores it. One image per breed entry.
        """
        return ImagePipelineOutput(images=sampling.restyle(
            self, image, breed, strength, num_inference_steps, guidance_scale, sampler, output_type, seed=seed,
            generator=generator, latents=latents, callback=callback_on_step_end, progress=progress,
            autoguidance_scale=autoguidance_scale, guidance_interval=guidance_interval))

    def classify(self, images, top_k: int = 3, tta: bool = False):
        """Breed of each image (list[ClassifyResult]) with the pipeline's classifier; see ``cats.classify``."""
        if self.classifier is None:
            raise ValueError("this pipeline has no classifier: load one that was saved with a classifier "
                             "(e.g. CatsPipeline.from_pretrained('synthcats')) or pass classifier= to from_preset")
        return classify(self.classifier, images, top_k=top_k, tta=tta)

    # -- the runtime cats.sampling drives (cats.sampling.Runtime) ------------------------------------

    output_types = OUTPUT_TYPES
    note = ""
    sigma_min = SIGMA_MIN

    @property
    def image_size(self) -> int:
        """The side of the images it draws and restyles: the transformer's, times the autoencoder's downsampling."""
        side = int(self.transformer.config.sample_size)
        return side if self.vae is None else side * downsampling(self.vae)

    def __setattr__(self, name, value):
        super().__setattr__(name, value)
        if name == "scheduler":  # a scheduler given after load (``pipe.scheduler = ...``) is checked on first use
            self.__dict__["_shift"] = None

    def defaults(self, mode: str) -> ModeDefaults | None:
        """The saved defaults of ``mode`` (``model_index.json``); None for fast mode without a student."""
        if mode == "fast":
            return None if self.fast_transformer is None else ModeDefaults(self.config.fast_default_steps,
                                                                           self.config.fast_guidance_scale)
        interval = self.config.get("default_guidance_interval")
        return ModeDefaults(self.config.default_num_inference_steps, self.config.default_guidance_scale,
                            self.config.get("default_autoguidance_scale") if self.guide_transformer is not None
                            else None, None if interval is None else tuple(interval))

    def sigmas(self, num_inference_steps: int, mode: str = "quality") -> list[float]:
        """``cats.schedule.sigmas`` with the scheduler's shift, as Python floats (steps + 1 values, 1 -> 0)."""
        if self._shift is None:
            self._shift = check_scheduler(self.scheduler)
        return schedule.sigmas(num_inference_steps, mode, self._shift).tolist()

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        """(C, S, S) of what the sampler integrates: pixels, or the autoencoder's latents."""
        cfg = self.transformer.config
        return (cfg.in_channels, cfg.sample_size, cfg.sample_size)

    @staticmethod
    def draw(generator: torch.Generator | None, shape: tuple[int, ...]) -> torch.Tensor:
        """diffusers' noise: ``torch.randn`` on the CPU in float32 (see ``__call__``)."""
        return torch.randn(shape, generator=generator, dtype=torch.float32)

    def convert(self, array) -> torch.Tensor:
        return torch.as_tensor(array).to(self._execution_device, self.transformer.dtype)

    def step(self, weights: torch.Tensor, call: Call):
        """The step of the mode's network (``cats.flow.sampling_step``): the student in fast mode, else the
        transformer, guided by the guide network when the call's autoguidance is on."""
        if call.mode == "fast":
            return sampling_step(self.fast_transformer, weights, None, self.fast_transformer.config.prediction_type)
        return sampling_step(self.transformer, weights, call.guidance, self.transformer.config.prediction_type,
                             guide=self.guide_transformer, autoguidance_scale=call.autoguidance, interval=call.interval)

    @contextlib.contextmanager
    def progress(self, total: int):
        with self.progress_bar(total=total) as bar:
            yield bar.update

    def encode(self, pixels: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) in [-1, 1] -> what the sampler integrates (the scaled latents with a vae, else pixels)."""
        return pixels if self.vae is None else to_latents(self.vae, pixels).to(self.transformer.dtype)

    def postprocess(self, x: torch.Tensor, output_type: str):
        """The sampler's result (decoded once with a vae: (B, 3, S, S) in [-1, 1]) -> PIL list | float
        (B, S, S, 3) in [0, 1] | tensor (B, 3, S, S) in [0, 1]."""
        if self.vae is not None:
            x = from_latents(self.vae, x)  # (B, 3, S, S)
        if output_type == "pt":
            return (x.float().clamp(-1.0, 1.0) + 1.0) / 2.0
        return postprocess(x.float().cpu().numpy(), output_type)
