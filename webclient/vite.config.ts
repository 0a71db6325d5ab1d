import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

/** Cross-origin isolation (needed for SharedArrayBuffer, i.e. multi-threaded WASM). */
export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  // Relative asset and model URLs: the built site works under any base path
  // (GitHub Pages project path, a Hugging Face static Space, a local folder server).
  base: './',
  plugins: [react()],
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
