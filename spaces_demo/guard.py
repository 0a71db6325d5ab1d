"""What a request must look like before Gradio's own processing touches it, and the cache's upkeep.

Gradio checks an input's raw value in ``Blocks.preprocess_data`` even for events registered with
``preprocess=False``: too few values, a file payload that is not a file (``""``, ``123``), a path
outside its upload folder. Its refusals are written for developers — component reprs, Pydantic
text with a URL, absolute server paths — and a file dict without its ``meta`` marker is passed
through unchecked. ``DemoBlocks`` runs the app's own checks first, so every refusal is a message in
the app's words (``handlers.refuse``), and an image input only ever reaches a handler as a file
Gradio received from a client upload or as inline ``data:`` bytes.

The private UI events (the breed picker, the mode switch, the page load) get the same treatment:
event data the page never sends is refused in the app's words with one log line, not Gradio's
wording or a traceback.

``cache_lifespan`` keeps Gradio's cache folder clean: at start and then periodically it removes
files older than the cache's age limit — also those an instance killed with ``kill -9`` left,
which Gradio's own ``delete_cache`` never deletes (it only knows its own instance's files) — and
the empty folders ``delete_cache`` leaves behind. ``remove_dead_downloads`` removes the download
folders of demo processes that no longer run.
"""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import tempfile
import time
from contextlib import asynccontextmanager
from pathlib import Path

import gradio as gr
from checks import refuse
from handlers import DOWNLOAD_PREFIX
from uploads import image_source


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

    async def process_api(self, block_fn, inputs, *args, **kwargs):
        fn = self.fns[block_fn] if isinstance(block_fn, int) else block_fn
        try:
            return await super().process_api(block_fn, inputs, *args, **kwargs)
        except gr.Error:
            raise
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            if fn.api_visibility != "private":  # a public endpoint's faults keep their traceback
                raise
            # A private UI event only ever gets what the page sends; anything else is a hand-made request.
            raise refuse(f"this request is not one the page sends ({type(exc).__name__})") from None


def _input_name(block) -> str:
    """How refusals name an input: the app's ``input_name`` for it, else its label, in lower case."""
    return getattr(block, "input_name", None) or str(getattr(block, "label", None) or type(block).__name__).lower()


def prune_cache(root: Path, older_than_s: float) -> int:
    """Remove files below ``root`` older than ``older_than_s``, then folders left empty -> how many entries.

    The age keeps a folder Gradio has just made (and is about to write into) from being removed.
    """
    removed, now = 0, time.time()
    if not root.is_dir():
        return 0
    for entry in os.scandir(root):
        try:
            if entry.is_dir(follow_symlinks=False):
                for inner in os.scandir(entry.path):
                    if inner.is_file(follow_symlinks=False) and now - inner.stat(follow_symlinks=False).st_mtime > older_than_s:
                        os.unlink(inner.path)
                        removed += 1
                if now - entry.stat(follow_symlinks=False).st_mtime > older_than_s and not any(os.scandir(entry.path)):
                    os.rmdir(entry.path)
                    removed += 1
            elif entry.is_file(follow_symlinks=False) and now - entry.stat(follow_symlinks=False).st_mtime > older_than_s:
                os.unlink(entry.path)
                removed += 1
        except FileNotFoundError:  # removed meanwhile
            continue
        except OSError as exc:  # not empty after all (a file arrived between the two calls)
            if exc.errno != errno.ENOTEMPTY:
                raise
    return removed


def remove_dead_downloads(folder: Path | None = None) -> int:
    """Remove the download folders (handlers.DOWNLOAD_PREFIX + pid) of demo processes that no longer run."""
    removed = 0
    for path in Path(folder or tempfile.gettempdir()).glob(f"{DOWNLOAD_PREFIX}*"):
        pid = path.name[len(DOWNLOAD_PREFIX):].split("-")[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def cache_lifespan(root: Path, every_s: float, older_than_s: float):
    """A FastAPI lifespan that cleans ``root`` (prune_cache) at start and every ``every_s`` seconds."""

    @asynccontextmanager
    async def lifespan(app):
        async def loop():
            while True:
                await asyncio.to_thread(prune_cache, root, older_than_s)
                await asyncio.sleep(every_s)

        task = asyncio.create_task(loop())
        try:
            yield
        finally:
            task.cancel()

    return lifespan
