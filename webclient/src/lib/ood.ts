/**
 * The familiarity score, mirroring cats/ood/score.py (OodStats.score): the classifier graph's `features` output
 * (the pooled stage named in manifest.classifier.ood.layer) -> t = sqrt(max(f, 0)) -> z = t W -> the squared
 * distance to the nearest whitened class mean. A picture scoring over the threshold is "unfamiliar". float64 math,
 * as NumPy does it; tests/unit/classify.test.ts replays Python-computed cases from tests/fixtures/classify.json.
 */

export interface EncodedArray { dtype: string; shape: number[]; base64: string }

export interface OodSection {
  method: string;
  transform: string;
  layer: string;
  threshold: number;
  tpr: number;
  dim: number;
  num_classes: number;
  output: string;
  whitener: EncodedArray;
  class_means: EncodedArray;
  info?: Record<string, unknown>;
}

export interface OodStats { threshold: number; dim: number; whitener: Float32Array; classMeans: Float32Array; classes: number }

/** {"dtype": "float32", "shape", "base64"} (little-endian, as cats/arrays.py writes it) -> Float32Array. */
export function decodeFloat32(a: EncodedArray): Float32Array {
  if (a.dtype !== 'float32') throw new RangeError(`expected a float32 array, got ${a.dtype}`);
  const bin = atob(a.base64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  const view = new DataView(bytes.buffer);
  const out = new Float32Array(bytes.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  const n = a.shape.reduce((x, y) => x * y, 1);
  if (out.length !== n) throw new RangeError(`array has ${out.length} values, its shape [${a.shape.join(', ')}] says ${n}`);
  return out;
}

export function oodStats(s: OodSection): OodStats {
  if (s.method !== 'mahalanobis' || s.transform !== 'sqrt') {
    throw new RangeError(`familiarity method ${s.method}/${s.transform} is not one this client computes (mahalanobis/sqrt)`);
  }
  const [d, d2] = s.whitener.shape;
  const [k, d3] = s.class_means.shape;
  if (d !== d2 || d !== d3 || !d || !k) {
    throw new RangeError(`familiarity arrays have shapes [${s.whitener.shape.join(', ')}] and [${s.class_means.shape.join(', ')}]`);
  }
  if (!(s.threshold > 0)) throw new RangeError(`familiarity threshold must be positive, got ${s.threshold}`);
  return { threshold: s.threshold, dim: d, whitener: decodeFloat32(s.whitener), classMeans: decodeFloat32(s.class_means), classes: k };
}

/** Squared Mahalanobis distance of one feature vector (length D) to the nearest class. */
export function oodScore(features: ArrayLike<number>, o: OodStats): number {
  const d = o.dim;
  if (features.length !== d) throw new RangeError(`expected ${d} features, got ${features.length}`);
  const t = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    const f = features[i] as number;
    if (!Number.isFinite(f)) throw new RangeError('features contain NaN or inf; the classifier output is broken');
    t[i] = Math.sqrt(Math.max(f, 0));
  }
  const z = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    const ti = t[i] as number;
    if (ti === 0) continue;
    const row = i * d;
    for (let j = 0; j < d; j++) z[j] = (z[j] as number) + ti * (o.whitener[row + j] as number);
  }
  let best = Infinity;
  for (let c = 0; c < o.classes; c++) {
    let s = 0;
    for (let j = 0; j < d; j++) {
      const diff = (z[j] as number) - (o.classMeans[c * d + j] as number);
      s += diff * diff;
    }
    best = Math.min(best, s);
  }
  return best;
}
