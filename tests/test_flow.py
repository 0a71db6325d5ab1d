"""cats.flow: the flow-matching convention (which end is noise, what v is, how t is scaled, CFG)."""

import pytest
import torch
from diffusers import FlowMatchEulerDiscreteScheduler

from cats import flow
from cats.breeds import NULL_ID, NUM_SLOTS


class RecordingStub(torch.nn.Module):
    """A network whose output depends on the sample, the timestep and the weights; records every call."""

    def __init__(self):
        super().__init__()
        self.calls = []
        self.codes = torch.linspace(-1.0, 2.0, NUM_SLOTS)  # one distinct value per slot

    def forward(self, sample, timestep, class_weights):
        self.calls.append((sample.clone(), timestep.clone(), class_weights.clone()))
        cond = (class_weights @ self.codes)[:, None, None, None]  # (B, 1, 1, 1)
        return 0.5 * sample + cond + 1e-3 * timestep[:, None, None, None]


def _batch(b=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, 3, 8, 8, generator=g) * 2 - 1, torch.randn(b, 3, 8, 8, generator=g)


def test_interpolation_endpoints_and_velocity():
    x0, noise = _batch()
    assert torch.equal(flow.interpolate(x0, noise, torch.zeros(3)), x0)  # sigma 0 is the clean image
    assert torch.equal(flow.interpolate(x0, noise, torch.ones(3)), noise)  # sigma 1 is pure noise
    sigma = torch.tensor([0.2, 0.5, 0.9])
    x = flow.interpolate(x0, noise, sigma)
    v = flow.velocity_target(x0, noise)
    torch.testing.assert_close(v, noise - x0)
    # dx/dsigma = v: moving along v by -sigma lands on x0
    torch.testing.assert_close(flow.velocity_to_x0(x, v, sigma), x0)
    torch.testing.assert_close(flow.x0_to_velocity(x, x0, sigma), v)


def test_x0_to_velocity_clamps_small_sigma():
    x0, noise = _batch()
    sigma = torch.tensor([0.0, 1e-4, flow.SIGMA_MIN])
    x = flow.interpolate(x0, noise, sigma)
    v = flow.x0_to_velocity(x, torch.zeros_like(x0), sigma)
    assert torch.isfinite(v).all()
    torch.testing.assert_close(v, x / flow.SIGMA_MIN)  # divided by the clamp, never by ~0


def test_model_velocity_feeds_1000_sigma_and_converts_x_prediction():
    stub = RecordingStub()
    x, _ = _batch()
    sigma = torch.tensor([0.1, 0.5, 1.0])
    w = flow.labels_to_weights(torch.tensor([0, 5, 11]))
    v_pred = flow.model_velocity(stub, x, sigma, w, "v")
    torch.testing.assert_close(stub.calls[-1][1], sigma * 1000.0)  # timestep is 1000 * sigma, not sigma
    x_pred = flow.model_velocity(stub, x, sigma, w, "x")
    torch.testing.assert_close(x_pred, flow.x0_to_velocity(x, v_pred, sigma))  # same output read as x0
    with pytest.raises(ValueError, match="prediction_type"):
        flow.model_velocity(stub, x, sigma, w, "eps")


@pytest.mark.parametrize("prediction_type", ["v", "x"])
@pytest.mark.parametrize("g", [0.0, 1.0, 3.0, 7.5])
def test_guided_velocity_is_one_batched_pass_with_the_cfg_formula(prediction_type, g):
    stub = RecordingStub()
    x, _ = _batch()
    sigma = torch.tensor([0.3, 0.6, 0.9])
    w = torch.tensor([[0.5, 0.5] + [0.0] * 11, [0.0] * 3 + [1.0] + [0.0] * 9, flow.null_weights(1)[0].tolist()])
    v, x0 = flow.guided_velocity(stub, x, sigma, w, g, prediction_type)
    assert len(stub.calls) == 1 and stub.calls[0][0].shape[0] == 6  # ONE forward of batch 2B
    sent_w = stub.calls[0][2]
    torch.testing.assert_close(sent_w[:3], w)
    torch.testing.assert_close(sent_w[3:], flow.null_weights(3))  # second half is the null slot
    v_cond = flow.model_velocity(stub, x, sigma, w, prediction_type)
    v_null = flow.model_velocity(stub, x, sigma, flow.null_weights(3), prediction_type)
    # applied exactly once: g, not g**2 (they differ for g = 3 and 7.5)
    torch.testing.assert_close(v, v_null + g * (v_cond - v_null))
    torch.testing.assert_close(x0, x - sigma[:, None, None, None] * v)


def test_guidance_one_equals_conditional_branch():
    stub = RecordingStub()
    x, _ = _batch()
    sigma = torch.full((3,), 0.4)
    w = flow.labels_to_weights(torch.tensor([1, 2, 3]))
    v, _ = flow.guided_velocity(stub, x, sigma, w, 1.0, "v")
    torch.testing.assert_close(v, flow.model_velocity(stub, x, sigma, w, "v"))


@pytest.mark.parametrize("shift", [1.0, 3.0])
def test_euler_step_equals_scheduler_step(shift):
    scheduler = FlowMatchEulerDiscreteScheduler(shift=shift)
    scheduler.set_timesteps(6)
    x, v = _batch()
    for i, t in enumerate(scheduler.timesteps):
        s, s_next = scheduler.sigmas[i].expand(3), scheduler.sigmas[i + 1].expand(3)
        ours = flow.euler_step(x, v, s, s_next)
        theirs = scheduler.step(v, t, x).prev_sample
        torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-6)
        x = ours


def test_euler_integrates_a_straight_path_exactly():
    # For the true velocity of one pair (x0, noise) the path is a straight line: Euler is exact.
    x0, noise = _batch()
    scheduler = FlowMatchEulerDiscreteScheduler(shift=3.0)
    scheduler.set_timesteps(7)
    x = noise
    for s, s_next in zip(scheduler.sigmas[:-1], scheduler.sigmas[1:]):
        x = flow.euler_step(x, flow.velocity_target(x0, noise), s.expand(3), s_next.expand(3))
        torch.testing.assert_close(x, flow.interpolate(x0, noise, s_next.expand(3)))
    torch.testing.assert_close(x, x0)


def test_labels_to_weights_one_hot_and_rejects_out_of_range():
    w = flow.labels_to_weights(torch.tensor([0, 11, NULL_ID]))
    assert w.shape == (3, NUM_SLOTS) and torch.equal(w.argmax(1), torch.tensor([0, 11, NULL_ID]))
    assert torch.equal(w.sum(1), torch.ones(3))
    torch.testing.assert_close(flow.null_weights(1), w[2:])
    for bad in (-1, NUM_SLOTS):  # -1 must not be read as the last row
        with pytest.raises(ValueError, match="labels"):
            flow.labels_to_weights(torch.tensor([0, bad]))


def test_drop_labels():
    w = flow.labels_to_weights(torch.arange(12).repeat(50))  # (600, 13)
    assert torch.equal(flow.drop_labels(w, 0.0), w)
    assert torch.equal(flow.drop_labels(w, 1.0), flow.null_weights(600))
    dropped = flow.drop_labels(w, 0.25, torch.Generator().manual_seed(0))
    is_null = (dropped == flow.null_weights(600)).all(1)
    kept = (dropped == w).all(1)
    assert torch.all(is_null | kept)  # each row is either untouched or exactly the null one-hot
    assert 0.18 < is_null.float().mean() < 0.32
    with pytest.raises(ValueError, match="dropout"):
        flow.drop_labels(w, 1.5)


def test_logit_normal_sigmas():
    s = flow.sample_sigmas(20000, mean=0.5, std=1.0, generator=torch.Generator().manual_seed(0))
    assert s.shape == (20000,) and bool((s > 0).all() and (s < 1).all())
    logit = torch.log(s / (1 - s))
    assert abs(float(logit.mean()) - 0.5) < 0.05 and abs(float(logit.std()) - 1.0) < 0.05


@pytest.mark.parametrize("prediction_type", ["v", "x"])
def test_loss_is_the_velocity_mse_from_the_generator(prediction_type):
    stub = RecordingStub()
    x0, _ = _batch(4)
    w = flow.labels_to_weights(torch.tensor([0, 1, 2, 3]))
    loss = flow.flow_matching_loss(stub, x0, w, prediction_type, generator=torch.Generator().manual_seed(3),
                                   label_dropout=0.0)
    # Replay the same draws by hand: noise, then sigmas, then the dropout draw.
    g = torch.Generator().manual_seed(3)
    noise = torch.randn(x0.shape, generator=g)
    sigma = flow.sample_sigmas(4, generator=g)
    x = flow.interpolate(x0, noise, sigma)
    torch.testing.assert_close(stub.calls[-1][0], x)
    v_hat = flow.model_velocity(stub, x, sigma, w, prediction_type)
    torch.testing.assert_close(loss, ((v_hat - (noise - x0)) ** 2).mean())
