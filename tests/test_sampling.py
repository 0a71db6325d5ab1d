"""cats.sampling: the torch-free sampling core both pipelines adapt (checks, start, Euler/Heun, callbacks, output)."""

import numpy as np
import pytest
from PIL import Image

from cats.convention import SIGMA_MIN, interpolate, velocity_to_x0, x0_to_velocity
from cats.noise import gaussian_noise
from cats.sampling import (
    ModeDefaults,
    check_call,
    initial_noise,
    initial_sample,
    postprocess,
    run_sampler,
    step_callback,
)
from cats.schedule import flow_sigmas, transfer_tail

SHAPE = (2, 3, 4, 4)


def field_step(velocity, calls=None):
    """A step callable for a known velocity field v(x, sigma): one Euler move, as the graph/model step does."""
    def step(x, sigma, sigma_next):
        if calls is not None:
            calls.append((sigma, sigma_next))
        v = velocity(x, sigma)
        return x + (sigma_next - sigma) * v, velocity_to_x0(x, v, sigma)
    return step


def target_step(target, calls=None):
    """x-prediction of a fixed image: v = (x - target) / max(sigma, SIGMA_MIN) (the clamp of the convention)."""
    return field_step(lambda x, s: x0_to_velocity(x, target, np.float64(s)), calls)


def test_euler_calls_the_step_once_per_sigma_pair_and_follows_a_straight_path():
    target = np.linspace(-0.8, 0.8, 96).reshape(SHAPE)
    noise = gaussian_noise(SHAPE, 0).astype(np.float64)
    sigmas = flow_sigmas(6, 3.0)
    calls, seen = [], []
    out = run_sampler(target_step(target, calls), noise, sigmas,
                      on_step=lambda i, s, x, x0: seen.append((i, s, x.copy(), x0.copy())))
    assert calls == [(float(a), float(b)) for a, b in zip(sigmas[:-1], sigmas[1:])]
    assert [(i, s) for i, s, _, _ in seen] == [(i, float(sigmas[i])) for i in range(6)]
    for i, _, x, x0 in seen[:-1]:  # on the line x = target + sigma (noise - target), every sigma exactly
        np.testing.assert_allclose(x, interpolate(target, noise, float(sigmas[i + 1])), rtol=0, atol=1e-6)
        np.testing.assert_allclose(x0, target, rtol=0, atol=1e-6)
    last = float(sigmas[-2])  # below SIGMA_MIN: the clamp stops a known hair short of the target
    np.testing.assert_allclose(out, target + last * (1 - last / SIGMA_MIN) * (noise - target), rtol=0, atol=1e-6)


def test_heun_averages_both_slopes_and_skips_steps_ending_below_sigma_min():
    def velocity(x, s):
        return np.sin(3 * x) + s  # curved: Heun and Euler differ
    sigmas = [1.0, 0.6, 0.2, 0.04, 0.0]
    x0 = gaussian_noise(SHAPE, 1).astype(np.float64)
    calls = []
    heun = run_sampler(field_step(velocity, calls), x0, sigmas, "heun")
    # a corrector call at the end point with the same dt, only where the step ends at or above SIGMA_MIN
    want = [(1.0, 0.6), (0.6, 0.2), (0.6, 0.2), (0.2, -0.2), (0.2, 0.04), (0.04, 0.0)]
    assert np.asarray(calls) == pytest.approx(np.asarray(want), abs=1e-15)
    x = x0
    for s, s_next in zip(sigmas[:-1], sigmas[1:]):  # by hand: x + dt (v + v_end) / 2, plain Euler at the end
        v = velocity(x, s)
        x_e = x + (s_next - s) * v
        x = x + (s_next - s) * (v + velocity(x_e, s_next)) / 2 if s_next >= SIGMA_MIN else x_e
    np.testing.assert_allclose(heun, x, rtol=0, atol=1e-12)
    euler = run_sampler(field_step(velocity), x0, sigmas, "euler")
    assert np.abs(heun - euler).max() > 1e-3
    with pytest.raises(ValueError, match=r"sampler must be one of \('euler', 'heun'\), got 'ddim'"):
        run_sampler(field_step(velocity), x0, sigmas, "ddim")


def test_a_few_step_schedule_is_just_another_sigma_list_and_step():
    # A distilled generator: explicit uniform sigmas, a conditional-only step; the core needs nothing else.
    target = np.full(SHAPE, 0.3)
    noise = gaussian_noise(SHAPE, 2).astype(np.float64)
    for n in (1, 2, 4):
        calls = []
        out = run_sampler(field_step(lambda x, s: (x - target) / s if s else 0 * x, calls), noise,
                          np.linspace(1.0, 0.0, n + 1))
        assert len(calls) == n
        np.testing.assert_allclose(out, target, rtol=0, atol=1e-12)


def test_restyle_starts_from_the_noised_image_and_generate_from_the_noise():
    noise = gaussian_noise(SHAPE, 3)
    image = np.linspace(-1, 1, 48, dtype=np.float32).reshape(1, 3, 4, 4)
    tail = transfer_tail(flow_sigmas(10), 0.6)
    s0 = tail[0]
    start = initial_sample(noise, tail, image)
    assert start.dtype == np.float32 and start.shape == SHAPE
    np.testing.assert_array_equal(start, (1 - s0) * image + s0 * noise)  # float32, image broadcast over the batch
    assert initial_sample(noise, flow_sigmas(4)) is noise
    np.testing.assert_array_equal(initial_sample(noise, transfer_tail(flow_sigmas(10), 0.0), image)[1], image[0])
    np.testing.assert_array_equal(initial_sample(noise, flow_sigmas(10), image), noise)  # strength 1: all noise
    with pytest.raises(ValueError, match="the schedule is empty"):
        initial_sample(noise, [], image)


def test_initial_noise_prefers_latents_then_the_seed_then_the_runtime_generator():
    drawn = []

    def draw(g):
        drawn.append(g)
        return np.zeros(SHAPE, np.float32)

    latents = np.ones(SHAPE, np.float32)
    assert initial_noise(SHAPE, seed=5, generator=None, latents=latents, draw=draw) is latents
    np.testing.assert_array_equal(initial_noise(SHAPE, seed=5, generator=None, latents=None, draw=draw),
                                  gaussian_noise(SHAPE, 5))
    assert not drawn
    marker = object()
    initial_noise(SHAPE, seed=None, generator=marker, latents=None, draw=draw)
    assert drawn == [marker]
    with pytest.raises(ValueError, match="either seed or generator"):
        initial_noise(SHAPE, seed=1, generator=marker, latents=None, draw=draw)
    with pytest.raises(ValueError, match=r"latents must have shape \(2, 3, 4, 4\).*got \(1, 3, 4, 4\)"):
        initial_noise(SHAPE, seed=None, generator=None, latents=np.ones((1, 3, 4, 4)), draw=draw)


QUALITY = ModeDefaults(steps=20, guidance=3.0)


def test_check_call_fills_defaults_and_names_each_bad_value():
    call = check_call("quality", None, None, "heun", "np", defaults=QUALITY)
    assert (call.steps, call.guidance, call.sampler, call.output_type, call.mode) == (20, 3.0, "heun", "np", "quality")
    assert check_call("quality", np.int64(4), 1, "euler", "pil", defaults=QUALITY).steps == 4
    bad = [({"num_inference_steps": 0}, r"num_inference_steps must be a positive integer, got 0"),
           ({"num_inference_steps": 2.0}, r"num_inference_steps .* got 2\.0"),
           ({"num_inference_steps": True}, r"num_inference_steps .* got True"),
           ({"guidance_scale": -1.0}, r"guidance_scale must be a finite number >= 0 .* got -1\.0"),
           ({"guidance_scale": float("inf")}, r"guidance_scale .* got inf"),
           ({"sampler": "ddim"}, r"sampler must be one of \('euler', 'heun'\), got 'ddim'"),
           ({"output_type": "pt"}, r"output_type must be one of \('pil', 'np'\) \(no torch here\), got 'pt'"),
           ({"mode": "turbo"}, r"mode must be one of \('quality', 'fast'\), got 'turbo'")]
    for change, message in bad:
        args = {"mode": "quality", "num_inference_steps": 2, "guidance_scale": 3.0, "sampler": "euler",
                "output_type": "np", **change}
        with pytest.raises(ValueError, match=message):
            check_call(**args, defaults=QUALITY, note=" (no torch here)")


def test_fast_mode_is_a_value_with_its_own_rules():
    student = ModeDefaults(steps=2, guidance=4.0)
    call = check_call("fast", None, None, "euler", "np", defaults=student)
    assert (call.mode, call.steps, call.guidance) == ("fast", 2, None)  # no guidance input: it is in the weights
    for change, message in [({"guidance_scale": 3.0}, r"baked into the weights \(its teacher's 4\)"),
                            ({"sampler": "heun"}, "integrates with 'euler'"),
                            ({"num_inference_steps": 0}, "positive integer")]:
        args = {"num_inference_steps": None, "guidance_scale": None, "sampler": "euler", "output_type": "np", **change}
        with pytest.raises(ValueError, match=message):
            check_call("fast", **args, defaults=student)
    with pytest.raises(ValueError, match="no few-step generator"):
        check_call("fast", None, None, "euler", "np", defaults=None)


def test_step_callback_is_diffusers_style_and_may_replace_the_sample():
    owner, got = object(), []

    def user(pipe, i, sigma, tensors):
        got.append((pipe, i, sigma, sorted(tensors)))
        return {"latents": tensors["latents"] * 0} if i == 1 else None

    on_step = step_callback(owner, user, convert=lambda a: np.asarray(a, np.float32))
    x = np.ones(SHAPE)
    out = run_sampler(field_step(lambda x, s: 0 * x + 1.0), x, [1.0, 0.5, 0.25, 0.0], on_step=on_step)
    assert got == [(owner, 0, 1.0, ["latents", "pred_x0"]), (owner, 1, 0.5, ["latents", "pred_x0"]),
                   (owner, 2, 0.25, ["latents", "pred_x0"])]
    np.testing.assert_allclose(out, np.full(SHAPE, -0.25))  # zeroed after step 1, then one more step of v = 1
    assert step_callback(owner, None) is None


def test_postprocess_to_pil_and_np():
    x = np.linspace(-1.5, 1.5, 2 * 3 * 5 * 5, dtype=np.float32).reshape(2, 3, 5, 5)
    arr = postprocess(x, "np")
    assert arr.shape == (2, 5, 5, 3) and arr.dtype == np.float32 and arr.min() == 0 and arr.max() == 1
    np.testing.assert_allclose(arr, (np.clip(x, -1, 1).transpose(0, 2, 3, 1) + 1) / 2)
    pil = postprocess(x, "pil")
    assert len(pil) == 2 and isinstance(pil[0], Image.Image) and pil[0].size == (5, 5)
    assert np.abs(np.asarray(pil[1], np.float32) - arr[1] * 255).max() <= 0.5 + 1e-3
    with pytest.raises(ValueError, match="output_type"):
        postprocess(x, "latent")
