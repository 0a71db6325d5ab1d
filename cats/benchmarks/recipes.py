"""Equal-budget recipe ablation for the generator: same wall-clock, same machine, one table.

    python -m cats.benchmarks.recipes --minutes 10 --variants base,uvit,v --parallel 2 --samples 600
    python -m cats.benchmarks.recipes --quick          # micro preset, seconds (the test suite runs this)
    python -m cats.benchmarks.recipes table runs/a runs/b   # one table from the rows of earlier runs

Each variant is a set of ``cats.training generator`` settings on top of ``COMMON``. Every variant
trains for ``--minutes`` of wall-clock time with ``--steps`` left out, so its learning-rate
schedule is fitted to the budget (``cats.training.lr``); ``--parallel N`` trains N variants at
once with ``threads / N`` threads each, so variants of one round share the machine alike. Then
each is evaluated on the same footing: ``--samples`` samples balanced over breeds at 20 steps and
guidance 3, FID against the SynthCats test split beside the train-vs-test floor, k-NN precision /
recall, the memorisation ratio, and breed accuracy under the bundled classifier (last: it can be
pleased by colours alone). Writes OUT/recipes.json and OUT/recipes.md (the table, with the command).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from cats.data import load_dataset
from cats.paths import ROOT

# Settings shared by every variant (flags of `python -m cats.training generator`).
COMMON = {"data": "synthcats", "preset": "tiny", "batch_size": 64, "lr": 6e-4, "warmup": 100, "ema_decay": 0.998,
          "seed": 0, "eval_every": 0, "sample_every": 0, "checkpoint_every": 0}

# name -> (settings over COMMON, what it tests)
VARIANTS: dict[str, tuple[dict, str]] = {
    "base": ({}, "DiT-tiny, x-prediction, bf16 where native, AdamW beta2 0.999"),
    "uvit": ({"preset": "tiny-u"}, "U-ViT long skips + residual 3x3 conv after unpatchify"),
    "v": ({"prediction_type": "v"}, "v-prediction instead of x"),
    "beta2": ({"adam_beta2": 0.95}, "AdamW beta2 0.95"),
    "lr2x": ({"lr": 1.2e-3}, "twice the learning rate"),
    "bs32": ({"batch_size": 32}, "batch 32: more, noisier steps"),
    "fp32": ({"mixed_precision": "no"}, "full precision (what bf16 buys at equal time)"),
    "noise+": ({"logit_mean": 0.4}, "logit-normal mean +0.4: more training at high noise"),
    "noise-": ({"logit_mean": -0.4}, "logit-normal mean -0.4: more training at low noise"),
    "ema999": ({"ema_decay": 0.999}, "EMA decay 0.999"),
}
QUICK = {"preset": "micro", "num_per_class": 4, "batch_size": 8}
EVAL_STEPS, EVAL_GUIDANCE = 20, 3.0


def _flags(settings: dict) -> list[str]:
    out = []
    for key, value in settings.items():
        out += [f"--{key.replace('_', '-')}", str(value)]
    return out


def train_command(name: str, out: Path, minutes: float, threads: int, quick: bool, data_root: str | None) -> list[str]:
    settings = {**COMMON, **VARIANTS[name][0], **(QUICK if quick else {})}
    if data_root:
        settings["data_root"] = data_root
    return [sys.executable, "-m", "cats.training", "generator", *_flags(settings), "--out", str(out / name),
            "--minutes", str(minutes), "--threads", str(threads)]


def prepare_out(out: Path, variants: list[str], known) -> None:
    """Refuse unknown variants and variants ``out`` already holds (nothing is overwritten); make ``out``."""
    unknown = [v for v in variants if v not in known]
    if unknown:
        raise ValueError(f"unknown variants {unknown}; choose from {', '.join(known)}")
    taken = [v for v in variants if (out / v).exists()]
    if taken:
        raise FileExistsError(f"{out} already holds runs {taken}: choose another --out or remove them")
    out.mkdir(parents=True, exist_ok=True)


def run_commands(commands: list[list[str]], parallel: int, logs: list[Path]) -> None:
    """Run commands ``parallel`` at a time; raise naming the first that failed and its log."""
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", PYTHONPATH=str(ROOT))
    for start in range(0, len(commands), parallel):
        procs = []
        for cmd, log in zip(commands[start:start + parallel], logs[start:start + parallel]):
            log.parent.mkdir(parents=True, exist_ok=True)
            procs.append((subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT),
                          cmd, log))
        for proc, cmd, log in procs:
            if proc.wait() != 0:
                raise RuntimeError(f"`{shlex.join(cmd)}` failed (exit {proc.returncode}); see {log}")


def judge(pipe, samples: int, data_root: str | None, cache_dir: Path, sheet: Path | None = None) -> dict:
    """Sample quality of a pipeline on the ablation's footing (also the training curve's, ``curve.py``)."""

    from cats.evaluation.classifier import find_classifier_dir  # imported here: `table` and --help run without torch
    from cats.evaluation.generator import (  # imported here: `table` and --help run without torch
        breed_accuracy,
        classify_tensors,
        generate_balanced,
        sample_sheet,
        synthcats_quality,
    )
    from cats.models.classifier import CatClassifier  # imported here: `table` and --help run without torch

    size = pipe.transformer.config.sample_size
    t0 = time.perf_counter()
    fake, labels = generate_balanced(pipe, max(1, samples // 12), EVAL_STEPS, EVAL_GUIDANCE)
    quality = synthcats_quality(fake, labels, cache_dir, data_root, size)
    judge_model = CatClassifier.from_pretrained(find_classifier_dir("synthcats")).eval()
    acc = breed_accuracy(classify_tensors(judge_model, fake), labels)
    if sheet is not None:
        sample_sheet(pipe, sheet, columns=6, steps=EVAL_STEPS, guidance=EVAL_GUIDANCE)
    return {"quality": quality, "accuracy": acc["mean"], "min_breed_accuracy": min(acc["per_breed"].values()),
            "eval_seconds": round(time.perf_counter() - t0, 1)}


def evaluate_run(run_dir: Path, samples: int, data_root: str | None, cache_dir: Path, threads: int) -> dict:
    """The table row of one trained variant (run in its own process by the `evaluate` subcommand)."""
    import torch  # imported here: `table` and --help run without torch

    from cats.pipeline import CatsPipeline  # imported here: `table` and --help run without torch
    from cats.training import checkpoint as ckpt  # imported here: `table` and --help run without torch

    torch.set_num_threads(threads)
    pipe = CatsPipeline.from_pretrained(run_dir / "pipeline")
    pipe.set_progress_bar_config(disable=True)
    config = json.loads((run_dir / "config.json").read_text())
    step = int(ckpt.list_checkpoints(run_dir)[-1].name.split("_")[-1])
    row = judge(pipe, samples, data_root, cache_dir, sheet=run_dir / "sample_sheet.png")
    return {"step": step, "images": step * config["batch_size"] * config["grad_accum"], **row}


def _fmt(value, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def table(rows: dict[str, dict], command: str) -> str:
    lines = [f"`{command}`", "",
             "| variant | what it tests | steps | images | FID | floor | precision | recall | breed acc (min) | memo q05 |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, r in rows.items():
        q = r["quality"]
        memo = q.get("memorisation", {}).get("ratio_q05")
        lines.append(f"| {name} | {VARIANTS[name][1]} | {r['step']} | {r['images']:,} | {_fmt(q.get('fid'), '.1f')} | "
                     f"{_fmt(q.get('fid_floor'), '.1f')} | {_fmt(q.get('precision'), '.3f')} | "
                     f"{_fmt(q.get('recall'), '.3f')} | {r['accuracy']:.1%} ({r['min_breed_accuracy']:.0%}) | "
                     f"{_fmt(memo, '.2f')} |")
    lines += ["", f"FID, precision and recall: {EVAL_STEPS} steps, guidance {EVAL_GUIDANCE}, Inception pool features, "
                  "k = 3, against the SynthCats test split; floor = train vs test images at the same count; memo q05 = "
                  "5% quantile of samples' distance to the nearest training image over the same for test images "
                  "(< 1: closer than unseen images, i.e. copying); breed acc = bundled classifier's top-1 on the "
                  "samples (min over breeds)."]
    return "\n".join(lines) + "\n"


def run(minutes: float, variants: list[str], parallel: int, samples: int, out: Path, quick: bool = False,
        data_root: str | None = None, threads: int | None = None) -> dict:
    from cats.evaluation.fid import cached_features  # imported here: `table` and --help run without torch

    if parallel < 1:
        raise ValueError(f"--parallel must be >= 1, got {parallel}")
    prepare_out(out, variants, VARIANTS)
    threads = threads or os.cpu_count() or 1
    per_run = max(1, threads // parallel)
    cache_dir = out / "features"
    if not quick:  # real-image features once, before any timing, so no variant pays for them
        import torch  # imported here: `table` and --help run without torch


        size = 64
        extra = {"root": data_root} if data_root else {}
        for split in ("test", "train"):
            imgs = torch.as_tensor(load_dataset("synthcats", split=split, image_size=size, **extra).images)
            cached_features(imgs[:max(1, samples // 12) * 12], cache_dir)  # the count evaluate_run compares
    commands = [train_command(v, out, minutes, per_run, quick, data_root) for v in variants]
    run_commands(commands, parallel, [out / v / "train.log" for v in variants])
    evals = [[sys.executable, "-m", "cats.benchmarks.recipes", "evaluate", str(out / v), "--samples", str(samples),
              "--threads", str(per_run), "--cache", str(cache_dir)] + (["--data-root", data_root] if data_root else [])
             for v in variants]
    run_commands(evals, parallel, [out / v / "eval.log" for v in variants])
    rows = {v: json.loads((out / v / "row.json").read_text()) for v in variants}
    command = (f"python -m cats.benchmarks.recipes --minutes {minutes:g} --variants {','.join(variants)} "
               f"--parallel {parallel} --samples {samples}" + (" --quick" if quick else ""))
    text = table(rows, command)
    (out / "recipes.json").write_text(json.dumps({"command": command, "rows": rows}, indent=2) + "\n")
    (out / "recipes.md").write_text(text)
    print(text)
    return rows


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["table"]:
        rows = {}
        for out in map(Path, argv[1:]):
            for row in sorted(out.glob("*/row.json")):
                if row.parent.name in VARIANTS:
                    rows[row.parent.name] = json.loads(row.read_text())
        if not rows:
            raise SystemExit(f"no evaluated variants (*/row.json) under {' '.join(argv[1:]) or 'the given folders'}")
        print(table(rows, f"python -m cats.benchmarks.recipes table {' '.join(argv[1:])}"))
        return
    if argv[:1] == ["evaluate"]:
        p = argparse.ArgumentParser(prog="python -m cats.benchmarks.recipes evaluate")
        p.add_argument("run_dir", type=Path)
        p.add_argument("--samples", type=int, required=True)
        p.add_argument("--threads", type=int, default=1)
        p.add_argument("--cache", type=Path, required=True)
        p.add_argument("--data-root", default=None)
        a = p.parse_args(argv[1:])
        row = evaluate_run(a.run_dir, a.samples, a.data_root, a.cache, a.threads)
        (a.run_dir / "row.json").write_text(json.dumps(row, indent=2) + "\n")
        return
    p = argparse.ArgumentParser(prog="python -m cats.benchmarks.recipes", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=10.0, help="wall-clock training budget per variant")
    p.add_argument("--variants", default="base,uvit,v,beta2", help=f"comma-separated, from: {', '.join(VARIANTS)}")
    p.add_argument("--parallel", type=int, default=2, help="variants trained at once (threads are split between them)")
    p.add_argument("--threads", type=int, default=None, help="threads in all (default: the CPU count)")
    p.add_argument("--samples", type=int, default=600, help="samples per variant (FID needs >= 500)")
    p.add_argument("--out", type=Path, default=Path("runs/recipes"))
    p.add_argument("--data-root", default=None)
    p.add_argument("--quick", action="store_true", help="micro preset, 0.05 minutes, 24 samples, variants base,v")
    a = p.parse_args(argv)
    if a.quick:
        run(0.05, ["base", "v"], 2, 24, a.out, quick=True, data_root=a.data_root, threads=2)
    else:
        run(a.minutes, a.variants.split(","), a.parallel, a.samples, a.out, data_root=a.data_root, threads=a.threads)


if __name__ == "__main__":
    main()
