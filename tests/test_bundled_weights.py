"""The committed SynthCats demo weights: they load by name, are trained (not a dummy), and ship as graphs."""

import json

import numpy as np
import torch

from cats.breeds import NUM_BREEDS
from cats.onnx.manifest import sha256
from cats.paths import WEB_MODELS, bundled_pipeline
from cats.pipeline import CatsPipeline

BUNDLED = bundled_pipeline("synthcats")


def test_bundled_pipeline_is_small_and_says_what_it_learned_from():
    size = sum(f.stat().st_size for f in BUNDLED.rglob("*") if f.is_file())
    assert size < 30e6, f"bundled weights are {size / 1e6:.1f} MB; keep them under 30 MB"
    index = json.loads((BUNDLED / "model_index.json").read_text())
    assert "SynthCats" in index["trained_on"]
    training = json.loads((BUNDLED / "training.json").read_text())
    assert training["generator"]["config"]["data"] == "synthcats"
    assert training["classifier"]["config"]["data"] == "synthcats"


def test_samples_of_the_bundled_generator_are_recognised_as_the_requested_breed():
    """A dummy or untrained checkpoint scores about chance (1/13); the trained pair must do far better."""
    from cats.evaluation.generator import breed_accuracy, classify_tensors, generate_balanced

    pipe = CatsPipeline.from_pretrained("synthcats")
    pipe.set_progress_bar_config(disable=True)
    assert pipe.classifier is not None
    images, labels = generate_balanced(pipe, per_breed=2, steps=10, guidance=pipe.config.default_guidance_scale,
                                       seed=123)
    acc = breed_accuracy(classify_tensors(pipe.classifier, images), labels)
    assert acc["num_samples"] == 2 * NUM_BREEDS
    assert acc["mean"] >= 0.5, acc  # chance is 0.077


def test_bundled_classifier_recognises_held_out_synthcats():
    from cats.data import load_dataset
    from cats.evaluation.generator import classify_tensors

    pipe = CatsPipeline.from_pretrained("synthcats")
    ds = load_dataset("synthcats", split="test", image_size=pipe.classifier.config.image_size, num_per_class=4)
    probs = classify_tensors(pipe.classifier, ds.images.float() / 127.5 - 1)
    assert (probs.argmax(1) == ds.labels.numpy()).mean() >= 0.9


def test_web_client_ships_the_export_of_the_bundled_weights():
    manifest = json.loads((WEB_MODELS / "manifest.json").read_text())
    assert manifest["weights"]["name"] == "synthcats"
    assert "SynthCats" in manifest["weights"]["trained_on"]
    for graph in ("generator", "classifier"):
        for variant in manifest[graph]["variants"].values():
            assert sha256(WEB_MODELS / variant["file"]) == variant["sha256"], variant["file"]
    # the fp32 step graph reproduces the bundled PyTorch weights (so the export is of these weights)
    import onnxruntime as ort

    pipe = CatsPipeline.from_pretrained("synthcats")
    from cats.export.graphs import GeneratorStep

    step = GeneratorStep(pipe.transformer, pipe.guide_transformer).eval()  # the guide, when bundled, is in the graph
    assert (pipe.guide_transformer is None) == (manifest["generator"]["guide"] is None)
    rng = np.random.default_rng(0)
    size = manifest["generator"]["image_size"]
    feed = {"sample": rng.standard_normal((1, 3, size, size)).astype(np.float32),
            "sigma": np.array([0.7], np.float32), "sigma_next": np.array([0.6], np.float32),
            "class_weights": np.eye(13, dtype=np.float32)[[4]], "guidance_scale": np.array([3.0], np.float32),
            "autoguidance_scale": np.array([2.5], np.float32)}
    feed = {k: feed[k] for k in step.INPUTS}
    sess = ort.InferenceSession(str(WEB_MODELS / manifest["generator"]["variants"]["fp32"]["file"]),
                                providers=["CPUExecutionProvider"])
    onnx_next = sess.run(["next_sample"], feed)[0]
    with torch.no_grad():
        torch_next = step(*(torch.from_numpy(feed[k]) for k in step.INPUTS))[0].numpy()
    assert np.abs(onnx_next - torch_next).max() < 1e-4
