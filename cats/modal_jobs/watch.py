"""Run a child process; while the trainer runs, report each new complete checkpoint to a callback."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from cats.modal_jobs.spec import JobError
from cats.paths import ROOT


def complete_checkpoints(task_dir: Path) -> list[int]:
    """Steps of the complete checkpoints (marker present) of one ``cats.training`` run dir, oldest first."""
    # imported here: Modal side only: `modal run` launches from a laptop without torch
    from cats.training.checkpoint import MARKER_FILE, list_checkpoints

    steps = []
    for path in list_checkpoints(task_dir):
        try:
            steps.append(int(json.loads((path / MARKER_FILE).read_text())["step"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not complete (yet): the trainer writes the marker last
    return sorted(steps)


def run_watched(cmd: list[str], task_dir: Path, on_checkpoint: Callable[[int], None],
                poll_seconds: float = 10.0, cwd: Path = ROOT) -> list[int]:
    """Run the trainer ``cmd``; each poll that finds new complete checkpoints calls ``on_checkpoint(newest step)``.

    Returns the steps reported. If the callback raises (a failed Volume commit; a test simulating
    preemption) or this process is interrupted, the trainer's process group (accelerate's workers
    included) is killed with SIGKILL and the error propagates, so Modal retries the function.
    """
    seen = set(complete_checkpoints(task_dir))
    reported: list[int] = []
    proc = subprocess.Popen(cmd, cwd=cwd, env=child_env(cwd), start_new_session=True)
    try:
        while True:
            code = proc.poll()  # read before scanning, so a checkpoint written just before exit is still reported
            new = sorted(set(complete_checkpoints(task_dir)) - seen)
            if new:
                seen.update(new)
                on_checkpoint(new[-1])
                reported.append(new[-1])
            if code is not None:
                break
            time.sleep(poll_seconds)
    except BaseException:
        kill_group(proc)
        raise
    if code != 0:
        raise JobError(f"training failed (exit code {code}); the command was: {shlex.join(cmd)}")
    return reported


def run_logged(cmd: list[str], what: str, cwd: Path = ROOT) -> None:
    """Run one stage's command with its output in the job's log; a non-zero exit raises JobError."""
    print(f"[tiny-cats] {what}: {shlex.join(cmd)}", flush=True)
    code = subprocess.run(cmd, cwd=cwd, env=child_env(cwd)).returncode
    if code != 0:
        raise JobError(f"{what} failed (exit code {code}); the command was: {shlex.join(cmd)}")


def kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def child_env(cwd: Path) -> dict[str, str]:
    """The current environment with ``cwd`` (where ``cats`` lives) first on PYTHONPATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(cwd), env.get("PYTHONPATH", "")) if p)
    return env
