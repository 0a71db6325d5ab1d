/**
 * Execution provider choice. WebGPU is used only when an adapter really exists AND the session creates on it;
 * anything else falls back to WASM and says why (a browser that picked WebGPU with no adapter check and no
 * fallback would leave the page broken on machines without a usable GPU). Threads: several only when the page is cross-origin isolated.
 */
import type { Provider, ProviderChoice } from '../lib/protocol';

export interface ProviderDeps<T> {
  /** navigator.gpu?.requestAdapter(), or null when the browser has no WebGPU at all. */
  requestAdapter: (() => Promise<unknown>) | null;
  /** Create the sessions on WebGPU (may throw). */
  webgpu: () => Promise<T>;
  /** Create the sessions on WASM. */
  wasm: () => Promise<T>;
}

export interface ProviderChoiceResult<T> {
  provider: Provider;
  value: T;
  fallbackReason: string | null;
}

export async function chooseProvider<T>(choice: ProviderChoice, deps: ProviderDeps<T>): Promise<ProviderChoiceResult<T>> {
  if (choice === 'wasm') return { provider: 'wasm', value: await deps.wasm(), fallbackReason: null };
  const reason = await tryWebgpu(deps);
  if (typeof reason !== 'string') return reason;
  return { provider: 'wasm', value: await deps.wasm(), fallbackReason: reason };
}

/** The WebGPU result, or the reason it is not usable. */
async function tryWebgpu<T>(deps: ProviderDeps<T>): Promise<ProviderChoiceResult<T> | string> {
  if (!deps.requestAdapter) return 'this browser has no WebGPU';
  let adapter: unknown;
  try {
    adapter = await deps.requestAdapter();
  } catch (err) {
    return `WebGPU adapter request failed: ${err instanceof Error ? err.message : String(err)}`;
  }
  if (!adapter) return 'no WebGPU adapter';
  try {
    return { provider: 'webgpu', value: await deps.webgpu(), fallbackReason: null };
  } catch (err) {
    return `WebGPU session failed: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/**
 * WASM threads: 1 unless the page is cross-origin isolated (SharedArrayBuffer). Isolated, leave one core to the
 * page, at most 4 (2 threads on 2 cores measured no faster here). An explicit request wins when isolated.
 */
export function wasmThreads(isolated: boolean, cores: number, requested?: number): number {
  if (!isolated) return 1;
  if (requested !== undefined) {
    if (!Number.isInteger(requested) || requested < 1) throw new RangeError(`threads must be a positive integer, got ${requested}`);
    return requested;
  }
  return Math.max(1, Math.min(4, cores - 1));
}
