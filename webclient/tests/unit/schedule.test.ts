import { describe, expect, it } from 'vitest';
import { flowSigmas, roundHalfEven, transferSigmas } from '../../src/lib/schedule';
import fixture from '../fixtures/schedule.json';

describe('flowSigmas mirrors cats/schedule.py', () => {
  it.each(fixture.flow)('steps=$steps shift=$shift', ({ steps, shift, sigmas }) => {
    const got = flowSigmas(steps, shift);
    expect(got.length).toBe(steps + 1);
    // Exact float32 equality: the manifest and Python give these bits, so must we.
    expect(Array.from(got)).toEqual(Array.from(Float32Array.from(sigmas)));
    expect(got[0]).toBe(1);
    expect(got[steps]).toBe(0);
  });

  it('rejects bad step counts and shifts', () => {
    expect(() => flowSigmas(0)).toThrow(/steps must be a positive integer, got 0/);
    expect(() => flowSigmas(2.5)).toThrow(/got 2.5/);
    expect(() => flowSigmas(4, 0)).toThrow(/shift must be positive/);
  });
});

describe('transferSigmas mirrors cats/schedule.py::transfer_sigmas', () => {
  it.each(fixture.transfer)('steps=$steps strength=$strength shift=$shift', ({ steps, strength, shift, sigmas }) => {
    expect(Array.from(transferSigmas(flowSigmas(steps, shift), strength))).toEqual(Array.from(Float32Array.from(sigmas)));
  });

  it('rounds halves to even like Python (5 steps x 0.5 runs 2 steps, not 3)', () => {
    expect(roundHalfEven(2.5)).toBe(2);
    expect(roundHalfEven(3.5)).toBe(4);
    expect(roundHalfEven(2.4)).toBe(2);
    expect(transferSigmas(flowSigmas(5), 0.5).length).toBe(3);
  });

  it('strength 0 keeps the image (no step) and out-of-range strength throws', () => {
    expect(Array.from(transferSigmas(flowSigmas(10), 0))).toEqual([0]);
    expect(() => transferSigmas(flowSigmas(10), 1.2)).toThrow(/strength must be in \[0, 1\], got 1.2/);
  });
});
