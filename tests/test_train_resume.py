"""Exact resume after a real SIGKILL, fallback past a corrupted checkpoint, refusal of a mismatched model."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from cats.training import checkpoint as ckpt
from cats.training.cli import config_from_args, main
from cats.training.loop import Trainer

pytestmark = pytest.mark.slow

STEPS, EVERY = 4, 2
REPO = Path(__file__).resolve().parents[1]


def _args(out: Path, data_root: Path, *extra: str) -> list[str]:
    return ["generator", "--preset", "micro", "--data", "synthcats", "--num-per-class", "2", "--data-root",
            str(data_root), "--out", str(out), "--steps", str(STEPS), "--checkpoint-every", str(EVERY),
            "--batch-size", "8", "--grad-accum", "2", "--warmup", "1", "--lr", "1e-3", "--log-every", "1",
            "--sample-every", "0", "--sample-steps", "2", "--eval-every", "0", "--threads", "1", *extra]


def _state(run: Path, step: int) -> dict:
    return torch.load(run / "checkpoints" / f"step_{step:08d}" / "state.pt", map_location="cpu", weights_only=True)


def _assert_same_tensors(a, b, where: str) -> None:
    """Recursively torch.equal every tensor (and == every plain value) of two state trees."""
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), f"{where} differs"
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), f"{where} keys differ"
        for key in a:
            _assert_same_tensors(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"{where} lengths differ"
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same_tensors(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def straight(tmp_path_factory, data_root):
    """A run trained STEPS steps in one go (checkpoints at 2 and 4), in full precision."""
    out = tmp_path_factory.mktemp("straight")
    result = main(_args(out, data_root, "--mixed-precision", "no"))
    assert result.step == STEPS
    return out, result


@pytest.fixture(scope="module")
def straight_bf16(tmp_path_factory, data_root):
    """The same run under bf16 autocast (the CPU default where bf16 is native)."""
    out = tmp_path_factory.mktemp("straight-bf16")
    result = main(_args(out, data_root, "--mixed-precision", "bf16"))
    assert result.step == STEPS
    return out, result


# The killed run: the real CLI in a subprocess that hangs inside step 3 (after the step-2 checkpoint),
# so the SIGKILL lands mid-training with in-memory state past the checkpoint.
HANG_THEN_RUN = """
import sys, time
from cats.training.generator_task import GeneratorTask
real = GeneratorTask.micro_batch_loss
def hanging(self, model, step, micro, generator):
    loss = real(self, model, step, micro, generator)
    if step == 2 and micro == 1:
        time.sleep(600)
    return loss
GeneratorTask.micro_batch_loss = hanging
from cats.training.cli import main
main(sys.argv[1:])
"""


@pytest.mark.parametrize("precision", ["no", "bf16"])
def test_sigkill_then_resume_equals_straight_run(precision, straight, straight_bf16, data_root, tmp_path):
    straight_dir, straight_result = straight if precision == "no" else straight_bf16
    out = tmp_path / "killed"
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    args = _args(out, data_root, "--mixed-precision", precision)
    proc = subprocess.Popen([sys.executable, "-c", HANG_THEN_RUN, *args], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    marker = out / "checkpoints" / f"step_{EVERY:08d}" / "complete.json"
    try:
        deadline = time.monotonic() + 240
        while not marker.exists():
            assert proc.poll() is None, f"training subprocess died early: {proc.stderr.read().decode()[-2000:]}"
            assert time.monotonic() < deadline, "no checkpoint appeared in time"
            time.sleep(0.05)
        time.sleep(0.5)  # let it enter step 3
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert [p.name for p in ckpt.list_checkpoints(out)] == [f"step_{EVERY:08d}"]

    resumed = main([*args, "--resume"])
    assert [r.step for r in resumed.history] == [3, 4], "resume must continue at step 3, not redo or skip a step"
    # same LR and the same loss at each resumed step (horizon not reset, same data and noise)
    assert [(r.lr, r.loss) for r in resumed.history] == [(r.lr, r.loss) for r in straight_result.history[EVERY:]]
    a, b = _state(straight_dir, STEPS), _state(out, STEPS)
    assert b["config"]["mixed_precision"] == precision
    for part in ("model", "ema", "optimizer", "lr_scheduler", "horizon", "step"):
        _assert_same_tensors(a[part], b[part], part)
    # master weights, optimizer state and EMA stay float32 under bf16 autocast
    assert all(v.dtype == torch.float32 for v in b["model"].values() if v.is_floating_point())
    assert all(v.dtype == torch.float32 for v in b["ema"]["weights"].values() if v.is_floating_point())


def test_bf16_changes_the_arithmetic(straight, straight_bf16):
    """--mixed-precision reaches autocast: the bf16 run's losses differ from the fp32 run's."""
    fp32 = [r.loss for r in straight[1].history]
    bf16 = [r.loss for r in straight_bf16[1].history]
    assert fp32 != bf16 and all(abs(a - b) < 0.1 * abs(a) for a, b in zip(fp32, bf16))


def test_default_precision_is_bf16_only_where_native(monkeypatch):
    from cats.training import config as cfg

    monkeypatch.setattr(cfg, "cpu_has_fast_bf16", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert cfg.default_mixed_precision("generator") == "bf16"
    assert cfg.default_mixed_precision("classifier") == "no"
    monkeypatch.setattr(cfg, "cpu_has_fast_bf16", lambda: False)
    assert cfg.default_mixed_precision("generator") == "no"


def test_corrupted_newest_checkpoint_falls_back_to_previous(straight, data_root, tmp_path, caplog):
    out = tmp_path / "run"
    shutil.copytree(straight[0], out)
    newest = out / "checkpoints" / f"step_{STEPS:08d}" / "state.pt"
    data = bytearray(newest.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte: still the right size, wrong hash
    newest.write_bytes(bytes(data))
    half = out / "checkpoints" / "step_00000006"  # a crash mid-write: files but no marker
    half.mkdir()
    (half / "state.pt").write_bytes(b"partial")
    with caplog.at_level(logging.WARNING, logger="cats.train"):
        trainer = Trainer(config_from_args(_args(out, data_root, "--resume")))
    assert trainer.step == EVERY
    text = caplog.text
    assert "step_00000006" in text and "no completion marker" in text
    assert f"step_{STEPS:08d}" in text and "sha256" in text
    # the fallback state is the real step-2 state
    _assert_same_tensors(trainer.unwrapped.state_dict(), _state(straight[0], EVERY)["model"], "model")


def test_mismatched_preset_is_refused_naming_both(straight, data_root, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(straight[0], out)
    args = _args(out, data_root, "--resume")
    args[args.index("micro")] = "tiny"
    with pytest.raises(ckpt.CheckpointMismatchError, match=r"preset: checkpoint 'micro' vs requested 'tiny'"):
        Trainer(config_from_args(args))
    with pytest.raises(ckpt.CheckpointMismatchError, match=r"prediction_type: checkpoint 'x' vs requested 'v'"):
        Trainer(config_from_args(_args(out, data_root, "--resume", "--prediction-type", "v")))


def test_resume_with_nothing_to_resume_starts_fresh_and_says_so(data_root, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="cats.train"):
        trainer = Trainer(config_from_args(_args(tmp_path / "empty", data_root, "--resume")))
    assert trainer.step == 0
    assert "no complete checkpoint" in caplog.text


def test_existing_checkpoints_without_resume_are_not_overwritten(straight, data_root):
    with pytest.raises(FileExistsError, match="--resume"):
        Trainer(config_from_args(_args(straight[0], data_root)))
