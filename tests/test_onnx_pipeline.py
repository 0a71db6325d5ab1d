"""OnnxCatsPipeline, what only the ONNX runtime does: the same pictures as CatsPipeline, no torch needed to run
it, variants, a NumPy generator. The contract both pipelines keep is tests/test_pipeline_contract.py."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_export import shared_export

from cats.onnx import OnnxCatsPipeline
from cats.onnx.pipeline import breed_weights

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def pipes(request, tmp_path_factory):
    pipe, out = shared_export(request, tmp_path_factory)  # the same export test_export.py uses
    return pipe, OnnxCatsPipeline.from_dir(out, "fp32", threads=1), out


def _noise(batch, seed=0):
    return np.random.default_rng(seed).standard_normal((batch, 3, 32, 32)).astype(np.float32)


def _photo(seed=3):
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (48, 40, 3), dtype=np.uint8).repeat(2, 0).repeat(2, 1), "RGB")


def test_runs_with_torch_blocked(pipes):
    _, _, out = pipes
    script = textwrap.dedent(f"""
        import json, sys
        sys.modules["torch"] = None  # any `import torch` now raises ImportError
        import numpy as np
        from PIL import Image
        from cats.onnx import OnnxCatsPipeline
        from cats.images import to_model_array
        pipe = OnnxCatsPipeline.from_dir({str(out)!r}, threads=1)
        two = pipe(["Siamese", "Bombay"], num_inference_steps=4, seed=0, output_type="np").images
        blend = pipe({{"Persian": 1, "Bengal": 1}}, num_inference_steps=4, seed=0, output_type="pil").images
        photo = Image.fromarray(np.random.default_rng(1).integers(0, 255, (50, 70, 4), dtype=np.uint8), "RGBA")
        kept = pipe.transfer(photo, "Sphynx", strength=0.0, output_type="np").images[0]
        from cats.images import load_image
        want = (to_model_array(load_image(photo), 32).transpose(1, 2, 0) + 1) / 2
        moved = pipe.transfer(photo, "Sphynx", strength=0.5, num_inference_steps=4, seed=0, output_type="np").images[0]
        results = pipe.classify([photo, Image.new("L", (20, 30), 128)], top_k=2)
        print(json.dumps({{
            "torch_loaded": sys.modules.get("torch") is not None,
            "two_shape": list(two.shape), "two_differ": float(np.abs(two[0] - two[1]).max()),
            "blend_size": list(blend[0].size), "kept_err": float(np.abs(kept - want).max()),
            "moved_err": float(np.abs(moved - want).max()),
            "verdicts": [r.verdict for r in results], "top2": [len(r.top_k) for r in results],
            "prob_sums": [sum(r.probabilities.values()) for r in results]}}))
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert res["torch_loaded"] is False
    assert res["two_shape"] == [2, 32, 32, 3] and res["two_differ"] > 1e-3
    assert res["blend_size"] == [32, 32]
    assert res["kept_err"] < 1e-6  # strength 0 gives the input back
    assert res["moved_err"] > 1e-2
    assert res["top2"] == [2, 2] and all(abs(s - 1) < 1e-6 for s in res["prob_sums"])
    assert all(v in ("unsure", "other") or v[0].isupper() for v in res["verdicts"])


@pytest.mark.parametrize("steps", [20, 4, 7, 50])
def test_schedule_equals_diffusers_scheduler(pipes, steps):
    pipe, onnx_pipe, _ = pipes
    pipe.scheduler.set_timesteps(steps)
    assert onnx_pipe.shift == 1.5
    assert np.array_equal(onnx_pipe.sigmas(steps), pipe.scheduler.sigmas.numpy())


@pytest.mark.parametrize("sampler", ["euler", "heun"])
def test_20_step_images_match_pytorch_pipeline(pipes, sampler):
    pipe, onnx_pipe, _ = pipes
    breeds = ["Abyssinian", {"Siamese": 0.3, "Persian": 0.7}, "Sphynx"]
    noise = _noise(3)
    kwargs = dict(num_inference_steps=20, guidance_scale=4.0, sampler=sampler, output_type="np", latents=noise)
    ref = pipe(breeds, progress=False, **kwargs).images  # (3, S, S, 3) in [0, 1]
    got = onnx_pipe(breeds, **kwargs).images
    assert got.shape == ref.shape == (3, 32, 32, 3)
    assert 2 * np.abs(got - ref).max() < 1e-3  # pixels in [-1, 1]
    assert np.abs(ref[0] - ref[2]).max() > 1e-2  # breeds give different pictures


@pytest.mark.parametrize("sampler", ["euler", "heun"])
def test_same_seed_and_breed_give_the_same_cat_in_pytorch_and_onnx(pipes, sampler):
    # One seed, one cat: both pipelines draw cats.noise.gaussian_noise for seed=, as the web client does
    # (tests/unit/noise.test.ts proves its noise is these bits; the golden replay, its sampler).
    pipe, onnx_pipe, _ = pipes
    kwargs = dict(num_inference_steps=20, guidance_scale=4.0, sampler=sampler, output_type="np", seed=42)
    ref = pipe(["Siamese", "Bombay"], progress=False, **kwargs).images
    got = onnx_pipe(["Siamese", "Bombay"], **kwargs).images
    assert 2 * np.abs(got - ref).max() < 1e-3  # the parity tolerance on a 20-step image, pixels in [-1, 1]
    other = onnx_pipe(["Siamese", "Bombay"], **{**kwargs, "seed": 43}).images
    assert np.abs(other - got).max() > 1e-2
    photo = _photo()
    t_kwargs = dict(strength=0.6, num_inference_steps=10, output_type="np", seed=9)
    ref = pipe.transfer(photo, "Birman", progress=False, **t_kwargs).images
    got = onnx_pipe.transfer(photo, "Birman", **t_kwargs).images
    assert 2 * np.abs(got - ref).max() < 1e-3


def test_generator_is_a_numpy_generator(pipes):
    # the shared seed itself (seed=, latents=, batches) is the contract: tests/test_pipeline_contract.py
    _, onnx_pipe, _ = pipes
    seeded = onnx_pipe("Bengal", num_inference_steps=3, seed=5, output_type="np").images
    numpy_noise = onnx_pipe("Bengal", num_inference_steps=3, generator=np.random.default_rng(5), output_type="np").images
    assert np.abs(numpy_noise[0] - seeded[0]).max() > 1e-2
    again = onnx_pipe("Bengal", num_inference_steps=3, generator=np.random.default_rng(5), output_type="np").images
    assert np.array_equal(numpy_noise, again)
    with pytest.raises(ValueError, match="numpy.random.Generator"):
        onnx_pipe("Bengal", num_inference_steps=2, generator=5)


def test_batch_of_three_equals_three_batches_of_one(pipes):
    _, onnx_pipe, _ = pipes
    noise = _noise(3, seed=5)
    batch = onnx_pipe("Bengal", num_inference_steps=4, num_images_per_prompt=3, output_type="np", latents=noise).images
    for i in range(3):
        one = onnx_pipe("Bengal", num_inference_steps=4, output_type="np", latents=noise[i:i + 1]).images
        assert np.abs(batch[i] - one[0]).max() < 1e-5
    assert np.abs(batch[0] - batch[1]).max() > 1e-3


def test_transfer_matches_pytorch(pipes):
    pipe, onnx_pipe, _ = pipes
    photo = _photo()
    noise = _noise(1, seed=7)
    kwargs = dict(strength=0.6, num_inference_steps=10, output_type="np", latents=noise)
    ref = pipe.transfer(photo, "Birman", progress=False, **kwargs).images
    got = onnx_pipe.transfer(photo, "Birman", **kwargs).images
    assert 2 * np.abs(got - ref).max() < 1e-3


def test_classify_matches_pytorch_pipeline(pipes):
    pipe, onnx_pipe, _ = pipes
    images = [_photo(1), _photo(2), Image.new("P", (64, 64))]
    for tta in (False, True):
        ref = pipe.classify(images, top_k=3, tta=tta)
        got = onnx_pipe.classify(images, top_k=3, tta=tta)
        for r, g in zip(ref, got):
            assert g.verdict == r.verdict and [k for k, _ in g.top_k] == [k for k, _ in r.top_k]
            assert max(abs(g.probabilities[k] - r.probabilities[k]) for k in r.probabilities) < 1e-5


def test_breed_rules_are_shared_with_the_pytorch_pipeline():
    import cats.breeds
    import cats.onnx.pipeline

    # one implementation, in the torch-free cats.breeds, used by both pipelines
    assert cats.onnx.pipeline.breed_weights is cats.breeds.breed_weights
    w = breed_weights({"Siamese": 1, "Persian": 3}, 2)
    assert w.shape == (2, 13) and w[0, 10] == pytest.approx(0.25) and w[0, 7] == pytest.approx(0.75)
    assert np.array_equal(breed_weights(["Bengal", 0], 1)[:, :2], np.array([[0, 1], [1, 0]], dtype=np.float32))
    for bad in ("Poodle", {"Siamese": -1}, {"Siamese": 0}, [], 12, {"Siamese": float("nan")}):
        with pytest.raises(ValueError):
            breed_weights(bad)
    assert breed_weights(None)[0, 12] == 1.0  # unconditional


def test_variants_and_errors_of_the_export(pipes):
    # callbacks and the call's errors are the contract: tests/test_pipeline_contract.py
    _, onnx_pipe, out = pipes
    b = onnx_pipe("Ragdoll", num_inference_steps=5, seed=3, output_type="np").images
    for variant in ("fp16", "int8"):
        other = OnnxCatsPipeline.from_dir(out, variant, threads=1)
        assert other.variant == variant
        c = other("Ragdoll", num_inference_steps=5, seed=3, output_type="np").images
        assert 0 < np.abs(c - b).max() < 0.2  # a different graph, close to fp32
    with pytest.raises(ValueError, match=r"\('pil', 'np'\) \(no torch here\), got 'pt'"):
        onnx_pipe("Ragdoll", output_type="pt")
    with pytest.raises(ValueError, match="fp32"):
        OnnxCatsPipeline.from_dir(out, "bf16")
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        OnnxCatsPipeline.from_dir(out, threads=0)
    with pytest.raises(FileNotFoundError, match="export.py"):
        OnnxCatsPipeline.from_dir(out / "nowhere")


def test_latency_benchmark_quick_reports_every_variant(pipes):
    from cats.benchmarks.onnx_latency import run

    pipe, _, out = pipes
    result = run(quick=True, pipe=pipe, export_dir=out)
    assert result["preset"] == "micro"
    for threads in (1, 2):
        row = result["steps"][threads]
        assert set(row["onnx_ms"]) == {"fp32", "fp16", "int8"} and row["pytorch_ms"] > 0
        assert row["ratio"]["fp32"] == pytest.approx(row["onnx_ms"]["fp32"] / row["pytorch_ms"])
        assert set(result["classifier"][threads]["onnx_ms"]) == {"fp32", "fp16"}
    assert result["sizes_mb"]["generator.int8"] < result["sizes_mb"]["generator.fp32"]
