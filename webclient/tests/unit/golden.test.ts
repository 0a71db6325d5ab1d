/**
 * The TypeScript sampler replays the Python golden fixtures through onnxruntime-node on the exported graphs:
 * same schedule, same loop, same graph inputs -> the same images as Python (1e-4 per step, 1e-3 final).
 * Without public/models this FAILS with the export command to run; it does not skip.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { classify } from '../../src/lib/classify';
import { checkSession, classifierOutputs, generatorStep } from '../../src/lib/engine';
import { oodStats } from '../../src/lib/ood';
import { exportedStepCounts, type GraphKind, type Manifest } from '../../src/lib/manifest';
import { initialSample, runSampler } from '../../src/lib/sampler';
import { flowSigmas, sigmasFor, transferSigmas } from '../../src/lib/schedule';
import { decodeArray, graphBytes, loadBundle, maxAbsDiff, nodeSession, ort, sha256, type Golden } from '../helpers/bundle';

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
  it.each([0, 1, 2])('case %i: first step within tolerance.step, final image within tolerance.final', async (i) => {
    const c = golden.cases[i];
    if (!c) throw new Error(`golden.json has ${golden.cases.length} cases, expected at least 3`);
    const noise = decodeArray(golden.noise);
    const sigmas = sigmasFor(manifest, golden.steps);
    const step = generatorStep(ort, generator, manifest, Float32Array.from(c.class_weights), golden.guidance_scale);
    const first: { next?: Float32Array; pred?: Float32Array } = {};
    const { image } = await runSampler({
      init: initialSample(noise, sigmas), sigmas, step,
      onStep: (e) => { if (e.index === 0) { first.next = e.sample; first.pred = e.predX0; } },
    });
    expect(maxAbsDiff(first.next as Float32Array, decodeArray(c.next_sample)), `${c.name} next_sample`).toBeLessThan(golden.tolerance.step);
    expect(maxAbsDiff(first.pred as Float32Array, decodeArray(c.pred_x0)), `${c.name} pred_x0`).toBeLessThan(golden.tolerance.step);
    expect(maxAbsDiff(image, decodeArray(c.final)), `${c.name} final`).toBeLessThan(golden.tolerance.final);
  });

  it('restyle: same schedule tail, same start mix, same image', async () => {
    const t = golden.transfer;
    const sigmas = transferSigmas(sigmasFor(manifest, t.steps), t.strength);
    expect(Array.from(sigmas)).toEqual(Array.from(Float32Array.from(t.sigmas)));
    const step = generatorStep(ort, generator, manifest, Float32Array.from(t.class_weights), golden.guidance_scale);
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
