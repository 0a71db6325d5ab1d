"""Export a CatsPipeline to ONNX: graphs, precision variants, manifest, golden fixtures; and re-check one.

``export_pipeline(pipe, out_dir)`` writes, into ``out_dir``:
  generator.{fp32,fp16}.onnx (and generator.int8.onnx on request), classifier.{fp32,fp16}.onnx,
  manifest.json, golden.json, and generator_fast.{fp32,fp16}.onnx when the pipeline has a few-step
  student (``fast_transformer``). Graph files of ``out_dir`` that this export did not write are removed.
Every variant is measured against the fp32 PyTorch model; one over its budget is not written and the
reason goes into the manifest (``rejected_variants``) and the log. ``check_export`` re-hashes the
files, re-measures every variant and replays the golden fixtures.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import onnx

from cats.export.fast import (
    FAST_BUDGETS,
    FAST_PRECISIONS,
    FastGeneratorStep,
    export_fast_generator,
    fast_entry,
    fast_reference,
    make_fast_golden,
    replay_fast_golden,
)
from cats.export.golden import make_golden, replay_golden
from cats.export.graphs import GeneratorStep, export_classifier, export_generator
from cats.export.int8 import make_int8, scheme_of
from cats.export.manifest import classifier_entry, file_entry, generator_entry, graph_io, new_manifest, write_manifest
from cats.export.parity import (
    CLASSIFIER_BUDGETS,
    GENERATOR_BUDGETS,
    GeneratorReference,
    classifier_errors,
    over_budget,
    session,
)
from cats.export.precision import PRECISIONS, SERVED, check_precisions, to_fp16_weights
from cats.onnx.manifest import GOLDEN, GRAPHS, read_golden, read_manifest, variant_path, verify_files
from cats.schedule import check_scheduler

CLASSIFIER_PRECISIONS = ("fp32", "fp16")  # int8 weight-only quantisation targets MatMul; a CNN has none


def weights_info(pipe, name: str) -> dict:
    """The manifest's "weights" block: the pipeline's name and what its config (model_index.json) records."""
    cfg = dict(pipe.config)
    return {"name": name, "trained_on": cfg.get("trained_on") or "not recorded in the weights",
            "preset": cfg.get("preset")}


def _shift(pipe) -> float:
    """The scheduler's shift, the one setting the manifest carries; any other option is refused, naming it."""
    return check_scheduler(pipe.scheduler)


def _defaults(pipe) -> dict:
    """The manifest's generator defaults; ``autoguidance_scale`` only for a pipeline with a guide network."""
    defaults = {"num_inference_steps": int(pipe.config.default_num_inference_steps),
                "guidance_scale": float(pipe.config.default_guidance_scale)}
    if _guide(pipe) is not None:
        defaults["autoguidance_scale"] = float(pipe.config.default_autoguidance_scale)
    interval = pipe.config.get("default_guidance_interval")
    if interval is not None:  # guidance only at steps starting at lo <= sigma <= hi (docs/guidance.md)
        defaults["guidance_interval"] = [float(v) for v in interval]
    return defaults


def _guide(pipe):
    """The pipeline's guide network (autoguidance), or None."""
    guide = getattr(pipe, "guide_transformer", None)
    return None if guide is None else guide.eval()


def _guidance(defaults: dict) -> dict:
    """The step graph's guidance inputs at the defaults (``cats.export.parity.guidance_feeds``)."""
    return {k: defaults[k] for k in ("guidance_scale", "autoguidance_scale") if k in defaults}


def baked_guidance(pipe) -> float:
    """The guidance the few-step student learned from its teacher's images (recorded when it was bundled)."""
    return float(pipe.config.get("fast_guidance_scale") or pipe.config.default_guidance_scale)


def make_variant(fp32: onnx.ModelProto, precision: str, int8_args: dict | None = None) -> onnx.ModelProto | None:
    """The ``precision`` variant ("fp32" | "fp16" | "int8") of an fp32 graph (``cats.export.precision``).

    int8 is for the generator step graph only and needs ``int8_args`` = {guidance_scale, shift,
    budget} (see ``cats.export.int8.make_int8``); it returns None when no layer can be quantised
    within the budget.
    """
    if precision == "fp32":
        return fp32
    if precision == "fp16":
        return to_fp16_weights(fp32)
    if precision == "int8":
        if int8_args is None:
            raise ValueError("the int8 variant needs int8_args (guidance_scale, shift, budget): generator graphs only")
        return make_int8(fp32, **int8_args)
    raise ValueError(f"unknown precision {precision!r}: choose from {', '.join(PRECISIONS)}")


def _variant_file(graph: str, precision: str) -> str:
    return f"{graph}.{precision}.onnx"


def write_variants(entry: dict, fp32: onnx.ModelProto, graph: str, precisions, measure, budgets, out_dir: Path,
                   int8_args: dict | None = None):
    """Build, measure and (if within budget) write each variant into ``entry`` (a manifest graph block).

    measure(session) -> errors dict; budgets: {precision: {error key: limit}}. A variant over its
    budget is not written (an older file of that name is removed) and the reason is printed and
    recorded under ``entry["rejected_variants"]``. An fp32 graph over budget raises RuntimeError.
    int8_args: {guidance_scale, shift} for the generator's int8 variant (its budget is added here).
    """
    for precision in precisions:
        path = out_dir / _variant_file(graph, precision)
        extra = {"budget": budgets[precision], **int8_args} if precision == "int8" and int8_args else None
        model = make_variant(fp32, precision, extra)
        if model is None:
            reason = "no layer could be quantised within the budget on the calibration data"
            print(f"{graph} {precision}: NOT written, {reason}")
            path.unlink(missing_ok=True)
            entry["rejected_variants"][precision] = {"reason": reason, "budget": budgets[precision]}
            continue
        data = model.SerializeToString()
        errors = measure(session(data))
        broken = over_budget(errors, budgets[precision])
        scheme = scheme_of(model)
        if broken:
            reason = "over budget: " + "; ".join(broken)
            if precision == "fp32":
                raise RuntimeError(f"{graph} fp32 graph does not match PyTorch ({reason}); the export is broken")
            print(f"{graph} {precision}: NOT written, {reason} (" + _fmt(errors) + ")")
            path.unlink(missing_ok=True)
            entry["rejected_variants"][precision] = {"reason": reason, "error": errors, "budget": budgets[precision],
                                                     **({"quantization": scheme} if scheme else {})}
            continue
        path.write_bytes(data)
        entry["variants"][precision] = {**file_entry(path), "precision": precision, "error": errors,
                                        "budget": budgets[precision], **({"quantization": scheme} if scheme else {})}
        print(f"{graph} {precision}: {path.name} {path.stat().st_size / 1e6:.2f} MB, " + _fmt(errors))


def _fmt(errors: dict) -> str:
    return ", ".join(f"{k} {v:.2e}" for k, v in errors.items())


def served_variant(entry: dict) -> str:
    """What clients load by default: fp16 when it passed its budget (half the download of fp32; fp16
    weights with a Cast run at fp32 speed on the CPU providers), else the fp32 reference."""
    return "fp16" if "fp16" in entry["variants"] else "fp32"


def export_pipeline(pipe, out_dir: str | Path, precisions=SERVED, name: str | None = None,
                    generator_budgets: dict | None = None, classifier_budgets: dict | None = None) -> dict:
    """Export ``pipe`` (a CatsPipeline) into ``out_dir``; returns the manifest that was written.

    precisions: any of fp32/fp16/int8 (fp32 is always written: it is the reference). Budgets
    override the defaults of ``cats.export.parity`` per variant, e.g. {"fp16": {"velocity_rel_rms": 1e-9}}.
    """
    precisions = check_precisions(precisions)
    if getattr(pipe, "vae", None) is not None:  # before any work, as the scheduler below
        raise ValueError("this pipeline is a latent generator (it has a vae): the ONNX graphs, the Gradio demo's ONNX "
                         "engine and the web client draw pixels, so it cannot be exported yet (docs/latent.md)")
    shift = _shift(pipe)  # before any work: a scheduler the clients cannot reproduce is refused
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    gen_budgets = {**GENERATOR_BUDGETS, **(generator_budgets or {})}
    clf_budgets = {**CLASSIFIER_BUDGETS, **(classifier_budgets or {})}
    if pipe.classifier is not None and getattr(pipe.classifier, "ood", None) is None:
        # no familiarity statistics, no score to compare
        clf_budgets = {p: {k: v for k, v in b.items() if k != "ood_score_rel"} for p, b in clf_budgets.items()}
    transformer, guide = pipe.transformer.eval(), _guide(pipe)
    step = GeneratorStep(transformer, guide).eval()
    defaults = _defaults(pipe)
    guidance = _guidance(defaults)

    with tempfile.TemporaryDirectory() as tmp:
        gen_fp32 = export_generator(transformer, Path(tmp) / "generator.onnx", guide)
        clf_fp32 = None
        if pipe.classifier is not None:
            clf_fp32 = export_classifier(pipe.classifier.eval(), Path(tmp) / "classifier.onnx")

    generator = generator_entry(transformer, shift, defaults, gen_fp32, guide)
    # the image budget is judged on the sampling the clients run by default (its guidance interval included)
    reference = GeneratorReference(step, guidance, shift, interval=defaults.get("guidance_interval"))
    write_variants(generator, gen_fp32, "generator", precisions, reference.errors, gen_budgets, out_dir,
                   int8_args={"guidance_scale": guidance, "shift": shift})
    classifier = None
    if clf_fp32 is not None:
        classifier = classifier_entry(pipe.classifier, clf_fp32)
        temperature = classifier["temperature"]
        write_variants(classifier, clf_fp32, "classifier", [p for p in precisions if p in CLASSIFIER_PRECISIONS],
                      lambda sess: classifier_errors(pipe.classifier, sess, temperature), clf_budgets, out_dir)

    fast, fast_step = None, None
    fast_transformer = getattr(pipe, "fast_transformer", None)
    if fast_transformer is not None:  # the few-step student (cats.export.fast)
        fast_step = FastGeneratorStep(fast_transformer.eval()).eval()
        with tempfile.TemporaryDirectory() as tmp:
            fast_fp32 = export_fast_generator(fast_transformer, Path(tmp) / "generator_fast.onnx")
        fast = fast_entry(fast_transformer, fast_fp32, baked_guidance(pipe), pipe.config.get("fast_autoguidance_scale"))
        write_variants(fast, fast_fp32, "generator_fast", [p for p in precisions if p in FAST_PRECISIONS],
                       fast_reference(fast_step).errors, FAST_BUDGETS, out_dir)

    written = set()
    for entry in (generator, classifier, fast):
        if entry is not None:
            entry["default_variant"] = served_variant(entry)
            written |= {variant["file"] for variant in entry["variants"].values()}
    for stale in out_dir.glob("*.onnx"):  # an earlier export's variant (or student) that this one did not write
        if stale.name.split(".")[0] in GRAPHS and stale.name not in written:
            stale.unlink()
    gen_sess = session(str(out_dir / generator["variants"]["fp32"]["file"]))
    clf_sess = session(str(out_dir / classifier["variants"]["fp32"]["file"])) if classifier else None
    golden = make_golden(step, gen_sess, guidance, shift, pipe.classifier, clf_sess,
                         interval=defaults.get("guidance_interval"))
    if fast is not None:
        golden["fast"] = make_fast_golden(fast_step, session(str(out_dir / fast["variants"]["fp32"]["file"])))
    (out_dir / GOLDEN).write_text(json.dumps(golden) + "\n")
    manifest = new_manifest(weights_info(pipe, name or "unnamed"), generator, classifier, fast)
    write_manifest(manifest, out_dir)
    print(f"wrote {out_dir / 'manifest.json'}")
    return manifest


def check_export(pipe, out_dir: str | Path) -> list[str]:
    """Re-verify an export against ``pipe``; returns the problems found (empty list = all good).

    Checks: every file's size and sha256; each graph's input/output names, shapes and dtypes
    against the manifest; every variant's errors against PyTorch within the budget recorded in the
    manifest; the golden fixtures replayed through the fp32 graphs.
    """
    out_dir = Path(out_dir)
    manifest = read_manifest(out_dir)
    problems = verify_files(out_dir, manifest)
    if problems:
        return problems  # a changed file may not even parse; report the hashes first
    defaults, shift = manifest["generator"]["defaults"], manifest["generator"]["scheduler"]["shift"]
    if shift != _shift(pipe) or defaults != _defaults(pipe):
        problems.append(f"manifest scheduler shift/defaults ({shift}, {defaults}) differ from the pipeline's "
                        f"({_shift(pipe)}, {_defaults(pipe)})")
    if (_guide(pipe) is None) != (manifest["generator"].get("guide") is None):
        problems.append("the export and the pipeline disagree on having a guide network: re-export")
        return problems
    step = GeneratorStep(pipe.transformer.eval(), _guide(pipe)).eval()
    measures = {"generator": GeneratorReference(step, _guidance(defaults), shift,
                                                interval=defaults.get("guidance_interval")).errors}
    if manifest.get("classifier"):
        if pipe.classifier is None:
            problems.append("the export has a classifier but the pipeline has none")
        else:
            t = manifest["classifier"]["temperature"]
            measures["classifier"] = lambda s: classifier_errors(pipe.classifier.eval(), s, t)
            ood, block = getattr(pipe.classifier, "ood", None), manifest["classifier"].get("ood")
            if (ood is None) != (block is None) or (ood is not None and block["threshold"] != ood.threshold):
                problems.append(f"manifest familiarity threshold {block and block['threshold']!r} differs from the "
                                f"classifier's {ood and ood.threshold!r}: re-export")
    fast_transformer = getattr(pipe, "fast_transformer", None)
    if (fast_transformer is None) != (manifest.get("generator_fast") is None):
        problems.append("the export and the pipeline disagree on having a few-step generator: re-export")
    elif fast_transformer is not None:
        measures["generator_fast"] = fast_reference(FastGeneratorStep(fast_transformer.eval()).eval()).errors
    sessions = {}
    for graph, measure in measures.items():
        entry = manifest[graph]
        for precision, variant in entry["variants"].items():
            path = variant_path(out_dir, manifest, graph, precision)
            inputs, outputs = graph_io(onnx.load(str(path)))
            if inputs != entry["inputs"] or outputs != entry["outputs"]:
                problems.append(f"{graph} {precision}: graph inputs/outputs differ from the manifest")
            sess = session(str(path))
            sessions[(graph, precision)] = sess
            broken = over_budget(measure(sess), variant["budget"])
            if broken:
                problems.append(f"{graph} {precision} vs PyTorch: " + "; ".join(broken))
    golden = read_golden(out_dir, manifest)
    problems += replay_golden(golden, sessions[("generator", "fp32")], sessions.get(("classifier", "fp32")))
    if ("generator_fast", "fp32") in sessions:
        if "fast" not in golden:
            problems.append("golden.json has no few-step fixtures: re-export")
        else:
            problems += replay_fast_golden(golden["fast"], sessions[("generator_fast", "fp32")])
    return problems
