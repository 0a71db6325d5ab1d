"""Guidance settings judged side by side: classifier-free guidance, autoguidance, both, and a guidance interval.

    python -m cats.benchmarks.guidance --guide g439k=runs/guides/g439k --guide guide-u=runs/guide-u/pipeline/transformer \
        --setting cfg3:cfg=3 --setting ag2:cfg=1,ag=2,guide=g439k --setting both:cfg=2,ag=2,guide=g439k,interval=0.1-0.9 \
        --samples 1200 --out runs/guidance
    python -m cats.benchmarks.guidance --quick     # a random micro pipeline, seconds (the test suite runs this)
    python -m cats.benchmarks.guidance sheets --out docs/guidance_sheets.png runs/guidance/sheet-cfg3.png runs/guidance/sheet-both-gu.png

Every setting draws the same samples from the same noise (``generate_balanced``: the same seeds per
batch) on the same weights, and is judged like every generator here (``sample_quality``): FID beside
its train-vs-test floor, k-NN precision/recall, the independent breed judge (a linear probe on the
Inception features), then the project's classifier; plus the network evaluations per image and a
sample sheet per setting (OUT/sheet-NAME.png, the evaluation's seeds). A setting is
``NAME:cfg=G[,ag=W,guide=KEY][,interval=LO-HI]``: G the classifier-free scale, W the autoguidance
scale with the guide KEY of a ``--guide KEY=DIR`` (a CatDiT folder), LO-HI the sigmas where guidance
applies (elsewhere the conditional velocity alone, Kynkäänniemi et al. 2024). Results accumulate in
OUT/guidance.json (a setting already judged at the same sample count is not re-run), and the table
is written to OUT/guidance.md.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from cats.paths import ROOT

QUICK_SAMPLES = 24


@dataclass(frozen=True)
class Setting:
    """One guidance setting: classifier-free scale, autoguidance scale and guide (or none), interval (or none)."""

    name: str
    cfg: float
    ag: float = 1.0
    guide: str | None = None
    interval: tuple[float, float] | None = None

    def evaluations(self, steps: int, sigmas) -> float:
        """Network evaluations per image over a schedule, counting a guide's pass as one (whatever its size)."""
        total = 0
        for s in sigmas[:steps]:
            inside = self.interval is None or self.interval[0] <= s <= self.interval[1]
            total += 1 + (inside and self.cfg != 1.0) + (inside and self.guide is not None and self.ag != 1.0)
        return total


def parse_setting(text: str) -> Setting:
    """``NAME:cfg=G[,ag=W,guide=KEY][,interval=LO-HI]`` -> Setting; ArgumentTypeError naming the bad part."""
    name, sep, body = text.partition(":")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"a setting looks like NAME:cfg=3 or NAME:cfg=2,ag=2,guide=KEY, got {text!r}")
    fields = {}
    for part in body.split(","):
        key, eq, value = part.partition("=")
        if not eq or key not in ("cfg", "ag", "guide", "interval"):
            raise argparse.ArgumentTypeError(f"{text!r}: {part!r} is not cfg=, ag=, guide= or interval=")
        fields[key] = value
    try:
        cfg = float(fields.get("cfg", "1"))
        ag = float(fields.get("ag", "1"))
        interval = None
        if "interval" in fields:
            lo, _, hi = fields["interval"].partition("-")
            interval = (float(lo), float(hi))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: cfg, ag and interval take numbers") from None
    if not (math.isfinite(cfg) and cfg >= 0 and math.isfinite(ag) and ag >= 1):
        raise argparse.ArgumentTypeError(f"{text!r}: cfg must be >= 0 and ag >= 1")
    if (ag != 1.0) != ("guide" in fields):
        raise argparse.ArgumentTypeError(f"{text!r}: ag (other than 1) and guide= go together")
    if interval is not None and not 0 <= interval[0] < interval[1] <= 1:
        raise argparse.ArgumentTypeError(f"{text!r}: interval=LO-HI needs 0 <= LO < HI <= 1")
    return Setting(name, cfg, ag, fields.get("guide"), interval)


def _guide_arg(text: str) -> tuple[str, Path]:
    key, sep, path = text.partition("=")
    if not sep or not key or not (Path(path) / "config.json").is_file():
        raise argparse.ArgumentTypeError(f"--guide takes KEY=DIR with DIR a CatDiT folder (config.json inside), "
                                         f"got {text!r}")
    return key, Path(path)


def pipeline_for(base, guide, setting: Setting):
    """``base``'s transformer, scheduler and classifier with ``guide`` (the setting's scales are passed per call)."""
    from cats.pipeline import CatsPipeline  # imported here: torch only after the argument checks

    pipe = CatsPipeline(transformer=base.transformer, scheduler=base.scheduler, classifier=base.classifier,
                        guide_transformer=guide, default_guidance_scale=setting.cfg,
                        default_num_inference_steps=base.config.default_num_inference_steps)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def judge_setting(pipe, setting: Setting, samples: int, steps: int, cache_dir: Path, out: Path,
                  data_root: str | None) -> dict:
    """One row of the table: quality, judges, evaluations per image, seconds and the sample sheet."""
    from cats.evaluation.generator import (  # imported here: torch only after the argument checks
        breed_accuracy,
        classify_tensors,
        generate_balanced,
        sample_sheet,
        synthcats_quality,
    )

    call = {"guidance_interval": setting.interval, **({"autoguidance_scale": setting.ag} if setting.guide else {})}
    t0 = time.perf_counter()
    fake, labels = generate_balanced(pipe, max(1, samples // 12), steps, setting.cfg, **call)
    seconds = time.perf_counter() - t0
    quality = synthcats_quality(fake, labels, cache_dir, data_root, pipe.transformer.config.sample_size)
    own = breed_accuracy(classify_tensors(pipe.classifier, fake), labels)
    sheet = sample_sheet(pipe, out / f"sheet-{setting.name}.png", steps=steps, guidance=setting.cfg, **call)
    return {"setting": {**asdict(setting), "interval": list(setting.interval) if setting.interval else None},
            "samples": len(fake), "steps": steps, "evaluations_per_image": setting.evaluations(steps, pipe.sigmas(steps)),
            "sample_seconds": round(seconds, 1), "quality": quality, "own_classifier": own["mean"],
            "own_classifier_min": min(own["per_breed"].values()), "sheet": sheet.name}


def _fmt(value, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def table(rows: list[dict], guides: dict[str, str]) -> str:
    """The Markdown table of ``rows`` (as judged), with the guides' folders under it."""
    lines = ["| setting | CFG | autoguidance (guide) | interval | evals/image | FID | floor | precision | recall | "
             "judge (min) | own classifier (min) |",
             "| --- | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        s, q = r["setting"], r["quality"]
        j = q.get("judge")
        ag = "off" if s["guide"] is None else f"{s['ag']:g} ({s['guide']})"
        interval = "all" if s["interval"] is None else f"{s['interval'][0]:g}-{s['interval'][1]:g}"
        judge = "n/a" if j is None else f"{j['mean']:.1%} ({min(j['per_breed'].values()):.0%})"
        lines.append(f"| {s['name']} | {s['cfg']:g} | {ag} | {interval} | {r['evaluations_per_image']} | "
                     f"{_fmt(q.get('fid'), '.1f')} | {_fmt(q.get('fid_floor'), '.1f')} | "
                     f"{_fmt(q.get('precision'), '.3f')} | {_fmt(q.get('recall'), '.3f')} | {judge} | "
                     f"{r['own_classifier']:.1%} ({r['own_classifier_min']:.0%}) |")
    lines += ["", f"{rows[0]['samples'] if rows else 0} samples per setting (the same noise), "
                  f"{rows[0]['steps'] if rows else 0} Euler steps; guides: "
                  + ", ".join(f"{k} = `{v}`" for k, v in guides.items())
              + ". Judge: the independent breed judge (linear probe on Inception features, fitted on training "
                "drawings); own classifier: the project's classifier (pleased by colours, last)."]
    return "\n".join(lines) + "\n"


def run(model: str, guides: dict[str, Path], settings: list[Setting], samples: int, steps: int | None, out: Path,
        cache_dir: Path, data_root: str | None = None, threads: int | None = None, base=None) -> list[dict]:
    """Judge every setting not yet in OUT/guidance.json at this sample count; write the JSON and the table."""
    import torch  # imported here: torch only after the argument checks

    from cats.models.dit import CatDiT  # imported here: torch only after the argument checks
    from cats.pipeline import CatsPipeline  # imported here: torch only after the argument checks

    if threads:
        torch.set_num_threads(threads)
    missing = sorted({s.guide for s in settings if s.guide is not None} - set(guides))
    if missing:
        raise ValueError(f"settings name guides without a --guide KEY=DIR: {', '.join(missing)}")
    out.mkdir(parents=True, exist_ok=True)
    path = out / "guidance.json"
    done = json.loads(path.read_text()) if path.is_file() else {"rows": []}
    base = base if base is not None else CatsPipeline.from_pretrained(model)
    steps = steps or base.config.default_num_inference_steps
    loaded = {key: CatDiT.from_pretrained(str(p)).float().eval() for key, p in guides.items()
              if any(s.guide == key for s in settings)}
    for setting in settings:
        key = {**asdict(setting), "interval": list(setting.interval) if setting.interval else None}
        if any(r["setting"] == key and r["samples"] == 12 * max(1, samples // 12) and r["steps"] == steps
               for r in done["rows"]):
            print(f"{setting.name}: already judged, kept", flush=True)
            continue
        pipe = pipeline_for(base, loaded.get(setting.guide), setting)
        row = judge_setting(pipe, setting, samples, steps, cache_dir, out, data_root)
        done["rows"] = [r for r in done["rows"] if r["setting"]["name"] != setting.name] + [row]
        done["guides"] = {**done.get("guides", {}), **{k: str(v) for k, v in guides.items()}}
        path.write_text(json.dumps(done, indent=2) + "\n")
        q = row["quality"]
        print(f"{setting.name}: FID {_fmt(q.get('fid'), '.1f')}, precision {_fmt(q.get('precision'), '.3f')}, "
              f"judge {_fmt((q.get('judge') or {}).get('mean'), '.3f')}, {row['sample_seconds']} s", flush=True)
    text = table(done["rows"], done.get("guides", {}))
    (out / "guidance.md").write_text(text)
    print(text)
    return done["rows"]


def side_by_side(sheets: list[Path], out: Path, gap: int = 16) -> Path:
    """The sample sheets of several settings next to each other (same seeds: the same cat in each row and column)."""
    from PIL import Image  # imported here: the argument checks need no imaging

    images = [Image.open(p).convert("RGB") for p in sheets]
    height = max(i.height for i in images)
    canvas = Image.new("RGB", (sum(i.width for i in images) + gap * (len(images) - 1), height), "white")
    x = 0
    for image in images:
        canvas.paste(image, (x, 0))
        x += image.width + gap
    out.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(out, optimize=True)
    return out


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["sheets"]:
        p = argparse.ArgumentParser(prog="python -m cats.benchmarks.guidance sheets")
        p.add_argument("sheet", type=Path, nargs="+", help="sample sheets (OUT/sheet-NAME.png), left to right")
        p.add_argument("--out", type=Path, required=True)
        args = p.parse_args(argv[1:])
        missing = [str(s) for s in args.sheet if not s.is_file()]
        if missing:
            p.error(f"no such sheet: {', '.join(missing)} (run the settings first)")
        print(f"wrote {side_by_side(args.sheet, args.out)}")
        return
    p = argparse.ArgumentParser(prog="python -m cats.benchmarks.guidance", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="synthcats", help="the pipeline to guide (default: the bundled weights)")
    p.add_argument("--guide", type=_guide_arg, action="append", default=[], metavar="KEY=DIR",
                   help="a guide network (a CatDiT folder) named KEY for the settings; repeatable")
    p.add_argument("--setting", type=parse_setting, action="append", default=[],
                   metavar="NAME:cfg=G[,ag=W,guide=KEY][,interval=LO-HI]")
    p.add_argument("--samples", type=int, default=1200, help="samples per setting, balanced over breeds")
    p.add_argument("--steps", type=int, default=None, help="Euler steps (default: the pipeline's)")
    p.add_argument("--out", type=Path, default=ROOT / "runs" / "guidance")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--quick", action="store_true", help=f"a random micro pipeline and guide, {QUICK_SAMPLES} samples")
    args = p.parse_args(argv)
    cache = Path.home() / ".cache" / "tiny-cats" / "inception"
    if args.quick:
        from cats.benchmarks.fewstep import random_micro_pipeline  # imported here: torch after the argument checks

        out = Path(tempfile.mkdtemp(prefix="tiny-cats-guidance-"))
        base = random_micro_pipeline(seed=0)
        base.classifier = _quick_classifier()
        random_micro_pipeline(seed=1).transformer.save_pretrained(str(out / "guide"))
        settings = [parse_setting("cfg3:cfg=3"), parse_setting("ag2:cfg=1,ag=2,guide=g"),
                    parse_setting("both:cfg=2,ag=2,guide=g,interval=0.1-0.9")]
        run("", {"g": out / "guide"}, settings, QUICK_SAMPLES, 4, out, out / "features", threads=1, base=base)
        return
    if not args.setting:
        p.error("give at least one --setting (e.g. --setting cfg3:cfg=3)")
    run(args.model, dict(args.guide), args.setting, args.samples, args.steps, args.out, cache, threads=args.threads)


def _quick_classifier():
    """The smallest untrained classifier, for --quick (its accuracy is not the point there)."""
    from cats.models.classifier import CatClassifier  # imported here: torch only after the argument checks

    return CatClassifier(backbone="mobilenet_v3_small", image_size=32).eval()


if __name__ == "__main__":
    main()
