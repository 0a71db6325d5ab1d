"""Which image payloads the demo opens: only a file Gradio received from an upload, or inline ``data:`` bytes.

A path the client names is refused with one message that says nothing about the server's files;
a ``data:`` URL is held to the upload size limit. ``check_image`` then decodes through
``cats.images.load_image`` (one size limit, one message, shared with the web client).
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
from collections.abc import Callable
from pathlib import Path

import gradio as gr
from checks import echo, refuse
from PIL import Image

from cats.images import ImageInputError, load_image

MAX_UPLOAD_MB = 25  # the app's max_file_size (app.launch_kwargs); inline data: images are held to the same size
FILE_META = {"_type": "gradio.FileData"}


def refused_file(name: str) -> gr.Error:
    """The one answer for every path this app will not open: it says nothing about the path."""
    return refuse(f"{name}: this app only opens images uploaded to it; upload the image (in the page, or "
                  "gradio_client's handle_file(path)) or send it inline as a data: URL")


def upload_folder() -> Path:
    """Where Gradio stores the files clients upload (GRADIO_TEMP_DIR, else <tmp>/gradio)."""
    from gradio.utils import get_upload_folder  # imported here: keeps gradio out of the upload rules' tests

    return Path(get_upload_folder())


def uploaded_path(path, name: str, is_uploaded: Callable[[str], bool] | None = None) -> Path:
    """``path`` if it is a regular file Gradio stored from an upload, else the refused-file error.

    Inside the upload folder, reached without a symlink or ``..`` anywhere, and (when the app knows
    its uploads) one of the files Gradio received. Whether the path exists is never told apart
    from any other refusal.
    """
    if not isinstance(path, str) or not path or "\x00" in path or "://" in path or ".." in Path(path).parts:
        raise refused_file(name)
    candidate = Path(os.path.abspath(path))
    root = Path(os.path.abspath(upload_folder()))
    try:
        relative = candidate.relative_to(root)
        real_root = Path(os.path.realpath(root))
        real = Path(os.path.realpath(candidate))
        # A symlink anywhere below the upload folder changes the resolved path.
        same = real == real_root / relative
        regular = same and stat.S_ISREG(os.lstat(real).st_mode)
    except (ValueError, OSError):  # outside the folder, or missing / unreadable: all the same refusal
        raise refused_file(name) from None
    if not regular or (is_uploaded is not None and not is_uploaded(str(candidate))):
        raise refused_file(name)
    return real


def image_source(payload, name: str = "image", is_uploaded: Callable[[str], bool] | None = None,
                 decode: bool = True) -> Path | bytes | None:
    """A raw image payload -> the uploaded file's path, or the inline data's bytes (None if decode=False).

    Accepted: a Gradio file payload ({"path": ..., "meta": {"_type": "gradio.FileData"}}) of a file
    Gradio received, or a ``data:`` URL (alone, or as the payload's "url" with no path). Anything
    else is refused with a message naming the input.
    """
    if payload is None or payload == "" or payload == {}:
        raise refuse(f"{name}: no image; upload, paste or take a photo first")
    url = payload.get("url") if isinstance(payload, dict) else payload
    path = payload.get("path") if isinstance(payload, dict) else None
    if isinstance(url, str) and url.startswith("data:") and path in (None, ""):
        return _inline_bytes(url, name) if decode else None
    if isinstance(payload, str) or (isinstance(payload, dict) and path not in (None, "")):
        if not isinstance(payload, dict) or payload.get("meta") != FILE_META:
            raise refused_file(name)  # a bare path, or a file dict Gradio did not check
        return uploaded_path(path, name, is_uploaded)
    raise refuse(f"{name} must be an uploaded image (gradio_client: handle_file(path)) or a data: URL "
                 f"with base64 image bytes; got {echo(payload)}")


def _inline_bytes(url: str, name: str) -> bytes:
    header, sep, data = url.partition(",")
    if not sep or not header.endswith(";base64"):
        raise refuse(f"{name}: a data: URL must look like data:image/png;base64,BASE64; got {echo(url)}")
    if len(data) > MAX_UPLOAD_MB * 1024 * 1024 * 4 // 3 + 4:
        raise refuse(f"{name}: the inline image is over the {MAX_UPLOAD_MB} MB upload limit")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise refuse(f"{name}: the data: URL's payload is not valid base64; got {echo(url)}") from None


def check_image(payload, name: str = "image", is_uploaded: Callable[[str], bool] | None = None) -> Image.Image:
    """A raw Gradio image payload -> upright RGB PIL image (image_source rules, then cats.images.load_image)."""
    source = image_source(payload, name, is_uploaded)
    try:
        return load_image(source)
    except ImageInputError as exc:
        raise refuse(f"cannot use this upload: {exc}") from None
