"""The training configuration: one typed dataclass, saved in RUN_DIR/config.json and in every checkpoint.

Values come from (lowest to highest priority) the dataclass defaults, the task's defaults
(``TASK_DEFAULTS``), a ``--config`` file (YAML or JSON with the same field names), and the
command-line flags. ``None`` in a field means "use the task default"; ``resolve`` fills them.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

TASKS = ("generator", "classifier", "fewstep", "autoencoder")
MIXED_PRECISION = ("no", "bf16", "fp16")

# Fields that define the model: a checkpoint whose values differ cannot be resumed into this run.
MODEL_FIELDS = ("task", "preset", "image_size", "prediction_type")

# Per-task defaults for the fields left as None in TrainConfig.
TASK_DEFAULTS: dict[str, dict] = {
    "generator": dict(steps=20_000, batch_size=64, lr=3e-4, warmup=500, weight_decay=0.0, ema_decay=0.999,
                      label_dropout=0.1, prediction_type=None, sample_every=1000, eval_every=500, adam_beta2=0.999),
    "classifier": dict(steps=3_000, batch_size=64, lr=1e-3, warmup=100, weight_decay=0.05, ema_decay=0.999,
                       label_dropout=0.0, sample_every=0, eval_every=250, adam_beta2=0.999),
    # few-step student (reflow on teacher pairs): starts from the teacher, so a short, gentle schedule
    "fewstep": dict(steps=2_000, batch_size=32, lr=1e-4, warmup=50, weight_decay=0.0, ema_decay=0.995,
                    label_dropout=0.0, sample_every=0, eval_every=250, adam_beta2=0.999),
    # the autoencoder of a latent generator (cats.training.autoencoder_task, docs/latent.md)
    "autoencoder": dict(steps=5_000, batch_size=32, lr=1e-3, warmup=100, weight_decay=0.0, ema_decay=0.999,
                        label_dropout=0.0, sample_every=0, eval_every=500, adam_beta2=0.99),
}


@dataclass
class TrainConfig:
    """Everything a training run needs; a checkpoint carries it so a run can be resumed with no flags."""

    task: str = "generator"
    data: str = "synthcats"
    preset: str = "tiny"
    out: str = "runs/cats"
    steps: int | None = None  # optimizer steps to reach; also the LR schedule's horizon
    minutes: float | None = None  # wall-clock budget of this invocation; stops cleanly when spent
    batch_size: int | None = None  # per device, per micro-batch
    lr: float | None = None
    warmup: int | None = None  # linear warm-up steps
    min_lr_ratio: float = 0.1  # cosine decays to lr * min_lr_ratio
    weight_decay: float | None = None
    adam_beta2: float | None = None  # AdamW's second-moment decay
    grad_accum: int = 1
    clip: float = 1.0  # max gradient norm; 0 disables clipping
    ema_decay: float | None = None  # 0 disables EMA (the shipped weights are then the live ones)
    label_dropout: float | None = None  # generator: share of labels replaced by the null slot
    label_smoothing: float = 0.1  # classifier cross-entropy
    prediction_type: str | None = None  # generator: "v" | "x"; None keeps the preset's
    logit_mean: float = 0.0  # generator: logit-normal training sigmas
    logit_std: float = 1.0
    dispersive_weight: float = 0.0  # generator: weight of the dispersive loss (0 = off; see generator_task.py)
    dispersive_block: int | None = None  # generator: the block whose output it spreads (None: the last shallow one)
    init_from: str | None = None  # generator: start from a saved pipeline's weights (and EMA), fresh optimizer
    vae: str | None = None  # generator: a trained autoencoder directory; the DiT learns its latents (docs/latent.md)
    image_size: int | None = None  # None: the preset's
    seed: int = 0
    checkpoint_every: int = 1000
    keep: int = 3
    sample_every: int | None = None  # 0 disables (a final grid is still drawn for the generator)
    sample_steps: int = 20
    eval_every: int | None = None  # 0 disables (the final evaluation still runs)
    log_every: int = 10
    threads: int | None = None  # torch CPU threads (None: torch's default)
    mixed_precision: str | None = None  # None: default_mixed_precision(task)
    compile: bool = False  # torch.compile the training step's model
    resume: bool = False
    attach_to: str | None = None  # classifier: also save into this pipeline directory
    pretrained: str = "imagenet"  # classifier backbone init: "imagenet" (download; random init if offline), "none", or a file
    data_root: str | None = None
    download: bool = False
    num_per_class: int | None = None  # SynthCats images per class and split (None: the data layer's default)
    image_column: str | None = None  # hf: sources: the image column (None: the one Image feature)
    label_column: str | None = None  # hf: sources: the label column (None: the ClassLabel naming the most breeds)
    teacher: str | None = None  # fewstep: the pipeline the student copies and imitates
    pairs: str | None = None  # fewstep: teacher pairs directory (python -m cats.training.pairs)
    fewstep_sigmas: str = "mix"  # fewstep: where the training sigmas come from ("mix" | "uniform" | "one")

    def model_signature(self) -> dict:
        """The fields that must match for a checkpoint to be resumed into this run."""
        return {name: getattr(self, name) for name in MODEL_FIELDS}

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def save_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")


FIELD_NAMES = tuple(f.name for f in dataclasses.fields(TrainConfig))


def load_config_file(path: str | Path) -> dict:
    """Read a YAML or JSON file of TrainConfig fields (dashes or underscores); unknown keys are an error."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--config {str(path)!r}: no such file")
    text = path.read_text()
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml  # imported here: only a --config FILE.yaml needs PyYAML

        values = yaml.safe_load(text) or {}
    elif path.suffix.lower() == ".json":
        values = json.loads(text)
    else:
        raise ValueError(f"--config {str(path)!r}: expected a .yaml, .yml or .json file")
    if not isinstance(values, dict):
        raise ValueError(f"--config {str(path)!r}: expected a mapping of field names to values")
    values = {str(k).replace("-", "_"): v for k, v in values.items()}
    unknown = sorted(set(values) - set(FIELD_NAMES))
    if unknown:
        raise ValueError(f"--config {str(path)!r}: unknown fields {unknown}; valid fields are {', '.join(FIELD_NAMES)}")
    return values


def cpu_has_fast_bf16() -> bool:
    """Whether this CPU multiplies bf16 natively (AVX-512 BF16 or AMX); elsewhere bf16 is emulated and slow.

    Asked of torch at run time: machines of the same cloud kind differ, so nothing is assumed.
    """
    import torch  # imported here: the config is read and validated without torch (modal run's local side)

    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in probes)


def default_mixed_precision(task: str = "generator") -> str:
    """The autocast dtype when --mixed-precision is left out: bf16 where the hardware runs it natively.

    * a CUDA GPU with bf16 support: bf16 for both tasks;
    * a CPU with native bf16: bf16 for the generator (its transformer trained 1.3-1.75x faster in
      bf16 here, see docs/benchmarks.md); full precision for the classifier, whose convolutions do
      not gain from bf16 autocast on the CPU;
    * otherwise full precision. Master weights, optimizer state and EMA stay float32 either way.
    """
    import torch  # imported here: as in cpu_has_fast_bf16

    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "no"
    return "bf16" if task == "generator" and cpu_has_fast_bf16() else "no"


def resolve(config: TrainConfig) -> TrainConfig:
    """Fill task defaults and validate values; returns a new config (the input is not changed)."""
    if config.task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {config.task!r}")
    values = config.to_dict()
    for name, value in TASK_DEFAULTS[config.task].items():
        if name == "steps" and config.minutes is not None:
            continue  # --minutes alone: the horizon is estimated from the measured speed (see lr.py)
        if values[name] is None:
            values[name] = value
    if values["mixed_precision"] is None:
        values["mixed_precision"] = default_mixed_precision(config.task)
    cfg = TrainConfig(**values)
    _validate(cfg)
    return cfg


def _validate(cfg: TrainConfig) -> None:
    def positive(name: str, allow_zero: bool = False) -> None:
        value = getattr(cfg, name)
        if value is not None and (value < 0 or (value == 0 and not allow_zero)):
            raise ValueError(f"--{name.replace('_', '-')} must be {'>= 0' if allow_zero else '> 0'}, got {value}")

    for name in ("steps", "batch_size", "lr", "grad_accum", "keep", "log_every", "sample_steps", "minutes"):
        positive(name)
    for name in ("warmup", "weight_decay", "clip", "checkpoint_every", "sample_every", "eval_every"):
        positive(name, allow_zero=True)
    if not 0.0 < cfg.adam_beta2 < 1.0:
        raise ValueError(f"--adam-beta2 must be in (0, 1), got {cfg.adam_beta2}")
    for name in ("ema_decay", "label_dropout", "min_lr_ratio", "label_smoothing"):
        value = getattr(cfg, name)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"--{name.replace('_', '-')} must be in [0, 1], got {value}")
    if cfg.mixed_precision not in MIXED_PRECISION:
        raise ValueError(f"--mixed-precision must be one of {MIXED_PRECISION}, got {cfg.mixed_precision!r}")
    if cfg.prediction_type is not None and cfg.prediction_type not in ("v", "x"):
        raise ValueError(f"--prediction-type must be 'v' or 'x', got {cfg.prediction_type!r}")
    if not (cfg.data in ("synthcats", "oxford") or (cfg.data.startswith(("folder:", "hf:")) and
                                                    len(cfg.data.split(":", 1)[1]) > 0)):
        raise ValueError(f"--data must be synthcats, oxford, folder:PATH or hf:OWNER/NAME[:CONFIG], got {cfg.data!r}")
    if (cfg.image_column or cfg.label_column) and not cfg.data.startswith("hf:"):
        raise ValueError(f"--image-column / --label-column name columns of a Hub dataset (--data hf:...), "
                         f"not of --data {cfg.data!r}")
    if (cfg.teacher is not None or cfg.pairs is not None) and cfg.task != "fewstep":
        raise ValueError("--teacher / --pairs are for the fewstep task (python -m cats.training fewstep ...)")
    if cfg.dispersive_weight < 0:
        raise ValueError(f"--dispersive-weight must be >= 0, got {cfg.dispersive_weight}")
    if (cfg.dispersive_weight or cfg.dispersive_block is not None or cfg.init_from or cfg.vae) and cfg.task != "generator":
        raise ValueError("--dispersive-weight / --dispersive-block / --init-from / --vae are for the generator task")
    if cfg.attach_to is not None and cfg.task != "classifier":
        raise ValueError("--attach-to is for the classifier: it saves the trained classifier into a pipeline directory")
