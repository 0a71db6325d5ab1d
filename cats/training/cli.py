"""``python -m cats.training {generator,classifier} ...``: flags -> TrainConfig -> Trainer.run().

Priority: flags > ``--config FILE`` > task defaults > TrainConfig defaults. Flags left out do not
override the file (argparse defaults are suppressed), so a config file can hold a whole run.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Callable, Sequence

from cats.training.config import FIELD_NAMES, MIXED_PRECISION, TASK_DEFAULTS, TrainConfig, load_config_file

EPILOG = """examples:
  python -m cats.training generator --data synthcats --preset tiny --out runs/gen --minutes 30
  python -m cats.training classifier --data synthcats --preset tiny --out runs/clf --steps 1500 \\
      --attach-to runs/gen/pipeline
  python -m cats.training generator --data oxford --download --preset small --out runs/oxford --steps 50000
  python -m cats.training generator --data folder:~/my_cats --preset tiny --out runs/mine --resume
  python -m cats.training generator --data hf:timm/oxford-iiit-pet --preset small --out runs/oxford-hub
  python -m cats.training.pairs --teacher synthcats --out runs/pairs --count 8192
  python -m cats.training fewstep --teacher synthcats --pairs runs/pairs --out runs/fast --minutes 20
  python -m cats.training autoencoder --preset ae-f4 --out runs/ae --minutes 10
  python -m cats.training generator --preset latent-u --vae runs/ae/autoencoder --out runs/latent --minutes 60
  accelerate launch --multi_gpu --num_processes 4 -m cats.training generator ...   (no code change)

--resume continues from the newest complete checkpoint in --out (same step, LR, EMA, data order).
--minutes without --steps: the LR horizon is estimated from the speed measured over the first
steps and saved with the checkpoints; with both, the run stops at whichever comes first."""


def _default(task: str, name: str):
    value = TASK_DEFAULTS[task].get(name, getattr(TrainConfig(), name))
    return "the preset's" if value is None else value


def _add_common(p: argparse.ArgumentParser, task: str, presets: Sequence[str]) -> None:
    d = lambda name: f"(default: {_default(task, name)})"  # noqa: E731
    p.add_argument("--config", help="YAML or JSON file of the same fields (dashes or underscores); flags override it")
    p.add_argument("--data", help="synthcats | oxford | folder:PATH (one subfolder per breed) | "
                                  f"hf:OWNER/NAME[:CONFIG][@REVISION] (a Hugging Face Hub dataset) {d('data')}")
    p.add_argument("--preset", choices=list(presets), help=f"model size {d('preset')}")
    p.add_argument("--out", help=f"run directory: checkpoints/, logs/, samples/, config.json, metrics.json {d('out')}")
    p.add_argument("--steps", type=int, help=f"optimizer steps to reach; also the LR horizon {d('steps')}")
    p.add_argument("--minutes", type=float, help="wall-clock budget of this invocation; stops cleanly, saves everything")
    p.add_argument("--batch-size", type=int, help=f"images per device per micro-batch {d('batch_size')}")
    p.add_argument("--lr", type=float, help=f"peak AdamW learning rate {d('lr')}")
    p.add_argument("--warmup", type=int, help=f"linear warm-up steps {d('warmup')}")
    p.add_argument("--min-lr-ratio", type=float, help=f"cosine floor as a fraction of --lr {d('min_lr_ratio')}")
    p.add_argument("--weight-decay", type=float, help=f"AdamW weight decay on matrices/kernels {d('weight_decay')}")
    p.add_argument("--adam-beta2", type=float, help=f"AdamW second-moment decay {d('adam_beta2')}")
    p.add_argument("--grad-accum", type=int, help=f"micro-batches per optimizer step {d('grad_accum')}")
    p.add_argument("--clip", type=float, help=f"max gradient norm, 0 = no clipping {d('clip')}")
    p.add_argument("--ema-decay", type=float, help=f"EMA decay of the shipped weights, 0 = no EMA {d('ema_decay')}")
    p.add_argument("--image-size", type=int, help=f"training resolution in px {d('image_size')}")
    p.add_argument("--seed", type=int, help=f"seed of the init, data order and noise {d('seed')}")
    p.add_argument("--checkpoint-every", type=int, help=f"steps between checkpoints, 0 = only at the end {d('checkpoint_every')}")
    p.add_argument("--keep", type=int, help=f"checkpoints kept (newest) {d('keep')}")
    p.add_argument("--eval-every", type=int, help=f"steps between validations, 0 = only at the end {d('eval_every')}")
    p.add_argument("--log-every", type=int, help=f"steps between TensorBoard points {d('log_every')}")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--mixed-precision", choices=MIXED_PRECISION,
                   help="autocast dtype; weights, optimizer and EMA stay float32 (default: bf16 on a GPU that "
                        "supports it, and for the generator on a CPU with native bf16 (AVX-512 BF16 / AMX); else no)")
    p.add_argument("--compile", action="store_true", default=argparse.SUPPRESS,
                   help="run the training step through torch.compile (see the throughput benchmark for when it pays)")
    p.add_argument("--resume", action="store_true", default=argparse.SUPPRESS,
                   help="continue from the newest complete checkpoint in --out (starts fresh, with a warning, if none)")
    p.add_argument("--data-root", help="dataset cache directory (default: ~/.cache/tiny-cats)")
    p.add_argument("--download", action="store_true", default=argparse.SUPPRESS,
                   help="download Oxford-IIIT Pet if it is not in --data-root (the Hub mirror if the archive fails; "
                        "hf: sources always download)")
    p.add_argument("--num-per-class", type=int, help="SynthCats images per class and split (default: the data layer's)")
    p.add_argument("--image-column", help="--data hf:...: the image column (default: the one Image feature)")
    p.add_argument("--label-column", help="--data hf:...: the label column, a ClassLabel or strings (default: the "
                                          "ClassLabel whose names hold the most breeds)")


def build_parser() -> argparse.ArgumentParser:
    # imported here: the model modules load torch, and this module is imported by `modal run`'s local side,
    # which has no torch (cats.modal_jobs.job)
    from cats.models.autoencoder import AUTOENCODER_PRESETS
    from cats.models.classifier import PRESETS as CLASSIFIER_PRESETS
    from cats.models.dit import PRESETS as DIT_PRESETS

    parser = argparse.ArgumentParser(prog="python -m cats.training", description="Train the tiny-cats generator (DiT, flow matching) or the breed classifier.",
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="task", required=True, metavar="{generator,classifier,fewstep,autoencoder}")
    gen = sub.add_parser("generator", help="class-conditional DiT with flow matching", argument_default=argparse.SUPPRESS)
    _add_common(gen, "generator", list(DIT_PRESETS))
    gen.add_argument("--label-dropout", type=float,
                     help=f"share of labels replaced by the null slot, for guidance {_default('generator', 'label_dropout')}")
    gen.add_argument("--prediction-type", choices=["v", "x"], help="what the network predicts (default: the preset's)")
    gen.add_argument("--logit-mean", type=float, help="mean of the logit-normal training sigmas (default: 0)")
    gen.add_argument("--logit-std", type=float, help="std of the logit-normal training sigmas (default: 1)")
    gen.add_argument("--dispersive-weight", type=float,
                     help="weight of the dispersive loss on one block's output, a regulariser with no parameters "
                          "(0 = off, the default; 0.5 in its paper)")
    gen.add_argument("--dispersive-block", type=int,
                     help="0-based block whose output the dispersive loss spreads (default: the last of the first half)")
    gen.add_argument("--init-from",
                     help="pipeline directory or bundled name to start from: its weights become the model and the EMA; "
                          "the optimizer and LR schedule start fresh (a run that continues on another machine)")
    gen.add_argument("--vae",
                     help="an autoencoder directory (python -m cats.training autoencoder ... writes RUN_DIR/autoencoder): "
                          "the DiT learns and samples its scaled latents, the pipeline decodes once at the end; "
                          "the preset must be of the latent size (e.g. latent-u)")
    gen.add_argument("--sample-every", type=int,
                     help=f"steps between sample grids in RUN_DIR/samples, 0 = only at the end {_default('generator', 'sample_every')}")
    gen.add_argument("--sample-steps", type=int, help="denoising steps of the sample grids (default: 20)")
    few = sub.add_parser("fewstep", help="few-step student of a generator (reflow on teacher pairs)",
                         argument_default=argparse.SUPPRESS)
    _add_common(few, "fewstep", list(DIT_PRESETS))
    few.add_argument("--teacher", help="pipeline directory or bundled name the student copies and imitates")
    few.add_argument("--pairs", help="teacher pairs directory (python -m cats.training.pairs --teacher ... --out DIR)")
    few.add_argument("--fewstep-sigmas", choices=["mix", "uniform", "one"],
                     help="training sigmas: mix (sigma 1, the few-step points and uniform), uniform (reflow), "
                          "one (one-step distillation) (default: mix)")
    clf = sub.add_parser("classifier", help="breed classifier: 12 breeds + 'other'", argument_default=argparse.SUPPRESS)
    _add_common(clf, "classifier", list(CLASSIFIER_PRESETS))
    clf.add_argument("--label-smoothing", type=float, help="cross-entropy label smoothing (default: 0.1)")
    clf.add_argument("--pretrained",
                     help="backbone init: imagenet (download; random init with a warning when offline), none, or a "
                          "torchvision state-dict file (default: imagenet)")
    clf.add_argument("--attach-to", help="also save the classifier into this pipeline directory (its `classifier`)")
    ae = sub.add_parser("autoencoder", help="the image autoencoder of a latent generator (docs/latent.md)",
                        argument_default=argparse.SUPPRESS)
    _add_common(ae, "autoencoder", list(AUTOENCODER_PRESETS))
    return parser


def config_from_args(argv: Sequence[str] | None = None) -> TrainConfig:
    """Parse the command line (and --config file) into a TrainConfig (task defaults still unresolved)."""
    args = vars(build_parser().parse_args(argv))
    task = args.pop("task")
    values: dict = {}
    if "config" in args:
        values.update(load_config_file(args.pop("config")))
        if values.get("task", task) != task:
            raise ValueError(f"--config says task {values['task']!r} but the command is {task!r}")
    values.update({k: v for k, v in args.items() if k in FIELD_NAMES})
    values["task"] = task
    return TrainConfig(**values)


def main(argv: Sequence[str] | None = None, on_checkpoint: Callable[[Path], None] | None = None):
    """Train as the command line says. ``on_checkpoint(path)`` runs on the main process after each checkpoint
    (e.g. to commit a Modal Volume). Returns the run's ``RunResult``."""
    from cats.training.loop import Trainer  # imported here: torch and accelerate, as in build_parser

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = config_from_args(argv)
    return Trainer(config, on_checkpoint=on_checkpoint).run()
