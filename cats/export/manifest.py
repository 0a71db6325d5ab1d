"""Writing the export manifest (``manifest.json``): every fact a client needs, written once.

Schema: docs/ARCHITECTURE.md, "Manifest". The Python ONNX pipeline, the Gradio app and the web
client read it (``cats.onnx.manifest``); none of them retypes breeds, ids, sizes, normalisation
or the schedule.
"""

from __future__ import annotations

import json
from pathlib import Path

import onnx

from cats.breeds import BREEDS, CLASSIFIER_LABELS, NULL_ID, OTHER_ID
from cats.flow import SIGMA_MIN
from cats.onnx.manifest import FORMAT, GOLDEN, MANIFEST, VERSION, sha256
from cats.schedule import NUM_TRAIN_TIMESTEPS, flow_sigmas

MANIFEST_STEPS = (4, 8, 20, 50)  # step counts whose exact sigmas the manifest lists

_DTYPES = {onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.FLOAT16: "float16",
           onnx.TensorProto.INT64: "int64", onnx.TensorProto.INT32: "int32", onnx.TensorProto.UINT8: "uint8"}


def file_entry(path: Path) -> dict:
    """{"file", "sha256", "bytes"} of a graph file (file name relative to the manifest)."""
    path = Path(path)
    return {"file": path.name, "sha256": sha256(path), "bytes": path.stat().st_size}


def io_specs(values) -> list[dict]:
    """Graph inputs/outputs -> [{"name", "shape" (ints, "batch" for the dynamic dim), "dtype"}]."""
    specs = []
    for v in values:
        t = v.type.tensor_type
        shape = [d.dim_param if d.dim_param else int(d.dim_value) for d in t.shape.dim]
        specs.append({"name": v.name, "shape": shape, "dtype": _DTYPES.get(t.elem_type, str(t.elem_type))})
    return specs


def graph_io(model: onnx.ModelProto) -> tuple[list[dict], list[dict]]:
    return io_specs(model.graph.input), io_specs(model.graph.output)


def scheduler_entry(shift: float) -> dict:
    return {"name": "FlowMatchEulerDiscreteScheduler", "shift": float(shift),
            "num_train_timesteps": NUM_TRAIN_TIMESTEPS,
            "sigmas": {str(n): [float(s) for s in flow_sigmas(n, shift)] for n in MANIFEST_STEPS}}


def guide_entry(guide) -> dict | None:
    """The generator block's "guide": the guide network inside the step graph (autoguidance), or None."""
    if guide is None:
        return None
    cfg = guide.config
    return {"hidden_size": int(cfg.hidden_size), "depth": int(cfg.depth), "prediction_type": cfg.prediction_type,
            "parameters": int(sum(p.numel() for p in guide.parameters())), "input": "autoguidance_scale",
            "off": 1.0}


def generator_entry(transformer, shift: float, defaults: dict, model: onnx.ModelProto, guide=None) -> dict:
    """The "generator" block, without its variants (added as each one is measured). With a guide network, the
    step graph holds it and takes ``autoguidance_scale`` (1 = off), and ``defaults`` has its default."""
    cfg = transformer.config
    inputs, outputs = graph_io(model)
    return {"image_size": int(cfg.sample_size), "channels": int(cfg.in_channels), "layout": "NCHW",
            "pixel_range": [-1, 1], "prediction_type": cfg.prediction_type, "sigma_min": SIGMA_MIN,
            "scheduler": scheduler_entry(shift), "defaults": defaults, "guide": guide_entry(guide),
            "inputs": inputs, "outputs": outputs, "variants": {}, "rejected_variants": {},
            "default_variant": "fp32"}  # the exporter sets the served one


def classifier_entry(classifier, model: onnx.ModelProto) -> dict:
    """The "classifier" block, without its variants."""
    cfg = classifier.config
    inputs, outputs = graph_io(model)
    return {"labels": list(CLASSIFIER_LABELS), "other_id": OTHER_ID, "backbone": cfg.backbone,
            "image_size": int(cfg.image_size), "mean": [float(m) for m in cfg.mean],
            "std": [float(s) for s in cfg.std], "pixel_scale": [0, 1],
            "crop": "center_square", "resize": "bilinear",
            "temperature": float(cfg.temperature), "unsure_threshold": float(cfg.unsure_threshold),
            # the familiarity statistics (cats.ood.OodStats.to_manifest), null when none were fitted
            "ood": classifier.ood.to_manifest() if getattr(classifier, "ood", None) is not None else None,
            "inputs": inputs, "outputs": outputs, "variants": {}, "rejected_variants": {},
            "default_variant": "fp32"}  # the exporter sets the served one


def new_manifest(weights: dict, generator: dict, classifier: dict | None, generator_fast: dict | None = None) -> dict:
    """generator_fast: the few-step graph's block (``cats.export.fast``), null when there is no student."""
    return {"format": FORMAT, "version": VERSION, "weights": weights, "breeds": list(BREEDS), "null_id": NULL_ID,
            "generator": generator, "classifier": classifier, "generator_fast": generator_fast, "golden": GOLDEN}


def write_manifest(manifest: dict, out_dir: Path) -> Path:
    path = Path(out_dir) / MANIFEST
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    return path
