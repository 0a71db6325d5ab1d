"""A small image autoencoder for a latent generator: diffusers' ``AutoencoderKL`` at named sizes.

``AutoencoderKL`` (the Stable Diffusion autoencoder's architecture: ResNet blocks with GroupNorm and
SiLU) loads with ``from_pretrained`` and has the diffusers latent convention built in:
``encode(x)`` takes images in [-1, 1] and ``decode(z)`` gives them back in [-1, 1]; a generator
works on ``(z - shift_factor) * scaling_factor``, which ``fit_latent_scale`` sets from the training
latents so they have zero mean and unit variance, the scale of the flow-matching noise. The latent
is the posterior's mean (``latent_dist.mode()``): training uses no KL term and no sampling, so the
autoencoder is deterministic (docs/latent.md).

Each block after the first halves the resolution, so three blocks downsample 4x: a 64 px image
becomes a (latent_channels, 16, 16) latent. The presets leave out the middle attention block (256
tokens of attention per image is most of the cost on a CPU). This file holds the presets and the
latent arithmetic only: training is ``cats.training.autoencoder_task``.
"""

from __future__ import annotations

import torch
from diffusers import AutoencoderKL

_BLOCKS = dict(down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3,
               layers_per_block=1, latent_channels=4, mid_block_add_attention=False)

# Named sizes. Parameter counts and GFLOPs per 64 px image (encode + decode, 2 FLOPs per multiply-add)
# measured with torch.utils.flop_counter by `python -m cats.models.autoencoder`.
AUTOENCODER_PRESETS: dict[str, dict] = {
    # 32 px -> 8x8x4: unit tests only. 0.019 M params, 0.051 GFLOPs (at 64 px).
    "ae-micro": dict(_BLOCKS, block_out_channels=(8, 8, 8), norm_num_groups=4),
    # 64 px -> 16x16x4 (downsampling 4, 12x fewer numbers): the latent experiment's autoencoder
    # (docs/latent.md). It reached 20.7 dB PSNR in 100 s of training on the 2-core CPU where
    # AutoencoderKL at 32 channels reached 17.1 dB and this one at twice the width 19.7 dB.
    # 0.234 M params, 0.420 GFLOPs.
    "ae-f4": dict(_BLOCKS, block_out_channels=(16, 32, 32), norm_num_groups=8),
}


def get_autoencoder_preset(name: str) -> dict:
    """The ``AutoencoderKL`` arguments of a named preset (a copy). Raises ValueError listing the names."""
    if name not in AUTOENCODER_PRESETS:
        raise ValueError(f"unknown autoencoder preset {name!r}: choose one of {', '.join(AUTOENCODER_PRESETS)}")
    return dict(AUTOENCODER_PRESETS[name])


def build_autoencoder(name: str) -> AutoencoderKL:
    """An untrained autoencoder of a named preset, its latent scale not fitted (``is_fitted`` False)."""
    return AutoencoderKL(**get_autoencoder_preset(name))


def downsampling(vae: AutoencoderKL) -> int:
    """Image side / latent side: 2 per block after the first."""
    return 2 ** (len(vae.config.block_out_channels) - 1)


def encode_raw(vae: AutoencoderKL, images: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) in [-1, 1] -> (B, c, H/f, W/f) unscaled latents: the posterior's mean."""
    return vae.encode(images.to(vae.dtype)).latent_dist.mode()


def is_fitted(vae: AutoencoderKL) -> bool:
    """Whether ``fit_latent_scale`` set the latent scale (diffusers' default leaves ``shift_factor`` None)."""
    return vae.config.shift_factor is not None


def to_latents(vae: AutoencoderKL, images: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) in [-1, 1] -> (B, c, H/f, W/f) scaled latents, what the generator learns and samples."""
    return (encode_raw(vae, images) - (vae.config.shift_factor or 0.0)) * vae.config.scaling_factor


def from_latents(vae: AutoencoderKL, latents: torch.Tensor) -> torch.Tensor:
    """Exact inverse of the scaling in ``to_latents``, then the decoder: (B, c, h, w) -> (B, 3, H, W) in [-1, 1]."""
    z = latents.to(vae.dtype) / vae.config.scaling_factor + (vae.config.shift_factor or 0.0)
    return vae.decode(z).sample  # (B, 3, H, W)


@torch.no_grad()
def fit_latent_scale(vae: AutoencoderKL, images: torch.Tensor, batch_size: int = 256) -> tuple[float, float]:
    """Set ``shift_factor`` and ``scaling_factor`` (in the config, so they are saved) to the mean and 1 / std
    of the raw latents of ``images`` (N, 3, H, W) in [-1, 1]; returns them."""
    raw = torch.cat([encode_raw(vae, images[i:i + batch_size]).float()
                     for i in range(0, len(images), batch_size)])  # (N, c, h, w)
    shift, scale = float(raw.mean()), float(1.0 / raw.std().clamp_min(1e-6))
    vae.register_to_config(shift_factor=shift, scaling_factor=scale)
    return shift, scale


def measure(name: str, size: int = 64) -> tuple[int, float]:
    """(parameter count, GFLOPs of one encode + decode at ``size`` px) of a preset."""
    from torch.utils.flop_counter import FlopCounterMode  # imported here: only the preset table counts FLOPs

    vae = build_autoencoder(name).eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        vae.decode(encode_raw(vae, torch.zeros(1, 3, size, size)))
    return sum(p.numel() for p in vae.parameters()), counter.get_total_flops() / 1e9


if __name__ == "__main__":
    for preset in AUTOENCODER_PRESETS:
        params, gflops = measure(preset)
        print(f"{preset:8s} {params / 1e6:6.3f} M params  {gflops:6.3f} GFLOPs/image (encode + decode, 64 px)")
