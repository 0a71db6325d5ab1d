"""The soak benchmark's quick run: good requests all served, bad ones all refused cleanly, nothing grows.

It starts the real app (``python spaces_demo/app.py``, bundled weights, the default backend) in a
subprocess with its own temp folder and Gradio cache and a 10 s cache TTL, so a file that outlives
one clean-up period is a leak.
"""

from __future__ import annotations

import os

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
    assert r["stream"]["updates"] <= 7  # a first answer, previews every k-th step and the images, not one per step
    assert r["client_downloads_left"] == 0  # the soak removes what its client fetched
    # the largest picture the size limit accepts costs bounded memory; the 1-row strip is refused
    assert r["largest_image"]["strip_refused"], r["largest_image"]
    assert r["largest_image"]["peak_rss_growth_mb"] < 600, r["largest_image"]


def _guard():
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "tiny_cats_demo_guard", Path(__file__).resolve().parents[1] / "spaces_demo" / "guard.py")
    guard = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(guard)
    return guard


def test_prune_removes_old_files_and_old_empty_folders_only(tmp_path):
    """What a killed instance left (files older than the age) goes; a young file or folder stays."""
    import os
    import time

    guard = _guard()
    old = time.time() - 60
    for name in ("old_empty", "old_full", "young_empty", "young_full"):
        (tmp_path / name).mkdir()
    (tmp_path / "old_full" / "img.png").write_bytes(b"x")
    (tmp_path / "young_full" / "img.png").write_bytes(b"x")
    (tmp_path / "loose.png").write_bytes(b"x")
    for path in ("old_full/img.png", "loose.png", "old_empty", "old_full"):
        os.utime(tmp_path / path, (old, old))
    assert guard.prune_cache(tmp_path, older_than_s=10) == 3  # old_full's file, loose.png, old_empty
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old_full", "young_empty", "young_full"]
    os.utime(tmp_path / "old_full", (old, old))  # its file's removal touched it: empty and old again
    assert guard.prune_cache(tmp_path, older_than_s=10) == 1
    assert guard.prune_cache(tmp_path / "missing", older_than_s=10) == 0


def test_a_start_removes_the_download_folders_of_dead_instances(tmp_path):
    import subprocess
    import sys

    guard = _guard()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    gone = tmp_path / f"tiny-cats-downloads-{dead.stdout.strip()}-abc"
    mine = tmp_path / f"tiny-cats-downloads-{os.getpid()}-def"
    for path in (gone, mine):
        (path / "req").mkdir(parents=True)
    assert guard.remove_dead_downloads(tmp_path) == 1
    assert not gone.exists() and mine.exists()
