/**
 * src/lib/rng.ts against cats/noise.py: the fixture tests/fixtures/noise.json is written by Python
 * (make_fixtures.py) and compared here BIT FOR BIT, so a seed means the same noise in every runtime.
 */
import { describe, expect, it } from 'vitest';
import { boxMuller, gaussianNoise, normalPair, philox4x32 } from '../../src/lib/rng';
import fixture from '../fixtures/noise.json';

function bits(values: Float32Array): Uint32Array {
  return new Uint32Array(values.buffer, values.byteOffset, values.length);
}

function decodeFloat32(base64: string): Float32Array {
  const bytes = Buffer.from(base64, 'base64');
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

describe('philox4x32 mirrors cats/noise.py::philox4x32', () => {
  it.each(fixture.philox)('counter $counter key $key', ({ counter, key, words }) => {
    expect(philox4x32(counter, key)).toEqual(words);
  });

  it("matches Random123's published known answers", () => {
    expect(philox4x32([0, 0, 0, 0], [0, 0])).toEqual([0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
    expect(philox4x32([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff]))
      .toEqual([0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]);
  });
});

describe('boxMuller mirrors cats/noise.py::box_muller at the edges of its range', () => {
  it.each(fixture.box_muller)('words $a, $b', ({ a, b, bits: want }) => {
    expect(Array.from(bits(Float32Array.from(boxMuller(a, b))))).toEqual(want);
  });
});

describe('normalPair mirrors cats/noise.py::normal_pair in float64, before any rounding', () => {
  it(`equals Python's doubles exactly on ${fixture.float64.a.length} word pairs`, () => {
    const { a, b, z0, z1 } = fixture.float64;
    const got = a.map((w, i) => normalPair(w, b[i] as number));
    expect(got.map((z) => z[0])).toEqual(z0);
    expect(got.map((z) => z[1])).toEqual(z1);
  });
});

describe('gaussianNoise mirrors cats/noise.py::gaussian_noise', () => {
  it.each(fixture.streams)('seed $seed: $count values, bit for bit', ({ seed, count, values }) => {
    const want = decodeFloat32(values.base64);
    expect(want.length).toBe(count);
    const got = gaussianNoise(count, seed);
    const differ = Array.from(bits(got)).findIndex((w, i) => w !== bits(want)[i]);
    expect(differ, differ < 0 ? '' : `first difference at ${differ}: ${got[differ]} vs ${want[differ]}`).toBe(-1);
  });

  it.each(fixture.short)('a prefix of the stream: seed $seed, $count values', ({ seed, count, values }) => {
    expect(Array.from(gaussianNoise(count, seed))).toEqual(Array.from(Float32Array.from(values)));
    expect(Array.from(gaussianNoise(count, seed))).toEqual(Array.from(gaussianNoise(12, seed).subarray(0, count)));
  });

  it('refuses seeds outside 0..2^32-1', () => {
    for (const bad of [-1, 2 ** 32, 1.5, Number.NaN]) {
      expect(() => gaussianNoise(4, bad)).toThrow(/seed must be an integer in 0..4294967295/);
    }
  });
});
