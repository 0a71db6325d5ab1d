"""Calibrated answers from classifier logits: verdict, top-k, probabilities; temperature and ECE.

Everything except ``classify`` is NumPy only (torch is imported inside ``classify``), because the
ONNX pipeline ``cats.onnx`` reuses this module without torch. The rule for an answer:

  probs   = softmax(logits / temperature)                      # (B, 13), temperature fitted on validation
  score   = ood.score(features)                                # familiarity (cats.ood), when fitted
  verdict = "unfamiliar"           if score > ood.threshold   (unlike anything the weights were trained on)
          = "unsure"               elif max(probs) < unsure_threshold
          = "other"                elif argmax is id 12 (not one of the twelve breeds)
          = the breed name         otherwise

"unfamiliar" comes first: probabilities over 13 known answers say nothing about a picture the
classifier has never seen the like of (a photo for weights trained on drawings). ``verdict_reason``
gives the one line the demos show under the verdict; webclient/src/lib/classify.ts mirrors all of it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from cats.breeds import CLASSIFIER_LABELS, NUM_CLASSIFIER_OUTPUTS, OTHER_LABEL
from cats.images import load_image, to_classifier_array

logger = logging.getLogger(__name__)

UNSURE = "unsure"
UNFAMILIAR = "unfamiliar"
DISPLAY_OTHER = "not a cat breed I know"
DISPLAY_UNFAMILIAR = "unfamiliar picture"
# Said under an unfamiliar verdict when the weights were trained on SynthCats (their trained_on says so).
SYNTHCATS_NOTE = ("These weights know drawings (SynthCats), not photos: train the classifier on Oxford-IIIT Pet "
                  "for photos (python -m cats.training classifier --data oxford).")


@dataclass
class ClassifyResult:
    """One image's answer.

    verdict: a breed name, "other", "unsure" or "unfamiliar"; top_k: [(label, probability)] best first;
    probabilities: all 13 labels (12 breeds + "other") -> probability, summing to 1; ood_score and
    ood_threshold: the familiarity score (squared Mahalanobis distance, cats.ood) and its limit, None
    when the classifier has no fitted statistics.
    """

    verdict: str
    top_k: list[tuple[str, float]]
    probabilities: dict[str, float]
    ood_score: float | None = None
    ood_threshold: float | None = None
    unsure_threshold: float = 0.0

    @property
    def display_verdict(self) -> str:
        """What a person reads: "Bengal", "not a cat breed I know", "unsure" or "unfamiliar picture"."""
        return {OTHER_LABEL: DISPLAY_OTHER, UNFAMILIAR: DISPLAY_UNFAMILIAR}.get(self.verdict, self.verdict)

    def reason(self, trained_on: str | None = None) -> str:
        """The one line under the verdict; see ``verdict_reason``."""
        return verdict_reason(self, trained_on)


def is_synthcats(trained_on: str | None) -> bool:
    """Whether a pipeline's / manifest's ``trained_on`` names SynthCats (the bundled demo weights)."""
    return isinstance(trained_on, str) and trained_on.strip().lower().startswith("synthcats")


def verdict_reason(result: ClassifyResult, trained_on: str | None = None) -> str:
    """One line saying why the verdict is what it is (the TypeScript twin words it identically)."""
    top_label, top_p = result.top_k[0]
    if result.verdict == UNFAMILIAR:
        line = (f"This picture is unlike anything these weights were trained on (familiarity distance "
                f"{result.ood_score:.0f}, limit {result.ood_threshold:.0f}).")
        return f"{line} {SYNTHCATS_NOTE}" if is_synthcats(trained_on) else line
    if result.verdict == UNSURE:
        return (f"No answer is confident enough: the best, {_label_text(top_label)}, has {100 * top_p:.0f}% "
                f"(under {100 * result.unsure_threshold:.0f}%).")
    if result.verdict == OTHER_LABEL:
        return f"Most likely not one of the 12 breeds ({100 * top_p:.0f}%)."
    return f"{100 * top_p:.0f}% sure."


def _label_text(label: str) -> str:
    return "other (not a known breed)" if label == OTHER_LABEL else label


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of logits / temperature, float64. logits: (B, K) -> (B, K)."""
    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _check_logits(logits) -> np.ndarray:
    arr = np.asarray(logits, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != NUM_CLASSIFIER_OUTPUTS:
        raise ValueError(f"logits must have shape (batch, {NUM_CLASSIFIER_OUTPUTS}), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError("logits contain NaN or inf; the classifier output is broken")
    return arr


def results_from_logits(logits, temperature: float = 1.0, unsure_threshold: float = 0.0,
                        top_k: int = 3, features=None, ood=None) -> list[ClassifyResult]:
    """Raw logits (B, 13) -> one ClassifyResult per row (see the module docstring for the rule).

    ood: a cats.ood.OodStats (or None: no familiarity check); features: the classifier's (B, D)
    ``features`` output, required with ``ood``.
    """
    arr = _check_logits(logits)
    scores = None
    if ood is not None:
        if features is None:
            raise ValueError("familiarity statistics were given but no features: run the classifier's features "
                             "output too (CatClassifier.forward_with_features, the graph's 'features')")
        scores = ood.score(features)
        if len(scores) != len(arr):
            raise ValueError(f"{len(scores)} feature rows for {len(arr)} logit rows")
    if not (isinstance(temperature, (int, float)) and temperature > 0):
        raise ValueError(f"temperature must be a positive number, got {temperature!r}")
    if not (0.0 <= unsure_threshold <= 1.0):
        raise ValueError(f"unsure_threshold must be in [0, 1], got {unsure_threshold!r}")
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or not 1 <= top_k <= NUM_CLASSIFIER_OUTPUTS:
        raise ValueError(f"top_k must be an int in 1..{NUM_CLASSIFIER_OUTPUTS}, got {top_k!r}")
    probs = softmax(arr, temperature)
    results = []
    for n, row in enumerate(probs):
        order = np.argsort(-row, kind="stable")[:top_k]
        best = int(order[0])
        score = None if scores is None else float(scores[n])
        if score is not None and score > ood.threshold:
            verdict = UNFAMILIAR
        else:
            verdict = UNSURE if row[best] < unsure_threshold else CLASSIFIER_LABELS[best]
        results.append(ClassifyResult(
            verdict=verdict,
            top_k=[(CLASSIFIER_LABELS[i], float(row[i])) for i in order],
            probabilities={label: float(p) for label, p in zip(CLASSIFIER_LABELS, row)},
            ood_score=score, ood_threshold=None if ood is None else ood.threshold,
            unsure_threshold=float(unsure_threshold),
        ))
    return results


def _nll(logits: np.ndarray, labels: np.ndarray, inv_t: float) -> float:
    z = logits * inv_t
    z = z - z.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(z).sum(axis=1))
    return float(np.mean(log_norm - z[np.arange(len(labels)), labels]))


def _check_labels(labels, n: int, k: int) -> np.ndarray:
    lab = np.asarray(labels)
    if lab.shape != (n,) or not np.issubdtype(lab.dtype, np.integer):
        raise ValueError(f"labels must be {n} integers, got dtype {lab.dtype} shape {lab.shape}")
    if n and (lab.min() < 0 or lab.max() >= k):
        raise ValueError(f"labels must be in 0..{k - 1}, got min {lab.min()} max {lab.max()}")
    return lab.astype(np.int64)


def fit_temperature(logits, labels, bounds: tuple[float, float] = (0.05, 20.0), iters: int = 100) -> float:
    """Temperature T minimising the mean NLL of softmax(logits / T) on held-out data.

    logits: (N, K); labels: (N,) ints. The NLL is convex in 1/T, so a golden-section search over
    1/T in [1/bounds[1], 1/bounds[0]] finds the optimum. T > 1 softens an over-confident model.
    """
    arr = np.asarray(logits, dtype=np.float64)
    if arr.ndim != 2 or len(arr) == 0:
        raise ValueError(f"logits must be a non-empty (N, K) array, got shape {arr.shape}")
    lab = _check_labels(labels, arr.shape[0], arr.shape[1])
    lo, hi = 1.0 / bounds[1], 1.0 / bounds[0]
    ratio = (np.sqrt(5.0) - 1.0) / 2.0
    a, b = lo + (1 - ratio) * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = _nll(arr, lab, a), _nll(arr, lab, b)
    for _ in range(iters):
        if fa <= fb:
            hi, b, fb = b, a, fa
            a = lo + (1 - ratio) * (hi - lo)
            fa = _nll(arr, lab, a)
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = _nll(arr, lab, b)
    return float(1.0 / ((lo + hi) / 2.0))


def expected_calibration_error(probs, labels, n_bins: int = 15) -> float:
    """ECE: sum over equal-width confidence bins of |accuracy - mean confidence| * bin share.

    probs: (N, K) probabilities; labels: (N,) ints. Confidence is the top probability; bins are
    (0, 1/n], (1/n, 2/n], ... as in Guo et al. 2017.
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or len(p) == 0:
        raise ValueError(f"probs must be a non-empty (N, K) array, got shape {p.shape}")
    lab = _check_labels(labels, p.shape[0], p.shape[1])
    conf = p.max(axis=1)
    correct = (p.argmax(axis=1) == lab).astype(np.float64)
    bins = np.clip(np.ceil(conf * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        sel = bins == b
        if sel.any():
            ece += sel.mean() * abs(correct[sel].mean() - conf[sel].mean())
    return float(ece)


def calibrate_unsure_threshold(probs, labels, target_accuracy: float = 0.9) -> float:
    """The lowest top-probability threshold whose answered predictions reach ``target_accuracy``.

    Rule: sort validation predictions by confidence (top probability of the *tempered* softmax);
    the threshold is the smallest confidence t such that the predictions with confidence >= t are
    right at least ``target_accuracy`` of the time. Answers below t become "unsure". If every
    prediction is that accurate, t is the lowest confidence seen (nothing on validation is unsure);
    if no threshold reaches the target, 1.0 is returned (everything unsure) with a warning.
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or len(p) == 0:
        raise ValueError(f"probs must be a non-empty (N, K) array, got shape {p.shape}")
    if not 0.0 < target_accuracy <= 1.0:
        raise ValueError(f"target_accuracy must be in (0, 1], got {target_accuracy!r}")
    lab = _check_labels(labels, p.shape[0], p.shape[1])
    conf = p.max(axis=1)
    correct = p.argmax(axis=1) == lab
    order = np.argsort(-conf, kind="stable")
    conf, correct = conf[order], correct[order]
    answered_acc = np.cumsum(correct) / np.arange(1, len(conf) + 1)  # accuracy of the top-i confident
    # Ties: a threshold t answers every prediction with conf >= t, so only the last of equal confidences counts.
    last_of_tie = np.append(conf[1:] != conf[:-1], True)
    ok = np.nonzero((answered_acc >= target_accuracy) & last_of_tie)[0]
    if len(ok) == 0:
        logger.warning("no confidence threshold reaches %.0f%% accuracy on this data; every answer will be 'unsure'",
                       100 * target_accuracy)
        return 1.0
    return float(conf[ok[-1]])


def _as_list(images) -> list:
    if isinstance(images, (list, tuple)):
        return list(images)
    if isinstance(images, np.ndarray) and images.ndim == 4:
        return list(images)  # a batch of HxWxC (or CxHxW) arrays
    return [images]


def preprocess(images, size: int, mean, std) -> np.ndarray:
    """One image or a list (PIL of any mode, path, bytes, array) -> float32 (B, 3, size, size).

    Each goes through cats.images.load_image (EXIF, first frame, RGB, downscale, decompression
    guard) and to_classifier_array (centre square, bilinear resize, (x - mean) / std).
    """
    batch = _as_list(images)
    if not batch:
        raise ValueError("no images given: pass one image or a non-empty list")
    return np.stack([to_classifier_array(load_image(img), size, mean, std) for img in batch])


def classify(classifier, images, top_k: int = 3, tta: bool = False, batch_size: int = 64) -> list[ClassifyResult]:
    """PyTorch path: images -> one ClassifyResult each, using the classifier's config.

    classifier: a cats.models.classifier.CatClassifier (config gives image_size, mean, std,
    temperature, unsure_threshold; ``classifier.ood`` the familiarity statistics, if fitted).
    tta=True also runs the horizontally flipped image and averages the two logit (and feature)
    vectors before the tempered softmax and the familiarity score.
    """
    import torch  # imported here: cats.classify also serves the ONNX path, which has no torch

    cfg = classifier.config
    arr = preprocess(images, cfg.image_size, cfg.mean, cfg.std)  # (B, 3, S, S)
    param = next(classifier.parameters())
    was_training = classifier.training
    classifier.eval()
    chunks, feature_chunks = [], []
    try:
        with torch.no_grad():
            for start in range(0, len(arr), batch_size):
                x = torch.from_numpy(arr[start:start + batch_size]).to(param.device, param.dtype)
                logits, features = classifier.forward_with_features(x)  # (b, 13), (b, D)
                if tta:
                    flipped = classifier.forward_with_features(torch.flip(x, dims=[3]))
                    logits, features = 0.5 * (logits + flipped[0]), 0.5 * (features + flipped[1])
                chunks.append(logits.float().cpu().numpy())
                feature_chunks.append(features.float().cpu().numpy())
    finally:
        classifier.train(was_training)
    ood = getattr(classifier, "ood", None)
    return results_from_logits(np.concatenate(chunks), cfg.temperature, cfg.unsure_threshold, top_k,
                               features=np.concatenate(feature_chunks) if ood is not None else None, ood=ood)
