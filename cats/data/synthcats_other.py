"""SynthCats "other" pictures (classifier label 12): things of cat-like complexity that are not cats.

Dogs (long muzzle, floppy ears, dark round eyes), furniture, house plants and abstract shapes,
on the same indoor backgrounds as the cats so the background alone never gives the answer.
"""

from __future__ import annotations

import numpy as np
from PIL import ImageDraw

from cats.data.synthcats_draw import SUPERSAMPLE, Head, background, blob, finish, jitter

KINDS = ("dog", "furniture", "plant", "shapes")
DOG_COATS = ((196, 150, 90), (120, 80, 50), (30, 28, 28), (236, 226, 210), (210, 170, 110), (150, 110, 80))
FURNITURE = ((120, 80, 50), (90, 60, 40), (200, 60, 50), (60, 90, 140), (220, 210, 190), (80, 120, 80))


def _c(rng, colour, amount=0.1):
    return tuple(int(v) for v in jitter(rng, colour, amount))


def _dog(d: ImageDraw.ImageDraw, rng: np.random.Generator, w: int) -> None:
    r = w * rng.uniform(0.14, 0.19)
    h = Head(w * rng.uniform(0.38, 0.62), w * rng.uniform(0.3, 0.42), r, rng.uniform(-0.25, 0.25))
    coat = _c(rng, DOG_COATS[rng.integers(len(DOG_COATS))])
    shade = 0.6 if rng.random() < 0.5 else 1.3
    ear = tuple(int(min(255, v * shade + 20 * (shade > 1))) for v in coat)
    d.polygon(blob(h.x, h.y + 2.0 * r, 1.1 * r, 1.6 * r, 0.0, 0.0, rng), fill=coat)  # body
    for s in (-1, 1):
        d.polygon(blob(h.x + s * 0.45 * r, h.y + 3.2 * r, 0.22 * r, 0.6 * r, 0.0, 0.0, rng), fill=coat)  # legs
    d.polygon(h.ellipse(0.0, 0.0, 0.9, 0.95), fill=coat)  # skull
    d.polygon(h.ellipse(0.0, 0.75, 0.5, 0.55), fill=_c(rng, coat, 0.05))  # long muzzle
    for s in (-1, 1):  # floppy ears hanging down the sides
        d.polygon(h.ellipse(s * 0.95, 0.3, 0.28, 0.7, s * 0.25), fill=ear)
        d.polygon(h.ellipse(s * 0.35, -0.15, 0.13, 0.13), fill=(40, 26, 18))  # round dark eyes
    d.polygon(h.ellipse(0.0, 0.95, 0.2, 0.14), fill=(20, 18, 18))  # big black nose
    if rng.random() < 0.5:
        d.polygon(h.ellipse(0.0, 1.35, 0.16, 0.2), fill=(220, 90, 100))  # tongue


def _furniture(d: ImageDraw.ImageDraw, rng: np.random.Generator, w: int) -> None:
    col = _c(rng, FURNITURE[rng.integers(len(FURNITURE))])
    dark = tuple(int(v * 0.7) for v in col)
    x, y, s = w * rng.uniform(0.3, 0.7), w * rng.uniform(0.55, 0.75), w * rng.uniform(0.25, 0.4)
    kind = rng.integers(3)
    if kind == 0:  # chair
        d.rectangle((x - s / 2, y - s * 1.1, x + s / 2, y - s * 0.1), fill=dark)
        d.rectangle((x - s / 2, y - s * 0.15, x + s / 2, y + s * 0.05), fill=col)
        for dx in (-s / 2, s / 2 - s * 0.1):
            d.rectangle((x + dx, y, x + dx + s * 0.1, y + s * 0.8), fill=dark)
    elif kind == 1:  # lamp
        d.polygon([(x - s * 0.45, y - s * 0.6), (x + s * 0.45, y - s * 0.6), (x + s * 0.25, y - s * 1.2),
                   (x - s * 0.25, y - s * 1.2)], fill=_c(rng, (240, 220, 170)))
        d.rectangle((x - s * 0.04, y - s * 0.6, x + s * 0.04, y + s * 0.6), fill=dark)
        d.ellipse((x - s * 0.3, y + s * 0.5, x + s * 0.3, y + s * 0.7), fill=dark)
    else:  # sofa with cushions
        d.rounded_rectangle((x - s, y - s * 0.6, x + s, y + s * 0.5), radius=s * 0.15, fill=col)
        for k in (-1, 1):
            d.rounded_rectangle((x + k * s * 0.5 - s * 0.35, y - s * 0.45, x + k * s * 0.5 + s * 0.35, y),
                                radius=s * 0.1, fill=_c(rng, col, 0.3))


def _plant(d: ImageDraw.ImageDraw, rng: np.random.Generator, w: int) -> None:
    x, y, s = w * rng.uniform(0.35, 0.65), w * rng.uniform(0.65, 0.8), w * rng.uniform(0.15, 0.22)
    green = _c(rng, (60, 130, 60), 0.2)
    for _ in range(rng.integers(6, 12)):
        ang = rng.uniform(-2.6, -0.5)
        ln = s * rng.uniform(1.0, 2.2)
        lx, ly = x + np.cos(ang) * ln * 0.6, y - s * 0.2 + np.sin(ang) * ln * 0.6
        d.line([(x, y - s * 0.2), (lx, ly)], fill=tuple(int(v * 0.8) for v in green), width=max(1, int(s * 0.06)))
        d.polygon(blob(lx, ly, s * 0.35, s * 0.14, ang, 0.0, rng, n=12), fill=_c(rng, green, 0.1))
    d.polygon([(x - s * 0.6, y - s * 0.2), (x + s * 0.6, y - s * 0.2), (x + s * 0.45, y + s * 0.8),
               (x - s * 0.45, y + s * 0.8)], fill=_c(rng, (180, 90, 60), 0.2))


def _shapes(d: ImageDraw.ImageDraw, rng: np.random.Generator, w: int) -> None:
    for _ in range(rng.integers(3, 8)):
        col = tuple(int(v) for v in rng.integers(0, 256, 3))
        x, y, s = rng.uniform(0.1, 0.9) * w, rng.uniform(0.1, 0.9) * w, rng.uniform(0.08, 0.25) * w
        kind = rng.integers(3)
        if kind == 0:
            d.polygon(blob(x, y, s, s * rng.uniform(0.5, 1.0), rng.uniform(0, 3.2), 0.0, rng), fill=col)
        elif kind == 1:
            d.rectangle((x - s, y - s * 0.6, x + s, y + s * 0.6), fill=col)
        else:
            pts = [(x + s * np.cos(a), y + s * np.sin(a)) for a in np.sort(rng.uniform(0, 6.28, 3))]
            d.polygon(pts, fill=col)


def draw_other(rng: np.random.Generator, size: int) -> np.ndarray:
    """One non-cat picture: uint8 (size, size, 3)."""
    w = size * SUPERSAMPLE
    img = background(rng, w)
    kind = KINDS[rng.choice(len(KINDS), p=(0.4, 0.2, 0.2, 0.2))]
    {"dog": _dog, "furniture": _furniture, "plant": _plant, "shapes": _shapes}[kind](ImageDraw.Draw(img), rng, w)
    return finish(img, size, rng)
