/**
 * The 'enable f16' shaders and fp16 graphs, run for real: on Dawn's Vulkan backend, which on a CPU-only
 * machine with Mesa 25 (scripts/setup.sh installs it from bookworm-backports) is lavapipe, a core
 * adapter with shader-f16. Every other wgsl test file runs on the OpenGL ES backend (vitest.config.ts),
 * where fp16 graphs take the f32 fallback (test/models-suite.ts checks that path).
 * Where no adapter has shader-f16 (Debian 12's Mesa 22: `CNNC_MESA25=1 bash scripts/setup.sh` installs Mesa 25;
 * setup.sh leaves it out by default, see there) the f16 tests are skipped and say so in their title.
 * CNNC_REQUIRE_F16=1 makes a missing shader-f16 adapter a failure instead.
 */
process.env.CNNC_DAWN_FLAGS = process.env.CNNC_F16_DAWN_FLAGS ?? 'backend=vulkan';

import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compile } from '../index.js';
import { loadOnnxFile } from '../frontends/onnx/import.js';
import { interpret } from '../ir/interpreter.js';
import { zoo } from '../models/index.js';
import { tensor } from '../runtime/tensor.js';
import { gpuContext, WebGpuModel } from '../runtime/webgpu/index.js';
import { f32File, relErr, sineInput } from './golden.js';

const gpu = await gpuContext().catch(() => undefined);
const hasF16 = gpu?.hasF16 ?? false;
const why = `adapter: ${gpu?.adapterName ?? 'none'}, shader-f16: ${hasF16}`;

describe('wgsl f16: the adapter', () => {
  it.runIf(!!process.env.CNNC_REQUIRE_F16)(`with CNNC_REQUIRE_F16, Dawn's Vulkan backend gives an adapter with shader-f16 (${why})`, () => {
    expect(hasF16).toBe(true);
  });
});

describe.skipIf(!hasF16)(`wgsl f16 shaders (${hasF16 ? '' : 'SKIPPED: no adapter with shader-f16 here, install Mesa 25 with CNNC_MESA25=1 bash scripts/setup.sh; '}${why})`, () => {
  it("LeNet-5 with fp16: 'enable f16' shaders validate, run, and match the interpreter within 1e-2", async () => {
    const g = zoo('lenet5');
    const c = await compile(g, 'wgsl', { fp16: true });
    const m = await WebGpuModel.load(c.save());
    expect(m.precision).toBe('f16');
    const x = sineInput(g, 2);
    const want = interpret(g, { input: x }).output.data as Float32Array;
    expect(relErr(want, (await m.run({ input: x })).output.data as Float32Array)).toBeLessThan(1e-2);
  });

  const dir = '../shared/models/squeezenet1_1';
  it.skipIf(!existsSync(dir))('SqueezeNet 1.1 with fp16 in f16 shaders: within 1e-2 of PyTorch and the same top-1', async () => {
    const c = await compile(loadOnnxFile(`${dir}/model.onnx`), 'wgsl', { fp16: true });
    const m = await WebGpuModel.load(c.save());
    expect(m.precision).toBe('f16');
    const argmax = (v: Float32Array) => v.indexOf(Math.max(...v));
    for (const set of [0, 1]) {
      const x = tensor('f32', c.inputs[0].shape, f32File(`${dir}/test_data_set_${set}/input_0.bin`));
      const want = f32File(`${dir}/test_data_set_${set}/output_0.bin`);
      const got = (await m.run({ input: x })).output.data as Float32Array;
      expect(relErr(want, got)).toBeLessThan(1e-2);
      expect(argmax(got)).toBe(argmax(want));
    }
  }, 600_000);
});
