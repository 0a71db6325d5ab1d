import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';

/** Cross-origin isolation (needed for SharedArrayBuffer, i.e. multi-threaded WASM). */
export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

/**
 * The URL path the site is served under, from TINY_CATS_BASE (the Pages workflow sets it to the project page's
 * path, e.g. `/tiny-cats/`; leading and trailing slashes are added). Unset, URLs are relative (`./`): the same
 * build then works from any folder (a Hugging Face static Space, a local file server).
 */
export function basePath(value: string | undefined = process.env.TINY_CATS_BASE): string {
  if (value === undefined) return './';
  const inner = value.trim().replace(/^\/+|\/+$/g, '');
  return inner === '' ? '/' : `/${inner}/`;
}

/** The one command that builds the ONNX export the site serves (graphs are built from the weights, not committed). */
export const MODELS_COMMAND = 'npm run models';

/**
 * Stops `vite` and `vite build` when public/models has no export, naming the command that builds it
 * (`npm run models`: python export.py --model synthcats --out webclient/public/models, a cached build).
 */
export function requireModels(): Plugin {
  let manifest = '';
  return {
    name: 'tiny-cats-require-models',
    configResolved(config) {
      manifest = join(config.publicDir, 'models', 'manifest.json');
    },
    buildStart() {
      if (manifest && !existsSync(manifest)) {
        throw new Error(`no ONNX export at ${manifest}: build it from the bundled weights with \`${MODELS_COMMAND}\` `
          + '(runs python export.py --model synthcats --out webclient/public/models)');
      }
    },
  };
}

export default defineConfig({
  base: basePath(),
  plugins: [react(), requireModels()],
  // onnxruntime-web resolves its .wasm/.mjs files relative to its own module URL; pre-bundling breaks that.
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  worker: { format: 'es' },
  server: { headers: ISOLATION_HEADERS },
  preview: { headers: ISOLATION_HEADERS },
  build: {
    target: 'es2022',
    chunkSizeWarningLimit: 1000,
    // The worker chunk is slow to transform only because it inlines onnxruntime-web; the timing report is noise.
    rolldownOptions: { checks: { bundlerTimings: false } },
  },
});
