/**
 * The worker's checks of a request's values, where they enter from the page: the sampling core's checks
 * (src/lib/sampler.ts, mirrors of cats/sampling.py) against the loaded manifest, each refusal turned into
 * WorkerError('input') with the core's message. No onnxruntime or worker globals here, so node tests run them.
 */
import type { GuidanceScales } from '../lib/engine';
import { guidanceInterval, type Manifest } from '../lib/manifest';
import { WorkerError } from '../lib/protocol';
import { checkAutoguidance, checkGuidance } from '../lib/sampler';

/** A request value refused by the sampling core's checks (RangeError) is the caller's input error. */
export function checked<T>(check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof RangeError) throw new WorkerError('input', err.message);
    throw err;
  }
}

export function checkWeights(m: Manifest, weights: number[]): Float32Array {
  if (weights.length !== m.null_id + 1) {
    throw new WorkerError('input', `class weights need ${m.null_id + 1} values, got ${weights.length}`);
  }
  return Float32Array.from(weights);
}

/**
 * A generate or restyle request's guidance and autoguidance scales, checked against the graph: an autoguidance
 * scale above 1 is refused when the step graph has no guide (manifest.generator.guide is null). They apply inside the
 * manifest's guidance interval (a property of the weights, not of the request).
 */
export function guidanceScales(m: Manifest, req: { guidance: number; autoguidance: number }): GuidanceScales {
  return {
    guidance: checked(() => checkGuidance(req.guidance)),
    autoguidance: checked(() => checkAutoguidance(req.autoguidance, Boolean(m.generator.guide))),
    interval: guidanceInterval(m),
  };
}
