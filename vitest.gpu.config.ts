import { defineConfig } from 'vitest/config';

/** `npm run test:gpu`: the tests that need a GPU (test/gpu/*.gpu.ts), one file at a time. */
export default defineConfig({
  test: {
    include: ['test/gpu/**/*.gpu.ts'],
    testTimeout: 600_000,
    hookTimeout: 600_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
