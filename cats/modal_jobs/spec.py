"""What a user asks for: ``JobSpec``, its validation, and Modal's GPU string."""

from __future__ import annotations

import dataclasses
import re
import shlex
from dataclasses import dataclass

MODELS = ("generator", "classifier", "both")
DATA_SOURCES = ("oxford", "synthcats", "hf:OWNER/NAME[:CONFIG][@REVISION]")
GPU_TYPES = ("A10G", "L40S", "A100", "H100")
MAX_GPUS = 8  # GPUs of one type in one Modal container
HUB_NAME = re.compile(r"hf:[\w.\-]+/[\w.\-]+(:[\w.\-]+)?(@[\w.\-/]+)?")

# Fields that change what a run trains: re-using a run name with other values is refused.
RUN_IDENTITY = ("model", "data", "preset", "classifier_preset", "steps", "classifier_steps", "batch_size",
                "image_size", "gpus", "train_args", "image_column", "label_column")


class JobError(RuntimeError):
    """A stage of the job failed; the message names the stage and the command to re-run by hand."""


@dataclass(frozen=True)
class JobSpec:
    """One training request as the local entrypoint received it (checked by ``validate``)."""

    run_name: str
    model: str = "both"  # generator | classifier | both
    data: str = "oxford"  # oxford | synthcats | hf:OWNER/NAME[:CONFIG][@REVISION] (a Hugging Face Hub dataset)
    preset: str | None = None  # generator preset (None: the trainer's default)
    classifier_preset: str | None = None
    steps: int | None = None  # generator optimizer steps (None: the trainer's default); also the LR horizon
    classifier_steps: int | None = None
    batch_size: int | None = None  # per GPU (accelerate's convention): the global batch is gpus * batch_size
    image_size: int | None = None  # None: each preset's own
    gpus: int = 1
    checkpoint_every: int = 500
    train_args: tuple[str, ...] = ()  # extra `cats.training` flags for every task, e.g. ("--lr", "1e-4")
    evaluate: bool = True
    export: bool = True
    image_column: str | None = None  # hf: data only: the columns to read (None: found by their features)
    label_column: str | None = None

    @property
    def from_hub(self) -> bool:
        """True when the data may come from the Hugging Face Hub (an hf: source, or Oxford's mirror fallback)."""
        return self.data.startswith("hf:") or self.data == "oxford"

    @property
    def tasks(self) -> tuple[str, ...]:
        return ("generator", "classifier") if self.model == "both" else (self.model,)

    def preset_for(self, task: str) -> str | None:
        return self.preset if task == "generator" else self.classifier_preset

    def steps_for(self, task: str) -> int | None:
        return self.steps if task == "generator" else self.classifier_steps

    def to_dict(self) -> dict:
        values = dataclasses.asdict(self)
        values["train_args"] = list(self.train_args)
        return values

    @classmethod
    def from_dict(cls, values: dict) -> JobSpec:
        return cls(**{**values, "train_args": tuple(values.get("train_args", ()))})


def validate(spec: JobSpec) -> JobSpec:
    """Check the choices a user typed; raises ValueError naming the bad value and the accepted ones."""
    if spec.model not in MODELS:
        raise ValueError(f"--model {spec.model!r} is not one of {', '.join(MODELS)}")
    if spec.data.startswith("hf:"):
        # a Hub name (a local directory does not exist in Modal's containers), checked before any container starts
        if not HUB_NAME.fullmatch(spec.data):
            raise ValueError(f"--data {spec.data!r} is not a Hub dataset name: expected hf:OWNER/NAME[:CONFIG][@REVISION], "
                             "e.g. hf:timm/oxford-iiit-pet")
    elif spec.data not in DATA_SOURCES:
        raise ValueError(f"--data {spec.data!r} is not one of {', '.join(DATA_SOURCES)}")
    if (spec.image_column or spec.label_column) and not spec.data.startswith("hf:"):
        raise ValueError(f"--image-column / --label-column name columns of a Hub dataset (--data hf:...), "
                         f"not of --data {spec.data!r}")
    if not 1 <= spec.gpus <= MAX_GPUS:
        raise ValueError(f"--gpus must be between 1 and {MAX_GPUS}, got {spec.gpus}")
    for name in ("steps", "classifier_steps", "batch_size", "image_size", "checkpoint_every"):
        value = getattr(spec, name)
        if value is not None and value <= 0:
            raise ValueError(f"--{name.replace('_', '-')} must be a positive integer, got {value}")
    if spec.model == "generator" and spec.evaluate:
        raise ValueError("--model generator: the generator's evaluation measures the breed accuracy of its samples "
                         "with a classifier, which this run would not train; use --model both, or --no-eval")
    if not spec.run_name or "/" in spec.run_name or spec.run_name.startswith("."):
        raise ValueError(f"--run-name {spec.run_name!r} must be a plain directory name (no '/', not hidden)")
    return spec


def parse_train_args(text: str | None) -> tuple[str, ...]:
    """``--train-args "--lr 1e-4 --ema-decay 0.9999"`` -> ("--lr", "1e-4", ...), with shell quoting rules."""
    return tuple(shlex.split(text or ""))


def gpu_spec(gpu: str, count: int = 1) -> str:
    """Modal's GPU string: "A100" for one, "H100:2" for two H100s in one container."""
    if gpu not in GPU_TYPES:
        raise ValueError(f"--gpu {gpu!r} is not one of {', '.join(GPU_TYPES)}")
    if not 1 <= count <= MAX_GPUS:
        raise ValueError(f"--gpus must be between 1 and {MAX_GPUS}, got {count}")
    return gpu if count == 1 else f"{gpu}:{count}"
