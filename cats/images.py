"""Turning whatever a user uploads into a clean RGB picture, and pictures into model arrays.

NumPy + Pillow only (no torch): the PyTorch pipeline, the ONNX pipeline and the Gradio app share
it. Rules: any PIL mode (RGBA, LA, P, L, I;16, I, F, CMYK) becomes RGB; EXIF orientation is applied;
animated images use their first frame; huge images are downscaled before anything else, and absurd
ones (a side over MAX_SIDE, e.g. a decompression bomb) are refused from their header, before decoding,
with a clear error.
"""

from __future__ import annotations

import io
import os
import re
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

# The one size limit: the longer side. A pixel limit alone let a 1 x 64,000,000 strip through, whose
# single decoded row costs about 1 GB; with the side bounded the worst accepted image is 8000 x 8000,
# whose decode the reduction below keeps to about its own buffer (tests/test_demo_images.py measures it).
MAX_SIDE = 8000
MAX_PIXELS = MAX_SIDE * MAX_SIDE  # what the side limit allows at most: Pillow's header guard (below)
WORKING_SIDE = 1024  # downscale anything larger than this on its long side before processing
# Pillow's own decompression-bomb guard is set to the pixels the side limit allows: an image it refuses
# has a side over MAX_SIDE too, so every refusal (Pillow's at open time, ours after it) states one
# limit. It only ever gets stricter than Pillow's default (89,478,485), for every user of Pillow in the process.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
_EXIF_ORIENTATION = 0x0112
# EXIF orientation -> the transpose that makes the picture upright (the table ImageOps.exif_transpose uses).
_UPRIGHT = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
            5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
            8: Image.Transpose.ROTATE_90}


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
        raise ImageInputError(too_many_pixels(name, _bomb_pixels(exc))) from exc
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ImageInputError(f"{name} is not an image this app can read: upload a JPEG, PNG, WebP, GIF, BMP or TIFF image") from exc
    return img


def too_many_pixels(name: str, pixels: int | None, size: tuple[int, int] | None = None) -> str:
    """The one message for an image over MAX_SIDE (webclient/src/worker/decode.ts words it the same way).

    ``pixels`` alone (Pillow's guard names no size): that many pixels have a side over MAX_SIDE.
    """
    if size is not None:
        what = f"{size[0]}x{size[1]} pixels"
    elif pixels is not None:
        what = f"{pixels:,} pixels"
    else:
        what = "larger than that"
    return f"{name} is {what}, over the limit of {MAX_SIDE:,} pixels on the longer side: resize it before uploading"


def _bomb_pixels(exc: Exception) -> int | None:
    """The pixel count Pillow puts in its decompression-bomb message ("Image size (N pixels) exceeds ...")."""
    match = re.search(r"\((\d+) pixels\)", str(exc))
    return int(match[1]) if match else None


def load_image(source) -> Image.Image:
    """Any image-like input -> an upright RGB PIL image no larger than WORKING_SIDE on its long side.

    The size is checked from the header, before any pixel is decoded, for every format. Big images
    cost little memory: JPEGs decode at reduced scale (libjpeg's 1/2, 1/4, 1/8), other formats are
    box-reduced in their own (usually 1-byte) mode before the RGB conversion, which is what would
    otherwise quadruple them.

    Raises ImageInputError with a readable message for empty files, non-images and images over
    MAX_SIDE on the longer side.
    """
    img = _open(source)
    w, h = img.size
    name = getattr(img, "filename", None) and Path(img.filename).name or "image"
    if max(w, h) > MAX_SIDE:
        raise ImageInputError(too_many_pixels(name, None, (w, h)))
    if w == 0 or h == 0:
        raise ImageInputError(f"image has no pixels ({w}x{h})")
    try:
        if getattr(img, "is_animated", False):
            img.seek(0)  # first frame of a GIF / APNG / WebP animation
        if img.format == "JPEG" and max(w, h) > WORKING_SIDE:
            # libjpeg's largest 1/2, 1/4 or 1/8 scale that keeps both sides >= WORKING_SIDE: no quality lost.
            img.draft(None, (WORKING_SIDE, WORKING_SIDE))
        img.load()
        orientation = img.getexif().get(_EXIF_ORIENTATION)  # read now: the reduced copy has no EXIF
        img = _reduce(img)
        if orientation in _UPRIGHT:
            img = img.transpose(_UPRIGHT[orientation])
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageInputError(f"the image could not be decoded ({exc}); is the file truncated?") from exc
    img = _to_rgb(img)
    if max(img.size) > WORKING_SIDE:
        img.thumbnail((WORKING_SIDE, WORKING_SIDE), Image.Resampling.LANCZOS)
    return img


def _reduce(img: Image.Image) -> Image.Image:
    """Shrink a decoded image by an integer factor, keeping its long side >= WORKING_SIDE, in its own mode.

    Box reduction averages, so the LANCZOS thumbnail that follows sees no aliasing. Modes
    Image.reduce does not take are brought to the nearest mode that it does (1 -> L), or, for
    palette and 16-bit images, to a 2 x WORKING_SIDE copy by nearest neighbour (averaging palette
    indices or raw 16-bit values would be meaningless).
    """
    factor = max(img.size) // WORKING_SIDE
    if factor < 2:
        return img
    if img.mode == "1":
        img = img.convert("L")
    if img.mode in ("P", "PA") or img.mode.startswith("I;16"):
        k = 2 * WORKING_SIDE / max(img.size)
        if k >= 1:
            return img
        size = (max(1, round(img.width * k)), max(1, round(img.height * k)))
        return img.resize(size, Image.Resampling.NEAREST)
    return img.reduce(factor)


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
