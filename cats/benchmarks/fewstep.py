"""Few-step generation: an equal-budget comparison of the student's training sigmas, and its figures.

    python -m cats.benchmarks.fewstep --pairs runs/pairs --steps 1000 --variants mix,uniform,one --samples 600
    python -m cats.benchmarks.fewstep evaluate --fast runs/fast/fast_transformer --samples 1200 --steps 1,2,4
    python -m cats.benchmarks.fewstep evaluate --fast mix=runs/fewstep/mix/fast_transformer --fast one=... \
        --steps 1,2 --teacher-steps 2,4,20 --samples 600 --out runs/fewstep   # re-judge trained variants
    python -m cats.benchmarks.fewstep --quick      # micro teacher, seconds (the test suite runs this)

The comparison trains one student per ``--fewstep-sigmas`` variant (``cats.training fewstep``) on the
same teacher pairs for the same number of optimizer steps of the same batch (equal compute: the
variants differ only in where the training sigmas fall), then judges each at 1 and 2 steps, and
the teacher itself at its default 20 guided steps and at 2 and 4 (what fewer steps give without a
student). Judged like every generator here: FID against the SynthCats test split beside the
train-vs-test floor at the same count, k-NN precision/recall, then the bundled classifier's breed
accuracy; plus the mean squared distance of each image to the teacher's image from the same noise.
Writes OUT/fewstep.json and OUT/fewstep.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

from cats.benchmarks.recipes import prepare_out, run_commands
from cats.paths import ROOT

VARIANTS = {
    "mix": "40% sigma 1, 30% the few-step points (0.25, 0.5, 0.75), 30% uniform",
    "uniform": "reflow: sigma ~ U(0, 1)",
    "one": "one-step distillation: sigma 1 only",
}
COMMON = {"batch_size": 32, "lr": 1e-4, "warmup": 50, "ema_decay": 0.995, "seed": 0, "eval_every": 0,
          "checkpoint_every": 0}
QUICK = {"batch_size": 8}


def judge(sampler, steps: int, samples: int, cache_dir: Path, reference=None, data_root: str | None = None,
          size: int = 64) -> dict:
    """One row: quality of ``samples`` balanced samples at ``steps`` (the ``recipes`` footing)."""
    from cats.evaluation.classifier import find_classifier_dir  # imported here: torch only after the argument checks
    from cats.evaluation.generator import (  # imported here: torch only after the argument checks
        breed_accuracy,
        classify_tensors,
        generate_balanced,
        synthcats_quality,
    )
    from cats.models.classifier import CatClassifier  # imported here: torch only after the argument checks

    t0 = time.perf_counter()
    fake, labels = generate_balanced(sampler, max(1, samples // 12), steps, None)
    seconds = time.perf_counter() - t0
    quality = synthcats_quality(fake, labels, cache_dir, data_root, size)
    judge_model = CatClassifier.from_pretrained(find_classifier_dir("synthcats")).eval()
    acc = breed_accuracy(classify_tensors(judge_model, fake), labels)
    row = {"steps": steps, "quality": quality, "accuracy": acc["mean"],
           "min_breed_accuracy": min(acc["per_breed"].values()), "sample_seconds": round(seconds, 1)}
    if reference is not None:
        row["mse_to_teacher"] = float(((fake - reference) ** 2).mean())
    return row, fake


def _fmt(value, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def table(rows: list[dict], command: str) -> str:
    lines = [f"`{command}`", "",
             "| model | training sigmas | steps | FID | floor | precision | recall | judge (min) | breed acc (min) | "
             "MSE to teacher |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        q = r["quality"]
        j = q.get("judge")
        judge = "n/a" if j is None else f"{j['mean']:.1%} ({min(j['per_breed'].values()):.0%})"
        lines.append(f"| {r['model']} | {r['what']} | {r['steps']} | {_fmt(q.get('fid'), '.1f')} | "
                     f"{_fmt(q.get('fid_floor'), '.1f')} | {_fmt(q.get('precision'), '.3f')} | "
                     f"{_fmt(q.get('recall'), '.3f')} | {judge} | {r['accuracy']:.1%} ({r['min_breed_accuracy']:.0%}) | "
                     f"{_fmt(r.get('mse_to_teacher'), '.4f')} |")
    lines += ["", "FID, precision and recall: Inception pool features, k = 3, against the SynthCats test split; floor = "
                  "train vs test images at the same count; judge = the independent breed judge (a linear probe on the "
                  "Inception features, fitted on training drawings); breed acc = bundled classifier's top-1 on the samples (min "
                  "over breeds); MSE to teacher = mean squared pixel distance ([-1, 1]) to the teacher's 20-step "
                  "image from the same noise. Teacher rows: the base pipeline with its own schedule and guidance."]
    return "\n".join(lines) + "\n"


def _sampler(pipe, mode: str = "quality"):
    """``pipe`` in ``mode`` behind the generation call ``generate_balanced`` makes (same noise for every mode)."""
    def sample(breed, num_inference_steps, guidance_scale=None, generator=None, output_type="pt", progress=False):
        return pipe(breed=breed, num_inference_steps=num_inference_steps, guidance_scale=guidance_scale,
                    generator=generator, output_type=output_type, progress=progress, mode=mode)

    return sample


def evaluate(teacher: str, students: dict[str, Path], steps: list[int], teacher_steps: list[int], samples: int,
             cache_dir: Path, data_root: str | None = None, threads: int | None = None) -> list[dict]:
    """Rows for the teacher at ``teacher_steps`` and each student at ``steps`` (same seeds throughout)."""
    import torch  # imported here: torch only after the argument checks

    from cats.models.dit import CatDiT  # imported here: torch only after the argument checks
    from cats.pipeline import CatsPipeline  # imported here: torch only after the argument checks

    if threads:
        torch.set_num_threads(threads)
    pipe = CatsPipeline.from_pretrained(teacher)
    pipe.set_progress_bar_config(disable=True)
    size = pipe.transformer.config.sample_size
    default_steps = pipe.config.default_num_inference_steps
    rows = []
    reference_row, reference = judge(_sampler(pipe), default_steps, samples, cache_dir, None, data_root, size)
    for n in teacher_steps:
        row = reference_row if n == default_steps else judge(_sampler(pipe), n, samples, cache_dir, reference,
                                                             data_root, size)[0]
        guide = pipe.defaults("quality").autoguidance
        what = f"guidance {pipe.config.default_guidance_scale:g}" + ("" if guide is None else f", autoguidance {guide:g}")
        rows.append({"model": "teacher", "what": what, **row})
        print(f"teacher {n} steps: FID {_fmt(row['quality'].get('fid'), '.1f')}", flush=True)
    for name, path in students.items():
        student = CatsPipeline(transformer=pipe.transformer, scheduler=pipe.scheduler,
                               fast_transformer=CatDiT.from_pretrained(str(path)).float().eval(),
                               fast_guidance_scale=pipe.config.default_guidance_scale)
        student.set_progress_bar_config(disable=True)
        fast = _sampler(student, mode="fast")
        for n in steps:
            row, _ = judge(fast, n, samples, cache_dir, reference, data_root, size)
            rows.append({"model": f"student ({name})", "what": VARIANTS.get(name, name), **row})
            print(f"student {name} {n} steps: FID {_fmt(row['quality'].get('fid'), '.1f')}", flush=True)
    return rows


def _run(cmd: list[str], log: Path) -> None:
    run_commands([cmd], 1, [log])


def random_micro_pipeline(seed: int = 0):
    """A micro CatsPipeline with small random weights: untrained, it draws the same grey for every input
    (adaLN-Zero starts at exactly 0 output), so those layers get small weights and the breed table large
    ones, and images differ by breed and noise. The quick comparison's teacher; the tests use it too."""
    import torch  # imported here: torch only after the argument checks

    from cats.pipeline import CatsPipeline  # imported here: torch only after the argument checks

    pipe = CatsPipeline.from_preset("micro", seed=seed)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in pipe.transformer.parameters():
            if not p.any():
                p.copy_(0.05 * torch.randn(p.shape, generator=gen))
        table = pipe.transformer.y_embedder.weight
        table.copy_(torch.randn(table.shape, generator=gen))
    return pipe


def _quick_teacher(out: Path) -> tuple[str, Path]:
    """A random micro teacher (``random_micro_pipeline``) and 384 two-step pairs of it (the least the task takes)."""
    teacher = out / "teacher"
    random_micro_pipeline().save_pretrained(str(teacher))
    pairs = out / "pairs"
    _run([sys.executable, "-m", "cats.training.pairs", "--teacher", str(teacher), "--out", str(pairs),
          "--count", "384", "--steps", "2", "--threads", "1"], out / "pairs.log")
    return str(teacher), pairs


def run(teacher: str, pairs: Path | None, train_steps: int, variants: list[str], samples: int, out: Path,
        quick: bool = False, threads: int | None = None, eval_steps=(1, 2), teacher_steps=(2, 4, 20)) -> list[dict]:
    prepare_out(out, variants, VARIANTS)
    threads = threads or os.cpu_count() or 1
    if quick:
        teacher, pairs = _quick_teacher(out)
        teacher_steps = (2,)
    if pairs is None:
        raise ValueError("--pairs DIR is needed (python -m cats.training.pairs --teacher ... --out DIR)")
    settings = {**COMMON, **(QUICK if quick else {}), "steps": train_steps, "threads": threads}
    for v in variants:
        flags = [f"--{k.replace('_', '-')}={val}" for k, val in settings.items()]
        _run([sys.executable, "-m", "cats.training", "fewstep", "--teacher", str(teacher), "--pairs", str(pairs),
              "--fewstep-sigmas", v, "--out", str(out / v), *flags], out / v / "train.log")
    students = {v: out / v / "fast_transformer" for v in variants}
    rows = evaluate(teacher, students, list(eval_steps), list(teacher_steps), samples, out / "features", threads=threads)
    command = (f"python -m cats.benchmarks.fewstep --pairs {pairs} --steps {train_steps} --variants "
               f"{','.join(variants)} --samples {samples}" if not quick else "python -m cats.benchmarks.fewstep --quick")
    text = table(rows, command)
    (out / "fewstep.json").write_text(json.dumps({"command": command, "train": settings, "rows": rows}, indent=2) + "\n")
    (out / "fewstep.md").write_text(text)
    print(text)
    return rows


def _ints(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated step counts, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"step counts must be positive integers, got {text!r}")
    return values


def _student(text: str) -> tuple[str, Path]:
    name, _, path = text.rpartition("=")
    path = Path(path)
    if not (path / "config.json").is_file():
        raise argparse.ArgumentTypeError(f"{path} is not a student's folder (RUN_DIR/fast_transformer with config.json)")
    return name or "shipped", path


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["evaluate"]:
        p = argparse.ArgumentParser(prog="python -m cats.benchmarks.fewstep evaluate")
        p.add_argument("--teacher", default="synthcats")
        p.add_argument("--fast", type=_student, action="append", required=True, metavar="[NAME=]DIR",
                       help="a student's folder (RUN_DIR/fast_transformer), optionally named; repeat for several")
        p.add_argument("--samples", type=int, default=1200)
        p.add_argument("--steps", type=_ints, default=[1, 2, 4])
        p.add_argument("--teacher-steps", type=_ints, default=[20])
        p.add_argument("--out", type=Path, default=None, help="write fewstep.json / fewstep.md here")
        p.add_argument("--threads", type=int, default=None)
        args = p.parse_args(argv[1:])
        cache = Path.home() / ".cache" / "tiny-cats" / "inception"
        rows = evaluate(args.teacher, dict(args.fast), args.steps, args.teacher_steps, args.samples, cache,
                        threads=args.threads)
        command = "python -m cats.benchmarks.fewstep evaluate " + shlex.join(argv[1:])
        text = table(rows, command)
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / "fewstep.json").write_text(json.dumps({"command": command, "rows": rows}, indent=2) + "\n")
            (args.out / "fewstep.md").write_text(text)
        print(text)
        return
    p = argparse.ArgumentParser(prog="python -m cats.benchmarks.fewstep", description=__doc__.split("\n\n")[0])
    p.add_argument("--teacher", default="synthcats")
    p.add_argument("--pairs", type=Path, default=None)
    p.add_argument("--steps", type=int, default=1000, help="optimizer steps per variant (equal compute)")
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--samples", type=int, default=600)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--quick", action="store_true", help="micro teacher, 3 steps, 24 samples (seconds)")
    args = p.parse_args(argv)
    if args.quick:
        out = args.out or Path(tempfile.mkdtemp(prefix="tiny-cats-fewstep-"))
        run("", None, 3, args.variants.split(","), 24, out, quick=True, threads=1)
        return
    out = args.out or ROOT / "runs" / "fewstep"
    run(args.teacher, args.pairs, args.steps, args.variants.split(","), args.samples, out, threads=args.threads)


if __name__ == "__main__":
    main()
