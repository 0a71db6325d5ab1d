import { describe, expect, it } from 'vitest';
import {
  centerSquare, flattenAlpha, resize, tensorToPixels, toClassifierTensor, toModelTensor, type Pixels,
} from '../../src/lib/tensor';
import fixture from '../fixtures/preprocess.json';

const pixels = (c: (typeof fixture.cases)[number]): Pixels =>
  ({ data: Uint8ClampedArray.from(c.rgba), width: c.width, height: c.height });

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

describe('upload preprocessing equals cats/images.py', () => {
  it.each(fixture.cases)('classifier input for a $width x $height RGBA picture', (c) => {
    const got = toClassifierTensor(pixels(c), c.size, c.mean, c.std);
    // Pillow's fixed-point resampler reproduced bit for bit: equal to float32 rounding.
    expect(maxAbs(got, c.classifier)).toBeLessThan(1e-6);
  });

  it.each(fixture.cases)('generator input (restyle) for a $width x $height RGBA picture', (c) => {
    const got = toModelTensor(pixels(c), c.size);
    expect(got.length).toBe(3 * c.size * c.size);
    expect(maxAbs(got, c.generator)).toBeLessThan(1e-6);
  });
});

describe('tensor <-> pixels', () => {
  it.each(fixture.cases)('tensorToPixels equals from_model_array (CHW -> RGBA, opaque)', (c) => {
    const px = tensorToPixels(Float32Array.from(c.generator), c.size, c.size);
    const rgb = Array.from(px.data).filter((_, i) => i % 4 !== 3);
    expect(rgb).toEqual(c.generator_png);
    expect(Array.from(px.data).filter((_, i) => i % 4 === 3).every((a) => a === 255)).toBe(true);
  });

  it('pixels -> tensor -> pixels is the identity for an opaque square image', () => {
    const size = 8;
    const data = new Uint8ClampedArray(size * size * 4);
    for (let i = 0; i < data.length; i++) data[i] = i % 4 === 3 ? 255 : (i * 37) % 256;
    const t = toModelTensor({ data, width: size, height: size }, size);
    // channel-planar layout: the red plane comes first
    expect(t[0]).toBeCloseTo((data[0] as number) / 127.5 - 1, 6);
    expect(t[size * size]).toBeCloseTo((data[1] as number) / 127.5 - 1, 6);
    expect(Array.from(tensorToPixels(t, size, size).data)).toEqual(Array.from(data));
  });

  it('clips values outside [-1, 1] and refuses a wrong-sized tensor', () => {
    const px = tensorToPixels(Float32Array.from([-3, 3, 0]), 1, 1);
    expect(Array.from(px.data)).toEqual([0, 255, 128, 255]);
    expect(() => tensorToPixels(new Float32Array(5), 2, 2)).toThrow(/5 values, expected 3\*2\*2 = 12/);
  });

  it('composites transparency over white and crops the centred square', () => {
    const rgb = flattenAlpha({ data: Uint8ClampedArray.from([0, 0, 0, 0, 10, 20, 30, 255, 0, 0, 0, 128]), width: 3, height: 1 });
    expect(Array.from(rgb.data)).toEqual([255, 255, 255, 10, 20, 30, 127, 127, 127]);
    const wide = { data: Uint8Array.from({ length: 5 * 2 * 3 }, (_, i) => Math.floor(i / 3)), width: 5, height: 2 };
    const sq = centerSquare(wide);
    expect([sq.width, sq.height]).toEqual([2, 2]);
    expect(Array.from(sq.data).filter((_, i) => i % 3 === 0)).toEqual([1, 2, 6, 7]); // columns 1..2 of both rows
  });

  it('resizing to the same size is the identity (no resampling blur)', () => {
    const img = { data: Uint8Array.from({ length: 4 * 4 * 3 }, (_, i) => (i * 53) % 256), width: 4, height: 4 };
    expect(resize(img, 4, 4, 'bilinear').data).toEqual(img.data);
  });
});
