import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/build.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: 'forks',
    // WebGPU tests run on Dawn's OpenGL ES backend (Mesa llvmpipe, a compatibility-mode adapter: what many
    // browsers and devices give) unless the shell sets CNNC_DAWN_FLAGS. test/wgsl-f16.test.ts picks Vulkan
    // (lavapipe, a core adapter with shader-f16) itself, so both paths are tested while the suite's time stays
    // what it was on OpenGL ES alone.
    env: { CNNC_DAWN_FLAGS: process.env.CNNC_DAWN_FLAGS ?? 'backend=opengles' },
  },
});
