/**
 * Seeded initial noise, mirroring cats/noise.py bit for bit (docs/noise.md specifies the algorithm): the same seed
 * gives the same cat here, in the Gradio demo and from Python (`CatsPipeline(..., seed=)`, `OnnxCatsPipeline(...,
 * seed=)`). The unit test checks thousands of values against tests/fixtures/noise.json, written by Python.
 *
 *   Philox4x32-10, key (seed, 0), counter (block, 0, 0, 0): four 32-bit words per block, normals 4*block..4*block+3;
 *   Box-Muller on each word pair (a, b): u = (a + 1) / 2^32, t = b / 2^32, sqrt(-2 ln u) * (cos 2 pi t, sin 2 pi t),
 *   rounded once to float32.
 *
 * ln, cos and sin are written with float64 + - * / only, and sqrt is IEEE's correctly rounded one, so the result
 * does not depend on the engine's Math.log / Math.cos (which may differ from libm in the last bit).
 */

export const MAX_SEED = 0xffffffff;

const PHILOX_M = [0xd2511f53, 0xcd9e8d57] as const;
const PHILOX_W = [0x9e3779b9, 0xbb67ae85] as const;
const PHILOX_ROUNDS = 10;

// float64 constants, the same literals as cats/noise.py
const LN2 = 0.6931471805599453;
const SQRT2 = 1.4142135623730951;
const HALF_PI = 1.5707963267948966;
const LOG_TERMS = 12;
const TRIG_TERMS = 10;
const TWO30 = 1073741824;

/** The 64-bit product of two uint32 words as [hi, lo] (exact: 16-bit halves keep every partial product exact). */
function mulhilo(a: number, b: number): [number, number] {
  const aL = a & 0xffff;
  const aH = a >>> 16;
  const bL = b & 0xffff;
  const bH = b >>> 16;
  const ll = aL * bL;
  const lh = aL * bH;
  const hl = aH * bL;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  const hi = (aH * bH + (lh >>> 16) + (hl >>> 16) + (mid >>> 16)) >>> 0;
  return [hi, Math.imul(a, b) >>> 0];
}

/** Philox4x32-10 of one counter (four uint32 words) under a key (two uint32 words), as cats/noise.py::philox4x32. */
export function philox4x32(counter: readonly number[], key: readonly number[]): [number, number, number, number] {
  let [x0, x1, x2, x3] = counter.map((c) => c >>> 0) as [number, number, number, number];
  let k0 = (key[0] as number) >>> 0;
  let k1 = (key[1] as number) >>> 0;
  for (let r = 0; r < PHILOX_ROUNDS; r++) {
    if (r) {
      k0 = (k0 + PHILOX_W[0]) >>> 0;
      k1 = (k1 + PHILOX_W[1]) >>> 0;
    }
    const [hi0, lo0] = mulhilo(PHILOX_M[0], x0);
    const [hi1, lo1] = mulhilo(PHILOX_M[1], x2);
    [x0, x1, x2, x3] = [(hi1 ^ x1 ^ k0) >>> 0, lo1, (hi0 ^ x3 ^ k1) >>> 0, lo0];
  }
  return [x0, x1, x2, x3];
}

/** ln((a + 1) / 2^32) for a uint32 word, as cats/noise.py::_log_unit. */
function logUnit(a: number): number {
  let m = a + 1; // 1 .. 2^32, exact
  let e = 0;
  while (m >= 2) { m /= 2; e += 1; } // m in [1, 2): exact halvings
  if (m > SQRT2) { m /= 2; e += 1; }
  const f = (m - 1) / (m + 1);
  const s = f * f;
  let p = 1 / (2 * LOG_TERMS + 1);
  for (let k = LOG_TERMS - 1; k >= 0; k--) p = 1 / (2 * k + 1) + s * p;
  return (e - 32) * LN2 + 2 * f * p;
}

/** [cos, sin] of 2 pi b / 2^32 for a uint32 word, as cats/noise.py::_cos_sin_turn. */
function cosSinTurn(b: number): [number, number] {
  let q = b >>> 30;
  let r = (b & (TWO30 - 1)) / TWO30;
  if (r >= 0.5) { q = (q + 1) & 3; r -= 1; }
  const phi = r * HALF_PI;
  const phi2 = phi * phi;
  let c = 1;
  let s = 1;
  for (let j = TRIG_TERMS; j >= 1; j--) {
    c = 1 - (phi2 / ((2 * j - 1) * (2 * j))) * c;
    s = 1 - (phi2 / ((2 * j) * (2 * j + 1))) * s;
  }
  s = phi * s;
  switch (q) {
    case 0: return [c, s];
    case 1: return [-s, c];
    case 2: return [-c, -s];
    default: return [s, -c];
  }
}

/** Box-Muller in float64 on a pair of uint32 words (a: radius, b: angle), as cats/noise.py::normal_pair. */
export function normalPair(a: number, b: number): [number, number] {
  const radius = Math.sqrt(-2 * logUnit(a >>> 0));
  const [cos, sin] = cosSinTurn(b >>> 0);
  return [radius * cos, radius * sin];
}

/** normalPair rounded once to float32 (cats/noise.py::box_muller): the values the noise is made of. */
export function boxMuller(a: number, b: number): [number, number] {
  const [z0, z1] = normalPair(a, b);
  return [Math.fround(z0), Math.fround(z1)];
}

/** `count` standard-normal float32 values from `seed`: cats/noise.py::gaussian_noise, flattened (C order). */
export function gaussianNoise(count: number, seed: number): Float32Array {
  if (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) {
    throw new RangeError(`seed must be an integer in 0..${MAX_SEED}, got ${seed}`);
  }
  const out = new Float32Array(count);
  for (let block = 0; 4 * block < count; block++) {
    const [w0, w1, w2, w3] = philox4x32([block, 0, 0, 0], [seed, 0]);
    const values = [...boxMuller(w0, w1), ...boxMuller(w2, w3)];
    for (let j = 0; j < 4 && 4 * block + j < count; j++) out[4 * block + j] = values[j] as number;
  }
  return out;
}

/** A fresh random seed for "new noise". */
export function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0] ?? 0;
}
