"""Seeded initial noise that every runtime reproduces bit for bit: one seed, one cat.

``gaussian_noise(shape, seed)`` is what ``CatsPipeline(..., seed=)``, ``OnnxCatsPipeline(..., seed=)``,
the Gradio demo and the web client (``webclient/src/lib/rng.ts``, its TypeScript twin) start from.
The algorithm is specified in docs/noise.md so another implementation can reproduce it:

* Philox4x32-10 (Salmon et al., "Parallel Random Numbers: As Easy as 1, 2, 3", 2011), key
  ``(seed, 0)``, counter ``(block, 0, 0, 0)``: block ``b`` gives four 32-bit words, the normals
  ``4b .. 4b + 3`` of the stream, in C order over ``shape``.
* Box-Muller on each word pair ``(a, b)``: ``u = (a + 1) / 2**32`` in (0, 1], ``t = b / 2**32``,
  ``r = sqrt(-2 ln u)``, ``(r cos 2 pi t, r sin 2 pi t)``, rounded once to float32.
* ``ln``, ``cos`` and ``sin`` are written here with float64 ``+ - * /`` only (range reduction by
  exact powers of two and quarter turns, then fixed series), and ``sqrt`` is IEEE's correctly
  rounded one, so NumPy and JavaScript get the same bits; libm's ``log``/``cos`` may differ in
  the last bit between platforms and would not.

NumPy only. Value ``i`` depends on ``(seed, i)`` alone: a batch of N images from one seed is the
first N images' worth of the stream, so its first image equals the one-image call's.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np

MAX_SEED = 2**32 - 1

PHILOX_M = (0xD2511F53, 0xCD9E8D57)  # multipliers of Philox4x32
PHILOX_W = (0x9E3779B9, 0xBB67AE85)  # key increments (golden ratio, sqrt(3) - 1)
PHILOX_ROUNDS = 10
_MASK = 0xFFFFFFFF

# float64 constants written as the literals both languages parse to the same double
LN2 = 0.6931471805599453
SQRT2 = 1.4142135623730951
HALF_PI = 1.5707963267948966
LOG_TERMS = 12  # atanh series terms: |f| <= 0.1716, the 13th term is below 1e-18
TRIG_TERMS = 10  # Taylor terms of sin/cos on [-pi/4, pi/4]: the next one is below 1e-19


def check_seed(seed) -> int:
    """The seed as an int, or ValueError: an integer in 0..2**32 - 1 (the web client's and the demo's range)."""
    if isinstance(seed, bool) or not isinstance(seed, Integral) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be an integer in 0..{MAX_SEED}, got {seed!r}")
    return int(seed)


def philox4x32(counter: np.ndarray, key: tuple[int, int]) -> np.ndarray:
    """Philox4x32-10 of each counter row: (N, 4) uint32 counters, key (k0, k1) -> (N, 4) uint32 words."""
    x = [np.asarray(counter, dtype=np.uint32)[:, j].astype(np.uint64) for j in range(4)]
    k0, k1 = int(key[0]) & _MASK, int(key[1]) & _MASK
    m0, m1 = np.uint64(PHILOX_M[0]), np.uint64(PHILOX_M[1])
    for r in range(PHILOX_ROUNDS):
        if r:
            k0, k1 = (k0 + PHILOX_W[0]) & _MASK, (k1 + PHILOX_W[1]) & _MASK
        p0, p1 = x[0] * m0, x[2] * m1  # exact 64-bit products of 32-bit words
        hi0, lo0, hi1, lo1 = p0 >> np.uint64(32), p0 & np.uint64(_MASK), p1 >> np.uint64(32), p1 & np.uint64(_MASK)
        x = [hi1 ^ x[1] ^ np.uint64(k0), lo1, hi0 ^ x[3] ^ np.uint64(k1), lo0]
    return np.stack(x, axis=1).astype(np.uint32)


def _log_unit(a: np.ndarray) -> np.ndarray:
    """ln((a + 1) / 2**32) for uint32 words a, float64, from + - * / only."""
    n = a.astype(np.float64) + 1.0  # 1 .. 2**32, exact
    m, e = np.frexp(n)  # n = m * 2**e, m in [0.5, 1): exact
    m, e = m * 2.0, e - 1.0  # m in [1, 2)
    big = m > SQRT2
    m, e = np.where(big, m / 2.0, m), np.where(big, e + 1.0, e)  # m in [sqrt(1/2), sqrt(2)]
    f = (m - 1.0) / (m + 1.0)
    s = f * f
    p = np.full_like(s, 1.0 / (2 * LOG_TERMS + 1))
    for k in range(LOG_TERMS - 1, -1, -1):  # ln m = 2 atanh f = 2 f (1 + s/3 + s^2/5 + ...)
        p = 1.0 / (2 * k + 1) + s * p
    return (e - 32.0) * LN2 + 2.0 * f * p


def _cos_sin_turn(b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(cos, sin) of 2 pi b / 2**32 for uint32 words b, float64, from + - * / only."""
    b = b.astype(np.int64)
    q = b >> 30  # quarter turn 0..3
    r = (b & (2**30 - 1)).astype(np.float64) / 2.0**30  # position in the quarter, [0, 1), exact
    up = r >= 0.5
    q, r = np.where(up, q + 1, q) & 3, np.where(up, r - 1.0, r)  # r in [-1/2, 1/2): |phi| <= pi/4
    phi = r * HALF_PI
    phi2 = phi * phi
    c, s = np.ones_like(phi), np.ones_like(phi)
    for j in range(TRIG_TERMS, 0, -1):  # Horner on the Taylor series
        c = 1.0 - phi2 / ((2 * j - 1) * (2 * j)) * c
        s = 1.0 - phi2 / ((2 * j) * (2 * j + 1)) * s
    s = phi * s
    cos = np.choose(q, [c, -s, -c, s])  # rotate by q quarter turns
    sin = np.choose(q, [s, c, -s, -c])
    return cos, sin


def normal_pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Box-Muller in float64: two standard normals from each pair of uint32 words (a: radius, b: angle)."""
    radius = np.sqrt(-2.0 * _log_unit(np.asarray(a, dtype=np.uint32)))
    cos, sin = _cos_sin_turn(np.asarray(b, dtype=np.uint32))
    return radius * cos, radius * sin


def box_muller(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``normal_pair`` rounded once to float32: the values the noise is made of."""
    z0, z1 = normal_pair(a, b)
    return z0.astype(np.float32), z1.astype(np.float32)


def gaussian_noise(shape, seed: int) -> np.ndarray:
    """Standard normal float32 noise of ``shape`` (e.g. (B, 3, S, S)) from ``seed`` (see the module docstring)."""
    seed = check_seed(seed)
    count = int(np.prod(shape, dtype=np.int64))
    blocks = -(-count // 4)
    counter = np.zeros((blocks, 4), dtype=np.uint32)
    counter[:, 0] = np.arange(blocks, dtype=np.uint32)
    words = philox4x32(counter, (seed, 0))  # (blocks, 4)
    z0, z1 = box_muller(words[:, 0], words[:, 1])
    z2, z3 = box_muller(words[:, 2], words[:, 3])
    return np.stack([z0, z1, z2, z3], axis=1).reshape(-1)[:count].reshape(shape)
