"""The training curve of one generator run: FID, k-NN precision/recall and breed accuracy vs images seen.

    python -m cats.benchmarks.curve --run runs/synthcats-generator --samples 600 [--steps 2500,5000]
    python -m cats.benchmarks.curve --run RUN --quick      # 24 samples per point (the test suite)

Each complete checkpoint kept in RUN/checkpoints (or those named by ``--steps``) is loaded with
its EMA weights (what a pipeline saved at that step would ship) and judged like a recipe-ablation
row (``cats.benchmarks.recipes.judge``): samples balanced over breeds at 20 steps and guidance 3,
FID against the SynthCats test split beside its floor, precision/recall, memorisation ratio and
the bundled classifier's breed accuracy. Writes RUN/curve.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from cats.benchmarks.recipes import EVAL_GUIDANCE, EVAL_STEPS, _fmt, judge
from cats.pipeline import CatsPipeline
from cats.training import checkpoint as ckpt


def checkpoint_pipeline(run_dir: Path, checkpoint: Path):
    """A CatsPipeline with the EMA weights of ``checkpoint``.

    The run's saved pipeline gives the model; a run still training has none yet, and then its
    config.json (the preset and prediction type) does.
    """
    if (run_dir / "pipeline" / "model_index.json").is_file():
        pipe = CatsPipeline.from_pretrained(run_dir / "pipeline")
    else:
        config = json.loads((run_dir / "config.json").read_text())
        pipe = CatsPipeline.from_preset(config["preset"], prediction_type=config["prediction_type"])
    state = ckpt._read_verified(checkpoint)
    pipe.transformer.load_state_dict(state["ema"]["weights"])
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(torch.float32)


def run(run_dir: Path, samples: int, steps: list[int] | None = None, cache_dir: Path | None = None) -> list[dict]:
    config = json.loads((run_dir / "config.json").read_text())
    found = {int(p.name[len(ckpt.PREFIX):]): p for p in ckpt.list_checkpoints(run_dir)}
    if not found:
        raise FileNotFoundError(f"no complete checkpoint in {ckpt.checkpoint_dir(run_dir)}")
    missing = sorted(set(steps or []) - set(found))
    if missing:
        raise ValueError(f"no checkpoint for steps {missing} in {run_dir}; kept: {sorted(found)}")
    rows = []
    for step in sorted(steps or found):
        row = judge(checkpoint_pipeline(run_dir, found[step]), samples, config.get("data_root"),
                    cache_dir or run_dir / "features")
        row.update(step=step, images=step * config["batch_size"] * config["grad_accum"])
        rows.append(row)
        q = row["quality"]
        print(f"step {step}: {row['images']:,} images, FID {_fmt(q.get('fid'), '.1f')} "
              f"(floor {_fmt(q.get('fid_floor'), '.1f')}), precision {_fmt(q.get('precision'), '.3f')}, "
              f"recall {_fmt(q.get('recall'), '.3f')}, breed accuracy {row['accuracy']:.1%}", flush=True)
    (run_dir / "curve.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(f"\n{EVAL_STEPS} steps, guidance {EVAL_GUIDANCE}, {samples} samples per point\n")
    print("| step | images | FID | floor | precision | recall | breed acc (min) |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        q = r["quality"]
        print(f"| {r['step']} | {r['images']:,} | {_fmt(q.get('fid'), '.1f')} | {_fmt(q.get('fid_floor'), '.1f')} | "
              f"{_fmt(q.get('precision'), '.3f')} | {_fmt(q.get('recall'), '.3f')} | "
              f"{r['accuracy']:.1%} ({r['min_breed_accuracy']:.0%}) |")
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m cats.benchmarks.curve", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", type=Path, required=True, help="a generator run directory (checkpoints/, pipeline/)")
    p.add_argument("--samples", type=int, default=600, help="samples per point (FID needs >= 500)")
    p.add_argument("--steps", default=None, help="comma-separated checkpoint steps (default: every kept one)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--quick", action="store_true", help="24 samples per point")
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    steps = [int(s) for s in a.steps.split(",")] if a.steps else None
    run(a.run, 24 if a.quick else a.samples, steps)


if __name__ == "__main__":
    main()
