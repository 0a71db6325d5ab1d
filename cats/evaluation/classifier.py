"""Classifier evaluation: top-1/top-3, per-class accuracy, confusion matrix, calibration, unsure rate.

``python -m cats.evaluation classifier`` (``cats.evaluation.cli``) runs a dataset split through a
``CatClassifier`` with the serving preprocessing and writes what :func:`classifier_metrics` returns:
accuracy on the cat images alone (13-way, and 12-way over the breeds only), expected calibration
error before temperature scaling (T = 1) and after it (the temperature saved with the model, fitted
on the validation split), and the unsure rate at the saved threshold.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from cats.breeds import CLASSIFIER_LABELS, NUM_BREEDS, NUM_CLASSIFIER_OUTPUTS
from cats.classify import expected_calibration_error, fit_temperature, softmax
from cats.models.classifier import CatClassifier
from cats.paths import bundled_pipeline
from cats.training.transforms import eval_transform


def find_classifier_dir(model: str | Path) -> Path:
    """DIR/classifier (a CatsPipeline dir), DIR itself (a bare classifier) or a bundled name ("synthcats")."""
    path = Path(model)
    if not path.exists() and bundled_pipeline(str(model)).is_dir():
        path = bundled_pipeline(str(model))
    for candidate in (path / "classifier", path):
        config = candidate / "config.json"
        if config.is_file() and json.loads(config.read_text()).get("_class_name") == "CatClassifier":
            return candidate
    raise FileNotFoundError(
        f"no classifier found at {str(model)!r}: expected DIR/classifier/config.json (a pipeline saved with a "
        f"classifier) or DIR/config.json of a CatClassifier (e.g. RUN_DIR/classifier from `python -m cats.training "
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
    """All figures from raw logits (N,13) and labels (N,) in 0..12 (float values, lists, None when empty)."""
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
    import matplotlib  # imported here: only the confusion picture needs matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # imported here: after use("Agg"): pyplot then needs no display

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


def print_report(m: dict) -> None:
    """The metrics of ``classifier_metrics`` as a few lines of text."""
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
