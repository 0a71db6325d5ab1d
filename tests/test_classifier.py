"""CatClassifier (model, config round trip, pretrained paths offline) and its training-side transforms."""

import logging
import urllib.error

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.models import get_model

from cats.breeds import NUM_CLASSIFIER_OUTPUTS
from cats.classify import classify, preprocess
from cats.models.classifier import IMAGENET_MEAN, IMAGENET_STD, PRESETS, CatClassifier
from cats.training.transforms import augment, class_balanced_weights, eval_transform

BACKBONE = "regnet_y_400mf"  # the shipped default


def _body(state):
    return {k: v for k, v in state.items() if not k.startswith("fc.")}


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return CatClassifier(backbone=BACKBONE, image_size=64).eval()


def test_forward_gives_13_raw_logits_independent_of_calibration(model):
    x = torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        before = model(x)
        model.set_calibration(temperature=4.0, unsure_threshold=0.9)
        after = model(x)
        model.set_calibration(temperature=1.0, unsure_threshold=0.5)
    assert before.shape == (3, NUM_CLASSIFIER_OUTPUTS)
    assert torch.isfinite(before).all()
    assert torch.equal(before, after)  # the temperature is applied in cats.classify, never in the graph
    assert not torch.allclose(before[0], before[1])  # rows depend on their own image


def test_save_load_round_trip_keeps_calibration_and_weights(tmp_path):
    torch.manual_seed(3)
    m = CatClassifier(backbone=BACKBONE, image_size=64).eval()
    m.set_calibration(temperature=1.73, unsure_threshold=0.42)
    m.save_pretrained(tmp_path / "cls")
    loaded = CatClassifier.from_pretrained(tmp_path / "cls").eval()
    assert loaded.config.temperature == pytest.approx(1.73)
    assert loaded.config.unsure_threshold == pytest.approx(0.42)
    assert loaded.config.backbone == BACKBONE and loaded.config.image_size == 64
    assert list(loaded.config.mean) == pytest.approx(IMAGENET_MEAN)
    for (k, a), (k2, b) in zip(m.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and torch.equal(a, b), k
    img = Image.new("RGB", (50, 70), (200, 120, 40))
    assert classify(m, img)[0].probabilities == pytest.approx(classify(loaded, img)[0].probabilities)


def test_bad_config_values_raise_naming_the_choices():
    with pytest.raises(ValueError, match="regnet_y_400mf"):
        CatClassifier(backbone="resnet152")
    with pytest.raises(ValueError, match="temperature"):
        CatClassifier(temperature=0.0)
    with pytest.raises(ValueError, match="unsure_threshold"):
        CatClassifier().set_calibration(unsure_threshold=1.5)
    with pytest.raises(ValueError, match="tiny"):
        CatClassifier.from_preset("huge", pretrained=False)
    assert set(PRESETS) >= {"tiny", "base"}


def test_no_network_logs_one_warning_and_starts_from_random_init(monkeypatch, caplog):
    def offline(url, *args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    torch.manual_seed(7)
    with caplog.at_level(logging.WARNING):
        m = CatClassifier.from_backbone(BACKBONE, pretrained=True, image_size=64)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert "RANDOM init" in warnings[0].getMessage() and BACKBONE in warnings[0].getMessage()
    torch.manual_seed(7)
    fresh = CatClassifier(backbone=BACKBONE, image_size=64)
    for (k, a), b in zip(m.state_dict().items(), fresh.state_dict().values()):
        assert torch.equal(a, b), k  # exactly the random init, nothing half-loaded


def test_download_success_path_loads_the_imagenet_backbone(monkeypatch):
    torch.manual_seed(11)
    imagenet = get_model(BACKBONE, weights=None).state_dict()  # stands in for the downloaded file
    urls = []

    def fake_download(url, *args, **kwargs):
        urls.append(url)
        return imagenet

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", fake_download)
    m = CatClassifier.from_backbone(BACKBONE, pretrained=True)
    assert urls and urls[0].startswith("https://download.pytorch.org/models/regnet_y_400mf")
    got = m.net.state_dict()
    for k, v in _body(imagenet).items():
        assert torch.equal(got[k], v), k
    assert got["fc.weight"].shape == (NUM_CLASSIFIER_OUTPUTS, imagenet["fc.weight"].shape[1])


def test_local_weights_file_loads_without_network(monkeypatch, tmp_path, caplog):
    def no_network(*args, **kwargs):
        raise AssertionError("a local weights file must not touch the network")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_network)
    torch.manual_seed(5)
    src = get_model(BACKBONE, weights=None).state_dict()
    path = tmp_path / "regnet.pth"
    torch.save(src, path)
    torch.manual_seed(99)  # a different random init, so equality proves the file was loaded
    with caplog.at_level(logging.WARNING):
        m = CatClassifier.from_backbone(BACKBONE, pretrained=str(path), image_size=64)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    got = m.net.state_dict()
    for k, v in _body(src).items():
        assert torch.equal(got[k], v), k
    assert not torch.equal(got["fc.weight"][:5], src["fc.weight"][:5, :])  # head is new, 13-way


def test_weights_of_another_architecture_are_refused(tmp_path):
    path = tmp_path / "mobilenet.pth"
    torch.save(get_model("mobilenet_v3_small", weights=None).state_dict(), path)
    with pytest.raises(ValueError, match="does not match backbone 'regnet_y_400mf'"):
        CatClassifier.from_backbone(BACKBONE, pretrained=path)
    with pytest.raises(FileNotFoundError, match="no pretrained weights file"):
        CatClassifier.from_backbone(BACKBONE, pretrained=tmp_path / "missing.pth")


# ---------------------------------------------------------------- transforms


def _smooth_images(n, h, w, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        small = rng.integers(0, 256, (h // 8 + 2, w // 8 + 2, 3), dtype=np.uint8)
        out.append(np.asarray(Image.fromarray(small).resize((w, h), Image.Resampling.BICUBIC)))
    return np.stack(out)  # (N, H, W, 3)


@pytest.mark.parametrize("h,w", [(64, 64), (96, 72), (40, 40)])
def test_eval_transform_matches_serving_preprocess(h, w):
    hwc = _smooth_images(2, h, w)
    train_side = eval_transform(torch.from_numpy(hwc).permute(0, 3, 1, 2), 64, IMAGENET_MEAN, IMAGENET_STD).numpy()
    serve_side = preprocess([Image.fromarray(a) for a in hwc], 64, IMAGENET_MEAN, IMAGENET_STD)
    assert train_side.shape == serve_side.shape == (2, 3, 64, 64)
    # within ~1.5 grey levels (x 1/std); a wrong crop, flip or normalisation is far off
    assert np.abs(train_side - serve_side).max() < 1.5 / 255 / min(IMAGENET_STD)


def test_augment_identity_and_flip_settings_reduce_to_eval_transform():
    x = torch.from_numpy(_smooth_images(3, 64, 64)).permute(0, 3, 1, 2).contiguous()
    ref = eval_transform(x, 64, IMAGENET_MEAN, IMAGENET_STD)
    still = dict(scale=(1.0, 1.0), ratio=(1.0, 1.0), brightness=0.0, contrast=0.0, saturation=0.0)
    plain = augment(x, torch.Generator().manual_seed(0), 64, IMAGENET_MEAN, IMAGENET_STD, flip_p=0.0, **still)
    flipped = augment(x, torch.Generator().manual_seed(0), 64, IMAGENET_MEAN, IMAGENET_STD, flip_p=1.0, **still)
    assert torch.allclose(plain, ref, atol=1e-5)
    assert torch.allclose(flipped, torch.flip(ref, dims=[3]), atol=1e-5)


def test_augment_is_seeded_per_sample_and_in_range():
    one = torch.from_numpy(_smooth_images(1, 96, 96)).permute(0, 3, 1, 2)
    x = one.repeat(6, 1, 1, 1)  # six copies of the same picture
    a = augment(x, torch.Generator().manual_seed(1), 64, IMAGENET_MEAN, IMAGENET_STD)
    b = augment(x, torch.Generator().manual_seed(1), 64, IMAGENET_MEAN, IMAGENET_STD)
    c = augment(x, torch.Generator().manual_seed(2), 64, IMAGENET_MEAN, IMAGENET_STD)
    assert a.shape == (6, 3, 64, 64) and a.dtype == torch.float32
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert all(not torch.allclose(a[0], a[i]) for i in range(1, 6))  # each sample its own crop/jitter
    lo = (0 - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    hi = (1 - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    assert (a >= lo.view(1, 3, 1, 1) - 1e-5).all() and (a <= hi.view(1, 3, 1, 1) + 1e-5).all()
    with pytest.raises(ValueError, match="uint8"):
        augment(x.float(), None, 64, IMAGENET_MEAN, IMAGENET_STD)


def test_class_balanced_weights_equalise_the_classes():
    labels = np.array([12] * 60 + [0] * 20 + [3] * 10 + [11] * 5)
    w = class_balanced_weights(labels)
    assert w.shape == (len(labels),) and w.dtype == torch.float64
    per_class = {c: float(w[torch.from_numpy(labels == c)].sum()) for c in (0, 3, 11, 12)}
    assert max(per_class.values()) == pytest.approx(min(per_class.values()))
    assert float(w.mean()) == pytest.approx(1.0)
    drawn = torch.multinomial(w, 20000, replacement=True, generator=torch.Generator().manual_seed(0))
    share_other = float((torch.from_numpy(labels)[drawn] == 12).float().mean())
    assert 0.22 < share_other < 0.28  # 1/4 of the draws, not the 63% "other" has in the data
