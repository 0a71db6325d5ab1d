"""Evaluation CLI: ``python -m cats.evaluate {classifier,generator} ...``.

One subcommand per model, each a ``_add_<name>_parser`` + ``run_<name>(args) -> dict`` pair.

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

    python -m cats.evaluate classifier --model runs/cls/classifier --data synthcats --split test
    python -m cats.evaluate generator --model synthcats --data synthcats
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from cats.breeds import CLASSIFIER_LABELS, NUM_BREEDS, NUM_CLASSIFIER_OUTPUTS
from cats.classifier_train_utils import eval_transform
from cats.classify import expected_calibration_error, fit_temperature, softmax
from cats.models.classifier import CatClassifier

BUNDLED_WEIGHTS = Path(__file__).resolve().parent / "weights"
QUICK_PER_CLASS = 16  # --quick keeps at most this many images of each class
QUICK_GENERATOR_SAMPLES = 24  # generator --quick: 2 per breed
FEATURE_CACHE = Path.home() / ".cache" / "tiny-cats" / "inception"


# ---------------------------------------------------------------- classifier


def find_classifier_dir(model: str | Path) -> Path:
    """DIR/classifier (a CatsPipeline dir), DIR itself (a bare classifier) or a bundled name ("synthcats")."""
    path = Path(model)
    if not path.exists() and (BUNDLED_WEIGHTS / str(model)).is_dir():
        path = BUNDLED_WEIGHTS / str(model)
    for candidate in (path / "classifier", path):
        config = candidate / "config.json"
        if config.is_file() and json.loads(config.read_text()).get("_class_name") == "CatClassifier":
            return candidate
    raise FileNotFoundError(
        f"no classifier found at {str(model)!r}: expected DIR/classifier/config.json (a pipeline saved with a "
        f"classifier) or DIR/config.json of a CatClassifier (e.g. RUN_DIR/classifier from `python -m cats.train "
        f"classifier`)")


def predict_logits(model: CatClassifier, images: torch.Tensor, batch_size: int = 128, tta: bool = False,
                   device: str | torch.device = "cpu") -> np.ndarray:
    """uint8 images (N,3,H,W) -> raw logits (N,13) float64, with the serving preprocessing (eval_transform)."""
    cfg = model.config
    model = model.to(device).eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            x = eval_transform(images[start:start + batch_size].to(device), cfg.image_size, cfg.mean, cfg.std)
            logits = model(x)  # (b, 13)
            if tta:
                logits = 0.5 * (logits + model(torch.flip(x, dims=[3])))
            out.append(logits.double().cpu().numpy())
    return np.concatenate(out)


def classifier_metrics(logits: np.ndarray, labels: np.ndarray, temperature: float,
                       unsure_threshold: float) -> dict:
    """All figures from raw logits (N,13) and labels (N,) in 0..12; see the module docstring."""
    labels = np.asarray(labels, dtype=np.int64)
    probs_raw = softmax(logits, 1.0)
    probs = softmax(logits, temperature)
    pred = probs.argmax(axis=1)
    top3 = np.argsort(-probs, axis=1)[:, :3]
    confusion = np.zeros((NUM_CLASSIFIER_OUTPUTS, NUM_CLASSIFIER_OUTPUTS), dtype=np.int64)  # rows true, cols predicted
    np.add.at(confusion, (labels, pred), 1)
    per_class = {}
    for i, name in enumerate(CLASSIFIER_LABELS):
        n = int(confusion[i].sum())
        per_class[name] = {"n": n, "accuracy": float(confusion[i, i] / n) if n else None}
    cats = labels < NUM_BREEDS
    answered = probs.max(axis=1) >= unsure_threshold
    oracle_t = fit_temperature(logits, labels)
    return {
        "num_images": int(len(labels)),
        "top1": float((pred == labels).mean()),
        "top3": float((top3 == labels[:, None]).any(axis=1).mean()),
        "top1_cats": float((pred[cats] == labels[cats]).mean()) if cats.any() else None,
        "top1_cats_12way": float((logits[cats, :NUM_BREEDS].argmax(1) == labels[cats]).mean()) if cats.any() else None,
        "per_class": per_class,
        "labels": list(CLASSIFIER_LABELS),
        "confusion_matrix": confusion.tolist(),
        "temperature": float(temperature),
        "ece_before_temperature": expected_calibration_error(probs_raw, labels),
        "ece_after_temperature": expected_calibration_error(probs, labels),
        "nll_before_temperature": _nll(probs_raw, labels),
        "nll_after_temperature": _nll(probs, labels),
        # For reference only: a temperature fitted on THIS split (optimistic, not what ships).
        "oracle_temperature": oracle_t,
        "ece_oracle_temperature": expected_calibration_error(softmax(logits, oracle_t), labels),
        "unsure_threshold": float(unsure_threshold),
        "unsure_rate": float(1.0 - answered.mean()),
        "answered_accuracy": float((pred[answered] == labels[answered]).mean()) if answered.any() else None,
    }


def _nll(probs: np.ndarray, labels: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(probs[np.arange(len(labels)), labels], 1e-12, None))))


def save_confusion_png(confusion, path: Path, title: str) -> None:
    """A readable confusion matrix: rows true label, columns prediction, colour = row share, counts written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.asarray(confusion, dtype=np.float64)
    share = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(9, 8), dpi=110)
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ticks = np.arange(len(CLASSIFIER_LABELS))
    ax.set_xticks(ticks, CLASSIFIER_LABELS, rotation=45, ha="right", rotation_mode="anchor")
    ax.set_yticks(ticks, CLASSIFIER_LABELS)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            if cm[i, j]:
                ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if share[i, j] > 0.5 else "black")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def _quick_subset(labels: np.ndarray, per_class: int) -> np.ndarray:
    """Indices of the first `per_class` images of each class (deterministic)."""
    keep = [np.nonzero(labels == c)[0][:per_class] for c in np.unique(labels)]
    return np.sort(np.concatenate(keep))


def _print_classifier_report(m: dict) -> None:
    def pct(v):
        return "  n/a" if v is None else f"{100 * v:5.1f}%"

    print(f"images {m['num_images']}  top-1 {pct(m['top1'])}  top-3 {pct(m['top3'])}  "
          f"cats only: top-1 {pct(m['top1_cats'])} (12-way {pct(m['top1_cats_12way'])})")
    print(f"ECE {m['ece_before_temperature']:.4f} at T=1 -> {m['ece_after_temperature']:.4f} at saved "
          f"T={m['temperature']:.3f} (oracle T={m['oracle_temperature']:.3f}: {m['ece_oracle_temperature']:.4f})")
    print(f"unsure below {m['unsure_threshold']:.3f}: {pct(m['unsure_rate'])} of answers, "
          f"answered accuracy {pct(m['answered_accuracy'])}")
    for name, row in m["per_class"].items():
        if row["n"]:
            print(f"  {name:<18} {pct(row['accuracy'])}  (n={row['n']})")


def run_classifier(args: argparse.Namespace) -> dict:
    """Evaluate a classifier on a dataset split; print, write JSON + confusion PNG; return the metrics."""
    from cats.data import load_dataset  # imported here: the data layer is only needed by this subcommand

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
    metrics = {"model": str(model_dir), "data": args.data, "split": args.split, "quick": bool(args.quick),
               "tta": bool(args.tta), "backbone": cfg.backbone, "image_size": cfg.image_size,
               **classifier_metrics(logits, labels, cfg.temperature, cfg.unsure_threshold)}
    out = Path(args.out) if args.out else Path("runs/eval") / f"classifier-{_slug(args.data)}-{args.split}.json"
    png = out.with_name(out.stem + ".confusion.png")
    metrics["confusion_png"] = str(png)
    _print_classifier_report(metrics)
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
    from cats.data import load_dataset
    from cats.eval_generator import evaluate_generator
    from cats.pipeline import CatsPipeline, resolve_pretrained

    pipe = CatsPipeline.from_pretrained(args.model)
    pipe.set_progress_bar_config(disable=True)
    classifier = CatClassifier.from_pretrained(find_classifier_dir(args.classifier)) if args.classifier else None
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    pipe.to(device)
    if classifier is not None:
        classifier.to(device)
    num_samples = QUICK_GENERATOR_SAMPLES if args.quick else args.num_samples
    extra = {**_column_options(args), **({"root": args.data_root} if args.data_root else {})}
    size = pipe.transformer.config.sample_size
    real = load_dataset(args.data, split=args.split, image_size=size, download=args.download, **extra).images
    # the training split: the FID floor (train vs real at the same size) and the memorisation check
    quick_train = {"num_per_class": QUICK_PER_CLASS} if args.quick and args.data == "synthcats" else {}
    train = load_dataset(args.data, split="train", image_size=size, download=args.download, **extra,
                         **quick_train).images
    out = Path(args.out) if args.out else Path(resolve_pretrained(args.model)) / "metrics_generator.json"
    metrics = evaluate_generator(
        pipe, torch.as_tensor(real), out, classifier=classifier, train_images=torch.as_tensor(train),
        cache_dir=args.feature_cache, num_samples=num_samples, steps=args.steps, guidance=args.guidance,
        sweep_per_breed=1 if args.quick else args.sweep_per_breed, seed=args.seed)
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
    parser = argparse.ArgumentParser(prog="python -m cats.evaluate", description="Evaluate tiny-cats models.")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_classifier_parser(sub)
    _add_generator_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> dict:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    main(sys.argv[1:])
