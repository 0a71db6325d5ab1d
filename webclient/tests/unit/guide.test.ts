/**
 * Autoguidance (manifest.generator.guide): the manifest's guide block, its sixth input and its default agree or the
 * manifest is refused; the worker checks a request's scale against the graph; the step function feeds
 * autoguidance_scale exactly when the graph takes it. The export may or may not have a guide, so both kinds of
 * manifest are made from the bundle's.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { generatorStep, type OrtLike, type OrtSessionLike, type OrtTensorLike } from '../../src/lib/engine';
import { defaultAutoguidance, GENERATOR_GUIDE_INPUT, parseManifest, type Manifest } from '../../src/lib/manifest';
import { WorkerError } from '../../src/lib/protocol';
import { guidanceScales } from '../../src/worker/checks';
import { loadBundle } from '../helpers/bundle';

/** Manifest JSON as the exporter writes it, edited freely here before parseManifest checks it. */
type Json = Record<string, any>;

let bundle: Json;

beforeAll(() => {
  bundle = JSON.parse(JSON.stringify(loadBundle().manifest)) as Json;
});

const GUIDE = { hidden_size: 96, depth: 2, prediction_type: 'x', parameters: 1000, input: GENERATOR_GUIDE_INPUT, off: 1 };

/** The bundle's manifest with a guide (the exporter's shape), then `edit` applied to its generator block. */
function guided(edit: (g: Json) => void = () => {}): Json {
  const m = JSON.parse(JSON.stringify(bundle)) as Json;
  const g = m.generator;
  g.guide ??= { ...GUIDE };
  g.defaults.autoguidance_scale ??= 2;
  if (!g.inputs.some((t: Json) => t.name === GENERATOR_GUIDE_INPUT)) {
    g.inputs.push({ name: GENERATOR_GUIDE_INPUT, shape: [1], dtype: 'float32' });
  }
  edit(g);
  return m;
}

/** The bundle's manifest as a pipeline without a guide exports it (the 5-input graph), then `edit` applied. */
function unguided(edit: (g: Json) => void = () => {}): Json {
  const m = JSON.parse(JSON.stringify(bundle)) as Json;
  const g = m.generator;
  g.guide = null;
  delete g.defaults.autoguidance_scale;
  g.inputs = g.inputs.filter((t: Json) => t.name !== GENERATOR_GUIDE_INPUT);
  edit(g);
  return m;
}

describe('the guide in the manifest', () => {
  it('is read with its default, and its absence (null, or an export made before guides) means 1, off', () => {
    const m = parseManifest(guided((g) => { g.defaults.autoguidance_scale = 2.5; }));
    expect(m.generator.guide?.input).toBe('autoguidance_scale');
    expect(defaultAutoguidance(m)).toBe(2.5);
    expect(defaultAutoguidance(parseManifest(unguided()))).toBe(1);
    expect(defaultAutoguidance(parseManifest(unguided((g) => { delete g.guide; })))).toBe(1);
  });

  it('refuses a guide block, sixth input and default that disagree, naming the problem', () => {
    const refused: [Json, RegExp][] = [
      [guided((g) => { g.inputs = g.inputs.filter((t: Json) => t.name !== GENERATOR_GUIDE_INPUT); }),
        /generator has a guide but no input "autoguidance_scale" \(has sample, /],
      [unguided((g) => { g.inputs.push({ name: GENERATOR_GUIDE_INPUT, shape: [1], dtype: 'float32' }); }),
        /generator takes autoguidance_scale, but generator.guide is null/],
      [unguided((g) => { g.defaults.autoguidance_scale = 2; }), /defaults.autoguidance_scale is set, but generator.guide is null/],
      [guided((g) => { delete g.defaults.autoguidance_scale; }), /defaults.autoguidance_scale is undefined, expected a number >= 1/],
      [guided((g) => { g.defaults.autoguidance_scale = 0.5; }), /defaults.autoguidance_scale is 0.5, expected a number >= 1/],
      [guided((g) => { g.guide.off = 0; }), /generator.guide.off is 0, expected 1/],
      [guided((g) => { g.guide.input = 'w'; }), /generator.guide.input is "w", expected "autoguidance_scale"/],
    ];
    for (const [json, why] of refused) expect(() => parseManifest(json)).toThrow(why);
    expect(() => parseManifest(unguided())).not.toThrow();
    expect(() => parseManifest(guided())).not.toThrow();
  });

  it('refuses a few-step graph that takes autoguidance_scale (its guidance is baked in)', () => {
    if (!bundle.generator_fast) return; // an export without a few-step graph has nothing to check here
    const m = guided();
    m.generator_fast.inputs.push({ name: GENERATOR_GUIDE_INPUT, shape: [1], dtype: 'float32' });
    expect(() => parseManifest(m)).toThrow(/generator_fast takes autoguidance_scale, but its guidance is baked in/);
  });
});

describe("the worker's check of a request's scales", () => {
  it('takes 1 (off) to any scale with a guide; without one, only 1', () => {
    const withGuide = parseManifest(guided());
    const without = parseManifest(unguided());
    const interval = withGuide.generator.defaults.guidance_interval ?? null; // the weights', whatever the request
    expect(guidanceScales(withGuide, { guidance: 3, autoguidance: 2 })).toEqual({ guidance: 3, autoguidance: 2, interval });
    expect(guidanceScales(withGuide, { guidance: 3, autoguidance: 1 })).toEqual({ guidance: 3, autoguidance: null, interval });
    expect(guidanceScales(without, { guidance: 0, autoguidance: 1 })).toEqual({ guidance: 0, autoguidance: null, interval });
  });

  it('refuses a bad scale, or a guide the graph lacks, as an input error with the reason', () => {
    const withGuide = parseManifest(guided());
    const without = parseManifest(unguided());
    const refusal = (m: Manifest, autoguidance: unknown) => {
      try {
        guidanceScales(m, { guidance: 3, autoguidance: autoguidance as number });
      } catch (err) {
        return err;
      }
      throw new Error(`autoguidance ${String(autoguidance)} was accepted`);
    };
    for (const bad of [0.5, 0, -1, Number.NaN, Number.POSITIVE_INFINITY, undefined, '2']) {
      const err = refusal(withGuide, bad);
      expect(err).toBeInstanceOf(WorkerError);
      expect(err).toMatchObject({ code: 'input', message: expect.stringMatching(/^autoguidance_scale must be a finite number >= 1 \(1 = off/) });
    }
    expect(refusal(without, 1.5)).toMatchObject({
      code: 'input', message: expect.stringMatching(/^autoguidance_scale=1.5 needs a guide network, and these weights have none/),
    });
    expect(refusal(withGuide, Number.NaN)).toBeInstanceOf(WorkerError);
  });
});

describe('the step function feeds', () => {
  class Tensor implements OrtTensorLike {
    constructor(readonly type: 'float32', readonly data: Float32Array, readonly dims: readonly number[]) {}
  }
  const ort = { Tensor } as unknown as OrtLike;

  /** The feeds of one step call through a stand-in session that answers with zeros. */
  async function feeds(m: Manifest, autoguidance: number | null): Promise<Record<string, number[]>> {
    const seen: Record<string, OrtTensorLike> = {};
    const n = m.generator.channels * m.generator.image_size ** 2;
    const session: OrtSessionLike = {
      inputNames: m.generator.inputs.map((t) => t.name),
      outputNames: ['next_sample', 'pred_x0'],
      run: async (f) => {
        Object.assign(seen, f);
        return { next_sample: new Tensor('float32', new Float32Array(n), []), pred_x0: new Tensor('float32', new Float32Array(n), []) };
      },
    };
    const weights = new Float32Array(m.null_id + 1).fill(0);
    weights[0] = 1;
    await generatorStep(ort, session, m, weights, { guidance: 3, autoguidance, interval: null })(new Float32Array(n), 1, 0.5);
    return Object.fromEntries(Object.entries(seen).filter(([k]) => k.endsWith('guidance_scale'))
      .map(([k, t]) => [k, Array.from(t.data as Float32Array)]));
  }

  it('autoguidance_scale exactly when the graph takes it: the scale, or the guide\'s off value when none runs', async () => {
    const withGuide = parseManifest(guided());
    expect(await feeds(withGuide, 2)).toEqual({ guidance_scale: [3], autoguidance_scale: [2] });
    expect(await feeds(withGuide, null)).toEqual({ guidance_scale: [3], autoguidance_scale: [1] });
    const without = parseManifest(unguided());
    expect(await feeds(without, null)).toEqual({ guidance_scale: [3] });
    await expect(feeds(without, 2)).rejects.toThrow(/this graph has none/);
  });
});
