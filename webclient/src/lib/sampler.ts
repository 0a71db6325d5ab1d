/**
 * The sampling core's browser half: the parts of cats/sampling.py a browser runs, one TypeScript function for
 * each Python one (tests/fixtures/sampling.json, written by Python, proves them equal; docs/ARCHITECTURE.md,
 * "Sampling core"):
 *
 *   checkSteps, checkGuidance,                  cats/schedule.py::check_steps, cats/sampling.py::check_guidance,
 *   checkAutoguidance, checkSampler             check_autoguidance, check_choice("sampler", ...) (strength: schedule.ts)
 *   checkInterval, guidanceAt                   check_interval, guidance_at (cats/convention.py::in_interval): the
 *                                               scales a step starting at sigma feeds (1 outside the interval)
 *   initialSample(noise, sigmas, image?)        initial_sample: noise, or the restyle mix (1 - s0) * image + s0 * noise
 *   runSampler({init, sigmas, step, sampler})   run_sampler: for i in 0..steps-1: x, pred_x0 = step(x, sigmas[i],
 *                                               sigmas[i+1]), with Heun's correction on steps ending at or above sigmaMin
 *
 * Not mirrored, because the browser has no use for them: check_call (the worker checks each request field as it
 * arrives, and the fast mode is its own request type), initial_noise (the worker takes the request's noise or
 * rng.ts's gaussianNoise), step_callback (onStep below only observes) and postprocess (canvas.ts draws the tensor).
 * The call's sequence, cats/sampling.py::generate and restyle, is the worker's sampleAndPost.
 *
 * One graph call per step: the Euler update, classifier-free guidance and autoguidance are inside the exported graph,
 * so this loop never combines velocities itself, so guidance cannot be applied twice.
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

/**
 * cats/sampling.py::check_autoguidance: the weight of the guide network (1 = off), checked against the graph
 * (`hasGuide`: manifest.generator.guide is set). Returns the scale, or null when no guide runs (a scale of 1).
 */
export function checkAutoguidance(scale: number, hasGuide: boolean): number | null {
  if (typeof scale !== 'number' || !Number.isFinite(scale) || scale < 1) {
    throw new RangeError(`autoguidance_scale must be a finite number >= 1 (1 = off: classifier-free guidance only), got ${scale}`);
  }
  if (scale !== 1 && !hasGuide) {
    throw new RangeError(`autoguidance_scale=${scale} needs a guide network, and these weights have none: use 1 `
      + '(classifier-free guidance only), or export weights saved with a guide');
  }
  return scale === 1 ? null : scale;
}

/** Sigmas (lo, hi) where guidance applies (Kynkäänniemi et al. 2024); null: every step. */
export type GuidanceInterval = readonly [number, number];

/**
 * cats/sampling.py::check_interval: two finite numbers with 0 <= lo < hi <= 1, or null (guidance at every step).
 * Stricter than Python only in its types: the two values must be numbers (Python also takes what float() reads).
 */
export function checkInterval(interval: unknown): GuidanceInterval | null {
  if (interval === null) return null;
  if (!Array.isArray(interval) || interval.length !== 2 || !interval.every((v) => typeof v === 'number')) {
    throw new RangeError(`guidance_interval must be two sigmas (lo, hi) or null, got ${JSON.stringify(interval)}`);
  }
  const [lo, hi] = interval as [number, number];
  if (!(Number.isFinite(lo) && Number.isFinite(hi) && lo >= 0 && lo < hi && hi <= 1)) {
    throw new RangeError(`guidance_interval must have 0 <= lo < hi <= 1, got [${lo}, ${hi}]`);
  }
  return [lo, hi];
}

/** A step's guidance scales: `guidance` null in fast mode (baked in), `autoguidance` null when no guide runs. */
export interface StepScales { guidance: number | null; autoguidance: number | null }

/**
 * Twin of cats/sampling.py::guidance_at (with cats/convention.py::in_interval): the scales a step starting at `sigma`
 * applies. Inside the interval (lo <= sigma <= hi, both ends included; a null interval holds every sigma) the call's
 * own; outside it guidance 1 and no guide (the conditional velocity alone); fast mode's (null, null) everywhere.
 */
export function guidanceAt(scales: StepScales, interval: GuidanceInterval | null, sigma: number): StepScales {
  if (scales.guidance === null || interval === null || (interval[0] <= sigma && sigma <= interval[1])) {
    return { guidance: scales.guidance, autoguidance: scales.autoguidance };
  }
  return { guidance: 1, autoguidance: null };
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
