"""The benchmark table: ``python -m cats.benchmarks [--quick] [--out docs/benchmarks.md]``.

Runs every benchmark in ``cats.benchmarks`` in this one process (the browser figures come from the
web client's ``npm run bench -- --json`` in a subprocess), then prints one Markdown table with the
machine and the date. The README's table is pasted from this output; speed goals are judged here,
never in tests. ``--quick`` runs each part at its smallest size (CI exercises it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
from pathlib import Path

from cats.benchmarks import gradio_startup, synthcats
from cats.paths import BUNDLED_NAME, WEB_DIR, WEB_MODELS


def machine() -> str:
    import torch  # imported here: each part loads its stack when the table runs

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = f", GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ", no GPU"
    return f"{cpu}, {os.cpu_count()} cores{gpu}; Python {platform.python_version()}, torch {torch.__version__}"


def onnx_section(quick: bool) -> dict:
    """Per-step latency of the bundled weights' export (a random model is exported when it is absent)."""
    from cats.benchmarks import onnx_latency  # imported here: it sets OMP_WAIT_POLICY as it loads, for its own timing

    if (WEB_MODELS / "manifest.json").is_file():
        from cats.pipeline import CatsPipeline  # imported here: each part loads its stack when the table runs

        pipe = CatsPipeline.from_pretrained(BUNDLED_NAME)
        pipe.set_progress_bar_config(disable=True)
        return onnx_latency.run(quick=quick, pipe=pipe, export_dir=WEB_MODELS)
    return onnx_latency.run(quick=quick)


def browser_section(quick: bool) -> dict | None:
    """The web client's benchmark (headless Chromium, WASM); None with the reason printed if it cannot run."""
    cmd = ["npm", "run", "--silent", "bench", "--", "--json"] + (["--quick"] if quick else [])
    if not (WEB_DIR / "node_modules").is_dir():
        print("browser benchmark skipped: run `cd webclient && npm ci` first")
        return None
    proc = subprocess.run(cmd, cwd=WEB_DIR, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"`{' '.join(cmd)}` failed in webclient/:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout[proc.stdout.index("{"):])


def table(results: dict) -> str:
    """Markdown table of the figures (one row per measurement)."""
    rows = [("figure", "value")]
    for key, ips in results["train"]["images_per_s"].items():
        rows.append((f"training, {key} (bare loop)", f"{ips:.1f} img/s"))
    for key, r in results["train"]["cli_vs_bare"].items():
        rows.append((f"training CLI step / bare loop, {key}", f"{r['ratio']:.2f} ({r['cli_s'] * 1e3:.0f} / {r['bare_s'] * 1e3:.0f} ms)"))
    onnx = results["onnx"]
    for threads, r in onnx["steps"].items():
        steps_key = next(k for k in r if k.startswith("pytorch_") and k.endswith("_steps_s"))
        n = steps_key.split("_")[1]
        rows.append((f"{onnx['preset']} guided step, PyTorch eager, {threads} thread(s)",
                     f"{r['pytorch_ms']:.1f} ms; {n} steps {r[steps_key]:.2f} s"))
        for name, ms in r["onnx_ms"].items():
            rows.append((f"{onnx['preset']} guided step, ONNX {name}, {threads} thread(s)",
                         f"{ms:.1f} ms (x{1 / r['ratio'][name]:.2f} vs PyTorch); {n} steps "
                         f"{r[f'onnx_{n}_steps_s'][name]:.2f} s"))
        c = onnx["classifier"].get(threads)
        if c:
            rows.append((f"classifier, {threads} thread(s)", f"PyTorch {c['pytorch_ms']:.1f} ms, " + ", ".join(
                f"ONNX {k} {v:.1f} ms" for k, v in c["onnx_ms"].items())))
    for name, mb in onnx["sizes_mb"].items():
        rows.append((f"file size {name}", f"{mb:.1f} MB"))
    g = results["gradio"]
    rows.append((f"Gradio start-up to first request ({g['weights']})", f"{g['first_request_s']:.1f} s (median of {g['runs']})"))
    s = results["synthcats"]["rows"][0]
    rows.append(("SynthCats drawing, 64 px, one core", f"{s['images_per_cpu_s']:.0f} img per CPU-second"))
    b = results.get("browser")
    if b:
        for r in b["results"]:
            rows.append((f"browser ({b['browser']}, WASM) {r['variant']}, {r['threads']} thread(s)",
                         f"load {r['load_ms'] / 1e3:.1f} s, step {r['step_ms']:.1f} ms, {b['steps']} steps {r['total_ms'] / 1e3:.2f} s"))
    width = max(len(r[0]) for r in rows)
    lines = [f"| {a.ljust(width)} | {b_} |" for a, b_ in rows]
    lines.insert(1, f"| {'-' * width} | --- |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    """Run every part, print the table (and write it with --out); return the figures."""
    parser = argparse.ArgumentParser(prog="python -m cats.benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smallest size of every part (seconds; used by CI)")
    parser.add_argument("--no-browser", action="store_true", help="leave out the headless-Chromium figures")
    parser.add_argument("--out", type=Path, default=None, help="also write the Markdown table (and a .json) here")
    args = parser.parse_args(argv)
    from cats.benchmarks import train_throughput  # imported here: each part loads its stack when the table runs

    header = f"{dt.date.today().isoformat()} on {machine()}{' (--quick)' if args.quick else ''}"
    print(f"== tiny-cats benchmarks, {header}")
    results = {"header": header, "quick": args.quick}
    results["train"] = train_throughput.run(quick=args.quick)
    results["onnx"] = onnx_section(args.quick)
    results["gradio"] = gradio_startup.run(quick=args.quick)
    results["synthcats"] = synthcats.run(quick=args.quick)
    results["browser"] = None if args.no_browser else browser_section(args.quick)
    md = f"Measured {header} with `python -m cats.benchmarks`:\n\n{table(results)}\n"
    print("\n" + md)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(md)
        args.out.with_suffix(".json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    return results
