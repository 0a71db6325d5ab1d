"""Generator evaluation: FID beside its floor, k-NN precision/recall, memorisation, breed accuracy, sheet.

``python -m cats.evaluation generator --model DIR --data synthcats`` calls :func:`evaluate_generator`.
Sample quality is judged as the field does, in this order:
  1. FID against the real split, printed beside the real-vs-real floor at the same sample size
     (``train`` vs ``test`` images: what a perfect generator would score with this many samples);
  2. k-NN precision / recall on the same Inception features (``cats.evaluation.knn``);
  3. breed accuracy of samples under an independent judge, a linear probe on the same Inception
     features fitted on training images (``cats.evaluation.probe``), beside its accuracy on the test images;
  4. breed accuracy of samples under the project's classifier (a classifier trained on drawings
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
from cats.evaluation.probe import LinearProbe
from cats.evaluation.probe import accuracy as probe_accuracy
from cats.images import to_classifier_array

PROBE_TRAIN_IMAGES = 2400  # training images the independent judge is fitted on (200 per breed on SynthCats)


def generate_balanced(pipe, per_breed: int, steps: int, guidance: float, seed: int = 0,
                      batch_size: int = 48, **call) -> tuple[torch.Tensor, torch.Tensor]:
    """``per_breed`` samples of each of the 12 breeds -> (images (N,3,H,W) in [-1,1], labels (N,)).

    call: further settings of the pipeline call (e.g. ``autoguidance_scale``)."""
    labels = torch.arange(NUM_BREEDS).repeat_interleave(per_breed)
    images = []
    for i, start in enumerate(range(0, len(labels), batch_size)):
        chunk = labels[start:start + batch_size].tolist()
        gen = torch.Generator().manual_seed(seed * 100_003 + i)
        out = pipe(breed=chunk, num_inference_steps=steps, guidance_scale=guidance, generator=gen,
                   output_type="pt", progress=False, **call).images  # (b, 3, H, W) in [0, 1]
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
                 seed: int = 0, **call) -> Path:
    """One row per breed, ``columns`` samples each, fixed seeds; saved as PNG. call: further call settings."""
    labels = [b for b in range(NUM_BREEDS) for _ in range(columns)]
    out = pipe(breed=labels, num_inference_steps=steps, guidance_scale=guidance,
               generator=torch.Generator().manual_seed(seed), output_type="np", progress=False, **call).images
    n, h, w, _ = out.shape
    grid = (out.reshape(NUM_BREEDS, columns, h, w, 3).transpose(0, 2, 1, 3, 4).reshape(NUM_BREEDS * h, columns * w, 3))
    Image.fromarray((grid * 255).round().astype(np.uint8)).save(path)
    return path


def sample_quality(fake: torch.Tensor, real: torch.Tensor, train: torch.Tensor | None = None,
                   cache_dir: str | Path | None = None, log=print, labels=None, real_labels=None,
                   train_labels=None) -> dict:
    """FID, its floor, k-NN precision/recall, the independent breed judge and the memorisation check.

    fake: (N, 3, H, W) in [-1, 1]; real: the held-out split (uint8 or [-1, 1]); train: the training
    split (uint8), for the floor (its first N images, balanced over breeds) and memorisation.
    labels (N,), real_labels, train_labels: breed ids of the samples (as asked for) and of the real
    splits; with all three, the judge (a linear probe on the Inception features, ``cats.evaluation.probe``)
    is fitted on the first PROBE_TRAIN_IMAGES training images and reports its accuracy on the held-out
    images and on the samples. Real-image features are cached in ``cache_dir``. FID-type figures need
    >= MIN_FID_SAMPLES.
    """
    n = len(fake)
    real = real[:n]
    real_labels = None if real_labels is None else np.asarray(real_labels)[:n]
    out: dict = {"num_fake": n, "num_real": len(real)}
    if min(n, len(real)) < MIN_FID_SAMPLES:
        out["note"] = (f"FID, floor and precision/recall not computed: they need at least {MIN_FID_SAMPLES} images "
                       f"per set (got {len(real)} real, {n} generated)")
    else:
        net = InceptionFeatures()
        f_real = cached_features(real, cache_dir, net)
        f_fake = net(fake)
        out["fid"] = frechet_distance(f_real, f_fake)
        f_train = None
        if train is not None and len(train) >= n:
            # one feature set serves the floor (its first n) and the judge (its first PROBE_TRAIN_IMAGES)
            f_train = cached_features(train[:max(n, min(PROBE_TRAIN_IMAGES, len(train)))], cache_dir, net)
            out["fid_floor"] = frechet_distance(f_real, f_train[:n])
        out.update(precision_recall(f_real, f_fake))
        out["note"] = "InceptionV3 pool3 (TF-FID weights), 299 px bilinear; floor = train vs test at the same size"
        log(f"FID {out['fid']:.1f} (floor {out.get('fid_floor', float('nan')):.1f}: {n} train vs {len(real)} test "
            f"images), k-NN precision {out['precision']:.3f}, recall {out['recall']:.3f} (k={out['k']})")
        if f_train is not None and labels is not None and real_labels is not None and train_labels is not None:
            out["judge"] = independent_judge(f_fake, labels, f_real, real_labels, f_train, train_labels)
            j = out["judge"]
            log(f"independent breed judge (linear probe on Inception features): samples {j['mean']:.3f}, "
                f"held-out real images {j['real_accuracy']:.3f}")
    if train is not None:
        real_u8 = real if real.dtype == torch.uint8 else ((real + 1) * 127.5).round().clamp(0, 255).byte()
        out["memorisation"] = memorisation(fake, real_u8, train)
        m = out["memorisation"]
        log(f"nearest training image (RMS pixel distance): samples 5% {m['samples']['q05']:.3f} / median "
            f"{m['samples']['q50']:.3f}; test images 5% {m['test']['q05']:.3f} / median {m['test']['q50']:.3f}")
    return out


def synthcats_quality(fake: torch.Tensor, labels: torch.Tensor, cache_dir, data_root: str | None = None,
                      size: int = 64) -> dict:
    """``sample_quality`` of samples (N, 3, S, S) asked for breeds ``labels`` (N,) against the SynthCats test
    split, with its training split for the floor, memorisation and the independent judge (the benchmarks' footing)."""
    from cats.data import load_dataset  # imported here: the data layer is only needed by the benchmarks' judges

    extra = {"root": data_root} if data_root else {}
    test = load_dataset("synthcats", split="test", image_size=size, **extra)
    train = load_dataset("synthcats", split="train", image_size=size, **extra)
    return sample_quality(fake, torch.as_tensor(test.images), torch.as_tensor(train.images), cache_dir,
                          log=lambda *_: None, labels=labels.numpy(), real_labels=np.asarray(test.labels),
                          train_labels=np.asarray(train.labels))


def independent_judge(f_fake: np.ndarray, labels, f_real: np.ndarray, real_labels, f_train: np.ndarray,
                      train_labels) -> dict:
    """Breed accuracy of samples (features f_fake (N, D), asked-for labels) under a linear probe fitted on the
    features of the first PROBE_TRAIN_IMAGES training images (f_train), with its accuracy on the held-out
    real images (f_real, real_labels)."""
    count = min(PROBE_TRAIN_IMAGES, len(f_train))
    train_labels = np.asarray(train_labels)[:count]
    probe = LinearProbe.fit(f_train[:count], train_labels)
    fake_acc = probe_accuracy(probe.predict(f_fake), np.asarray(labels))
    real_acc = probe_accuracy(probe.predict(f_real), real_labels)
    return {**fake_acc, "real_accuracy": real_acc["mean"], "num_train": int(count),
            "note": "softmax regression on Inception pool features, fitted on training images, shares nothing "
                    "with the project's classifier"}


CFG_REFERENCE = 3.0  # the classifier-free-only setting a guided default is compared with (the default before guides)


def judge_samples(pipe, classifier, per_breed: int, steps: int, guidance: float, real, train, cache_dir, seed: int,
                  log=print, labels_of=None, **call) -> tuple[dict, dict | None]:
    """Generate ``per_breed`` samples of each breed and judge them: (own-classifier accuracy, quality or None).

    labels_of: {"real": ids, "train": ids} of the real splits, for the independent judge."""
    t0 = time.perf_counter()
    fake, labels = generate_balanced(pipe, per_breed, steps, guidance, seed, **call)
    what = ", ".join([f"guidance {guidance}", *(f"{k} {v}" for k, v in call.items())])
    log(f"generated {len(fake)} samples ({steps} steps, {what}) in {time.perf_counter() - t0:.1f}s")
    acc = breed_accuracy(classify_tensors(classifier, fake), labels)
    log(f"breed accuracy of samples (the project's classifier): {acc['mean']:.3f} over {acc['num_samples']} samples")
    quality = None
    if real is not None:
        labels_of = labels_of or {}
        quality = sample_quality(fake, torch.as_tensor(real), train, cache_dir, log, labels=labels.numpy(),
                                 real_labels=labels_of.get("real"), train_labels=labels_of.get("train"))
    return acc, quality


def _interval(pipe) -> list[float] | None:
    """The pipeline's default guidance interval (None: guidance at every step)."""
    interval = pipe.config.get("default_guidance_interval")
    return None if interval is None else [float(v) for v in interval]


def evaluate_generator(pipe, real_images: torch.Tensor | None, out_json: Path, *, classifier=None,
                       train_images: torch.Tensor | None = None, cache_dir: str | Path | None = None,
                       num_samples: int = 1200, steps: int | None = None, guidance: float | None = None,
                       sweep_steps=(4, 8, 20, 50), sweep_guidance=(1.0, 2.0, 4.0), sweep_per_breed: int = 10,
                       seed: int = 0, log=print, real_labels=None, train_labels=None,
                       autoguidance: float | None = None, compare_cfg: float | None = CFG_REFERENCE) -> dict:
    """Run the whole generator evaluation; write ``out_json`` and a sample sheet PNG beside it.

    autoguidance: the guide's weight (None: the pipeline's default). When the samples are autoguided,
    the same samples are also judged with classifier-free guidance ``compare_cfg`` alone at every step
    (no guide, no guidance interval; None: not), the figures a guide has to beat (``cfg_only`` in the metrics). The sweep varies the CFG scale at
    the default autoguidance. real_labels / train_labels: breed ids for the independent judge.
    """
    classifier = classifier if classifier is not None else getattr(pipe, "classifier", None)
    if classifier is None:
        raise ValueError("breed accuracy of samples needs a trained classifier: the pipeline has none; "
                         "pass --classifier DIR or train one with `python -m cats.training classifier --attach-to ...`")
    classifier.eval()
    steps = steps or pipe.config.default_num_inference_steps
    guidance = guidance if guidance is not None else pipe.config.default_guidance_scale
    has_guide = getattr(pipe, "guide_transformer", None) is not None
    if autoguidance is None:
        autoguidance = pipe.config.get("default_autoguidance_scale") if has_guide else None
    call = {} if autoguidance is None else {"autoguidance_scale": float(autoguidance)}
    out_json = Path(out_json)
    out_json.parent.mkdir(parents=True, exist_ok=True)
    per_breed = max(1, num_samples // NUM_BREEDS)
    labels_of = {"real": real_labels, "train": train_labels}

    t0 = time.perf_counter()
    acc, quality = judge_samples(pipe, classifier, per_breed, steps, guidance, real_images, train_images, cache_dir,
                                 seed, log, labels_of, **call)
    cfg_only = None
    if compare_cfg is not None and call and call["autoguidance_scale"] != 1.0:
        log(f"the same noise with classifier-free guidance {compare_cfg:g} alone (no guide):")
        c_acc, c_quality = judge_samples(pipe, classifier, per_breed, steps, compare_cfg, real_images, train_images,
                                         cache_dir, seed, log, labels_of, autoguidance_scale=1.0, guidance_interval=None)
        cfg_only = {"steps": steps, "guidance": compare_cfg, "autoguidance": None, "guidance_interval": None,
                    "breed_accuracy": c_acc, "quality": c_quality}

    sweep = []
    for s in sweep_steps:
        for g in sweep_guidance:
            imgs, lab = generate_balanced(pipe, sweep_per_breed, s, g, seed + 1, **call)
            a = breed_accuracy(classify_tensors(classifier, imgs), lab)
            sweep.append({"steps": s, "guidance": g, "accuracy": a["mean"], "num_samples": a["num_samples"]})
            log(f"  sweep steps={s:>2} guidance={g:<3}: accuracy {a['mean']:.3f} ({a['num_samples']} samples)")

    sheet = sample_sheet(pipe, out_json.with_name(out_json.stem + ".sample_sheet.png"), steps=steps,
                         guidance=guidance, seed=seed, **call)
    metrics = {
        "default": {"steps": steps, "guidance": guidance, "autoguidance": call.get("autoguidance_scale"),
                    "guidance_interval": _interval(pipe), "breed_accuracy": acc},
        "quality": quality,
        "cfg_only": cfg_only,
        "sweep": sweep,
        "sample_sheet": sheet.name,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    out_json.write_text(json.dumps(metrics, indent=2) + "\n")
    log(f"wrote {out_json} and {sheet}")
    return metrics
