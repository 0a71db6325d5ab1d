"""cats.classify: the answer contract, calibration maths, odd uploads through classify()."""

import io
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from cats.breeds import BREEDS, CLASSIFIER_LABELS, OTHER_ID
from cats.classify import (
    ClassifyResult,
    calibrate_unsure_threshold,
    classify,
    expected_calibration_error,
    fit_temperature,
    preprocess,
    results_from_logits,
    softmax,
)
from cats.images import ImageInputError
from cats.models.classifier import CatClassifier


def _logits_favouring(index, margin=5.0, n=13):
    row = np.zeros(n)
    row[index] = margin
    return row


def test_results_contract_probabilities_topk_and_breed_verdict():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4, 13)) * 3
    logits[0] = _logits_favouring(BREEDS.index("Bengal"))
    results = results_from_logits(logits, temperature=1.0, unsure_threshold=0.0, top_k=3)
    assert len(results) == 4 and all(isinstance(r, ClassifyResult) for r in results)
    for r, row in zip(results, logits):
        assert list(r.probabilities) == list(CLASSIFIER_LABELS)
        assert sum(r.probabilities.values()) == pytest.approx(1.0)
        probs = [p for _, p in r.top_k]
        assert len(r.top_k) == 3 and probs == sorted(probs, reverse=True)
        assert r.top_k[0][0] == CLASSIFIER_LABELS[int(np.argmax(row))] == r.verdict
        assert all(r.probabilities[label] == pytest.approx(p) for label, p in r.top_k)
    assert results[0].verdict == "Bengal" and results[0].display_verdict == "Bengal"
    assert len(results_from_logits(logits[:1], top_k=13)[0].top_k) == 13


def test_other_wins_gives_other_verdict_shown_as_not_a_known_breed():
    (r,) = results_from_logits(_logits_favouring(OTHER_ID)[None], temperature=1.0, unsure_threshold=0.3)
    assert r.verdict == "other"
    assert r.display_verdict == "not a cat breed I know"
    assert r.top_k[0][0] == "other"


def test_unsure_under_threshold_and_temperature_matters():
    logits = _logits_favouring(BREEDS.index("Sphynx"), margin=3.0)[None]  # p_top = e^3/(e^3+12) ~ 0.63
    assert results_from_logits(logits, 1.0, unsure_threshold=0.5)[0].verdict == "Sphynx"
    assert results_from_logits(logits, 1.0, unsure_threshold=0.7)[0].verdict == "unsure"
    hot = results_from_logits(logits, temperature=3.0, unsure_threshold=0.5)[0]  # softened: p_top ~ 0.18
    assert hot.verdict == "unsure" and hot.display_verdict == "unsure"
    assert hot.top_k[0][0] == "Sphynx"  # the ranking is still reported
    assert hot.top_k[0][1] == pytest.approx(softmax(logits / 3.0)[0].max())


def test_bad_arguments_raise_with_the_accepted_values():
    with pytest.raises(ValueError, match=r"\(batch, 13\)"):
        results_from_logits(np.zeros((2, 12)))
    with pytest.raises(ValueError, match="top_k"):
        results_from_logits(np.zeros((1, 13)), top_k=0)
    with pytest.raises(ValueError, match="temperature"):
        results_from_logits(np.zeros((1, 13)), temperature=-1.0)
    with pytest.raises(ValueError, match="NaN"):
        results_from_logits(np.full((1, 13), np.nan))


def _overconfident(n=4000, k=13, scale=3.0, seed=0):
    """Labels drawn from softmax(z): z is calibrated; scale * z is an over-confident model."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, k)) * 1.5
    p = softmax(z)
    labels = (p.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1)  # one draw from each row
    return z * scale, labels


def test_temperature_fitting_recovers_the_overconfidence_and_lowers_ece():
    logits, labels = _overconfident(scale=3.0)
    t = fit_temperature(logits, labels)
    assert t == pytest.approx(3.0, rel=0.15)
    before = expected_calibration_error(softmax(logits), labels)
    after = expected_calibration_error(softmax(logits, t), labels)
    assert before > 0.15 and after < 0.05 and after < before / 3
    under, under_labels = _overconfident(scale=0.5, seed=1)
    assert fit_temperature(under, under_labels) == pytest.approx(0.5, rel=0.15)  # under-confident -> T < 1


def test_ece_on_hand_computed_cases():
    probs = np.full((10, 13), 0.2 / 12)
    probs[:, 0] = 0.8
    labels = np.array([0] * 8 + [1] * 2)  # 80% right at 80% confidence: perfectly calibrated
    assert expected_calibration_error(probs, labels) == pytest.approx(0.0, abs=1e-12)
    labels_wrong = np.ones(10, dtype=np.int64)  # 0% right at 80% confidence
    assert expected_calibration_error(probs, labels_wrong) == pytest.approx(0.8)


def test_unsure_threshold_keeps_answered_accuracy_at_target():
    rng = np.random.default_rng(0)
    conf = np.concatenate([rng.uniform(0.8, 1.0, 90), rng.uniform(0.2, 0.5, 60)])
    correct = np.concatenate([rng.random(90) < 0.97, rng.random(60) < 0.3])
    labels = rng.integers(0, 13, len(conf))
    probs = np.full((len(conf), 13), 0.0)
    for i, (c, ok) in enumerate(zip(conf, correct)):
        pred = labels[i] if ok else (labels[i] + 1) % 13
        probs[i] = (1 - c) / 12
        probs[i, pred] = c
    t = calibrate_unsure_threshold(probs, labels, target_accuracy=0.9)
    answered = conf >= t
    assert correct[answered].mean() >= 0.9
    assert answered.sum() >= 90  # it keeps all the confident answers...
    lower = conf[conf < t].max()
    assert correct[conf >= lower].mean() < 0.9  # ...and is the lowest threshold that reaches the target
    assert calibrate_unsure_threshold(probs, (labels + 5) % 13, target_accuracy=0.9) == 1.0  # unreachable


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = CatClassifier(backbone="regnet_y_400mf", image_size=64)
    m.set_calibration(temperature=1.0, unsure_threshold=0.0)
    return m.eval()


def _png_bytes(img, **kw):
    buf = io.BytesIO()
    img.save(buf, format=kw.pop("format", "PNG"), **kw)
    return buf.getvalue()


def test_odd_modes_and_sizes_all_classify(model):
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 256, (48, 40, 3), dtype=np.uint8))
    i16 = Image.fromarray(rng.integers(0, 65535, (30, 30), dtype=np.uint16))
    odd = {
        "RGBA": rgb.convert("RGBA"), "L": rgb.convert("L"), "P": rgb.convert("P"), "CMYK": rgb.convert("CMYK"),
        "I;16": i16, "1x1": Image.new("RGB", (1, 1), (10, 200, 30)), "huge": rgb.resize((3000, 2000)),
        "bytes": _png_bytes(rgb), "array": np.asarray(rgb),
    }
    results = classify(model, list(odd.values()), top_k=5)
    assert len(results) == len(odd)
    for r in results:
        assert sum(r.probabilities.values()) == pytest.approx(1.0) and len(r.top_k) == 5
    single = classify(model, rgb)  # one image in -> a list of one
    assert len(single) == 1 and single[0].probabilities == pytest.approx(results[-1].probabilities)
    assert i16.mode == "I;16" and odd["CMYK"].mode == "CMYK"


def test_animated_gif_uses_the_first_frame(tmp_path):
    red, blue = Image.new("RGB", (32, 32), (255, 0, 0)), Image.new("RGB", (32, 32), (0, 0, 255))
    path = tmp_path / "anim.gif"
    red.save(path, save_all=True, append_images=[blue], duration=100, loop=0)
    args = (64, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    np.testing.assert_allclose(preprocess(path, *args), preprocess(red, *args), atol=0.02)


def test_exif_rotated_photo_is_turned_upright(tmp_path):
    upright = Image.new("RGB", (40, 60), (0, 0, 0))
    upright.paste((255, 255, 255), (0, 0, 40, 20))  # white band on top
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # what a sideways camera writes: 60x40
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 CW to display
    path = tmp_path / "rotated.jpg"
    stored.save(path, exif=exif, quality=95)
    x = preprocess(path, 64, (0, 0, 0), (1, 1, 1))[0]  # (3, 64, 64), plain [0, 1]
    assert x[:, 4, :].mean() > 0.9 and x[:, 60, :].mean() < 0.1  # white at the top, black at the bottom


def test_decompression_bomb_is_refused_with_a_clear_error(model, tmp_path):
    path = tmp_path / "bomb.png"
    Image.new("1", (9000, 9000)).save(path)  # 81 Mpx, tiny file
    with pytest.raises(ImageInputError, match="pixels"):
        classify(model, path)
    with pytest.raises(ImageInputError):
        classify(model, path.read_bytes())


def test_tta_averages_logits_of_the_image_and_its_mirror(model):
    rng = np.random.default_rng(1)
    img = Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    cfg = model.config
    x = torch.from_numpy(preprocess(img, cfg.image_size, cfg.mean, cfg.std))
    with torch.no_grad():
        expected = softmax(((model(x) + model(torch.flip(x, dims=[3]))) / 2).numpy())[0]
        plain = softmax(model(x).numpy())[0]
    got = classify(model, img, tta=True)[0].probabilities
    np.testing.assert_allclose(list(got.values()), expected, atol=1e-5)
    assert not np.allclose(expected, plain, atol=1e-5)  # the flip really changed something


def test_classify_uses_eval_mode_and_restores_train_mode(model):
    model.train()
    stats = model.net.stem[1].running_mean.clone()
    img = Image.new("RGB", (64, 64), (30, 60, 90))
    a = classify(model, [img, img])
    b = classify(model, img)
    assert model.training  # restored
    assert torch.equal(model.net.stem[1].running_mean, stats)  # no BatchNorm statistics updated
    assert a[0].probabilities == pytest.approx(b[0].probabilities)  # batch-independent (eval BN)
    model.eval()


def test_numpy_part_imports_without_torch():
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import numpy as np, cats.classify as c\n"
        "r = c.results_from_logits(np.eye(13)[[12]] * 9, 1.3, 0.4, 3)\n"
        "print(r[0].display_verdict)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "not a cat breed I know"
