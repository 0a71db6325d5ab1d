/**
 * The sampling core's browser half: the parts of cats/sampling.py a browser runs, one TypeScript function for
 * each Python one (tests/fixtures/sampling.json, written by Python, proves them equal; docs/ARCHITECTURE.md,
 * "Sampling core"):
 *
 *   checkSteps, checkGuidance, checkSampler     cats/schedule.py::check_steps, cats/sampling.py::check_guidance,
 *                                               check_choice("sampler", ...) (strength: schedule.ts)
 *   initialSample(noise, sigmas, image?)        initial_sample: noise, or the restyle mix (1 - s0) * image + s0 * noise
 *   runSampler({init, sigmas, step, sampler})   run_sampler: for i in 0..steps-1: x, pred_x0 = step(x, sigmas[i],
 *                                               sigmas[i+1]), with Heun's correction on steps ending at or above sigmaMin
 *
 * Not mirrored, because the browser has no use for them: check_call (the worker checks each request field as it
 * arrives, and the fast mode is its own request type), initial_noise (the worker takes the request's noise or
 * rng.ts's gaussianNoise), step_callback (onStep below only observes) and postprocess (canvas.ts draws the tensor).
 * The call's sequence, cats/sampling.py::generate and restyle, is the worker's sampleAndPost.
 *
 * One graph call per step: the Euler update and classifier-free guidance are inside the exported graph, so this
 * loop never combines velocities itself, so guidance cannot be applied twice.
 * Tensors are CHW (or NCHW) float32 arrays.
 */

export const SAMPLERS = ['euler', 'heun'] as const;
export type SamplerName = (typeof SAMPLERS)[number];

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

/** cats/schedule.py::check_steps. */
export function checkSteps(steps: number): number {
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`num_inference_steps must be a positive integer, got ${steps}`);
  return steps;
}

/** cats/sampling.py::check_guidance. */
export function checkGuidance(guidance: number): number {
  if (!Number.isFinite(guidance) || guidance < 0) {
    throw new RangeError(`guidance_scale must be a finite number >= 0 (1 = no guidance), got ${guidance}`);
  }
  return guidance;
}

/** cats/sampling.py::check_choice("sampler", ...). */
export function checkSampler(sampler: string): SamplerName {
  if (!(SAMPLERS as readonly string[]).includes(sampler)) {
    throw new RangeError(`sampler must be one of ${SAMPLERS.join(', ')}, got ${sampler}`);
  }
  return sampler as SamplerName;
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
  /** 'euler' (default) or 'heun': x + dt/2 (v + v_end), from a second graph call at the end point. */
  sampler?: SamplerName;
  /** Needed by Heun, which skips its correction on steps ending below it: the manifest's generator.sigma_min. */
  sigmaMin?: number;
  /** After each step (observes only; Python's on_step may also replace the sample). */
  onStep?: (e: StepEvent) => void;
  isCancelled?: () => boolean;
  now?: () => number;
}

/**
 * Integrate from sigmas[0] to the final sigma (cats/sampling.py::run_sampler); returns the final sample and each
 * step's time in ms. Heun: a step gives x + dt v; a second call at the end point with the same dt gives
 * x_next + dt v_end, so the update is their mean with x. Not on steps ending below sigmaMin (the last one ends at
 * 0): there the clamped x -> v slope is wrong and the step is tiny anyway.
 */
export async function runSampler(o: SampleOptions): Promise<{ image: Float32Array; stepMs: number[] }> {
  const sampler = checkSampler(o.sampler ?? 'euler');
  const sigmaMin = o.sigmaMin;
  if (sampler === 'heun' && sigmaMin === undefined) throw new RangeError("heun needs sigmaMin (the manifest's generator.sigma_min)");
  const now = o.now ?? (() => performance.now());
  const total = o.sigmas.length - 1;
  const stepMs: number[] = [];
  let x = o.init;
  for (let i = 0; i < total; i++) {
    if (o.isCancelled?.()) throw new CancelledError('generation stopped');
    const sigma = o.sigmas[i] as number;
    const sigmaNext = o.sigmas[i + 1] as number;
    const t0 = now();
    let { next, predX0 } = await o.step(x, sigma, sigmaNext);
    if (sampler === 'heun' && sigmaNext >= (sigmaMin as number)) {
      const { next: end } = await o.step(next, sigmaNext, 2 * sigmaNext - sigma);
      const start = x;
      next = end.map((e, j) => Math.fround(0.5 * Math.fround((start[j] as number) + e)));
    }
    const ms = now() - t0;
    stepMs.push(ms);
    x = next;
    o.onStep?.({ index: i, total, sigma, sigmaNext, sample: next, predX0, ms });
  }
  return { image: x, stepMs };
}
