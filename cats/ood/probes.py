"""Pictures unlike any training data, for measuring the familiarity score (never downloaded).

``real_photos()``: the photographs that ship inside scikit-image's wheel (``skimage.data``; a
test/dev dependency, requirements-dev.txt), loaded from the installed package, no network.
``held_out_faces()``: scikit-image's 200 small LFW face crops, kept out of choosing the method.
``non_pictures()``: generated noise, flat colours and rendered text.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

# Every photograph in skimage.data that the wheel carries (drawings, charts and binary masks are left out).
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "camera", "stereo_motorcycle", "hubble_deep_field",
          "immunohistochemistry", "retina", "coins", "moon", "brick", "grass", "gravel", "cell", "clock",
          "page", "text")


def _skimage_data():
    try:
        import skimage.data as data  # imported here: scikit-image is a dev-only dependency
    except ImportError as exc:  # a dev-only dependency: say where it comes from
        raise ImportError("the real-photo probes need scikit-image: pip install -r requirements-dev.txt") from exc
    return data


def _to_pil(arr) -> Image.Image:
    a = np.asarray(arr)
    if a.dtype == bool:
        a = a.astype(np.uint8) * 255
    elif a.dtype != np.uint8:
        a = np.clip(a * 255.0 if a.max() <= 1.0 else a, 0, 255).astype(np.uint8)
    return Image.fromarray(a).convert("RGB")


def real_photos() -> dict[str, Image.Image]:
    """name -> RGB photo, in PHOTOS order."""
    data = _skimage_data()
    out = {}
    for name in PHOTOS:
        arr = getattr(data, name)()
        out[name] = _to_pil(arr[0] if isinstance(arr, tuple) else arr)  # stereo_motorcycle: (left, right, disparity)
    return out


def held_out_faces() -> list[Image.Image]:
    """scikit-image's LFW subset: 200 face crops (25 x 25, grey), as RGB."""
    faces = _skimage_data().lfw_subset()
    return [_to_pil(f) for f in faces]


def non_pictures(size: int = 96, seed: int = 0) -> dict[str, Image.Image]:
    """name -> generated non-picture: uniform noise, flat colours, black text on white."""
    rng = np.random.default_rng(seed)
    out = {"noise": Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)),
           "flat grey": Image.new("RGB", (size, size), (128, 128, 128)),
           "flat red": Image.new("RGB", (size, size), (200, 30, 30)),
           "flat white": Image.new("RGB", (size, size), (255, 255, 255))}
    text = Image.new("RGB", (size * 2, size * 2), "white")
    draw = ImageDraw.Draw(text)
    for line in range(size * 2 // 19):
        draw.text((5, 5 + 19 * line), "The quick brown fox jumps over", fill="black")
    out["text"] = text
    return out
