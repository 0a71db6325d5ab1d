/**
 * Pixels <-> model tensors, mirroring cats/images.py so a photo preprocessed here gives the classifier the same
 * numbers as in Python:
 *   - RGBA is composited over white (PIL alpha_composite), then the centred square is cropped;
 *   - resizing reimplements Pillow's separable resampler for 8-bit images (same filters, same 22-bit fixed-point
 *     coefficients, same rounding), bilinear for the classifier and bicubic for the generator;
 *   - generator tensors are CHW float32 in [-1, 1]; classifier tensors are CHW (x/255 - mean) / std.
 * Images larger than 1024 px on their long side are first downscaled (Lanczos, like load_image's thumbnail; PIL's
 * reducing_gap shortcut is not reproduced, so only those huge photos can differ slightly).
 */

/** What ImageData provides; plain objects satisfy it in node tests. */
export interface Pixels {
  data: Uint8ClampedArray;
  width: number;
  height: number;
}

/** An RGB uint8 image, HWC. */
export interface Rgb {
  data: Uint8Array;
  width: number;
  height: number;
}

export const WORKING_SIDE = 1024;

/** CHW float tensor in [-1, 1] (3*size*size) -> opaque RGBA pixels, as cats.images.from_model_array. */
export function tensorToPixels(chw: Float32Array, width: number, height: number): Pixels {
  const plane = width * height;
  if (chw.length !== 3 * plane) {
    throw new RangeError(`tensor has ${chw.length} values, expected 3*${width}*${height} = ${3 * plane}`);
  }
  const data = new Uint8ClampedArray(plane * 4);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      const v = Math.round(Math.min(255, Math.max(0, ((chw[c * plane + i] as number) + 1) * 127.5)));
      data[i * 4 + c] = v;
    }
    data[i * 4 + 3] = 255;
  }
  return { data, width, height };
}

/** RGBA -> RGB composited over a white background (transparent pixels become white, as in load_image). */
export function flattenAlpha(px: Pixels): Rgb {
  const n = px.width * px.height;
  if (px.data.length !== n * 4) throw new RangeError(`pixel buffer has ${px.data.length} bytes, expected ${n * 4}`);
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const a = px.data[i * 4 + 3] as number;
    for (let c = 0; c < 3; c++) {
      const v = px.data[i * 4 + c] as number;
      out[i * 3 + c] = a === 255 ? v : Math.round((v * a + 255 * (255 - a)) / 255);
    }
  }
  return { data: out, width: px.width, height: px.height };
}

/** The centred square crop (the largest that fits), as cats.images.center_square. */
export function centerSquare(img: Rgb): Rgb {
  const side = Math.min(img.width, img.height);
  const left = Math.floor((img.width - side) / 2);
  const top = Math.floor((img.height - side) / 2);
  const out = new Uint8Array(side * side * 3);
  for (let y = 0; y < side; y++) {
    const src = ((top + y) * img.width + left) * 3;
    out.set(img.data.subarray(src, src + side * 3), y * side * 3);
  }
  return { data: out, width: side, height: side };
}

export type Filter = 'bilinear' | 'bicubic' | 'lanczos';

const FILTERS: Record<Filter, { support: number; f: (x: number) => number }> = {
  bilinear: { support: 1, f: (x) => { const a = Math.abs(x); return a < 1 ? 1 - a : 0; } },
  bicubic: {
    support: 2,
    f: (x) => {
      const a = -0.5;
      const t = Math.abs(x);
      if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
      if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
      return 0;
    },
  },
  lanczos: {
    support: 3,
    f: (x) => {
      const sinc = (v: number) => (v === 0 ? 1 : Math.sin(Math.PI * v) / (Math.PI * v));
      return x > -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0;
    },
  },
};

const PRECISION_BITS = 32 - 8 - 2;
const ONE = 2 ** PRECISION_BITS;

/** Pillow's precompute_coeffs + normalize_coeffs_8bpc: per output pixel, first input index and int weights. */
function coefficients(inSize: number, outSize: number, filter: Filter): { start: Int32Array; weights: number[][] } {
  const { support: base, f } = FILTERS[filter];
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = base * filterscale;
  const start = new Int32Array(outSize);
  const weights: number[][] = [];
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const xmax = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    const k: number[] = [];
    let total = 0;
    for (let x = 0; x < xmax; x++) {
      const w = f((x + xmin - center + 0.5) / filterscale);
      k.push(w);
      total += w;
    }
    start[xx] = xmin;
    weights.push(k.map((w) => {
      const n = total === 0 ? w : w / total;
      return Math.trunc(n * ONE + (n < 0 ? -0.5 : 0.5));
    }));
  }
  return { start, weights };
}

const clip8 = (ss: number) => Math.min(255, Math.max(0, Math.floor(ss / ONE)));

function resizeAxis(img: Rgb, outSize: number, filter: Filter, horizontal: boolean): Rgb {
  const inSize = horizontal ? img.width : img.height;
  const { start, weights } = coefficients(inSize, outSize, filter);
  const w = horizontal ? outSize : img.width;
  const h = horizontal ? img.height : outSize;
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = horizontal ? x : y;
      const k = weights[o] as number[];
      const s = start[o] as number;
      for (let c = 0; c < 3; c++) {
        let ss = ONE / 2;
        for (let i = 0; i < k.length; i++) {
          const src = horizontal ? (y * img.width + s + i) * 3 + c : ((s + i) * img.width + x) * 3 + c;
          ss += (img.data[src] as number) * (k[i] as number);
        }
        out[(y * w + x) * 3 + c] = clip8(ss);
      }
    }
  }
  return { data: out, width: w, height: h };
}

/** Pillow's Image.resize for RGB uint8: horizontal pass, then vertical pass, each skipped when the size is kept. */
export function resize(img: Rgb, width: number, height: number, filter: Filter): Rgb {
  let out = img;
  if (width !== img.width) out = resizeAxis(out, width, filter, true);
  if (height !== img.height) out = resizeAxis(out, height, filter, false);
  return out;
}

/** Downscale so the long side is at most WORKING_SIDE (the first step of cats.images.load_image). */
export function limitSide(img: Rgb): Rgb {
  const long = Math.max(img.width, img.height);
  if (long <= WORKING_SIDE) return img;
  const w = Math.max(1, Math.round((img.width * WORKING_SIDE) / long));
  const h = Math.max(1, Math.round((img.height * WORKING_SIDE) / long));
  return resize(img, w, h, 'lanczos');
}

/** Upload pixels -> generator input: CHW float32 in [-1, 1] (cats.images.to_model_array). */
export function toModelTensor(px: Pixels, size: number): Float32Array {
  const sq = resize(centerSquare(limitSide(flattenAlpha(px))), size, size, 'bicubic');
  return hwcToChw(sq, (v) => Math.fround(Math.fround(v / 127.5) - 1));
}

/** Upload pixels -> classifier input: CHW float32, (x/255 - mean) / std (cats.images.to_classifier_array). */
export function toClassifierTensor(px: Pixels, size: number, mean: number[], std: number[]): Float32Array {
  const sq = resize(centerSquare(limitSide(flattenAlpha(px))), size, size, 'bilinear');
  const f32 = Math.fround;
  return hwcToChw(sq, (v, c) => f32(f32(f32(v / 255) - f32(mean[c] as number)) / f32(std[c] as number)));
}

function hwcToChw(img: Rgb, map: (v: number, c: number) => number): Float32Array {
  const plane = img.width * img.height;
  const out = new Float32Array(plane * 3);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) out[c * plane + i] = map(img.data[i * 3 + c] as number, c);
  }
  return out;
}
