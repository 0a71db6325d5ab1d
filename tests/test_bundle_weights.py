"""scripts/bundle_weights.py: a guide network is added with its defaults and survives a generator's replacement."""

import importlib.util
import json

import pytest
from test_export import make_test_pipeline
from test_guidance import _guide

from cats.paths import ROOT
from cats.pipeline import CatsPipeline


@pytest.fixture()
def bundler(monkeypatch, tmp_path):
    spec = importlib.util.spec_from_file_location("bundle_weights", ROOT / "scripts" / "bundle_weights.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "bundled_pipeline", lambda name: tmp_path / "weights" / name)
    return module


def test_a_guide_is_bundled_with_its_defaults_and_kept_when_the_generator_changes(bundler, tmp_path):
    pipe = make_test_pipeline()
    pipe.save_pretrained(tmp_path / "weights" / "b")
    _guide().save_pretrained(tmp_path / "guide")
    bundler.main(["--guide", str(tmp_path / "guide"), "--autoguidance", "2.5", "--guidance", "1.5", "--interval",
                  "0.2-0.75", "--name", "b"])
    index = json.loads((tmp_path / "weights" / "b" / "model_index.json").read_text())
    assert index["default_autoguidance_scale"] == 2.5 and index["default_guidance_scale"] == 1.5
    assert index["default_guidance_interval"] == [0.2, 0.75]
    loaded = CatsPipeline.from_pretrained(tmp_path / "weights" / "b")
    assert loaded.guide_transformer is not None and loaded.defaults("quality").autoguidance == 2.5

    make_test_pipeline().save_pretrained(tmp_path / "run" / "pipeline")  # a generator run's output (CFG 3, no guide)
    bundler.main(["--generator", str(tmp_path / "run" / "pipeline"), "--name", "b"])
    index = json.loads((tmp_path / "weights" / "b" / "model_index.json").read_text())
    assert index["default_guidance_scale"] == 1.5, "a new generator keeps the guided bundle's defaults"
    pipe.classifier.save_pretrained(tmp_path / "clf" / "classifier")
    bundler.main(["--generator", str(tmp_path / "run" / "pipeline"), "--classifier", str(tmp_path / "clf" / "classifier"),
                  "--name", "b"])  # a rebuild from both runs keeps the guide too
    again = CatsPipeline.from_pretrained(tmp_path / "weights" / "b")
    assert again.guide_transformer is not None and again.config.default_autoguidance_scale == 2.5
    assert again.defaults("quality").interval == (0.2, 0.75)
    with pytest.raises(SystemExit):
        bundler.main(["--guide", str(tmp_path / "guide"), "--autoguidance", "2", "--interval", "0.9-0.1", "--name", "b"])
    assert CatsPipeline.from_pretrained(tmp_path / "weights" / "b").defaults("quality").interval == (0.2, 0.75), (
        "a refused interval leaves the bundle as it was")
    assert json.loads((tmp_path / "weights" / "b" / "training.json").read_text())["guide"]["source"] == str(
        tmp_path / "guide")


@pytest.mark.parametrize("argv, says", [(["--guide", "g"], "--guide needs --autoguidance"),
                                        (["--autoguidance", "2"], "set the defaults of a --guide")])
def test_guide_flags_that_do_not_go_together_are_refused(bundler, argv, says, capsys):
    with pytest.raises(SystemExit):
        bundler.main([*argv, "--name", "b"])
    assert says in capsys.readouterr().err
