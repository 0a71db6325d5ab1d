import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/lib/config';
import { chooseProvider, wasmThreads } from '../../src/worker/providers';

const deps = (adapter: unknown, webgpuFails = false) => {
  const made: string[] = [];
  return {
    made,
    deps: {
      requestAdapter: async () => adapter,
      webgpu: async () => { made.push('webgpu'); if (webgpuFails) throw new Error('no kernel for Foo'); return 'gpu-session'; },
      wasm: async () => { made.push('wasm'); return 'wasm-session'; },
    },
  };
};

describe('chooseProvider: WebGPU only with a real adapter and a session that creates', () => {
  it('falls back to WASM, saying why, when there is no adapter (never tries WebGPU)', async () => {
    const { made, deps: d } = deps(null);
    const r = await chooseProvider('auto', d);
    expect(r).toEqual({ provider: 'wasm', value: 'wasm-session', fallbackReason: 'no WebGPU adapter' });
    expect(made).toEqual(['wasm']);
  });

  it('falls back to WASM when the browser has no navigator.gpu, even if WebGPU was asked for', async () => {
    const { deps: d } = deps({});
    const r = await chooseProvider('webgpu', { ...d, requestAdapter: null });
    expect(r.provider).toBe('wasm');
    expect(r.fallbackReason).toMatch(/no WebGPU/);
  });

  it('falls back to WASM when the WebGPU session fails to create', async () => {
    const { made, deps: d } = deps({}, true);
    const r = await chooseProvider('auto', d);
    expect(r.provider).toBe('wasm');
    expect(r.fallbackReason).toBe('WebGPU session failed: no kernel for Foo');
    expect(made).toEqual(['webgpu', 'wasm']);
  });

  it('uses WebGPU when both the adapter and the session work; ?provider=wasm skips it', async () => {
    expect(await chooseProvider('auto', deps({}).deps)).toEqual({ provider: 'webgpu', value: 'gpu-session', fallbackReason: null });
    const { made, deps: d } = deps({});
    expect((await chooseProvider('wasm', d)).provider).toBe('wasm');
    expect(made).toEqual(['wasm']);
  });
});

describe('wasmThreads', () => {
  it('is 1 without cross-origin isolation, whatever was asked', () => {
    expect(wasmThreads(false, 8)).toBe(1);
    expect(wasmThreads(false, 8, 4)).toBe(1);
  });
  it('leaves a core to the page when isolated, honours an explicit count', () => {
    expect(wasmThreads(true, 2)).toBe(1);
    expect(wasmThreads(true, 8)).toBe(4);
    expect(wasmThreads(true, 2, 2)).toBe(2);
    expect(() => wasmThreads(true, 2, 0)).toThrow(/threads must be a positive integer, got 0/);
  });
});

describe('parseConfig (URL settings)', () => {
  const page = 'https://user.github.io/tiny-cats/index.html';
  it('defaults: auto provider, relative ./models/ under any base path', () => {
    const c = parseConfig('', page);
    expect(c).toMatchObject({ provider: 'auto', thumbs: true, testHook: false, threads: undefined });
    expect(c.modelsUrl).toBe('https://user.github.io/tiny-cats/models/');
  });
  it('reads provider, threads, variant and flags, and names bad values', () => {
    expect(parseConfig('?provider=wasm&threads=2&variant=int8&thumbs=0&testhook=1', page))
      .toMatchObject({ provider: 'wasm', threads: 2, variant: 'int8', thumbs: false, testHook: true });
    expect(() => parseConfig('?provider=webgl', page)).toThrow(/provider=webgl is not one of auto, wasm, webgpu/);
    expect(() => parseConfig('?threads=zero', page)).toThrow(/threads=zero must be an integer/);
    expect(() => parseConfig('?thumbs=maybe', page)).toThrow(/thumbs=maybe must be 0 or 1/);
  });
});
