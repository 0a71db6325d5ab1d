"""The latent path: the autoencoder (presets, latent scale, training task) and a DiT on its latents
(training with --vae, a pipeline that decodes, save/load, restyle), and the refusals around them."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from diffusers import AutoencoderKL

from cats.images import load_image, to_model_array
from cats.models.autoencoder import (
    AUTOENCODER_PRESETS,
    build_autoencoder,
    downsampling,
    encode_raw,
    fit_latent_scale,
    from_latents,
    get_autoencoder_preset,
    to_latents,
)
from cats.models.dit import get_preset
from cats.pipeline import CatsPipeline
from cats.training.cli import config_from_args, main
from cats.training.config import TrainConfig, resolve
from cats.training.loop import Trainer


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return tmp_path_factory.mktemp("data")


def _ae_args(out, data_root, *extra: str) -> list[str]:
    return ["autoencoder", "--preset", "ae-micro", "--image-size", "32", "--num-per-class", "2", "--data-root",
            str(data_root), "--out", str(out), "--batch-size", "8", "--warmup", "0", "--eval-every", "0",
            "--checkpoint-every", "0", *extra]


@pytest.fixture(scope="module")
def trained_vae(data_root, tmp_path_factory):
    """An ae-micro trained a few steps by the CLI: (its run directory, the run's result)."""
    out = tmp_path_factory.mktemp("ae")
    result = main(_ae_args(out / "run", data_root, "--steps", "40", "--lr", "3e-3"))
    return out / "run", result


def _gen_args(out, data_root, vae, *extra: str) -> list[str]:
    return ["generator", "--preset", "latent-micro", "--vae", str(vae), "--num-per-class", "2", "--data-root",
            str(data_root), "--out", str(out), "--steps", "3", "--warmup", "0", "--sample-every", "0",
            "--eval-every", "0", "--sample-steps", "2", "--checkpoint-every", "0", *extra]


@pytest.fixture(scope="module")
def latent_run(trained_vae, data_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("latent") / "run"
    main(_gen_args(out, data_root, trained_vae[0] / "autoencoder"))
    return out


# -- the autoencoder ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, size, latent", [("ae-micro", 32, 8), ("ae-f4", 64, 16)])
def test_presets_downsample_four_times_into_four_channels(name, size, latent):
    vae = build_autoencoder(name).eval()
    assert downsampling(vae) == 4
    with torch.no_grad():
        z = encode_raw(vae, torch.zeros(2, 3, size, size))
        x = vae.decode(z).sample
    assert z.shape == (2, 4, latent, latent) and x.shape == (2, 3, size, size)


def test_an_unknown_preset_is_refused_with_the_names():
    with pytest.raises(ValueError, match="ae-f4"):
        get_autoencoder_preset("ae-huge")
    assert get_autoencoder_preset("ae-f4") is not AUTOENCODER_PRESETS["ae-f4"]


def test_the_fitted_scale_gives_unit_variance_latents_and_decoding_inverts_it():
    torch.manual_seed(0)
    vae = build_autoencoder("ae-micro").eval()
    images = torch.rand(64, 3, 32, 32) * 2 - 1
    shift, scale = fit_latent_scale(vae, images, batch_size=16)
    assert vae.config.shift_factor == shift and vae.config.scaling_factor == scale
    with torch.no_grad():
        z = to_latents(vae, images)
        assert abs(float(z.mean())) < 1e-4 and float(z.std()) == pytest.approx(1.0, abs=1e-4)
        raw = encode_raw(vae, images)
        assert torch.allclose(z, (raw - shift) * scale)
        assert torch.allclose(from_latents(vae, z), vae.decode(raw).sample, atol=1e-5)


def test_training_the_autoencoder_lowers_its_error_and_saves_a_scaled_loadable_model(trained_vae, data_root, tmp_path):
    run, result = trained_vae
    metrics = json.loads((run / "metrics.json").read_text())
    untrained = Trainer(config_from_args(_ae_args(tmp_path / "fresh", data_root, "--steps", "1")))
    start = untrained.task.validate(untrained.ema.model)
    assert metrics["val_l1"] < 0.8 * start["loss"], "40 steps must reconstruct the val drawings better than the init"
    assert metrics["val_psnr"] > start["psnr"]
    vae = AutoencoderKL.from_pretrained(run / "autoencoder")
    assert vae.config.scaling_factor == pytest.approx(metrics["scaling_factor"]) != 1.0
    assert vae.config.shift_factor == pytest.approx(metrics["shift_factor"])
    grids = list((run / "samples").glob("*.png"))
    assert grids, "the run must draw its originals-over-reconstructions sheet"


# -- a DiT on the latents ------------------------------------------------------------------------------------

def test_the_dit_learns_latents_and_the_mirror_augmentation_picks_the_mirror_images_latents(trained_vae, data_root,
                                                                                          tmp_path):
    vae_dir = trained_vae[0] / "autoencoder"
    trainer = Trainer(config_from_args(_gen_args(tmp_path / "g", data_root, vae_dir)))
    task = trainer.task
    seen = []
    trainer.unwrapped.register_forward_pre_hook(lambda module, args: seen.append(args[0].shape))
    trainer.train_step()
    assert seen[0][1:] == (4, 8, 8), "a --vae run feeds the DiT the autoencoder's (4, 8, 8) latents"
    assert task.config.image_size == 32, "the data is loaded at the autoencoder's image size"
    vae = AutoencoderKL.from_pretrained(vae_dir)
    with torch.no_grad():
        images = task.train.images[:4].float() / 127.5 - 1
        assert torch.allclose(task.train_x0[:4], to_latents(vae, images), atol=1e-5)
        assert torch.allclose(task.train_flipped[:4], to_latents(vae, images.flip(-1)), atol=1e-5)
    idx = torch.arange(len(task.train))
    generator = torch.Generator().manual_seed(3)
    flip = torch.rand(len(idx), generator=torch.Generator().manual_seed(3)) < 0.5
    x0 = task._batch_x0(idx, generator)
    assert 0 < int(flip.sum()) < len(idx)
    assert torch.equal(x0[flip], task.train_flipped[flip]) and torch.equal(x0[~flip], task.train_x0[~flip])


def test_a_latent_pipeline_round_trips_and_draws_decoded_images(latent_run):
    pipe = CatsPipeline.from_pretrained(latent_run / "pipeline")
    assert isinstance(pipe.vae, AutoencoderKL) and pipe.config.preset == "latent-micro"
    assert pipe.sample_shape == (4, 8, 8) and pipe.image_size == 32
    images = pipe(breed=["Siamese", "Bengal"], num_inference_steps=2, seed=1, output_type="np", progress=False).images
    assert images.shape == (2, 32, 32, 3) and np.isfinite(images).all()
    again = CatsPipeline.from_pretrained(latent_run / "pipeline")
    assert np.array_equal(again(breed=["Siamese", "Bengal"], num_inference_steps=2, seed=1, output_type="np",
                                progress=False).images, images), "a saved latent pipeline samples the same cats"
    seen = []
    pipe(breed="Siamese", num_inference_steps=2, seed=1, output_type="np", progress=False,
         callback_on_step_end=lambda p, i, s, d: seen.append(d["latents"].shape))
    assert seen == [(1, 4, 8, 8)] * 2, "the sampler integrates latents; only the end result is decoded"


def test_restyling_with_a_latent_pipeline_encodes_the_photo(latent_run):
    pipe = CatsPipeline.from_pretrained(latent_run / "pipeline")
    photo = (np.random.default_rng(0).random((40, 48, 3)) * 255).astype(np.uint8)
    kept = pipe.transfer(photo, breed="Bengal", strength=0.0, num_inference_steps=4, seed=0, output_type="pt",
                         progress=False).images
    pixels = torch.from_numpy(to_model_array(load_image(photo), 32))[None]  # (1, 3, 32, 32) as the pipeline resizes it
    with torch.no_grad():
        expected = (from_latents(pipe.vae, to_latents(pipe.vae, pixels)).clamp(-1, 1) + 1) / 2
    assert kept.shape == (1, 3, 32, 32) and torch.allclose(kept, expected, atol=1e-5), \
        "strength 0 gives back the photo through the autoencoder"


def test_latent_mistakes_are_refused_by_name(trained_vae, data_root, tmp_path):
    vae_dir = trained_vae[0] / "autoencoder"
    with pytest.raises(ValueError, match="--vae"):
        Trainer(config_from_args(["generator", "--preset", "latent-micro", "--num-per-class", "2", "--data-root",
                                  str(data_root), "--out", str(tmp_path / "a"), "--steps", "1"]))
    with pytest.raises(ValueError, match="latent preset"):
        Trainer(config_from_args(_gen_args(tmp_path / "b", data_root, vae_dir, "--preset", "micro")))
    with pytest.raises(FileNotFoundError, match="no such directory"):
        Trainer(config_from_args(_gen_args(tmp_path / "c", data_root, tmp_path / "missing")))
    unscaled = tmp_path / "unscaled"
    build_autoencoder("ae-micro").save_pretrained(unscaled)
    with pytest.raises(ValueError, match="no fitted latent scale"):
        Trainer(config_from_args(_gen_args(tmp_path / "d", data_root, unscaled)))
    with pytest.raises(ValueError, match="generator task"):
        resolve(TrainConfig(task="classifier", vae=str(vae_dir)))
    pixel = CatsPipeline.from_preset("micro")
    with pytest.raises(ValueError, match="4 channels but the transformer draws 3"):
        CatsPipeline(transformer=pixel.transformer, scheduler=pixel.scheduler, vae=build_autoencoder("ae-micro"))


def test_a_latent_pipeline_is_not_exported(latent_run, tmp_path):
    from cats.export.exporter import export_pipeline

    with pytest.raises(ValueError, match="latent generator"):
        export_pipeline(CatsPipeline.from_pretrained(latent_run / "pipeline"), tmp_path / "onnx")
    assert not (tmp_path / "onnx").exists(), "refused before anything is written"


def test_the_latent_preset_keeps_the_pixel_models_tokens():
    latent, pixel = get_preset("latent-u"), get_preset("tiny-u")
    tokens = lambda p: (p["sample_size"] // p["patch_size"]) ** 2  # noqa: E731
    assert tokens(latent) == tokens(pixel) == 64
    assert {k: latent[k] for k in ("hidden_size", "depth", "num_heads")} == \
        {k: pixel[k] for k in ("hidden_size", "depth", "num_heads")}


def test_the_autoencoder_benchmark_reconstructs_times_and_exports_the_decoder(data_root, tmp_path, capsys):
    from cats.benchmarks.latent import main as bench

    assert bench(["--quick", "--out", str(tmp_path), "--data-root", str(data_root)]) == 0
    results = json.loads((tmp_path / "autoencoder.json").read_text())
    assert results["num_images"] == 12 * 4 and results["image_size"] == 32
    assert 0 < results["psnr_db"] < 60
    decode = results["decode"]
    assert decode["latent_shape"] == [4, 8, 8]
    assert decode["onnx_max_abs_error"] < 1e-4, "the exported decoder draws what the PyTorch one draws"
    assert 0 < decode["onnx_fp16_mb"] < decode["onnx_fp32_mb"]
    assert all(decode[f"{rt}_ms_per_image_batch{b}"] > 0 for rt in ("torch", "onnx") for b in (1, 16))
    assert (tmp_path / "reconstruction.png").is_file()
    assert "ONNX Runtime (ms per image)" in capsys.readouterr().out
