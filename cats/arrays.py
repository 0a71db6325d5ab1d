"""Float32 arrays in JSON, exactly: ``{"dtype": "float32", "shape": [...], "base64": <little-endian bytes>}``.

The export manifest (the familiarity statistics) and the golden fixtures store arrays this way; a
JavaScript client decodes them into a Float32Array. NumPy only, on the bottom floor.
"""

from __future__ import annotations

import base64

import numpy as np


def encode_array(arr: np.ndarray) -> dict:
    """float32 array -> {"dtype", "shape", "base64"} (exact, little-endian)."""
    a = np.ascontiguousarray(arr, dtype="<f4")
    return {"dtype": "float32", "shape": list(a.shape), "base64": base64.b64encode(a.tobytes()).decode("ascii")}


def decode_array(obj: dict) -> np.ndarray:
    if obj.get("dtype") != "float32":
        raise ValueError(f"golden arrays are float32, got {obj.get('dtype')!r}")
    return np.frombuffer(base64.b64decode(obj["base64"]), dtype="<f4").reshape(obj["shape"]).astype(np.float32)
