"""`python -m cats.evaluation classifier`: the metrics maths and the CLI end to end on a tiny model + tiny data."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from cats.breeds import CLASSIFIER_LABELS, OTHER_ID
from cats.evaluation.classifier import classifier_metrics, find_classifier_dir
from cats.evaluation.cli import main
from cats.models.classifier import CatClassifier


def test_metrics_on_hand_made_logits():
    labels = np.array([0, 0, 1, 1, OTHER_ID, OTHER_ID])
    logits = np.zeros((6, 13))
    logits[0, 0] = 5  # right
    logits[1, [1, 0]] = [5, 4]  # wrong, true label second -> top-3 hit
    logits[2, 1] = 5  # right
    logits[3, OTHER_ID] = 5  # a cat called "other": wrong 13-way, but 12-way picks among breeds only
    logits[3, 1] = 1
    logits[4, OTHER_ID] = 5  # right
    logits[5, [3, 4, 5, OTHER_ID]] = [5, 4, 3, 2]  # wrong, true label 4th -> top-3 miss
    m = classifier_metrics(logits, labels, temperature=1.0, unsure_threshold=0.0)
    assert m["num_images"] == 6
    assert m["top1"] == pytest.approx(3 / 6)
    assert m["top3"] == pytest.approx(5 / 6)
    assert m["top1_cats"] == pytest.approx(2 / 4)
    assert m["top1_cats_12way"] == pytest.approx(3 / 4)
    cm = np.array(m["confusion_matrix"])
    assert cm.shape == (13, 13) and cm.sum() == 6
    assert cm[0, 0] == 1 and cm[0, 1] == 1 and cm[1, OTHER_ID] == 1 and cm[OTHER_ID, 3] == 1
    assert m["per_class"]["Abyssinian"] == {"n": 2, "accuracy": 0.5}
    assert m["per_class"]["Sphynx"] == {"n": 0, "accuracy": None}
    assert m["labels"] == list(CLASSIFIER_LABELS)
    assert m["unsure_rate"] == 0.0
    strict = classifier_metrics(logits, labels, temperature=1.0, unsure_threshold=0.99)
    assert strict["unsure_rate"] == 1.0 and strict["answered_accuracy"] is None


def test_metrics_report_ece_before_and_after_the_saved_temperature():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(3000, 13)) * 1.5
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    labels = (p.cumsum(axis=1) > rng.random((len(p), 1))).argmax(axis=1)  # one draw from each row
    m = classifier_metrics(3.0 * z, labels, temperature=3.0, unsure_threshold=0.0)  # over-confident x3, T fixes it
    assert m["ece_after_temperature"] < 0.05 < m["ece_before_temperature"]
    assert m["oracle_temperature"] == pytest.approx(3.0, rel=0.15)
    assert m["nll_after_temperature"] < m["nll_before_temperature"]


def test_cli_on_tiny_model_and_data_writes_json_and_png(tmp_path, capsys):
    torch.manual_seed(0)
    model = CatClassifier(backbone="regnet_y_400mf", image_size=32)
    model.set_calibration(temperature=1.5, unsure_threshold=0.2)
    model.save_pretrained(tmp_path / "pipe" / "classifier")  # laid out like a CatsPipeline dir
    out = tmp_path / "eval" / "metrics.json"
    metrics = main(["classifier", "--model", str(tmp_path / "pipe"), "--data", "synthcats", "--split", "test",
                    "--data-root", str(tmp_path / "cache"), "--data-option", "num_per_class=2",
                    "--out", str(out), "--device", "cpu", "--quick"])
    saved = json.loads(out.read_text())
    assert saved == json.loads(json.dumps(metrics))
    assert saved["model"] == str(tmp_path / "pipe"), "the model as given, not the directory it resolved to"
    assert saved["num_images"] == 12 * 2 + 2  # two per breed plus two "other"
    assert np.array(saved["confusion_matrix"]).sum() == saved["num_images"]
    assert all(row["n"] == 2 for row in saved["per_class"].values())
    assert saved["temperature"] == pytest.approx(1.5) and saved["unsure_threshold"] == pytest.approx(0.2)
    for key in ("top1", "top3", "ece_before_temperature", "ece_after_temperature"):
        assert 0.0 <= saved[key] <= 1.0
    assert saved["top3"] >= saved["top1"]
    png = out.with_name("metrics.confusion.png")
    assert saved["confusion_png"] == str(png)
    with Image.open(png) as img:
        assert img.width >= 600 and img.height >= 600
    printed = capsys.readouterr().out
    assert "top-1" in printed and "ECE" in printed and "Abyssinian" in printed


def test_missing_classifier_dir_says_what_is_expected(tmp_path):
    with pytest.raises(FileNotFoundError, match="classifier/config.json"):
        find_classifier_dir(tmp_path)
    with pytest.raises(SystemExit):
        main(["classifier", "--model", str(tmp_path), "--data", "imagenet"])
