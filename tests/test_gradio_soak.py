"""The soak benchmark's quick run: good requests all served, bad ones all refused cleanly, nothing grows.

It starts the real app (``python spaces_demo/app.py``, bundled weights, the default backend) in a
subprocess with its own temp folder and Gradio cache and a 4 s cache TTL, so a file that outlives
one clean-up period is a leak.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.timeout(600)


def test_quick_soak_serves_refuses_and_does_not_grow():
    from cats.benchmarks import gradio_soak

    r = gradio_soak.run(quick=True)
    assert r["good"] + r["bad"] == 40 and r["good"] > 5 and r["bad"] > 5
    assert r["good_failed"] == 0 and r["bad_not_refused_cleanly"] == 0, r
    assert r["tracebacks_in_log"] == 0  # refusals are one log line each, not tracebacks
    # Everything a request wrote (uploads, results, downloads) is gone after one clean-up period.
    assert r["cache_files_growth"] <= 1 and r["cache_bytes_growth"] <= 20_000, r["cache_files_stayed"]
    assert r["settled"]["cache_dirs"] <= r["before"]["cache_dirs"] + 4  # the empty folders are pruned too
    assert r["temp_files_growth"] <= 0 and r["temp_bytes_growth"] <= 0
    assert not [name for name in r["temp_left_after_exit"] if name.startswith("tiny-cats-")]
    assert r["rss_growth_mb"] <= 50
    assert r["stream"]["updates"] <= 5  # previews every k-th step plus the final images, not one per step


def test_prune_removes_only_folders_empty_for_longer_than_the_age(tmp_path):
    import importlib.util
    import os
    import time
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "tiny_cats_demo_guard", Path(__file__).resolve().parents[1] / "spaces_demo" / "guard.py")
    guard = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(guard)

    old = time.time() - 60
    for name in ("old_empty", "old_full", "young_empty"):
        (tmp_path / name).mkdir()
    (tmp_path / "old_full" / "img.png").write_bytes(b"x")
    (tmp_path / "loose.png").write_bytes(b"x")  # a file at the top is not a folder to prune
    for name in ("old_empty", "old_full"):
        os.utime(tmp_path / name, (old, old))
    assert guard.prune_empty_dirs(tmp_path, older_than_s=10) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loose.png", "old_full", "young_empty"]
    assert guard.prune_empty_dirs(tmp_path / "missing", older_than_s=10) == 0
