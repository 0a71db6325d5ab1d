/**
 * The guidance interval (manifest.generator.defaults.guidance_interval): read and checked with the manifest, taken by
 * the worker's scales, and fed per step by the guided StepFn: the request's scales at steps starting inside [lo, hi]
 * (both ends included), 1 (and the guide's off value) outside, as cats/onnx/pipeline.py feeds them through
 * cats/sampling.py::guidance_at. The sampling.json fixture checks guidanceAt itself (sampler.test.ts).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { generatorStep, type OrtLike, type OrtSessionLike, type OrtTensorLike } from '../../src/lib/engine';
import { GENERATOR_GUIDE_INPUT, guidanceInterval, parseManifest, type Manifest } from '../../src/lib/manifest';
import { runSampler } from '../../src/lib/sampler';
import { guidanceScales } from '../../src/worker/checks';
import { loadBundle } from '../helpers/bundle';

/** Manifest JSON as the exporter writes it, edited freely here before parseManifest checks it. */
type Json = Record<string, any>;

let bundle: Json;

beforeAll(() => {
  bundle = JSON.parse(JSON.stringify(loadBundle().manifest)) as Json;
});

/** The bundle's manifest with its guidance interval set to `interval` (undefined: the key left out). */
function withInterval(interval: unknown): Json {
  const m = JSON.parse(JSON.stringify(bundle)) as Json;
  if (interval === undefined) delete m.generator.defaults.guidance_interval;
  else m.generator.defaults.guidance_interval = interval;
  return m;
}

describe('the guidance interval in the manifest', () => {
  it('is read as [lo, hi]; absent or null means every step', () => {
    expect(guidanceInterval(parseManifest(withInterval([0.2, 0.75])))).toEqual([0.2, 0.75]);
    expect(guidanceInterval(parseManifest(withInterval([0, 1])))).toEqual([0, 1]);
    expect(guidanceInterval(parseManifest(withInterval(null)))).toBeNull();
    expect(guidanceInterval(parseManifest(withInterval(undefined)))).toBeNull();
  });

  it('refuses a bad interval, naming generator.defaults.guidance_interval and the reason', () => {
    const order = /generator\.defaults\.guidance_interval must have 0 <= lo < hi <= 1, got /;
    const shape = /generator\.defaults\.guidance_interval must be two sigmas \(lo, hi\) or null, got /;
    const refused: [unknown, RegExp][] = [
      [[0.75, 0.2], order], [[0.5, 0.5], order], [[-0.1, 0.5], order], [[0.2, 1.5], order], [[0.2], shape],
      [[0.1, 0.2, 0.3], shape], [0.5, shape], ['0.2,0.75', shape], [['0.2', '0.75'], shape], [{ lo: 0.2, hi: 0.75 }, shape],
    ];
    for (const [interval, why] of refused) {
      expect(() => parseManifest(withInterval(interval)), JSON.stringify(interval)).toThrow(why);
    }
  });

  it("is the worker's for every request (generate, restyle, thumbnails), whatever the scales", () => {
    const m = parseManifest(withInterval([0.3, 0.6]));
    expect(guidanceScales(m, { guidance: 4, autoguidance: 1 }).interval).toEqual([0.3, 0.6]);
    expect(guidanceScales(parseManifest(withInterval(undefined)), { guidance: 4, autoguidance: 1 }).interval).toBeNull();
  });
});

describe('the guided StepFn feeds per step', () => {
  class Tensor implements OrtTensorLike {
    constructor(readonly type: 'float32', readonly data: Float32Array, readonly dims: readonly number[]) {}
  }
  const ort = { Tensor } as unknown as OrtLike;

  /** Each graph call's [sigma, guidance_scale, autoguidance_scale (or null: not fed)], through a stand-in session. */
  async function run(m: Manifest, sigmas: Float32Array, sampler: 'euler' | 'heun', scales: { guidance: number;
    autoguidance: number | null; interval: [number, number] | null }): Promise<(number | null)[][]> {
    const seen: (number | null)[][] = [];
    const n = m.generator.channels * m.generator.image_size ** 2;
    const value = (t: OrtTensorLike | undefined) => (t ? (t.data as Float32Array)[0] as number : null);
    const session: OrtSessionLike = {
      inputNames: m.generator.inputs.map((t) => t.name),
      outputNames: ['next_sample', 'pred_x0'],
      run: async (f) => {
        seen.push([value(f.sigma), value(f.guidance_scale), value(f[GENERATOR_GUIDE_INPUT])]);
        return { next_sample: new Tensor('float32', new Float32Array(n), []), pred_x0: new Tensor('float32', new Float32Array(n), []) };
      },
    };
    const weights = new Float32Array(m.null_id + 1);
    weights[0] = 1;
    await runSampler({ init: new Float32Array(n), sigmas, sampler, sigmaMin: 0.001, // cats/convention.py::SIGMA_MIN
      step: generatorStep(ort, session, m, weights, scales) });
    return seen;
  }

  const f = Math.fround;

  it('the scales inside [lo, hi] (ends included), 1 outside; no interval: every step', async () => {
    const m = parseManifest(bundle);
    const sigmas = Float32Array.of(1, 0.75, 0.5, 0.25, 0.2, 0.1, 0);
    const off = m.generator.guide ? 1 : null; // the guide's off value, fed whenever the graph takes it
    const on = m.generator.guide ? 2 : null;
    const scales = { guidance: 3, autoguidance: on, interval: [0.2, 0.75] as [number, number] };
    expect(await run(m, sigmas, 'euler', scales)).toEqual([
      [1, 1, off], [f(0.75), 3, on], [0.5, 3, on], [0.25, 3, on], [f(0.2), 3, on], [f(0.1), 1, off],
    ]);
    expect((await run(m, sigmas, 'euler', { ...scales, interval: null })).map((c) => c[1])).toEqual([3, 3, 3, 3, 3, 3]);
  });

  it("Heun's second call takes the scales of its own sigma (the step's end), as cats/sampling.py's step does", async () => {
    const m = parseManifest(bundle);
    const calls = await run(m, Float32Array.of(1, 0.5, 0), 'heun', { guidance: 3, autoguidance: null, interval: [0.4, 0.6] });
    expect(calls.map(([s, g]) => [s, g])).toEqual([[1, 1], [0.5, 3], [0.5, 3]]); // the second step ends at 0: Euler
  });
});
