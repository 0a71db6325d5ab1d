/**
 * The exported bundle under public/models (manifest.json, golden.json, graphs), read in node for the golden
 * replay and the end-to-end tests. A missing bundle FAILS with the command that makes one; it never skips.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import type { GuidanceScales } from '../../src/lib/engine';
import { graphVariant, parseManifest, type GraphKind, type Manifest } from '../../src/lib/manifest';

export const MODELS_DIR = fileURLToPath(new URL('../../public/models/', import.meta.url));

export interface EncodedArray { dtype: string; shape: number[]; base64: string }

export interface Golden {
  variant: string;
  tolerance: { step: number; final: number; logits: number; features: number; ood_score_rel: number };
  guidance_scale: number;
  /** The autoguidance scale the cases were made with; null when the step graph has no guide. */
  autoguidance_scale: number | null;
  /**
   * The sigmas [lo, hi] where the finals and the transfer guided (scales 1 at steps starting outside); null: every
   * step. The cases' next_sample and pred_x0 (the first step) are at the full scales whatever the interval.
   */
  guidance_interval: [number, number] | null;
  steps: number;
  sigmas: number[];
  noise: EncodedArray;
  cases: { name: string; breeds: Record<string, number>; class_weights: number[]; next_sample: EncodedArray;
    pred_x0: EncodedArray; final: EncodedArray }[];
  transfer: { breeds: Record<string, number>; class_weights: number[]; strength: number; steps: number; sigmas: number[];
    image: EncodedArray; noise: EncodedArray; expected: EncodedArray };
  classifier?: { names: string[]; image: EncodedArray; logits: EncodedArray; features: EncodedArray; verdicts: string[];
    ood_scores: number[] | null };
}

const HOW = 'export a pipeline first: python export.py --model <pipeline-dir> --out webclient/public/models';

export function loadBundle(): { manifest: Manifest; golden: Golden } {
  const manifestPath = join(MODELS_DIR, 'manifest.json');
  if (!existsSync(manifestPath)) throw new Error(`no exported models: ${manifestPath} is missing; ${HOW}`);
  const manifest = parseManifest(JSON.parse(readFileSync(manifestPath, 'utf8')));
  const goldenPath = join(MODELS_DIR, manifest.golden ?? 'golden.json');
  if (!existsSync(goldenPath)) throw new Error(`${goldenPath} is missing (the export writes it); ${HOW}`);
  return { manifest, golden: JSON.parse(readFileSync(goldenPath, 'utf8')) as Golden };
}

/**
 * The guidance scales the golden finals and transfer were sampled with, as the step graph takes them, in the golden
 * guidance interval. `{ ...goldenScales(golden), interval: null }` is the first step's (next_sample, pred_x0).
 */
export function goldenScales(golden: Golden): GuidanceScales {
  if (golden.guidance_interval === undefined) throw new Error(`golden.json has no guidance_interval (made before it); ${HOW}`);
  return { guidance: golden.guidance_scale, autoguidance: golden.autoguidance_scale, interval: golden.guidance_interval };
}

/** {"dtype": "float32", "shape", "base64"} (little-endian) -> Float32Array. */
export function decodeArray(a: EncodedArray): Float32Array {
  if (a.dtype !== 'float32') throw new Error(`golden arrays are float32, got ${a.dtype}`);
  const bytes = Buffer.from(a.base64, 'base64');
  const out = new Float32Array(bytes.byteLength / 4);
  new Uint8Array(out.buffer).set(bytes);
  const n = a.shape.reduce((x, y) => x * y, 1);
  if (out.length !== n) throw new Error(`golden array has ${out.length} values, its shape ${a.shape} says ${n}`);
  return out;
}

export function graphBytes(m: Manifest, kind: GraphKind, variant?: string): Uint8Array {
  const { spec } = graphVariant(m, kind, variant);
  const path = join(MODELS_DIR, spec.file);
  if (!existsSync(path)) throw new Error(`${path} is missing although manifest.json lists it; ${HOW}`);
  return readFileSync(path);
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export async function nodeSession(m: Manifest, kind: GraphKind, variant?: string): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(graphBytes(m, kind, variant), { intraOpNumThreads: 1, graphOptimizationLevel: 'all' });
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

export { ort };
