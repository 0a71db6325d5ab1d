"""The int8 generator variant: 8-bit MatMuls where they cost least accuracy, float where they hurt.

Measured on the bundled ``tiny`` generator: one dynamic quantisation of every MatMul and Gemm
(``quantize_dynamic``, per-tensor activations) gave a velocity relative RMS of 2.2% and a 20-step
image relative RMS of 5.4%, over the 2% / 3% budget. Three findings shape this scheme:

* the Gemms (adaLN modulation, timestep and class embedders) run on one conditioning vector per
  image, so 8 bits save no time there, and quantising them alone cost a 1.9% image error: their
  weights stay float (stored as fp16 + Cast, like the fp16 variant);
* per-tensor 8-bit activations lose the channels that the adaLN scale blows up; SmoothQuant
  (Xiao et al. 2023) moves that range into the weights: per input channel j,
  ``s_j = sqrt(max|a_j| / max|W_j|)``, ``W <- diag(s) W`` and ``a <- a / s`` (one Mul);
* a few layers dominate the error (the final projection to pixels most: it writes the predicted
  image directly); they are found by measurement and kept in float.

Steps, all on the fp32 graph and onnxruntime: a 20-step calibration sampling run from fixed noise
and breeds that the parity check does not use; per-channel activation ranges from it; each weight
MatMul smoothed and quantised alone and ranked by the error of its 20-step calibration image; then
all of them quantised, and the most sensitive put back to float (unsmoothed) one at a time until
the calibration errors are within ``CALIBRATION_MARGIN`` of the budget. The exporter's parity
check against PyTorch then decides, as for every variant, whether the file is written.

Quantised MatMuls: weights int8 per output column with 7-bit values (-63..63), so a uint8 x int8
pair cannot saturate the 16-bit intermediate that AVX2 CPUs without VNNI use (full-range signed
weights gave about 25% error on such a CPU); activations ``DynamicQuantizeLinear`` (uint8, per
tensor, per call) -> ``MatMulInteger`` -> float scale, the pattern onnxruntime fuses into one
``DynamicQuantizeMatMul`` on x86 (VNNI/AMX kernels where the CPU has them).
"""

from __future__ import annotations

import ast
import json

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from cats.breeds import NUM_SLOTS
from cats.export.graphs import NAME_SCOPES
from cats.export.parity import PARITY_SIGMAS, rel_rms, session, step_feed
from cats.export.precision import to_fp16_weights
from cats.schedule import flow_sigmas

WEIGHT_MAX = 63  # 7-bit weights: u8 x s8 pairs stay inside int16 on AVX2 without VNNI
SMOOTH_ALPHA = 0.5
CALIBRATION_MARGIN = 0.7  # stop when calibration errors are within 70% of the budget
CALIBRATION_SEED = 8128  # not the parity seed: the selection is checked on data it did not see
CALIBRATION_STEPS = 20
CALIBRATION_ROWS = ({0: 1.0}, {2: 1.0}, {4: 1.0}, {6: 1.0}, {8: 1.0}, {10: 1.0},  # breed id -> weight
                    {3: 0.5, 9: 0.5}, {12: 1.0})  # a blend and the unconditional slot
METADATA_KEY = "tiny_cats.quantization"


class Calibration:
    """Calibration data, the fp32 graph's outputs on it, and the errors of any other graph against them.

    The errors are those of the exporter's budget (velocity at PARITY_SIGMAS from noise, and a
    20-step image) on other noise and breeds; activation ranges come from the fp32 states of the
    20-step sampling run.
    """

    def __init__(self, fp32: onnx.ModelProto, guidance_scale, shift: float):
        dims = fp32.graph.input[0].type.tensor_type.shape.dim  # sample: (batch, C, H, W)
        channels, size = dims[1].dim_value, dims[2].dim_value
        self.weights = np.zeros((len(CALIBRATION_ROWS), NUM_SLOTS), np.float32)
        for row, mix in enumerate(CALIBRATION_ROWS):
            for slot, w in mix.items():
                self.weights[row, slot] = w
        rng = np.random.default_rng(CALIBRATION_SEED)
        shape = (len(CALIBRATION_ROWS), channels, size, size)
        self.noise = rng.standard_normal(shape).astype(np.float32)
        self.velocity_feeds = [step_feed(rng.standard_normal(shape).astype(np.float32), sigma, sigma - 1.0,
                                         self.weights, guidance_scale) for sigma in PARITY_SIGMAS]
        self.sigmas = flow_sigmas(CALIBRATION_STEPS, shift)
        self.guidance_scale = guidance_scale  # a number or the graph's guidance inputs (parity.guidance_feeds)
        sess = session(fp32.SerializeToString())
        self.feeds, x = [], self.noise  # the fp32 trajectory: activation ranges come from its states
        for i in range(len(self.sigmas) - 1):
            self.feeds.append(step_feed(x, self.sigmas[i], self.sigmas[i + 1], self.weights, self.guidance_scale))
            x = sess.run(["next_sample"], self.feeds[-1])[0]
        self.reference = self._outputs(sess)

    def _outputs(self, sess) -> dict[str, np.ndarray]:
        velocity = [f["sample"] - sess.run(["next_sample"], f)[0] for f in self.velocity_feeds]
        x = self.noise
        for i in range(len(self.sigmas) - 1):
            x = sess.run(["next_sample"], step_feed(x, self.sigmas[i], self.sigmas[i + 1], self.weights,
                                                self.guidance_scale))[0]
        return {"velocity": np.stack(velocity), "image": x}

    def errors(self, model: onnx.ModelProto) -> dict[str, float]:
        got = self._outputs(session(model.SerializeToString()))
        return {"velocity_rel_rms": rel_rms(got["velocity"], self.reference["velocity"]),
                f"image{CALIBRATION_STEPS}_rel_rms": rel_rms(got["image"], self.reference["image"])}


def _initializers(model: onnx.ModelProto) -> dict[str, onnx.TensorProto]:
    return {i.name: i for i in model.graph.initializer}


def weight_matmuls(model: onnx.ModelProto) -> list[str]:
    """Names of the MatMul nodes whose second input is a constant 2-D float weight."""
    inits = _initializers(model)
    return [n.name for n in model.graph.node if n.op_type == "MatMul" and n.input[1] in inits
            and len(inits[n.input[1]].dims) == 2 and inits[n.input[1]].data_type == TensorProto.FLOAT]


def layer_name(node: onnx.NodeProto) -> str:
    """The torch module a node came from (the exporter's name-scope metadata), else the node name."""
    for prop in node.metadata_props:
        if prop.key == NAME_SCOPES:
            scopes = ast.literal_eval(prop.value)
            if len(scopes) >= 2 and scopes[-2]:
                return scopes[-2]
    return node.name


def activation_ranges(model: onnx.ModelProto, names: list[str], feeds) -> dict[str, np.ndarray]:
    """Per-channel max |input| of each named MatMul over the feeds: {node name: (K,)}."""
    nodes = {n.name: n for n in model.graph.node}
    tensors = sorted({nodes[name].input[0] for name in names})
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    probe.graph.output.extend(helper.make_tensor_value_info(t, TensorProto.FLOAT, None) for t in tensors)
    sess = session(probe.SerializeToString())
    ranges: dict[str, np.ndarray] = {}
    for feed in feeds:
        for t, value in zip(tensors, sess.run(tensors, feed)):
            m = np.abs(value).reshape(-1, value.shape[-1]).max(axis=0)
            ranges[t] = m if t not in ranges else np.maximum(ranges[t], m)
    return {name: ranges[nodes[name].input[0]] for name in names}


def smooth(model: onnx.ModelProto, ranges: dict[str, np.ndarray], alpha: float = SMOOTH_ALPHA) -> onnx.ModelProto:
    """SmoothQuant: for each named MatMul, W <- diag(s) W and its input <- input / s (a new Mul node).

    The function is unchanged (up to float rounding); the per-channel ranges of the input become
    even, so a per-tensor 8-bit scale loses less.
    """
    out = onnx.ModelProto()
    out.CopyFrom(model)
    inits = _initializers(out)
    nodes = []
    for node in out.graph.node:
        if node.name in ranges:
            w = numpy_helper.to_array(inits[node.input[1]])  # (K, N)
            a_max = np.maximum(ranges[node.name], 1e-5)
            w_max = np.maximum(np.abs(w).max(axis=1), 1e-5)
            s = (a_max ** alpha / w_max ** (1.0 - alpha)).astype(np.float32)  # (K,)
            inits[node.input[1]].CopyFrom(numpy_helper.from_array((w * s[:, None]).astype(np.float32), node.input[1]))
            inv = numpy_helper.from_array((1.0 / s).astype(np.float32), f"{node.name}__smooth_inv")
            out.graph.initializer.append(inv)
            smoothed = f"{node.input[0]}__smoothed_for_{node.name}"
            nodes.append(helper.make_node("Mul", [node.input[0], inv.name], [smoothed], name=f"{node.name}__smooth"))
            node.input[0] = smoothed
        nodes.append(node)
    del out.graph.node[:]
    out.graph.node.extend(nodes)
    return out


def quantize_matmuls(model: onnx.ModelProto, names) -> onnx.ModelProto:
    """Replace each named weight MatMul by DynamicQuantizeLinear -> MatMulInteger -> Cast -> scale.

    Weights: symmetric int8 per output column, values -WEIGHT_MAX..WEIGHT_MAX.
    """
    names = set(names)
    out = onnx.ModelProto()
    out.CopyFrom(model)
    inits = _initializers(out)
    nodes, drop = [], set()
    for node in out.graph.node:
        if node.name not in names:
            nodes.append(node)
            continue
        a, w_name, y = node.input[0], node.input[1], node.output[0]
        w = numpy_helper.to_array(inits[w_name]).astype(np.float64)  # (K, N)
        scale = np.maximum(np.abs(w).max(axis=0), 1e-12) / WEIGHT_MAX  # (N,)
        q = np.clip(np.round(w / scale), -WEIGHT_MAX, WEIGHT_MAX).astype(np.int8)
        p = f"{node.name}__int8"
        out.graph.initializer.extend([numpy_helper.from_array(q, f"{p}_w"),
                                      numpy_helper.from_array(scale.astype(np.float32), f"{p}_w_scale")])
        drop.add(w_name)
        nodes += [helper.make_node("DynamicQuantizeLinear", [a], [f"{p}_a", f"{p}_a_scale", f"{p}_a_zero"],
                                   name=f"{p}_quantize"),
                  helper.make_node("MatMulInteger", [f"{p}_a", f"{p}_w", f"{p}_a_zero"], [f"{p}_y_int"],
                                   name=f"{p}_matmul"),
                  helper.make_node("Cast", [f"{p}_y_int"], [f"{p}_y_float"], to=TensorProto.FLOAT, name=f"{p}_cast"),
                  helper.make_node("Mul", [f"{p}_a_scale", f"{p}_w_scale"], [f"{p}_scale"], name=f"{p}_scales"),
                  helper.make_node("Mul", [f"{p}_y_float", f"{p}_scale"], [y], name=f"{p}_rescale")]
    still_used = {i for n in nodes for i in n.input}
    kept = [i for i in out.graph.initializer if i.name not in drop or i.name in still_used]
    del out.graph.initializer[:]
    out.graph.initializer.extend(kept)
    del out.graph.node[:]
    out.graph.node.extend(nodes)
    return out


def float_weights(model: onnx.ModelProto) -> list[str]:
    """Initializer names of the float weights (second input) of MatMul and Gemm nodes."""
    inits = _initializers(model)
    return sorted({n.input[1] for n in model.graph.node if n.op_type in ("MatMul", "Gemm")
                   and n.input[1] in inits and inits[n.input[1]].data_type == TensorProto.FLOAT})


def make_int8(fp32: onnx.ModelProto, guidance_scale: float, shift: float, budget: dict[str, float],
              alpha: float = SMOOTH_ALPHA, log=print) -> onnx.ModelProto | None:
    """The int8 variant of a generator step graph, or None when no MatMul can be quantised in budget.

    budget: the exporter's int8 budget ({"velocity_rel_rms": .., "image20_rel_rms": ..}); the
    selection aims at CALIBRATION_MARGIN of it on calibration data. The chosen scheme (layers kept
    in float, calibration errors) is recorded in the model's metadata under METADATA_KEY.
    """
    cal = Calibration(fp32, guidance_scale, shift)
    candidates = weight_matmuls(fp32)
    if not candidates:
        raise RuntimeError("int8: the graph has no MatMul with a constant weight to quantise")
    ranges = activation_ranges(fp32, candidates, cal.feeds)

    def build(names: list[str]) -> onnx.ModelProto:  # smooth and quantise these MatMuls; the rest stay as they are
        return quantize_matmuls(smooth(fp32, {n: ranges[n] for n in names}, alpha), names)

    image_key = f"image{CALIBRATION_STEPS}_rel_rms"
    sensitivity = {name: cal.errors(build([name]))[image_key] for name in candidates}
    order = sorted(candidates, key=lambda n: -sensitivity[n])  # most sensitive first
    targets = {k: CALIBRATION_MARGIN * v for k, v in budget.items() if k in ("velocity_rel_rms", image_key)}
    layers = {n.name: layer_name(n) for n in fp32.graph.node}
    for kept in range(len(order)):
        model = build(order[kept:])
        errors = cal.errors(model)
        if all(errors[k] <= limit for k, limit in targets.items()):
            break
    else:
        log(f"int8: even with only {layers[order[-1]]} quantised the calibration errors are over "
            f"{CALIBRATION_MARGIN:.0%} of the budget")
        return None
    model = to_fp16_weights(model, only=float_weights(model))
    scheme = {"scheme": f"SmoothQuant (alpha {alpha:.2f}) + dynamic uint8 activations x 7-bit int8 per-column weights",
              "int8_layers": [layers[n] for n in order[kept:]],
              "float_layers": [layers[n] for n in order[:kept]] + ["every Gemm (conditioning)"],
              "float_weights_stored_as": "fp16",
              "calibration_errors": errors, "calibration_target": targets}
    log(f"int8: {len(order) - kept} of {len(order)} weight MatMuls in 8 bits; kept in float (most sensitive "
        f"first): {', '.join(layers[n] for n in order[:kept]) or 'none'}; calibration "
        + ", ".join(f"{k} {v:.4f}" for k, v in errors.items()))
    onnx.helper.set_model_props(model, {**{p.key: p.value for p in model.metadata_props},
                                        METADATA_KEY: json.dumps(scheme)})
    onnx.checker.check_model(model, full_check=True)
    return model


def scheme_of(model: onnx.ModelProto) -> dict | None:
    """The quantisation scheme recorded by ``make_int8`` (None for other graphs)."""
    for prop in model.metadata_props:
        if prop.key == METADATA_KEY:
            return json.loads(prop.value)
    return None
