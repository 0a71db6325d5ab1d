"""Drawing one SynthCats cat: numpy + Pillow, deterministic given a numpy Generator.

A picture is drawn at ``SUPERSAMPLE`` times the requested side and box-filtered down, which
anti-aliases the polygon edges cheaply. All geometry is in pixels of that internal canvas; head
features are placed in head-local units (multiples of the head radius ``R``) and rotated by the
head tilt. Order: background -> silhouette + coat (pattern, colour-point, white parts) ->
composite -> face (inner ears, eyes, nose, whiskers) -> lighting -> downsample.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from cats.data.synthcats_looks import LOOKS, RGB, Look

SUPERSAMPLE = 2
POSES = ("sitting", "loaf", "portrait")

WALLS: tuple[RGB, ...] = (
    (222, 210, 190), (236, 230, 218), (190, 196, 200), (176, 190, 168), (160, 178, 200), (196, 140, 110),
    (190, 176, 206), (120, 92, 70), (60, 70, 90), (214, 190, 140), (232, 200, 200), (140, 150, 140),
)
FLOORS: tuple[RGB, ...] = (
    (150, 110, 70), (112, 80, 52), (170, 166, 160), (150, 60, 56), (200, 190, 170), (90, 100, 90), (70, 66, 70),
)


# ----------------------------------------------------------------------------------------------
# Primitives


@lru_cache(maxsize=8)
def _grid(w: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates in [0, 1]: (ys (W, 1), xs (1, W))."""
    c = (np.arange(w, dtype=np.float32) + 0.5) / w
    return c[:, None], c[None, :]


@lru_cache(maxsize=16)
def _circle(n: int) -> tuple[np.ndarray, np.ndarray]:
    """cos and sin of n angles around the circle: (n,), (n,)."""
    th = np.linspace(0, 2 * math.pi, n, endpoint=False)
    return np.cos(th), np.sin(th)


@lru_cache(maxsize=16)
def _spikes(n: int) -> np.ndarray:
    """Alternating out/in radius offsets that make a furry outline: (n,)."""
    return np.where(np.arange(n) % 2 == 0, 0.13, -0.03)


def jitter(rng: np.random.Generator, colour: RGB, amount: float) -> np.ndarray:
    """A colour with its brightness and each channel varied by about ``amount`` (fraction)."""
    c = np.asarray(colour, np.float32) * (1.0 + amount * rng.uniform(-1, 1))
    return np.minimum(np.maximum(c + 255 * amount * 0.5 * rng.uniform(-1, 1, 3), 0), 255)


def blob(cx: float, cy: float, rx: float, ry: float, rot: float, fluff: float, rng: np.random.Generator,
         n: int = 36) -> list[tuple[float, float]]:
    """Polygon of an ellipse rotated by ``rot``; ``fluff`` > 0 makes a jagged furry outline."""
    cos, sin = _circle(n)
    x, y = rx * cos, ry * sin
    if fluff > 0:
        r = 1.0 + fluff * _spikes(n) * (0.5 + rng.random(n))
        x, y = x * r, y * r
    if rot:
        c, s = math.cos(rot), math.sin(rot)
        x, y = c * x - s * y, s * x + c * y
    return list(zip((cx + x).tolist(), (cy + y).tolist()))


def tube(points: np.ndarray, radius: float, fluff: float, rng: np.random.Generator) -> list[list]:
    """A thick curve (a tail) as overlapping blobs along ``points`` (K, 2)."""
    return [blob(px, py, radius, radius, 0.0, fluff, rng, n=16) for px, py in points]


def bezier(p0, p1, p2, k: int) -> np.ndarray:
    """k points of the quadratic Bezier curve p0 -> p2 pulled towards p1: (k, 2)."""
    t = np.linspace(0, 1, k)[:, None]
    p0, p1, p2 = (np.asarray(p, np.float64) for p in (p0, p1, p2))
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t ** 2 * p2


class Head:
    """Head-local frame: (u, v) in head radii, v pointing down, rotated by ``tilt`` about (x, y)."""

    def __init__(self, x: float, y: float, radius: float, tilt: float):
        self.x, self.y, self.r = x, y, radius
        self.c, self.s = math.cos(tilt), math.sin(tilt)

    def pt(self, u: float, v: float) -> tuple[float, float]:
        return (self.x + self.r * (self.c * u - self.s * v), self.y + self.r * (self.s * u + self.c * v))

    def arr(self, u: np.ndarray, v: np.ndarray) -> list[tuple[float, float]]:
        """Head-local coordinate arrays (n,), (n,) -> canvas polygon."""
        x = self.x + self.r * (self.c * u - self.s * v)
        y = self.y + self.r * (self.s * u + self.c * v)
        return list(zip(x.tolist(), y.tolist()))

    def pts(self, uv) -> list[tuple[float, float]]:
        u, v = np.asarray(uv, np.float64).T
        return self.arr(u, v)

    def ellipse(self, u: float, v: float, ru: float, rv: float, rot: float = 0.0, n: int = 20) -> list:
        cos, sin = _circle(n)
        x, y = ru * cos, rv * sin
        if rot:
            c, s = math.cos(rot), math.sin(rot)
            x, y = c * x - s * y, s * x + c * y
        return self.arr(u + x, v + y)


# ----------------------------------------------------------------------------------------------
# Background and lighting (shared with the non-cat pictures)


def background(rng: np.random.Generator, w: int) -> Image.Image:
    """An indoor scene: wall gradient, optional wallpaper, a floor, sometimes a window. RGB (W, W).

    Built row by row (a (W, 3) colour table broadcast across columns) so it stays cheap.
    """
    ys = _grid(w)[0][:, 0]  # (W,)
    wall = jitter(rng, WALLS[rng.integers(len(WALLS))], 0.12)
    rows = (1.0 + rng.uniform(-0.15, 0.15) * (ys - 0.5))[:, None] * wall  # (W, 3)
    texture = rng.integers(4)
    if texture == 2:  # horizontal panelling
        rows = rows * (1.0 + 0.05 * np.sign(np.sin(2 * math.pi * ys / rng.uniform(0.05, 0.15))))[:, None]
    floor_y = int(w * rng.uniform(0.55, 0.9))
    if rng.random() < 0.8:
        floor = jitter(rng, FLOORS[rng.integers(len(FLOORS))], 0.12)
        planks = 1.0 - 0.1 * (np.sin(2 * math.pi * ys[floor_y:] / rng.uniform(0.04, 0.1)) > 0.85) * (rng.random() < 0.5)
        rows[floor_y:] = planks[:, None] * floor
    rows = np.clip(rows, 0, 255).astype(np.uint8)
    if texture == 1:  # striped wallpaper above the floor
        stripes = np.sin(2 * math.pi * np.arange(w) / (w * rng.uniform(0.06, 0.2))) > 0  # (W,)
        darker = (rows * np.float32(0.88)).astype(np.uint8)
        darker[floor_y:] = rows[floor_y:]
        img = np.where(stripes[None, :, None], rows[:, None, :], darker[:, None, :])
    else:
        img = np.ascontiguousarray(np.broadcast_to(rows[:, None, :], (w, w, 3)))
    if rng.random() < 0.3:  # a bright window
        x0, y0 = int(w * rng.uniform(0, 0.7)), int(w * rng.uniform(0, 0.3))
        x1, y1 = x0 + int(w * rng.uniform(0.15, 0.35)), y0 + int(w * rng.uniform(0.2, 0.4))
        img[y0:y1, x0:x1] = np.minimum(img[y0:y1, x0:x1].astype(np.float32) * 1.3 + 30, 255).astype(np.uint8)
    return Image.fromarray(img, "RGB")


def finish(img: Image.Image, size: int, rng: np.random.Generator) -> np.ndarray:
    """Lighting (a directional ramp and an exposure change), then box-filter down: uint8 (size, size, 3)."""
    if img.width != size:
        img = img.reduce(img.width // size) if img.width % size == 0 else img.resize((size, size), Image.BOX)
    ys, xs = _grid(size)
    a = rng.uniform(0, 2 * math.pi)
    ramp = rng.uniform(0.85, 1.1) * (1.0 + rng.uniform(0.0, 0.3) * ((xs - 0.5) * math.cos(a) + (ys - 0.5) * math.sin(a)))
    out = np.asarray(img, np.float32) * ramp[..., None]
    return np.clip(out, 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------------------------
# The cat


class _Layers:
    """Masks the body parts are drawn into: silhouette, colour-point areas, white areas."""

    def __init__(self, w: int):
        self.sil, self.point, self.white = (Image.new("L", (w, w), 0) for _ in range(3))
        self.d_sil, self.d_point, self.d_white = (ImageDraw.Draw(m) for m in (self.sil, self.point, self.white))

    def part(self, poly, point: bool = False, white: bool = False) -> None:
        self.d_sil.polygon(poly, fill=255)
        if point:
            self.d_point.polygon(poly, fill=255)
        if white:
            self.d_white.polygon(poly, fill=255)


def _pose(rng: np.random.Generator, w: int, look: Look) -> tuple[str, Head, int]:
    """Pick a pose, head position/size/tilt and the side the body or tail goes to."""
    pose = POSES[rng.choice(3, p=(0.5, 0.25, 0.25))]
    side = 1 if rng.random() < 0.5 else -1
    tilt = rng.uniform(-0.3, 0.3)
    if pose == "sitting":
        r = w * rng.uniform(0.15, 0.19) * (1.0 + 0.06 * (look.body_w - 1))
        x, y = w * rng.uniform(0.38, 0.62), w * (1.0 - rng.uniform(0.0, 0.05)) - 3.15 * r
    elif pose == "loaf":
        r = w * rng.uniform(0.15, 0.18)
        x, y = w * 0.5 - side * r * rng.uniform(0.7, 1.1), w * rng.uniform(0.42, 0.55)
    else:
        r = w * rng.uniform(0.25, 0.3)
        x, y = w * rng.uniform(0.42, 0.58), w * rng.uniform(0.42, 0.52)
    return pose, Head(x, y, r, tilt), side


def _body(layers: _Layers, pose: str, h: Head, side: int, look: Look, rng: np.random.Generator) -> None:
    """Body, legs, paws and tail (drawn before the head, which covers the neck)."""
    r, fur, cp = h.r, look.fur, look.points is not None
    bw = look.body_w * (1.0 + 0.12 * fur)
    paws_white = "paws" in look.white
    tail_r = r * (0.13 + 0.1 * fur)
    if pose == "sitting":
        x, y = h.x + rng.uniform(-0.15, 0.15) * r, h.y
        tail = bezier((x + side * 0.8 * r * bw, y + 2.9 * r), (x + side * 2.0 * r, y + 3.0 * r),
                      (x + side * 1.9 * r, y + 1.7 * r), 9)
        for poly in tube(tail, tail_r, fur, rng):
            layers.part(poly, point=cp)
        layers.part(blob(x, y + 1.5 * r, 0.95 * r * bw, 1.45 * r, 0.0, fur, rng))
        for s in (-1, 1):
            layers.part(blob(x + s * 0.72 * r * bw, y + 2.4 * r, 0.62 * r * bw, 0.7 * r, 0.0, fur, rng))
        for s in (-1, 1):
            layers.part(blob(x + s * 0.32 * r * bw, y + 2.3 * r, 0.2 * r * bw ** 0.5, 0.8 * r, 0.0, fur * 0.5, rng),
                        point=cp)
            layers.part(blob(x + s * 0.34 * r * bw, y + 3.02 * r, 0.25 * r, 0.14 * r, 0.0, 0.0, rng),
                        point=cp and not paws_white, white=paws_white)
    elif pose == "loaf":
        bx = h.x + side * 1.3 * r
        tail = bezier((bx + side * 1.7 * r, h.y + 1.3 * r), (bx + side * 1.5 * r, h.y + 2.05 * r),
                      (bx - side * 0.6 * r, h.y + 1.9 * r), 9)
        for poly in tube(tail, tail_r, fur, rng):
            layers.part(poly, point=cp)
        layers.part(blob(bx, h.y + 1.0 * r, 1.95 * r * bw ** 0.5, 0.95 * r, 0.0, fur, rng))
        for s in (-1, 1):
            layers.part(blob(h.x + s * 0.38 * r, h.y + 1.78 * r, 0.3 * r, 0.17 * r, 0.0, 0.0, rng),
                        point=cp and not paws_white, white=paws_white)
    else:  # portrait: head and shoulders
        layers.part(blob(h.x, h.y + 2.0 * r, 1.5 * r * bw, 1.35 * r, 0.0, fur, rng))
    if fur > 0.5:  # a ruff of long fur around the neck
        layers.part(blob(h.x, h.y + 0.8 * r, 1.2 * r * look.head_w, 0.62 * r, 0.0, fur * 1.3, rng))
    if "bib" in look.white:
        layers.d_white.polygon(blob(h.x, h.y + 1.15 * r, 0.55 * r, 0.6 * r, 0.0, fur, rng), fill=255)


def _ear(h: Head, side: int, look: Look, rng: np.random.Generator) -> tuple[list, list, tuple]:
    """Outer ear polygon, inner ear polygon and the apex point."""
    size = look.ear_size * rng.uniform(0.92, 1.08)
    base = np.array([side * look.ear_spread * look.head_w, -0.6 * look.head_h])
    ang = side * (0.28 + 0.12 * look.ear_width) + rng.uniform(-0.05, 0.05)
    d, p = np.array([math.sin(ang), -math.cos(ang)]), np.array([math.cos(ang), math.sin(ang)])

    def shape(base, size, half):
        if look.ear_round:
            rw = half * 0.9
            c = base + (size - rw) * d
            arc = [c + rw * (-math.cos(f) * p + math.sin(f) * d) for f in np.linspace(0, math.pi, 9)]
            return h.pts([tuple(q) for q in (base - half * p, *arc, base + half * p)])
        return h.pts([tuple(q) for q in (base - half * p, base + size * d, base + half * p)])

    half = 0.5 * look.ear_width
    outer = shape(base, size, half)
    inner = shape(base + 0.3 * size * d, 0.6 * size, 0.55 * half)  # starts above the head outline
    return outer, inner, h.pt(*(base + size * d))


def _head_outline(h: Head, look: Look, rng: np.random.Generator) -> list:
    n = 40
    c, s = _circle(n)
    low = np.clip(s, 0, None)
    u = look.head_w * c * (1.0 - 0.45 * look.wedge * low ** 1.2)
    v = look.head_h * s + 0.25 * look.wedge * low ** 2
    if look.fur > 0:
        r = 1.0 + look.fur * 0.6 * _spikes(n) * (0.5 + rng.random(n))
        u, v = u * r, v * r
    return h.arr(u, v)


def _rgb(c) -> tuple[int, int, int]:
    return tuple(int(x) for x in c)


def _coat(look: Look, layers: _Layers, h: Head, rng: np.random.Generator, w: int) -> Image.Image:
    """The coat colour everywhere (pattern, colour-point, white parts): RGB (W, W)."""
    base = jitter(rng, look.coats[rng.integers(len(look.coats))], 0.06)
    coat = Image.new("RGB", (w, w), _rgb(base))
    d = ImageDraw.Draw(coat)
    dark = _rgb(jitter(rng, look.pattern_colour, 0.08))
    bbox = layers.sil.getbbox() or (0, 0, w, w)
    if look.pattern in ("rosettes", "spots"):
        n, rad = (22, 0.10) if look.pattern == "rosettes" else (34, 0.055)
        inner = _rgb(base * 0.72)
        for _ in range(n):
            cx, cy = rng.uniform(bbox[0], bbox[2]), rng.uniform(bbox[1], bbox[3])
            rx, ry = h.r * rad * rng.uniform(1.5, 2.5), h.r * rad * rng.uniform(1.2, 2.0)
            d.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=dark)
            if look.pattern == "rosettes":
                d.ellipse((cx - 0.55 * rx, cy - 0.55 * ry, cx + 0.55 * rx, cy + 0.55 * ry), fill=inner)
    elif look.pattern == "wrinkles":
        width = max(1, round(h.r * 0.05))
        for k in range(3):  # forehead wrinkles
            v = -0.55 + 0.13 * k
            d.line(h.pts([(-0.35, v + 0.04), (-0.12, v), (0.12, v), (0.35, v + 0.04)]), fill=dark, width=width)
        for k in range(4):  # neck and chest folds
            v = 1.05 + 0.22 * k + rng.uniform(-0.05, 0.05)
            d.line(h.pts([(-0.5, v), (0.0, v + 0.12), (0.5, v)]), fill=dark, width=width)
    elif look.pattern == "tabby":  # wavy dark stripes running around the body
        ys, xs = _grid(w)
        freq = w / (h.r * rng.uniform(0.45, 0.6))
        phase = 2 * math.pi * (freq * xs + 1.2 * np.sin(2 * math.pi * ys * w / (3 * h.r)) + rng.random())
        stripes = np.clip((np.sin(phase) - 0.15) * 160, 0, 204).astype(np.uint8)  # (W, W) mask, 80% at most
        coat.paste(dark, mask=Image.fromarray(stripes, "L"))
    elif look.pattern == "ticked":  # each hair banded: a fine grain
        grain = rng.random((w // 2, w // 2), dtype=np.float32)
        grain = (0.86 + 0.26 * grain).repeat(2, 0).repeat(2, 1)[:w, :w, None]  # (W, W, 1)
        coat = Image.fromarray(np.clip(np.asarray(coat, np.float32) * grain, 0, 255).astype(np.uint8), "RGB")
    if look.points is not None:
        layers.d_point.polygon(h.ellipse(0.0, 0.22, 0.62 * look.head_w, 0.52), fill=255)  # face mask
        soft = layers.point.filter(ImageFilter.BoxBlur(max(1, h.r * 0.15)))
        coat.paste(_rgb(jitter(rng, look.points, 0.08)), mask=soft)
    if "muzzle_v" in look.white:
        layers.d_white.polygon(h.pts([(0.0, 0.0), (0.45, 0.85), (-0.45, 0.85)]), fill=255)
    if "chin" in look.white:
        layers.d_white.polygon(h.ellipse(0.0, 0.62 + 0.2 * look.wedge, 0.28, 0.16), fill=255)
    if layers.white.getbbox() is not None:
        coat.paste((240, 238, 234), mask=layers.white)
    return coat


def _face(img: Image.Image, h: Head, look: Look, ears_inner: list, rng: np.random.Generator) -> None:
    """Inner ears, eyes, nose, mouth and whiskers, drawn on top of the composited picture."""
    d = ImageDraw.Draw(img)
    inner = (120, 80, 80) if look.points is not None else (228, 150, 150)
    for poly in ears_inner:
        d.polygon(poly, fill=inner)
    eye_v = 0.05 if look.flat_face else -0.08
    eye_u = 0.42 * look.head_w * (0.92 if look.flat_face else 1.0)
    iris = tuple(int(c) for c in jitter(rng, look.eyes[rng.integers(len(look.eyes))], 0.06))
    er = look.eye_size * rng.uniform(0.95, 1.08)
    pupil = rng.uniform(0.2, 0.5)
    for s in (-1, 1):
        slant = -s * 0.35 * (1 - look.eye_round)
        d.polygon(h.ellipse(s * eye_u, eye_v, er * 1.2, er * look.eye_round * 1.25, slant), fill=(20, 16, 14))
        d.polygon(h.ellipse(s * eye_u, eye_v, er, er * look.eye_round, slant), fill=iris)
        d.polygon(h.ellipse(s * eye_u, eye_v, er * pupil, er * look.eye_round * 0.9, 0.0, n=12), fill=(10, 8, 8))
        d.polygon(h.ellipse(s * eye_u - 0.3 * er, eye_v - 0.3 * er * look.eye_round, er * 0.18, er * 0.18, n=8),
                  fill=(250, 250, 250))
    nose_v = 0.3 if look.flat_face else 0.38 + 0.18 * look.wedge
    ns = 0.7 if look.flat_face else 1.0
    d.polygon(h.pts([(-0.12 * ns, nose_v - 0.05), (0.12 * ns, nose_v - 0.05), (0.0, nose_v + 0.07 * ns)]),
              fill=look.nose)
    line_w = max(1, round(h.r * 0.03))
    mouth = tuple(int(c) for c in np.asarray(look.nose, np.float32) * 0.6)
    m = nose_v + 0.07 * ns
    d.line(h.pts([(-0.12, m + 0.08), (0.0, m + 0.04), (0.0, m), (0.0, m + 0.04), (0.12, m + 0.08)]),
           fill=mouth, width=line_w)
    if look.whiskers:
        for s in (-1, 1):
            for k in range(3):
                d.line(h.pts([(s * 0.18, m + 0.02 * k), (s * (1.05 + 0.1 * k), m - 0.08 + 0.1 * k)]),
                       fill=(236, 236, 230), width=1)


def draw_cat(breed: int, rng: np.random.Generator, size: int) -> np.ndarray:
    """One picture of breed ``breed`` (0..11): uint8 (size, size, 3)."""
    look = LOOKS[breed]
    w = size * SUPERSAMPLE
    img = background(rng, w)
    pose, h, side = _pose(rng, w, look)
    layers = _Layers(w)
    _body(layers, pose, h, side, look, rng)
    ears, inner = [], []
    for s in (-1, 1):
        outer, inner_poly, apex = _ear(h, s, look, rng)
        layers.part(outer, point=look.points is not None)
        inner.append(inner_poly)
        ears.append(apex)
    layers.part(_head_outline(h, look, rng))
    coat = _coat(look, layers, h, rng, w)
    img = Image.composite(coat, img, layers.sil)
    if look.ear_tufts:
        d = ImageDraw.Draw(img)
        for s, (ax, ay) in zip((-1, 1), ears):
            d.line([(ax, ay), (ax + s * 0.12 * h.r, ay - 0.3 * h.r)], fill=(40, 28, 20), width=max(1, round(h.r * 0.07)))
    _face(img, h, look, inner, rng)
    return finish(img, size, rng)
