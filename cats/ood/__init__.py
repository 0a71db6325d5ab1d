"""How familiar a picture is to the classifier: an out-of-distribution score from its own features.

NumPy only (no torch), so ``cats.classify`` and the torch-free ONNX pipeline share it; the web client's
``src/lib/ood.ts`` mirrors ``OodStats.score``. The score, fitted once per classifier:

  f      = global average of the output of one backbone stage (``CatClassifier.ood_layer``; the ONNX
           classifier graph returns it as its ``features`` output), shape (D,)
  t      = sqrt(max(f, 0))                   # power normalisation: pooled ReLU outputs are skewed
  z      = t @ whitener                      # whitener W: W W^T = inverse of the shared covariance
  score  = min over classes c of ||z - class_means[c]||^2   # squared Mahalanobis distance to the nearest class
  unfamiliar  <=>  score > threshold

Class means and the within-class covariance (shared by all 13 classes, shrunk towards a multiple of
the identity so that it inverts stably) come from the training split; the threshold is the smallest
score that at least ``tpr`` (95%) of the validation split stays at or under. Why this feature and
not the penultimate one, and the comparison with energy, max-softmax and k-NN scores:
docs/OOD.md (``python -m cats.evaluation.ood compare``).

NumPy only, on the floor below the models and pipelines: ``score.py`` (``OodStats``: what serving
needs), ``fit.py`` (fitting it), ``probes.py`` (pictures unlike any training data, for measuring it).
``python -m cats.evaluation.ood fit --model DIR|synthcats --data synthcats`` refits an existing
classifier and writes ``ood.safetensors`` beside its weights (the threshold and layer also go into
config.json); ``cats.training.ood_features`` holds the torch side (a CatClassifier's features).
"""

from cats.ood.fit import auroc, fit, fit_gaussian, threshold_at
from cats.ood.score import DEFAULT_SHRINKAGE, DEFAULT_TPR, METHOD, OOD_FILE, TRANSFORM, OodStats, transform

__all__ = ["DEFAULT_SHRINKAGE", "DEFAULT_TPR", "METHOD", "OOD_FILE", "TRANSFORM", "OodStats", "auroc", "fit",
           "fit_gaussian", "threshold_at", "transform"]
