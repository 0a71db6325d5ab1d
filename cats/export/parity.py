"""Measuring an ONNX graph against the PyTorch model it came from.

Generator: the guided velocity at a few noise levels (two breeds and one blend in one batch, with
CFG and, for a graph with a guide, autoguidance at the defaults) and a 20-step Euler sample from the
same noise. Classifier: logits and tempered
probabilities on fixed inputs. Every figure is written into the manifest; budgets decide which
variants are written at all.

The velocity of a graph is read off one step with ``sigma_next = sigma - 1``:
``next_sample = sample - v``, so ``v = sample - next_sample`` (no division that would amplify
rounding).
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import torch

from cats.breeds import NUM_SLOTS, breed_id
from cats.classify import softmax
from cats.convention import in_interval
from cats.export.graphs import GeneratorStep
from cats.onnx.pipeline import make_session
from cats.sampling import run_sampler
from cats.schedule import flow_sigmas

PARITY_SIGMAS = (1.0, 0.75, 0.5, 0.25, 0.05)
IMAGE_STEPS = 20
PARITY_SEED = 1234
# Two breeds and one blend: every parity batch and the golden fixtures use these.
CASES: dict[str, dict[str, float]] = {
    "Siamese": {"Siamese": 1.0},
    "Bombay": {"Bombay": 1.0},
    "Persian+Bengal": {"Persian": 0.5, "Bengal": 0.5},
}

# Error budgets per variant (fp32 is held to the parity tolerances of the tests: 1e-4 per step,
# 1e-3 on a 20-step image). Image budgets: a 20-step sample integrates every step's error, so
# they are looser than the velocity's; an int8 image off by 3% RMS is hard to tell apart by eye.
GENERATOR_BUDGETS = {
    "fp32": {"step_max_abs": 1e-4, "image20_max_abs": 1e-3},
    "fp16": {"velocity_rel_rms": 0.01, "image20_rel_rms": 0.01},
    "int8": {"velocity_rel_rms": 0.02, "image20_rel_rms": 0.03},
}
# Familiarity scores are compared relatively (they are squared distances in the hundreds); fp16 weights
# move them by a fraction of a percent, far less than the gap between a drawing and a photo.
CLASSIFIER_BUDGETS = {
    "fp32": {"logits_max_abs": 1e-4, "features_max_abs": 1e-4, "ood_score_rel": 1e-4},
    "fp16": {"prob_max_abs": 0.01, "logits_rel_rms": 0.01, "features_rel_rms": 0.01, "ood_score_rel": 0.01},
    "int8": {"prob_max_abs": 0.03, "logits_rel_rms": 0.03, "features_rel_rms": 0.03, "ood_score_rel": 0.03},
}


def session(model, threads: int | None = 1) -> ort.InferenceSession:
    """The ONNX pipeline's CPU session (``cats.onnx.pipeline.make_session``), one thread unless told."""
    return make_session(model, threads)


def case_weights(cases=CASES) -> np.ndarray:
    """(len(cases), 13) float32 class weights, each row normalised to sum 1."""
    w = np.zeros((len(cases), NUM_SLOTS), dtype=np.float32)
    for row, mix in enumerate(cases.values()):
        for name, weight in mix.items():
            w[row, breed_id(name)] = weight
    return w / w.sum(axis=1, keepdims=True)


def parity_noise(batch: int, image_size: int, channels: int = 3, seed: int = PARITY_SEED) -> np.ndarray:
    """Standard normal (batch, C, S, S) float32 from a fixed NumPy seed."""
    return np.random.default_rng(seed).standard_normal((batch, channels, image_size, image_size)).astype(np.float32)


def guidance_feeds(guidance) -> dict[str, float]:
    """A step graph's guidance inputs: a number is the CFG scale alone ({"guidance_scale": g}); a mapping
    names them (``{"guidance_scale": g, "autoguidance_scale": w}`` for a graph with a guide)."""
    return {"guidance_scale": float(guidance)} if np.isscalar(guidance) else {k: float(v) for k, v in guidance.items()}


def step_feed(sample, sigma, sigma_next, class_weights, guidance) -> dict[str, np.ndarray]:
    """Graph inputs for one step; scalars sigma/sigma_next are broadcast over the batch; guidance: see
    ``guidance_feeds`` (each becomes a (1,) input)."""
    b = sample.shape[0]
    return {"sample": np.ascontiguousarray(sample, dtype=np.float32),
            "sigma": np.broadcast_to(np.asarray(sigma, np.float32), (b,)).copy(),
            "sigma_next": np.broadcast_to(np.asarray(sigma_next, np.float32), (b,)).copy(),
            "class_weights": np.ascontiguousarray(class_weights, dtype=np.float32),
            **{k: np.asarray([v], dtype=np.float32) for k, v in guidance_feeds(guidance).items()}}


def torch_step(step: GeneratorStep, feed: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(next_sample, pred_x0) of the PyTorch step module for a graph feed (the inputs it takes, in order)."""
    with torch.no_grad():
        nxt, x0 = step(*(torch.from_numpy(feed[k]) for k in step.INPUTS))
    return nxt.numpy(), x0.numpy()


def onnx_step(sess: ort.InferenceSession, feed: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(next_sample, pred_x0) of a step graph; feed entries the graph does not take are left out
    (the few-step graph has no guidance_scale)."""
    names = {i.name for i in sess.get_inputs()}
    nxt, x0 = sess.run(["next_sample", "pred_x0"], {k: v for k, v in feed.items() if k in names})
    return nxt, x0


def sample_loop(step_fn, noise: np.ndarray, sigmas: np.ndarray, class_weights, guidance, interval=None) -> np.ndarray:
    """Euler from ``noise`` over ``sigmas`` (``cats.sampling.run_sampler``) with a step function of a graph
    feed (torch_step / onnx_step partial). interval (lo, hi): guidance only at steps starting inside it,
    every guidance input 1 elsewhere (as the pipelines feed it: ``cats.sampling.guidance_at``)."""
    off = {k: 1.0 for k in guidance_feeds(guidance)}

    def step(x, s, s_next):
        return step_fn(step_feed(x, s, s_next, class_weights, guidance if in_interval(s, interval) else off))

    return run_sampler(step, noise, sigmas)


def rel_rms(got: np.ndarray, ref: np.ndarray) -> float:
    """||got - ref|| / ||ref||, in float64."""
    diff = got.astype(np.float64) - ref.astype(np.float64)
    return float(np.sqrt((diff ** 2).sum() / max((ref.astype(np.float64) ** 2).sum(), 1e-30)))


def _stats(prefix: str, got: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    diff = got.astype(np.float64) - ref.astype(np.float64)
    return {f"{prefix}_max_abs": float(np.abs(diff).max()), f"{prefix}_rel_rms": rel_rms(got, ref)}


class GeneratorReference:
    """PyTorch reference outputs for the parity batch, computed once and compared with any graph.

    Three measures: ``velocity_*`` (the guided velocity at PARITY_SIGMAS), ``step_max_abs``
    (next_sample and pred_x0 of real steps sigma -> sigma - 0.05) and ``image{N}_*`` (an N-step
    Euler sample from the same noise, guided only inside ``interval`` when one is given, as clients sample).
    """

    def __init__(self, step: GeneratorStep, guidance, shift: float, image_steps: int = IMAGE_STEPS,
                 image_sigmas=None, interval=None):
        cfg = step.transformer.config
        weights = case_weights()
        self.image_steps = image_steps
        self.velocity_feeds, self.step_feeds = [], []
        for k, sigma in enumerate(PARITY_SIGMAS):
            x = parity_noise(len(weights), cfg.sample_size, cfg.in_channels, seed=PARITY_SEED + 1 + k)
            self.velocity_feeds.append(step_feed(x, sigma, sigma - 1.0, weights, guidance))
            self.step_feeds.append(step_feed(x, sigma, max(sigma - 0.05, 0.0), weights, guidance))
        self.v_ref = np.stack([f["sample"] - torch_step(step, f)[0] for f in self.velocity_feeds])
        self.step_ref = [np.stack(torch_step(step, f)) for f in self.step_feeds]
        self.image_args = (parity_noise(len(weights), cfg.sample_size, cfg.in_channels),
                           flow_sigmas(image_steps, shift) if image_sigmas is None
                           else np.asarray(image_sigmas, np.float32), weights, guidance, interval)
        self.image_ref = sample_loop(lambda f: torch_step(step, f), *self.image_args)

    def errors(self, sess: ort.InferenceSession) -> dict[str, float]:
        """Errors of a step graph session against the reference."""
        v_got = np.stack([f["sample"] - onnx_step(sess, f)[0] for f in self.velocity_feeds])
        step_err = max(float(np.abs(np.stack(onnx_step(sess, f)) - ref).max())
                       for f, ref in zip(self.step_feeds, self.step_ref))
        image = sample_loop(lambda f: onnx_step(sess, f), *self.image_args)
        return {**_stats("velocity", v_got, self.v_ref), "step_max_abs": step_err,
                **_stats(f"image{self.image_steps}", image, self.image_ref)}


def classifier_inputs(image_size: int, batch: int = 4, seed: int = PARITY_SEED) -> np.ndarray:
    """Fixed normalised classifier inputs (B, 3, S, S): smooth random pictures, not white noise."""
    rng = np.random.default_rng(seed)
    coarse = rng.standard_normal((batch, 3, 8, 8)).astype(np.float32)
    reps = -(-image_size // 8)
    return np.ascontiguousarray(np.kron(coarse, np.ones((1, 1, reps, reps), np.float32))[..., :image_size, :image_size])


def score_rel(got, ref) -> float:
    """Largest relative difference of two familiarity-score vectors (max |got - ref| / max(|ref|, 1))."""
    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    return float((np.abs(got - ref) / np.maximum(np.abs(ref), 1.0)).max())


def classifier_errors(classifier, sess: ort.InferenceSession, temperature: float) -> dict[str, float]:
    """Logit, tempered-probability, feature and familiarity-score errors of a classifier graph vs PyTorch."""
    x = classifier_inputs(classifier.config.image_size)
    with torch.no_grad():
        ref, ref_f = (t.numpy() for t in classifier.forward_with_features(torch.from_numpy(x)))
    got, got_f = sess.run(["logits", "features"], {"image": x})
    prob = np.abs(softmax(got, temperature) - softmax(ref, temperature)).max()
    errors = {**_stats("logits", got, ref), "prob_max_abs": float(prob), **_stats("features", got_f, ref_f)}
    ood = getattr(classifier, "ood", None)
    if ood is not None:
        errors["ood_score_rel"] = score_rel(ood.score(got_f), ood.score(ref_f))
    return errors


def over_budget(errors: dict[str, float], budget: dict[str, float]) -> list[str]:
    """Human-readable list of the budget lines ``errors`` breaks (empty when within budget)."""
    return [f"{key} = {errors[key]:.3g} > {limit:.3g}" for key, limit in budget.items()
            if not errors.get(key, float("inf")) <= limit]
