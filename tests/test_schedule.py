"""cats.schedule (NumPy, used by ONNX/export/browser) must equal diffusers' FlowMatchEulerDiscreteScheduler."""

import numpy as np
import pytest
from diffusers import FlowMatchEulerDiscreteScheduler

from cats.schedule import flow_sigmas, transfer_sigmas


@pytest.mark.parametrize("shift", [1.0, 0.5, 2.0, 3.0])
@pytest.mark.parametrize("steps", [1, 2, 4, 8, 20, 50])
def test_flow_sigmas_equal_diffusers(steps, shift):
    scheduler = FlowMatchEulerDiscreteScheduler(shift=shift)
    scheduler.set_timesteps(steps)
    ours = flow_sigmas(steps, shift)
    assert ours.dtype == np.float32 and ours.shape == (steps + 1,)
    np.testing.assert_allclose(ours, scheduler.sigmas.numpy(), rtol=0, atol=1e-7)
    assert ours[0] == 1.0 and ours[-1] == 0.0
    assert np.all(np.diff(ours) < 0)  # strictly decreasing from noise to clean


def test_shift_moves_sigmas_towards_noise():
    assert np.all(flow_sigmas(8, 3.0)[1:-1] > flow_sigmas(8, 1.0)[1:-1])


@pytest.mark.parametrize("bad", [0, -1, 2.5])
def test_flow_sigmas_rejects_bad_steps(bad):
    with pytest.raises(ValueError, match="num_inference_steps"):
        flow_sigmas(bad)


def test_flow_sigmas_rejects_bad_shift():
    with pytest.raises(ValueError, match="shift"):
        flow_sigmas(4, 0.0)


def test_transfer_strength_zero_runs_no_step():
    np.testing.assert_array_equal(transfer_sigmas(20, 0.0), np.zeros(1, np.float32))


@pytest.mark.parametrize("shift", [1.0, 3.0])
def test_transfer_strength_one_is_the_full_schedule(shift):
    np.testing.assert_array_equal(transfer_sigmas(20, 1.0, shift), flow_sigmas(20, shift))


@pytest.mark.parametrize("steps,strength,run", [(20, 0.6, 12), (10, 0.35, 4), (5, 0.5, 2), (7, 0.5, 4), (4, 0.1, 0),
                                                (3, 0.99, 3), (20, 0.05, 1)])
def test_transfer_runs_the_last_steps(steps, strength, run):
    tail = transfer_sigmas(steps, strength)
    assert len(tail) == run + 1  # run steps need run + 1 sigmas; halves round to even (the TS mirror too)
    np.testing.assert_array_equal(tail, flow_sigmas(steps)[steps - run:])
    assert tail[-1] == 0.0


def test_transfer_starts_near_strength():
    # The first sigma of the tail is the grid point closest to the requested strength.
    assert abs(transfer_sigmas(20, 0.6)[0] - 0.6) < 1.0 / 20


@pytest.mark.parametrize("bad", [-0.1, 1.01])
def test_transfer_rejects_strength_outside_unit_interval(bad):
    with pytest.raises(ValueError, match="strength"):
        transfer_sigmas(20, bad)


# ---------------------------------------------------------------- check_scheduler: refuse what cannot be reproduced

def test_check_scheduler_returns_the_shift_and_ignores_the_dynamic_shifting_knobs():
    from cats.schedule import check_scheduler

    assert check_scheduler(FlowMatchEulerDiscreteScheduler()) == 1.0
    # base_shift & co are read only under use_dynamic_shifting: any value gives the same sigmas
    scheduler = FlowMatchEulerDiscreteScheduler(shift=3.0, base_shift=0.7, max_shift=2.0, time_shift_type="linear")
    assert check_scheduler(scheduler) == 3.0
    scheduler.set_timesteps(8)
    np.testing.assert_allclose(flow_sigmas(8, 3.0), scheduler.sigmas.numpy(), rtol=0, atol=1e-7)


def test_check_scheduler_names_every_refused_option_and_unknown_ones():
    from cats.schedule import check_scheduler

    scheduler = FlowMatchEulerDiscreteScheduler(use_karras_sigmas=True, shift_terminal=0.2)
    with pytest.raises(ValueError, match=r"shift_terminal=0.2 \(supported: None\); use_karras_sigmas=True \(supported: False\)"):
        check_scheduler(scheduler)
    scheduler = FlowMatchEulerDiscreteScheduler()
    scheduler.register_to_config(future_option=1)  # an option a later diffusers may add: not known, not trusted
    with pytest.raises(ValueError, match="future_option=1 .an option this version does not know"):
        check_scheduler(scheduler)


def test_export_refuses_a_karras_scheduler_before_writing_anything(tmp_path):
    from cats.export.exporter import check_export, export_pipeline
    from cats.pipeline import CatsPipeline

    pipe = CatsPipeline.from_preset("micro")
    pipe.scheduler = FlowMatchEulerDiscreteScheduler(use_karras_sigmas=True)  # swapped after construction
    with pytest.raises(ValueError, match="cannot reproduce: use_karras_sigmas=True"):
        export_pipeline(pipe, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "manifest.json").write_text(
        '{"format": "tiny-cats-onnx", "version": 1, "generator": {"defaults": {}, "scheduler": {"shift": 1.0}}}')
    with pytest.raises(ValueError, match="use_karras_sigmas"):
        check_export(pipe, tmp_path / "old")
