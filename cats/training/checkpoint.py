"""Checkpoints: atomic, self-describing, verified on load.

Layout: ``RUN_DIR/checkpoints/step_00001000/`` holding ``state.pt`` (config, step, model,
optimizer, LR scheduler, EMA, RNG states) and ``complete.json`` (step, sha256 and size of
``state.pt``). A checkpoint is written into ``.tmp-step_...`` first, the marker last, and the
directory is then renamed into place, so a crash leaves either a whole checkpoint or a ``.tmp``
directory that is ignored and cleaned up. On resume, a checkpoint that is unreadable, has no marker
or does not match its hash is skipped with a warning and the previous one is used.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
from pathlib import Path

import numpy as np
import torch

from cats.files import sha256

log = logging.getLogger("cats.train")

FORMAT = "tiny-cats-train"
VERSION = 1
STATE_FILE = "state.pt"
MARKER_FILE = "complete.json"
PREFIX = "step_"


class CheckpointMismatchError(ValueError):
    """The newest checkpoint was made for a different model than the one requested."""


def checkpoint_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / "checkpoints"


def rng_states() -> dict:
    """Every global RNG state, for completeness: the loop itself draws from per-step seeded generators."""
    np_state = np.random.get_state()
    states = {
        "python": random.getstate(),
        "numpy": [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]), float(np_state[4])],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: dict) -> None:
    random.setstate(_tuplify(states["python"]))
    name, keys, pos, has_gauss, cached = states["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available() and len(states["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(states["cuda"])


def _tuplify(value):
    return tuple(_tuplify(v) for v in value) if isinstance(value, (list, tuple)) else value


def save_checkpoint(run_dir: str | Path, step: int, state: dict, keep: int) -> Path:
    """Write ``state`` (a dict of tensors and plain values) as the checkpoint of ``step``; keep the newest ``keep``."""
    root = checkpoint_dir(run_dir)
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"{PREFIX}{step:08d}"
    tmp = root / f".tmp-{final.name}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    payload = {"format": FORMAT, "version": VERSION, "step": step, **state}
    state_path = tmp / STATE_FILE
    with open(state_path, "wb") as fh:
        torch.save(payload, fh)
        fh.flush()
        os.fsync(fh.fileno())
    marker = {"step": step, "sha256": sha256(state_path), "bytes": state_path.stat().st_size}
    (tmp / MARKER_FILE).write_text(json.dumps(marker) + "\n")  # the marker is written last
    if final.exists():  # the same step saved again (e.g. a final save right after a periodic one)
        shutil.rmtree(final)
    os.replace(tmp, final)
    _prune(root, keep)
    return final


def _prune(root: Path, keep: int) -> None:
    for stale in root.glob(".tmp-*"):
        if not stale.name.endswith(f"-{os.getpid()}"):
            shutil.rmtree(stale, ignore_errors=True)
    complete = [p for p in list_checkpoints(root.parent) if (p / MARKER_FILE).is_file()]
    for old in complete[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


def list_checkpoints(run_dir: str | Path) -> list[Path]:
    """Checkpoint directories of a run, oldest first (complete or not)."""
    root = checkpoint_dir(run_dir)
    if not root.is_dir():
        return []
    found = []
    for path in root.iterdir():
        if path.is_dir() and path.name.startswith(PREFIX) and path.name[len(PREFIX):].isdigit():
            found.append((int(path.name[len(PREFIX):]), path))
    return [path for _, path in sorted(found)]


def _read_verified(path: Path) -> dict:
    """Load one checkpoint directory or raise ValueError saying what is wrong with it."""
    marker_path = path / MARKER_FILE
    if not marker_path.is_file():
        raise ValueError("no completion marker (the write was interrupted)")
    try:
        marker = json.loads(marker_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"unreadable completion marker ({exc})") from exc
    state_path = path / STATE_FILE
    if not state_path.is_file():
        raise ValueError(f"{STATE_FILE} is missing")
    if sha256(state_path) != marker.get("sha256"):
        raise ValueError(f"{STATE_FILE} does not match the sha256 in its marker (corrupted)")
    try:
        state = torch.load(state_path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for a bad file; we report and skip it
        raise ValueError(f"{STATE_FILE} could not be loaded ({type(exc).__name__}: {exc})") from exc
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} checkpoint")
    return state


def load_latest(run_dir: str | Path) -> tuple[Path, dict] | None:
    """The newest checkpoint that verifies, skipping (with a warning) any that do not; None if there is none."""
    for path in reversed(list_checkpoints(run_dir)):
        try:
            return path, _read_verified(path)
        except ValueError as exc:
            log.warning("skipping checkpoint %s: %s; trying the previous one", path, exc)
    return None


def check_compatible(saved_config: dict, requested: dict, path: Path) -> None:
    """Refuse to resume a checkpoint made for another model, naming both."""
    saved = {key: saved_config.get(key) for key in requested}
    if saved != requested:
        diffs = ", ".join(f"{k}: checkpoint {saved[k]!r} vs requested {requested[k]!r}"
                          for k in requested if saved[k] != requested[k])
        raise CheckpointMismatchError(
            f"cannot resume from {path}: it was made for a different model ({diffs}). "
            f"Pass the checkpoint's settings, or choose a new --out directory to start a new run.")
