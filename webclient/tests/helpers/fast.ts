/**
 * The few-step graph's golden fixtures (golden.json "fast", written by cats/export/fast.py::make_fast_golden): one
 * noise, the first step of the 2-step schedule and the 1- and 2-step images per case, from the fp32 graph.
 * A bundle without them FAILS with the command that makes them; it never skips.
 */
import type { Manifest } from '../../src/lib/manifest';
import type { EncodedArray, Golden } from './bundle';

export interface FastGolden {
  variant: string;
  tolerance: { step: number; final: number };
  noise: EncodedArray;
  /** sigma, sigma_next of the first step. */
  first_step: [number, number];
  cases: { name: string; breeds: Record<string, number>; class_weights: number[]; next_sample: EncodedArray;
    pred_x0: EncodedArray; final: Record<string, EncodedArray> }[];
}

const HOW = 'export a pipeline with a few-step student: python export.py --model <pipeline-dir> --out webclient/public/models';

export function fastGolden(manifest: Manifest, golden: Golden): FastGolden {
  if (!manifest.generator_fast) throw new Error(`manifest.json has no generator_fast (no few-step graph); ${HOW}`);
  const fast = (golden as Golden & { fast?: FastGolden }).fast;
  if (!fast) throw new Error(`golden.json has no "fast" fixtures although manifest.json has generator_fast; ${HOW}`);
  return fast;
}
