"""The few-step task: a student DiT that draws in 1-4 Euler steps what the teacher draws in 20 guided ones.

Data: teacher pairs (z, w, x0 = teacher(z, w)) from ``cats.training.pairs`` (guidance baked in).
The student starts as a copy of the teacher's transformer and learns the straight line from z to
x0 (reflow): at sigma, x_sigma = (1 - sigma) * x0 + sigma * z and the target is v = z - x0, the
same flow-matching loss as the teacher's, with the noise tied to its image. Along a straight line
one Euler step from any sigma lands on x0, so the student is right at any step count.

Where the training sigmas come from (``--fewstep-sigmas``):
  * ``uniform``: sigma ~ U(0, 1) (rectified-flow reflow);
  * ``one``: sigma = 1 only (one-step distillation: learn x0 from z directly);
  * ``mix``: 40% sigma = 1, 30% the starts of the 2- and 4-step schedules (0.25, 0.5, 0.75),
    30% U(0, 1): the points the few-step sampler visits, and the rest of the line.
docs/fewstep.md has the equal-budget comparison that chose the shipped setting.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn.functional as F
from accelerate import Accelerator
from torchvision.utils import make_grid

from cats.breeds import NUM_BREEDS
from cats.flow import interpolate, model_velocity, velocity_target
from cats.models.dit import CatDiT
from cats.pipeline import CatsPipeline
from cats.training.batches import IndexStream
from cats.training.config import TrainConfig
from cats.training.pairs import load_pairs

FEWSTEP_SIGMAS = ("mix", "uniform", "one")
MIX_POINTS = (0.25, 0.5, 0.75)  # the starts of the later steps of the uniform 2- and 4-step schedules
VAL_PAIRS = 256  # the last pairs of the pairs directory are held out
SAMPLE_COLUMNS = 4


def train_sigmas(batch: int, mode: str, generator: torch.Generator) -> torch.Tensor:
    """(batch,) training sigmas for ``--fewstep-sigmas mode`` (see the module docstring)."""
    uniform = torch.rand(batch, generator=generator)
    if mode == "uniform":
        return uniform
    if mode == "one":
        return torch.ones(batch)
    pick = torch.rand(batch, generator=generator)
    points = torch.tensor(MIX_POINTS)[torch.randint(len(MIX_POINTS), (batch,), generator=generator)]
    return torch.where(pick < 0.4, torch.ones(batch), torch.where(pick < 0.7, points, uniform))


class FewStepTask:
    """Reflow on teacher pairs; validation = distance of 1- and 2-step student images to the teacher's."""

    def __init__(self, config: TrainConfig, accelerator: Accelerator):
        if config.teacher is None or config.pairs is None:
            raise ValueError("the fewstep task needs --teacher PIPELINE (what the student copies and imitates) and "
                             "--pairs DIR (made by python -m cats.training.pairs)")
        if config.fewstep_sigmas not in FEWSTEP_SIGMAS:
            raise ValueError(f"--fewstep-sigmas must be one of {FEWSTEP_SIGMAS}, got {config.fewstep_sigmas!r}")
        self.teacher = CatsPipeline.from_pretrained(config.teacher)
        settings = json.loads((Path(config.pairs) / "pairs.json").read_text()) if (
            Path(config.pairs) / "pairs.json").is_file() else {}
        tcfg = self.teacher.transformer.config
        if settings.get("image_size", tcfg.sample_size) != tcfg.sample_size:
            raise ValueError(f"the pairs in {config.pairs} are {settings['image_size']} px but the teacher draws "
                             f"{tcfg.sample_size} px")
        pairs = load_pairs(config.pairs)
        n = len(pairs["noise"])
        if n <= VAL_PAIRS:
            raise ValueError(f"{config.pairs} holds {n} pairs; the few-step task needs more than {VAL_PAIRS} "
                             f"(the last {VAL_PAIRS} are held out for validation)")
        self.config = replace(config, image_size=tcfg.sample_size, prediction_type=tcfg.prediction_type,
                              preset=self.teacher.config.preset or config.preset)
        self.pairs_settings = settings
        self.accelerator = accelerator
        self.device = accelerator.device
        tensors = {k: torch.from_numpy(v) for k, v in pairs.items()}
        self.train = {k: v[:-VAL_PAIRS].to(self.device) for k, v in tensors.items()}
        self.val = {k: v[-VAL_PAIRS:].to(self.device) for k, v in tensors.items()}
        self.stream = IndexStream(n - VAL_PAIRS, self.config.seed)
        self.images_per_micro_batch = self.config.batch_size
        self.provenance = {"teacher": str(config.teacher), "pairs": str(config.pairs), "pair_count": n,
                           "pairs_settings": settings}

    def build_model(self) -> torch.nn.Module:
        student = CatDiT.from_config(self.teacher.transformer.config)
        student.load_state_dict(self.teacher.transformer.state_dict())
        return student.float()

    def micro_batch_loss(self, model, step: int, micro: int, generator: torch.Generator) -> torch.Tensor:
        cfg, acc = self.config, self.accelerator
        idx = self.stream.batch(step, micro, cfg.grad_accum, cfg.batch_size, acc.process_index, acc.num_processes)
        idx = idx.to(self.device)
        z, x0, w = self.train["noise"][idx], self.train["image"][idx], self.train["weights"][idx]
        sigma = train_sigmas(len(idx), cfg.fewstep_sigmas, generator).to(self.device, x0.dtype)
        v_hat = model_velocity(model, interpolate(x0, z, sigma), sigma, w, cfg.prediction_type)
        return F.mse_loss(v_hat.float(), velocity_target(x0, z).float())

    def pipeline(self, model):
        """The teacher's pipeline with ``model`` as its few-step student: ``mode="fast"`` samples like the product."""
        pipe = CatsPipeline(transformer=self.teacher.transformer, scheduler=self.teacher.scheduler,
                            fast_transformer=model, fast_guidance_scale=self.pairs_settings.get("guidance_scale"),
                            fast_autoguidance_scale=self.pairs_settings.get("autoguidance_scale"))
        pipe.set_progress_bar_config(disable=True)
        return pipe

    @staticmethod
    def entries(weights: torch.Tensor) -> list[dict[int, float]]:
        """Conditioning rows (n, 13) as the pipeline's breed entries ({breed id: weight})."""
        return [{int(j): float(row[j]) for j in torch.nonzero(row).flatten()} for row in weights.cpu()]

    @torch.no_grad()
    def validate(self, model) -> dict[str, float]:
        """Mean squared distance (pixels in [-1, 1]) of the student's 1- and 2-step images to the teacher's."""
        model.eval()
        pipe, out = self.pipeline(model), {}
        for steps in (1, 2):
            total = 0.0
            for start in range(0, VAL_PAIRS, self.config.batch_size):
                sl = slice(start, min(VAL_PAIRS, start + self.config.batch_size))
                with self.accelerator.autocast():
                    x = pipe(breed=self.entries(self.val["weights"][sl]), latents=self.val["noise"][sl].cpu(),
                             num_inference_steps=steps, mode="fast", output_type="pt").images * 2 - 1
                total += float(F.mse_loss(x.float(), self.val["image"][sl].float().cpu(), reduction="sum"))
            out[f"mse_{steps}step"] = total / (VAL_PAIRS * self.val["image"][0].numel())
        out["loss"] = out["mse_1step"]
        return out

    @torch.no_grad()
    def sample(self, model) -> torch.Tensor:
        """A uint8 (3, H, W) grid of 1-step student images: one row per breed, SAMPLE_COLUMNS fixed seeds."""
        model.eval()
        breeds = [b for b in range(NUM_BREEDS) for _ in range(SAMPLE_COLUMNS)]
        with self.accelerator.autocast():
            images = self.pipeline(model)(breed=breeds, num_inference_steps=1, mode="fast", seed=0,
                                          output_type="pt").images
        return (make_grid(images.float().cpu(), nrow=SAMPLE_COLUMNS, padding=2) * 255).round().to(torch.uint8)

    def finish(self, model, run_dir: Path, val_metrics: dict[str, float]) -> dict:
        """RUN_DIR/fast_transformer (the student, ``CatDiT.from_pretrained``-loadable) and metrics.json."""
        model.save_pretrained(str(Path(run_dir) / "fast_transformer"))
        (Path(run_dir) / "fewstep.json").write_text(json.dumps(
            {**self.provenance, "fewstep_sigmas": self.config.fewstep_sigmas}, indent=2) + "\n")
        metrics = {k: float(v) for k, v in val_metrics.items()}
        (Path(run_dir) / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        return metrics
