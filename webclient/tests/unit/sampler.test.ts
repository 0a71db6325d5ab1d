import { describe, expect, it } from 'vitest';
import { classWeights } from '../../src/lib/conditioning';
import type { Manifest } from '../../src/lib/manifest';
import { gaussianNoise } from '../../src/lib/rng';
import {
  CancelledError, checkAutoguidance, checkGuidance, checkInterval, checkSampler, checkSteps, guidanceAt, initialSample,
  runSampler, type GuidanceInterval, type StepFn,
} from '../../src/lib/sampler';
import { flowSigmas, transferSigmas } from '../../src/lib/schedule';
import fixture from '../fixtures/sampling.json';

/** An exact "graph": the clean image is `target`, so v = (x - target) / sigma and Euler lands on target. */
function exactStep(target: Float32Array, calls: [number, number][]): StepFn {
  return async (x, sigma, sigmaNext) => {
    calls.push([sigma, sigmaNext]);
    const v = x.map((xi, i) => (xi - (target[i] as number)) / sigma);
    return { next: x.map((xi, i) => xi + (sigmaNext - sigma) * (v[i] as number)), predX0: x.map((xi, i) => xi - sigma * (v[i] as number)) };
  };
}

describe('runSampler', () => {
  it('calls the graph once per step with consecutive sigma pairs and reaches the clean image', async () => {
    const target = Float32Array.of(0.5, -0.25, 0.75);
    const calls: [number, number][] = [];
    const sigmas = flowSigmas(8);
    const events: number[] = [];
    const { image, stepMs } = await runSampler({
      init: gaussianNoise(3, 7), sigmas, step: exactStep(target, calls), onStep: (e) => events.push(e.index),
    });
    expect(calls).toHaveLength(8);
    calls.forEach(([s, n], i) => { expect(s).toBe(sigmas[i]); expect(n).toBe(sigmas[i + 1]); });
    expect(events).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(stepMs).toHaveLength(8);
    Array.from(image).forEach((v, i) => expect(v).toBeCloseTo(target[i] as number, 5));
  });

  it('restyle starts from (1 - s0) * image + s0 * noise and runs only the tail', async () => {
    const image = Float32Array.of(0.2, -0.4);
    const noise = Float32Array.of(1, -1);
    const tail = transferSigmas(flowSigmas(10), 0.6);
    const s0 = tail[0] as number;
    const init = initialSample(noise, tail, image);
    expect(init[0]).toBeCloseTo((1 - s0) * 0.2 + s0 * 1, 6);
    expect(init[1]).toBeCloseTo((1 - s0) * -0.4 - s0, 6);
    const calls: [number, number][] = [];
    await runSampler({ init, sigmas: tail, step: exactStep(image, calls) });
    expect(calls).toHaveLength(6);
    expect(Array.from(initialSample(noise, flowSigmas(4)))).toEqual([1, -1]); // generate: pure noise
    expect(() => initialSample(noise, tail, Float32Array.of(1))).toThrow(/image has 1 values but the noise has 2/);
  });

  it('strength 0 runs no step and returns the image', async () => {
    const image = Float32Array.of(0.1, 0.2);
    const calls: [number, number][] = [];
    const tail = transferSigmas(flowSigmas(20), 0);
    const { image: out } = await runSampler({ init: initialSample(Float32Array.of(9, 9), tail, image), sigmas: tail, step: exactStep(image, calls) });
    expect(calls).toHaveLength(0);
    expect(Array.from(out)).toEqual(Array.from(image));
  });

  it('stops between steps when cancelled', async () => {
    const calls: [number, number][] = [];
    let n = 0;
    const run = runSampler({ init: new Float32Array(2), sigmas: flowSigmas(10), step: exactStep(new Float32Array(2), calls), isCancelled: () => n++ >= 3 });
    await expect(run).rejects.toBeInstanceOf(CancelledError);
    expect(calls).toHaveLength(3);
  });
});

describe('seeded noise', () => {
  it('is reproducible per seed, differs across seeds and is standard normal', () => {
    expect(Array.from(gaussianNoise(11, 42))).toEqual(Array.from(gaussianNoise(11, 42)));
    expect(Array.from(gaussianNoise(11, 42))).not.toEqual(Array.from(gaussianNoise(11, 43)));
    const x = gaussianNoise(100_000, 1);
    const mean = x.reduce((a, b) => a + b, 0) / x.length;
    const sd = Math.sqrt(x.reduce((a, b) => a + (b - mean) ** 2, 0) / x.length);
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(Math.abs(sd - 1)).toBeLessThan(0.02);
    expect(x.every(Number.isFinite)).toBe(true);
    expect(() => gaussianNoise(4, -1)).toThrow(/seed must be an integer in 0..4294967295, got -1/);
  });
});

describe('classWeights', () => {
  const m = { breeds: ['A', 'B', 'C'], null_id: 3 } as unknown as Manifest;
  it('one-hot for a breed, never touching the null slot', () => {
    expect(Array.from(classWeights(m, { kind: 'breed', breed: 2 }))).toEqual([0, 0, 1, 0]);
    expect(() => classWeights(m, { kind: 'breed', breed: 3 })).toThrow(/breed id 3 is out of range: valid ids are 0..2/);
  });
  it('a blend is normalised to sum 1 and bad blends are refused', () => {
    expect(Array.from(classWeights(m, { kind: 'blend', weights: [1, 3, 0] }))).toEqual([0.25, 0.75, 0, 0]);
    expect(() => classWeights(m, { kind: 'blend', weights: [0, 0, 0] })).toThrow(/at least one breed/);
    expect(() => classWeights(m, { kind: 'blend', weights: [1, -1, 0] })).toThrow(/weight for B must be >= 0, got -1/);
    expect(() => classWeights(m, { kind: 'blend', weights: [1] })).toThrow(/needs 3 weights, got 1/);
  });
});

/**
 * The step of tests/fixtures/make_fixtures.py::toy_step, written again here: the x-prediction of `target` with the x -> v
 * clamp plus a sigma-dependent term (so Heun differs from Euler), in float64, stored as float32.
 */
function toyStep(target: Float32Array, sigmaMin: number, calls: number[][]): StepFn {
  return async (x, sigma, sigmaNext) => {
    calls.push([sigma, sigmaNext]);
    const next = new Float32Array(x.length);
    const predX0 = new Float32Array(x.length);
    x.forEach((xi, i) => {
      const v = (xi - (target[i] as number)) / Math.max(sigma, sigmaMin) + 0.25 * sigma * xi;
      next[i] = xi + (sigmaNext - sigma) * v;
      predX0[i] = xi - sigma * v;
    });
    return { next, predX0 };
  };
}

describe('the sampling core mirrors cats/sampling.py (tests/fixtures/sampling.json)', () => {
  const count = fixture.shape.reduce((a, b) => a * b, 1);
  const target = Float32Array.from(fixture.target);
  const image = Float32Array.from(fixture.image);

  it.each(fixture.cases)('$sampler, $steps steps, shift $shift, strength $strength', async (c) => {
    const full = flowSigmas(c.steps, c.shift);
    const sigmas = c.strength === null ? full : transferSigmas(full, c.strength);
    expect(Array.from(sigmas)).toEqual(c.sigmas);
    const init = initialSample(gaussianNoise(count, fixture.seed), sigmas, c.strength === null ? undefined : image);
    expect(Array.from(init)).toEqual(c.init); // the seeded noise and the restyle mix, bit for bit
    const calls: number[][] = [];
    const seen: number[][] = [];
    const { image: out } = await runSampler({
      init, sigmas, step: toyStep(target, fixture.sigma_min, calls), sampler: checkSampler(c.sampler),
      sigmaMin: fixture.sigma_min, onStep: (e) => seen.push([e.index, e.sigma]),
    });
    expect(calls).toEqual(c.calls); // the same graph calls: Heun's second call only on steps ending >= sigma_min
    expect(seen).toEqual(c.on_step);
    expect(Array.from(out)).toEqual(c.final); // float32 arithmetic written to give the same bits
  });

  it('accepts and refuses the same settings', () => {
    const verdict = (check: (v: number) => number, v: number) => { try { return check(v); } catch { return null; } };
    for (const [v, want] of fixture.checks.steps) expect(verdict(checkSteps, v as number), `steps ${v}`).toBe(want);
    for (const [v, want] of fixture.checks.guidance) expect(verdict(checkGuidance, v as number), `guidance ${v}`).toBe(want);
    const strength = (v: number) => { transferSigmas(flowSigmas(4), v); return v; };
    for (const [v, want] of fixture.checks.strength) expect(verdict(strength, v as number), `strength ${v}`).toBe(want);
    expect(fixture.checks.autoguidance.some((c) => c.accepted && c.value === null)).toBe(true); // 1: no guide runs
    for (const c of fixture.checks.autoguidance) {
      const what = `autoguidance ${c.scale}, ${c.has_guide ? 'with' : 'without'} a guide`;
      if (c.accepted) expect(checkAutoguidance(c.scale, c.has_guide), what).toBe(c.value);
      else expect(() => checkAutoguidance(c.scale, c.has_guide), what).toThrow(RangeError);
    }
    expect(() => checkGuidance(Number.NaN)).toThrow(/guidance_scale must be a finite number >= 0/);
    expect(() => checkAutoguidance(Number.NaN, true)).toThrow(/autoguidance_scale must be a finite number >= 1 \(1 = off/);
    expect(() => checkAutoguidance(2, false)).toThrow(/autoguidance_scale=2 needs a guide network, and these weights have none/);
    expect(() => checkSampler('ddim')).toThrow(/sampler must be one of euler, heun, got ddim/);
  });

  it('checks a guidance interval as check_interval does (accepted values, refusals with the same reason)', () => {
    const refused = fixture.checks.interval.filter((c) => !c.accepted);
    expect(refused.length).toBeGreaterThan(5);
    expect(fixture.checks.interval.some((c) => c.accepted && c.value === null)).toBe(true); // null: every step
    for (const c of fixture.checks.interval) {
      const what = `interval ${JSON.stringify(c.interval)}`;
      if (c.accepted) {
        expect(checkInterval(c.interval), what).toEqual(c.value);
        continue;
      }
      let message = '';
      try {
        checkInterval(c.interval);
      } catch (err) {
        expect(err, what).toBeInstanceOf(RangeError);
        message = (err as Error).message;
      }
      // the same reason; only Python's "None" is the JSON "null" here, and the "got ..." shows each language's repr
      expect((message.split(', got')[0] as string).replace(' or null', ' or None'), what).toBe(c.error);
    }
    for (const bad of [[Number.NaN, 0.5], [0.2, Number.POSITIVE_INFINITY], [true, 0.5], ['0.2', '0.5'], undefined]) {
      expect(() => checkInterval(bad), JSON.stringify(bad)).toThrow(/^guidance_interval must /);
    }
  });

  it('guidanceAt gives the scales guidance_at gives at each sigma: bounds included, 1 and no guide outside', () => {
    const outside = fixture.guidance_at.filter((c) => c.guidance !== null && c.want[0] === 1 && c.guidance !== 1);
    expect(outside.length).toBeGreaterThan(10); // the fixture has steps outside an interval ...
    expect(fixture.guidance_at.some((c) => c.interval !== null && (c.sigma === c.interval[0] || c.sigma === c.interval[1])
      && c.want[0] === c.guidance)).toBe(true); // ... and steps on its bounds, which guide
    for (const c of fixture.guidance_at) {
      const got = guidanceAt({ guidance: c.guidance, autoguidance: c.autoguidance },
        c.interval as GuidanceInterval | null, c.sigma);
      expect([got.guidance, got.autoguidance], `${JSON.stringify(c)}`).toEqual(c.want);
    }
  });

  it('heun needs the manifest\'s sigma_min', async () => {
    const run = runSampler({ init: new Float32Array(2), sigmas: flowSigmas(2), step: exactStep(new Float32Array(2), []), sampler: 'heun' });
    await expect(run).rejects.toThrow(/heun needs sigmaMin/);
  });
});
