/**
 * The generator's conditioning: a weight vector over the breeds plus the null slot (manifest.null_id).
 * One-hot for a breed, a normalised convex mix for a blend. The null slot is never chosen by the UI: the graph
 * uses it internally for classifier-free guidance.
 */
import type { Manifest } from './manifest';

export type Selection = { kind: 'breed'; breed: number } | { kind: 'blend'; weights: number[] };

/** (null_id + 1) float32 weights for a selection; throws naming the bad value. */
export function classWeights(m: Manifest, sel: Selection): Float32Array {
  const n = m.breeds.length;
  const w = new Float32Array(m.null_id + 1);
  if (sel.kind === 'breed') {
    if (!Number.isInteger(sel.breed) || sel.breed < 0 || sel.breed >= n) {
      throw new RangeError(`breed id ${sel.breed} is out of range: valid ids are 0..${n - 1}`);
    }
    w[sel.breed] = 1;
    return w;
  }
  if (sel.weights.length !== n) throw new RangeError(`a blend needs ${n} weights, got ${sel.weights.length}`);
  const bad = sel.weights.findIndex((v) => !(Number.isFinite(v) && v >= 0));
  if (bad >= 0) throw new RangeError(`blend weight for ${m.breeds[bad]} must be >= 0, got ${sel.weights[bad]}`);
  const sum = sel.weights.reduce((a, b) => a + b, 0);
  if (sum <= 0) throw new RangeError('a blend needs at least one breed with a weight above 0');
  sel.weights.forEach((v, i) => { w[i] = v / sum; });
  return w;
}

/** Replicate one weight vector for a batch: (B, slots) row-major. */
export function batchWeights(rows: Float32Array[]): Float32Array {
  const out = new Float32Array(rows.reduce((a, r) => a + r.length, 0));
  let o = 0;
  for (const r of rows) { out.set(r, o); o += r.length; }
  return out;
}
