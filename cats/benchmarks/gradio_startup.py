"""Start-up time of the Gradio demo: process start -> first request served (goal: under 10 s here).

    python -m cats.benchmarks.gradio_startup [--quick] [--model DIR] [--onnx DIR] [--runs N]

Each run starts ``python spaces_demo/app.py`` on a free port, times when the port first answers
HTTP, then when the first ``/generate`` request (1 step, the app's default backend) comes back
through ``gradio_client``, and stops the app. Prints the median of the runs. Weights: the bundled
SynthCats pipeline when present (with the web client's ONNX export, as the app picks them), else an
untrained ``micro`` pipeline saved to a temporary directory (PyTorch backend only).
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from cats.paths import DEMO_APP, bundled_pipeline

BUNDLED = bundled_pipeline()
GOAL_S = 10.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the app exited with status {proc.returncode} before answering:\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the app did not answer at {url} within {timeout:.0f} s")


def time_one_start(flags: list[str], timeout: float = 300.0) -> tuple[float, float]:
    """-> (seconds until the port answers, seconds until the first /generate is served)."""
    from gradio_client import Client  # imported here: the demo extra, loaded before the clock starts

    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    log = Path(tempfile.mkstemp(prefix="tiny-cats-app-", suffix=".log")[1])
    t0 = time.perf_counter()
    with log.open("w") as sink:
        proc = subprocess.Popen([sys.executable, str(DEMO_APP), "--port", str(port), *flags],
                                stdout=sink, stderr=subprocess.STDOUT)
    try:
        _wait_http(url, proc, log, timeout)
        listening = time.perf_counter() - t0
        client = Client(url, verbose=False)
        info = client.view_api(print_info=False, return_format="dict")
        params = info["named_endpoints"]["/generate"]["parameters"]
        backend = next(p["parameter_default"] for p in params if p["parameter_name"] == "backend_label")
        client.predict("Siamese", 1, 3.0, "euler", 0, 1, backend, api_name="/generate")
        served = time.perf_counter() - t0
        client.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.unlink(missing_ok=True)
    return listening, served


def _micro_pipeline(folder: Path) -> Path:
    from cats.pipeline import CatsPipeline  # imported here: torch only when the bundled weights are absent

    CatsPipeline.from_preset("micro", seed=0).save_pretrained(folder)
    return folder


def run(quick: bool = False, model: str | Path | None = None, onnx: str | Path | None = None,
        runs: int | None = None) -> dict:
    """Median start-up figures over ``runs`` app starts (quick: 1 run). Prints and returns them."""
    runs = runs or (1 if quick else 3)
    with tempfile.TemporaryDirectory(prefix="tiny-cats-startup-") as tmp:
        if model is not None:
            weights, flags = str(model), ["--model", str(model)]
        elif (BUNDLED / "model_index.json").is_file():
            weights, flags = "bundled synthcats", []
        else:
            weights = "untrained micro (bundled weights absent)"
            flags = ["--model", str(_micro_pipeline(Path(tmp) / "micro"))]
        if onnx is not None:
            flags += ["--onnx", str(onnx)]
        times = [time_one_start(flags) for _ in range(runs)]
    listen = statistics.median(t[0] for t in times)
    first = statistics.median(t[1] for t in times)
    result = {"weights": weights, "onnx": str(onnx) if onnx else "as the app picks", "runs": runs,
              "listening_s": round(listen, 2), "first_request_s": round(first, 2),
              "all_first_request_s": [round(t[1], 2) for t in times], "goal_s": GOAL_S,
              "goal_met": first < GOAL_S}
    print(f"gradio start-up ({weights}, {runs} run(s), median): port answers after {listen:.2f} s, "
          f"first /generate served after {first:.2f} s (goal < {GOAL_S:.0f} s: "
          f"{'met' if first < GOAL_S else 'NOT met'})")
    return result


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="one run")
    p.add_argument("--model", default=None, help="pipeline directory (default: bundled, else untrained micro)")
    p.add_argument("--onnx", default=None, help="ONNX export directory to pass to the app")
    p.add_argument("--runs", type=int, default=None, help="app starts to time (default 3, quick 1)")
    args = p.parse_args(argv)
    run(quick=args.quick, model=args.model, onnx=args.onnx, runs=args.runs)


if __name__ == "__main__":
    main()
