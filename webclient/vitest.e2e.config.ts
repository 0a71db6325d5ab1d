import { defineConfig } from 'vitest/config';

// End-to-end: the built site (vite preview) in Debian Chromium via playwright-core. One file at a time: the
// machine has two cores and each page runs onnxruntime-web.
export default defineConfig({
  test: {
    include: ['tests/e2e/**/*.test.ts'],
    environment: 'node',
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
