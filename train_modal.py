"""GPU training on Modal: ``modal run train_modal.py [--model both] [--data oxford] [--gpu A100] ...``.

Infrastructure only: the image, the two Volumes, the GPU, retries, the Hugging Face secret and the
command line. The work itself (data, training with resume, evaluation, export, model card, upload)
is plain Python in ``cats.modal_jobs``, which calls ``cats.training``, ``cats.evaluation`` and ``export.py``.

    modal setup                                                   # once: log in
    modal run train_modal.py --model both --data oxford --gpu A100
    modal run train_modal.py --model both --data hf:timm/oxford-iiit-pet --gpu A100   # Oxford from the Hub
    modal run --detach train_modal.py ...                         # keeps training after you disconnect
    mkdir -p <run> && modal volume get tiny-cats-runs <run>/onnx <run>   # fetch results (printed at the end)

Preemption: Modal may stop any GPU container. The runs Volume is committed after every checkpoint,
and a retry (or the same command with the same ``--run-name``) resumes from the newest one.
"""

from __future__ import annotations

import time
from pathlib import Path

import modal

from cats import modal_jobs as jobs
from cats.paths import EXPORT_SCRIPT, ROOT

APP_NAME = "tiny-cats"
DATA_VOLUME, DATA_DIR = "tiny-cats-data", "/data"  # Oxford-IIIT Pet archives, Hub downloads, preprocessed caches
RUNS_VOLUME, RUNS_DIR = "tiny-cats-runs", "/runs"  # one directory per run (layout: cats/modal_jobs/__init__.py)
HF_SECRET = "huggingface"  # `modal secret create huggingface HF_TOKEN=hf_...`: --push-to-hub, private/gated datasets
REQUIREMENTS = ROOT / "requirements.txt"  # torch from PyPI is the CUDA build on Linux
PYTHON_SOURCES = ("cats",)  # the whole package, so no file list can go stale
LOCAL_FILES = {EXPORT_SCRIPT: "/root/export.py"}  # beside /root/cats, where cats.paths.EXPORT_SCRIPT points there
TRAIN_TIMEOUT = 24 * 60 * 60  # Modal's maximum per attempt; every retry gets a fresh one
# A `.remote()` call expires after 24 hours, and a training that is preempted and retried can run longer: the
# entrypoint spawns it and waits on the call instead (`.spawn(...).get()`), as Modal's long-training example does.
DATA_TIMEOUT = 2 * 60 * 60
RETRIES = modal.Retries(max_retries=6, backoff_coefficient=2.0, initial_delay=10.0, max_delay=60.0)
DATA_RETRIES = modal.Retries(max_retries=2, initial_delay=5.0)  # a dropped download is tried again
DEFAULT_GPU = "A10G"

image = (
    modal.Image.debian_slim(python_version="3.11")
    .pip_install_from_requirements(str(REQUIREMENTS))
    .env({"PYTHONUNBUFFERED": "1", "HF_HUB_DISABLE_TELEMETRY": "1", "OMP_NUM_THREADS": "8"})
)
for local, remote in LOCAL_FILES.items():
    image = image.add_local_file(local, remote)
image = image.add_local_python_source(*PYTHON_SOURCES)

app = modal.App(APP_NAME, image=image)
data_volume = modal.Volume.from_name(DATA_VOLUME, create_if_missing=True)
runs_volume = modal.Volume.from_name(RUNS_VOLUME, create_if_missing=True)


@app.function(volumes={DATA_DIR: data_volume}, timeout=DATA_TIMEOUT, retries=DATA_RETRIES, cpu=8, memory=16384)
def prepare_data(spec: dict) -> dict:
    """Download the dataset once (Oxford-IIIT Pet or a Hub dataset) and build the caches every task reads; CPU only."""
    counts = jobs.prepare_data(jobs.JobSpec.from_dict(spec), Path(DATA_DIR))
    data_volume.commit()
    return counts


# single_use_containers=True (modal 1.6's name for max_inputs=1): each attempt, retries included, starts in a
# fresh container, never in one a failed attempt left behind (GPU memory, half-written files).
@app.function(gpu=DEFAULT_GPU, volumes={DATA_DIR: data_volume, RUNS_DIR: runs_volume},
              timeout=TRAIN_TIMEOUT, retries=RETRIES, single_use_containers=True, cpu=8, memory=32768)
def train(spec: dict, push_to_hub: str = "") -> dict:
    """Train (resuming), evaluate and export; the GPU type and the HF secret are set per call (with_options)."""
    job = jobs.JobSpec.from_dict(spec)
    summary = jobs.run_job(job, Path(RUNS_DIR), Path(DATA_DIR),
                           on_checkpoint=lambda task, step: runs_volume.commit(), persist=runs_volume.commit)
    data_volume.commit()  # any cache the trainer built itself
    if push_to_hub:
        summary["hub"] = jobs.push_to_hub(Path(RUNS_DIR) / job.run_name, push_to_hub)
    return summary


def hf_secret(required: bool = True) -> modal.Secret | None:
    """The secret holding HF_TOKEN, looked up before any GPU time is spent.

    Publishing needs it (a clear exit when it is missing); reading a Hub dataset only uses it when it
    exists (``required=False``), since public datasets need no token.
    """
    secret = modal.Secret.from_name(HF_SECRET, required_keys=[jobs.HF_TOKEN_ENV])
    try:
        secret.hydrate()
    except (modal.exception.NotFoundError, modal.exception.InvalidError) as exc:
        if not required:
            print(f"no Modal secret {HF_SECRET!r}: reading the Hub without a token, which public datasets allow; "
                  f"for a private or gated one run `modal secret create {HF_SECRET} {jobs.HF_TOKEN_ENV}=hf_...`")
            return None
        raise SystemExit(
            f"--push-to-hub needs the Modal secret {HF_SECRET!r} holding {jobs.HF_TOKEN_ENV}: create a write token at "
            f"https://huggingface.co/settings/tokens, then run `modal secret create {HF_SECRET} "
            f"{jobs.HF_TOKEN_ENV}=hf_...` ({exc})") from exc
    return secret


def default_run_data(data: str) -> str:
    """The data part of a default run name: 'hf:timm/oxford-iiit-pet' -> 'oxford-iiit-pet' (a plain directory name)."""
    return data[len("hf:"):].split("@")[0].split(":")[0].split("/")[-1] if data.startswith("hf:") else data


def train_on(gpu: str, gpus: int, secrets: list[modal.Secret] | None = None) -> modal.Function:
    """``train`` on ``gpus`` GPUs of type ``gpu`` (with the HF secret when publishing)."""
    options = {"gpu": jobs.gpu_spec(gpu, gpus)}
    if secrets:
        options["secrets"] = secrets
    return train.with_options(**options)


@app.local_entrypoint()
def main(model: str = "both", data: str = "oxford", preset: str | None = None,
         classifier_preset: str | None = None, steps: int | None = None, classifier_steps: int | None = None,
         batch_size: int | None = None, image_size: int | None = None, gpu: str = DEFAULT_GPU, gpus: int = 1,
         run_name: str | None = None, checkpoint_every: int = 500, train_args: str = "",
         push_to_hub: str | None = None, no_eval: bool = False, image_column: str | None = None,
         label_column: str | None = None):
    """Train tiny-cats on Modal: --model generator|classifier|both, --data oxford|synthcats|hf:OWNER/NAME, --gpu A10G|L40S|A100|H100."""
    spec = jobs.validate(jobs.JobSpec(
        run_name=run_name or f"{model}-{default_run_data(data)}-{time.strftime('%Y%m%d-%H%M%S')}", model=model,
        data=data, preset=preset, classifier_preset=classifier_preset, steps=steps, classifier_steps=classifier_steps,
        batch_size=batch_size, image_size=image_size, gpus=gpus, checkpoint_every=checkpoint_every,
        train_args=jobs.parse_train_args(train_args), evaluate=not no_eval, image_column=image_column,
        label_column=label_column))
    if push_to_hub and no_eval:
        raise SystemExit("--push-to-hub publishes measured metrics only: drop --no-eval")
    secret = hf_secret(required=bool(push_to_hub)) if push_to_hub or spec.from_hub else None
    secrets = [secret] if secret is not None else None
    train_fn = train_on(gpu, gpus, secrets)  # the trainer re-opens a Hub dataset (from the Volume's cache)
    data_fn = prepare_data.with_options(secrets=secrets) if secrets else prepare_data
    print(f"run {spec.run_name!r}: {' + '.join(spec.tasks)} on {data}, {jobs.gpu_spec(gpu, gpus)}")

    counts = data_fn.remote(spec.to_dict())
    print("data ready: " + ", ".join(f"{name}: {n} images" for name, n in counts.items()))
    summary = train_fn.spawn(spec.to_dict(), push_to_hub or "").get()  # not .remote(): see TRAIN_TIMEOUT

    for task in spec.tasks:
        print(f"{task}: finished at step {summary[task]['final_step']} "
              f"(this call resumed from step {summary[task]['resumed_from']})")
    if "hub" in summary:
        print(f"published: {summary['hub']}")
    print("fetch the results:")
    for line in jobs.fetch_commands(RUNS_VOLUME, summary):
        print("  " + line)
