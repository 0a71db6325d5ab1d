"""tiny-cats: generate cats of a chosen breed and tell the breed of a cat photo.

The front door: ``from cats import CatsPipeline, CatDiT, CatClassifier``. This file imports nothing
at import time, so that ``cats.onnx`` runs without torch; the torch classes are loaded on first use
(PEP 562). It is the top of the package's floors (docs/ARCHITECTURE.md, "Layers"): no module under
``cats`` imports a name from it.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "CatsPipeline": "cats.pipeline",
    "CatDiT": "cats.models.dit",
    "CatClassifier": "cats.models.classifier",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'cats' has no attribute {name!r}")
