"""The job itself: the data step, then train -> evaluate -> export, each stage recorded so a retry skips it."""

from __future__ import annotations

import json
import os
import shlex
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from cats.modal_jobs.commands import evaluate_command, export_command, launch_command, train_args
from cats.modal_jobs.spec import RUN_IDENTITY, JobError, JobSpec, validate
from cats.modal_jobs.watch import complete_checkpoints, run_logged, run_watched
from cats.training.cli import config_from_args
from cats.training.config import resolve

SPLITS = ("train", "val", "test")


class RunState:
    """``<run>/job.json``: the spec the run was started with and the stages done, rewritten atomically."""

    def __init__(self, runs_root: Path, spec: JobSpec):
        self.dir = Path(runs_root) / spec.run_name
        self.path = self.dir / "job.json"
        self.spec = spec
        if self.path.is_file():
            saved = json.loads(self.path.read_text())
            self._check_same_run(saved["spec"])
            self.stages: dict[str, dict] = saved.get("stages", {})
        else:
            self.dir.mkdir(parents=True, exist_ok=True)
            self.stages = {}
            self._write()

    def _check_same_run(self, saved: dict) -> None:
        requested = self.spec.to_dict()
        diffs = [f"{k}: the run has {saved.get(k)!r}, requested {requested[k]!r}"
                 for k in RUN_IDENTITY if saved.get(k) != requested[k]]
        if diffs:
            raise ValueError(f"run {self.spec.run_name!r} already exists with other settings ({'; '.join(diffs)}). "
                             f"Repeat its settings to resume it, or pick a new --run-name.")

    def done(self, stage: str) -> bool:
        return stage in self.stages

    def mark(self, stage: str, **info) -> dict:
        self.stages[stage] = {"finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **info}
        self._write()
        return self.stages[stage]

    def _write(self) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps({"spec": self.spec.to_dict(), "stages": self.stages}, indent=2) + "\n")
        os.replace(tmp, self.path)


def read_state(run_dir: Path) -> dict:
    """The parsed ``job.json`` of a run directory."""
    path = Path(run_dir) / "job.json"
    if not path.is_file():
        raise FileNotFoundError(f"no tiny-cats run at {run_dir}: {path.name} is missing")
    return json.loads(path.read_text())


# ---------------------------------------------------------------- data step


def train_config(task: str, spec: JobSpec, data_root: Path | None):
    """The resolved ``TrainConfig`` that ``cats.training`` will build from the same arguments (its own parser)."""
    argv = train_args(task, spec, Path("unused"), data_root)
    try:
        return resolve(config_from_args(argv))
    except SystemExit as exc:  # argparse has printed what is wrong (e.g. an unknown --preset)
        raise ValueError(f"cats.training rejects these arguments: {shlex.join(argv)}") from exc


def image_size_for(config) -> int:
    """The resolution the trainer trains ``config`` at: the generator preset's, the classifier preset's or --image-size."""
    if config.task == "generator":
        # imported here: Modal side only: `modal run` launches from a laptop without torch
        from cats.models.dit import get_preset

        preset = get_preset(config.preset)
        if config.vae or preset.get("in_channels", 3) != 3:
            raise ValueError(f"preset {config.preset!r} / --vae: a latent generator is not launched on Modal yet; "
                             "train it with python -m cats.training generator --vae DIR (docs/latent.md)")
        return preset["sample_size"]
    # imported here: Modal side only: `modal run` launches from a laptop without torch
    from cats.models.classifier import PRESETS

    if config.preset not in PRESETS:
        raise ValueError(f"unknown classifier preset {config.preset!r}: choose one of {', '.join(PRESETS)}")
    return config.image_size or PRESETS[config.preset]["image_size"]


def prepare_data(spec: JobSpec, data_root: Path) -> dict[str, int]:
    """Download Oxford-IIIT Pet if needed and build the cache of every split each task of ``spec`` reads.

    Goes through the trainer's own argument parsing and split loader, so the caches are exactly the
    ones training opens. Idempotent: the data layer skips verified archives and existing caches.
    Also validates the presets before any GPU starts. Returns the image count per task/split.
    """
    # imported here: Modal side only: `modal run` launches from a laptop without torch
    from cats.training.batches import load_split

    validate(spec)
    counts = {}
    for task in spec.tasks:
        config = train_config(task, spec, data_root)
        config = replace(config, image_size=image_size_for(config))
        for split in SPLITS:
            loaded = load_split(config, split, include_other=task == "classifier", device="cpu")
            counts[f"{task}/{split} ({config.image_size} px)"] = len(loaded.labels)
    return counts


# ---------------------------------------------------------------- the job


def run_job(spec: JobSpec, runs_root: Path, data_root: Path | None,
            on_checkpoint: Callable[[str, int], None], persist: Callable[[], None] = lambda: None,
            poll_seconds: float = 10.0) -> dict:
    """Train, evaluate and export every task of ``spec``; safe to call again after any interruption.

    ``on_checkpoint(task, step)`` runs after each new complete checkpoint and ``persist()`` after
    each finished stage (on Modal both commit the runs Volume). Stages recorded in job.json are
    skipped; an unfinished training stage resumes from its newest complete checkpoint.
    Returns a summary: per task ``resumed_from``, ``final_step``, ``committed_steps``; the run dir.
    """
    validate(spec)
    state = RunState(runs_root, spec)
    summary: dict = {"run": spec.run_name, "run_dir": str(state.dir)}
    for task in spec.tasks:
        summary[task] = _train_stage(task, spec, state, data_root, on_checkpoint, poll_seconds)
        persist()
    if spec.evaluate:
        for task in spec.tasks:
            _evaluate_stage(task, spec, state, data_root)
            persist()
    if spec.export and "generator" in spec.tasks:
        if not state.done("export"):
            run_logged(export_command(state.dir / "generator" / "pipeline", state.dir / "onnx"), "export")
            state.mark("export")
            persist()
        summary["onnx"] = str(state.dir / "onnx")
    elif spec.export:
        print("[tiny-cats] no ONNX export: export.py exports a generator pipeline (with its classifier); "
              "train --model both for one", flush=True)
    summary["stages"] = dict(state.stages)
    return summary


def _train_stage(task: str, spec: JobSpec, state: RunState, data_root: Path | None,
                 on_checkpoint: Callable[[str, int], None], poll_seconds: float) -> dict:
    stage = f"train:{task}"
    if state.done(stage):
        return {**state.stages[stage], "skipped": True}
    task_dir = state.dir / task
    before = complete_checkpoints(task_dir)
    resumed_from = before[-1] if before else 0
    print(f"[tiny-cats] {task}: " + (f"resuming from the checkpoint at step {resumed_from}" if before
                                      else "no checkpoint yet, starting at step 0"), flush=True)
    attach_to = state.dir / "generator" / "pipeline" if task == "classifier" and "generator" in spec.tasks else None
    cmd = launch_command(train_args(task, spec, state.dir, data_root, attach_to), spec.gpus)
    print(f"[tiny-cats] {shlex.join(cmd)}", flush=True)
    committed = run_watched(cmd, task_dir, lambda step: on_checkpoint(task, step), poll_seconds)
    after = complete_checkpoints(task_dir)
    if not after:
        raise JobError(f"{task}: the trainer exited without a checkpoint in {task_dir / 'checkpoints'}")
    return state.mark(stage, resumed_from=resumed_from, final_step=after[-1], committed_steps=committed)


def _evaluate_stage(task: str, spec: JobSpec, state: RunState, data_root: Path | None) -> None:
    stage = f"evaluate:{task}"
    if state.done(stage):
        return
    model_dir = state.dir / task / ("pipeline" if task == "generator" else "classifier")
    out = state.dir / "metrics" / f"{task}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    run_logged(evaluate_command(task, model_dir, spec, data_root, out), f"evaluate {task}")
    if not out.is_file():
        raise JobError(f"evaluate {task} exited cleanly but wrote no {out}")
    state.mark(stage, metrics=str(out.relative_to(state.dir)))


def fetch_commands(volume: str, summary: dict) -> list[str]:
    """Shell lines that copy a finished run's results (not its checkpoints) into ./<run>/ on your machine.

    ``modal volume get VOL DIR DEST`` writes DIR's last component under DEST, which must exist.
    """
    run, stages = summary["run"], summary.get("stages", {})
    paths = [f"{run}/generator/pipeline"] if "generator" in summary else []
    paths += [f"{run}/classifier/classifier"] if "classifier" in summary else []
    paths += [f"{run}/onnx"] if "onnx" in summary else []
    paths += [f"{run}/metrics"] if any(name.startswith("evaluate:") for name in stages) else []
    parents = sorted({str(Path(path).parent) for path in paths})
    return [f"mkdir -p {' '.join(parents)}"] + [f"modal volume get {volume} {path} {Path(path).parent}"
                                                for path in paths]
