"""What a run reports: TensorBoard scalars and images under RUN_DIR/logs, sample grids as PNG under
RUN_DIR/samples, and a tqdm progress bar (loss, learning rate, images/s). Main process only.

The logged ``train/loss`` is the loss that was back-propagated: each step's mean over its
micro-batches (and processes), averaged over the steps since the previous log line.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from PIL import Image
from tqdm.auto import tqdm

log = logging.getLogger("cats.train")


class _Progress:
    def __init__(self, enabled: bool, initial: int, total: int | None):
        self.bar = tqdm(initial=initial, total=total, disable=None if enabled else True, dynamic_ncols=True,
                        unit="step", desc="train")
        self.images_per_s = float("nan")

    def update(self, n: int, loss: float, lr: float) -> None:
        self.bar.set_postfix({"loss": f"{loss:.4f}", "lr": f"{lr:.2e}", "img/s": f"{self.images_per_s:.1f}"},
                             refresh=False)
        self.bar.update(n)

    def close(self) -> None:
        self.bar.close()


class RunLogger:
    """TensorBoard + PNG + progress bar for one run; every method is a no-op when ``enabled`` is False."""

    def __init__(self, run_dir: Path, enabled: bool):
        self.run_dir = Path(run_dir)
        self.enabled = enabled
        self.writer = None
        self._bar: _Progress | None = None
        if enabled:
            # imported here: tensorboard is slow to load; only the logging process writes
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(log_dir=str(self.run_dir / "logs"))

    def progress(self, initial: int, total: int | None) -> _Progress:
        self._bar = _Progress(self.enabled, initial, total)
        return self._bar

    def train_scalars(self, step: int, window: list, images_per_s: float) -> None:
        """Log the mean loss / last LR / mean grad norm of the steps in ``window`` (StepResults) at ``step``."""
        if not self.enabled or not window:
            return
        loss = sum(r.loss for r in window) / len(window)
        self.writer.add_scalar("train/loss", loss, step)
        self.writer.add_scalar("train/lr", window[-1].lr, step)
        self.writer.add_scalar("train/grad_norm", sum(r.grad_norm for r in window) / len(window), step)
        self.writer.add_scalar("train/images_per_s", images_per_s, step)
        if self._bar is not None:
            self._bar.images_per_s = images_per_s

    def val_scalars(self, step: int, metrics: dict[str, float]) -> None:
        if not self.enabled or not metrics:
            return
        for name, value in metrics.items():
            self.writer.add_scalar(f"val/{name}", value, step)
        log.info("step %d validation: %s", step, ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))

    def sample_grid(self, step: int, grid: torch.Tensor | None) -> Path | None:
        """Save a (3, H, W) uint8 grid as RUN_DIR/samples/step_XXXXXXXX.png and in TensorBoard."""
        if not self.enabled or grid is None:
            return None
        path = self.run_dir / "samples" / f"step_{step:08d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(grid.permute(1, 2, 0).cpu().numpy(), "RGB").save(path)
        self.writer.add_image("samples", grid, step)
        return path

    def close(self) -> None:
        if self.writer is not None:
            self.writer.flush()
            self.writer.close()
