"""Photos on disk -> square uint8 arrays at the training resolution (Oxford-IIIT Pet, image folders).

Decoding goes through ``cats.images.load_image`` (any mode to RGB, EXIF rotation, animated ->
first frame), so training sees pictures exactly as the demo will. Unreadable files are skipped
and reported in one warning instead of crashing a preprocessing run.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from cats.images import ImageInputError, center_square, load_image

Box = tuple[float, float, float, float]  # xmin, ymin, xmax, ymax in the pixels of the original file
HEAD_MARGIN = 1.3  # a head box is tight; keep some fur and ears around it


def square_around(box: Box, width: int, height: int, margin: float = HEAD_MARGIN) -> Box:
    """The square of side ``margin * max(box sides)`` centred on ``box``, shifted to lie inside the image."""
    x0, y0, x1, y1 = box
    side = min(max(x1 - x0, y1 - y0) * margin, width, height)
    left = min(max((x0 + x1 - side) / 2, 0), width - side)
    top = min(max((y0 + y1 - side) / 2, 0), height - side)
    return left, top, left + side, top + side


def decode_square(path: Path, size: int, box: Box | None = None, box_frame: tuple[int, int] | None = None) -> np.ndarray:
    """One photo (a path or a binary file object) -> uint8 (3, size, size): a square around ``box`` if given,
    else the centre square.

    ``box_frame`` is the (width, height) the box coordinates refer to (an annotation's image size);
    it rescales the box when ``load_image`` downscaled a large photo. Raises ImageInputError.
    """
    if box is None:
        with Image.open(path) as raw:
            if raw.format == "JPEG":
                raw.draft("RGB", (2 * size, 2 * size))  # DCT-domain downscale: much faster for big JPEGs
            img = load_image(raw)
    else:
        img = load_image(path)  # full resolution: the head may be a small part of the photo
    if box is not None:
        fw, fh = box_frame or img.size
        sx, sy = img.width / fw, img.height / fh
        scaled = (box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy)
        img = img.crop(tuple(round(v) for v in square_around(scaled, img.width, img.height)))
    else:
        img = center_square(img)
    img = img.resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(img, np.uint8).transpose(2, 0, 1)


def decode_all(items: list[tuple[Path, int, Box | None, tuple[int, int] | None]], size: int,
               what: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Decode (path, label, box, box_frame) items: images uint8 (N, 3, size, size), labels int64 (N,), skipped names.

    Unreadable or missing files are left out and counted in one warning naming a few of them.
    """
    images = np.empty((len(items), 3, size, size), np.uint8)
    labels = np.empty(len(items), np.int64)
    skipped: list[str] = []
    n = 0
    for path, label, box, frame in items:
        try:
            images[n] = decode_square(path, size, box, frame)
        except (ImageInputError, OSError, ValueError) as exc:
            skipped.append(f"{Path(path).name} ({exc.__class__.__name__})")
            continue
        labels[n] = label
        n += 1
    if skipped:
        warnings.warn(f"{what}: skipped {len(skipped)} of {len(items)} images that could not be read: "
                      f"{', '.join(skipped[:5])}{' ...' if len(skipped) > 5 else ''}", stacklevel=3)
    return images[:n], labels[:n], skipped
