/**
 * decode.ts reads an upload's size from its header, so a decompression bomb is refused before anything is decoded,
 * with the Gradio app's wording (cats/images.py too_many_pixels).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { decodeImage, headerSize, MAX_SIDE, tooManyPixels } from '../../src/worker/decode';
import { encodePng } from '../helpers/png';

const u8 = (...parts: (number[] | string)[]) =>
  Uint8Array.from(parts.flatMap((p) => (typeof p === 'string' ? [...p].map((c) => c.charCodeAt(0)) : p)));
const be16 = (n: number) => [n >> 8, n & 0xff];
const be32 = (n: number) => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
const le16 = (n: number) => [n & 0xff, n >> 8];
const le32 = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];

/** A PNG signature and IHDR chunk only: enough for the header, nothing to decode. */
const pngHeader = (w: number, h: number) => u8([0x89], 'PNG\r\n\x1a\n', be32(13), 'IHDR', be32(w), be32(h), [8, 6, 0, 0, 0], be32(0));

describe('headerSize', () => {
  it('reads PNG, GIF, BMP, WebP (VP8, VP8L, VP8X) and JPEG sizes without decoding', () => {
    expect(headerSize(new Uint8Array(encodePng(new Uint8Array(3 * 2 * 4), 3, 2)))).toEqual({ width: 3, height: 2 });
    expect(headerSize(pngHeader(10000, 9000))).toEqual({ width: 10000, height: 9000 });
    expect(headerSize(u8('GIF89a', le16(640), le16(480), [0, 0, 0]))).toEqual({ width: 640, height: 480 });
    expect(headerSize(u8('BM', new Array(16).fill(0), le32(800), le32(-600 >>> 0), [0, 0]))).toEqual({ width: 800, height: 600 });
    const riff = (kind: string, body: number[]) => u8('RIFF', le32(100), 'WEBP', kind, le32(body.length), body);
    expect(headerSize(riff('VP8X', [0, 0, 0, 0, ...le32(9999).slice(0, 3), ...le32(4999).slice(0, 3), 0, 0])))
      .toEqual({ width: 10000, height: 5000 });
    const vp8l = (12000 - 1) | ((7000 - 1) << 14);
    expect(headerSize(riff('VP8L', [0x2f, ...le32(vp8l), 0, 0, 0, 0, 0]))).toEqual({ width: 12000, height: 7000 });
    expect(headerSize(riff('VP8 ', [0, 0, 0, 0x9d, 0x01, 0x2a, ...le16(1920), ...le16(1080), 0, 0])))
      .toEqual({ width: 1920, height: 1080 });
    // JPEG: an EXIF segment, then a DHT (C4, not a frame), then the baseline frame header
    const app1 = [0xff, 0xe1, ...be16(2 + 10), ...new Array(10).fill(7)];
    const dht = [0xff, 0xc4, ...be16(2 + 3), 1, 2, 3];
    const sof0 = [0xff, 0xc0, ...be16(17), 8, ...be16(6000), ...be16(11000), 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1];
    expect(headerSize(u8([0xff, 0xd8], app1, dht, sof0))).toEqual({ width: 11000, height: 6000 });
  });

  it('answers null for other formats and headers cut short', () => {
    expect(headerSize(u8('not an image at all, just some text'))).toBeNull();
    expect(headerSize(pngHeader(10, 10).subarray(0, 20))).toBeNull();
    expect(headerSize(u8([0xff, 0xd8, 0xff, 0xe1, 0, 40, 1, 2, 3]))).toBeNull(); // SOF beyond the bytes read
  });
});

describe('decodeImage', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('refuses a 10000 x 10000 image from its header, before any decoding', async () => {
    const decode = vi.fn(async () => { throw new Error('createImageBitmap must not be called'); });
    vi.stubGlobal('createImageBitmap', decode);
    const file = new File([pngHeader(10000, 10000)], 'huge.png', { type: 'image/png' });
    await expect(decodeImage(file)).rejects.toMatchObject({
      code: 'input',
      message: 'huge.png is 10000x10000 pixels, over the limit of 8,000 pixels on the longer side: resize it before uploading',
    });
    expect(decode).not.toHaveBeenCalled();
  });

  it('refuses a 1 x 64,000,000 strip (few pixels per side limit, one huge row) from its header', async () => {
    vi.stubGlobal('createImageBitmap', vi.fn(async () => { throw new Error('createImageBitmap must not be called'); }));
    const file = new File([pngHeader(64_000_000, 1)], 'strip.png', { type: 'image/png' });
    await expect(decodeImage(file)).rejects.toMatchObject({ code: 'input', message: expect.stringContaining('64000000x1 pixels') });
  });

  it('words the limit as the Gradio app does', () => {
    expect(MAX_SIDE).toBe(8000);
    expect(tooManyPixels('cat.jpg', 9000, 8000))
      .toBe('cat.jpg is 9000x8000 pixels, over the limit of 8,000 pixels on the longer side: resize it before uploading');
  });
});
