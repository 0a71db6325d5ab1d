/**
 * The TypeScript sampler replays the Python golden fixtures through onnxruntime-node on the exported graphs:
 * same schedule, same loop, same graph inputs -> the same images as Python (1e-4 per step, 1e-3 final). The finals and
 * the restyle guide only at steps starting inside golden.guidance_interval (scales 1 elsewhere), as Python sampled them.
 * Without public/models this FAILS with the export command to run; it does not skip.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { classify } from '../../src/lib/classify';
import { checkSession, classifierOutputs, generatorStep } from '../../src/lib/engine';
import { oodStats } from '../../src/lib/ood';
import { exportedStepCounts, guidanceInterval, type GraphKind, type Manifest } from '../../src/lib/manifest';
import { initialSample, runSampler } from '../../src/lib/sampler';
import { flowSigmas, sigmasFor, transferSigmas } from '../../src/lib/schedule';
import {
  decodeArray, goldenScales, graphBytes, loadBundle, maxAbsDiff, nodeSession, ort, sha256, type Golden,
} from '../helpers/bundle';

let manifest: Manifest;
let golden: Golden;
let generator: ort.InferenceSession;

beforeAll(async () => {
  ({ manifest, golden } = loadBundle());
  generator = await nodeSession(manifest, 'generator', golden.variant);
});

describe('the exported bundle', () => {
  it("lists sigmas equal to the TypeScript schedule for every exported step count", () => {
    const { shift, num_train_timesteps: n } = manifest.generator.scheduler;
    expect(exportedStepCounts(manifest).length).toBeGreaterThan(0);
    for (const steps of exportedStepCounts(manifest)) {
      expect(Array.from(flowSigmas(steps, shift, n)), `${steps} steps`).toEqual(Array.from(sigmasFor(manifest, steps)));
    }
    expect(Array.from(sigmasFor(manifest, golden.steps))).toEqual(Array.from(Float32Array.from(golden.sigmas)));
  });

  it('has every graph file with the sha256 and size the manifest records, and the manifest input/output names', async () => {
    for (const kind of ['generator', 'classifier'] as GraphKind[]) {
      const section = manifest[kind];
      if (!section) continue; // an export without a classifier is valid; the generator always exists
      for (const [key, spec] of Object.entries(section.variants)) {
        const bytes = graphBytes(manifest, kind, key);
        expect(bytes.byteLength, `${kind}.${key} size`).toBe(spec.bytes);
        expect(sha256(bytes), `${kind}.${key} sha256`).toBe(spec.sha256);
        const s = await ort.InferenceSession.create(bytes);
        expect(() => checkSession(s, section.inputs, section.outputs, `${kind}.${key}`)).not.toThrow();
        await s.release();
      }
    }
  });
});

describe('golden replay through the TypeScript sampler (onnxruntime-node)', () => {
  it.each([0, 1, 2])('case %i: first step (full scales) within tolerance.step, final image (guided in the interval) within tolerance.final', async (i) => {
    const c = golden.cases[i];
    if (!c) throw new Error(`golden.json has ${golden.cases.length} cases, expected at least 3`);
    const noise = decodeArray(golden.noise);
    const sigmas = sigmasFor(manifest, golden.steps);
    const weights = Float32Array.from(c.class_weights);
    // next_sample and pred_x0 are one step at the full scales, whatever golden.guidance_interval says of sigmas[0]
    const first = await generatorStep(ort, generator, manifest, weights, { ...goldenScales(golden), interval: null })(
      initialSample(noise, sigmas), sigmas[0] as number, sigmas[1] as number);
    expect(maxAbsDiff(first.next, decodeArray(c.next_sample)), `${c.name} next_sample`).toBeLessThan(golden.tolerance.step);
    expect(maxAbsDiff(first.predX0, decodeArray(c.pred_x0)), `${c.name} pred_x0`).toBeLessThan(golden.tolerance.step);
    const step = generatorStep(ort, generator, manifest, weights, goldenScales(golden));
    const { image } = await runSampler({ init: initialSample(noise, sigmas), sigmas, step });
    expect(maxAbsDiff(image, decodeArray(c.final)), `${c.name} final`).toBeLessThan(golden.tolerance.final);
  });

  it("guides only inside golden.guidance_interval, the manifest's: guiding at every step gives another final and restyle", async () => {
    const interval = golden.guidance_interval;
    expect(interval).toEqual(guidanceInterval(manifest));
    if (!interval) return; // guidance at every step: nothing to leave out
    expect(golden.guidance_scale).not.toBe(1); // else the scales inside and outside would be the same
    const t = golden.transfer;
    const runs = [
      { sigmas: sigmasFor(manifest, golden.steps), weights: golden.cases[0]?.class_weights as number[],
        init: (s: Float32Array) => initialSample(decodeArray(golden.noise), s), want: decodeArray((golden.cases[0] as Golden['cases'][number]).final) },
      { sigmas: transferSigmas(sigmasFor(manifest, t.steps), t.strength), weights: t.class_weights,
        init: (s: Float32Array) => initialSample(decodeArray(t.noise), s, decodeArray(t.image)), want: decodeArray(t.expected) },
    ];
    for (const [k, r] of runs.entries()) {
      // steps on both sides of the interval, so a sampler that ignored it could not match the golden images
      const starts = Array.from(r.sigmas.subarray(0, -1));
      expect(starts.some((s) => s < interval[0] || s > interval[1]), `run ${k} has a step outside`).toBe(true);
      expect(starts.some((s) => interval[0] <= s && s <= interval[1]), `run ${k} has a step inside`).toBe(true);
      const step = generatorStep(ort, generator, manifest, Float32Array.from(r.weights), { ...goldenScales(golden), interval: null });
      const { image } = await runSampler({ init: r.init(r.sigmas), sigmas: r.sigmas, step });
      expect(maxAbsDiff(image, r.want), `run ${k}`).toBeGreaterThan(100 * golden.tolerance.final);
    }
  });

  it('the guide is fed: with autoguidance off (1) the same case gives another image', async () => {
    const g = manifest.generator;
    // the golden scales are the export's defaults: null exactly when the step graph has no guide
    expect(golden.autoguidance_scale).toBe(g.guide ? g.defaults.autoguidance_scale : null);
    if (!g.guide) return; // an export without a guide has nothing to turn off
    expect(golden.autoguidance_scale).toBeGreaterThan(1); // else "off" below would be the golden setting itself
    const c = golden.cases[0] as Golden['cases'][number];
    const sigmas = sigmasFor(manifest, golden.steps);
    const step = generatorStep(ort, generator, manifest, Float32Array.from(c.class_weights),
      { ...goldenScales(golden), autoguidance: null });
    const { image } = await runSampler({ init: initialSample(decodeArray(golden.noise), sigmas), sigmas, step });
    expect(maxAbsDiff(image, decodeArray(c.final))).toBeGreaterThan(100 * golden.tolerance.final);
  });

  it('restyle: same schedule tail, same start mix, same image', async () => {
    const t = golden.transfer;
    const sigmas = transferSigmas(sigmasFor(manifest, t.steps), t.strength);
    expect(Array.from(sigmas)).toEqual(Array.from(Float32Array.from(t.sigmas)));
    const step = generatorStep(ort, generator, manifest, Float32Array.from(t.class_weights), goldenScales(golden));
    const init = initialSample(decodeArray(t.noise), sigmas, decodeArray(t.image));
    const { image, stepMs } = await runSampler({ init, sigmas, step });
    expect(stepMs.length).toBe(sigmas.length - 1);
    expect(maxAbsDiff(image, decodeArray(t.expected))).toBeLessThan(golden.tolerance.final);
  });

  it('classifier: same logits, features, familiarity scores and verdicts as Python', async () => {
    const c = manifest.classifier;
    if (!c) throw new Error('manifest.json has no classifier: export a pipeline that has one');
    const g = golden.classifier;
    if (!g) throw new Error('golden.json has no classifier fixture');
    if (!c.ood || !g.ood_scores) throw new Error('the export has no familiarity statistics: re-export (python export.py)');
    const stats = oodStats(c.ood);
    const session = await nodeSession(manifest, 'classifier', golden.variant);
    const n = g.names.length;
    const { logits, features } = await classifierOutputs(ort, session, manifest, decodeArray(g.image), n);
    if (!features) throw new Error('the classifier graph has no "features" output: re-export');
    expect(maxAbsDiff(logits, decodeArray(g.logits))).toBeLessThan(golden.tolerance.logits);
    expect(maxAbsDiff(features, decodeArray(g.features))).toBeLessThan(golden.tolerance.features);
    const k = c.labels.length;
    const d = features.length / n;
    for (let i = 0; i < n; i++) {
      const r = classify(logits.subarray(i * k, (i + 1) * k), c, 3, features.subarray(i * d, (i + 1) * d), stats);
      const want = g.ood_scores[i] as number;
      expect(Math.abs((r.oodScore as number) - want) / Math.max(1, want), `${g.names[i]} score`).toBeLessThan(golden.tolerance.ood_score_rel);
      expect(r.verdict, g.names[i]).toBe(g.verdicts[i]);
    }
    expect(g.verdicts).toContain('unfamiliar'); // the fixture exercises both sides of the threshold
    expect(g.verdicts.filter((v) => v !== 'unfamiliar').length).toBeGreaterThan(0);
  });
});
