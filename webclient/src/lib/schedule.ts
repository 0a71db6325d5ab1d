/**
 * Sampling schedules, mirroring cats/schedule.py (itself equal to diffusers' FlowMatchEulerDiscreteScheduler).
 *
 * The client prefers the exact sigmas the export wrote into the manifest; `flowSigmas` recomputes the same
 * float32 values for any other step count (a unit test checks it equals every list in the manifest).
 */
import type { Manifest } from './manifest';

const f32 = Math.fround;

function shifted(sigma: number, shift: number): number {
  return (shift * sigma) / (1 + (shift - 1) * sigma);
}

/** numpy.linspace(start, stop, num) in float64, endpoint included. */
function linspace(start: number, stop: number, num: number): number[] {
  if (num === 1) return [start];
  const step = (stop - start) / (num - 1);
  const out = Array.from({ length: num }, (_, i) => i * step + start);
  out[num - 1] = stop;
  return out;
}

/** Sigmas for `steps` Euler steps: float32 values, length steps + 1, from 1 down to a final 0. */
export function flowSigmas(steps: number, shift = 1.0, numTrainTimesteps = 1000): Float32Array {
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`steps must be a positive integer, got ${steps}`);
  if (!(shift > 0)) throw new RangeError(`shift must be positive, got ${shift}`);
  const n = numTrainTimesteps;
  // diffusers computes sigma_min in float32 (every operation rounded), then the grid in float64.
  const s = f32(shift);
  const t = f32(f32(1) / f32(n));
  const sigmaMin = f32(f32(s * t) / f32(1 + f32(f32(s - 1) * t)));
  const timesteps = linspace(n, sigmaMin * n, steps);
  const out = new Float32Array(steps + 1); // the last entry stays 0
  timesteps.forEach((ts, i) => { out[i] = shifted(ts / n, shift); });
  return out;
}

/** Python's round(): halves go to the even neighbour (round(2.5) == 2). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Sigmas for `steps` from the manifest when exported, else recomputed with the manifest's shift. */
export function sigmasFor(m: Manifest, steps: number): Float32Array {
  const exported = m.generator.scheduler.sigmas[String(steps)];
  if (exported) return Float32Array.from(exported);
  return flowSigmas(steps, m.generator.scheduler.shift, m.generator.scheduler.num_train_timesteps);
}

/**
 * The schedule tail that restyle (SDEdit) integrates, as cats/schedule.py::transfer_tail: of `steps` steps
 * run the last round(steps * strength). Strength 0 gives [0] (no step: the image comes back unchanged).
 */
export function transferSigmas(full: Float32Array, strength: number): Float32Array {
  if (!(strength >= 0 && strength <= 1)) throw new RangeError(`strength must be in [0, 1], got ${strength}`);
  const steps = full.length - 1;
  const run = roundHalfEven(steps * strength);
  return full.slice(steps - run);
}
