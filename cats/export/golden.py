"""Golden fixtures (``golden.json``): inputs and expected outputs the web client's tests replay.

Computed with onnxruntime on the fp32 graphs and checked against PyTorch before they are written,
so a TypeScript sampler that matches them matches the Python one. Tolerances (``tolerance``):
1e-4 per step, 1e-3 on the final image (pixels in [-1, 1]), 1e-4 on logits and features, 1e-4
relative on the familiarity score. The classifier fixture holds two pictures, a SynthCats test
drawing (familiar) and a smooth random picture (unfamiliar, when the classifier has statistics), with
their logits, features, familiarity scores and verdicts.
"""

from __future__ import annotations

import numpy as np
import torch

from cats.breeds import breed_id
from cats.classify import preprocess, results_from_logits
from cats.data.synthcats import draw
from cats.export.parity import (
    CASES,
    case_weights,
    classifier_inputs,
    guidance_feeds,
    onnx_step,
    parity_noise,
    sample_loop,
    score_rel,
    step_feed,
    torch_step,
)
from cats.onnx.manifest import decode_array, encode_array
from cats.sampling import initial_sample
from cats.schedule import flow_sigmas, transfer_sigmas

GOLDEN_SEED = 20240
GOLDEN_STEPS = 8
TRANSFER_STRENGTH = 0.5
TOLERANCE = {"step": 1e-4, "final": 1e-3, "logits": 1e-4, "features": 1e-4, "ood_score_rel": 1e-4}


class GoldenMismatch(RuntimeError):
    """ONNX Runtime and PyTorch disagree on a golden fixture beyond its tolerance."""


def agree(name: str, got: np.ndarray, ref: np.ndarray, tol: float) -> None:
    """Raise ``GoldenMismatch`` when a fixture's ONNX and PyTorch arrays differ by more than ``tol`` (max abs)."""
    err = float(np.abs(got - ref).max())
    if not err <= tol:
        raise GoldenMismatch(f"golden {name}: onnxruntime and PyTorch differ by {err:.3g} > {tol:g}")


def transfer_image(image_size: int, channels: int = 3) -> np.ndarray:
    """A deterministic (1, C, S, S) picture in [-1, 1] (diagonal colour ramps) for the transfer case."""
    ramp = np.linspace(-1.0, 1.0, image_size, dtype=np.float32)
    yy, xx = np.meshgrid(ramp, ramp, indexing="ij")
    planes = [xx, yy, -(xx + yy) / 2][:channels]
    return np.stack(planes)[None].astype(np.float32)


def make_golden(step, sess, guidance, shift: float, classifier=None, clf_sess=None,
                steps: int = GOLDEN_STEPS, interval=None) -> dict:
    """Build the fixture dict for the fp32 graphs ``sess`` (generator) and ``clf_sess`` (classifier).

    guidance: the step graph's guidance inputs at the defaults (``cats.export.parity.guidance_feeds``);
    interval: the default guidance interval (lo, hi) the final images are sampled with (None: every step)."""
    feeds = guidance_feeds(guidance)
    cfg = step.transformer.config
    noise = parity_noise(1, cfg.sample_size, cfg.in_channels, seed=GOLDEN_SEED)  # (1, C, S, S)
    sigmas = flow_sigmas(steps, shift)
    torch_fn, onnx_fn = (lambda f: torch_step(step, f)), (lambda f: onnx_step(sess, f))
    cases = []
    for (name, mix), w in zip(CASES.items(), case_weights()):
        w = w[None]  # (1, 13)
        feed = step_feed(noise, sigmas[0], sigmas[1], w, feeds)
        nxt, x0 = onnx_step(sess, feed)
        ref_nxt, ref_x0 = torch_step(step, feed)
        agree(f"{name} next_sample", nxt, ref_nxt, TOLERANCE["step"])
        agree(f"{name} pred_x0", x0, ref_x0, TOLERANCE["step"])
        final = sample_loop(onnx_fn, noise, sigmas, w, feeds, interval)
        agree(f"{name} final", final, sample_loop(torch_fn, noise, sigmas, w, feeds, interval), TOLERANCE["final"])
        cases.append({"name": name, "breeds": mix, "class_weights": [float(v) for v in w[0]],
                      "next_sample": encode_array(nxt), "pred_x0": encode_array(x0), "final": encode_array(final)})

    image = transfer_image(cfg.sample_size, cfg.in_channels)
    t_sigmas = transfer_sigmas(steps, TRANSFER_STRENGTH, shift)
    w = case_weights()[:1]
    start = initial_sample(noise, t_sigmas, image)  # SDEdit: the picture noised to sigma = t_sigmas[0]
    out = sample_loop(onnx_fn, start, t_sigmas, w, feeds, interval)
    agree("transfer", out, sample_loop(torch_fn, start, t_sigmas, w, feeds, interval), TOLERANCE["final"])
    golden = {
        "variant": "fp32", "tolerance": TOLERANCE, "guidance_scale": feeds["guidance_scale"],
        # null for a graph without a guide (no such input)
        "autoguidance_scale": feeds.get("autoguidance_scale"), "steps": steps,
        # the finals (and the transfer) guide only at steps starting in [lo, hi]; null: at every step
        "guidance_interval": None if interval is None else [float(v) for v in interval],
        "sigmas": [float(s) for s in sigmas], "noise": encode_array(noise), "cases": cases,
        "transfer": {"breeds": next(iter(CASES.values())), "class_weights": [float(v) for v in w[0]],
                     "strength": TRANSFER_STRENGTH, "steps": steps, "sigmas": [float(s) for s in t_sigmas],
                     "image": encode_array(image), "noise": encode_array(noise), "expected": encode_array(out)},
    }
    if classifier is not None:
        golden["classifier"] = classifier_golden(classifier, clf_sess)
    return golden


def classifier_images(classifier) -> tuple[list[str], np.ndarray]:
    """(names, normalised (2, 3, S, S)): a SynthCats test drawing and a smooth random picture."""
    cfg = classifier.config
    drawing = draw(breed_id("Siamese"), cfg.image_size, seed=0, split="test", index=0)  # uint8 (S, S, 3)
    x = np.concatenate([preprocess([drawing], cfg.image_size, cfg.mean, cfg.std),
                        classifier_inputs(cfg.image_size, batch=1, seed=GOLDEN_SEED)])
    return ["SynthCats Siamese drawing", "smooth random picture"], np.ascontiguousarray(x, dtype=np.float32)


def classifier_golden(classifier, clf_sess) -> dict:
    """The classifier fixture: images, logits, features, familiarity scores and verdicts (ONNX, checked vs torch)."""
    names, x = classifier_images(classifier)
    logits, features = clf_sess.run(["logits", "features"], {"image": x})
    with torch.no_grad():
        ref, ref_f = (t.numpy() for t in classifier.forward_with_features(torch.from_numpy(x)))
    agree("classifier logits", logits, ref, TOLERANCE["logits"])
    agree("classifier features", features, ref_f, TOLERANCE["features"])
    cfg, ood = classifier.config, getattr(classifier, "ood", None)
    results = results_from_logits(logits, cfg.temperature, cfg.unsure_threshold, features=features, ood=ood)
    torch_results = results_from_logits(ref, cfg.temperature, cfg.unsure_threshold, features=ref_f, ood=ood)
    for name, r, t in zip(names, results, torch_results):
        if r.verdict != t.verdict:
            raise GoldenMismatch(f"golden classifier {name}: onnxruntime says {r.verdict!r}, PyTorch {t.verdict!r}")
        if ood is not None and not score_rel([r.ood_score], [t.ood_score]) <= TOLERANCE["ood_score_rel"]:
            raise GoldenMismatch(f"golden classifier {name}: familiarity {r.ood_score} vs PyTorch {t.ood_score}")
    return {"names": names, "image": encode_array(x), "logits": encode_array(logits),
            "features": encode_array(features), "verdicts": [r.verdict for r in results],
            "ood_scores": None if ood is None else [r.ood_score for r in results]}


def replay_golden(golden: dict, sess, clf_sess=None) -> list[str]:
    """Re-run the fixtures through (possibly re-loaded) fp32 sessions; returns the mismatches."""
    problems = []
    noise, sigmas = decode_array(golden["noise"]), np.asarray(golden["sigmas"], np.float32)
    interval = golden.get("guidance_interval")
    g = {"guidance_scale": golden["guidance_scale"]}
    if golden.get("autoguidance_scale") is not None:
        g["autoguidance_scale"] = golden["autoguidance_scale"]

    def check(name, got, want, tol):
        err = float(np.abs(got - decode_array(want)).max())
        if not err <= tol:
            problems.append(f"golden {name}: off by {err:.3g} > {tol:g}")

    tol = golden["tolerance"]
    for case in golden["cases"]:
        w = np.asarray([case["class_weights"]], np.float32)
        nxt, x0 = onnx_step(sess, step_feed(noise, sigmas[0], sigmas[1], w, g))
        check(f"{case['name']} next_sample", nxt, case["next_sample"], tol["step"])
        check(f"{case['name']} pred_x0", x0, case["pred_x0"], tol["step"])
        final = sample_loop(lambda f: onnx_step(sess, f), noise, sigmas, w, g, interval)
        check(f"{case['name']} final", final, case["final"], tol["final"])
    tr = golden["transfer"]
    t_sigmas = np.asarray(tr["sigmas"], np.float32)
    start = initial_sample(decode_array(tr["noise"]), t_sigmas, decode_array(tr["image"]))
    out = sample_loop(lambda f: onnx_step(sess, f), start, t_sigmas, np.asarray([tr["class_weights"]], np.float32), g,
                      interval)
    check("transfer", out, tr["expected"], tol["final"])
    if clf_sess is not None and "classifier" in golden:
        g = golden["classifier"]
        logits, features = clf_sess.run(["logits", "features"], {"image": decode_array(g["image"])})
        check("classifier logits", logits, g["logits"], tol["logits"])
        check("classifier features", features, g["features"], tol["features"])
    return problems
