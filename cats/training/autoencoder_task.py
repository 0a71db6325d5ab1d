"""The autoencoder task: L1 + L2 reconstruction of the training images, PSNR on val, the fitted latent scale.

The autoencoder of a latent generator (``cats.models.autoencoder``, docs/latent.md). No perceptual or
adversarial loss: both need a pretrained network or a second model to train, and SynthCats drawings
(flat colours, clean outlines) are what a plain pixel loss reconstructs best. ``finish`` fits the
latent shift and scale on training images (``fit_latent_scale``) and saves RUN_DIR/autoencoder
(``AutoencoderKL.from_pretrained``-loadable), the ``--vae`` of a latent generator run.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn.functional as F
from accelerate import Accelerator
from torchvision.utils import make_grid

from cats.breeds import NUM_BREEDS
from cats.models.autoencoder import build_autoencoder, fit_latent_scale, get_autoencoder_preset
from cats.training.batches import IndexStream, load_split, random_hflip, to_model_range
from cats.training.config import TrainConfig

DEFAULT_IMAGE_SIZE = 64
VAL_MAX_IMAGES = 1024  # PSNR over at most this many val images
SCALE_IMAGES = 4096  # training images the latent shift and scale are fitted on
SHEET_COLUMNS = 8  # sample sheet: originals over their reconstructions, this many per breed pair of rows


def psnr(reconstruction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR in dB of (B, 3, H, W) images in [-1, 1] (peak-to-peak 2), reconstructions clipped."""
    mse = (reconstruction.float().clamp(-1, 1) - target.float()).pow(2).mean(dim=(1, 2, 3))  # (B,)
    return 10 * torch.log10(4.0 / mse.clamp_min(1e-10))


class AutoencoderTask:
    """``AutoencoderKL`` of a named preset, trained to reconstruct the training images."""

    def __init__(self, config: TrainConfig, accelerator: Accelerator):
        get_autoencoder_preset(config.preset)  # raises listing the valid names
        self.config = replace(config, image_size=config.image_size or DEFAULT_IMAGE_SIZE, prediction_type=None)
        self.accelerator = accelerator
        self.device = accelerator.device
        self.train = load_split(self.config, "train", include_other=False, device=self.device)
        self.val = load_split(self.config, "val", include_other=False, device=self.device)
        self.stream = IndexStream(len(self.train), self.config.seed)
        self.images_per_micro_batch = self.config.batch_size

    def build_model(self) -> torch.nn.Module:
        return build_autoencoder(self.config.preset)

    def micro_batch_loss(self, model, step: int, micro: int, generator: torch.Generator) -> torch.Tensor:
        cfg, acc = self.config, self.accelerator
        idx = self.stream.batch(step, micro, cfg.grad_accum, cfg.batch_size, acc.process_index, acc.num_processes)
        x = to_model_range(random_hflip(self.train.images[idx.to(self.device)], generator))  # (B, 3, H, W)
        out = model(x).sample.float()  # (B, 3, H, W)
        return F.l1_loss(out, x) + F.mse_loss(out, x)

    @torch.no_grad()
    def validate(self, model) -> dict[str, float]:
        """Mean L1 and PSNR of the val images' reconstructions."""
        model.eval()
        n = min(len(self.val), VAL_MAX_IMAGES)
        l1, db = 0.0, 0.0
        for start in range(0, n, self.config.batch_size):
            x = to_model_range(self.val.images[start:start + self.config.batch_size])
            with self.accelerator.autocast():
                out = model(x).sample.float()
            l1 += float((out.clamp(-1, 1) - x).abs().mean(dim=(1, 2, 3)).sum())
            db += float(psnr(out, x).sum())
        return {"loss": l1 / n, "psnr": db / n}

    @torch.no_grad()
    def sample(self, model) -> torch.Tensor:
        """A uint8 grid: rows of val originals, each over its reconstruction (two breeds per pair of rows)."""
        model.eval()
        labels = self.val.labels.cpu()
        picks = torch.cat([torch.nonzero(labels == b).flatten()[:SHEET_COLUMNS // 2] for b in range(NUM_BREEDS)])
        x = to_model_range(self.val.images[picks.to(self.device)])  # (12 * cols/2, 3, H, W)
        with self.accelerator.autocast():
            out = model(x).sample.float().clamp(-1, 1)
        rows = []
        for start in range(0, len(x), SHEET_COLUMNS):
            rows += [x[start:start + SHEET_COLUMNS], out[start:start + SHEET_COLUMNS]]
        images = (torch.cat(rows) + 1) / 2
        return (make_grid(images.cpu(), nrow=SHEET_COLUMNS, padding=2) * 255).round().to(torch.uint8)

    def finish(self, model, run_dir: Path, val_metrics: dict[str, float]) -> dict:
        """Fit the latent scale, save RUN_DIR/autoencoder and metrics.json (val PSNR, shift, scale)."""
        n = min(len(self.train), SCALE_IMAGES)
        shift, scale = fit_latent_scale(model, to_model_range(self.train.images[:n]))
        if not math.isfinite(scale):
            raise ValueError(f"the latent scale is {scale}: the autoencoder's latents are degenerate")
        model.save_pretrained(str(Path(run_dir) / "autoencoder"))
        metrics = {"val_l1": val_metrics["loss"], "val_psnr": val_metrics["psnr"], "shift_factor": shift,
                   "scaling_factor": scale}
        (Path(run_dir) / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        return metrics
