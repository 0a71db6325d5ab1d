"""Assemble the bundled demo pipeline: trained generator (EMA) + trained classifier, stored in fp16.

    python scripts/bundle_weights.py --generator runs/synthcats-generator/pipeline \
        --classifier runs/synthcats-classifier/classifier --name synthcats

Writes ``cats/weights/<name>/`` so that ``CatsPipeline.from_pretrained("<name>")`` finds it. The
weights are stored in float16 to keep the repository small (they load as float32); the
training configs and validation metrics of both runs are copied beside them.

``--fast RUN_DIR`` (a ``python -m cats.training fewstep`` run) adds or replaces the few-step student
(``fast_transformer``, fp16) and records the guidance its pairs were drawn with; with nothing else
given, nothing else changes:

    python scripts/bundle_weights.py --fast runs/fast-release

``--guide DIR`` (a CatDiT folder, e.g. ``runs/guide-u/pipeline/transformer``) adds or replaces the
guide network of autoguidance (``guide_transformer``, fp16) with ``--autoguidance W`` (and
``--guidance G``, the classifier-free scale beside it, and ``--interval LO-HI``, the sigmas where both
apply) as the defaults (docs/guidance.md):

    python scripts/bundle_weights.py --guide runs/guide-u/pipeline/transformer --autoguidance 2 --guidance 2 \
        --interval 0.2-0.75

``--classifier`` left out: only the generator is replaced (transformer, scheduler, the preset in
model_index.json, its provenance in training.json); the bundled classifier directory, with
everything fitted to it, is left byte for byte as it is.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cats.models.classifier import CatClassifier  # noqa: E402
from cats.paths import BUNDLED_NAME, bundled_pipeline  # noqa: E402
from cats.pipeline import CatsPipeline  # noqa: E402

TRAINED_ON = ("SynthCats: procedural drawings of the 12 breeds made by cats.data.synthcats (64 px) - "
              "demo weights, never trained on photos")


def main(argv=None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generator", type=Path, help="RUN_DIR/pipeline of a generator run")
    parser.add_argument("--fast", type=Path, help="RUN_DIR of a few-step run (python -m cats.training fewstep)")
    parser.add_argument("--classifier", type=Path,
                        help="RUN_DIR/classifier of a classifier run (left out: keep the bundled classifier)")
    parser.add_argument("--guide", type=Path, help="a CatDiT folder: the guide network (autoguidance) to bundle")
    parser.add_argument("--autoguidance", type=float, help="with --guide: the default autoguidance scale")
    parser.add_argument("--guidance", type=float, help="with --guide: the default classifier-free scale beside it")
    parser.add_argument("--interval", help="with --guide: LO-HI, the sigmas where guidance applies by default "
                                           "(e.g. 0.2-0.75; 'all' for every step)")
    parser.add_argument("--name", default=BUNDLED_NAME, help="bundled name (directory under cats/weights/)")
    parser.add_argument("--trained-on", default=TRAINED_ON, help="what the weights learned from (shown by the demos)")
    args = parser.parse_args(argv)
    if args.guide is None and (args.autoguidance is not None or args.guidance is not None or args.interval is not None):
        parser.error("--autoguidance, --guidance and --interval set the defaults of a --guide")
    if args.generator is None and args.fast is None and args.guide is None:
        parser.error("give --generator (and --classifier), --fast and/or --guide")
    if args.guide is not None and args.autoguidance is None:
        parser.error("--guide needs --autoguidance W (its default weight; docs/guidance.md)")
    if args.generator is None:
        if args.classifier is not None:
            parser.error("--classifier needs --generator (a new bundle is built from both)")
        out = bundled_pipeline(args.name)
        if args.fast is not None:
            add_fast(args.fast, out, parser)
        return add_guide(args, out, parser) if args.guide is not None else out
    for path in (args.generator, args.classifier):
        if path is not None and not path.is_dir():
            parser.error(f"{path} is not a directory: train it first (see scripts/train_bundled.sh)")
    if args.classifier is None:
        out = replace_generator(args.generator, bundled_pipeline(args.name), parser)
        if args.fast is not None:
            add_fast(args.fast, out, parser)
        return add_guide(args, out, parser) if args.guide is not None else out

    pipe = CatsPipeline.from_pretrained(args.generator)
    classifier = CatClassifier.from_pretrained(args.classifier)
    bundled = CatsPipeline(transformer=pipe.transformer.to(torch.float16), scheduler=pipe.scheduler,
                           classifier=classifier.to(torch.float16), preset=pipe.config.preset,
                           default_guidance_scale=pipe.config.default_guidance_scale,
                           default_num_inference_steps=pipe.config.default_num_inference_steps,
                           trained_on=args.trained_on)
    out = bundled_pipeline(args.name)
    # the bundled student and guide stay unless --fast / --guide replace them
    kept = keep_parts(out, skip={"fast_transformer"} if args.fast else set())
    if out.exists():
        shutil.rmtree(out)
    bundled.save_pretrained(out)
    provenance = restore_parts(kept, out)
    for role, run_dir in (("generator", args.generator.parent), ("classifier", args.classifier.parent)):
        for name in ("config.json", "metrics.json"):
            if (run_dir / name).is_file():
                provenance.setdefault(role, {})[name.removesuffix(".json")] = json.loads((run_dir / name).read_text())
    (out / "training.json").write_text(json.dumps(provenance, indent=2) + "\n")
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"wrote {out} ({size / 1e6:.1f} MB)")
    if args.fast is not None:
        add_fast(args.fast, out, parser)
    return add_guide(args, out, parser) if args.guide is not None else out


# The optional networks a rebuilt bundle keeps: folder -> (model_index.json keys that go with it, training.json key).
PARTS = {"fast_transformer": (("fast_guidance_scale", "fast_autoguidance_scale"), "fast"),
         "guide_transformer": (("default_autoguidance_scale", "default_guidance_scale", "default_guidance_interval"),
                               "guide")}


def keep_parts(out: Path, skip: set[str]) -> dict:
    """The bundled student and guide of ``out`` (files, their model_index keys, provenance), held in memory."""
    if not (out / "model_index.json").is_file():
        return {}
    index = json.loads((out / "model_index.json").read_text())
    provenance = json.loads((out / "training.json").read_text()) if (out / "training.json").is_file() else {}
    kept = {}
    for part, (keys, role) in PARTS.items():
        if part not in skip and (out / part).is_dir():
            kept[part] = {"files": {p.name: p.read_bytes() for p in (out / part).iterdir() if p.is_file()},
                          "index": {k: index.get(k) for k in keys}, "provenance": provenance.get(role, {})}
    return kept


def restore_parts(kept: dict, out: Path) -> dict:
    """Put the parts held by ``keep_parts`` back into a freshly written bundle, byte for byte; their provenance."""
    index = json.loads((out / "model_index.json").read_text())
    provenance = {}
    for part, held in kept.items():
        (out / part).mkdir()
        for name, data in held["files"].items():
            (out / part / name).write_bytes(data)
        index.update({part: ["cats.models.dit", "CatDiT"], **held["index"]})
        provenance[PARTS[part][1]] = held["provenance"]
        print(f"kept the bundled {part} in {out}")
    (out / "model_index.json").write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    return provenance


def add_guide(args, out: Path, parser) -> Path:
    """Add (or replace) the bundled guide network and set the guided defaults; everything else stays as it is."""
    from cats.models.dit import CatDiT

    if not (args.guide / "config.json").is_file():
        parser.error(f"{args.guide} is not a CatDiT folder (no config.json): e.g. runs/guide-u/pipeline/transformer")
    if not (out / "model_index.json").is_file():
        parser.error(f"{out} holds no bundled pipeline to add the guide to")
    teacher = CatsPipeline.from_pretrained(out)
    guide = CatDiT.from_pretrained(str(args.guide))
    if (guide.config.sample_size, guide.config.in_channels) != (teacher.transformer.config.sample_size,
                                                                teacher.transformer.config.in_channels):
        parser.error(f"the guide in {args.guide} draws other images than the bundled generator (size or channels)")
    if args.autoguidance < 1:
        parser.error(f"--autoguidance must be >= 1 (1 = off), got {args.autoguidance}")
    interval = None
    if args.interval not in (None, "all"):
        from cats.sampling import check_interval

        try:
            interval = list(check_interval(args.interval.split("-")))
        except ValueError as err:
            parser.error(f"--interval {args.interval}: {err}")
    shutil.rmtree(out / "guide_transformer", ignore_errors=True)
    guide.to(torch.float16).save_pretrained(out / "guide_transformer")
    index = json.loads((out / "model_index.json").read_text())
    index.update(guide_transformer=["cats.models.dit", "CatDiT"], default_autoguidance_scale=float(args.autoguidance),
                 default_guidance_interval=interval)
    if args.guidance is not None:
        index["default_guidance_scale"] = float(args.guidance)
    (out / "model_index.json").write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    provenance = json.loads((out / "training.json").read_text()) if (out / "training.json").is_file() else {}
    run_dir = args.guide.parent.parent  # RUN_DIR/pipeline/transformer
    provenance["guide"] = {"source": str(args.guide), **{name.removesuffix(".json"): json.loads((run_dir / name).read_text())
                                                         for name in ("config.json", "metrics.json")
                                                         if (run_dir / name).is_file()}}
    (out / "training.json").write_text(json.dumps(provenance, indent=2) + "\n")
    print(f"added the guide network of {args.guide} to {out} (autoguidance {args.autoguidance:g})")
    return out


def add_fast(run_dir: Path, out: Path, parser) -> Path:
    """Add (or replace) the bundled few-step student from a fewstep run; everything else stays as it is."""
    from cats.models.dit import CatDiT

    student_dir, info_path = run_dir / "fast_transformer", run_dir / "fewstep.json"
    if not student_dir.is_dir() or not info_path.is_file():
        parser.error(f"{run_dir} is not a finished fewstep run (no fast_transformer/ and fewstep.json)")
    if not (out / "model_index.json").is_file():
        parser.error(f"{out} holds no bundled pipeline to add the student to")
    info = json.loads(info_path.read_text())
    teacher = CatsPipeline.from_pretrained(out)
    student = CatDiT.from_pretrained(str(student_dir))
    shape = lambda model: {k: v for k, v in model.config.items() if not k.startswith("_")}  # noqa: E731
    if shape(student) != shape(teacher.transformer):
        parser.error(f"the student in {student_dir} is not shaped like the bundled generator (another preset?)")
    shutil.rmtree(out / "fast_transformer", ignore_errors=True)
    student.to(torch.float16).save_pretrained(out / "fast_transformer")
    index = json.loads((out / "model_index.json").read_text())
    index.update(fast_transformer=["cats.models.dit", "CatDiT"],
                 fast_guidance_scale=float(info["pairs_settings"]["guidance_scale"]),
                 fast_autoguidance_scale=info["pairs_settings"].get("autoguidance_scale"))
    (out / "model_index.json").write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    provenance = json.loads((out / "training.json").read_text()) if (out / "training.json").is_file() else {}
    provenance["fast"] = {**info, **{name.removesuffix(".json"): json.loads((run_dir / name).read_text())
                                     for name in ("config.json", "metrics.json") if (run_dir / name).is_file()}}
    (out / "training.json").write_text(json.dumps(provenance, indent=2) + "\n")
    print(f"added the few-step student of {run_dir} to {out}")
    return out


def replace_generator(run_pipeline: Path, out: Path, parser) -> Path:
    """Swap the bundled generator for a newly trained one, leaving the bundled classifier untouched."""
    if not (out / "model_index.json").is_file():
        parser.error(f"{out} holds no bundled pipeline to update: pass --classifier to build one")
    pipe = CatsPipeline.from_pretrained(run_pipeline)
    for part in ("transformer", "scheduler"):
        shutil.rmtree(out / part, ignore_errors=True)
    pipe.transformer.to(torch.float16).save_pretrained(out / "transformer")
    pipe.scheduler.save_pretrained(out / "scheduler")
    index = json.loads((out / "model_index.json").read_text())
    index.update(preset=pipe.config.preset, default_num_inference_steps=pipe.config.default_num_inference_steps)
    if not (out / "guide_transformer").is_dir():  # a guided bundle keeps the CFG scale measured with its guide
        index["default_guidance_scale"] = pipe.config.default_guidance_scale
    (out / "model_index.json").write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    provenance = json.loads((out / "training.json").read_text()) if (out / "training.json").is_file() else {}
    provenance["generator"] = {name.removesuffix(".json"): json.loads((run_pipeline.parent / name).read_text())
                               for name in ("config.json", "metrics.json") if (run_pipeline.parent / name).is_file()}
    (out / "training.json").write_text(json.dumps(provenance, indent=2) + "\n")
    print(f"replaced the generator of {out} with {run_pipeline} (classifier kept)")
    return out


if __name__ == "__main__":
    main()
