/**
 * Graph calls, written against the part of the onnxruntime API that onnxruntime-web and onnxruntime-node share,
 * so the browser worker and the node golden-replay test run the very same code.
 *
 * Generator step graph (manifest.generator): sample (B,3,S,S), sigma (B), sigma_next (B), class_weights (B,13),
 * guidance_scale (1), and autoguidance_scale (1) when it holds a guide network (manifest.generator.guide)
 * -> next_sample (B,3,S,S), pred_x0 (B,3,S,S). Few-step graph (manifest.generator_fast): the same without either
 * guidance input (guidance is baked in). Classifier: image (B,3,S,S) -> logits (B,13), features (B,D).
 */
import type { GeneratorSection, Manifest, TensorSpec } from './manifest';
import {
  CLASSIFIER_FEATURES, CLASSIFIER_INPUTS, CLASSIFIER_OUTPUTS, GENERATOR_FAST_INPUTS, GENERATOR_GUIDE_INPUT, GENERATOR_INPUTS,
  GENERATOR_OUTPUTS,
} from './manifest';
import { WorkerError } from './protocol';
import { guidanceAt, type GuidanceInterval, type StepFn, type StepScales } from './sampler';

export interface OrtTensorLike {
  readonly data: unknown;
  readonly dims: readonly number[];
}

export interface OrtSessionLike {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, OrtTensorLike>): Promise<Record<string, OrtTensorLike>>;
}

export interface OrtLike {
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => OrtTensorLike;
}

/** Throw WorkerError('model') when a session's names differ from what the manifest says. */
export function checkSession(session: OrtSessionLike, inputs: TensorSpec[], outputs: TensorSpec[], label: string): void {
  const want = (specs: TensorSpec[]) => specs.map((s) => s.name).sort().join(', ');
  const have = (names: readonly string[]) => [...names].sort().join(', ');
  if (want(inputs) !== have(session.inputNames) || want(outputs) !== have(session.outputNames)) {
    throw new WorkerError('model', `the ${label} graph has inputs [${have(session.inputNames)}] and outputs `
      + `[${have(session.outputNames)}], but manifest.json lists [${want(inputs)}] and [${want(outputs)}]`);
  }
}

function output(result: Record<string, OrtTensorLike>, name: string): Float32Array {
  const t = result[name];
  if (!t || !(t.data instanceof Float32Array)) throw new WorkerError('model', `the graph returned no float32 "${name}"`);
  return t.data;
}

/** Image tensor length for a batch: B*3*S*S. */
export function imageLength(g: GeneratorSection, batch = 1): number {
  return batch * g.channels * g.image_size * g.image_size;
}

/**
 * The guided graph's scales, as checkGuidance and checkAutoguidance return them (autoguidance null when no guide runs:
 * a scale of 1, or a graph without a guide), and the sigmas where they apply (manifest.generator.defaults
 * .guidance_interval; null: every step).
 */
export interface GuidanceScales { guidance: number; autoguidance: number | null; interval: GuidanceInterval | null }

/**
 * A StepFn for a batch of `batch` images sharing `weights` ((B*slots) row-major) and the guidance scales. The scales
 * go into the graph; they are never applied here. Each call feeds the scales guidanceAt gives for its sigma: the
 * request's inside the interval, 1 outside it (the graph then returns the conditional velocity; it still runs every
 * branch). A graph with a guide always takes autoguidance_scale (its guide runs either way; guide.off turns its term
 * off, as cats/onnx/pipeline.py feeds it).
 */
export function generatorStep(ort: OrtLike, session: OrtSessionLike, m: Manifest, weights: Float32Array,
  scales: GuidanceScales, batch = 1): StepFn {
  const scalar = (v: number) => new ort.Tensor('float32', Float32Array.of(v), [1]);
  const guide = m.generator.guide;
  if (!guide && scales.autoguidance !== null) throw new RangeError('autoguidance needs a guide network, and this graph has none');
  const feedsFor = (at: StepScales): Record<string, OrtTensorLike> => {
    const feeds: Record<string, OrtTensorLike> = { [GENERATOR_INPUTS[4]]: scalar(at.guidance as number) };
    if (guide) feeds[GENERATOR_GUIDE_INPUT] = scalar(at.autoguidance ?? guide.off);
    return feeds;
  };
  return stepWith(ort, session, m, weights, batch, (sigma) => feedsFor(guidanceAt(scales, scales.interval, sigma)));
}

/** A StepFn of the few-step graph (manifest.generator_fast): the same feeds without the guidance scales. */
export function fastGeneratorStep(ort: OrtLike, session: OrtSessionLike, m: Manifest, weights: Float32Array,
  batch = 1): StepFn {
  return stepWith(ort, session, m, weights, batch, () => ({}));
}

/**
 * One step graph call per StepFn call: sample, sigma, sigma_next and class_weights, plus the graph's `extra` feeds
 * for the step starting at sigma.
 */
function stepWith(ort: OrtLike, session: OrtSessionLike, m: Manifest, weights: Float32Array, batch: number,
  extra: (sigma: number) => Record<string, OrtTensorLike>): StepFn {
  const g = m.generator;
  const slots = m.null_id + 1;
  if (weights.length !== batch * slots) {
    throw new RangeError(`class weights have ${weights.length} values, expected ${batch} x ${slots}`);
  }
  const [sample, sigmaName, sigmaNextName, weightsName] = GENERATOR_FAST_INPUTS;
  const [nextName, predName] = GENERATOR_OUTPUTS;
  const imageDims = [batch, g.channels, g.image_size, g.image_size];
  const w = new ort.Tensor('float32', weights, [batch, slots]);
  return async (x, sigma, sigmaNext) => {
    if (x.length !== imageLength(g, batch)) {
      throw new RangeError(`sample has ${x.length} values, expected ${imageLength(g, batch)}`);
    }
    const result = await session.run({
      [sample]: new ort.Tensor('float32', x, imageDims),
      [sigmaName]: new ort.Tensor('float32', new Float32Array(batch).fill(sigma), [batch]),
      [sigmaNextName]: new ort.Tensor('float32', new Float32Array(batch).fill(sigmaNext), [batch]),
      [weightsName]: w,
      ...extra(sigma),
    });
    return { next: output(result, nextName), predX0: output(result, predName) };
  };
}

/**
 * Raw logits (B*labels) and, when the graph has them, the pooled features (B*D) the familiarity score reads, for
 * already-normalised classifier input (B,3,S,S). Graphs exported before the familiarity score have no features.
 */
export async function classifierOutputs(ort: OrtLike, session: OrtSessionLike, m: Manifest, input: Float32Array,
  batch = 1): Promise<{ logits: Float32Array; features: Float32Array | null }> {
  const c = m.classifier;
  if (!c) throw new WorkerError('model', 'this export has no classifier graph');
  const s = c.image_size;
  if (input.length !== batch * 3 * s * s) throw new RangeError(`classifier input has ${input.length} values, expected ${batch}x3x${s}x${s}`);
  const result = await session.run({ [CLASSIFIER_INPUTS[0]]: new ort.Tensor('float32', input, [batch, 3, s, s]) });
  const features = session.outputNames.includes(CLASSIFIER_FEATURES) ? output(result, CLASSIFIER_FEATURES) : null;
  return { logits: output(result, CLASSIFIER_OUTPUTS[0]), features };
}
