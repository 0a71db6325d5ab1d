"""Turning whatever a user uploads into a clean RGB picture, and pictures into model arrays.

NumPy + Pillow only (no torch): the PyTorch pipeline, the ONNX pipeline and the Gradio app share
it. Rules: any PIL mode (RGBA, LA, P, L, I;16, I, F, CMYK) becomes RGB; EXIF orientation is applied;
animated images use their first frame; huge images are downscaled before anything else, and absurd
ones (a decompression bomb) are refused with a clear error.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PIXELS = 64_000_000  # refuse images above 64 megapixels (a 8000 x 8000 photo is the limit)
WORKING_SIDE = 1024  # downscale anything larger than this on its long side before processing


class ImageInputError(ValueError):
    """The input is not an image we can use; the message says why."""


def _open(source) -> Image.Image:
    if isinstance(source, Image.Image):
        return source
    if isinstance(source, np.ndarray):
        arr = source
        if arr.dtype != np.uint8:
            if np.issubdtype(arr.dtype, np.floating) and arr.size and arr.min() >= 0 and arr.max() <= 1:
                arr = (arr * 255).round()
            arr = np.clip(arr, 0, 255).astype(np.uint8)
        if arr.ndim == 3 and arr.shape[0] in (1, 3, 4) and arr.shape[-1] not in (1, 3, 4):
            arr = arr.transpose(1, 2, 0)  # CHW -> HWC
        if arr.ndim == 3 and arr.shape[-1] == 1:
            arr = arr[..., 0]
        if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] not in (3, 4)):
            raise ImageInputError(f"an image array must be HxW, HxWx3 or HxWx4, got shape {source.shape}")
        return Image.fromarray(arr)
    if isinstance(source, (bytes, bytearray)):
        if len(source) == 0:
            raise ImageInputError("the file is empty (0 bytes): upload a JPEG, PNG, WebP or GIF image")
        data = io.BytesIO(source)
        name = "the uploaded data"
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise ImageInputError(f"no image file at {str(path)!r}")
        if path.stat().st_size == 0:
            raise ImageInputError(f"{path.name} is empty (0 bytes): upload a JPEG, PNG, WebP or GIF image")
        data = path
        name = path.name
    else:
        raise ImageInputError(f"expected a PIL image, a file path, bytes or a numpy array, got {type(source).__name__}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(data)
            img.size  # noqa: B018 - header parsed
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageInputError(f"{name} is too large to be a photo ({exc}); the limit is {MAX_PIXELS:,} pixels") from exc
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ImageInputError(f"{name} is not an image Pillow can read (JPEG, PNG, WebP, GIF, BMP, TIFF)") from exc
    return img


def load_image(source) -> Image.Image:
    """Any image-like input -> an upright RGB PIL image no larger than WORKING_SIDE on its long side.

    Raises ImageInputError with a readable message for empty files, non-images and images over
    MAX_PIXELS.
    """
    img = _open(source)
    w, h = img.size
    if w * h > MAX_PIXELS:
        raise ImageInputError(f"image is {w}x{h} = {w * h:,} pixels, over the limit of {MAX_PIXELS:,}; "
                              "resize it before uploading")
    if w == 0 or h == 0:
        raise ImageInputError(f"image has no pixels ({w}x{h})")
    try:
        if getattr(img, "is_animated", False):
            img.seek(0)  # first frame of a GIF / APNG / WebP animation
        if img.format == "JPEG" and max(w, h) > 2 * WORKING_SIDE:
            img.draft("RGB", (WORKING_SIDE, WORKING_SIDE))  # decode big JPEGs at reduced scale
        img.load()
        img = ImageOps.exif_transpose(img) or img
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageInputError(f"the image could not be decoded ({exc}); is the file truncated?") from exc
    img = _to_rgb(img)
    if max(img.size) > WORKING_SIDE:
        img.thumbnail((WORKING_SIDE, WORKING_SIDE), Image.Resampling.LANCZOS)
    return img


def _to_rgb(img: Image.Image) -> Image.Image:
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        top = 65535.0 if mode.startswith("I;16") or hi > 255 else 255.0
        if mode == "F" and hi <= 1.0 and lo >= 0.0:
            top = 1.0
        arr = np.clip(arr / top * 255.0, 0, 255).astype(np.uint8)
        return Image.fromarray(arr, "L").convert("RGB")
    if mode == "P":
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode == "CMYK":
        return img.convert("RGB")
    return img.convert("RGB")


def center_square(img: Image.Image) -> Image.Image:
    """Crop the central square (the longest centred square that fits)."""
    w, h = img.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    return img.crop((left, top, left + side, top + side))


def to_model_array(img: Image.Image, size: int) -> np.ndarray:
    """RGB image -> float32 (3, size, size) in [-1, 1]: centre square crop, bicubic resize (generator input)."""
    sq = center_square(img).resize((size, size), Image.Resampling.BICUBIC)
    arr = np.asarray(sq, dtype=np.float32) / 127.5 - 1.0  # (H, W, 3)
    return np.ascontiguousarray(arr.transpose(2, 0, 1))


def from_model_array(arr: np.ndarray) -> Image.Image:
    """float (3, H, W) in [-1, 1] -> RGB PIL image (values outside the range are clipped)."""
    hwc = np.clip((np.asarray(arr, dtype=np.float32).transpose(1, 2, 0) + 1.0) * 127.5, 0, 255)
    return Image.fromarray(np.round(hwc).astype(np.uint8), "RGB")


def to_classifier_array(img: Image.Image, size: int, mean, std) -> np.ndarray:
    """RGB image -> float32 (3, size, size): centre square crop, bilinear resize, [0, 1], (x - mean) / std."""
    sq = center_square(img).resize((size, size), Image.Resampling.BILINEAR)
    arr = np.asarray(sq, dtype=np.float32) / 255.0
    arr = (arr - np.asarray(mean, dtype=np.float32)) / np.asarray(std, dtype=np.float32)
    return np.ascontiguousarray(arr.transpose(2, 0, 1))
