/**
 * The export manifest (`public/models/manifest.json`, written by `python export.py`): the one source of
 * breeds, ids, sizes, normalisation, schedules, graph files and their sha256. Nothing here retypes those
 * facts; this module only describes the JSON's shape and refuses a manifest that does not have it.
 * Schema: docs/ARCHITECTURE.md, "Manifest".
 */
import type { OodSection } from './ood';
import { checkInterval, type GuidanceInterval } from './sampler';

export interface TensorSpec {
  name: string;
  shape: (number | string)[];
  dtype: string;
}

export interface GraphVariant {
  file: string;
  sha256: string;
  bytes: number;
  error?: Record<string, number>;
}

interface GraphSection {
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  variants: Record<string, GraphVariant>;
  default_variant: string;
}

export interface GeneratorSection extends GraphSection {
  image_size: number;
  channels: number;
  layout: string;
  pixel_range: [number, number];
  prediction_type: string;
  scheduler: { name: string; shift: number; num_train_timesteps: number; sigmas: Record<string, number[]> };
  /**
   * autoguidance_scale only when `guide` is set. guidance_interval [lo, hi]: the sigmas where guidance applies (a
   * property of the weights; steps starting outside feed both scales as 1); absent or null: every step.
   */
  defaults: {
    num_inference_steps: number; guidance_scale: number; autoguidance_scale?: number;
    guidance_interval?: [number, number] | null;
  };
  /** The guide network inside the step graph (autoguidance); absent or null when the graph has none. */
  guide?: GuideSection | null;
}

/**
 * A weaker copy of the generator that runs inside the step graph (cats/export/manifest.py::guide_entry). The graph
 * then takes one more input, `input` (autoguidance_scale), and adds (w - 1) (v_cond - v_guide) to the CFG velocity
 * (cats/convention.py::guide), so `off` (1) is classifier-free guidance only.
 */
export interface GuideSection {
  hidden_size: number;
  depth: number;
  prediction_type: string;
  parameters: number;
  input: typeof GENERATOR_GUIDE_INPUT;
  off: number;
}

/**
 * The few-step student's step graph (cats/export/fast.py): the generator's inputs without guidance_scale, because
 * the student learned the teacher's guided images (`guidance.baked_in` is the teacher's scale). Its schedule lists
 * exact sigmas for each step count it was exported for; no other step count is valid.
 */
export interface FastGeneratorSection extends GraphSection {
  image_size: number;
  channels: number;
  prediction_type: string;
  scheduler: { name: string; sigmas: Record<string, number[]> };
  defaults: { num_inference_steps: number };
  guidance: { baked_in: number };
}

export interface ClassifierSection extends GraphSection {
  labels: string[];
  other_id: number;
  image_size: number;
  mean: number[];
  std: number[];
  crop: string;
  resize: string;
  temperature: number;
  unsure_threshold: number;
  /** Familiarity statistics (cats/ood); absent or null in exports made before them. */
  ood?: OodSection | null;
}

export interface Manifest {
  format: string;
  version: number;
  weights: { name: string; trained_on?: string; source?: string; [key: string]: unknown };
  breeds: string[];
  null_id: number;
  generator: GeneratorSection;
  /** The few-step graph; absent or null when the export has no few-step student. */
  generator_fast?: FastGeneratorSection | null;
  classifier?: ClassifierSection | null;
  golden?: string;
  /** Optional small PNGs, one per breed: a list in breed-id order or a map breed name -> file. */
  thumbnails?: string[] | Record<string, string>;
}

export type GraphKind = 'generator' | 'generator_fast' | 'classifier';

/** The generator step graph's inputs and outputs, by the names the export contract gives them. */
export const GENERATOR_INPUTS = ['sample', 'sigma', 'sigma_next', 'class_weights', 'guidance_scale'] as const;
export const GENERATOR_OUTPUTS = ['next_sample', 'pred_x0'] as const;
/** The step graph's sixth input, present exactly when manifest.generator.guide is set. */
export const GENERATOR_GUIDE_INPUT = 'autoguidance_scale';
/** The few-step graph: the same step without guidance_scale (same outputs). */
export const GENERATOR_FAST_INPUTS = ['sample', 'sigma', 'sigma_next', 'class_weights'] as const;
export const CLASSIFIER_INPUTS = ['image'] as const;
export const CLASSIFIER_OUTPUTS = ['logits'] as const;
/** The classifier output the familiarity score reads; required when manifest.classifier.ood is set. */
export const CLASSIFIER_FEATURES = 'features';

export class ManifestError extends Error {
  override name = 'ManifestError';
}

function need(cond: unknown, what: string): asserts cond {
  if (!cond) throw new ManifestError(`manifest.json is not a tiny-cats export: ${what}. Re-run python export.py.`);
}

function checkGraph(section: GraphSection, label: string, inputs: readonly string[], outputs: readonly string[]): void {
  need(Array.isArray(section.inputs) && Array.isArray(section.outputs), `${label}.inputs/outputs missing`);
  for (const name of inputs) {
    need(section.inputs.some((t) => t.name === name),
      `${label} has no input "${name}" (has ${section.inputs.map((t) => t.name).join(', ')})`);
  }
  for (const name of outputs) {
    need(section.outputs.some((t) => t.name === name),
      `${label} has no output "${name}" (has ${section.outputs.map((t) => t.name).join(', ')})`);
  }
  need(section.variants && typeof section.variants === 'object', `${label}.variants missing`);
  need(section.default_variant in section.variants,
    `${label}.default_variant "${section.default_variant}" is not one of ${Object.keys(section.variants).join(', ')}`);
  for (const [key, v] of Object.entries(section.variants)) {
    need(typeof v.file === 'string' && /^[0-9a-f]{64}$/.test(v.sha256) && Number.isInteger(v.bytes),
      `${label}.variants.${key} needs file, sha256 (64 hex) and bytes`);
  }
}

/** The guide block, its input and its default agree: all present (a guided graph) or all absent. */
function checkGuide(g: GeneratorSection): void {
  const takes = g.inputs.some((t) => t.name === GENERATOR_GUIDE_INPUT);
  const scale = g.defaults.autoguidance_scale;
  if (!g.guide) {
    need(!takes, `generator takes ${GENERATOR_GUIDE_INPUT}, but generator.guide is null (no guide network to weigh)`);
    need(scale === undefined, 'generator.defaults.autoguidance_scale is set, but generator.guide is null');
    return;
  }
  need(g.guide.input === GENERATOR_GUIDE_INPUT,
    `generator.guide.input is ${JSON.stringify(g.guide.input)}, expected "${GENERATOR_GUIDE_INPUT}"`);
  need(takes, `generator has a guide but no input "${GENERATOR_GUIDE_INPUT}" (has ${g.inputs.map((t) => t.name).join(', ')})`);
  // 1 is where cats/convention.py::guide reduces to CFG; the page's slider and share links start there
  need(g.guide.off === 1, `generator.guide.off is ${String(g.guide.off)}, expected 1 (the scale that turns the guide off)`);
  need(typeof scale === 'number' && Number.isFinite(scale) && scale >= 1,
    `generator.defaults.autoguidance_scale is ${String(scale)}, expected a number >= 1 with a guide`);
}

function checkFast(f: FastGeneratorSection, g: GeneratorSection): void {
  need(f.image_size === g.image_size && f.channels === g.channels,
    `generator_fast makes ${f.image_size}px images with ${f.channels} channels, generator ${g.image_size}px with ${g.channels}`);
  checkGraph(f, 'generator_fast', GENERATOR_FAST_INPUTS, GENERATOR_OUTPUTS);
  for (const name of ['guidance_scale', GENERATOR_GUIDE_INPUT]) {
    need(!f.inputs.some((t) => t.name === name),
      `generator_fast takes ${name}, but its guidance is baked in (a second guidance would apply it twice)`);
  }
  need(typeof f.guidance?.baked_in === 'number', 'generator_fast.guidance.baked_in missing');
  const sigmas = f.scheduler?.sigmas;
  need(sigmas && Object.keys(sigmas).length > 0, 'generator_fast.scheduler.sigmas missing');
  for (const [steps, list] of Object.entries(sigmas)) {
    need(Number.isInteger(Number(steps)) && Number(steps) >= 1 && Array.isArray(list) && list.length === Number(steps) + 1
      && list[0] === 1 && list[list.length - 1] === 0,
    `generator_fast.scheduler.sigmas["${steps}"] should be ${steps} + 1 sigmas from 1 down to 0`);
  }
  need(String(f.defaults?.num_inference_steps) in sigmas,
    `generator_fast.defaults.num_inference_steps ${String(f.defaults?.num_inference_steps)} is not one of its step counts `
    + `(${Object.keys(sigmas).join(', ')})`);
}

/** Validate parsed JSON as a manifest; throws ManifestError naming the missing or bad field. */
export function parseManifest(json: unknown): Manifest {
  need(json && typeof json === 'object', 'not a JSON object');
  const m = json as Manifest;
  need(m.format === 'tiny-cats-onnx', `format is ${JSON.stringify(m.format)}, expected "tiny-cats-onnx"`);
  need(m.version === 1, `version ${String(m.version)} is not supported (this client reads version 1)`);
  need(Array.isArray(m.breeds) && m.breeds.length > 0, 'breeds missing');
  need(Number.isInteger(m.null_id) && m.null_id === m.breeds.length,
    `null_id ${String(m.null_id)} should be the slot after the ${m.breeds.length} breeds`);
  need(m.weights && typeof m.weights.name === 'string', 'weights.name missing');
  const g = m.generator;
  need(g && Number.isInteger(g.image_size) && g.channels === 3, 'generator.image_size/channels missing');
  need(g.scheduler && g.scheduler.sigmas && Object.keys(g.scheduler.sigmas).length > 0, 'generator.scheduler.sigmas missing');
  need(g.defaults && Number.isInteger(g.defaults.num_inference_steps), 'generator.defaults missing');
  checkGraph(g, 'generator', GENERATOR_INPUTS, GENERATOR_OUTPUTS);
  checkGuide(g);
  if (g.defaults.guidance_interval !== undefined) {
    try {
      checkInterval(g.defaults.guidance_interval); // cats/sampling.py::check_interval, as the Python pipelines read it
    } catch (err) {
      need(false, `generator.defaults.${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (m.generator_fast) checkFast(m.generator_fast, g);
  if (m.classifier) {
    const c = m.classifier;
    need(Array.isArray(c.labels) && c.labels.length === m.breeds.length + 1, 'classifier.labels should be the breeds + "other"');
    need(c.mean?.length === 3 && c.std?.length === 3, 'classifier.mean/std need 3 values');
    need(typeof c.temperature === 'number' && c.temperature > 0, 'classifier.temperature must be positive');
    checkGraph(c, 'classifier', CLASSIFIER_INPUTS, c.ood ? [...CLASSIFIER_OUTPUTS, CLASSIFIER_FEATURES] : CLASSIFIER_OUTPUTS);
    if (c.ood) {
      need(typeof c.ood.threshold === 'number' && c.ood.threshold > 0, 'classifier.ood.threshold must be positive');
      need(c.ood.whitener?.base64 && c.ood.class_means?.base64, 'classifier.ood needs whitener and class_means arrays');
    }
  }
  return m;
}

/**
 * The autoguidance scale a run uses unless told otherwise: the manifest's default with a guide, else 1 (off: the
 * graph has no guide, and the only scale it accepts is 1).
 */
export function defaultAutoguidance(m: Manifest): number {
  return m.generator.guide ? (m.generator.defaults.autoguidance_scale as number) : 1;
}

/** The sigmas [lo, hi] where the weights' guidance applies (parseManifest checked them); null: every step. */
export function guidanceInterval(m: Manifest): GuidanceInterval | null {
  return m.generator.defaults.guidance_interval ?? null;
}

/** The step counts the export wrote exact sigmas for, ascending. */
export function exportedStepCounts(m: Manifest): number[] {
  return Object.keys(m.generator.scheduler.sigmas).map(Number).sort((a, b) => a - b);
}

/** The step counts the few-step graph was exported for, ascending; [] when the export has no few-step graph. */
export function fastStepCounts(m: Manifest): number[] {
  const f = m.generator_fast;
  return f ? Object.keys(f.scheduler.sigmas).map(Number).sort((a, b) => a - b) : [];
}

/** The few-step graph's exact sigmas for `steps` (steps + 1 values, 1 down to 0); throws naming the valid counts. */
export function fastSigmas(m: Manifest, steps: number): Float32Array {
  const f = m.generator_fast;
  if (!f) throw new ManifestError('this export has no few-step graph (manifest.generator_fast): fast mode is not in these weights');
  const list = f.scheduler.sigmas[String(steps)];
  if (!list) throw new RangeError(`the fast graph runs ${fastStepCounts(m).join(', ')} steps, got ${steps}`);
  return Float32Array.from(list);
}

/** The chosen variant of a graph; throws naming the variants that exist. */
export function graphVariant(m: Manifest, kind: GraphKind, variant?: string): { key: string; spec: GraphVariant } {
  const section = m[kind];
  if (!section) throw new ManifestError(`this export has no ${kind} graph`);
  const key = variant ?? section.default_variant;
  const spec = section.variants[key];
  if (!spec) {
    throw new Error(`unknown ${kind} variant "${key}": this export has ${Object.keys(section.variants).join(', ')}`);
  }
  return { key, spec };
}

/** Thumbnail file of each breed (in breed-id order), or null when the export shipped none. */
export function thumbnailFiles(m: Manifest): string[] | null {
  const t = m.thumbnails;
  if (!t) return null;
  const files = Array.isArray(t) ? t : m.breeds.map((b) => t[b]);
  if (files.length !== m.breeds.length || files.some((f) => typeof f !== 'string')) return null;
  return files as string[];
}
