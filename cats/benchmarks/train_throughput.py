"""Training throughput: images/s per generator preset on this device, eager and ``torch.compile``,
and the training CLI's step against a bare PyTorch loop doing the same forward/backward/AdamW.

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


def _bare_step_fn(preset: str, device: torch.device, compile_model: bool):
    """A plain loop: the same model, loss and AdamW, on random data already on the device."""
    from cats.pipeline import CatsPipeline

    model = CatsPipeline.from_preset(preset, seed=0).transformer.to(device).train()
    size, pred = model.config.sample_size, model.config.prediction_type
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    forward = torch.compile(model) if compile_model else model
    images = torch.rand(BATCH, 3, size, size, device=device) * 2 - 1
    weights = labels_to_weights(torch.arange(BATCH, device=device) % 12)
    generator = torch.Generator().manual_seed(0)

    def step():
        loss = flow_matching_loss(forward, images, weights, pred, generator=generator)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize()

    return step


def _cli_step_fn(preset: str, workdir: str):
    from cats.training.cli import config_from_args
    from cats.training.loop import Trainer

    trainer = Trainer(config_from_args([
        "generator", "--preset", preset, "--num-per-class", "3", "--data-root", f"{workdir}/data",
        "--out", f"{workdir}/run-{preset}-{torch.get_num_threads()}", "--batch-size", str(BATCH), "--steps", "1000",
        "--warmup", "10", "--log-every", "1000"]))

    def step():
        trainer.train_step()
        if trainer.accelerator.device.type == "cuda":
            torch.cuda.synchronize()

    return step


def run(quick: bool = False) -> dict:
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    on_gpu = device.type == "cuda"
    presets = ["micro"] if quick else (["micro", "tiny", "small", "base"] if on_gpu else ["micro", "tiny", "small"])
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
                for compiled in ([False] if quick else [False, True]):
                    if compiled and not on_gpu and preset != "micro" and preset != "tiny":
                        continue  # compiling the big presets on a CPU costs minutes for nothing (torch.compile gained nothing for them on a CPU)
                    sec = _median_step_seconds(_bare_step_fn(preset, device, compiled), warmup, steps)
                    key = f"{preset}{'+compile' if compiled else ''}@{n}t"
                    results["images_per_s"][key] = BATCH / sec
                    print(f"  {key:22s} {BATCH / sec:9.1f} img/s  ({sec * 1000:.1f} ms/step, bare loop)")
            # the CLI step against the bare loop, same preset and batch
            preset = "micro" if quick else "tiny"
            with tempfile.TemporaryDirectory() as workdir:
                cli, bare = _interleaved_medians(_cli_step_fn(preset, workdir), _bare_step_fn(preset, device, False),
                                                 warmup, steps)
            results["cli_vs_bare"][f"{preset}@{n}t"] = {"cli_s": cli, "bare_s": bare, "ratio": cli / bare}
            print(f"  {preset}@{n}t CLI step {cli * 1000:.1f} ms vs bare loop {bare * 1000:.1f} ms: "
                  f"ratio {cli / bare:.2f} (goal <= 1.3)")
    finally:
        torch.set_num_threads(saved_threads)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="micro preset, few steps, 1 thread")
    run(quick=parser.parse_args().quick)
