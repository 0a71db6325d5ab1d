"""Training throughput: images/s per generator preset on this device, fp32 and bf16 autocast (where
the hardware runs bf16 natively), eager and ``torch.compile``, and the training CLI's step against
a bare PyTorch loop doing the same forward/backward/AdamW in the CLI's default precision.

    python -m cats.benchmarks.train_throughput [--quick]

The CLI step (``cats.training.loop.Trainer.train_step``) adds to the bare loop: batch indexing from
the device-resident split, a random flip, the seeded per-step generator, gradient clipping, the LR
schedule, the EMA update and the NaN check. Goal on CPU for ``tiny``: CLI / bare <= 1.3.
Figures are medians over timed steps after warm-up steps; the CLI and bare steps are timed
alternately so both see the same machine load. ``--quick``: micro, few steps, 1 thread.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch

from cats.flow import flow_matching_loss, labels_to_weights
from cats.pipeline import CatsPipeline
from cats.training.cli import config_from_args
from cats.training.config import default_mixed_precision
from cats.training.loop import Trainer

BATCH = 32


def _median_step_seconds(step, warmup: int, steps: int) -> float:
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _interleaved_medians(step_a, step_b, warmup: int, steps: int) -> tuple[float, float]:
    """Median step times of two loops timed alternately, so both see the same load on a shared machine."""
    for _ in range(warmup):
        step_a()
        step_b()
    times_a, times_b = [], []
    for _ in range(steps):
        for step, times in ((step_a, times_a), (step_b, times_b)):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
    return statistics.median(times_a), statistics.median(times_b)


def _bare_step_fn(preset: str, device: torch.device, compile_model: bool, bf16: bool = False):
    """A plain loop: the same model, loss and AdamW, on random data already on the device (bf16: under autocast)."""
    model = CatsPipeline.from_preset(preset, seed=0).transformer.to(device).train()
    size, pred = model.config.sample_size, model.config.prediction_type
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    forward = torch.compile(model) if compile_model else model
    images = torch.rand(BATCH, 3, size, size, device=device) * 2 - 1
    weights = labels_to_weights(torch.arange(BATCH, device=device) % 12)
    generator = torch.Generator().manual_seed(0)

    def step():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = flow_matching_loss(forward, images, weights, pred, generator=generator)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize()

    return step


def _cli_step_fn(preset: str, workdir: str):
    trainer = Trainer(config_from_args([
        "generator", "--preset", preset, "--num-per-class", "3", "--data-root", f"{workdir}/data",
        "--out", f"{workdir}/run-{preset}-{torch.get_num_threads()}", "--batch-size", str(BATCH), "--steps", "1000",
        "--warmup", "10", "--log-every", "1000"]))

    def step():
        trainer.train_step()
        if trainer.accelerator.device.type == "cuda":
            torch.cuda.synchronize()

    return step, trainer.config.mixed_precision == "bf16"


def _variants(preset: str, on_gpu: bool, quick: bool, native_bf16: bool) -> list[tuple[bool, bool]]:
    """(compiled, bf16) pairs to time: fp32 and (where native) bf16 eager; compile for the CPU presets
    it is worth on, in the precision training uses by default."""
    precisions = [False, True] if native_bf16 else [False]
    pairs = [(False, bf16) for bf16 in precisions]
    if not quick and (on_gpu or preset in ("tiny", "tiny-u")):
        pairs.append((True, native_bf16))
    return pairs


def run(quick: bool = False, presets: list[str] | None = None) -> dict:
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    on_gpu = device.type == "cuda"
    native_bf16 = default_mixed_precision("generator") == "bf16"
    default_presets = ["micro", "tiny", "tiny-u", "small", "base"] if on_gpu else ["micro", "tiny", "tiny-u", "small"]
    presets = ["micro"] if quick else (presets or default_presets)
    warmup, steps = (1, 3) if quick else (3, 10)
    threads = [1] if quick or on_gpu else [1, 2]
    saved_threads = torch.get_num_threads()
    results: dict = {"device": torch.cuda.get_device_name() if on_gpu else "cpu", "batch": BATCH, "images_per_s": {},
                     "cli_vs_bare": {}}
    print(f"training throughput on {results['device']}, batch {BATCH}, median of {steps} steps after {warmup} warm-up")
    try:
        for n in threads:
            torch.set_num_threads(n)
            for preset in presets:
                for compiled, bf16 in _variants(preset, on_gpu, quick, native_bf16):
                    sec = _median_step_seconds(_bare_step_fn(preset, device, compiled, bf16), warmup, steps)
                    key = f"{preset}{'+bf16' if bf16 else ''}{'+compile' if compiled else ''}@{n}t"
                    results["images_per_s"][key] = BATCH / sec
                    print(f"  {key:22s} {BATCH / sec:9.1f} img/s  ({sec * 1000:.1f} ms/step, bare loop)")
            # the CLI step against the bare loop, same preset and batch
            preset = "micro" if quick else "tiny"
            with tempfile.TemporaryDirectory() as workdir:
                cli_step, cli_bf16 = _cli_step_fn(preset, workdir)  # the bare loop in the CLI's default precision
                cli, bare = _interleaved_medians(cli_step, _bare_step_fn(preset, device, False, cli_bf16), warmup, steps)
            results["cli_vs_bare"][f"{preset}@{n}t"] = {"cli_s": cli, "bare_s": bare, "ratio": cli / bare}
            print(f"  {preset}@{n}t CLI step {cli * 1000:.1f} ms vs bare loop {bare * 1000:.1f} ms: "
                  f"ratio {cli / bare:.2f} (goal <= 1.3)")
    finally:
        torch.set_num_threads(saved_threads)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="micro preset, few steps, 1 thread")
    parser.add_argument("--presets", default=None, help="comma-separated presets (default: all that fit the device)")
    args = parser.parse_args()
    run(quick=args.quick, presets=args.presets.split(",") if args.presets else None)
