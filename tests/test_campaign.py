"""The generator campaign: blocks that continue one run, the bundling rule, the log's table, the curve fit."""

from __future__ import annotations

import argparse
import json
import math

import pytest

from cats.benchmarks import campaign
from cats.training.cli import config_from_args
from cats.training.loop import Trainer


def test_fit_recovers_a_power_law_and_extrapolates():
    points = [(n, 900.0 * (n / 1e5) ** -0.3) for n in (1e5, 2e5, 4e5, 8e5)]
    slope, intercept = campaign.fit(points)
    assert slope == pytest.approx(-0.3, abs=1e-9)
    assert campaign.images_for(900.0 * 10 ** -0.3, slope, intercept) == pytest.approx(1e6, rel=1e-6)
    assert math.isinf(campaign.images_for(10.0, 0.1, 5.0)), "a curve that does not fall never reaches a target"
    with pytest.raises(ValueError, match="at least two"):
        campaign.fit([(1, 2.0)])


def test_a_block_replaces_the_bundled_weights_only_with_a_lower_fid_on_the_same_footing():
    bundled = {"quality": {"fid": 193.0, "num_fake": 1200}}
    assert campaign.beats({"quality": {"fid": 180.0, "num_fake": 1200}}, bundled)
    assert not campaign.beats({"quality": {"fid": 195.0, "num_fake": 1200}}, bundled)
    assert not campaign.beats({"quality": {"fid": 150.0, "num_fake": 600}}, bundled), "fewer samples: not comparable"
    guided = {"quality": {"fid": 90.0, "num_fake": 1200}, "cfg_only": {"quality": {"fid": 116.0, "num_fake": 1200}}}
    assert campaign.beats({"quality": {"fid": 110.0, "num_fake": 1200}}, guided), (
        "a block's run has no guide: it is compared with the bundle's classifier-free figures, not its guided ones")


def test_table_is_rewritten_between_its_markers_only(tmp_path):
    page = tmp_path / "campaign.md"
    page.write_text(f"# Log\n\nprose before\n\n{campaign.TABLE_START}\nold\n{campaign.TABLE_END}\n\nprose after\n")
    rows = [{"date": "2026-12-02", "images": 438656, "cpu_minutes": 66, "fid": 193.04, "fid_floor": 18.9,
             "precision": 0.0, "recall": 0.019, "memo_ratio_q05": 1.14, "memo_closer_share": 0.0, "accuracy": 0.992,
             "min_breed_accuracy": 0.92, "bundled": True, "change": "the bundled weights"},
            {"date": "2026-12-07", "images": 1965824, "cpu_minutes": 120, "fid": 116.1, "fid_floor": 18.9,
             "precision": 0.005, "recall": 0.246, "memo_ratio_q05": 1.08, "memo_closer_share": 0.0, "accuracy": 0.997,
             "min_breed_accuracy": 0.97, "judge": 0.834, "judge_min": 0.2, "bundled": False, "change": "block"}]
    campaign.write_table(rows, page)
    text = page.read_text()
    assert text.startswith("# Log\n\nprose before") and text.endswith("prose after\n") and "old" not in text
    assert "| 0 | 2026-12-02 | 438,656 | 66 | 193.0 (18.9) | 0.000 / 0.019 | 1.14 / 0.0% | - (-) | 99.2% (92%) | yes |" in text
    assert "| 1 | 2026-12-07 | 1,965,824 | 120 | 116.1 (18.9) | 0.005 / 0.246 | 1.08 / 0.0% | 83.4% (20%) | 99.7% (97%) | no |" in text
    (tmp_path / "bare.md").write_text("no markers")
    with pytest.raises(ValueError, match="lacks the markers"):
        campaign.write_table(rows, tmp_path / "bare.md")


def test_blocks_start_from_the_given_weights_then_resume_and_count_images(tmp_path):
    data = tmp_path / "data"
    teacher = Trainer(config_from_args(["generator", "--preset", "micro", "--num-per-class", "4", "--data-root",
                                        str(data), "--out", str(tmp_path / "t"), "--steps", "2", "--sample-every",
                                        "0", "--eval-every", "0"]))
    teacher.run()
    log = tmp_path / "campaign.json"
    log.write_text(json.dumps([{"images": 1000, "bundled": True, "date": "x"}]))
    run = tmp_path / "run"
    args = argparse.Namespace(run=run, init_from=str(tmp_path / "t" / "pipeline"), minutes=0.05, threads=1,
                              change=None, log=log, quick=True)
    first = campaign.block(args)
    start = json.loads((run / campaign.START_FILE).read_text())
    assert start == {"images": 1000, "init_from": str(tmp_path / "t" / "pipeline")}
    assert json.loads((run / "config.json").read_text())["init_from"] == args.init_from
    assert first["images"] > 1000 and (first["images"] - 1000) % 8 == 0, "start images + steps x batch 8"
    assert "started from" in first["change"] and first["bundled"] is False
    second = campaign.block(args)
    assert second["change"] == "resumed from the run's checkpoint"
    assert second["images"] > first["images"], "the second block continues the first one's steps"
    assert json.loads(log.read_text()) == [{"images": 1000, "bundled": True, "date": "x"}], "--quick logs nothing"
