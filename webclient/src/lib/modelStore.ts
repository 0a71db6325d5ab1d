/**
 * Model files: fetched once with byte progress, verified against the manifest's sha256 (SubtleCrypto) and kept
 * in Cache Storage, so the next visit loads from disk. A cached copy is re-verified on every load; a corrupt one
 * is dropped and downloaded again. A corrupt download raises WorkerError('checksum') and is never cached.
 */
import { WorkerError } from './protocol';

export const CACHE_NAME = 'tiny-cats-models-v1';

export async function sha256Hex(data: ArrayBuffer | Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', data as BufferSource);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

export interface Expected {
  sha256: string;
  bytes: number;
}

export type Progress = (loaded: number, total: number, fromCache: boolean) => void;

async function readWithProgress(res: Response, total: number, onProgress: Progress): Promise<Uint8Array> {
  if (!res.body) return new Uint8Array(await res.arrayBuffer());
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.byteLength;
    onProgress(loaded, Math.max(total, loaded), false);
  }
  const out = new Uint8Array(loaded);
  let o = 0;
  for (const c of chunks) { out.set(c, o); o += c.byteLength; }
  return out;
}

async function openCache(): Promise<Cache | null> {
  try {
    return typeof caches === 'undefined' ? null : await caches.open(CACHE_NAME);
  } catch {
    return null; // opaque origins and some private modes have no Cache Storage: download every visit
  }
}

/** Bytes of `url`, verified against `expected`; from Cache Storage when a verified copy is there. */
export async function fetchVerified(url: string, file: string, expected: Expected, onProgress: Progress):
  Promise<{ bytes: Uint8Array; fromCache: boolean }> {
  const cache = await openCache();
  const key = `${url}?sha256=${expected.sha256}`;
  const hit = await cache?.match(key);
  if (hit) {
    const bytes = new Uint8Array(await hit.arrayBuffer());
    if ((await sha256Hex(bytes)) === expected.sha256) {
      onProgress(bytes.byteLength, bytes.byteLength, true);
      return { bytes, fromCache: true };
    }
    await cache?.delete(key);
  }
  let res: Response;
  try {
    res = await fetch(url);
  } catch (err) {
    throw new WorkerError('download', `could not download ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!res.ok) throw new WorkerError('download', `could not download ${file}: HTTP ${res.status} ${res.statusText}`);
  const bytes = await readWithProgress(res, expected.bytes, onProgress);
  const got = await sha256Hex(bytes);
  if (got !== expected.sha256) {
    throw new WorkerError('checksum', `${file} failed its sha256 check (expected ${expected.sha256.slice(0, 12)}..., `
      + `got ${got.slice(0, 12)}..., ${bytes.byteLength} of ${expected.bytes} bytes): the download is corrupt `
      + 'or the file does not match manifest.json');
  }
  // Not awaited: writing to disk need not delay the first visit. A failed write (quota) only costs a re-download.
  cache?.put(key, new Response(bytes.slice() as BufferSource)).catch((err: unknown) => {
    console.warn(`tiny-cats: ${file} not cached (${err instanceof Error ? err.message : String(err)}); it will be downloaded next visit`);
  });
  return { bytes, fromCache: false };
}
