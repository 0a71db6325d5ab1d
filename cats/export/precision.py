"""Precision variants of an fp32 graph: fp16-stored weights and 8-bit weights.

Both keep float32 inputs and outputs, so a client feeds every variant the same tensors.

* ``fp16``: every large float32 initializer is stored as float16 and followed by a ``Cast`` to
  float32. Half the file size, the same fp32 arithmetic (a full fp16 conversion runs slower than
  fp32 on onnxruntime's CPU provider); ``Cast`` runs everywhere, onnxruntime-web included.
* ``int8``: dynamic quantisation of every ``MatMul``/``Gemm`` weight to unsigned 8 bits
  (``DynamicQuantizeLinear`` + ``MatMulInteger``, both run in onnxruntime-web's WASM backend): a
  quarter of the fp32 size at fp32 speed. Measured on a perturbed ``tiny`` model (velocity
  relative RMS): uint8 0.94%, reduced range 0.99%; weight-only ``MatMulNBits`` (8 bits, block 32)
  was more accurate (0.18%) but twice the size (Gemm weights stay fp32) and ~1.6x slower per step.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

PRECISIONS = ("fp32", "fp16", "int8")
FP16_MIN_ELEMENTS = 16  # tiny tensors (scalars, shapes) are not worth a Cast
FP16_MAX = 65504.0


def check_precisions(precisions) -> tuple[str, ...]:
    """Validate a list like ["fp32", "int8"] (fp32 is always exported: it is the reference)."""
    chosen = tuple(dict.fromkeys(precisions))
    bad = [p for p in chosen if p not in PRECISIONS]
    if bad or not chosen:
        raise ValueError(f"unknown precision(s) {bad or chosen!r}: choose from {', '.join(PRECISIONS)}")
    return chosen if "fp32" in chosen else ("fp32",) + chosen


def to_fp16_weights(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``model`` whose large float32 initializers are stored as float16 + Cast to float32.

    Tensors that would overflow float16 stay float32. Inputs, outputs and arithmetic are unchanged.
    """
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    kept, casts = [], []
    for init in graph.initializer:
        arr = numpy_helper.to_array(init) if init.data_type == TensorProto.FLOAT else None
        if arr is None or arr.size < FP16_MIN_ELEMENTS or np.abs(arr).max(initial=0.0) > FP16_MAX:
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


def to_int8_weights(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``model`` with unsigned 8-bit MatMul/Gemm weights (dynamic quantisation, per tensor).

    Unsigned weights on purpose: with signed int8 weights, AVX2 CPUs without VNNI overflow a 16-bit
    intermediate (u8 x s8 pairs) and the error reached ~25% (DESIGN.md facts).
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        onnx.save(model, str(src))
        with _quiet_preprocess_hint():
            quantize_dynamic(str(src), str(dst), weight_type=QuantType.QUInt8, per_channel=False, reduce_range=False,
                             op_types_to_quantize=["MatMul", "Gemm"])
        out = onnx.load(str(dst))
    if not any(n.op_type == "MatMulInteger" for n in out.graph.node):
        raise RuntimeError("int8: the graph has no MatMul/Gemm with a constant weight to quantise")
    onnx.checker.check_model(out, full_check=True)
    return out


class _DropHint(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()


@contextlib.contextmanager
def _quiet_preprocess_hint():
    """quantize_dynamic logs a generic "consider pre-processing" hint on the root logger; the graph is
    already shape-inferred and optimised by the exporter, so the hint is noise here."""
    hint = _DropHint()
    root = logging.getLogger()
    root.addFilter(hint)
    try:
        yield
    finally:
        root.removeFilter(hint)


def make_variant(fp32: onnx.ModelProto, precision: str) -> onnx.ModelProto:
    """The ``precision`` variant ("fp32" | "fp16" | "int8") of an fp32 graph."""
    if precision == "fp32":
        return fp32
    if precision == "fp16":
        return to_fp16_weights(fp32)
    if precision == "int8":
        return to_int8_weights(fp32)
    raise ValueError(f"unknown precision {precision!r}: choose from {', '.join(PRECISIONS)}")
