/**
 * Page settings from the URL query, validated (a typo raises naming the accepted values):
 *   ?provider=auto|wasm|webgpu   execution provider (auto: WebGPU only with a real adapter, else WASM)
 *   ?threads=N                   WASM threads (used only when cross-origin isolated)
 *   ?variant=fp32|fp16|...       generator precision variant (any key of manifest.generator.variants; int8 only
 *                                when the export was built with --precision fp32,fp16,int8)
 *   ?thumbs=0                    do not generate breed thumbnails (when the export ships none)
 *   ?testhook=1                  expose window.__cats for the end-to-end tests and the benchmark
 *   ?models=URL                  where manifest.json lives (default ./models/, relative to the page)
 */
import type { ProviderChoice } from './protocol';

export interface PageConfig {
  provider: ProviderChoice;
  threads?: number;
  variant?: string;
  thumbs: boolean;
  testHook: boolean;
  modelsUrl: string;
}

const PROVIDERS: ProviderChoice[] = ['auto', 'wasm', 'webgpu'];

export function parseConfig(search: string, pageUrl: string): PageConfig {
  const q = new URLSearchParams(search);
  const provider = (q.get('provider') ?? 'auto') as ProviderChoice;
  if (!PROVIDERS.includes(provider)) throw new RangeError(`?provider=${provider} is not one of ${PROVIDERS.join(', ')}`);
  const t = q.get('threads');
  const threads = t === null ? undefined : Number(t);
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1 && threads <= 64)) {
    throw new RangeError(`?threads=${t} must be an integer from 1 to 64`);
  }
  const flag = (name: string, fallback: boolean) => {
    const v = q.get(name);
    if (v === null) return fallback;
    if (v === '1' || v === 'true') return true;
    if (v === '0' || v === 'false') return false;
    throw new RangeError(`?${name}=${v} must be 0 or 1`);
  };
  const models = q.get('models') ?? './models/';
  return {
    provider,
    threads,
    variant: q.get('variant') ?? undefined,
    thumbs: flag('thumbs', true),
    testHook: flag('testhook', false),
    modelsUrl: new URL(models.endsWith('/') ? models : `${models}/`, pageUrl).href,
  };
}
