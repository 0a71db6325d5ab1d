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
    parser.add_argument("--name", default=BUNDLED_NAME, help="bundled name (directory under cats/weights/)")
    parser.add_argument("--trained-on", default=TRAINED_ON, help="what the weights learned from (shown by the demos)")
    args = parser.parse_args(argv)
    if args.generator is None and args.fast is None:
        parser.error("give --generator (and --classifier) and/or --fast")
    if args.generator is None:
        if args.classifier is not None:
            parser.error("--classifier needs --generator (a new bundle is built from both)")
        return add_fast(args.fast, bundled_pipeline(args.name), parser)
    for path in (args.generator, args.classifier):
        if path is not None and not path.is_dir():
            parser.error(f"{path} is not a directory: train it first (see scripts/train_bundled.sh)")
    if args.classifier is None:
        out = replace_generator(args.generator, bundled_pipeline(args.name), parser)
        return add_fast(args.fast, out, parser) if args.fast else out

    pipe = CatsPipeline.from_pretrained(args.generator)
    classifier = CatClassifier.from_pretrained(args.classifier)
    bundled = CatsPipeline(transformer=pipe.transformer.to(torch.float16), scheduler=pipe.scheduler,
                           classifier=classifier.to(torch.float16), preset=pipe.config.preset,
                           default_guidance_scale=pipe.config.default_guidance_scale,
                           default_num_inference_steps=pipe.config.default_num_inference_steps,
                           trained_on=args.trained_on)
    out = bundled_pipeline(args.name)
    kept = keep_fast(out) if args.fast is None else None  # the bundled student stays unless --fast replaces it
    if out.exists():
        shutil.rmtree(out)
    bundled.save_pretrained(out)
    provenance = {}
    if kept is not None:
        restore_fast(kept, out)
        provenance["fast"] = kept["provenance"]
    for role, run_dir in (("generator", args.generator.parent), ("classifier", args.classifier.parent)):
        for name in ("config.json", "metrics.json"):
            if (run_dir / name).is_file():
                provenance.setdefault(role, {})[name.removesuffix(".json")] = json.loads((run_dir / name).read_text())
    (out / "training.json").write_text(json.dumps(provenance, indent=2) + "\n")
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"wrote {out} ({size / 1e6:.1f} MB)")
    return add_fast(args.fast, out, parser) if args.fast else out


def keep_fast(out: Path) -> dict | None:
    """The bundled few-step student of ``out`` (its files, guidance and provenance), held in memory, or None."""
    student = out / "fast_transformer"
    if not student.is_dir():
        return None
    index = json.loads((out / "model_index.json").read_text())
    provenance = json.loads((out / "training.json").read_text()) if (out / "training.json").is_file() else {}
    return {"files": {p.name: p.read_bytes() for p in student.iterdir() if p.is_file()},
            "guidance": index.get("fast_guidance_scale"), "provenance": provenance.get("fast", {})}


def restore_fast(kept: dict, out: Path) -> None:
    """Put a student held by ``keep_fast`` back into a freshly written bundle, byte for byte."""
    (out / "fast_transformer").mkdir()
    for name, data in kept["files"].items():
        (out / "fast_transformer" / name).write_bytes(data)
    index = json.loads((out / "model_index.json").read_text())
    index.update(fast_transformer=["cats.models.dit", "CatDiT"], fast_guidance_scale=kept["guidance"])
    (out / "model_index.json").write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    print(f"kept the bundled few-step student in {out} (replace it with --fast RUN_DIR)")


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
                 fast_guidance_scale=float(info["pairs_settings"]["guidance_scale"]))
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
    index.update(preset=pipe.config.preset, default_guidance_scale=pipe.config.default_guidance_scale,
                 default_num_inference_steps=pipe.config.default_num_inference_steps)
    (out / "model_index.json").write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    provenance = json.loads((out / "training.json").read_text()) if (out / "training.json").is_file() else {}
    provenance["generator"] = {name.removesuffix(".json"): json.loads((run_pipeline.parent / name).read_text())
                               for name in ("config.json", "metrics.json") if (run_pipeline.parent / name).is_file()}
    (out / "training.json").write_text(json.dumps(provenance, indent=2) + "\n")
    print(f"replaced the generator of {out} with {run_pipeline} (classifier kept)")
    return out


if __name__ == "__main__":
    main()
