"""The command lines the job runs: ``cats.training`` (plain or under ``accelerate launch``), ``cats.evaluation``, ``export.py``."""

from __future__ import annotations

import sys
from pathlib import Path

from cats.modal_jobs.spec import JobSpec
from cats.paths import EXPORT_SCRIPT


def train_args(task: str, spec: JobSpec, run_dir: Path, data_root: Path | None,
               attach_to: Path | None = None) -> list[str]:
    """The ``cats.training`` arguments (what follows ``-m cats.training``) for one task of ``spec``.

    ``--resume`` is always there: it continues from the newest complete checkpoint in
    ``run_dir/task`` and starts at step 0 when there is none, so a retry needs no other flag.
    """
    args = [task, "--data", spec.data, "--out", str(Path(run_dir) / task), "--resume",
            "--checkpoint-every", str(spec.checkpoint_every)]
    optional = {"--preset": spec.preset_for(task), "--steps": spec.steps_for(task), "--batch-size": spec.batch_size,
                "--image-size": spec.image_size, "--data-root": data_root, "--attach-to": attach_to}
    for flag, value in optional.items():
        if value is not None:
            args += [flag, str(value)]
    if spec.data == "oxford":
        args.append("--download")  # a no-op once the data step has verified the archives
    return args + column_args(spec) + list(spec.train_args)


def column_args(spec: JobSpec) -> list[str]:
    """``--image-column`` / ``--label-column`` of an hf: dataset, for the trainer and the evaluator alike."""
    args = []
    for flag, value in (("--image-column", spec.image_column), ("--label-column", spec.label_column)):
        if value:
            args += [flag, value]
    return args


def launch_command(module_args: list[str], gpus: int, python: str = sys.executable) -> list[str]:
    """``python -m cats.training ARGS`` on one GPU, ``accelerate launch --multi_gpu ... -m cats.training ARGS`` on several.

    The trainer is the same program either way (accelerate configures it from the launcher's
    environment); bf16 is supported by every GPU in ``GPU_TYPES``.
    """
    if gpus < 1:
        raise ValueError(f"gpus must be >= 1, got {gpus}")
    if gpus == 1:
        return [python, "-m", "cats.training", *module_args]
    return [python, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(gpus),
            "--num_machines", "1", "--mixed_precision", "bf16", "--dynamo_backend", "no",
            "-m", "cats.training", *module_args]


def evaluate_command(task: str, model_dir: Path, spec: JobSpec, data_root: Path | None, out: Path,
                     python: str = sys.executable) -> list[str]:
    """``python -m cats.evaluation TASK`` on the test split, writing its JSON metrics to ``out``."""
    cmd = [python, "-m", "cats.evaluation", task, "--model", str(model_dir), "--data", spec.data,
           "--split", "test", "--out", str(out), *column_args(spec)]
    if spec.data == "oxford":
        cmd.append("--download")  # a no-op beside verified archives; reaches the Hub mirror if the data step used it
    return cmd + (["--data-root", str(data_root)] if data_root is not None else [])


def export_command(pipeline_dir: Path, out_dir: Path, python: str = sys.executable,
                   script: Path = EXPORT_SCRIPT) -> list[str]:
    """``python export.py --model PIPELINE_DIR --out OUT_DIR`` (ONNX graphs, manifest, golden fixtures)."""
    return [python, str(script), "--model", str(pipeline_dir), "--out", str(out_dir)]
