"""The int8 generator variant (cats.export.int8) and the export twin of the transformer (cats.export.graphs).

Graphs come from the same perturbed ``micro`` pipeline as tests/test_export.py, exported once here.
"""

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from test_export import make_test_pipeline

from cats.export.exporter import write_variants
from cats.export.graphs import ExportAttention, GeneratorStep, export_friendly, export_generator
from cats.export.int8 import (
    WEIGHT_MAX,
    Calibration,
    activation_ranges,
    layer_name,
    make_int8,
    quantize_matmuls,
    scheme_of,
    smooth,
    weight_matmuls,
)
from cats.export.parity import GeneratorReference, case_weights, session, step_feed
from cats.models.dit import Attention

BUDGET = {"velocity_rel_rms": 0.02, "image20_rel_rms": 0.03}


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    pipe = make_test_pipeline()
    path = tmp_path_factory.mktemp("int8") / "generator.fp32.onnx"
    return pipe, export_generator(pipe.transformer.eval(), path)


def _feed(batch=2, sigma=0.6):
    x = np.random.default_rng(5).standard_normal((batch, 3, 32, 32)).astype(np.float32)
    return step_feed(x, sigma, sigma - 1.0, case_weights()[:batch], 3.0)


def _run(model, feed):
    return session(model.SerializeToString()).run(["next_sample"], feed)[0]


def _rel(a, b):
    return float(np.sqrt(((a - b) ** 2).sum() / (b ** 2).sum()))


def test_export_twin_computes_the_same_function_and_leaves_the_model_alone(graph):
    pipe, _ = graph
    model = pipe.transformer.eval()
    twin = export_friendly(model)
    x = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    t, w = torch.tensor([50.0, 500.0, 950.0]), torch.softmax(torch.randn(3, 13), dim=-1)
    with torch.no_grad():
        ref, got = model(x, t, w), twin(x, t, w)
    assert ref.abs().max() > 1e-2  # not the adaLN-Zero all-zero output
    assert (got - ref).abs().max() < 1e-5
    assert all(type(b.attn) is ExportAttention for b in twin.blocks)
    assert all(type(b.attn) is Attention for b in model.blocks)  # the PyTorch model keeps SDPA and fused GELU
    assert isinstance(model.blocks[0].mlp[1], torch.nn.GELU)


def test_onnxruntime_fuses_the_exported_gelu_and_attention_scale(graph, tmp_path):
    _, fp32 = graph
    opts = ort.SessionOptions()
    opts.optimized_model_filepath = str(tmp_path / "optimised.onnx")
    ort.InferenceSession(fp32.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    ops = [n.op_type for n in onnx.load(str(tmp_path / "optimised.onnx")).graph.node]
    depth = len(make_test_pipeline().transformer.blocks)
    assert ops.count("FastGelu") == depth and "Tanh" not in ops  # one fused kernel per block
    assert ops.count("FusedMatMul") == depth  # Q K^T with the 1/sqrt(Dh) scale folded in
    shape_ops = [n for n in fp32.graph.node if ".attn" in layer_name(n) and n.op_type in ("Shape", "Slice", "Concat")]
    assert not shape_ops  # the SDPA decomposition's K^T chain is gone


def test_smoothing_keeps_the_function_and_evens_the_input_ranges(graph):
    pipe, fp32 = graph
    cal = Calibration(fp32, 3.0, 1.5)
    names = weight_matmuls(fp32)
    assert len(names) == 2 + 4 * len(pipe.transformer.blocks)  # patch embed, 4 per block, final linear
    ranges = activation_ranges(fp32, names, cal.feeds)
    smoothed = smooth(fp32, ranges)
    feed = _feed()
    assert _rel(_run(smoothed, feed), _run(fp32, feed)) < 1e-5
    after = activation_ranges(smoothed, names, cal.feeds)  # the inputs of the MatMuls are now a / s
    spread = lambda r: float(np.mean([v.max() / max(np.median(v), 1e-6) for v in r.values()]))  # noqa: E731
    assert spread(after) < spread(ranges)


def test_quantised_matmuls_use_7_bit_weights_and_stay_close(graph):
    _, fp32 = graph
    names = weight_matmuls(fp32)
    q = quantize_matmuls(fp32, names)
    assert sum(n.op_type == "MatMulInteger" for n in q.graph.node) == len(names)
    assert not [n for n in q.graph.node if n.op_type == "MatMul" and n.name in names]
    weights = [onnx.numpy_helper.to_array(i) for i in q.graph.initializer if i.data_type == onnx.TensorProto.INT8]
    assert len(weights) == len(names) and max(np.abs(w).max() for w in weights) == WEIGHT_MAX
    feed = _feed()
    err = _rel(_run(q, feed), _run(fp32, feed))
    assert 1e-5 < err < 0.05  # it is quantised, and not wrecked


def test_make_int8_meets_its_calibration_target_and_records_the_scheme(graph):
    pipe, fp32 = graph
    model = make_int8(fp32, 3.0, 1.5, BUDGET, log=lambda *_: None)
    info = scheme_of(model)
    assert all(info["calibration_errors"][k] <= v for k, v in info["calibration_target"].items())
    assert sum(n.op_type == "MatMulInteger" for n in model.graph.node) == len(info["int8_layers"]) > 0
    # every float weight left is stored as fp16 (the Gemms of the conditioning path included)
    inits = {i.name: i.data_type for i in model.graph.initializer}
    gemm_weights = [n.input[1] for n in model.graph.node if n.op_type == "Gemm"]
    assert gemm_weights and all(inits.get(w + "__fp16") == onnx.TensorProto.FLOAT16 for w in gemm_weights)
    # the parity check on other inputs agrees with the calibration
    errors = GeneratorReference(GeneratorStep(pipe.transformer).eval(), 3.0, 1.5).errors(
        session(model.SerializeToString()))
    assert errors["velocity_rel_rms"] <= BUDGET["velocity_rel_rms"]


def test_int8_that_cannot_meet_its_budget_is_not_written_and_says_why(graph, tmp_path, capsys):
    pipe, fp32 = graph
    assert make_int8(fp32, 3.0, 1.5, {"velocity_rel_rms": 1e-9}, log=print) is None
    assert "calibration errors are over" in capsys.readouterr().out
    stale = tmp_path / "generator.int8.onnx"
    stale.write_bytes(b"old export")
    entry = {"variants": {}, "rejected_variants": {}}
    reference = GeneratorReference(GeneratorStep(pipe.transformer).eval(), 3.0, 1.5, image_steps=4)
    write_variants(entry, fp32, "generator", ("int8",), reference.errors, {"int8": {"velocity_rel_rms": 1e-9}},
                   tmp_path, int8_args={"guidance_scale": 3.0, "shift": 1.5})
    assert not stale.exists() and not entry["variants"]
    assert "no layer could be quantised" in entry["rejected_variants"]["int8"]["reason"]
    assert "generator int8: NOT written" in capsys.readouterr().out
