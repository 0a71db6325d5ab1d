"""The equal-budget recipe ablation (python -m cats.benchmarks.recipes --quick): trains, evaluates, tabulates."""

import json

import pytest

from cats.benchmarks import recipes


def test_quick_ablation_trains_each_variant_and_writes_the_table(tmp_path):
    out = tmp_path / "recipes"
    recipes.main(["--quick", "--out", str(out), "--data-root", str(tmp_path / "data")])
    saved = json.loads((out / "recipes.json").read_text())
    assert set(saved["rows"]) == {"base", "v"}
    for name, row in saved["rows"].items():
        assert row["step"] > 0 and row["images"] == row["step"] * recipes.QUICK["batch_size"]
        assert "at least 500" in row["quality"]["note"]  # 24 samples: no FID is printed
        assert row["quality"]["memorisation"]["num_fake"] == 24
        assert (out / name / "sample_sheet.png").is_file()
        config = json.loads((out / name / "config.json").read_text())
        assert config["preset"] == "micro" and config["minutes"] == pytest.approx(0.05)
    # each variant's settings reached its run
    assert json.loads((out / "v" / "config.json").read_text())["prediction_type"] == "v"
    assert json.loads((out / "base" / "config.json").read_text())["prediction_type"] == "x"
    table = (out / "recipes.md").read_text()
    assert saved["command"] in table and "| base |" in table and "| v |" in table

    # the training curve reads the same run's checkpoints back with their EMA weights
    from cats.benchmarks import curve

    curve.main(["--run", str(out / "base"), "--quick"])
    points = json.loads((out / "base" / "curve.json").read_text())
    assert [p["step"] for p in points] == [saved["rows"]["base"]["step"]]
    # the final checkpoint's EMA weights are the saved pipeline's: the same samples, the same figures
    assert points[0]["accuracy"] == saved["rows"]["base"]["accuracy"]
    assert points[0]["quality"]["memorisation"] == saved["rows"]["base"]["quality"]["memorisation"]
    with pytest.raises(ValueError, match="no checkpoint for steps \\[1\\]"):
        curve.run(out / "base", 24, steps=[1])
    # a run still training has no pipeline yet: its config.json gives the model, the same figures follow
    import shutil

    shutil.rmtree(out / "base" / "pipeline")
    again = curve.run(out / "base", 24)
    assert again[0]["accuracy"] == points[0]["accuracy"]
    assert again[0]["quality"]["memorisation"] == points[0]["quality"]["memorisation"]


def test_bad_arguments_are_refused_before_any_training(tmp_path):
    with pytest.raises(ValueError, match="unknown variants \\['nope'\\]"):
        recipes.run(1, ["base", "nope"], 1, 600, tmp_path / "a")
    (tmp_path / "b" / "base").mkdir(parents=True)
    with pytest.raises(FileExistsError, match="already holds runs \\['base'\\]"):
        recipes.run(1, ["base"], 1, 600, tmp_path / "b")
