"""Precision variants of an fp32 graph: fp16-stored weights and 8-bit weights.

Both keep float32 inputs and outputs, so a client feeds every variant the same tensors.

* ``fp16``: every large float32 initializer is stored as float16 and followed by a ``Cast`` to
  float32. Half the file size, the same fp32 arithmetic (a full fp16 conversion runs slower than
  fp32 on onnxruntime's CPU provider); ``Cast`` runs everywhere, onnxruntime-web included.
* ``int8`` (generator only): 8-bit dynamic quantisation of the weight MatMuls that cost least
  accuracy, chosen by measurement, the rest in float; see ``cats.export.int8``, which stores its float
  layers with ``to_fp16_weights``. Built on request only (``--precision fp32,fp16,int8``): no client
  loads it by default (docs/export.md). The exporter picks the variant's builder (``make_variant``).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

PRECISIONS = ("fp32", "fp16", "int8")
SERVED = ("fp32", "fp16")  # what `python export.py` builds by default: what the clients load (docs/export.md)
FP16_MIN_ELEMENTS = 16  # tiny tensors (scalars, shapes) are not worth a Cast
FP16_MAX = 65504.0


def check_precisions(precisions) -> tuple[str, ...]:
    """Validate a list like ["fp32", "int8"] (fp32 is always exported: it is the reference)."""
    chosen = tuple(dict.fromkeys(precisions))
    bad = [p for p in chosen if p not in PRECISIONS]
    if bad or not chosen:
        raise ValueError(f"unknown precision(s) {bad or chosen!r}: choose from {', '.join(PRECISIONS)}")
    return chosen if "fp32" in chosen else ("fp32",) + chosen


def to_fp16_weights(model: onnx.ModelProto, only=None) -> onnx.ModelProto:
    """A copy of ``model`` whose large float32 initializers are stored as float16 + Cast to float32.

    only: restrict to these initializer names (default: all). Tensors that would overflow float16
    stay float32. Inputs, outputs and arithmetic are unchanged.
    """
    only = None if only is None else set(only)
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    kept, casts = [], []
    for init in graph.initializer:
        arr = numpy_helper.to_array(init) if init.data_type == TensorProto.FLOAT else None
        skip = arr is None or (only is not None and init.name not in only)
        if skip or arr.size < FP16_MIN_ELEMENTS or np.abs(arr).max(initial=0.0) > FP16_MAX:
            kept.append(init)
            continue
        half_name = f"{init.name}__fp16"
        kept.append(numpy_helper.from_array(arr.astype(np.float16), half_name))
        casts.append(helper.make_node("Cast", [half_name], [init.name], to=TensorProto.FLOAT,
                                      name=f"{init.name}__cast_fp32"))
    del graph.initializer[:]
    graph.initializer.extend(kept)
    nodes = casts + list(graph.node)  # the Casts come first so the graph stays topologically sorted
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(out, full_check=True)
    return out

