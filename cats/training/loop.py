"""The training loop shared by the generator and the classifier, in labelled steps.

setup -> data -> model -> optimizer -> resume -> loop (step, log, eval, sample, checkpoint) -> finish.
The task (``generator_task.GeneratorTask`` / ``classifier_task.ClassifierTask``) supplies the data,
the model, the per-micro-batch loss, validation, samples and the final artefacts; everything else
(accelerate, AdamW, LR schedule, EMA, checkpoints, logs, time budget, NaN guard) lives here.

One "step" is one optimizer step of ``grad_accum`` micro-batches of ``batch_size`` images per
process. Checkpoints and logs are indexed by the number of completed steps.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState
from accelerate.utils import broadcast, set_seed

from cats.training import checkpoint as ckpt
from cats.training import provenance
from cats.training.batches import step_generator
from cats.training.config import TrainConfig, resolve
from cats.training.ema import EMA
from cats.training.logs import RunLogger
from cats.training.lr import HORIZON_PROBE_STEPS, estimate_horizon, make_lr_scheduler

log = logging.getLogger("cats.train")


class NonFiniteLossError(RuntimeError):
    """The loss or the gradient norm became NaN/inf; the run stopped before saving it."""


class Task(Protocol):
    """What a model type plugs into the loop (see generator_task.py and classifier_task.py)."""

    config: TrainConfig  # the run's config, completed with preset-dependent values (image size, ...)
    images_per_micro_batch: int

    def build_model(self) -> torch.nn.Module: ...
    def micro_batch_loss(self, model: torch.nn.Module, step: int, micro: int, generator: torch.Generator) -> torch.Tensor: ...
    def validate(self, model: torch.nn.Module) -> dict[str, float]: ...
    def sample(self, model: torch.nn.Module) -> torch.Tensor | None: ...  # (3, H, W) uint8 grid or None
    def finish(self, model: torch.nn.Module, run_dir: Path, val_metrics: dict[str, float]) -> dict: ...


@dataclass
class StepResult:
    step: int  # completed optimizer steps after this one
    loss: float  # the loss back-propagated in this step (mean over its micro-batches, and processes)
    lr: float  # the learning rate this step used
    grad_norm: float


@dataclass
class RunResult:
    step: int
    history: list[StepResult] = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    stopped_by_time: bool = False


def make_task(config: TrainConfig, accelerator: Accelerator) -> Task:
    if config.task == "generator":
        from cats.training.generator_task import GeneratorTask  # imported here: each task loads only its own modules

        return GeneratorTask(config, accelerator)
    if config.task == "fewstep":
        from cats.training.fewstep_task import FewStepTask  # imported here: as GeneratorTask

        return FewStepTask(config, accelerator)
    if config.task == "autoencoder":
        from cats.training.autoencoder_task import AutoencoderTask  # imported here: as GeneratorTask

        return AutoencoderTask(config, accelerator)
    from cats.training.classifier_task import ClassifierTask  # imported here: torchvision, for this task only

    return ClassifierTask(config, accelerator)


def _param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Decay matrices and convolution kernels; leave biases, norms and 1-D parameters alone."""
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim < 2]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


class Trainer:
    """Builds everything from a config; ``run()`` trains to the end, ``train_step()`` does one step."""

    def __init__(self, config: TrainConfig, on_checkpoint: Callable[[Path], None] | None = None):
        # setup
        cfg = resolve(config)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        if int(os.environ.get("WORLD_SIZE", "1")) == 1:
            # accelerate keeps one process-wide state and refuses a second Accelerator with another
            # precision; a second Trainer in one process (tests, a notebook) starts from a clean one.
            AcceleratorState._reset_state(reset_partial_state=True)
        self.accelerator = Accelerator(mixed_precision=cfg.mixed_precision, gradient_accumulation_steps=cfg.grad_accum)
        self.run_dir = Path(cfg.out)
        self.on_checkpoint = on_checkpoint
        set_seed(cfg.seed)
        # data + model (the task loads its splits onto the device and completes the config)
        self.task = make_task(cfg, self.accelerator)
        self.config = cfg = self.task.config
        model = self.task.build_model()
        # a run that continues another (--init-from) keeps the full decay from its first step: its
        # starting weights are already an average worth keeping
        self.ema = EMA(model, cfg.ema_decay, ramp=not cfg.init_from)
        # optimizer
        optimizer = torch.optim.AdamW(_param_groups(model, cfg.weight_decay), lr=cfg.lr, betas=(0.9, cfg.adam_beta2))
        self.lr_scheduler, self.schedule = make_lr_scheduler(optimizer, cfg.warmup, cfg.steps, cfg.min_lr_ratio)
        # the scheduler is stepped by us once per optimizer step (accelerate's wrapper would step it per process)
        self.model, self.optimizer = self.accelerator.prepare(model, optimizer)
        # --compile: the training forward/backward runs through torch.compile; the weights, the EMA,
        # validation and sampling keep using the module itself (shared parameters, nothing to sync).
        self.train_forward = torch.compile(self.model) if cfg.compile else self.model
        self.step = 0
        self.last_checkpoint: Path | None = None
        self._val_cache: tuple[int, dict] = (-1, {})
        self._sampled_at = -1
        # resume
        self._resume()
        self.logger = RunLogger(self.run_dir, enabled=self.accelerator.is_main_process)
        if self.accelerator.is_main_process:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            cfg.save_json(self.run_dir / "config.json")

    @property
    def unwrapped(self) -> torch.nn.Module:
        return self.accelerator.unwrap_model(self.model)

    # ------------------------------------------------------------------------------------------- resume
    def _resume(self) -> None:
        existing = ckpt.list_checkpoints(self.run_dir)
        if not self.config.resume:
            if existing:
                raise FileExistsError(f"{self.run_dir} already holds checkpoints ({existing[-1].name} is the newest): "
                                      "pass --resume to continue that run, or choose another --out")
            return
        found = ckpt.load_latest(self.run_dir)
        if found is None:
            log.warning("--resume: no complete checkpoint in %s; starting a new run at step 0",
                        ckpt.checkpoint_dir(self.run_dir))
            return
        path, state = found
        ckpt.check_compatible(state["config"], self.config.model_signature(), path)
        self._warn_changed_settings(state["config"])
        self.unwrapped.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.lr_scheduler.load_state_dict(state["lr_scheduler"])  # restores the schedule's horizon too
        self.ema.load_state_dict(state["ema"])
        ckpt.restore_rng_states(state["rng"])
        self.step = int(state["step"])
        self.schedule.horizon = state["horizon"] if state["horizon"] is not None else self.config.steps
        self.last_checkpoint = path
        log.info("resumed from %s at step %d (LR horizon %s)", path, self.step, self.schedule.horizon)

    def _warn_changed_settings(self, saved: dict) -> None:
        ignore = {"resume", "out", "steps", "minutes", "checkpoint_every", "keep", "sample_every", "eval_every",
                  "log_every", "threads", "compile", "attach_to", "download", "data_root"}
        now = self.config.to_dict()
        changed = {k: (saved.get(k), v) for k, v in now.items() if k not in ignore and saved.get(k) != v}
        if changed:
            log.warning("resuming with changed settings %s; the checkpoint's optimizer and LR schedule are kept",
                        ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in changed.items()))
        if saved.get("steps") is not None and self.config.steps != saved.get("steps"):
            log.warning("--steps %s differs from the checkpoint's %s: training runs to %s steps but the LR "
                        "schedule keeps its horizon (the LR stays at its floor past it)",
                        self.config.steps, saved["steps"], self.config.steps)

    # ---------------------------------------------------------------------------------------- one step
    def train_step(self) -> StepResult:
        """One optimizer step: grad_accum micro-batches, clip, AdamW, LR schedule, EMA."""
        cfg, acc = self.config, self.accelerator
        step = self.step
        lr = self.lr_scheduler.get_last_lr()[0]
        self.model.train()
        losses = []
        grad_norm = torch.tensor(float("nan"))
        for micro in range(cfg.grad_accum):
            generator = step_generator(cfg.seed, step, micro, acc.process_index)
            with acc.accumulate(self.model):
                loss = self.task.micro_batch_loss(self.train_forward, step, micro, generator)
                self._check_finite(loss.detach(), step, "loss")
                acc.backward(loss)  # accelerate divides by grad_accum: the gradient of the mean loss
                if acc.sync_gradients:
                    grad_norm = acc.clip_grad_norm_(self.model.parameters(), cfg.clip if cfg.clip > 0 else math.inf)
                    if cfg.mixed_precision != "fp16":  # fp16's grad scaler skips inf steps by itself
                        self._check_finite(grad_norm.detach(), step, "gradient norm")
                self.optimizer.step()
                self.optimizer.zero_grad(set_to_none=True)
            losses.append(loss.detach().float())
        self.lr_scheduler.step()
        self.ema.update(self.unwrapped)
        self.step += 1
        mean_loss = torch.stack(losses).mean()
        if acc.num_processes > 1:
            mean_loss = acc.reduce(mean_loss, reduction="mean")
        return StepResult(self.step, float(mean_loss), float(lr), float(grad_norm))

    def _check_finite(self, value: torch.Tensor, step: int, what: str) -> None:
        bad = (~torch.isfinite(value)).float().reshape(1)
        if self.accelerator.num_processes > 1:
            bad = self.accelerator.reduce(bad, reduction="sum")
        if bad.item() > 0:
            last = self.last_checkpoint or "none (no checkpoint was written yet)"
            raise NonFiniteLossError(
                f"the {what} is {float(value)} at step {step + 1}: stopping. The last good checkpoint is {last}; "
                "lower --lr (or raise --warmup) and continue with --resume")

    # --------------------------------------------------------------------------------------------- loop
    def run(self) -> RunResult:
        cfg, acc = self.config, self.accelerator
        result = RunResult(step=self.step)
        started = time.monotonic()
        deadline = None if cfg.minutes is None else started + 60.0 * cfg.minutes
        probe_start: tuple[int, float] | None = None
        window: list[StepResult] = []
        window_start = time.monotonic()
        images_per_step = self.task.images_per_micro_batch * cfg.grad_accum * acc.num_processes
        bar = self.logger.progress(initial=self.step, total=cfg.steps)
        while cfg.steps is None or self.step < cfg.steps:
            if self._time_is_up(deadline):
                result.stopped_by_time = True
                log.info("time budget of %s minutes spent at step %d: finishing", cfg.minutes, self.step)
                break
            out = self.train_step()
            result.history.append(out)
            window.append(out)
            # an LR horizon for --minutes without --steps: measure speed after a couple of warm-up steps
            if self.schedule.horizon is None and deadline is not None:
                if probe_start is None and len(result.history) == 2:
                    probe_start = (self.step, time.monotonic())
                elif probe_start and self.step - probe_start[0] >= HORIZON_PROBE_STEPS:
                    per_step = (time.monotonic() - probe_start[1]) / (self.step - probe_start[0])
                    self.schedule.horizon = estimate_horizon(self.step, per_step, deadline - time.monotonic())
                    log.info("LR horizon set to %d steps from the measured %.3f s/step", self.schedule.horizon, per_step)
            if self.step % cfg.log_every == 0:
                elapsed = time.monotonic() - window_start
                self.logger.train_scalars(self.step, window, images_per_step * len(window) / max(elapsed, 1e-9))
                window, window_start = [], time.monotonic()
            bar.update(1, out.loss, out.lr)
            if cfg.eval_every and self.step % cfg.eval_every == 0:
                self.validate()
            if cfg.sample_every and self.step % cfg.sample_every == 0:
                self.sample()
            if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0:
                self.save_checkpoint()
        bar.close()
        result.step = self.step
        result.metrics = self.finish()
        return result

    def _time_is_up(self, deadline: float | None) -> bool:
        if deadline is None:
            return False
        up = torch.tensor([1.0 if time.monotonic() >= deadline else 0.0], device=self.accelerator.device)
        if self.accelerator.num_processes > 1:
            up = broadcast(up, from_process=0)  # every process stops at the same step
        return bool(up.item())

    # ------------------------------------------------------------------------------ validation, samples
    def validate(self) -> dict[str, float]:
        """The task's validation metrics of the EMA weights at this step (computed once per step)."""
        if self._val_cache[0] != self.step:
            metrics = self.task.validate(self.ema.model)
            self.logger.val_scalars(self.step, metrics)
            self._val_cache = (self.step, metrics)
        return dict(self._val_cache[1])

    def sample(self) -> None:
        self.logger.sample_grid(self.step, self.task.sample(self.ema.model))
        self._sampled_at = self.step

    # --------------------------------------------------------------------------------------- checkpoint
    def checkpoint_state(self) -> dict:
        return {
            "config": self.config.to_dict(),
            "horizon": self.schedule.horizon,
            "model": self.unwrapped.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "lr_scheduler": self.lr_scheduler.state_dict(),
            "ema": self.ema.state_dict(),
            "rng": ckpt.rng_states(),
        }

    def save_checkpoint(self) -> Path:
        acc = self.accelerator
        acc.wait_for_everyone()
        path = ckpt.checkpoint_dir(self.run_dir) / f"{ckpt.PREFIX}{self.step:08d}"
        if acc.is_main_process:
            path = ckpt.save_checkpoint(self.run_dir, self.step, self.checkpoint_state(), self.config.keep)
            log.info("saved checkpoint %s", path)
            if self.on_checkpoint is not None:
                self.on_checkpoint(path)
        acc.wait_for_everyone()
        self.last_checkpoint = path
        return path

    # ------------------------------------------------------------------------------------------- finish
    def finish(self) -> dict:
        """Final checkpoint, validation and sample grid, then the task's artefacts (pipeline / classifier)."""
        acc = self.accelerator
        if self.last_checkpoint is None or self.last_checkpoint.name != f"{ckpt.PREFIX}{self.step:08d}":
            self.save_checkpoint()
        metrics = self.validate()
        if self._sampled_at != self.step:
            self.sample()
        if acc.is_main_process:
            metrics = {**metrics, **self.task.finish(self.ema.model, self.run_dir, metrics)}
            provenance.record(self.run_dir, {name: getattr(getattr(self.task, name, None), "provenance", None)
                                             for name in ("train", "val")})
            log.info("finished at step %d: %s", self.step,
                     ", ".join(f"{k} {v:.4g}" for k, v in metrics.items() if isinstance(v, float)))
        acc.wait_for_everyone()
        self.logger.close()
        return metrics
