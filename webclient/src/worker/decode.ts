/**
 * Any upload -> RGBA pixels, in the worker (createImageBitmap + OffscreenCanvas), applying EXIF orientation.
 * The size is read from the file's header first, as cats/images.py does, so an image over the limit is refused
 * before anything is decoded. Errors are WorkerError('input') with a message the page shows as is (worded like
 * the Gradio app's).
 */
import { WorkerError } from '../lib/protocol';
import type { Pixels } from '../lib/tensor';

/** Refuse absurd images, as cats/images.py does (MAX_SIDE there): the longer side, so no 1 x 64,000,000 strip. */
export const MAX_SIDE = 8000;
/** Decode huge photos at this long side; tensor.ts then brings them to 1024 like load_image. */
const DECODE_SIDE = 2048;
/** How much of the file the header reader looks at: JPEG's size comes after its EXIF / ICC segments. */
const HEADER_BYTES = 512 * 1024;

/** The message cats/images.py gives for the same image (too_many_pixels). */
export function tooManyPixels(name: string, width: number, height: number): string {
  return `${name} is ${width}x${height} pixels, over the limit of ${MAX_SIDE.toLocaleString('en')} pixels `
    + 'on the longer side: resize it before uploading';
}

/**
 * Width and height from the file's header (PNG, JPEG, GIF, WebP, BMP), without decoding a pixel; null for
 * another format or a header cut short (the decoder then judges the file, and the size is checked after).
 */
export function headerSize(b: Uint8Array): { width: number; height: number } | null {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const ascii = (at: number, n: number) => String.fromCharCode(...b.subarray(at, at + n));
  if (b.length >= 24 && b[0] === 0x89 && ascii(1, 3) === 'PNG' && ascii(12, 4) === 'IHDR') {
    return { width: v.getUint32(16), height: v.getUint32(20) };
  }
  if (b.length >= 10 && (ascii(0, 6) === 'GIF87a' || ascii(0, 6) === 'GIF89a')) {
    return { width: v.getUint16(6, true), height: v.getUint16(8, true) };
  }
  if (b.length >= 26 && ascii(0, 2) === 'BM') {
    return { width: Math.abs(v.getInt32(18, true)), height: Math.abs(v.getInt32(22, true)) };
  }
  if (b.length >= 30 && ascii(0, 4) === 'RIFF' && ascii(8, 4) === 'WEBP') {
    const kind = ascii(12, 4);
    if (kind === 'VP8X') return { width: 1 + (v.getUint32(24, true) & 0xffffff), height: 1 + (v.getUint32(27, true) & 0xffffff) };
    if (kind === 'VP8L') {
      const bits = v.getUint32(21, true);
      return { width: 1 + (bits & 0x3fff), height: 1 + ((bits >>> 14) & 0x3fff) };
    }
    if (kind === 'VP8 ') return { width: v.getUint16(26, true) & 0x3fff, height: v.getUint16(28, true) & 0x3fff };
    return null;
  }
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8) {
    // Walk the segments to the first start-of-frame marker (C0-CF, except C4 DHT, C8 JPG, CC DAC).
    let at = 2;
    while (at + 9 <= b.length) {
      if (b[at] !== 0xff) return null;
      const marker = v.getUint8(at + 1);
      if (marker === 0xff) { at += 1; continue; } // fill byte
      if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) { at += 2; continue; }
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        return { width: v.getUint16(at + 7), height: v.getUint16(at + 5) };
      }
      at += 2 + v.getUint16(at + 2);
    }
  }
  return null;
}

export async function decodeImage(blob: Blob): Promise<Pixels> {
  const name = blob instanceof File ? blob.name : 'the upload';
  if (blob.size === 0) throw new WorkerError('input', `${name} is empty (0 bytes): upload a JPEG, PNG, WebP or GIF image`);
  // Refuse a decompression bomb from its header: decoding 10000 x 10000 first would take seconds and 400 MB.
  const header = headerSize(new Uint8Array(await blob.slice(0, HEADER_BYTES).arrayBuffer()));
  if (header && Math.max(header.width, header.height) > MAX_SIDE) {
    throw new WorkerError('input', tooManyPixels(name, header.width, header.height));
  }
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(blob, { imageOrientation: 'from-image', premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
  } catch {
    throw new WorkerError('input', `${name} is not an image this browser can read: upload a JPEG, PNG, WebP or GIF image`);
  }
  const { width, height } = bitmap;
  if (Math.max(width, height) > MAX_SIDE) { // a format the header reader does not know
    bitmap.close();
    throw new WorkerError('input', tooManyPixels(name, width, height));
  }
  if (Math.max(width, height) > DECODE_SIDE) {
    const k = DECODE_SIDE / Math.max(width, height);
    bitmap.close();
    bitmap = await createImageBitmap(blob, {
      imageOrientation: 'from-image', premultiplyAlpha: 'none', colorSpaceConversion: 'none',
      resizeWidth: Math.max(1, Math.round(width * k)), resizeHeight: Math.max(1, Math.round(height * k)), resizeQuality: 'high',
    });
  }
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new WorkerError('internal', 'this browser has no 2D OffscreenCanvas');
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  return ctx.getImageData(0, 0, canvas.width, canvas.height);
}
