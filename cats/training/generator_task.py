"""The generator task: flow-matching loss on the DiT, validation loss, sample grids, the final pipeline."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import torch
from accelerate import Accelerator
from torchvision.utils import make_grid

from cats.breeds import NUM_BREEDS
from cats.flow import flow_matching_loss, labels_to_weights
from cats.training.batches import IndexStream, load_split, random_hflip, seed_for, to_model_range
from cats.training.config import TrainConfig

VAL_MAX_IMAGES = 1024  # validation loss over at most this many val images (fixed noise and sigmas)
VAL_NOISE_SEED = 20240  # the same for every run and every evaluation, so val losses are comparable
SAMPLE_COLUMNS = 4  # sample grid: one row per breed, this many fixed seeds per row
SAMPLE_SEED = 0


class GeneratorTask:
    """Class-conditional DiT trained with ``cats.flow.flow_matching_loss`` (label dropout to null inside)."""

    def __init__(self, config: TrainConfig, accelerator: Accelerator):
        from cats.models.dit import get_preset

        preset = get_preset(config.preset)  # raises listing the valid names
        size = preset["sample_size"]
        if config.image_size is not None and config.image_size != size:
            raise ValueError(f"--image-size {config.image_size} does not match generator preset {config.preset!r} "
                             f"({size} px); leave --image-size out or pick a preset of that size")
        self.config = replace(config, image_size=size, prediction_type=config.prediction_type or preset["prediction_type"])
        self.accelerator = accelerator
        self.device = accelerator.device
        self.train = load_split(self.config, "train", include_other=False, device=self.device)
        self.val = load_split(self.config, "val", include_other=False, device=self.device)
        self.stream = IndexStream(len(self.train), self.config.seed)
        self.images_per_micro_batch = self.config.batch_size
        self.pipe = None

    def build_model(self) -> torch.nn.Module:
        from cats.pipeline import CatsPipeline

        cfg = self.config
        self.pipe = CatsPipeline.from_preset(cfg.preset, seed=cfg.seed, prediction_type=cfg.prediction_type)
        return self.pipe.transformer

    def micro_batch_loss(self, model, step: int, micro: int, generator: torch.Generator) -> torch.Tensor:
        cfg, acc = self.config, self.accelerator
        idx = self.stream.batch(step, micro, cfg.grad_accum, cfg.batch_size, acc.process_index, acc.num_processes)
        idx = idx.to(self.device)
        x0 = to_model_range(random_hflip(self.train.images[idx], generator))  # (B, 3, H, W) in [-1, 1]
        weights = labels_to_weights(self.train.labels[idx])  # (B, 13) one-hot breeds
        return flow_matching_loss(model, x0, weights, cfg.prediction_type, generator=generator,
                                  logit_mean=cfg.logit_mean, logit_std=cfg.logit_std, label_dropout=cfg.label_dropout)

    @torch.no_grad()
    def validate(self, model) -> dict[str, float]:
        """Conditional flow-matching loss on the val split with the same noise and sigmas every time."""
        cfg = self.config
        model.eval()
        n = min(len(self.val), VAL_MAX_IMAGES)
        total = 0.0
        for start in range(0, n, cfg.batch_size):
            stop = min(n, start + cfg.batch_size)
            generator = torch.Generator().manual_seed(seed_for(VAL_NOISE_SEED, start))
            x0 = to_model_range(self.val.images[start:stop])
            weights = labels_to_weights(self.val.labels[start:stop])
            with self.accelerator.autocast():
                loss = flow_matching_loss(model, x0, weights, cfg.prediction_type, generator=generator,
                                          logit_mean=cfg.logit_mean, logit_std=cfg.logit_std, label_dropout=0.0)
            total += float(loss) * (stop - start)
        return {"loss": total / n}

    def _pipeline(self, model):
        from cats.pipeline import CatsPipeline

        return CatsPipeline(transformer=model, scheduler=self.pipe.scheduler)

    @torch.no_grad()
    def sample(self, model) -> torch.Tensor:
        """A uint8 (3, H, W) grid: one row per breed, SAMPLE_COLUMNS fixed seeds per row, default guidance."""
        model.eval()
        pipe = self._pipeline(model)
        pipe.set_progress_bar_config(disable=True)
        breeds = [b for b in range(NUM_BREEDS) for _ in range(SAMPLE_COLUMNS)]
        with self.accelerator.autocast():
            images = pipe(breed=breeds, num_inference_steps=self.config.sample_steps,
                          generator=torch.Generator().manual_seed(SAMPLE_SEED), output_type="pt").images
        images = images.float().clamp(0, 1)  # (12 * cols, 3, H, W) in [0, 1]
        return (make_grid(images, nrow=SAMPLE_COLUMNS, padding=2) * 255).round().to(torch.uint8).cpu()

    def finish(self, model, run_dir: Path, val_metrics: dict[str, float]) -> dict:
        """Save RUN_DIR/pipeline (EMA weights, ``CatsPipeline.from_pretrained``-loadable) and metrics.json."""
        self._pipeline(model).save_pretrained(str(Path(run_dir) / "pipeline"))
        metrics = {"val_loss": val_metrics["loss"]}
        (Path(run_dir) / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        return metrics
