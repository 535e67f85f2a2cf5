import { relative } from 'node:path';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The files that take minutes, longest first. With no timings cached (a fresh CI machine) vitest runs
 * larger files first, which would start the 4-line models-wgsl file last and leave one worker idle
 * while it runs; these start first instead. With timings cached, vitest's own order (longest first) holds.
 */
const SLOW_FIRST = [
  'test/models-wgsl.test.ts', 'test/cuda-compile.test.ts', 'test/zoo-targets.test.ts', 'test/cuda-emu.test.ts',
  'test/conformance/targets.test.ts', 'test/models-wasm.test.ts',
];

class SlowFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);

    const rank = (f: TestSpecification) => {
      const i = SLOW_FIRST.indexOf(relative(f.project.config.root, f.moduleId).replaceAll('\\', '/'));
      return i < 0 ? SLOW_FIRST.length : i;
    };
    return sorted.map((f, i) => ({ f, i })).sort((a, b) => rank(a.f) - rank(b.f) || a.i - b.i).map(({ f }) => f);
  }
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/build.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: 'forks',
    // Two files at a time: vitest's default is one fewer worker than cores, which on CI's 2 cores runs the
    // files one after another while most of them (wasm, the interpreter, the compiler) keep one core busy.
    // `--maxWorkers=1` on the command line restores that.
    maxWorkers: 2,
    sequence: { sequencer: SlowFirst },
    // WebGPU tests run on Dawn's OpenGL ES backend (Mesa llvmpipe, a compatibility-mode adapter: what many
    // browsers and devices give) unless the shell sets CNNC_DAWN_FLAGS. test/wgsl-f16.test.ts picks Vulkan
    // (lavapipe, a core adapter with shader-f16) itself, so both paths are tested while the suite's time stays
    // what it was on OpenGL ES alone.
    env: { CNNC_DAWN_FLAGS: process.env.CNNC_DAWN_FLAGS ?? 'backend=opengles' },
  },
});
