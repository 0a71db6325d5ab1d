import { defineConfig } from 'vitest/config';

// Unit tests (node): pure TypeScript modules, and the golden replay through onnxruntime-node.
export default defineConfig({
  test: {
    include: ['tests/unit/**/*.test.ts'],
    environment: 'node',
    pool: 'forks', // onnxruntime-node's native addon is happier in processes than in worker threads
    testTimeout: 60_000,
  },
});
