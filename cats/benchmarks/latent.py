"""The latent experiment's autoencoder, judged: reconstruction quality on the test drawings and decode cost.

    python -m cats.benchmarks.latent --vae runs/latent/ae/autoencoder --out docs/latent
    python -m cats.benchmarks.latent --quick      # an untrained ae-micro on a few drawings (the test suite)

Reconstruction: every SynthCats test drawing goes through encode and decode; the table gives the
PSNR and the reconstructions judged like generated samples (``synthcats_quality``: FID against the
test drawings beside the train-vs-test floor, k-NN precision/recall, the independent breed judge).
That FID is the floor a latent generator on this autoencoder cannot go below. OUT/reconstruction.png
shows originals over their reconstructions, one breed per pair of rows.

Decode cost: one image's decode (the scaled latents to pixels, ``from_latents``) in PyTorch and in
ONNX Runtime (the decoder exported like the served graphs: ``export_graph``, opset 18, dynamic batch),
median of repeated runs on the CPU with 1 thread, and the size of the decoder graph a browser would
download (fp32 and fp16-stored weights, ``to_fp16_weights``). Results in OUT/autoencoder.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

QUICK_PER_CLASS = 4
SHEET_PER_BREED = 8
DECODE_REPEATS = 30


class LatentDecoder(nn.Module):
    """The autoencoder's decoder behind its latent scale: (B, c, h, w) scaled latents -> (B, 3, H, W) in [-1, 1]."""

    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        from cats.models.autoencoder import from_latents  # imported here: as in main

        return from_latents(self.vae, latents)


@torch.no_grad()
def reconstruct(vae, images_uint8: torch.Tensor, batch_size: int = 200) -> torch.Tensor:
    """(N, 3, H, W) uint8 -> their reconstructions (N, 3, H, W) in [-1, 1] (through the scaled latents)."""
    from cats.models.autoencoder import from_latents, to_latents

    out = []
    for i in range(0, len(images_uint8), batch_size):
        x = images_uint8[i:i + batch_size].float() / 127.5 - 1
        out.append(from_latents(vae, to_latents(vae, x)).float().clamp(-1, 1))
    return torch.cat(out)


def psnr_db(reconstruction: torch.Tensor, images_uint8: torch.Tensor) -> float:
    """Mean per-image PSNR (dB) of reconstructions in [-1, 1] against the uint8 originals."""
    from cats.training.autoencoder_task import psnr

    return float(psnr(reconstruction, images_uint8.float() / 127.5 - 1).mean())


def sheet(images_uint8: torch.Tensor, reconstruction: torch.Tensor, labels: np.ndarray, path: Path) -> None:
    """Originals over their reconstructions: SHEET_PER_BREED of each breed per pair of rows."""
    from PIL import Image
    from torchvision.utils import make_grid

    rows = []
    for breed in range(int(labels.max()) + 1):
        picks = torch.from_numpy(np.flatnonzero(labels == breed)[:SHEET_PER_BREED])
        rows += [images_uint8[picks].float() / 255, (reconstruction[picks] + 1) / 2]
    grid = make_grid(torch.cat(rows), nrow=SHEET_PER_BREED, padding=2)  # (3, H, W) in [0, 1]
    Image.fromarray((grid.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(path)


def _median_ms(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


@torch.no_grad()
def decode_cost(vae, latent_shape: tuple[int, int, int], repeats: int) -> dict:
    """Milliseconds per decoded image (PyTorch and ONNX Runtime, 1 thread, batch 1 and 16) and graph sizes."""
    import onnxruntime as ort

    from cats.export.graphs import export_graph
    from cats.export.precision import to_fp16_weights

    decoder = LatentDecoder(vae).eval()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        out = {"threads": 1, "latent_shape": list(latent_shape)}
        for batch in (1, 16):
            z = torch.randn(batch, *latent_shape)
            out[f"torch_ms_per_image_batch{batch}"] = _median_ms(lambda z=z: decoder(z), repeats) / batch
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "decoder.onnx"
            model = export_graph(decoder, (torch.randn(2, *latent_shape),), path, ["latents"], ["image"], (True,))
            half = Path(tmp) / "decoder_fp16.onnx"
            half.write_bytes(to_fp16_weights(model).SerializeToString())
            out["onnx_fp32_mb"] = path.stat().st_size / 1e6
            out["onnx_fp16_mb"] = half.stat().st_size / 1e6
            options = ort.SessionOptions()
            options.intra_op_num_threads = options.inter_op_num_threads = 1
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            for batch in (1, 16):
                z = np.random.default_rng(0).standard_normal((batch, *latent_shape), dtype=np.float32)
                got = session.run(None, {"latents": z})[0]
                if batch == 1:
                    out["onnx_max_abs_error"] = float(np.abs(got - decoder(torch.from_numpy(z)).numpy()).max())
                out[f"onnx_ms_per_image_batch{batch}"] = _median_ms(
                    lambda z=z: session.run(None, {"latents": z}), repeats) / batch
    finally:
        torch.set_num_threads(threads)
    return out


def table(results: dict) -> str:
    """The markdown of docs/latent.md's reconstruction and decode tables."""
    q, d = results["quality"], results["decode"]
    fid = f"{q['fid']:.1f} ({q['fid_floor']:.1f})" if "fid" in q else "-"
    pr = f"{q['precision']:.3f} / {q['recall']:.3f}" if "precision" in q else "-"
    judge = f"{100 * q['judge']['mean']:.1f}%" if "judge" in q else "-"
    lines = [
        "| test drawings | PSNR | FID (floor) | precision / recall | independent judge |",
        "| ---: | ---: | --- | --- | ---: |",
        f"| {results['num_images']} | {results['psnr_db']:.2f} dB | {fid} | {pr} | {judge} |",
        "",
        "| decode, 1 CPU thread | batch 1 | batch 16 |",
        "| --- | ---: | ---: |",
        f"| PyTorch (ms per image) | {d['torch_ms_per_image_batch1']:.2f} | {d['torch_ms_per_image_batch16']:.2f} |",
        f"| ONNX Runtime (ms per image) | {d['onnx_ms_per_image_batch1']:.2f} | {d['onnx_ms_per_image_batch16']:.2f} |",
        "",
        f"Decoder graph: {d['onnx_fp32_mb']:.2f} MB fp32, {d['onnx_fp16_mb']:.2f} MB with fp16-stored weights "
        f"(ONNX vs PyTorch max abs error {d['onnx_max_abs_error']:.1e}).",
    ]
    return "\n".join(lines)


def run(vae, out_dir: Path, per_class: int | None, cache_dir, data_root: str | None, repeats: int) -> dict:
    """Judge ``vae`` on the test drawings (the first ``per_class`` of each breed, or all) and time its decoder."""
    from cats.data import load_dataset
    from cats.evaluation.generator import synthcats_quality
    from cats.models.autoencoder import downsampling

    vae = vae.float().eval()
    size = 64 if per_class is None else 32
    extra = {"root": data_root} if data_root else {}
    if per_class is not None:
        extra["num_per_class"] = per_class
    test = load_dataset("synthcats", split="test", image_size=size, **extra)
    images, labels = torch.as_tensor(test.images), np.asarray(test.labels)
    started = time.perf_counter()
    recon = reconstruct(vae, images)
    seconds = time.perf_counter() - started
    quality = synthcats_quality(recon, torch.as_tensor(labels), cache_dir, data_root, size) if per_class is None \
        else {"note": "--quick: no FID (too few drawings)"}
    side = size // downsampling(vae)
    results = {"num_images": len(images), "image_size": size, "psnr_db": psnr_db(recon, images),
               "encode_decode_seconds": seconds, "quality": quality,
               "decode": decode_cost(vae, (vae.config.latent_channels, side, side), repeats)}
    out_dir.mkdir(parents=True, exist_ok=True)
    sheet(images, recon, labels, out_dir / "reconstruction.png")
    (out_dir / "autoencoder.json").write_text(json.dumps(results, indent=2, default=float) + "\n")
    return results


def main(argv=None) -> int:
    from diffusers import AutoencoderKL

    from cats.evaluation.cli import FEATURE_CACHE
    from cats.models.autoencoder import build_autoencoder, fit_latent_scale

    p = argparse.ArgumentParser(prog="python -m cats.benchmarks.latent", description=__doc__.split("\n\n")[0])
    p.add_argument("--vae", help="an autoencoder directory (RUN_DIR/autoencoder of python -m cats.training autoencoder)")
    p.add_argument("--out", default="runs/latent-benchmark", help="where autoencoder.json and reconstruction.png go")
    p.add_argument("--quick", action="store_true", help="an untrained ae-micro on a few drawings, no FID")
    p.add_argument("--data-root", default=None, help="dataset cache directory (default: the data layer's)")
    p.add_argument("--feature-cache", default=str(FEATURE_CACHE), help="Inception features of the real drawings")
    args = p.parse_args(argv)
    if args.quick:
        torch.manual_seed(0)
        vae = build_autoencoder("ae-micro")
        fit_latent_scale(vae, torch.rand(16, 3, 32, 32) * 2 - 1)
    elif args.vae is None:
        p.error("--vae DIR is required (or --quick)")
    elif not Path(args.vae).is_dir():
        p.error(f"--vae {args.vae!r}: no such directory")
    else:
        vae = AutoencoderKL.from_pretrained(args.vae)
    results = run(vae, Path(args.out), QUICK_PER_CLASS if args.quick else None, args.feature_cache, args.data_root,
                  3 if args.quick else DECODE_REPEATS)
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
