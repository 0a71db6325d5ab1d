"""Teacher pairs for the few-step generator: ``python -m cats.training.pairs --teacher synthcats --out DIR``.

A pair is (noise z, conditioning w, image x0 = teacher(z, w)): the teacher's own sampler (its default
steps and guidance, Euler) run from z. The few-step task (``fewstep_task``) learns the straight line
from z to x0, so one or two Euler steps of the student land where twenty guided steps of the teacher
did. Guidance is baked into the pairs: the student needs no unconditional pass.

Conditioning: ``1 - blend_share`` of the pairs are single breeds (cycled, so every breed has the same
count); the rest are two-breed blends ``{a: u, b: 1 - u}`` with u ~ U(0.2, 0.8), so the student follows
the web client's blend sliders too.

Pairs are written in chunks (``DIR/chunk_00000.npz``: ``noise`` and ``image`` float32 (n, 3, S, S),
``weights`` float32 (n, 13)); chunk i's randomness comes from seed_for(seed, i), so a run stopped by
``--minutes`` and started again with the same flags continues where it stopped and writes the same
pairs. ``DIR/pairs.json`` records the teacher and the sampling settings; a run with other settings
refuses to add to it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from cats.breeds import NUM_BREEDS, NUM_SLOTS

CHUNK = 128  # pairs per file
BLEND_LOW, BLEND_HIGH = 0.2, 0.8


def chunk_weights(index: int, n: int, seed: int, blend_share: float) -> np.ndarray:
    """(n, 13) conditioning rows of chunk ``index``: single breeds cycled over the run, then blends."""
    from cats.training.batches import seed_for  # imported here: bad arguments are refused before torch loads

    rng = np.random.default_rng(seed_for(seed, 2, index))
    w = np.zeros((n, NUM_SLOTS), dtype=np.float32)
    first = index * n
    for row in range(n):
        if rng.random() < blend_share:
            a, b = rng.choice(NUM_BREEDS, size=2, replace=False)
            u = rng.uniform(BLEND_LOW, BLEND_HIGH)
            w[row, a], w[row, b] = u, 1.0 - u
        else:
            w[row, (first + row) % NUM_BREEDS] = 1.0
    return w


def settings_of(args: argparse.Namespace, pipe) -> dict:
    cfg = pipe.config
    return {"teacher": str(args.teacher), "steps": int(args.steps or cfg.default_num_inference_steps),
            "guidance_scale": float(args.guidance if args.guidance is not None else cfg.default_guidance_scale),
            # the teacher's guide weight (None: a teacher without a guide); baked into the student like the CFG scale
            "autoguidance_scale": _autoguidance(args, pipe),
            "guidance_interval": pipe.config.get("default_guidance_interval"),  # the teacher's (None: every step)
            "sampler": "euler", "seed": int(args.seed), "blend_share": float(args.blend_share), "chunk": CHUNK,
            "image_size": int(pipe.transformer.config.sample_size), "bf16": bool(args.bf16)}


def _autoguidance(args: argparse.Namespace, pipe) -> float | None:
    """--autoguidance, else the teacher's default; None when the teacher has no guide (or the scale is 1: off)."""
    if pipe.guide_transformer is None:
        if args.autoguidance not in (None, 1.0):
            raise SystemExit(f"--autoguidance {args.autoguidance:g}: the teacher {args.teacher} has no guide network")
        return None
    scale = args.autoguidance if args.autoguidance is not None else pipe.config.default_autoguidance_scale
    return None if scale == 1.0 else float(scale)


def existing_chunks(out: Path) -> list[Path]:
    return sorted(out.glob("chunk_*.npz"))


def load_pairs(out: str | Path, limit: int | None = None) -> dict[str, np.ndarray]:
    """All pairs of a pairs directory: {"noise", "image", "weights"} stacked over the chunks."""
    out = Path(out)
    chunks = existing_chunks(out)
    if not chunks:
        raise FileNotFoundError(f"no teacher pairs in {str(out)!r}: make them with "
                                f"python -m cats.training.pairs --teacher synthcats --out {out}")
    parts = {"noise": [], "image": [], "weights": []}
    total = 0
    for path in chunks:
        with np.load(path) as data:
            for key in parts:
                parts[key].append(data[key])
            total += len(data["noise"])
        if limit is not None and total >= limit:
            break
    pairs = {key: np.concatenate(value)[:limit] for key, value in parts.items()}
    return pairs


def generate(args: argparse.Namespace) -> int:
    import torch  # imported here: bad arguments are refused before torch loads

    from cats.pipeline import CatsPipeline  # imported here: bad arguments are refused before torch loads
    from cats.training.batches import seed_for  # imported here: bad arguments are refused before torch loads
    from cats.training.config import cpu_has_fast_bf16  # imported here: bad arguments are refused before torch loads

    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pipe = CatsPipeline.from_pretrained(args.teacher)
    pipe.set_progress_bar_config(disable=True)
    if args.bf16 is None:
        args.bf16 = cpu_has_fast_bf16()
    settings = settings_of(args, pipe)
    meta = out / "pairs.json"
    if meta.is_file():
        saved = json.loads(meta.read_text())
        if saved != settings:
            raise ValueError(f"{meta} was made with other settings ({saved}); use another --out for {settings}")
    else:
        meta.write_text(json.dumps(settings, indent=2) + "\n")
    size = settings["image_size"]
    start_index = len(existing_chunks(out))
    wanted = -(-args.count // CHUNK)
    t0 = time.perf_counter()
    index = start_index
    while index < wanted:
        if args.minutes is not None and time.perf_counter() - t0 > 60 * args.minutes:
            print(f"time limit: stopped after {index} chunks ({index * CHUNK} pairs)", flush=True)
            break
        gen = torch.Generator().manual_seed(seed_for(args.seed, 1, index))
        noise = torch.randn((CHUNK, 3, size, size), generator=gen, dtype=torch.float32)
        weights = chunk_weights(index, CHUNK, args.seed, args.blend_share)
        entries = [{int(j): float(row[j]) for j in np.flatnonzero(row)} for row in weights]
        images = []
        for s in range(0, CHUNK, args.batch):
            context = torch.autocast("cpu", dtype=torch.bfloat16) if args.bf16 else torch.autocast("cpu", enabled=False)
            with context:
                x = pipe(breed=entries[s:s + args.batch], latents=noise[s:s + args.batch],
                         num_inference_steps=settings["steps"], guidance_scale=settings["guidance_scale"],
                         autoguidance_scale=settings.get("autoguidance_scale") or 1.0,
                         output_type="pt").images  # (b, 3, S, S) in [0, 1]
            images.append((x.float() * 2.0 - 1.0).numpy())
        tmp = out / f".chunk_{index:05d}.tmp.npz"
        np.savez(tmp, noise=noise.numpy(), image=np.concatenate(images).astype(np.float32), weights=weights)
        os.replace(tmp, out / f"chunk_{index:05d}.npz")  # a chunk is whole or absent
        index += 1
        rate = (index - start_index) * CHUNK / (time.perf_counter() - t0)
        print(f"chunk {index}/{wanted}: {index * CHUNK} pairs ({rate:.1f} pairs/s)", flush=True)
    return index * CHUNK


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m cats.training.pairs", description=__doc__.split("\n\n")[0])
    p.add_argument("--teacher", default="synthcats", help="pipeline directory or bundled name (default synthcats)")
    p.add_argument("--out", required=True, help="pairs directory (chunks are added to it)")
    p.add_argument("--count", type=int, default=8192, help="pairs to reach (rounded up to chunks of 128)")
    p.add_argument("--minutes", type=float, default=None, help="stop after this many minutes (run again to go on)")
    p.add_argument("--steps", type=int, default=None, help="teacher steps (default: the teacher's)")
    p.add_argument("--guidance", type=float, default=None, help="teacher guidance (default: the teacher's)")
    p.add_argument("--autoguidance", type=float, default=None,
                   help="teacher's guide weight, 1 = off (default: the teacher's; docs/guidance.md)")
    p.add_argument("--blend-share", type=float, default=0.25, help="share of two-breed blends (default 0.25)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=None,
                   help="teacher in bf16 autocast (default: where the CPU has native bf16)")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.count < 1 or not 0.0 <= args.blend_share <= 1.0 or args.batch < 1:
        raise ValueError("--count and --batch must be positive and --blend-share in [0, 1]")
    n = generate(args)
    print(f"{n} pairs in {args.out}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (ValueError, FileNotFoundError) as exc:
        sys.exit(f"error: {exc}")
