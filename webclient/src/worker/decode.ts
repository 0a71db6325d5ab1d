/**
 * Any upload -> RGBA pixels, in the worker (createImageBitmap + OffscreenCanvas), applying EXIF orientation.
 * Errors are WorkerError('input') with a message the page shows as is.
 */
import { WorkerError } from '../lib/protocol';
import type { Pixels } from '../lib/tensor';

/** Refuse absurd images, as cats/images.py does (a decompression bomb is not a photo). */
export const MAX_PIXELS = 64_000_000;
/** Decode huge photos at this long side; tensor.ts then brings them to 1024 like load_image. */
const DECODE_SIDE = 2048;

export async function decodeImage(blob: Blob): Promise<Pixels> {
  const name = blob instanceof File ? blob.name : 'the upload';
  if (blob.size === 0) throw new WorkerError('input', `${name} is empty (0 bytes): upload a JPEG, PNG, WebP or GIF image`);
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(blob, { imageOrientation: 'from-image', premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
  } catch {
    throw new WorkerError('input', `${name} is not an image this browser can read: upload a JPEG, PNG, WebP or GIF image`);
  }
  const { width, height } = bitmap;
  if (width * height > MAX_PIXELS) {
    bitmap.close();
    throw new WorkerError('input', `${name} is ${width}x${height} = ${(width * height).toLocaleString('en')} pixels, over the `
      + `limit of ${MAX_PIXELS.toLocaleString('en')}: resize it before uploading`);
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
