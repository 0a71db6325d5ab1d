"""Publishing a finished run: a model card made only of measured facts, and the upload to the Hugging Face Hub."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from cats.modal_jobs.job import read_state
from cats.modal_jobs.spec import JobError, JobSpec

HF_TOKEN_ENV = "HF_TOKEN"  # the key inside the Modal secret "huggingface"
DATA_DESCRIPTIONS = {
    "oxford": "Oxford-IIIT Pet: the 12 cat breeds (the classifier also sees the dogs, as \"other\")",
    "synthcats": "SynthCats: procedural drawings of cats, not photos",
}


def data_description(data: str) -> str:
    """The model card's line for ``--data`` (a Hub dataset is named with a link to its page)."""
    if data in DATA_DESCRIPTIONS:
        return DATA_DESCRIPTIONS[data]
    name = data[len("hf:"):]
    return (f"the Hugging Face dataset [{name}](https://huggingface.co/datasets/{name.split(':')[0].split('@')[0]}), "
            "its labels mapped to the 12 cat breeds (non-cats as \"other\" for the classifier)")


class MissingTokenError(RuntimeError):
    """No Hugging Face token: the Modal secret is missing or has no HF_TOKEN."""


def measured_metrics(run_dir: Path) -> dict[str, dict[str, float]]:
    """Every number each evaluation wrote into ``metrics/<task>.json``, by task, nested keys joined by dots.

    Lists (confusion matrices, sweeps), strings, booleans and nulls are left out; nothing is added.
    """
    found = {}
    for path in sorted((Path(run_dir) / "metrics").glob("*.json")):
        numbers = dict(_numeric_leaves(json.loads(path.read_text())))
        if numbers:
            found[path.stem] = numbers
    return found


def _numeric_leaves(values: dict, prefix: str = ""):
    for key, value in values.items():
        if isinstance(value, dict):
            yield from _numeric_leaves(value, f"{prefix}{key}.")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            yield f"{prefix}{key}", value


def model_card(run_dir: Path, repo_id: str) -> str:
    """README.md for the Hub: the data, each model's preset and steps, and the measured metrics.

    Every figure is read from the run itself (job.json and the evaluation files); nothing is
    estimated or copied from elsewhere, and a figure that was not measured does not appear.
    """
    state = read_state(run_dir)
    spec, stages = JobSpec.from_dict(state["spec"]), state["stages"]
    lines = ["---", "library_name: diffusers", "tags:", "- tiny-cats", "- flow-matching", "- image-generation",
             "- image-classification", "---", "", f"# {repo_id}", "",
             "Trained with tiny-cats on Modal (`modal run train_modal.py`): a class-conditional pixel-space DiT "
             "trained with flow matching that draws a chosen cat breed, and a breed classifier (12 breeds + "
             "\"other\"), as this run's settings below say.", "", "## Training", "",
             f"- Data: {data_description(spec.data)}"]
    for task in spec.tasks:
        stage = stages.get(f"train:{task}")
        if stage is not None:
            lines.append(f"- {task}: preset `{spec.preset_for(task) or 'default'}`, "
                         f"{stage['final_step']} optimizer steps")
    lines += ["", "## Evaluation (test split)", ""]
    metrics = measured_metrics(run_dir)
    for task, values in metrics.items():
        lines += [f"### {task}", "", "| metric | value |", "| --- | --- |"]
        lines += [f"| {name} | {value:.4g} |" if isinstance(value, float) else f"| {name} | {value} |"
                  for name, value in values.items()]
        lines.append("")
    if not metrics:
        lines += ["No evaluation was recorded for this run.", ""]
    if (Path(run_dir) / "onnx" / "manifest.json").is_file():
        lines += ["## Files", "", "- the pipeline directory (`CatsPipeline.from_pretrained`) at the repository root",
                  "- `onnx/`: the ONNX graphs and `manifest.json`, which records each precision variant's measured "
                  "error", ""]
    return "\n".join(lines)


def push_to_hub(run_dir: Path, repo_id: str, token: str | None = None, api=None) -> str:
    """Upload a finished run's model directory, ONNX export, metrics and model card to ``repo_id``.

    Refuses a run whose training or evaluation has not finished, so an untrained or unmeasured
    model is never published. ``token`` defaults to $HF_TOKEN (from the Modal secret "huggingface");
    ``api`` is a ``huggingface_hub.HfApi`` (tests pass a stand-in). Returns the repository URL.
    """
    token = token or os.environ.get(HF_TOKEN_ENV)
    if not token:
        raise MissingTokenError(
            f"cannot push to {repo_id!r}: no Hugging Face token ({HF_TOKEN_ENV} is not set). Create a write token "
            f"at https://huggingface.co/settings/tokens and store it as a Modal secret with "
            f"`modal secret create huggingface {HF_TOKEN_ENV}=hf_...`")
    run_dir = Path(run_dir)
    state = read_state(run_dir)
    spec = JobSpec.from_dict(state["spec"])
    unfinished = [f"{kind}:{task}" for task in spec.tasks for kind in ("train", "evaluate")
                  if f"{kind}:{task}" not in state["stages"]]
    if unfinished:
        raise JobError(f"refusing to publish run {spec.run_name!r}: {', '.join(unfinished)} not finished "
                       f"(evaluation is required: the model card reports measured figures only)")
    if api is None:
        # imported here: only publishing needs it; `modal run` launches with modal alone
        from huggingface_hub import HfApi

        api = HfApi(token=token)
    model_dir = run_dir / "generator" / "pipeline" if "generator" in spec.tasks else run_dir / "classifier" / "classifier"
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp)
        shutil.copytree(model_dir, staged, dirs_exist_ok=True)
        for extra in ("onnx", "metrics"):
            if (run_dir / extra).is_dir():
                shutil.copytree(run_dir / extra, staged / extra)
        (staged / "README.md").write_text(model_card(run_dir, repo_id))
        url = api.create_repo(repo_id, exist_ok=True)
        api.upload_folder(repo_id=repo_id, folder_path=str(staged), commit_message=f"tiny-cats run {spec.run_name}")
    return str(url)
