"""CatsPipeline, what only the PyTorch runtime does: sampling against known fields (Euler/Heun, CFG once,
1000*sigma), the scheduler, class weights, "pt" output, torch.Generator, save/load. The contract both
pipelines keep (seeds, breeds, restyle, callbacks, errors) is tests/test_pipeline_contract.py."""

import json

import numpy as np
import pytest
import torch
from diffusers import FlowMatchEulerDiscreteScheduler
from PIL import Image

from cats import paths
from cats.breeds import BREEDS, NULL_ID, NUM_SLOTS
from cats.flow import SIGMA_MIN, euler_step, model_velocity
from cats.models.dit import CatDiT, get_preset
from cats.pipeline import CatsPipeline


def quiet(pipe: CatsPipeline) -> CatsPipeline:
    pipe.set_progress_bar_config(disable=True)
    return pipe


def random_micro(seed: int = 0, prediction_type: str | None = None) -> CatsPipeline:
    """An untrained micro pipeline with non-zero random weights (a fresh one outputs 0 for every breed)."""
    pipe = CatsPipeline.from_preset("micro", seed=seed, prediction_type=prediction_type)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in pipe.transformer.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.05)
    return quiet(pipe)


@pytest.fixture(scope="module")
def pipe():
    return random_micro()


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


class StubDiT(CatDiT):
    """A CatDiT whose forward is a known function; records (sample, timestep, class_weights) of every call.

    mode "target": returns the fixed image `target` (an x-prediction of a straight path);
    mode "code": returns one constant per conditioning slot, independent of the sample (a v field).
    """

    def setup(self, mode: str, target: torch.Tensor | None = None):
        self.mode, self.target, self.calls = mode, target, []
        self.codes = torch.linspace(-0.3, 0.3, NUM_SLOTS)
        return self

    def forward(self, sample, timestep, class_weights):
        self.calls.append((sample.clone(), timestep.clone(), class_weights.clone()))
        if self.mode == "target":
            return self.target.expand_as(sample).clone()
        return (class_weights @ self.codes)[:, None, None, None].expand_as(sample).clone()


def stub_pipe(mode: str, prediction_type: str, target=None) -> CatsPipeline:
    model = StubDiT(**{**get_preset("micro"), "prediction_type": prediction_type}).setup(mode, target)
    return quiet(CatsPipeline(transformer=model, scheduler=FlowMatchEulerDiscreteScheduler(shift=1.0)))


def run_and_record(pipe, **kwargs):
    steps = []

    def callback(p, i, sigma, tensors):
        steps.append((i, sigma, tensors["latents"].clone(), tensors["pred_x0"].clone()))

    out = pipe(callback_on_step_end=callback, **kwargs)
    return out, steps


# ---------------------------------------------------------------- sampler against known fields

@pytest.mark.parametrize("sampler", ["euler", "heun"])
@pytest.mark.parametrize("steps", [3, 8])
def test_sampler_integrates_a_straight_path_exactly(sampler, steps):
    # x-prediction of a fixed image T gives v = (x - T) / sigma: the path x = T + sigma * (noise - T) is a
    # straight line, so Euler and Heun must land on every sigma of the schedule. The schedule's last
    # non-zero sigma (0.001) is below SIGMA_MIN, where cats.flow divides by SIGMA_MIN instead: the last
    # step then stops a known hair short of T (and Heun must not trust the clamped slope there).
    target = torch.rand(1, 3, 32, 32, generator=seeded(5)) * 1.6 - 0.8
    pipe = stub_pipe("target", "x", target)
    noise = torch.randn(1, 3, 32, 32, generator=seeded(6))
    out, recorded = run_and_record(pipe, breed="Bengal", num_inference_steps=steps, sampler=sampler,
                                   latents=noise, output_type="pt", guidance_scale=2.0)
    pipe.scheduler.set_timesteps(steps)
    sigmas = pipe.scheduler.sigmas
    assert [r[0] for r in recorded] == list(range(steps))
    for i, _, latents, pred_x0 in recorded[:-1]:
        torch.testing.assert_close(latents, target + sigmas[i + 1] * (noise - target), rtol=0, atol=1e-5)
        torch.testing.assert_close(pred_x0, target, rtol=0, atol=1e-5)
    last = float(sigmas[-2])
    assert last < SIGMA_MIN
    final = target + last * (1 - last / SIGMA_MIN) * (noise - target)
    torch.testing.assert_close(recorded[-1][2], final, rtol=0, atol=1e-6)
    torch.testing.assert_close(out.images, ((final + 1) / 2).clamp(0, 1), rtol=0, atol=1e-6)


def test_model_gets_1000_sigma_from_the_scheduler():
    pipe = stub_pipe("code", "v")
    pipe(breed=0, num_inference_steps=5, guidance_scale=1.0, output_type="pt")
    scheduler = FlowMatchEulerDiscreteScheduler(shift=1.0)
    scheduler.set_timesteps(5)
    seen = torch.stack([t[0] for _, t, _ in pipe.transformer.calls])
    torch.testing.assert_close(seen, scheduler.sigmas[:-1] * 1000.0)  # 1000, ..., never raw sigma
    assert seen[0] == 1000.0


@pytest.mark.parametrize("g", [0.0, 1.0, 3.0])
def test_cfg_applied_once_with_the_formula(g):
    # v does not depend on x, so after integrating sigma 1 -> 0: x_end = noise - v_guided.
    pipe = stub_pipe("code", "v")
    noise = torch.zeros(2, 3, 32, 32)
    _, recorded = run_and_record(pipe, breed=[3, {"Bengal": 1, "Persian": 3}], num_inference_steps=4,
                                 guidance_scale=g, latents=noise, output_type="pt")
    codes = pipe.transformer.codes
    v_cond = torch.tensor([codes[3], 0.25 * codes[1] + 0.75 * codes[7]])
    v_null = codes[NULL_ID]
    expected = -(v_null + g * (v_cond - v_null))  # g**2 (guidance twice) or g on both halves would differ
    torch.testing.assert_close(recorded[-1][2][:, 0, 0, 0], expected, rtol=0, atol=1e-6)
    batches = [s.shape[0] for s, _, _ in pipe.transformer.calls]
    assert batches == ([2] * 4 if g == 1.0 else [4] * 4)  # one forward per step; CFG batched, g=1 only cond


def test_euler_equals_diffusers_scheduler_step(pipe):
    noise = torch.randn(1, 3, 32, 32, generator=seeded(0))
    w = pipe.class_weights("Siamese")
    _, recorded = run_and_record(pipe, breed="Siamese", num_inference_steps=4, guidance_scale=1.0,
                                 latents=noise, output_type="pt")
    scheduler = FlowMatchEulerDiscreteScheduler(shift=1.0)
    scheduler.set_timesteps(4)
    x = noise
    for i, t in enumerate(scheduler.timesteps):
        v = model_velocity(pipe.transformer, x, scheduler.sigmas[i].expand(1), w, "x")
        x = scheduler.step(v, t, x).prev_sample
        torch.testing.assert_close(recorded[i][2], x, rtol=0, atol=1e-5)


def test_heun_corrects_with_the_end_slope_except_near_sigma_zero():
    pipe = random_micro(prediction_type="v")
    calls = []
    pipe.transformer.register_forward_hook(lambda m, a, o: calls.append(a[0].shape[0]))
    noise = torch.randn(1, 3, 32, 32, generator=seeded(0))
    heun = pipe(breed=1, num_inference_steps=4, sampler="heun", guidance_scale=1.0, latents=noise, output_type="pt")
    # sigmas 1, .667, .334, .001, 0: corrections on the two steps that end at or above SIGMA_MIN
    assert len(calls) == 4 + 2
    # one Heun step by hand: average of the slopes at both ends of the Euler predictor
    w = pipe.class_weights(1)
    s = torch.tensor(pipe.sigmas(4))  # the pipeline's sigmas (cats.schedule.sigmas at the scheduler's shift)
    v1 = model_velocity(pipe.transformer, noise, s[0].expand(1), w, "v")
    x_e = euler_step(noise, v1, s[0].expand(1), s[1].expand(1))
    v2 = model_velocity(pipe.transformer, x_e, s[1].expand(1), w, "v")
    _, recorded = run_and_record(pipe, breed=1, num_inference_steps=4, sampler="heun", guidance_scale=1.0,
                                 latents=noise, output_type="pt")
    torch.testing.assert_close(recorded[0][2], noise + (s[1] - s[0]) * (v1 + v2) / 2, rtol=0, atol=1e-5)
    euler = pipe(breed=1, num_inference_steps=4, guidance_scale=1.0, latents=noise, output_type="pt")
    assert (heun.images - euler.images).abs().max() > 1e-4


# ---------------------------------------------------------------- seeds, breeds, outputs

def test_same_seed_same_image_different_seed_differs(pipe):
    a = pipe("Siamese", num_inference_steps=3, generator=seeded(0), output_type="np").images
    b = pipe("Siamese", num_inference_steps=3, generator=seeded(0), output_type="np").images
    c = pipe("Siamese", num_inference_steps=3, generator=seeded(1), output_type="np").images
    assert np.array_equal(a, b)
    assert np.abs(a - c).max() > 0.05


def test_initial_noise_is_cpu_randn_so_other_backends_can_replay_it(pipe):
    noise = torch.randn((2, 3, 32, 32), generator=seeded(7), dtype=torch.float32)
    from_seed = pipe("Bombay", num_inference_steps=3, num_images_per_prompt=2, generator=seeded(7), output_type="np")
    from_array = pipe("Bombay", num_inference_steps=3, num_images_per_prompt=2, latents=noise.numpy(), output_type="np")
    assert np.array_equal(from_seed.images, from_array.images)


def test_class_weights_validation_and_normalisation(pipe):
    w = pipe.class_weights({"Siamese": 2, "persian": 2, 0: 0})
    assert w.shape == (1, NUM_SLOTS) and w[0, BREEDS.index("Siamese")] == 0.5 and w[0, BREEDS.index("Persian")] == 0.5
    rows = pipe.class_weights(["Bengal", 3, {"Birman": 1}], 2)
    assert rows.shape == (6, NUM_SLOTS)
    assert rows.argmax(1).tolist() == [1, 1, 3, 3, 2, 2]
    assert torch.all(rows[:, NULL_ID] == 0)  # the null slot is never a breed
    assert pipe.class_weights(None).argmax().item() == NULL_ID  # None asks for the unconditional slot
    with pytest.raises(ValueError, match="unknown breed 'Tabby'.*Abyssinian"):
        pipe.class_weights("Tabby")
    with pytest.raises(ValueError, match="all zero"):
        pipe.class_weights({"Siamese": 0, "Persian": 0.0})
    with pytest.raises(ValueError, match="negative"):
        pipe.class_weights({"Siamese": 1.5, "Persian": -0.5})
    with pytest.raises(ValueError, match="finite"):
        pipe.class_weights({"Siamese": float("nan")})
    with pytest.raises(ValueError, match="out of range"):
        pipe.class_weights(-1)  # -1 is not the last breed
    with pytest.raises(ValueError, match="out of range"):
        pipe.class_weights(NULL_ID)  # the null slot is not a breed a user can ask for
    with pytest.raises(ValueError, match="empty"):
        pipe.class_weights([])


def test_output_types_agree(pipe):
    kwargs = dict(breed=["Ragdoll", "Bombay"], num_images_per_prompt=2, num_inference_steps=2)
    as_np = pipe(generator=seeded(3), output_type="np", **kwargs).images
    as_pt = pipe(generator=seeded(3), output_type="pt", **kwargs).images
    as_pil = pipe(generator=seeded(3), output_type="pil", **kwargs).images
    assert as_np.shape == (4, 32, 32, 3) and as_np.dtype == np.float32
    assert as_np.min() >= 0 and as_np.max() <= 1
    np.testing.assert_allclose(as_pt.permute(0, 2, 3, 1).numpy(), as_np)
    assert len(as_pil) == 4 and as_pil[0].size == (32, 32) and as_pil[0].mode == "RGB"
    assert np.abs(np.asarray(as_pil[3], np.float32) - as_np[3] * 255).max() <= 0.5 + 1e-3


def test_default_guidance_and_steps_come_from_config(pipe):
    calls = []
    hook = pipe.transformer.register_forward_hook(lambda m, a, o: calls.append(a[0].shape[0]))
    try:
        pipe("Bengal", generator=seeded(0), output_type="np")
    finally:
        hook.remove()
    assert pipe.config.default_guidance_scale == 3.0
    assert calls == [2] * pipe.config.default_num_inference_steps  # guided (2B) and 20 steps


# ---------------------------------------------------------------- restyle (transfer)

def test_a_partial_restyle_starts_midway_down_the_scheduler_grid():
    stub = stub_pipe("code", "v")
    stub.transfer(Image.new("L", (40, 40), 128), breed="Birman", strength=0.5, num_inference_steps=10,
                  guidance_scale=1.0)
    seen = [float(t[0]) for _, t, _ in stub.transformer.calls]
    assert len(seen) == 5 and seen[0] == pytest.approx(1000 * stub.sigmas(10)[5])


# ---------------------------------------------------------------- save / load

def test_save_load_round_trip_reproduces_the_image(pipe, tmp_path):
    pipe.save_pretrained(tmp_path)
    index = json.loads((tmp_path / "model_index.json").read_text())
    assert index["breeds"] == list(BREEDS) and index["preset"] == "micro" and index["classifier"] == [None, None]
    loaded = quiet(CatsPipeline.from_pretrained(tmp_path))
    assert loaded.classifier is None and loaded.transformer.config.prediction_type == "x"
    a = pipe("Maine Coon", num_inference_steps=3, generator=seeded(4), output_type="np").images
    b = loaded("Maine Coon", num_inference_steps=3, generator=seeded(4), output_type="np").images
    assert np.array_equal(a, b)


def test_preset_is_named_when_built_around_a_bare_transformer(pipe):
    assert CatsPipeline(transformer=pipe.transformer, scheduler=pipe.scheduler).config.preset == "micro"
    odd = CatDiT(**{**get_preset("micro"), "depth": 1})
    assert CatsPipeline(transformer=odd, scheduler=pipe.scheduler).config.preset is None


def test_load_refuses_a_different_breed_list(pipe, tmp_path):
    pipe.save_pretrained(tmp_path)
    index = json.loads((tmp_path / "model_index.json").read_text())
    index["breeds"] = list(reversed(BREEDS))
    (tmp_path / "model_index.json").write_text(json.dumps(index))
    with pytest.raises(ValueError, match="breeds"):
        CatsPipeline.from_pretrained(tmp_path)


def test_bare_names_resolve_to_bundled_weights(pipe, tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "WEIGHTS_DIR", tmp_path)  # the one module that knows where bundled weights live
    with pytest.raises(ValueError, match=r"'synthcats'.*bundled: none yet"):
        CatsPipeline.from_pretrained("synthcats")
    pipe.save_pretrained(tmp_path / "mycats")
    loaded = quiet(CatsPipeline.from_pretrained("mycats"))
    assert loaded.config.preset == "micro"
    with pytest.raises(ValueError, match="bundled: mycats"):
        CatsPipeline.from_pretrained("yourcats")


def test_classifier_saves_loads_and_classify_delegates(pipe, tmp_path, monkeypatch):
    from cats.models.classifier import CatClassifier

    with pytest.raises(ValueError, match="no classifier"):
        pipe.classify([Image.new("RGB", (8, 8))])
    torch.manual_seed(0)
    with_clf = CatsPipeline(transformer=pipe.transformer, scheduler=pipe.scheduler,
                            classifier=CatClassifier(image_size=32).eval(), preset="micro")
    with_clf.save_pretrained(tmp_path)
    loaded = CatsPipeline.from_pretrained(tmp_path)
    assert isinstance(loaded.classifier, CatClassifier)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(loaded.classifier(x), with_clf.classifier(x))
    seen = {}
    monkeypatch.setattr("cats.pipeline.classify", lambda clf, images, top_k, tta: seen.update(
        clf=clf, images=images, top_k=top_k, tta=tta) or ["result"])
    assert loaded.classify(["img"], top_k=5, tta=True) == ["result"]
    assert seen == {"clf": loaded.classifier, "images": ["img"], "top_k": 5, "tta": True}


def test_a_bare_transformer_is_named_by_its_full_preset():
    from cats.models.dit import CatDiT, get_preset

    sched = CatsPipeline.from_preset("micro").scheduler
    assert CatsPipeline(transformer=CatDiT(**get_preset("tiny-u")), scheduler=sched).config.preset == "tiny-u"
    assert CatsPipeline(transformer=CatDiT(**get_preset("tiny")), scheduler=sched).config.preset == "tiny"


# ---------------------------------------------------------------- one seed, one cat; the scheduler, honestly

def test_generator_keeps_diffusers_torch_randn_beside_the_shared_seed(pipe):
    # the shared seed itself (seed=, latents=, batches) is the contract: tests/test_pipeline_contract.py
    kwargs = dict(num_inference_steps=3, num_images_per_prompt=2, output_type="np")
    seeded_images = pipe("Bombay", seed=7, **kwargs).images
    torch_randn = pipe("Bombay", generator=seeded(7), **kwargs).images
    assert np.abs(seeded_images - torch_randn).max() > 0.05


@pytest.mark.parametrize("shift", [1.0, 1.5, 3.0])
def test_sigmas_are_the_schedulers_bit_for_bit_and_follow_a_swapped_scheduler(pipe, shift):
    scheduler = FlowMatchEulerDiscreteScheduler(shift=shift)
    p = CatsPipeline(transformer=pipe.transformer, scheduler=scheduler)
    for steps in (1, 4, 20, 37):
        scheduler.set_timesteps(steps)
        assert p.sigmas(steps) == scheduler.sigmas.tolist()  # cats.schedule.sigmas, not the scheduler's own call
    assert p.sigmas(2, "fast") == [1.0, 0.5, 0.0]  # the few-step student's schedule ignores the shift
    p.scheduler = FlowMatchEulerDiscreteScheduler(shift=shift + 1.0)  # its shift is read at its first use
    p.scheduler.set_timesteps(6)
    assert p.sigmas(6) == p.scheduler.sigmas.tolist()


REFUSED_SCHEDULERS = [({"use_karras_sigmas": True}, "use_karras_sigmas=True"),
                      ({"use_exponential_sigmas": True}, "use_exponential_sigmas=True"),
                      ({"use_beta_sigmas": True}, "use_beta_sigmas=True"),
                      ({"shift_terminal": 0.1}, "shift_terminal=0.1"),
                      ({"use_dynamic_shifting": True}, "use_dynamic_shifting=True"),
                      ({"invert_sigmas": True}, "invert_sigmas=True"),
                      ({"stochastic_sampling": True}, "stochastic_sampling=True"),
                      ({"num_train_timesteps": 500}, "num_train_timesteps=500")]


@pytest.mark.parametrize("options,named", REFUSED_SCHEDULERS)
def test_scheduler_options_the_other_runtimes_cannot_reproduce_are_refused(pipe, options, named):
    with pytest.raises(ValueError, match=named):
        CatsPipeline(transformer=pipe.transformer, scheduler=FlowMatchEulerDiscreteScheduler(**options))


def test_karras_is_refused_at_load_and_at_call_and_other_classes_by_name(pipe, tmp_path):
    from diffusers import EulerDiscreteScheduler

    pipe.save_pretrained(tmp_path)
    config_path = tmp_path / "scheduler" / "scheduler_config.json"
    config = json.loads(config_path.read_text())
    config_path.write_text(json.dumps({**config, "use_karras_sigmas": True}))
    with pytest.raises(ValueError, match="cannot reproduce: use_karras_sigmas=True"):
        CatsPipeline.from_pretrained(tmp_path)
    swapped = random_micro()
    swapped.scheduler = FlowMatchEulerDiscreteScheduler(use_karras_sigmas=True)  # the diffusers idiom for swapping
    with pytest.raises(ValueError, match="use_karras_sigmas"):
        swapped("Bengal", num_inference_steps=2)
    with pytest.raises(ValueError, match="EulerDiscreteScheduler is not supported"):
        CatsPipeline(transformer=pipe.transformer, scheduler=EulerDiscreteScheduler())
    shifted = FlowMatchEulerDiscreteScheduler(shift=3.0)
    CatsPipeline(transformer=pipe.transformer, scheduler=shifted)  # any shift is reproduced
    shifted.set_shift(2.0)
    with pytest.raises(ValueError, match="set_shift"):
        CatsPipeline(transformer=pipe.transformer, scheduler=shifted)
