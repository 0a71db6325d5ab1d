"""SynthCats drawing speed on one core: ``python -m cats.benchmarks.synthcats [--quick]``.

Target (issue 2): 10,000 pictures at 64 px in under a minute on one core. Drawing is numpy +
Pillow in this single process (no worker pool), so the figure is one core's throughput; the
CPU-time figure is the one to trust when the machine is shared.
"""

from __future__ import annotations

import argparse
import time

from cats.data.synthcats import draw_split

TARGET_SECONDS_PER_10K = 60.0


def _measure(size: int, num_per_class: int) -> dict:
    wall, cpu = time.perf_counter(), time.process_time()
    images, _ = draw_split("train", size, num_per_class, num_other=0, seed=0, workers=1)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    n = len(images)
    return {"size": size, "images": n, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
            "images_per_s": round(n / wall, 1), "images_per_cpu_s": round(n / cpu, 1),
            "seconds_per_10k_cpu": round(10_000 * cpu / n, 1)}


def run(quick: bool = False) -> dict:
    """Draw 10,000 pictures at 64 px (quick: 120) and 1,200 at 128 px (quick: 24); print and return the figures."""
    rows = [_measure(64, 10 if quick else 834), _measure(128, 2 if quick else 100)]
    print(f"SynthCats drawing, one core (target: 10,000 at 64 px in < {TARGET_SECONDS_PER_10K:.0f} s)")
    for r in rows:
        print(f"  {r['size']:>3} px: {r['images']:>6} images in {r['wall_s']:.2f} s wall / {r['cpu_s']:.2f} s CPU = "
              f"{r['images_per_s']:.0f} img/s wall, {r['images_per_cpu_s']:.0f} img/s CPU "
              f"({r['seconds_per_10k_cpu']:.0f} CPU s per 10,000)")
    result = {"quick": quick, "rows": rows,
              "meets_target_64px": rows[0]["seconds_per_10k_cpu"] < TARGET_SECONDS_PER_10K}
    print(f"  64 px target met: {result['meets_target_64px']}")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few pictures only (for tests)")
    run(parser.parse_args().quick)
