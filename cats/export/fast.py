"""The few-step graph: one Euler step of the few-step student, conditional only (guidance is baked in).

    sample (B,3,H,W), sigma (B,), sigma_next (B,), class_weights (B,13)
      -> next_sample (B,3,H,W), pred_x0 (B,3,H,W)

The same step as the main graph without its unconditional half and without ``guidance_scale``:
the student learned the teacher's guided images, so a second pass would apply guidance twice.
Its manifest block, "generator_fast", has the main block's fields plus ``guidance`` (what was baked
in) and the few-step schedule (equal steps from sigma 1 to 0) for 1, 2 and 4 steps. Parity: the
velocity at the parity sigmas, real steps, and a 2-step image; golden fixtures: the first step and
the 1- and 2-step images of every parity case.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch
import torch.nn as nn

from cats.export.golden import agree
from cats.export.graphs import GENERATOR_OUTPUTS, GeneratorStep, export_friendly, export_graph, generator_example
from cats.export.manifest import graph_io
from cats.export.parity import (
    CASES,
    GeneratorReference,
    case_weights,
    onnx_step,
    parity_noise,
    sample_loop,
    step_feed,
    torch_step,
)
from cats.flow import SIGMA_MIN, euler_step, model_velocity, velocity_to_x0
from cats.onnx.manifest import decode_array, encode_array
from cats.schedule import few_step_sigmas

FAST_INPUTS = ("sample", "sigma", "sigma_next", "class_weights")
FAST_STEPS = (1, 2, 4)  # step counts whose schedule the manifest lists
FAST_DEFAULT_STEPS = 2
PARITY_IMAGE_STEPS = 2
FAST_BUDGETS = {
    "fp32": {"step_max_abs": 1e-4, f"image{PARITY_IMAGE_STEPS}_max_abs": 1e-3},
    "fp16": {"velocity_rel_rms": 0.01, f"image{PARITY_IMAGE_STEPS}_rel_rms": 0.01},
}
FAST_PRECISIONS = tuple(FAST_BUDGETS)  # int8 is not offered: its calibration is written for the guided graph
GOLDEN_SEED = 20241
TOLERANCE = {"step": 1e-4, "final": 1e-3}


class FastGeneratorStep(GeneratorStep):
    """One conditional Euler step of a few-step student (the exported few-step graph): the guided step
    without guidance_scale and without the unconditional half."""

    INPUTS = FAST_INPUTS

    def forward(self, sample: torch.Tensor, sigma: torch.Tensor, sigma_next: torch.Tensor,
                class_weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        v = model_velocity(self.transformer, sample, sigma, class_weights, self.prediction_type)
        return euler_step(sample, v, sigma, sigma_next), velocity_to_x0(sample, v, sigma)


def export_fast_generator(transformer: nn.Module, path: Path) -> onnx.ModelProto:
    cfg = transformer.config
    step = FastGeneratorStep(export_friendly(transformer))
    return export_graph(step, generator_example(cfg.sample_size, cfg.in_channels)[:4], path, FAST_INPUTS,
                        GENERATOR_OUTPUTS, (True, True, True, True))


def fast_entry(transformer, model: onnx.ModelProto, baked_guidance: float, baked_autoguidance: float | None = None
               ) -> dict:
    """The "generator_fast" block, without its variants. baked_autoguidance: the teacher's guide weight in the
    pairs the student learned from (None: its teacher had no guide)."""
    cfg = transformer.config
    inputs, outputs = graph_io(model)
    return {"image_size": int(cfg.sample_size), "channels": int(cfg.in_channels), "layout": "NCHW",
            "pixel_range": [-1, 1], "prediction_type": cfg.prediction_type, "sigma_min": SIGMA_MIN,
            "scheduler": {"name": "few-step: equal steps from sigma 1 to 0",
                          "sigmas": {str(n): few_step_sigmas(n) for n in FAST_STEPS}},
            "defaults": {"num_inference_steps": FAST_DEFAULT_STEPS},
            "guidance": {"baked_in": float(baked_guidance),
                         "autoguidance_baked_in": None if baked_autoguidance is None else float(baked_autoguidance)},
            "inputs": inputs, "outputs": outputs, "variants": {}, "rejected_variants": {},
            "default_variant": "fp32"}


def fast_reference(step: FastGeneratorStep) -> GeneratorReference:
    """Parity reference of the few-step graph (guidance_scale in the feeds is ignored: no such input)."""
    return GeneratorReference(step, 1.0, 1.0, image_steps=PARITY_IMAGE_STEPS,
                              image_sigmas=few_step_sigmas(PARITY_IMAGE_STEPS))


def make_fast_golden(step: FastGeneratorStep, sess) -> dict:
    """Fixtures for the few-step graph: per case, the first step and the 1- and 2-step images."""
    cfg = step.transformer.config
    noise = parity_noise(1, cfg.sample_size, cfg.in_channels, seed=GOLDEN_SEED)
    cases = []
    for (name, mix), w in zip(CASES.items(), case_weights()):
        w = w[None]
        feed = step_feed(noise, 1.0, 0.5, w, 1.0)
        nxt, x0 = onnx_step(sess, feed)
        ref_nxt, ref_x0 = torch_step(step, feed)
        agree(f"fast {name} next_sample", nxt, ref_nxt, TOLERANCE["step"])
        agree(f"fast {name} pred_x0", x0, ref_x0, TOLERANCE["step"])
        finals = {}
        for n in (1, 2):
            sigmas = np.asarray(few_step_sigmas(n), np.float32)
            got = sample_loop(lambda f: onnx_step(sess, f), noise, sigmas, w, 1.0)
            agree(f"fast {name} {n}-step", got, sample_loop(lambda f: torch_step(step, f), noise, sigmas, w, 1.0),
                   TOLERANCE["final"])
            finals[str(n)] = encode_array(got)
        cases.append({"name": name, "breeds": mix, "class_weights": [float(v) for v in w[0]],
                      "next_sample": encode_array(nxt), "pred_x0": encode_array(x0), "final": finals})
    return {"variant": "fp32", "tolerance": TOLERANCE, "noise": encode_array(noise), "first_step": [1.0, 0.5],
            "cases": cases}


def replay_fast_golden(golden: dict, sess) -> list[str]:
    """Re-run the few-step fixtures through an fp32 session; returns the mismatches."""
    problems, tol = [], golden["tolerance"]
    noise = decode_array(golden["noise"])

    def check(name, got, want, limit):
        err = float(np.abs(got - decode_array(want)).max())
        if not err <= limit:
            problems.append(f"golden fast {name}: off by {err:.3g} > {limit:g}")

    for case in golden["cases"]:
        w = np.asarray([case["class_weights"]], np.float32)
        nxt, x0 = onnx_step(sess, step_feed(noise, *golden["first_step"], w, 1.0))
        check(f"{case['name']} next_sample", nxt, case["next_sample"], tol["step"])
        check(f"{case['name']} pred_x0", x0, case["pred_x0"], tol["step"])
        for n, want in case["final"].items():
            got = sample_loop(lambda f: onnx_step(sess, f), noise, np.asarray(few_step_sigmas(int(n)), np.float32),
                              w, 1.0)
            check(f"{case['name']} {n}-step", got, want, tol["final"])
    return problems
