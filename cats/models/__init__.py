"""The networks: ``CatDiT`` (generator, ``cats.models.dit``) and ``CatClassifier`` (``cats.models.classifier``).

Loaded on first use (PEP 562) so importing one does not import the other's dependencies.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "CatDiT": "cats.models.dit",
    "PRESETS": "cats.models.dit",
    "get_preset": "cats.models.dit",
    "CatClassifier": "cats.models.classifier",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'cats.models' has no attribute {name!r}")
