"""The training CLI's flags, logged loss, LR schedule, NaN guard and time budget (generator, micro preset)."""

from __future__ import annotations

import math

import pytest
import torch

from cats.breeds import NULL_ID
from cats.training import checkpoint as ckpt
from cats.training.cli import config_from_args
from cats.training.config import TrainConfig, resolve
from cats.training.generator_task import GeneratorTask
from cats.training.loop import NonFiniteLossError, Trainer
from cats.training.lr import WarmupCosine


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return tmp_path_factory.mktemp("data")


def _args(out, data_root, *extra: str) -> list[str]:
    return ["generator", "--preset", "micro", "--num-per-class", "2", "--data-root", str(data_root), "--out", str(out),
            "--steps", "4", "--warmup", "0", "--sample-every", "0", "--eval-every", "0", "--sample-steps", "2", *extra]


class _Recorder:
    """Records what the model is called with (forward pre-hook)."""

    def __init__(self, model: torch.nn.Module):
        self.calls: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        model.register_forward_pre_hook(lambda module, args: self.calls.append(tuple(a.detach() for a in args)))


def test_flags_reach_the_optimizer_batch_and_label_dropout(data_root, tmp_path):
    trainer = Trainer(config_from_args(_args(tmp_path / "a", data_root, "--lr", "0.0123", "--batch-size", "5",
                                             "--label-dropout", "1.0", "--grad-accum", "3", "--weight-decay", "0.07",
                                             "--ema-decay", "0", "--prediction-type", "v")))
    rec = _Recorder(trainer.unwrapped)
    out = trainer.train_step()
    assert out.lr == pytest.approx(0.0123) and trainer.optimizer.param_groups[0]["initial_lr"] == pytest.approx(0.0123)
    assert trainer.optimizer.param_groups[0]["weight_decay"] == pytest.approx(0.07)
    assert trainer.unwrapped.config.prediction_type == "v"
    assert len(rec.calls) == 3, "--grad-accum 3 must run three micro-batches per step"
    sample, timestep, weights = rec.calls[0]
    assert sample.shape == (5, 3, 32, 32) and weights.shape == (5, 13)
    assert bool((weights.argmax(1) == NULL_ID).all()), "--label-dropout 1.0 must send every label to the null slot"
    # --ema-decay 0: the shipped (EMA) weights are the live ones
    for a, b in zip(trainer.ema.model.parameters(), trainer.unwrapped.parameters()):
        assert torch.equal(a, b)

    trainer = Trainer(config_from_args(_args(tmp_path / "b", data_root, "--batch-size", "7", "--label-dropout", "0")))
    rec = _Recorder(trainer.unwrapped)
    trainer.train_step()
    sample, timestep, weights = rec.calls[0]
    assert sample.shape[0] == 7 and len(rec.calls) == 1
    assert not bool((weights.argmax(1) == NULL_ID).any()), "--label-dropout 0 must keep every breed label"
    assert float(timestep.max()) > 1.0, "the network gets 1000 * sigma, not sigma"
    assert trainer.unwrapped.config.prediction_type == "x"


def test_logged_loss_is_the_backpropagated_loss(data_root, tmp_path, monkeypatch):
    micro_losses: list[float] = []
    real = GeneratorTask.micro_batch_loss

    def recording(self, model, step, micro, generator):
        loss = real(self, model, step, micro, generator)
        micro_losses.append(float(loss.detach()))
        return loss

    monkeypatch.setattr(GeneratorTask, "micro_batch_loss", recording)
    out = tmp_path / "run"
    result = Trainer(config_from_args(_args(out, data_root, "--grad-accum", "2", "--log-every", "2", "--warmup", "2",
                                            "--checkpoint-every", "0"))).run()
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(out / "logs"))
    events.Reload()
    logged = {e.step: e.value for e in events.Scalars("train/loss")}
    per_step = [(micro_losses[2 * i] + micro_losses[2 * i + 1]) / 2 for i in range(4)]
    assert [r.loss for r in result.history] == pytest.approx(per_step, rel=1e-6)
    assert sorted(logged) == [2, 4]
    assert logged[2] == pytest.approx((per_step[0] + per_step[1]) / 2, rel=1e-5)
    assert logged[4] == pytest.approx((per_step[2] + per_step[3]) / 2, rel=1e-5)
    lrs = {e.step: e.value for e in events.Scalars("train/lr")}
    assert lrs[2] == pytest.approx(3e-4 * WarmupCosine(2, 4, 0.1)(1), rel=1e-5)
    # the run finished: a loadable pipeline with the EMA weights, and a sample grid with one row per breed
    from cats.pipeline import CatsPipeline

    pipe = CatsPipeline.from_pretrained(str(out / "pipeline"))
    ema = torch.load(out / "checkpoints" / "step_00000004" / "state.pt", weights_only=True)["ema"]["weights"]
    for name, tensor in pipe.transformer.state_dict().items():
        assert torch.equal(tensor, ema[name]), f"exported {name} is not the EMA weight"
    from PIL import Image

    grid = Image.open(out / "samples" / "step_00000004.png")
    assert grid.height == 12 * (32 + 2) + 2


def test_lr_schedule_warmup_cosine_floor():
    s = WarmupCosine(warmup=10, horizon=110, min_ratio=0.1)
    assert [s(i) for i in range(3)] == pytest.approx([0.1, 0.2, 0.3])
    assert s(9) == pytest.approx(1.0) and s(10) == pytest.approx(1.0)
    assert s(60) == pytest.approx(0.55)
    assert s(110) == pytest.approx(0.1) and s(500) == pytest.approx(0.1)
    values = [s(i) for i in range(10, 111)]
    assert all(a >= b for a, b in zip(values, values[1:]))
    assert WarmupCosine(0, None, 0.1)(1000) == 1.0  # --minutes before its horizon is measured


def test_nan_loss_stops_naming_the_step_and_keeps_the_last_good_checkpoint(data_root, tmp_path, monkeypatch):
    real = GeneratorTask.micro_batch_loss

    def poisoned(self, model, step, micro, generator):
        loss = real(self, model, step, micro, generator)
        return loss * float("nan") if step == 2 else loss

    monkeypatch.setattr(GeneratorTask, "micro_batch_loss", poisoned)
    out = tmp_path / "run"
    trainer = Trainer(config_from_args(_args(out, data_root, "--checkpoint-every", "1", "--keep", "1")))
    with pytest.raises(NonFiniteLossError, match=r"loss is nan at step 3.*step_00000002"):
        trainer.run()
    assert [p.name for p in ckpt.list_checkpoints(out)] == ["step_00000002"]  # --keep 1 pruned step 1
    path, state = ckpt.load_latest(out)
    assert state["step"] == 2
    assert all(torch.isfinite(t).all() for t in state["model"].values())


def test_minutes_budget_stops_cleanly_and_writes_everything(data_root, tmp_path):
    out = tmp_path / "run"
    args = _args(out, data_root, "--minutes", "0.0001")
    args[args.index("--steps"):args.index("--steps") + 2] = []
    result = Trainer(config_from_args(args)).run()
    assert result.stopped_by_time and result.step <= 2
    assert (out / "checkpoints" / f"step_{result.step:08d}" / "complete.json").is_file()
    assert (out / "pipeline" / "model_index.json").is_file()
    assert (out / "config.json").is_file()


def test_config_file_fields_and_flag_priority(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("lr: 0.002\nbatch-size: 16\nlabel_dropout: 0.25\n")
    cfg = resolve(config_from_args(["generator", "--config", str(path), "--batch-size", "12", "--preset", "micro"]))
    assert (cfg.lr, cfg.batch_size, cfg.label_dropout, cfg.preset) == (0.002, 12, 0.25, "micro")
    from cats.training.config import default_mixed_precision

    assert cfg.steps == 20_000 and cfg.mixed_precision == default_mixed_precision("generator")  # hardware-dependent
    path.write_text("learning_rate: 0.1\n")
    with pytest.raises(ValueError, match="unknown fields.*learning_rate"):
        config_from_args(["generator", "--config", str(path)])
    with pytest.raises(SystemExit):
        config_from_args(["generator", "--preset", "huge"])  # argparse choices
    with pytest.raises(ValueError, match="--data must be synthcats, oxford, folder:PATH or hf:OWNER/NAME"):
        resolve(TrainConfig(data="imagenet"))
    with pytest.raises(ValueError, match="--ema-decay must be in"):
        resolve(TrainConfig(ema_decay=1.5))
    assert math.isclose(resolve(config_from_args(["classifier", "--preset", "tiny"])).lr, 1e-3)


def test_throughput_benchmark_quick_runs_both_loops():
    from cats.benchmarks.train_throughput import run

    result = run(quick=True)
    assert result["images_per_s"]["micro@1t"] > 0
    figures = result["cli_vs_bare"]["micro@1t"]
    assert figures["cli_s"] > 0 and figures["bare_s"] > 0
    assert figures["ratio"] == pytest.approx(figures["cli_s"] / figures["bare_s"])


def test_compile_and_beta2_flags_reach_the_trainer(data_root, tmp_path, monkeypatch):
    """--compile routes the training step through torch.compile (the EMA and sampling keep the module);
    --adam-beta2 reaches AdamW."""
    compiled, calls = [], []

    def fake_compile(module):  # compiling for real costs a minute of CPU; the wiring is what is tested here
        compiled.append(module)
        return lambda *args: (calls.append(1), module(*args))[1]

    monkeypatch.setattr(torch, "compile", fake_compile)
    trainer = Trainer(config_from_args(_args(tmp_path / "c", data_root, "--compile", "--adam-beta2", "0.95")))
    assert compiled == [trainer.model]
    trainer.train_step()
    assert calls, "the training step must run through the compiled model"
    assert trainer.optimizer.param_groups[0]["betas"] == (0.9, 0.95)
    plain = Trainer(config_from_args(_args(tmp_path / "p", data_root)))
    assert len(compiled) == 1 and plain.train_forward is plain.model
    assert plain.optimizer.param_groups[0]["betas"] == (0.9, 0.999)
    with pytest.raises(ValueError, match="--adam-beta2 must be in \\(0, 1\\)"):
        resolve(config_from_args(_args(tmp_path / "x", data_root, "--adam-beta2", "1.0")))


def test_dispersive_loss_is_zero_for_a_collapsed_batch_and_lowest_when_spread():
    from cats.training.generator_task import dispersive_loss

    same = torch.ones(6, 4, 8)
    assert float(dispersive_loss(same)) == pytest.approx(0.0, abs=1e-6), "identical representations: log(1) = 0"
    far = torch.eye(6).repeat_interleave(8, dim=1).reshape(6, 4, 12) * 100.0
    assert float(dispersive_loss(far)) == pytest.approx(math.log(1 / 6), abs=1e-4), "only the diagonal is left"
    z = torch.randn(6, 16, requires_grad=True)
    dispersive_loss(z).backward()
    step = z.detach() - 0.1 * z.grad
    assert torch.cdist(step, step).mean() > torch.cdist(z.detach(), z.detach()).mean(), "a descent step spreads them"


def test_dispersive_weight_adds_the_loss_on_the_chosen_block(data_root, tmp_path):
    plain = Trainer(config_from_args(_args(tmp_path / "p", data_root, "--ema-decay", "0")))
    base = plain.train_step().loss
    disp = Trainer(config_from_args(_args(tmp_path / "d", data_root, "--ema-decay", "0", "--dispersive-weight", "0.5")))
    loss = disp.train_step().loss
    hidden = disp.task.hidden.value
    assert hidden.ndim == 3 and hidden.shape[1:] == (16, 64), "micro: the (B, 16 tokens, width 64) output of block 0"
    from cats.training.generator_task import dispersive_loss

    assert loss == pytest.approx(base + 0.5 * float(dispersive_loss(hidden.detach())), rel=1e-4, abs=1e-5), \
        "same seed, same batch: the logged loss is the flow loss plus the weighted dispersive term"
    assert loss < base
    with pytest.raises(ValueError, match="--dispersive-block 9 is not a block"):
        Trainer(config_from_args(_args(tmp_path / "x", data_root, "--dispersive-weight", "0.5", "--dispersive-block", "9")))


def test_init_from_starts_model_and_ema_from_a_saved_pipeline(data_root, tmp_path):
    first = Trainer(config_from_args(_args(tmp_path / "first", data_root)))
    first.run()
    saved = first.ema.model.state_dict()
    cont = Trainer(config_from_args(_args(tmp_path / "cont", data_root, "--init-from", str(tmp_path / "first" / "pipeline"))))
    assert cont.step == 0 and not cont.optimizer.state, "a fresh optimizer"
    for name, value in cont.unwrapped.state_dict().items():
        torch.testing.assert_close(value, saved[name].float(), atol=1e-3, rtol=1e-3)  # saved pipelines are fp16
    for a, b in zip(cont.ema.model.state_dict().values(), cont.unwrapped.state_dict().values()):
        assert torch.equal(a, b)
    assert cont.ema.current_decay() == cont.config.ema_decay, "the continued average keeps its full decay"
    with pytest.raises(ValueError, match="holds a different model than preset 'tiny'"):
        Trainer(config_from_args(["generator", "--preset", "tiny", "--num-per-class", "2", "--data-root", str(data_root),
                                  "--out", str(tmp_path / "bad"), "--init-from", str(tmp_path / "first" / "pipeline")]))
