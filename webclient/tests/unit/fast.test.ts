/**
 * The few-step graph (manifest.generator_fast): its manifest block, and the Python golden fixtures replayed through
 * the same StepFn and sampler the worker runs, on onnxruntime-node (1e-4 per step, 1e-3 final).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { checkSession, fastGeneratorStep } from '../../src/lib/engine';
import { fastSigmas, fastStepCounts, parseManifest, type Manifest } from '../../src/lib/manifest';
import { initialSample, runSampler } from '../../src/lib/sampler';
import { decodeArray, graphBytes, loadBundle, maxAbsDiff, nodeSession, ort, sha256 } from '../helpers/bundle';
import { fastGolden, type FastGolden } from '../helpers/fast';

let manifest: Manifest;
let golden: FastGolden;
let session: ort.InferenceSession;

beforeAll(async () => {
  const bundle = loadBundle();
  manifest = bundle.manifest;
  golden = fastGolden(manifest, bundle.golden);
  session = await nodeSession(manifest, 'generator_fast', golden.variant);
});

/** A copy of the bundle's manifest JSON with `edit` applied to its generator_fast block. */
function editedFast(edit: (f: Record<string, unknown>) => void): unknown {
  const m = JSON.parse(JSON.stringify(manifest)) as Record<string, unknown>;
  edit(m.generator_fast as Record<string, unknown>);
  return m;
}

describe('the few-step graph in the manifest', () => {
  it('lists its step counts with sigmas from 1 to 0, a default among them, and the guidance baked in', () => {
    const f = manifest.generator_fast;
    if (!f) throw new Error('no generator_fast');
    const counts = fastStepCounts(manifest);
    expect(counts).toContain(1);
    expect(counts).toContain(f.defaults.num_inference_steps);
    for (const n of counts) {
      const s = Array.from(fastSigmas(manifest, n));
      expect(s, `${n} steps`).toHaveLength(n + 1);
      expect(s[0]).toBe(1);
      expect(s[n]).toBe(0);
    }
    expect(Array.from(fastSigmas(manifest, 2).subarray(0, 2))).toEqual(golden.first_step);
    expect(() => fastSigmas(manifest, 3)).toThrow(`the fast graph runs ${counts.join(', ')} steps, got 3`);
    expect(f.inputs.map((t) => t.name)).not.toContain('guidance_scale');
    expect(f.guidance.baked_in).toBeGreaterThan(0);
  });

  it('has every variant file with the sha256, size and input/output names the manifest records', async () => {
    const f = manifest.generator_fast;
    if (!f) throw new Error('no generator_fast');
    expect(Object.keys(f.variants)).toContain(golden.variant);
    for (const [key, spec] of Object.entries(f.variants)) {
      const bytes = graphBytes(manifest, 'generator_fast', key);
      expect(bytes.byteLength, `generator_fast.${key} size`).toBe(spec.bytes);
      expect(sha256(bytes), `generator_fast.${key} sha256`).toBe(spec.sha256);
      const s = await ort.InferenceSession.create(bytes);
      expect(() => checkSession(s, f.inputs, f.outputs, `generator_fast.${key}`)).not.toThrow();
      await s.release();
    }
  });

  it('the worker refuses a guided step graph served as the few-step one (its inputs differ from the manifest)', async () => {
    const f = manifest.generator_fast;
    if (!f) throw new Error('no generator_fast');
    const guided = await nodeSession(manifest, 'generator', golden.variant);
    expect(() => checkSession(guided, f.inputs, f.outputs, 'few-step generator')).toThrow(/guidance_scale/);
    await guided.release();
  });

  it('an export without one is valid; a malformed one is refused naming the field', () => {
    expect(parseManifest(editedFast(() => {})).generator_fast).toBeTruthy();
    const none = JSON.parse(JSON.stringify(manifest)) as Record<string, unknown>;
    none.generator_fast = null;
    const m = parseManifest(none);
    expect(fastStepCounts(m)).toEqual([]);
    expect(() => fastSigmas(m, 1)).toThrow(/fast mode is not in these weights/);
    delete none.generator_fast;
    expect(parseManifest(none).generator_fast).toBeUndefined();

    expect(() => parseManifest(editedFast((f) => {
      (f.inputs as { name: string }[]).push({ name: 'guidance_scale' });
    }))).toThrow(/generator_fast takes guidance_scale, but its guidance is baked in/);
    expect(() => parseManifest(editedFast((f) => { f.defaults = { num_inference_steps: 3 }; })))
      .toThrow(/num_inference_steps 3 is not one of its step counts/);
    expect(() => parseManifest(editedFast((f) => { (f.scheduler as { sigmas: unknown }).sigmas = { 2: [1, 0.5] }; })))
      .toThrow(/sigmas\["2"\] should be 2 \+ 1 sigmas from 1 down to 0/);
    expect(() => parseManifest(editedFast((f) => { f.image_size = 32; }))).toThrow(/generator_fast makes 32px images/);
    expect(() => parseManifest(editedFast((f) => { f.inputs = (f.inputs as { name: string }[]).filter((t) => t.name !== 'sigma_next'); })))
      .toThrow(/generator_fast has no input "sigma_next"/);
  });
});

describe('golden replay of the few-step graph (onnxruntime-node)', () => {
  it('has the cases of the main fixtures', () => {
    expect(golden.cases.length).toBeGreaterThanOrEqual(3);
    expect(golden.cases.some((c) => Object.keys(c.breeds).length > 1)).toBe(true); // a blend among them
  });

  it.each([0, 1, 2])('case %i: the first step within tolerance.step, each listed image within tolerance.final', async (i) => {
    const c = golden.cases[i];
    if (!c) throw new Error(`golden.json "fast" has ${golden.cases.length} cases, expected at least 3`);
    const noise = decodeArray(golden.noise);
    const step = fastGeneratorStep(ort, session, manifest, Float32Array.from(c.class_weights));
    const [sigma, sigmaNext] = golden.first_step;
    const first = await step(Float32Array.from(noise), sigma, sigmaNext);
    expect(maxAbsDiff(first.next, decodeArray(c.next_sample)), `${c.name} next_sample`).toBeLessThan(golden.tolerance.step);
    expect(maxAbsDiff(first.predX0, decodeArray(c.pred_x0)), `${c.name} pred_x0`).toBeLessThan(golden.tolerance.step);
    expect(Object.keys(c.final)).toEqual(expect.arrayContaining(['1', '2']));
    for (const [n, want] of Object.entries(c.final)) {
      const sigmas = fastSigmas(manifest, Number(n));
      const { image, stepMs } = await runSampler({ init: initialSample(noise, sigmas), sigmas, step });
      expect(stepMs).toHaveLength(Number(n));
      expect(maxAbsDiff(image, decodeArray(want)), `${c.name} ${n}-step`).toBeLessThan(golden.tolerance.final);
    }
  });
});
