/**
 * Seeded initial noise. The browser cannot reproduce torch.randn, so a seed here names a *browser* noise:
 * mulberry32(seed) uniforms turned into standard normals by Box-Muller. The same seed gives the same cat in
 * every browser; Python and the golden replay pass their noise explicitly instead.
 */

/** mulberry32: a 32-bit state PRNG returning uniforms in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` standard-normal float32 values from `seed` (Box-Muller, both outputs used). */
export function gaussianNoise(count: number, seed: number): Float32Array {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new RangeError(`seed must be an integer in 0..4294967295, got ${seed}`);
  }
  const next = mulberry32(seed);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i += 2) {
    const u1 = 1 - next(); // (0, 1]: log never sees 0
    const u2 = next();
    const r = Math.sqrt(-2 * Math.log(u1));
    out[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < count) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}

/** A fresh random seed for "new noise". */
export function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0] ?? 0;
}
