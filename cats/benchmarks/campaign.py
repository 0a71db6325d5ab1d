"""The generator campaign: one training run that continues over many blocks of CPU time.

    python -m cats.benchmarks.campaign block --minutes 150       # train one block, judge it, bundle if better
    python -m cats.benchmarks.campaign table                     # docs/campaign.md's table from docs/campaign.json
    python -m cats.benchmarks.campaign predict                   # fit FID vs images; images needed per target

A block starts where the last one stopped: from the run's newest complete checkpoint when it is
still on this machine (``--resume``), otherwise from the bundled weights (``--init-from``: weights
and EMA, a fresh optimizer and a short warm-up), so no block starts from scratch and at most one
block can be lost. The run uses ``RECIPE`` (constant learning rate after the warm-up, so a run
that continues never decays). After training, the run's EMA weights are judged like the bundled
ones (``python -m cats.evaluation generator``, 1,200 samples) and replace them only when their FID
is lower; the block's row (date, cumulative images, CPU minutes, FID, precision/recall,
memorisation, own-classifier accuracy, what changed) goes into ``docs/campaign.json``, from which
``docs/campaign.md``'s table is written.

``--quick`` (the test suite): the micro preset on a few drawings per breed, 24 samples, nothing bundled.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOG = ROOT / "docs" / "campaign.json"
TABLE = ROOT / "docs" / "campaign.md"
TABLE_START, TABLE_END = "<!-- campaign table: start -->", "<!-- campaign table: end -->"
BUNDLED_METRICS = ROOT / "cats" / "weights" / "synthcats" / "metrics_generator.json"
BUNDLED_CLASSIFIER = ROOT / "cats" / "weights" / "synthcats" / "classifier"
START_FILE = "campaign_start.json"  # in the run directory: the cumulative images when this run began
# The campaign's recipe (docs/generator_recipe.md): the bundled architecture, constant LR after a short
# warm-up, AdamW beta2 0.95, no weight decay, EMA 0.999.
RECIPE = ["--data", "synthcats", "--preset", "tiny-u", "--batch-size", "64", "--lr", "6e-4", "--warmup", "100",
          "--min-lr-ratio", "1", "--adam-beta2", "0.95", "--weight-decay", "0", "--ema-decay", "0.999",
          "--checkpoint-every", "500", "--keep", "3", "--eval-every", "1000", "--sample-every", "0"]
QUICK = ["--preset", "micro", "--num-per-class", "4", "--batch-size", "8", "--checkpoint-every", "10",
         "--eval-every", "0", "--sample-every", "0", "--warmup", "1", "--min-lr-ratio", "1"]
TARGETS = {"milestone 1": 120.0, "milestone 2": 70.0, "goal": 30.0}


def read_log(path: Path = LOG) -> list[dict]:
    return json.loads(path.read_text()) if path.is_file() else []


def bundled_images(rows: list[dict]) -> int:
    """Images seen by the bundled generator: the newest row that was bundled."""
    bundled = [r for r in rows if r.get("bundled")]
    if not bundled:
        raise ValueError(f"{LOG} has no bundled row: its first row must describe the bundled weights")
    return int(bundled[-1]["images"])


def start_args(run: Path, init_from: str, rows: list[dict]) -> tuple[list[str], int, str]:
    """How this block starts: (training flags, cumulative images at the run's step 0, a note)."""
    from cats.training import checkpoint as ckpt  # imported here: torch, which `table` and `predict` do without

    start_file = run / START_FILE
    if ckpt.list_checkpoints(run) and start_file.is_file():
        start = json.loads(start_file.read_text())  # the same flags as the run's start, so the config matches
        return ["--resume", "--init-from", start["init_from"]], int(start["images"]), "resumed from the run's checkpoint"
    images = bundled_images(rows) if rows else 0
    run.mkdir(parents=True, exist_ok=True)
    start_file.write_text(json.dumps({"images": images, "init_from": init_from}) + "\n")
    return ["--init-from", init_from], images, f"started from {init_from} (fresh optimizer)"


def _relative(path: Path) -> str:
    """``path`` relative to the checkout: the bundled config, training.json and metrics record these paths."""
    return os.path.relpath(path, ROOT)


def train(run: Path, flags: list[str], minutes: float, threads: int) -> float:
    """Run ``python -m cats.training generator``; returns the wall minutes it took."""
    cmd = [sys.executable, "-m", "cats.training", "generator", *flags, "--out", _relative(run),
           "--minutes", str(minutes), "--threads", str(threads)]
    print("==>", shlex.join(cmd), flush=True)
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, env=dict(os.environ, OMP_WAIT_POLICY="PASSIVE"))
    return (time.perf_counter() - t0) / 60


def judge(run: Path, quick: bool) -> dict:
    """The bundled weights' evaluation on the run's EMA pipeline; returns its metrics JSON."""
    out = run / "eval" / "metrics_generator.json"
    cmd = [sys.executable, "-m", "cats.evaluation", "generator", "--model", _relative(run / "pipeline"),
           "--data", "synthcats", "--classifier", str(BUNDLED_CLASSIFIER), "--out", str(out), "--sweep-per-breed", "1"]
    cmd += ["--quick"] if quick else []
    print("==>", shlex.join(cmd), flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True)
    return json.loads(out.read_text())


def row_from(metrics: dict, images: int, minutes: float, change: str) -> dict:
    q, acc = metrics["quality"], metrics["default"]["breed_accuracy"]
    memo, judge = q.get("memorisation", {}), q.get("judge") or {}
    return {"date": datetime.date.today().isoformat(), "images": images, "cpu_minutes": round(minutes, 1),
            "fid": q.get("fid"), "fid_floor": q.get("fid_floor"), "precision": q.get("precision"),
            "recall": q.get("recall"), "memo_ratio_q05": memo.get("ratio_q05"),
            "memo_closer_share": memo.get("share_closer_than_any_test"), "accuracy": acc["mean"],
            "min_breed_accuracy": min(acc["per_breed"].values()), "samples": q.get("num_fake"),
            "judge": judge.get("mean"), "judge_min": min(judge["per_breed"].values()) if judge else None,
            "change": change}


def beats(new: dict, bundled: dict) -> bool:
    """Whether a block's weights replace the bundled ones: a lower FID on the same footing (same sample count,
    classifier-free guidance only: a block's run has no guide, so a guided bundle is compared by its ``cfg_only``)."""
    nq, bq = new["quality"], (bundled.get("cfg_only") or bundled)["quality"]
    return nq.get("num_fake") == bq.get("num_fake") and nq["fid"] < bq["fid"]


def render_table(rows: list[dict]) -> str:
    fmt = lambda v, spec: "-" if v is None else format(v, spec)  # noqa: E731
    lines = ["| block | date | images seen | CPU min | FID (floor) | precision / recall | memo q05 / closer | "
             "independent judge (min) | breed acc (min) | bundled | what changed |",
             "| ---: | --- | ---: | ---: | --- | --- | --- | --- | --- | --- | --- |"]
    for i, r in enumerate(rows):
        lines.append(f"| {i} | {r['date']} | {r['images']:,} | {fmt(r.get('cpu_minutes'), '.0f')} | "
                     f"{fmt(r.get('fid'), '.1f')} ({fmt(r.get('fid_floor'), '.1f')}) | "
                     f"{fmt(r.get('precision'), '.3f')} / {fmt(r.get('recall'), '.3f')} | "
                     f"{fmt(r.get('memo_ratio_q05'), '.2f')} / {fmt(r.get('memo_closer_share'), '.1%')} | "
                     f"{fmt(r.get('judge'), '.1%')} ({fmt(r.get('judge_min'), '.0%')}) | "
                     f"{fmt(r.get('accuracy'), '.1%')} ({fmt(r.get('min_breed_accuracy'), '.0%')}) | "
                     f"{'yes' if r.get('bundled') else 'no'} | {r.get('change', '')} |")
    return "\n".join(lines)


def write_table(rows: list[dict], path: Path = TABLE) -> None:
    """Replace the table between the markers of ``path`` (the rest of the page is prose kept as it is)."""
    text = path.read_text()
    if TABLE_START not in text or TABLE_END not in text:
        raise ValueError(f"{path} lacks the markers {TABLE_START} / {TABLE_END} around its table")
    head, rest = text.split(TABLE_START, 1)
    tail = rest.split(TABLE_END, 1)[1]
    path.write_text(f"{head}{TABLE_START}\n{render_table(rows)}\n{TABLE_END}{tail}")


def fit(points: list[tuple[int, float]]) -> tuple[float, float]:
    """Least-squares line through (log images, log FID): returns (slope, intercept)."""
    if len(points) < 2:
        raise ValueError("a curve needs at least two (images, FID) points")
    xs = [math.log(n) for n, _ in points]
    ys = [math.log(f) for _, f in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    return slope, my - slope * mx


def images_for(fid: float, slope: float, intercept: float) -> float:
    """Images at which the fitted line reaches ``fid`` (inf when the line does not fall)."""
    return math.inf if slope >= 0 else math.exp((math.log(fid) - intercept) / slope)


def predict(points: list[tuple[int, float]], images_per_minute: float | None) -> str:
    slope, intercept = fit(points)
    out = [f"fit over {len(points)} points ({points[0][0]:,} .. {points[-1][0]:,} images): "
           f"log FID = {intercept:.3f} {slope:+.3f} log images"]
    for name, target in TARGETS.items():
        n = images_for(target, slope, intercept)
        when = "" if images_per_minute is None or math.isinf(n) else f", ~{n / images_per_minute / 60:,.0f} CPU hours"
        out.append(f"{name} (FID {target:g}): {n:,.0f} images{when}")
    return "\n".join(out)


def block(args: argparse.Namespace) -> dict:
    rows = read_log(args.log)
    flags, start_images, note = start_args(args.run, args.init_from, rows)
    flags = (QUICK if args.quick else RECIPE) + flags
    minutes = train(args.run, flags, args.minutes, args.threads)
    config = json.loads((args.run / "config.json").read_text())
    from cats.training import checkpoint as ckpt  # imported here: torch, which `table` and `predict` do without

    step = max(int(p.name[len(ckpt.PREFIX):]) for p in ckpt.list_checkpoints(args.run))
    images = start_images + step * config["batch_size"] * config["grad_accum"]
    metrics = judge(args.run, args.quick)
    row = row_from(metrics, images, minutes, args.change or note)
    bundled = json.loads(BUNDLED_METRICS.read_text()) if BUNDLED_METRICS.is_file() else None
    row["bundled"] = bool(not args.quick and bundled and beats(metrics, bundled))
    if row["bundled"]:
        subprocess.run([sys.executable, "scripts/bundle_weights.py", "--generator", _relative(args.run / "pipeline"),
                        "--name", "synthcats"], cwd=ROOT, check=True)
        # The bundle keeps its guide (docs/guidance.md): judge it as shipped, guided, beside CFG alone.
        subprocess.run([sys.executable, "-m", "cats.evaluation", "generator", "--model", "synthcats", "--data",
                        "synthcats", "--out", _relative(BUNDLED_METRICS)], cwd=ROOT, check=True)
    if not args.quick:
        rows.append(row)
        args.log.write_text(json.dumps(rows, indent=2) + "\n")
        write_table(rows)
    print(render_table([row]))
    return row


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m cats.benchmarks.campaign", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("block", help="train one block, judge it, bundle it when it beats the bundled weights")
    b.add_argument("--minutes", type=float, required=True, help="training budget of this block (<= 150)")
    b.add_argument("--run", type=Path, default=ROOT / "runs" / "campaign")
    b.add_argument("--init-from", default="synthcats", help="where a run without checkpoints starts")
    b.add_argument("--threads", type=int, default=2)
    b.add_argument("--change", default=None, help="what changed in this block (the log's last column)")
    b.add_argument("--log", type=Path, default=LOG)
    b.add_argument("--quick", action="store_true", help="micro preset, a few steps, 24 samples, nothing bundled")
    sub.add_parser("table", help="rewrite docs/campaign.md's table from docs/campaign.json")
    pr = sub.add_parser("predict", help="fit FID vs images (log-log) over the log's rows and extrapolate")
    pr.add_argument("--images-per-second", type=float, default=None, help="training speed, for CPU hours")
    pr.add_argument("--points", default=None,
                    help="IMAGES:FID,... to fit instead of the log's rows (e.g. a run's curve.json figures)")
    a = p.parse_args(argv)
    if a.command == "block":
        block(a)
    elif a.command == "table":
        write_table(read_log())
    else:
        points = ([(int(n), float(f)) for n, f in (item.split(":") for item in a.points.split(","))] if a.points
                  else [(r["images"], r["fid"]) for r in read_log() if r.get("fid") is not None])
        print(predict(points,
                      None if a.images_per_second is None else a.images_per_second * 60))


if __name__ == "__main__":
    main()
