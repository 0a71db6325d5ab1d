"""What a request must look like before Gradio's own processing touches it, and the cache's upkeep.

Gradio checks an input's raw value in ``Blocks.preprocess_data`` even for events registered with
``preprocess=False``: too few values, a file payload that is not a file (``""``, ``123``), a path
outside its upload folder. Its refusals are written for developers — component reprs, Pydantic
text with a URL, absolute server paths — and a file dict without its ``meta`` marker is passed
through unchecked. ``DemoBlocks`` runs the app's own checks first, so every refusal is a message in
the app's words (``handlers.refuse``), and an image input only ever reaches a handler as a file
Gradio received from a client upload or as inline ``data:`` bytes.

``cache_lifespan`` removes the empty folders Gradio's ``delete_cache`` leaves behind (it deletes
files, not the one folder per file it made).
"""

from __future__ import annotations

import asyncio
import errno
import os
import time
from contextlib import asynccontextmanager
from pathlib import Path

import gradio as gr
from handlers import image_source, refuse


class DemoBlocks(gr.Blocks):
    """gr.Blocks whose requests are checked by the app before Gradio processes them."""

    def was_uploaded(self, path: str) -> bool:
        """Whether Gradio received ``path`` through its upload route (and has not deleted it yet)."""
        return os.path.abspath(path) in {os.path.abspath(p) for p in self.upload_file_set}

    def validate_inputs(self, block_fn, inputs):
        wanted = block_fn.inputs
        if len(inputs) < len(wanted):
            names = ", ".join(_input_name(b) for b in wanted)
            raise refuse(f"/{block_fn.api_name or block_fn.name} takes {len(wanted)} inputs ({names}); "
                         f"got {len(inputs)}")
        super().validate_inputs(block_fn, inputs)

    async def preprocess_data(self, block_fn, inputs, state, explicit_call=False):
        inputs = list(inputs)
        self.validate_inputs(block_fn, inputs)
        inline = {}
        for i, block in enumerate(block_fn.inputs):
            if isinstance(block, gr.Image) and i < len(inputs):
                name = _input_name(block)
                if inputs[i] is None:
                    continue
                if image_source(inputs[i], name, self.was_uploaded, decode=False) is None:
                    # Inline data: Gradio's file handling has nothing to do; the handler decodes it.
                    inline[i], inputs[i] = inputs[i], None
        processed = await super().preprocess_data(block_fn, inputs, state, explicit_call)
        for i, raw in inline.items():
            processed[i] = raw
        return processed


def _input_name(block) -> str:
    """How refusals name an input: the app's ``input_name`` for it, else its label, in lower case."""
    return getattr(block, "input_name", None) or str(getattr(block, "label", None) or type(block).__name__).lower()


def prune_empty_dirs(root: Path, older_than_s: float) -> int:
    """Remove empty folders below ``root`` last changed more than ``older_than_s`` ago -> how many.

    The age keeps a folder Gradio has just made (and is about to write into) from being removed.
    """
    removed, now = 0, time.time()
    if not root.is_dir():
        return 0
    for entry in os.scandir(root):
        if not entry.is_dir(follow_symlinks=False):
            continue
        try:
            if now - entry.stat(follow_symlinks=False).st_mtime > older_than_s and not any(os.scandir(entry.path)):
                os.rmdir(entry.path)
                removed += 1
        except FileNotFoundError:  # removed meanwhile
            continue
        except OSError as exc:  # not empty after all (a file arrived between the two calls)
            if exc.errno != errno.ENOTEMPTY:
                raise
    return removed


def cache_lifespan(root: Path, every_s: float, older_than_s: float):
    """A FastAPI lifespan that prunes ``root``'s empty folders every ``every_s`` seconds while the app runs."""

    @asynccontextmanager
    async def lifespan(app):
        async def loop():
            while True:
                await asyncio.sleep(every_s)
                await asyncio.to_thread(prune_empty_dirs, root, older_than_s)

        task = asyncio.create_task(loop())
        try:
            yield
        finally:
            task.cancel()

    return lifespan
