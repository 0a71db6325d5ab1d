"""The generator task: flow-matching loss on the DiT, validation loss, sample grids, the final pipeline.

With ``--vae DIR`` (a trained ``AutoencoderKL``, docs/latent.md) the DiT learns the autoencoder's
scaled latents instead of pixels: the splits are encoded once at the start (each training image also
flipped, so the flip augmentation picks between two exact latents), the loss, validation and EMA are
unchanged, and the saved pipeline carries the autoencoder and decodes its samples.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import replace
from pathlib import Path

import torch
from accelerate import Accelerator
from diffusers import AutoencoderKL
from torchvision.utils import make_grid

from cats.breeds import NUM_BREEDS
from cats.flow import flow_matching_loss, labels_to_weights
from cats.models.autoencoder import downsampling, is_fitted, to_latents
from cats.models.dit import get_preset
from cats.pipeline import CatsPipeline
from cats.training.batches import IndexStream, load_split, random_hflip, seed_for, to_model_range
from cats.training.config import TrainConfig

VAL_MAX_IMAGES = 1024  # validation loss over at most this many val images (fixed noise and sigmas)
VAL_NOISE_SEED = 20240  # the same for every run and every evaluation, so val losses are comparable
SAMPLE_COLUMNS = 4  # sample grid: one row per breed, this many fixed seeds per row
SAMPLE_SEED = 0
ENCODE_BATCH = 256  # images per autoencoder call when a latent run encodes its splits

log = logging.getLogger("cats.train")


def dispersive_loss(hidden: torch.Tensor) -> torch.Tensor:
    """Dispersive loss (Wang & He 2025, "Diffuse and Disperse"), its InfoNCE-L2 form: a contrastive
    loss with no positive pairs that pushes the batch's hidden representations apart.

    hidden: (B, ...) one block's output for the training batch. Returns
    log mean_{i,j} exp(-||z_i - z_j||^2 / D) over all B x B pairs (the diagonal included), z_i the
    flattened (D values) representation; computed in float32. It has no parameters and adds no
    forward pass; the flow-matching loss stays the only thing tied to the images.
    """
    z = hidden.float().reshape(hidden.shape[0], -1)  # (B, D)
    sq = torch.cdist(z, z).pow(2) / z.shape[1]  # (B, B)
    return torch.logsumexp(-sq.reshape(-1), dim=0) - math.log(sq.numel())  # log of the mean over B x B


class _BlockOutput:
    """Keeps the latest output of one transformer block (a forward hook), for the dispersive loss."""

    def __init__(self, block: torch.nn.Module):
        self.value: torch.Tensor | None = None
        block.register_forward_hook(self._keep)

    def _keep(self, module, inputs, output) -> None:
        self.value = output  # (B, T, D)


class GeneratorTask:
    """Class-conditional DiT trained with ``cats.flow.flow_matching_loss`` (label dropout to null inside)."""

    def __init__(self, config: TrainConfig, accelerator: Accelerator):
        preset = get_preset(config.preset)  # raises listing the valid names
        self.accelerator = accelerator
        self.device = accelerator.device
        if config.vae is None and preset.get("in_channels", 3) != 3:
            raise ValueError(f"preset {config.preset!r} draws {preset['in_channels']}-channel latents: pass --vae DIR "
                             "(an autoencoder trained by python -m cats.training autoencoder)")
        self.vae = None if config.vae is None else load_vae(config.vae, preset, config.preset, self.device)
        size = preset["sample_size"] * (1 if self.vae is None else downsampling(self.vae))  # the images' side
        if config.image_size is not None and config.image_size != size:
            raise ValueError(f"--image-size {config.image_size} does not match generator preset {config.preset!r} "
                             f"({size} px); leave --image-size out or pick a preset of that size")
        self.config = replace(config, image_size=size, prediction_type=config.prediction_type or preset["prediction_type"])
        self.train = load_split(self.config, "train", include_other=False, device=self.device)
        self.val = load_split(self.config, "val", include_other=False, device=self.device)
        # what the DiT learns: the images in [-1, 1], or their latents (and the flipped images' latents)
        self.train_x0, self.train_flipped, self.val_x0 = self._targets()
        self.stream = IndexStream(len(self.train), self.config.seed)
        self.images_per_micro_batch = self.config.batch_size
        self.pipe = None
        self.hidden: _BlockOutput | None = None

    @torch.no_grad()
    def _targets(self) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
        """(train latents, flipped train latents, val latents) of a latent run, encoded once; Nones for pixels."""
        if self.vae is None:
            return None, None, None
        started = time.monotonic()

        def encode(images: torch.Tensor) -> torch.Tensor:
            return torch.cat([to_latents(self.vae, to_model_range(images[i:i + ENCODE_BATCH])).float()
                              for i in range(0, len(images), ENCODE_BATCH)])  # (N, c, h, w)

        out = encode(self.train.images), encode(self.train.images.flip(-1)), encode(self.val.images)
        log.info("encoded %d training images (and their mirror images) and %d val images into %s latents in %.1f s",
                 len(self.train), len(self.val), tuple(out[0].shape[1:]), time.monotonic() - started)
        return out

    def _batch_x0(self, idx: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """The clean training targets of ``idx``, each mirrored with probability 1/2 (``random_hflip``'s draw)."""
        if self.vae is None:
            return to_model_range(random_hflip(self.train.images[idx], generator))  # (B, 3, H, W) in [-1, 1]
        flip = (torch.rand(idx.shape[0], generator=generator) < 0.5).to(self.device)
        return torch.where(flip[:, None, None, None], self.train_flipped[idx], self.train_x0[idx])  # (B, c, h, w)

    def _val_x0(self, start: int, stop: int) -> torch.Tensor:
        return to_model_range(self.val.images[start:stop]) if self.vae is None else self.val_x0[start:stop]

    def build_model(self) -> torch.nn.Module:
        cfg = self.config
        self.pipe = CatsPipeline.from_preset(cfg.preset, seed=cfg.seed, prediction_type=cfg.prediction_type)
        if cfg.init_from:
            self._load_init(self.pipe.transformer, cfg.init_from)
        if cfg.dispersive_weight > 0:
            blocks = self.pipe.transformer.blocks
            index = len(blocks) // 2 - 1 if cfg.dispersive_block is None else cfg.dispersive_block
            if not 0 <= index < len(blocks):
                raise ValueError(f"--dispersive-block {index} is not a block of preset {cfg.preset!r} "
                                 f"(0..{len(blocks) - 1})")
            self.hidden = _BlockOutput(blocks[index])
        return self.pipe.transformer

    def _load_init(self, model: torch.nn.Module, source: str) -> None:
        """Copy a saved pipeline's generator weights into ``model`` (same preset required)."""
        init = CatsPipeline.from_pretrained(source).transformer
        mine, theirs = dict(model.config), dict(init.config)
        differ = sorted(k for k in mine if not k.startswith("_") and mine.get(k) != theirs.get(k))
        if differ:
            raise ValueError(f"--init-from {source!r} holds a different model than preset {self.config.preset!r}: "
                             + ", ".join(f"{k} {theirs.get(k)!r} there, {mine.get(k)!r} here" for k in differ))
        model.load_state_dict({k: v.float() for k, v in init.state_dict().items()})

    def micro_batch_loss(self, model, step: int, micro: int, generator: torch.Generator) -> torch.Tensor:
        cfg, acc = self.config, self.accelerator
        idx = self.stream.batch(step, micro, cfg.grad_accum, cfg.batch_size, acc.process_index, acc.num_processes)
        idx = idx.to(self.device)
        x0 = self._batch_x0(idx, generator)  # (B, C, S, S): pixels in [-1, 1] or scaled latents
        weights = labels_to_weights(self.train.labels[idx])  # (B, 13) one-hot breeds
        loss = flow_matching_loss(model, x0, weights, cfg.prediction_type, generator=generator,
                                  logit_mean=cfg.logit_mean, logit_std=cfg.logit_std, label_dropout=cfg.label_dropout)
        if self.hidden is not None:
            loss = loss + cfg.dispersive_weight * dispersive_loss(self.hidden.value)
        return loss

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
            x0 = self._val_x0(start, stop)
            weights = labels_to_weights(self.val.labels[start:stop])
            with self.accelerator.autocast():
                loss = flow_matching_loss(model, x0, weights, cfg.prediction_type, generator=generator,
                                          logit_mean=cfg.logit_mean, logit_std=cfg.logit_std, label_dropout=0.0)
            total += float(loss) * (stop - start)
        return {"loss": total / n}

    def _pipeline(self, model):
        return CatsPipeline(transformer=model, scheduler=self.pipe.scheduler, vae=self.vae)

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


def load_vae(path: str, preset: dict, preset_name: str, device) -> AutoencoderKL:
    """The frozen autoencoder of a latent run; its latent channels must be the preset's input channels."""
    if not Path(path).is_dir():
        raise FileNotFoundError(f"--vae {path!r}: no such directory (python -m cats.training autoencoder ... writes "
                                "RUN_DIR/autoencoder)")
    vae = AutoencoderKL.from_pretrained(path).to(device).eval().requires_grad_(False)
    channels = preset.get("in_channels", 3)
    if vae.config.latent_channels != channels:
        raise ValueError(f"--vae {path!r} makes {vae.config.latent_channels}-channel latents but preset {preset_name!r} "
                         f"draws {channels} channels; pick a latent preset (e.g. latent-u)")
    if not is_fitted(vae):
        raise ValueError(f"--vae {path!r} has no fitted latent scale (shift_factor None): train it with "
                         "python -m cats.training autoencoder, which fits it (cats.models.autoencoder.fit_latent_scale)")
    return vae
