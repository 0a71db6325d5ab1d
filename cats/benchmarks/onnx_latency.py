"""Per-step latency: PyTorch eager vs every ONNX variant, at 1 and 2 threads; file sizes; classifier.

    python -m cats.benchmarks.onnx_latency [--quick] [--preset tiny]

One guided step = one call of the exported step graph at batch 1 (CFG inside: the network runs
on a batch of 2; a graph with a guide network also runs the guide on a batch of 1), against the same
``cats.flow`` step in PyTorch eager. Medians over repeats; the
20-step total is one full sampling loop. Goal for the web preset (``tiny``): ONNX fp32 at least
1.5x faster than PyTorch per step. ``--quick`` uses the ``micro`` preset and a few repeats (tests).
Weights are random (latency does not depend on their values), so variant budgets are not applied.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # PyTorch's OpenMP spin-wait stalls a busy 2-core box

import numpy as np  # noqa: E402
import torch  # noqa: E402

from cats.export import export_pipeline  # noqa: E402
from cats.export.graphs import GeneratorStep  # noqa: E402
from cats.export.parity import case_weights, session, step_feed  # noqa: E402
from cats.models.classifier import PRESETS as CLASSIFIER_PRESETS  # noqa: E402
from cats.models.classifier import CatClassifier  # noqa: E402
from cats.models.dit import PRESETS  # noqa: E402
from cats.onnx.manifest import read_manifest  # noqa: E402
from cats.pipeline import CatsPipeline  # noqa: E402

THREADS = (1, 2)
GOAL_SPEEDUP = 1.5


def _medians_ms(fns: dict, warmup: int, repeats: int) -> dict[str, float]:
    """Median ms per call of each function, timed round-robin so all of them see the same load."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return {name: 1000.0 * statistics.median(ts) for name, ts in times.items()}


def _loop_s(fn, steps: int) -> float:
    t = time.perf_counter()
    for _ in range(steps):
        fn()
    return time.perf_counter() - t


def _build(preset: str, out: Path):
    torch.manual_seed(0)
    size = 32 if preset == "micro" else CLASSIFIER_PRESETS["tiny"]["image_size"]
    classifier = CatClassifier(image_size=size).eval()
    pipe = CatsPipeline.from_preset(preset, classifier=classifier)
    with torch.no_grad():
        for p in pipe.transformer.parameters():
            p.add_(0.02 * torch.randn_like(p))
    no_budget = {"fp16": {}, "int8": {}}
    manifest = export_pipeline(pipe, out, ("fp32", "fp16", "int8"), name=f"{preset}-random",
                               generator_budgets=no_budget, classifier_budgets=no_budget)
    return pipe, manifest


def run(quick: bool = False, preset: str | None = None, pipe=None, export_dir: str | Path | None = None) -> dict:
    """Measure and print; returns {"preset", "sizes_mb", "steps": {threads: {...}}, "classifier", "errors"}.

    pipe + export_dir: measure an existing export of ``pipe`` instead of exporting a random one.
    """
    preset = preset or ("micro" if quick else "tiny")
    warmup, repeats, total_steps = (1, 3, 4) if quick else (5, 60, 20)
    old_threads = torch.get_num_threads()
    with tempfile.TemporaryDirectory() as tmp:
        if (pipe is None) != (export_dir is None):
            raise ValueError("pass both pipe and export_dir (an export of that pipe), or neither")
        if pipe is None:
            out = Path(tmp)
            pipe, manifest = _build(preset, out)
        else:
            out, manifest = Path(export_dir), read_manifest(export_dir)
            preset = pipe.config.preset or preset
        gen, clf = manifest["generator"], manifest["classifier"]
        size = gen["image_size"]
        step = GeneratorStep(pipe.transformer, getattr(pipe, "guide_transformer", None)).eval()  # the graph's networks
        x = np.random.default_rng(0).standard_normal((1, 3, size, size)).astype(np.float32)
        scales = {k: v for k, v in gen["defaults"].items() if k in step.INPUTS}  # guidance_scale[, autoguidance_scale]
        feed = step_feed(x, 0.7, 0.65, case_weights()[:1], scales)
        tfeed = [torch.from_numpy(feed[k]) for k in step.INPUTS]
        clf_size = clf["image_size"] if clf else 32
        image = np.random.default_rng(1).standard_normal((1, 3, clf_size, clf_size)).astype(np.float32)
        timage = torch.from_numpy(image)
        result = {"preset": preset, "sizes_mb": {}, "steps": {}, "classifier": {}}
        for graph in ("generator", "classifier"):
            for name, v in (manifest[graph] or {}).get("variants", {}).items():
                result["sizes_mb"][f"{graph}.{name}"] = round(v["bytes"] / 1e6, 2)
        try:
            for threads in THREADS:
                torch.set_num_threads(threads)
                gen_sessions = {n: session(str(out / v["file"]), threads) for n, v in gen["variants"].items()}
                clf_sessions = {n: session(str(out / v["file"]), threads)
                                for n, v in (clf or {}).get("variants", {}).items()}
                steps = {"pytorch": lambda: step(*tfeed)}
                steps.update({n: (lambda s=s: s.run(None, feed)) for n, s in gen_sessions.items()})
                classify = {"pytorch": lambda: pipe.classifier(timage)} if clf else {}
                classify.update({n: (lambda s=s: s.run(None, {"image": image})) for n, s in clf_sessions.items()})
                with torch.no_grad():
                    ms = _medians_ms(steps, warmup, repeats)
                    totals = {n: _loop_s(fn, total_steps) for n, fn in steps.items()}
                    clf_ms = _medians_ms(classify, warmup, repeats)
                pytorch_ms = ms.pop("pytorch")
                result["steps"][threads] = {
                    "pytorch_ms": pytorch_ms, f"pytorch_{total_steps}_steps_s": totals.pop("pytorch"),
                    "onnx_ms": ms, "ratio": {n: v / pytorch_ms for n, v in ms.items()},
                    f"onnx_{total_steps}_steps_s": totals}
                result["classifier"][threads] = ({"pytorch_ms": clf_ms.pop("pytorch"), "onnx_ms": clf_ms}
                                                 if clf else None)
        finally:
            torch.set_num_threads(old_threads)
    result["errors"] = {name: v["error"] for name, v in gen["variants"].items()}
    _print(result, total_steps)
    return result


def _print(result: dict, total_steps: int) -> None:
    print(f"ONNX vs PyTorch eager, preset {result['preset']}, batch 1 with CFG (median per guided step)")
    print("files (MB): " + ", ".join(f"{k} {v}" for k, v in result["sizes_mb"].items()))
    for threads, row in result["steps"].items():
        print(f"  {threads} thread(s): PyTorch {row['pytorch_ms']:.2f} ms/step, "
              f"{total_steps} steps {row[f'pytorch_{total_steps}_steps_s']:.3f} s")
        for name, ms in row["onnx_ms"].items():
            speedup = 1.0 / row["ratio"][name]
            goal = "meets" if speedup >= GOAL_SPEEDUP else "misses"
            print(f"    ONNX {name:5s} {ms:8.2f} ms/step  ratio ONNX/PyTorch {row['ratio'][name]:.2f} "
                  f"(x{speedup:.2f}, {goal} the x{GOAL_SPEEDUP} goal)  {total_steps} steps "
                  f"{row[f'onnx_{total_steps}_steps_s'][name]:.3f} s")
        c = result["classifier"][threads]
        if c is None:
            continue
        print(f"    classifier: PyTorch {c['pytorch_ms']:.2f} ms, "
              + ", ".join(f"ONNX {n} {ms:.2f} ms" for n, ms in c["onnx_ms"].items()))
    for name, err in result["errors"].items():
        print(f"  {name} vs PyTorch: velocity rel RMS {err['velocity_rel_rms']:.2e}, "
              f"20-step image rel RMS {err['image20_rel_rms']:.2e}")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="micro preset, few repeats (seconds, for tests)")

    p.add_argument("--preset", default=None, choices=list(PRESETS),
                   help="generator preset (default tiny; micro with --quick)")
    args = p.parse_args(argv)
    run(quick=args.quick, preset=args.preset)


if __name__ == "__main__":
    main()
