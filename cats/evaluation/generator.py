"""Generator evaluation: FID beside its floor, k-NN precision/recall, memorisation, breed accuracy, sheet.

``python -m cats.evaluation generator --model DIR --data synthcats`` calls :func:`evaluate_generator`.
Sample quality is judged as the field does, in this order:
  1. FID against the real split, printed beside the real-vs-real floor at the same sample size
     (``train`` vs ``test`` images: what a perfect generator would score with this many samples);
  2. k-NN precision / recall on the same Inception features (``cats.evaluation.knn``);
  3. breed accuracy of samples under the project's classifier (a classifier trained on drawings
     can be pleased by colours alone, so it comes last).
The memorisation check compares each sample's distance to its nearest training image with the same
for test images. Every number written is measured here; FID is refused below
``cats.evaluation.fid.MIN_FID_SAMPLES`` images.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from cats.breeds import BREEDS, NUM_BREEDS
from cats.evaluation.fid import MIN_FID_SAMPLES, InceptionFeatures, cached_features, frechet_distance
from cats.evaluation.knn import memorisation, precision_recall
from cats.images import to_classifier_array


def generate_balanced(pipe, per_breed: int, steps: int, guidance: float, seed: int = 0,
                      batch_size: int = 48) -> tuple[torch.Tensor, torch.Tensor]:
    """``per_breed`` samples of each of the 12 breeds -> (images (N,3,H,W) in [-1,1], labels (N,))."""
    labels = torch.arange(NUM_BREEDS).repeat_interleave(per_breed)
    images = []
    for i, start in enumerate(range(0, len(labels), batch_size)):
        chunk = labels[start:start + batch_size].tolist()
        gen = torch.Generator().manual_seed(seed * 100_003 + i)
        out = pipe(breed=chunk, num_inference_steps=steps, guidance_scale=guidance, generator=gen,
                   output_type="pt", progress=False).images  # (b, 3, H, W) in [0, 1]
        images.append(out.float() * 2 - 1)
    return torch.cat(images), labels


@torch.inference_mode()
def classify_tensors(classifier, images: torch.Tensor, batch_size: int = 128) -> np.ndarray:
    """Classifier probabilities (N, 13) for images in [-1, 1], through the same preprocessing as uploads."""
    cfg = classifier.config
    arrays = []
    for img in images:
        hwc = ((img.clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).cpu().numpy()
        arrays.append(to_classifier_array(Image.fromarray(hwc, "RGB"), cfg.image_size, cfg.mean, cfg.std))
    x = torch.from_numpy(np.stack(arrays))
    device = next(classifier.parameters()).device
    probs = []
    for start in range(0, len(x), batch_size):
        logits = classifier(x[start:start + batch_size].to(device)).float()
        probs.append(torch.softmax(logits / float(cfg.temperature), dim=-1).cpu().numpy())
    return np.concatenate(probs)


def breed_accuracy(probs: np.ndarray, labels: torch.Tensor) -> dict:
    """Mean and per-breed accuracy of the classifier's top-1 against the requested breeds."""
    pred = probs.argmax(1)
    y = labels.numpy()
    per_breed = {BREEDS[b]: float((pred[y == b] == b).mean()) for b in range(NUM_BREEDS) if (y == b).any()}
    return {"mean": float((pred == y).mean()), "per_breed": per_breed, "num_samples": int(len(y))}


def sample_sheet(pipe, path: Path, columns: int = 8, steps: int = 20, guidance: float | None = None,
                 seed: int = 0) -> Path:
    """One row per breed, ``columns`` samples each, fixed seeds; saved as PNG."""
    labels = [b for b in range(NUM_BREEDS) for _ in range(columns)]
    out = pipe(breed=labels, num_inference_steps=steps, guidance_scale=guidance,
               generator=torch.Generator().manual_seed(seed), output_type="np", progress=False).images
    n, h, w, _ = out.shape
    grid = (out.reshape(NUM_BREEDS, columns, h, w, 3).transpose(0, 2, 1, 3, 4).reshape(NUM_BREEDS * h, columns * w, 3))
    Image.fromarray((grid * 255).round().astype(np.uint8)).save(path)
    return path


def sample_quality(fake: torch.Tensor, real: torch.Tensor, train: torch.Tensor | None = None,
                   cache_dir: str | Path | None = None, log=print) -> dict:
    """FID, its floor, k-NN precision/recall and the memorisation check of generated images.

    fake: (N, 3, H, W) in [-1, 1]; real: the held-out split (uint8 or [-1, 1]); train: the training
    split (uint8), for the floor (its first N images, balanced over breeds) and memorisation.
    Real-image features are cached in ``cache_dir``. FID-type figures need >= MIN_FID_SAMPLES.
    """
    n = len(fake)
    real = real[:n]
    out: dict = {"num_fake": n, "num_real": len(real)}
    if min(n, len(real)) < MIN_FID_SAMPLES:
        out["note"] = (f"FID, floor and precision/recall not computed: they need at least {MIN_FID_SAMPLES} images "
                       f"per set (got {len(real)} real, {n} generated)")
    else:
        net = InceptionFeatures()
        f_real = cached_features(real, cache_dir, net)
        f_fake = net(fake)
        out["fid"] = frechet_distance(f_real, f_fake)
        if train is not None and len(train) >= n:
            out["fid_floor"] = frechet_distance(f_real, cached_features(train[:n], cache_dir, net))
        out.update(precision_recall(f_real, f_fake))
        out["note"] = "InceptionV3 pool3 (TF-FID weights), 299 px bilinear; floor = train vs test at the same size"
        log(f"FID {out['fid']:.1f} (floor {out.get('fid_floor', float('nan')):.1f}: {n} train vs {len(real)} test "
            f"images), k-NN precision {out['precision']:.3f}, recall {out['recall']:.3f} (k={out['k']})")
    if train is not None:
        real_u8 = real if real.dtype == torch.uint8 else ((real + 1) * 127.5).round().clamp(0, 255).byte()
        out["memorisation"] = memorisation(fake, real_u8, train)
        m = out["memorisation"]
        log(f"nearest training image (RMS pixel distance): samples 5% {m['samples']['q05']:.3f} / median "
            f"{m['samples']['q50']:.3f}; test images 5% {m['test']['q05']:.3f} / median {m['test']['q50']:.3f}")
    return out


def evaluate_generator(pipe, real_images: torch.Tensor | None, out_json: Path, *, classifier=None,
                       train_images: torch.Tensor | None = None, cache_dir: str | Path | None = None,
                       num_samples: int = 1200, steps: int | None = None, guidance: float | None = None,
                       sweep_steps=(4, 8, 20, 50), sweep_guidance=(1.0, 2.0, 4.0), sweep_per_breed: int = 10,
                       seed: int = 0, log=print) -> dict:
    """Run the whole generator evaluation; write ``out_json`` and a sample sheet PNG beside it."""
    classifier = classifier if classifier is not None else getattr(pipe, "classifier", None)
    if classifier is None:
        raise ValueError("breed accuracy of samples needs a trained classifier: the pipeline has none; "
                         "pass --classifier DIR or train one with `python -m cats.training classifier --attach-to ...`")
    classifier.eval()
    steps = steps or pipe.config.default_num_inference_steps
    guidance = guidance if guidance is not None else pipe.config.default_guidance_scale
    out_json = Path(out_json)
    out_json.parent.mkdir(parents=True, exist_ok=True)
    per_breed = max(1, num_samples // NUM_BREEDS)

    t0 = time.perf_counter()
    fake, labels = generate_balanced(pipe, per_breed, steps, guidance, seed)
    log(f"generated {len(fake)} samples ({steps} steps, guidance {guidance}) in {time.perf_counter() - t0:.1f}s")
    acc = breed_accuracy(classify_tensors(classifier, fake), labels)
    log(f"breed accuracy of samples: {acc['mean']:.3f} over {acc['num_samples']} samples")

    quality = None
    if real_images is not None:
        quality = sample_quality(fake, torch.as_tensor(real_images), train_images, cache_dir, log)

    sweep = []
    for s in sweep_steps:
        for g in sweep_guidance:
            imgs, lab = generate_balanced(pipe, sweep_per_breed, s, g, seed + 1)
            a = breed_accuracy(classify_tensors(classifier, imgs), lab)
            sweep.append({"steps": s, "guidance": g, "accuracy": a["mean"], "num_samples": a["num_samples"]})
            log(f"  sweep steps={s:>2} guidance={g:<3}: accuracy {a['mean']:.3f} ({a['num_samples']} samples)")

    sheet = sample_sheet(pipe, out_json.with_name(out_json.stem + ".sample_sheet.png"), steps=steps,
                         guidance=guidance, seed=seed)
    metrics = {
        "default": {"steps": steps, "guidance": guidance, "breed_accuracy": acc},
        "quality": quality,
        "sweep": sweep,
        "sample_sheet": sheet.name,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    out_json.write_text(json.dumps(metrics, indent=2) + "\n")
    log(f"wrote {out_json} and {sheet}")
    return metrics
