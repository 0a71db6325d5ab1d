/**
 * The sampling loop, mirroring the Python pipeline (docs/ARCHITECTURE.md, "One generator step graph call"):
 *
 *   x = noise                                   (generate; sigmas[0] == 1)
 *   x = (1 - s0) * image + s0 * noise           (restyle; sigmas = transferSigmas(...), s0 = sigmas[0])
 *   for i in 0..steps-1:  x, pred_x0 = step(x, sigmas[i], sigmas[i+1])
 *
 * One graph call per step: the Euler update and classifier-free guidance are inside the exported graph, so this
 * loop never combines velocities itself, so guidance cannot be applied twice.
 * Tensors are CHW (or NCHW) float32 arrays.
 */

export interface StepResult {
  next: Float32Array;
  predX0: Float32Array;
}

/** One graph call: the sample at `sigma` -> the sample at `sigmaNext` and the predicted clean image. */
export type StepFn = (x: Float32Array, sigma: number, sigmaNext: number) => Promise<StepResult>;

export interface StepEvent {
  index: number;
  total: number;
  sigma: number;
  sigmaNext: number;
  sample: Float32Array;
  predX0: Float32Array;
  ms: number;
}

export class CancelledError extends Error {
  override name = 'CancelledError';
}

/** The first sample: pure noise, or the restyle mix (1 - s0) * image + s0 * noise in float32 like PyTorch. */
export function initialSample(noise: Float32Array, sigmas: Float32Array, image?: Float32Array): Float32Array {
  const s0 = sigmas[0];
  if (s0 === undefined) throw new RangeError('the schedule is empty');
  if (!image) return Float32Array.from(noise);
  if (image.length !== noise.length) {
    throw new RangeError(`image has ${image.length} values but the noise has ${noise.length}`);
  }
  const f = Math.fround;
  const keep = f(1 - s0);
  return image.map((v, i) => f(f(keep * v) + f(s0 * (noise[i] as number))));
}

export interface SampleOptions {
  init: Float32Array;
  sigmas: Float32Array;
  step: StepFn;
  onStep?: (e: StepEvent) => void;
  isCancelled?: () => boolean;
  now?: () => number;
}

/** Integrate from sigmas[0] to the final sigma; returns the final sample and each step's time in ms. */
export async function runSampler(o: SampleOptions): Promise<{ image: Float32Array; stepMs: number[] }> {
  const now = o.now ?? (() => performance.now());
  const total = o.sigmas.length - 1;
  const stepMs: number[] = [];
  let x = o.init;
  for (let i = 0; i < total; i++) {
    if (o.isCancelled?.()) throw new CancelledError('generation stopped');
    const sigma = o.sigmas[i] as number;
    const sigmaNext = o.sigmas[i + 1] as number;
    const t0 = now();
    const { next, predX0 } = await o.step(x, sigma, sigmaNext);
    const ms = now() - t0;
    stepMs.push(ms);
    x = next;
    o.onStep?.({ index: i, total, sigma, sigmaNext, sample: next, predX0, ms });
  }
  return { image: x, stepMs };
}
