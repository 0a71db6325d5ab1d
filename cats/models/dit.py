"""CatDiT: a class-conditional pixel-space Diffusion Transformer with adaLN-Zero (Peebles & Xie, 2023).

Written after facebookresearch/DiT ``models.py``, with the changes tiny-cats needs:
  * conditioning is a weight vector over 13 slots (12 breeds + null, ``cats.breeds``), embedded as
    ``class_weights @ table`` so a breed, a blend of breeds and the unconditional case are one path;
  * ONE conditioning vector ``c = t_emb + y_emb`` is shared by every block (diffusers'
    ``DiTTransformer2DModel`` gives each block its own embedders and drops labels inside them);
  * no label dropout in the model: the training loop does it (``cats.flow.drop_labels``);
  * the output is v or x0 according to ``prediction_type``; turn it into a velocity only through
    ``cats.flow.model_velocity`` / ``guided_velocity``.

The module is export-friendly (``torch.onnx.export(dynamo=True)``): buffers are registered, and
Python only branches on shapes and dtypes, never on tensor values.
This file holds the modules and the size presets only: no training, export or UI code.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin

from cats.breeds import NUM_SLOTS
from cats.flow import PREDICTION_TYPES, labels_to_weights

# Named sizes. Parameter counts and forward GFLOPs (batch 1, one image, 2 FLOPs per multiply-add)
# measured with torch.utils.flop_counter by `python -m cats.models.dit`.
PRESETS: dict[str, dict] = {
    # 32 px, 16 tokens: unit tests only. 0.20 M params, 0.004 GFLOPs.
    "micro": dict(sample_size=32, patch_size=8, hidden_size=64, depth=2, num_heads=2),
    # 64 px, 64 tokens: the CPU/browser size (the bundled SynthCats weights are tiny-u). 4.24 M params, 0.37 GFLOPs.
    "tiny": dict(sample_size=64, patch_size=8, hidden_size=192, depth=6, num_heads=3),
    # 128 px, 256 tokens: the default for real data. 9.83 M params, 3.8 GFLOPs.
    "small": dict(sample_size=128, patch_size=8, hidden_size=256, depth=8, num_heads=4),
    # 128 px, 256 tokens, DiT-S width and depth: quality on a GPU. 32.6 M params, 12.2 GFLOPs.
    "base": dict(sample_size=128, patch_size=8, hidden_size=384, depth=12, num_heads=6),
    # tiny + U-ViT long skips + a convolutional pixel head (see CatDiT): the recipe ablation's candidate and the
    # bundled SynthCats weights (cats/weights/synthcats).
    "tiny-u": dict(sample_size=64, patch_size=8, hidden_size=192, depth=6, num_heads=3, long_skip=True,
                   conv_out=True),
    # tiny-u at two thirds of the width and depth: the autoguidance guide, a deliberately weaker model
    # trained briefly on the same data (docs/guidance.md). 1.39 M params, 0.125 GFLOPs.
    "guide-u": dict(sample_size=64, patch_size=8, hidden_size=128, depth=4, num_heads=2, long_skip=True,
                    conv_out=True),
    # tiny-u on the 16x16x4 latents of the ae-f4 autoencoder (cats.models.autoencoder) with patch 2: the same
    # 64 tokens and width, so a step costs about what tiny-u's does; the latent experiment (docs/latent.md).
    # 4.39 M params, 0.391 GFLOPs.
    "latent-u": dict(sample_size=16, patch_size=2, in_channels=4, hidden_size=192, depth=6, num_heads=3,
                     long_skip=True, conv_out=True),
    # 8x8x4 latents of ae-micro (32 px images): unit tests of the latent path only. 0.18 M params, 0.003 GFLOPs.
    "latent-micro": dict(sample_size=8, patch_size=2, in_channels=4, hidden_size=64, depth=2, num_heads=2),
}
DEFAULT_PREDICTION_TYPE = "x"  # large pixel patches: predicting x0 trains better than v (JiT)


def get_preset(name: str) -> dict:
    """The CatDiT constructor arguments of a named preset (a copy). Raises ValueError listing the names."""
    if name not in PRESETS:
        raise ValueError(f"unknown model preset {name!r}: choose one of {', '.join(PRESETS)}")
    return dict(PRESETS[name], prediction_type=DEFAULT_PREDICTION_TYPE)


# ---------------------------------------------------------------------------------------------------
# Patches and positions
# ---------------------------------------------------------------------------------------------------

def patchify(x: torch.Tensor, patch_size: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, T, p*p*C) tokens in row-major patch order, each patch laid out (p, p, C)."""
    b, c, h, w = x.shape
    p = patch_size
    x = x.reshape(b, c, h // p, p, w // p, p)  # (B, C, h, p, w, p)
    x = x.permute(0, 2, 4, 3, 5, 1)  # (B, h, w, p, p, C)
    return x.reshape(b, (h // p) * (w // p), p * p * c)  # (B, T, p*p*C)


def unpatchify(tokens: torch.Tensor, patch_size: int, channels: int, grid: int) -> torch.Tensor:
    """Exact inverse of ``patchify`` for a square grid: (B, T, p*p*C) -> (B, C, grid*p, grid*p)."""
    b = tokens.shape[0]
    p = patch_size
    x = tokens.reshape(b, grid, grid, p, p, channels)  # (B, h, w, p, p, C)
    x = x.permute(0, 5, 1, 3, 2, 4)  # (B, C, h, p, w, p)
    return x.reshape(b, channels, grid * p, grid * p)  # (B, C, H, W)


def _sincos_1d(dim: int, pos: np.ndarray) -> np.ndarray:
    omega = 1.0 / 10000 ** (np.arange(dim // 2, dtype=np.float64) / (dim / 2.0))  # (D/2,)
    out = np.einsum("m,d->md", pos.reshape(-1), omega)  # (M, D/2)
    return np.concatenate([np.sin(out), np.cos(out)], axis=1)  # (M, D)


def sincos_pos_embed_2d(dim: int, grid: int) -> np.ndarray:
    """Fixed 2-D sin-cos positional embedding (MAE / DiT): (grid*grid, dim), half for rows, half for columns."""
    if dim % 4:
        raise ValueError(f"hidden_size must be divisible by 4 for the 2-D sin-cos embedding, got {dim}")
    gh, gw = np.meshgrid(np.arange(grid, dtype=np.float64), np.arange(grid, dtype=np.float64), indexing="ij")
    return np.concatenate([_sincos_1d(dim // 2, gh), _sincos_1d(dim // 2, gw)], axis=1)  # (T, D)


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """adaLN: x (B, T, D) * (1 + scale (B, D)) + shift (B, D)."""
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


# ---------------------------------------------------------------------------------------------------
# Embedders
# ---------------------------------------------------------------------------------------------------

class TimestepEmbedder(nn.Module):
    """Timestep in 0..1000 (= 1000 * sigma) -> (B, D): sinusoidal features, then a 2-layer MLP."""

    def __init__(self, hidden_size: int, frequency_size: int = 256, max_period: float = 10000.0):
        super().__init__()
        half = frequency_size // 2
        freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half)  # (F/2,)
        self.register_buffer("freqs", freqs, persistent=False)
        self.mlp = nn.Sequential(nn.Linear(frequency_size, hidden_size), nn.SiLU(), nn.Linear(hidden_size, hidden_size))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        args = t.float()[:, None] * self.freqs[None]  # (B, F/2)
        features = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)  # (B, F)
        return self.mlp(features.to(self.mlp[0].weight.dtype))  # (B, D)


# ---------------------------------------------------------------------------------------------------
# Blocks
# ---------------------------------------------------------------------------------------------------

class Attention(nn.Module):
    """Multi-head self-attention through F.scaled_dot_product_attention."""

    def __init__(self, hidden_size: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(hidden_size, 3 * hidden_size)
        self.proj = nn.Linear(hidden_size, hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        qkv = self.qkv(x).reshape(b, t, 3, self.num_heads, d // self.num_heads)  # (B, T, 3, H, Dh)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, H, T, Dh)
        out = F.scaled_dot_product_attention(q, k, v)  # (B, H, T, Dh)
        return self.proj(out.transpose(1, 2).reshape(b, t, d))  # (B, T, D)


class DiTBlock(nn.Module):
    """Transformer block whose two LayerNorms are modulated by c (adaLN-Zero: gates start at zero)."""

    def __init__(self, hidden_size: int, num_heads: int, mlp_ratio: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(hidden_size, num_heads)
        self.norm2 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        mlp_hidden = int(hidden_size * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(hidden_size, mlp_hidden), nn.GELU(approximate="tanh"),
                                 nn.Linear(mlp_hidden, hidden_size))
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 6 * hidden_size))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        # x: (B, T, D); c: (B, D)
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.adaLN_modulation(c).chunk(6, dim=1)
        x = x + gate_msa.unsqueeze(1) * self.attn(modulate(self.norm1(x), shift_msa, scale_msa))  # (B, T, D)
        x = x + gate_mlp.unsqueeze(1) * self.mlp(modulate(self.norm2(x), shift_mlp, scale_mlp))  # (B, T, D)
        return x


class LongSkip(nn.Module):
    """U-ViT long skip: concatenate a shallow block's tokens to a deep block's input, project back to D."""

    def __init__(self, hidden_size: int):
        super().__init__()
        self.linear = nn.Linear(2 * hidden_size, hidden_size)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.linear(torch.cat([x, skip], dim=-1))  # (B, T, 2D) -> (B, T, D)


class ConvOut(nn.Module):
    """A residual 3x3 convolution on the output image, after unpatchify (U-ViT).

    A linear map per token draws each patch on its own, which leaves visible seams between
    patches; one convolution across the seams lets neighbouring patches agree. It starts at zero,
    so a fresh model still outputs zero.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x)  # (B, C, H, W)


class FinalLayer(nn.Module):
    """adaLN-modulated LayerNorm then a linear map from each token to its patch of pixels."""

    def __init__(self, hidden_size: int, patch_size: int, out_channels: int):
        super().__init__()
        self.norm_final = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.linear = nn.Linear(hidden_size, patch_size * patch_size * out_channels)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 2 * hidden_size))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=1)  # each (B, D)
        return self.linear(modulate(self.norm_final(x), shift, scale))  # (B, T, p*p*C)


# ---------------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------------

class CatDiT(ModelMixin, ConfigMixin):
    """Class-conditional DiT on pixels (or an autoencoder's latents). ``forward(sample, timestep, class_weights) -> v or x0``.

    sample: (B, in_channels, sample_size, sample_size), pixels in [-1, 1] or unit-variance latents (noised);
    timestep: (B,) = 1000 * sigma; class_weights: (B, num_slots) float weights, or (B,) int labels
    in 0..12 (turned into one-hot; 12 = null). Returns (B, in_channels, sample_size, sample_size).

    Options beyond DiT (both off by default, so older saved configs load unchanged):
      * ``long_skip``: U-ViT long skip connections, block ``depth-1-i`` also sees block ``i``'s output
        for the first ``depth // 2`` blocks;
      * ``conv_out``: a residual 3x3 convolution across patch seams after unpatchify (``ConvOut``).
    """

    @register_to_config
    def __init__(self, sample_size: int = 64, patch_size: int = 8, in_channels: int = 3, hidden_size: int = 192,
                 depth: int = 6, num_heads: int = 3, mlp_ratio: float = 4.0,
                 prediction_type: str = DEFAULT_PREDICTION_TYPE, num_slots: int = NUM_SLOTS,
                 long_skip: bool = False, conv_out: bool = False):
        super().__init__()
        if prediction_type not in PREDICTION_TYPES:
            raise ValueError(f"prediction_type must be one of {PREDICTION_TYPES}, got {prediction_type!r}")
        if sample_size % patch_size:
            raise ValueError(f"sample_size {sample_size} is not divisible by patch_size {patch_size}")
        if hidden_size % num_heads:
            raise ValueError(f"hidden_size {hidden_size} is not divisible by num_heads {num_heads}")
        if num_slots != NUM_SLOTS:
            raise ValueError(f"num_slots must be {NUM_SLOTS} (12 breeds + null), got {num_slots}")
        self.grid = sample_size // patch_size
        self.patch_embed = nn.Linear(patch_size * patch_size * in_channels, hidden_size)
        pos = torch.from_numpy(sincos_pos_embed_2d(hidden_size, self.grid)).float().unsqueeze(0)  # (1, T, D)
        self.register_buffer("pos_embed", pos, persistent=False)
        self.t_embedder = TimestepEmbedder(hidden_size)
        self.y_embedder = nn.Linear(num_slots, hidden_size, bias=False)  # class_weights @ table (13, D)
        self.blocks = nn.ModuleList([DiTBlock(hidden_size, num_heads, mlp_ratio) for _ in range(depth)])
        self.skips = nn.ModuleList([LongSkip(hidden_size) for _ in range(depth // 2)] if long_skip else [])
        self.final_layer = FinalLayer(hidden_size, patch_size, in_channels)
        self.seam_conv = ConvOut(in_channels) if conv_out else None
        self.initialize_weights()

    def initialize_weights(self) -> None:
        """All non-default init (DiT): xavier linears, N(0, 0.02) embedders, adaLN and output zeroed."""
        def _basic_init(module):
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        self.apply(_basic_init)
        nn.init.normal_(self.y_embedder.weight, std=0.02)
        nn.init.normal_(self.t_embedder.mlp[0].weight, std=0.02)
        nn.init.normal_(self.t_embedder.mlp[2].weight, std=0.02)
        # adaLN-Zero: every residual branch and the output start at zero, so a fresh model outputs 0.
        for block in self.blocks:
            nn.init.zeros_(block.adaLN_modulation[-1].weight)
            nn.init.zeros_(block.adaLN_modulation[-1].bias)
        nn.init.zeros_(self.final_layer.adaLN_modulation[-1].weight)
        nn.init.zeros_(self.final_layer.adaLN_modulation[-1].bias)
        nn.init.zeros_(self.final_layer.linear.weight)
        nn.init.zeros_(self.final_layer.linear.bias)
        if self.seam_conv is not None:
            nn.init.zeros_(self.seam_conv.conv.weight)
            nn.init.zeros_(self.seam_conv.conv.bias)
        for skip in self.skips:  # start as "ignore the skip": identity on x, zero on the shallow tokens
            d = skip.linear.out_features
            nn.init.zeros_(skip.linear.weight)
            nn.init.zeros_(skip.linear.bias)
            with torch.no_grad():
                skip.linear.weight[:, :d].copy_(torch.eye(d))

    def _check_inputs(self, sample: torch.Tensor, timestep: torch.Tensor, class_weights: torch.Tensor) -> None:
        cfg = self.config
        if sample.ndim != 4 or sample.shape[1] != cfg.in_channels:
            raise ValueError(f"sample must be (B, {cfg.in_channels}, H, W), got shape {tuple(sample.shape)}")
        h, w = sample.shape[-2:]
        if h != w or h % cfg.patch_size:
            raise ValueError(f"sample must be square with a side divisible by patch_size {cfg.patch_size}, "
                             f"got {h}x{w}")
        if h != cfg.sample_size:
            raise ValueError(f"this model was built for {cfg.sample_size}x{cfg.sample_size} images, got {h}x{w}; "
                             "resize the input (cats.images.to_model_array) or use a matching preset")
        if timestep.ndim != 1 or timestep.shape[0] != sample.shape[0]:
            raise ValueError(f"timestep must be (B,) = ({sample.shape[0]},) values of 1000 * sigma, "
                             f"got shape {tuple(timestep.shape)}")
        if class_weights.is_floating_point():
            if class_weights.ndim != 2 or class_weights.shape[1] != cfg.num_slots:
                raise ValueError(f"class_weights must be (B, {cfg.num_slots}) (12 breeds + null), "
                                 f"got shape {tuple(class_weights.shape)}")
        elif class_weights.ndim != 1:
            raise ValueError(f"integer labels must be (B,), got shape {tuple(class_weights.shape)}")
        if class_weights.shape[0] != sample.shape[0]:
            raise ValueError(f"class_weights has batch {class_weights.shape[0]} but sample has {sample.shape[0]}")

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor, class_weights: torch.Tensor) -> torch.Tensor:
        """sample (B, C, H, W), timestep (B,) = 1000 * sigma, class_weights (B, 13) or labels (B,) -> (B, C, H, W)."""
        self._check_inputs(sample, timestep, class_weights)
        if not class_weights.is_floating_point():
            class_weights = labels_to_weights(class_weights)  # (B, 13); rejects -1 and ids >= 13
        dtype = self.patch_embed.weight.dtype
        x = self.patch_embed(patchify(sample.to(dtype), self.config.patch_size)) + self.pos_embed.to(dtype)  # (B, T, D)
        c = self.t_embedder(timestep) + self.y_embedder(class_weights.to(dtype))  # (B, D), shared by all blocks
        n_skip = len(self.skips)
        shallow = []
        for i, block in enumerate(self.blocks):
            if n_skip and i >= len(self.blocks) - n_skip:  # deep half: take the mirrored shallow output
                x = self.skips[i - (len(self.blocks) - n_skip)](x, shallow.pop())
            x = block(x, c)  # (B, T, D)
            if i < n_skip:
                shallow.append(x)
        x = self.final_layer(x, c)  # (B, T, p*p*C)
        out = unpatchify(x, self.config.patch_size, self.config.in_channels, self.grid)  # (B, C, H, W)
        return out if self.seam_conv is None else self.seam_conv(out)


def measure(name: str) -> tuple[int, float]:
    """(parameter count, forward GFLOPs at batch 1) of a preset; the figures in the PRESETS comments."""
    from torch.utils.flop_counter import FlopCounterMode  # imported here: only the preset table counts FLOPs

    model = CatDiT(**get_preset(name)).eval()
    size, channels = model.config.sample_size, model.config.in_channels
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, channels, size, size), torch.zeros(1), torch.zeros(1, NUM_SLOTS))
    # FlopCounterMode does not count CPU scaled_dot_product_attention: add QK^T and AV (2 * 2*T*T*D per block).
    tokens, cfg = model.grid ** 2, model.config
    attention = cfg.depth * 4 * tokens * tokens * cfg.hidden_size
    return sum(p.numel() for p in model.parameters()), (counter.get_total_flops() + attention) / 1e9


if __name__ == "__main__":
    for preset in PRESETS:
        params, gflops = measure(preset)
        print(f"{preset:6s} {params / 1e6:7.2f} M params  {gflops:7.3f} GFLOPs/forward (batch 1)")
