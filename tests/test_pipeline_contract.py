"""The pipeline contract, one suite for both runtimes (diffusers' PipelineTesterMixin pattern).

``CatsPipeline`` and ``OnnxCatsPipeline`` promise the same calls: what each test here asserts, both
must do. The pipelines are the same weights (the micro test pipeline and its export), so a bug in
either runtime's part of ``cats.sampling.Runtime`` fails here under its name. What only one runtime
does lives in tests/test_pipeline.py (PyTorch: the scheduler, diffusers' loader, "pt" output,
torch.Generator) and tests/test_onnx_pipeline.py (no torch, variants, parity with PyTorch).
"""

import numpy as np
import pytest
from PIL import Image
from test_export import shared_export

from cats.images import ImageInputError, load_image, to_model_array
from cats.noise import gaussian_noise
from cats.onnx import OnnxCatsPipeline

SIZE = 32  # the micro test pipeline's image size
STEPS = 3


@pytest.fixture(scope="module", params=["pytorch", "onnx"])
def pipe(request, tmp_path_factory):
    torch_pipe, out = shared_export(request, tmp_path_factory)  # the same export test_export.py uses
    if request.param == "onnx":
        return OnnxCatsPipeline.from_dir(out, "fp32", threads=1)
    torch_pipe.set_progress_bar_config(disable=True)
    return torch_pipe


def _photo(seed=3):
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (48, 40, 3), dtype=np.uint8).repeat(2, 0).repeat(2, 1), "RGB")


def _steps(pipe, **kwargs) -> list[tuple[int, float]]:
    """(index, sigma) of every step a call runs, read by its callback."""
    seen = []
    pipe(callback_on_step_end=lambda p, i, sigma, t: seen.append((i, sigma)), output_type="np", **kwargs)
    return seen


def test_a_seed_is_the_shared_noise_and_image_zero_of_a_batch_is_the_seeds_cat(pipe):
    kwargs = dict(num_inference_steps=STEPS, num_images_per_prompt=2, output_type="np")
    seeded = pipe("Bombay", seed=7, **kwargs).images
    replayed = pipe("Bombay", latents=gaussian_noise((2, 3, SIZE, SIZE), 7), **kwargs).images
    assert np.array_equal(seeded, replayed)  # seed=7 is cats.noise's seed 7, the web client's too
    one = pipe("Bombay", seed=7, num_inference_steps=STEPS, output_type="np").images
    np.testing.assert_allclose(one[0], seeded[0], rtol=0, atol=1e-6)
    other = pipe("Bombay", seed=8, num_inference_steps=STEPS, output_type="np").images
    assert np.abs(other[0] - one[0]).max() > 1e-2


def test_breeds_blends_and_batches_give_one_image_per_entry(pipe):
    kwargs = dict(num_inference_steps=STEPS, seed=1, output_type="np")
    images = pipe(["Bengal", {"Siamese": 0.3, "Persian": 0.7}], num_images_per_prompt=2, **kwargs).images
    assert images.shape == (4, SIZE, SIZE, 3) and images.dtype == np.float32
    assert images.min() >= 0 and images.max() <= 1
    bengal = pipe("Bengal", **kwargs).images
    assert np.array_equal(pipe({"Bengal": 1.0}, **kwargs).images, bengal)  # a full-weight blend is that breed
    assert np.abs(pipe("Sphynx", **kwargs).images - bengal).max() > 1e-3
    pil = pipe("Bengal", num_inference_steps=STEPS, seed=1, output_type="pil").images
    assert len(pil) == 1 and pil[0].size == (SIZE, SIZE) and pil[0].mode == "RGB"
    assert np.abs(np.asarray(pil[0], np.float32) - bengal[0] * 255).max() <= 0.5 + 1e-3


def test_the_defaults_are_the_saved_ones_and_the_callback_sees_every_step(pipe):
    seen = _steps(pipe, breed="Ragdoll", seed=3)
    defaults = pipe.defaults("quality")
    assert [i for i, _ in seen] == list(range(defaults.steps)) and seen[0][1] == 1.0
    assert [s for _, s in seen] == [float(s) for s in pipe.sigmas(defaults.steps)[:-1]]
    explicit = pipe("Ragdoll", seed=3, num_inference_steps=defaults.steps, guidance_scale=defaults.guidance,
                    output_type="np").images
    assert np.array_equal(pipe("Ragdoll", seed=3, output_type="np").images, explicit)


def test_a_callback_may_replace_the_sample(pipe):
    def zero_after_first(p, i, sigma, tensors):
        assert p is pipe and tensors["pred_x0"].shape == (1, 3, SIZE, SIZE)
        return {"latents": tensors["latents"] * 0} if i == 0 else None

    kept = pipe("Ragdoll", num_inference_steps=STEPS, seed=3, output_type="np").images
    replaced = pipe("Ragdoll", num_inference_steps=STEPS, seed=3, output_type="np",
                    callback_on_step_end=zero_after_first).images
    assert np.abs(replaced - kept).max() > 1e-2


def test_restyle_strength_zero_is_the_input_and_strength_one_is_generation(pipe):
    photo = _photo()
    steps = []
    same = pipe.transfer(photo, "Birman", strength=0.0, output_type="np",
                         callback_on_step_end=lambda p, i, sigma, t: steps.append(i)).images[0]
    assert steps == []  # no step: the network is not called
    want = (to_model_array(load_image(photo), SIZE).transpose(1, 2, 0) + 1) / 2
    np.testing.assert_allclose(same, want, rtol=0, atol=1e-6)
    kwargs = dict(num_inference_steps=4, seed=2, output_type="np", guidance_scale=2.0)
    np.testing.assert_array_equal(pipe.transfer(photo, "Birman", strength=1.0, **kwargs).images,
                                  pipe("Birman", **kwargs).images)
    half = pipe.transfer(photo, "Birman", strength=0.5, **kwargs).images
    assert np.abs(half - same).max() > 1e-3
    noise = gaussian_noise((1, 3, SIZE, SIZE), 2)
    assert np.array_equal(half, pipe.transfer(photo, "Birman", strength=0.5, latents=noise,
                                              **{k: v for k, v in kwargs.items() if k != "seed"}).images)


BAD_CALLS = [(dict(sampler="ddim"), "sampler must be one of"),
             (dict(output_type="latent"), "output_type must be one of"),
             (dict(num_inference_steps=0), "num_inference_steps must be a positive integer"),
             (dict(num_inference_steps=2.5), "num_inference_steps must be a positive integer"),
             (dict(guidance_scale=-1.0), "guidance_scale must be a finite number"),
             (dict(latents=np.zeros((1, 3, 16, 16), np.float32)), "latents must have shape"),
             (dict(breed="Dog"), "unknown breed"),
             (dict(seed=-1), r"seed must be an integer in 0\.\.4294967295"),
             (dict(seed=1, generator=object()), "either seed or generator"),
             (dict(mode="turbo"), "mode must be one of"),
             (dict(mode="fast"), "no few-step generator")]  # the test pipeline has no student


@pytest.mark.parametrize("change,message", BAD_CALLS)
def test_a_bad_argument_is_refused_by_name(pipe, change, message):
    kwargs = {"breed": "Bengal", "num_inference_steps": 2, **change}
    if "generator" in change and isinstance(pipe, OnnxCatsPipeline):
        kwargs["generator"] = np.random.default_rng(1)
    elif "generator" in change:
        import torch  # here: only the PyTorch runtime's generator is a torch.Generator

        kwargs["generator"] = torch.Generator().manual_seed(1)
    with pytest.raises(ValueError, match=message):
        pipe(**kwargs)


def test_restyle_refuses_a_bad_strength_and_a_non_image(pipe):
    with pytest.raises(ValueError, match=r"strength must be a number in \[0, 1\], got 1\.5"):
        pipe.transfer(_photo(), "Bengal", strength=1.5)
    with pytest.raises(ImageInputError):
        pipe.transfer(b"this is not an image", "Bengal")
