"""The breed pictures of the picker: one cat per breed at the default settings, drawn in the background.

They are drawn by a copy of the default backend (its own pipeline and lock), so the visitors'
first requests never wait behind them; the page shows the breed names until they are ready.
"""

from __future__ import annotations

import logging
import threading

from backends import Backend
from PIL import Image

from cats.breeds import BREEDS

SEED = 0
log = logging.getLogger("tiny_cats.demo")


class Thumbnails:
    """Start drawing at construction; ``get(timeout)`` -> the 12 images, or None if not ready in time."""

    def __init__(self, backend: Backend) -> None:
        self._images: list[Image.Image] | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._draw, args=(backend.copy(),), daemon=True,
                                        name="tiny-cats-thumbnails")
        self._thread.start()

    def _draw(self, backend: Backend) -> None:
        facts = backend.facts
        try:  # every breed in one batch, at the settings a visitor's first Generate uses
            self._images = backend.generate(list(BREEDS), facts.steps, facts.guidance, "euler", SEED, len(BREEDS),
                                            autoguidance=facts.autoguidance)
        except Exception:  # the picker keeps its names; the demo works without the pictures
            log.exception("the breed pictures could not be drawn")
        finally:
            self._done.set()

    def get(self, timeout: float | None = None) -> list[Image.Image] | None:
        self._done.wait(timeout)
        return self._images
