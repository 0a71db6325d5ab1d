"""Evaluation CLI: ``python -m cats.evaluation {classifier,generator} ...``.

One subcommand per model, each a ``_add_<name>_parser`` + ``run_<name>(args) -> dict`` pair; the
figures are computed in ``cats.evaluation.classifier`` and ``cats.evaluation.generator``.

classifier: loads a CatClassifier (a pipeline dir with ``classifier/`` or a bare classifier dir),
runs a dataset split through it and writes JSON metrics: top-1/top-3 accuracy, per-class
accuracy, the 13x13 confusion matrix (also as a labelled PNG), accuracy on the cat images alone
(13-way, and 12-way over the breeds only), expected calibration error before temperature scaling
(T = 1) and after it (the temperature saved with the model, fitted on the validation split), plus
the unsure rate at the saved threshold.

generator: FID against a real split beside its real-vs-real floor, k-NN precision / recall and a
memorisation check (all refused under 500 images, except memorisation), breed accuracy of samples
(the classifier labels generated images; per breed and mean) at the default steps and guidance and
over a steps x guidance sweep, and a sample sheet (one row per breed).

    python -m cats.evaluation classifier --model runs/cls/classifier --data synthcats --split test
    python -m cats.evaluation generator --model synthcats --data synthcats
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from cats.data import load_dataset
from cats.evaluation.classifier import (
    classifier_metrics,
    find_classifier_dir,
    predict_logits,
    print_report,
    save_confusion_png,
)
from cats.evaluation.generator import evaluate_generator
from cats.models.classifier import CatClassifier
from cats.pipeline import CatsPipeline, resolve_pretrained

QUICK_PER_CLASS = 16  # --quick keeps at most this many images of each class
QUICK_GENERATOR_SAMPLES = 24  # generator --quick: 2 per breed
FEATURE_CACHE = Path.home() / ".cache" / "tiny-cats" / "inception"


# ---------------------------------------------------------------- classifier


def _quick_subset(labels: np.ndarray, per_class: int) -> np.ndarray:
    """Indices of the first `per_class` images of each class (deterministic)."""
    keep = [np.nonzero(labels == c)[0][:per_class] for c in np.unique(labels)]
    return np.sort(np.concatenate(keep))


def run_classifier(args: argparse.Namespace) -> dict:
    """Evaluate a classifier on a dataset split; print, write JSON + confusion PNG; return the metrics."""
    model_dir = find_classifier_dir(args.model)
    model = CatClassifier.from_pretrained(model_dir)
    cfg = model.config
    extra = {**_column_options(args), **dict(args.data_option or [])}
    if args.data_root:
        extra["root"] = args.data_root
    ds = load_dataset(args.data, split=args.split, image_size=cfg.image_size, include_other=True,
                      download=args.download, **extra)
    images = torch.as_tensor(ds.images)
    labels = torch.as_tensor(ds.labels).numpy().astype(np.int64)
    if args.quick:
        keep = _quick_subset(labels, QUICK_PER_CLASS)
        images, labels = images[torch.from_numpy(keep)], labels[keep]
    if len(labels) == 0:
        raise ValueError(f"the {args.split!r} split of {args.data!r} has no images")
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    logits = predict_logits(model, images, batch_size=args.batch_size, tta=args.tta, device=device)
    # the model as given (a bundled name or a path relative to where it ran), not this machine's absolute path
    metrics = {"model": str(args.model), "data": args.data, "split": args.split, "quick": bool(args.quick),
               "tta": bool(args.tta), "backbone": cfg.backbone, "image_size": cfg.image_size,
               **classifier_metrics(logits, labels, cfg.temperature, cfg.unsure_threshold)}
    out = Path(args.out) if args.out else Path("runs/eval") / f"classifier-{_slug(args.data)}-{args.split}.json"
    png = out.with_name(out.stem + ".confusion.png")
    metrics["confusion_png"] = str(png)
    print_report(metrics)
    save_confusion_png(metrics["confusion_matrix"], png,
                       f"{args.data} {args.split}: top-1 {100 * metrics['top1']:.1f}% (n={metrics['num_images']})")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(metrics, indent=2) + "\n")
    print(f"wrote {out} and {png}")
    return metrics


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text).strip("-")[:60]


def _data_source(value: str) -> str:
    if value in ("synthcats", "oxford") or (value.startswith(("folder:", "hf:")) and len(value.split(":", 1)[1]) > 0):
        return value
    raise argparse.ArgumentTypeError(f"--data must be synthcats, oxford, folder:PATH or hf:OWNER/NAME[:CONFIG], "
                                     f"got {value!r}")


def _column_options(args: argparse.Namespace) -> dict:
    """--image-column / --label-column as load_dataset options (Hub sources only)."""
    return {name: getattr(args, name) for name in ("image_column", "label_column") if getattr(args, name, None)}


def _add_data_flags(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--data", required=True, type=_data_source,
                   help=f"{what}: synthcats | oxford | folder:PATH | hf:OWNER/NAME[:CONFIG][@REVISION] (Hugging Face Hub)")
    p.add_argument("--image-column", default=None, help="--data hf:...: the image column (default: the Image feature)")
    p.add_argument("--label-column", default=None,
                   help="--data hf:...: the label column (default: the ClassLabel whose names hold the most breeds)")


def _data_option(value: str) -> tuple[str, object]:
    """KEY=VALUE -> (key, int | float | str): a source option of cats.data.load_dataset."""
    key, sep, raw = value.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"--data-option must look like KEY=VALUE (e.g. num_per_class=20), got {value!r}")
    for cast in (int, float):
        try:
            return key, cast(raw)
        except ValueError:
            pass
    return key, raw


def _add_classifier_parser(sub) -> None:
    p = sub.add_parser("classifier", help="accuracy, confusion matrix and calibration of the breed classifier",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True,
                   help="pipeline dir (uses DIR/classifier), classifier dir, or a bundled name such as synthcats")
    _add_data_flags(p, "the images to classify")
    p.add_argument("--split", default="test", choices=("train", "val", "test"), help="dataset split (default test)")
    p.add_argument("--out", default=None,
                   help="metrics JSON path (default runs/eval/classifier-DATA-SPLIT.json); the PNG goes beside it")
    p.add_argument("--quick", action="store_true", help=f"only the first {QUICK_PER_CLASS} images of each class")
    p.add_argument("--tta", action="store_true", help="average logits with the horizontally flipped image")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--device", default=None, help="torch device (default cuda when available, else cpu)")
    p.add_argument("--data-root", default=None, help="dataset cache directory (default: the data layer's)")
    p.add_argument("--download", action="store_true", help="download Oxford-IIIT Pet if it is missing")
    p.add_argument("--data-option", type=_data_option, action="append", metavar="KEY=VALUE",
                   help="a source option of cats.data.load_dataset, repeatable (e.g. num_per_class=20, crop=head)")
    p.set_defaults(func=run_classifier)


# ---------------------------------------------------------------- generator


def run_generator(args: argparse.Namespace) -> dict:
    """Breed accuracy of samples (+ a steps/guidance sweep), FID against a real split, sample sheet."""
    pipe = CatsPipeline.from_pretrained(args.model)
    pipe.set_progress_bar_config(disable=True)
    classifier = CatClassifier.from_pretrained(find_classifier_dir(args.classifier)) if args.classifier else None
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    pipe.to(device)
    if classifier is not None:
        classifier.to(device)
    num_samples = QUICK_GENERATOR_SAMPLES if args.quick else args.num_samples
    extra = {**_column_options(args), **({"root": args.data_root} if args.data_root else {})}
    size = pipe.image_size  # the images it draws (a latent pipeline decodes to them)
    real_set = load_dataset(args.data, split=args.split, image_size=size, download=args.download, **extra)
    # the training split: the FID floor (train vs real at the same size) and the memorisation check
    quick_train = {"num_per_class": QUICK_PER_CLASS} if args.quick and args.data == "synthcats" else {}
    train_set = load_dataset(args.data, split="train", image_size=size, download=args.download, **extra,
                             **quick_train)
    out = Path(args.out) if args.out else Path(resolve_pretrained(args.model)) / "metrics_generator.json"
    metrics = evaluate_generator(
        pipe, torch.as_tensor(real_set.images), out, classifier=classifier, train_images=torch.as_tensor(train_set.images),
        cache_dir=args.feature_cache, num_samples=num_samples, steps=args.steps, guidance=args.guidance,
        sweep_per_breed=1 if args.quick else args.sweep_per_breed, seed=args.seed,
        real_labels=np.asarray(real_set.labels), train_labels=np.asarray(train_set.labels),
        autoguidance=args.autoguidance)
    metrics.update({"model": str(args.model), "data": args.data, "split": args.split, "quick": bool(args.quick)})
    out.write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


def _add_generator_parser(sub) -> None:
    p = sub.add_parser("generator", help="breed accuracy of samples, steps/guidance sweep, FID, sample sheet")
    p.add_argument("--model", required=True, help="pipeline dir or a bundled name such as synthcats")
    _add_data_flags(p, "real images for FID")
    p.add_argument("--split", default="test", choices=("train", "val", "test"), help="real split for FID (default test)")
    p.add_argument("--out", default=None, help="metrics JSON (default MODEL/metrics_generator.json); sheet PNG beside it")
    p.add_argument("--classifier", default=None, help="judge with this classifier instead of the pipeline's own")
    p.add_argument("--num-samples", type=int, default=1200,
                   help="samples at the default settings, balanced over breeds (FID needs >= 500; default 1200)")
    p.add_argument("--steps", type=int, default=None, help="denoising steps (default: the pipeline's)")
    p.add_argument("--guidance", type=float, default=None, help="guidance scale (default: the pipeline's)")
    p.add_argument("--autoguidance", type=float, default=None,
                   help="the guide network's weight, 1 = off (default: the pipeline's; docs/guidance.md)")
    p.add_argument("--sweep-per-breed", type=int, default=10,
                   help="samples per breed for each point of the steps (4, 8, 20, 50) x guidance (1, 2, 4) sweep")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true",
                   help=f"{QUICK_GENERATOR_SAMPLES} samples, 1 per breed per sweep point (FID is then refused)")
    p.add_argument("--device", default=None, help="torch device (default cuda when available, else cpu)")
    p.add_argument("--data-root", default=None, help="dataset cache directory (default: the data layer's)")
    p.add_argument("--download", action="store_true", help="download Oxford-IIIT Pet if it is missing")
    p.add_argument("--feature-cache", default=str(FEATURE_CACHE),
                   help="directory caching Inception features of real images, keyed by content (default %(default)s)")
    p.set_defaults(func=run_generator)


# ---------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cats.evaluation", description="Evaluate tiny-cats models.")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_classifier_parser(sub)
    _add_generator_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> dict:
    """Run one subcommand and return its metrics (``python -m cats.evaluation`` prints them and returns nothing)."""
    args = build_parser().parse_args(argv)
    return args.func(args)
