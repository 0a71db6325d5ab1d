"""The job bodies behind ``train_modal.py``, in plain Python: no modal import, runnable and testable anywhere.

``train_modal.py`` declares the infrastructure (image, Volumes, GPU, retries, secret) and calls
``prepare_data`` and ``run_job`` with the Volume mount points and callbacks that commit the runs
Volume. Everything here works on ordinary directories, so the tests use temporary ones.

Layout of one run inside the runs directory (the runs Volume on Modal)::

    <run>/job.json                 the request and the stages done (a retry skips those)
    <run>/generator/               RUN_DIR of `python -m cats.training generator`: checkpoints/, pipeline/, samples/
    <run>/classifier/              RUN_DIR of `python -m cats.training classifier`: checkpoints/, classifier/
    <run>/metrics/<task>.json      `python -m cats.evaluation <task>` on the test split
    <run>/onnx/                    `python export.py`: graphs + manifest.json + golden.json

Preemption: the trainer always runs with ``--resume`` (it starts fresh when there is no checkpoint),
and the supervising process, the one Modal runs and the only one that touches the Volume, watches
``<task>/checkpoints/`` and calls ``on_checkpoint`` after every new complete checkpoint, so a retry
resumes from the newest committed one. With several GPUs the trainer's ranks never commit.
"""

from cats.modal_jobs.commands import column_args, evaluate_command, export_command, launch_command, train_args
from cats.modal_jobs.hub import (
                                 HF_TOKEN_ENV,
                                 MissingTokenError,
                                 data_description,
                                 measured_metrics,
                                 model_card,
                                 push_to_hub,
)
from cats.modal_jobs.job import RunState, fetch_commands, image_size_for, prepare_data, read_state, run_job
from cats.modal_jobs.spec import (
                                 DATA_SOURCES,
                                 GPU_TYPES,
                                 MAX_GPUS,
                                 MODELS,
                                 JobError,
                                 JobSpec,
                                 gpu_spec,
                                 parse_train_args,
                                 validate,
)
from cats.modal_jobs.watch import complete_checkpoints, run_watched

__all__ = [
    "DATA_SOURCES", "GPU_TYPES", "HF_TOKEN_ENV", "MAX_GPUS", "MODELS", "JobError", "JobSpec", "MissingTokenError",
    "RunState", "column_args", "complete_checkpoints", "data_description", "evaluate_command", "export_command", "fetch_commands", "gpu_spec",
    "image_size_for", "launch_command", "measured_metrics", "model_card", "parse_train_args", "prepare_data",
    "push_to_hub", "read_state", "run_job", "run_watched", "train_args", "validate",
]
