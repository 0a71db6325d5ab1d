"""Classifier training through the CLI: it learns, calibrates, attaches to a pipeline; balanced sampling."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from accelerate import Accelerator
from PIL import Image

from cats.breeds import NUM_CLASSIFIER_OUTPUTS, OTHER_ID
from cats.training.cli import config_from_args, main
from cats.training.config import resolve


@pytest.mark.slow
def test_classifier_beats_chance_and_attaches_to_the_generator_pipeline(tmp_path):
    data_root = tmp_path / "data"
    gen = tmp_path / "gen"
    main(["generator", "--preset", "micro", "--num-per-class", "2", "--data-root", str(data_root), "--out", str(gen),
          "--steps", "2", "--warmup", "0", "--sample-every", "0", "--sample-steps", "2", "--eval-every", "0"])
    clf = tmp_path / "clf"
    # 20 SynthCats per class and split (260 train, 260 val images, 13 classes) at 32 px; 80 steps of 32.
    result = main(["classifier", "--preset", "tiny", "--image-size", "32", "--pretrained", "none",
                   "--num-per-class", "20", "--data-root", str(data_root), "--out", str(clf), "--steps", "80",
                   "--batch-size", "32", "--lr", "3e-3", "--warmup", "5", "--eval-every", "0", "--log-every", "20",
                   "--checkpoint-every", "0", "--attach-to", str(gen / "pipeline")])
    metrics = json.loads((clf / "metrics.json").read_text())
    chance = 1 / NUM_CLASSIFIER_OUTPUTS
    assert metrics["val_images"] == 260
    assert metrics["val_accuracy"] >= 0.3, f"val accuracy {metrics['val_accuracy']:.3f} is near chance ({chance:.3f})"
    assert metrics["ece_after"] <= metrics["ece_before"] + 1e-9
    assert result.metrics["val_accuracy"] == metrics["val_accuracy"]

    from cats.models.classifier import CatClassifier
    from cats.pipeline import CatsPipeline

    alone = CatClassifier.from_pretrained(str(clf / "classifier"))
    assert alone.config.temperature == pytest.approx(metrics["temperature"])
    assert alone.config.unsure_threshold == pytest.approx(metrics["unsure_threshold"])
    assert alone.config.image_size == 32
    pipe = CatsPipeline.from_pretrained(str(gen / "pipeline"))
    assert pipe.classifier is not None and pipe.transformer is not None
    for name, tensor in alone.state_dict().items():
        assert torch.equal(pipe.classifier.state_dict()[name], tensor), f"attached classifier differs at {name}"
    image = Image.fromarray(np.full((40, 50, 3), 128, np.uint8))
    (answer,) = pipe.classify(image, top_k=3)
    assert len(answer.probabilities) == NUM_CLASSIFIER_OUTPUTS
    assert pipe(breed="Bengal", num_inference_steps=2, output_type="pt", progress=False).images.shape == (1, 3, 32, 32)


def _write_folder(root, counts: dict[str, int]) -> None:
    rng = np.random.default_rng(0)
    for name, n in counts.items():
        folder = root / name
        folder.mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(folder / f"{i}.png")


def test_class_balanced_sampling_when_other_outnumbers_the_cats(tmp_path):
    from cats.training.batches import step_generator
    from cats.training.classifier_task import ClassifierTask

    photos = tmp_path / "photos"
    _write_folder(photos / "train", {"bengal": 3, "persian": 3, "other": 12})
    _write_folder(photos / "val", {"bengal": 1, "persian": 1, "other": 1})
    cfg = resolve(config_from_args(["classifier", "--data", f"folder:{photos}", "--preset", "tiny",
                                    "--image-size", "32", "--batch-size", "16", "--data-root", str(tmp_path / "cache"),
                                    "--out", str(tmp_path / "run")]))
    task = ClassifierTask(cfg, Accelerator(cpu=True))
    assert task.balanced
    assert float((task.train.labels == OTHER_ID).float().mean()) == pytest.approx(2 / 3)
    drawn = torch.cat([task.train.labels[task._indices(s, 0, step_generator(0, s))] for s in range(100)])
    share = float((drawn == OTHER_ID).float().mean())
    assert abs(share - 1 / 3) < 0.06, f"'other' drawn {share:.2f} of the time; balanced sampling gives 1/3"
    # and the draws are reproducible per step (exact resume)
    assert torch.equal(task._indices(7, 0, step_generator(0, 7)), task._indices(7, 0, step_generator(0, 7)))
