"""CatDiT: adaLN-Zero init, positions, patch layout, conditioning, errors, and that it can learn."""

import pytest
import torch

from cats import flow
from cats.breeds import NULL_ID, NUM_SLOTS
from cats.models.dit import PRESETS, CatDiT, TimestepEmbedder, get_preset, patchify, unpatchify


def randomized(model: CatDiT, seed: int = 0, std: float = 0.1) -> CatDiT:
    """Give every parameter non-zero random values (a fresh model outputs 0, which hides most bugs)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * std)
    return model.eval()


def micro(**overrides) -> CatDiT:
    torch.manual_seed(0)
    return CatDiT(**{**get_preset("micro"), **overrides})


def inputs(b=2, size=32, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, 3, size, size, generator=g), torch.rand(b, generator=g) * 1000


@pytest.mark.parametrize("prediction_type,options", [("x", {}), ("v", {}), ("x", {"long_skip": True, "conv_out": True})])
def test_fresh_model_outputs_exactly_zero(prediction_type, options):
    model = micro(prediction_type=prediction_type, **options)
    x, t = inputs(3)
    out = model(x, t, torch.tensor([0, 7, NULL_ID]))
    assert out.shape == x.shape
    assert torch.equal(out, torch.zeros_like(x))  # adaLN-Zero: gates and output layer start at 0


@pytest.mark.parametrize("patch", [4, 8])
def test_patchify_layout_and_exact_round_trip(patch):
    x = torch.randn(2, 3, 32, 32)
    tokens = patchify(x, patch)
    grid = 32 // patch
    assert tokens.shape == (2, grid * grid, patch * patch * 3)
    # token 1 is row 0, column 1; token `grid` is row 1, column 0 (row-major), each laid out (p, p, C)
    torch.testing.assert_close(tokens[:, 1], x[:, :, :patch, patch:2 * patch].permute(0, 2, 3, 1).reshape(2, -1))
    torch.testing.assert_close(tokens[:, grid], x[:, :, patch:2 * patch, :patch].permute(0, 2, 3, 1).reshape(2, -1))
    assert torch.equal(unpatchify(tokens, patch, 3, grid), x)


def _permute_patches(x: torch.Tensor, perm: torch.Tensor, patch: int) -> torch.Tensor:
    grid = x.shape[-1] // patch
    return unpatchify(patchify(x, patch)[:, perm], patch, 3, grid)


def test_positional_embedding_breaks_permutation_equivariance():
    model = randomized(micro())
    x, t = inputs(2)
    labels = torch.tensor([1, 4])
    perm = torch.randperm(16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        permuted_then_model = model(_permute_patches(x, perm, 8), t, labels)
        model_then_permuted = _permute_patches(model(x, t, labels), perm, 8)
        assert (permuted_then_model - model_then_permuted).abs().max() > 1e-2
        # Control: without the positional embedding the same model IS equivariant, so the test can fail.
        model.pos_embed.zero_()
        torch.testing.assert_close(model(_permute_patches(x, perm, 8), t, labels),
                                   _permute_patches(model(x, t, labels), perm, 8), rtol=1e-4, atol=1e-5)


def test_positional_embedding_is_fixed_and_not_saved():
    model = micro()
    assert "pos_embed" not in model.state_dict()
    assert model.pos_embed.shape == (1, 16, 64)
    rows = model.pos_embed[0]
    assert torch.unique(rows, dim=0).shape[0] == 16  # every position distinct


def test_conditioning_breeds_null_and_blends():
    model = randomized(micro())
    x, t = inputs(1)
    x, t = x.expand(NUM_SLOTS, -1, -1, -1), t.expand(NUM_SLOTS)
    with torch.no_grad():
        out = model(x, t, torch.eye(NUM_SLOTS))  # one row per slot (12 breeds + null)
        flat = out.reshape(NUM_SLOTS, -1)
        distance = torch.cdist(flat, flat)
        assert (distance + torch.eye(NUM_SLOTS) * 1e9).min() > 1e-3  # every breed and the null all differ
        # int labels are one-hot weights; a blend with all weight on one breed is that breed
        torch.testing.assert_close(model(x[:2], t[:2], torch.tensor([3, NULL_ID])), out[[3, NULL_ID]])
        blend = torch.zeros(1, NUM_SLOTS)
        blend[0, 5] = 1.0
        torch.testing.assert_close(model(x[:1], t[:1], blend), out[5:6])
        # a 50/50 blend embeds the mean of the two breed rows (one linear code path)
        half = torch.zeros(1, NUM_SLOTS)
        half[0, [2, 9]] = 0.5
        table = model.y_embedder.weight  # (D, 13)
        torch.testing.assert_close(model.y_embedder(half)[0], 0.5 * (table[:, 2] + table[:, 9]))


def test_timestep_changes_output_and_embedding_spans_0_to_1000():
    model = randomized(micro())
    x, _ = inputs(2)
    labels = torch.tensor([0, 0])
    with torch.no_grad():
        early, late = model(x, torch.tensor([100.0, 100.0]), labels), model(x, torch.tensor([900.0, 900.0]), labels)
    assert (early - late).abs().max() > 1e-3
    # The sinusoid is built for 0..1000: t = 1 and t = 0 must not be nearly identical (raw sigma bug).
    emb = TimestepEmbedder(64)
    freqs = emb.freqs
    assert freqs.max() == 1.0 and freqs.min() < 1e-3  # periods from 2*pi up to ~2*pi*10^4


def test_no_label_dropout_inside_the_model():
    model = randomized(micro())
    x, t = inputs(4)
    labels = torch.tensor([0, 1, 2, 3])
    with torch.no_grad():
        eval_out = model.eval()(x, t, labels)
        train_outs = [model.train()(x, t, labels) for _ in range(3)]
    for out in train_outs:  # train mode is deterministic and equal to eval mode
        assert torch.equal(out, eval_out)


def test_one_shared_conditioning_embedder():
    model = micro()
    assert sum(isinstance(m, TimestepEmbedder) for m in model.modules()) == 1
    assert model.y_embedder.weight.shape == (64, NUM_SLOTS) and model.y_embedder.bias is None


@pytest.mark.parametrize("bad", [-1, NUM_SLOTS, 99])
def test_out_of_range_labels_rejected(bad):
    model = micro()
    x, t = inputs(2)
    with pytest.raises(ValueError, match="labels"):
        model(x, t, torch.tensor([0, bad]))


def test_bad_shapes_raise_clear_errors():
    model = micro()
    x, t = inputs(2)
    w = torch.eye(NUM_SLOTS)[:2]
    with pytest.raises(ValueError, match="divisible by patch_size"):
        model(torch.randn(2, 3, 30, 30), t, w)
    with pytest.raises(ValueError, match="square"):
        model(torch.randn(2, 3, 32, 40), t, w)
    with pytest.raises(ValueError, match="built for 32x32"):
        model(torch.randn(2, 3, 64, 64), t, w)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        model(torch.randn(2, 4, 32, 32), t, w)
    with pytest.raises(ValueError, match=r"\(B, 13\)"):
        model(x, t, torch.ones(2, 12))
    with pytest.raises(ValueError, match="batch"):
        model(x, t, torch.eye(NUM_SLOTS)[:1])  # would silently broadcast one label over the batch
    with pytest.raises(ValueError, match="timestep"):
        model(x, t[:1], w)


def test_bad_config_and_preset_names():
    with pytest.raises(ValueError, match="tiny"):  # lists the valid names
        get_preset("huge")
    with pytest.raises(ValueError, match="prediction_type"):
        CatDiT(**{**get_preset("micro"), "prediction_type": "eps"})
    with pytest.raises(ValueError, match="divisible"):
        CatDiT(**{**get_preset("micro"), "sample_size": 30})
    assert {"micro", "tiny", "small", "base"} <= set(PRESETS)
    assert all(get_preset(name)["prediction_type"] == "x" for name in PRESETS)


def test_preset_sizes():
    counts = {name: sum(p.numel() for p in CatDiT(**get_preset(name)).parameters()) for name in ("tiny", "small")}
    assert 4.0e6 < counts["tiny"] < 4.5e6  # per-block embedders (diffusers' DiT) would add ~40%
    assert 9.5e6 < counts["small"] < 10.5e6


def test_save_and_load_round_trip(tmp_path):
    model = randomized(micro(prediction_type="v"))
    model.save_pretrained(tmp_path)
    assert (tmp_path / "diffusion_pytorch_model.safetensors").is_file()
    loaded = CatDiT.from_pretrained(tmp_path).eval()
    assert loaded.config.prediction_type == "v" and loaded.config.sample_size == 32
    x, t = inputs(2)
    with torch.no_grad():
        assert torch.equal(loaded(x, t, torch.tensor([2, NULL_ID])), model(x, t, torch.tensor([2, NULL_ID])))


def _two_images(size: int) -> torch.Tensor:
    y, x = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    gradient = torch.stack([x, 0.5 * y, -x]) * 0.8
    disk = ((x ** 2 + y ** 2) < 0.4).float() * 2 - 1
    return torch.stack([gradient, torch.stack([-0.6 * disk, 0.3 * disk, 0.9 * disk])])  # (2, 3, S, S)


@pytest.mark.parametrize("prediction_type", ["x", "v"])
def test_x_and_v_prediction_both_train(prediction_type):
    # Micro width and depth on 16 px with patch 4: a token (48 values) fits in the width (64). With the
    # micro preset's 8 px patches (192 values into 64) v-prediction cannot represent the noise and
    # plateaus near 60% of its initial loss; x-prediction is fine there (the JiT argument).
    torch.manual_seed(0)
    model = CatDiT(**{**get_preset("micro"), "sample_size": 16, "patch_size": 4, "prediction_type": prediction_type})
    x0 = _two_images(16)
    weights = flow.labels_to_weights(torch.tensor([0, 1]))

    def held_out_loss() -> float:  # the training loss on fixed draws, without label dropout
        with torch.no_grad():
            return flow.flow_matching_loss(model, x0.repeat(16, 1, 1, 1), weights.repeat(16, 1), prediction_type,
                                           generator=torch.Generator().manual_seed(123), label_dropout=0.0).item()

    before = held_out_loss()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.0)
    g = torch.Generator().manual_seed(0)
    for _ in range(150):
        loss = flow.flow_matching_loss(model, x0.repeat(2, 1, 1, 1), weights.repeat(2, 1), prediction_type, generator=g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert held_out_loss() < 0.5 * before


def test_long_skips_and_seam_conv_start_as_the_plain_model_and_then_matter():
    """Options off by default; at init they leave the function unchanged (zero/identity), once trained they act."""
    plain = randomized(micro())
    options = micro(long_skip=True, conv_out=True).eval()
    missing, unexpected = options.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and missing and all(k.startswith(("skips.", "seam_conv.")) for k in missing)
    x, t = inputs(2)
    labels = torch.tensor([3, NULL_ID])
    with torch.no_grad():
        assert torch.allclose(options(x, t, labels), plain(x, t, labels), atol=1e-6)
        assert len(options.skips) == options.config.depth // 2
        g = torch.Generator().manual_seed(5)
        for p in list(options.skips.parameters()) + list(options.seam_conv.parameters()):
            p.add_(torch.randn(p.shape, generator=g) * 0.1)
        assert (options(x, t, labels) - plain(x, t, labels)).abs().max() > 1e-3


def test_seam_conv_reaches_across_patch_borders():
    """The residual 3x3 conv mixes pixels of neighbouring patches: the output at a patch border
    depends on the pixel on the other side of it, through the conv alone."""
    model = micro(conv_out=True).eval()
    with torch.no_grad():
        model.seam_conv.conv.weight.normal_(0, 0.1)
        p = model.config.patch_size
        img = torch.zeros(1, 3, 32, 32)
        out = model.seam_conv(img.clone())
        img[0, :, 0, p] = 1.0  # first pixel of patch (0, 1)
        changed = (model.seam_conv(img) - out).abs().sum(0)[0]  # (32, 32)
    assert changed[0, p - 1] > 0  # last pixel of patch (0, 0) sees it


def test_option_preset_saves_and_loads(tmp_path):
    model = randomized(micro(long_skip=True, conv_out=True))
    model.save_pretrained(tmp_path)
    loaded = CatDiT.from_pretrained(tmp_path).eval()
    assert loaded.config.long_skip and loaded.config.conv_out
    x, t = inputs(2)
    with torch.no_grad():
        assert torch.equal(loaded(x, t, torch.tensor([1, 2])), model(x, t, torch.tensor([1, 2])))
