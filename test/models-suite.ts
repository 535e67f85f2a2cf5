/**
 * Whole models on every artifact target that runs here (wasm; wgsl on the WebGPU runtime — in CI
 * Dawn's OpenGL ES backend on Mesa llvmpipe, a compatibility-mode adapter), one suite parametrised
 * over the targets: every model in ../shared/models against PyTorch's outputs (and the reference
 * interpreter for the smaller ones), the DSL zoo at reduced input sizes against the interpreter,
 * each through compile().run and through save → load in runtime/index.ts alone; bad artifacts and
 * bad inputs give typed errors. f32 tolerance: 1e-4 relative to the largest |reference|.
 * One compile per shared model (beforeAll). The wgsl tests share one device (gpuContext).
 * Then what only wgsl has: tampered shaders and buffers, fp16-cast graphs.
 * CUDA runs the same models in test/cuda-emu.test.ts (emulated) and test/gpu/cuda.gpu.ts.
 */
import { existsSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { compile, type CompiledModel } from '../index.js';
import { loadOnnxFile } from '../frontends/onnx/import.js';
import type { Graph } from '../ir/graph.js';
import { interpret } from '../ir/interpreter.js';
import { zoo } from '../models/index.js';
import { load, type Session } from '../runtime/index.js';
import { CnncError } from '../runtime/errors.js';
import { tensor } from '../runtime/tensor.js';
import { gpuContext, WebGpuModel } from '../runtime/webgpu/index.js';
import { F32_TOL, f32File, relErr, sineInput } from './golden.js';

const MODELS = '../shared/models';

/** [model, compare with the interpreter too (fast enough in float64)] */
const SHARED: [string, boolean][] = [
  ['lenet5', true], ['unet_small', true], ['squeezenet1_1', true], ['mobilenet_v2', false], ['efficientnet_b0', false], ['resnet18', false],
];

interface TargetSuite {
  /** DSL zoo models at input sizes the interpreter (and, for wgsl, llvmpipe) run in seconds. */
  zoo: [string, number | undefined][];
  /** Per-test time limits (ms): shared models, zoo models (undefined: vitest.config's). */
  sharedTimeout?: number;
  zooTimeout?: number;
}

const TARGETS: Record<'wasm' | 'wgsl', TargetSuite> = {
  wasm: {
    zoo: [
      ['lenet5', undefined], ['resnet18', 64], ['resnet50', 64], ['mobilenet_v2', 64], ['mobilenet_v3_small', 64], ['squeezenet1_1', 64],
      ['efficientnet_b0', 64], ['googlenet', 64], ['unet_small', 32], ['convnext_tiny', 32], ['yolov5s', 64],
    ],
  },
  wgsl: {
    // ResNet-50 and ConvNeXt-T at 32×32 (their last stage on a 1×1 map; every layer and weight still runs):
    // at 64×64 on llvmpipe they were a third of this file's time.
    zoo: [
      ['lenet5', undefined], ['resnet18', 64], ['resnet50', 32], ['mobilenet_v2', 64], ['mobilenet_v3_small', 64], ['squeezenet1_1', 64],
      ['efficientnet_b0', 64], ['googlenet', 64], ['convnext_tiny', 32], ['unet_small', 32], ['unet', 32], ['yolov5s', 64],
    ],
    sharedTimeout: 300_000,
    zooTimeout: 400_000,
  },
};
// VGG-11/16 (±BN), ResNet-34, AlexNet (on wgsl its 151 MB classifier weight is split into column blocks under the
// 128 MiB binding limit), U-Net and ConvNeXt-T run on wasm and wgsl in test/zoo-targets.test.ts (one reference run
// per model), which leaves out what this suite runs already (suiteRuns).

/** Whether this suite runs zoo model `name` at `size` on `target` (so test/zoo-targets.test.ts need not). */
export function suiteRuns(target: string, name: string, size: number): boolean {
  return target in TARGETS && TARGETS[target as 'wasm' | 'wgsl'].zoo.some(([n, s]) => n === name && s === size);
}

/** The error code a promise rejects with ('no error' when it resolves). */
async function code(f: () => Promise<unknown>): Promise<string> {
  try { await f(); } catch (e) { expect(e).toBeInstanceOf(CnncError); return (e as CnncError).code; }
  return 'no error';
}

/**
 * Defines the suite for one target; test/models-wasm.test.ts and test/models-wgsl.test.ts each call
 * it, so vitest runs the two targets in parallel (one file each).
 */
export async function modelSuite(target: 'wasm' | 'wgsl'): Promise<void> {
  const suite = TARGETS[target];
  if (target === 'wgsl') await wgslOnly();
  for (const [name, withInterpreter] of SHARED) {
    const dir = `${MODELS}/${name}`;
    describe.skipIf(!existsSync(dir))(`${target}: ${name} (../shared/models)`, () => {
      let g: Graph, c: CompiledModel, s: Session;
      beforeAll(async () => {
        g = loadOnnxFile(`${dir}/model.onnx`);
        c = await compile(g, target);
        s = await load(c.save());
      });
      for (const set of [0, 1]) {
        it(`test set ${set}: compile().run and save → load match PyTorch within 1e-4`, async () => {
          const x = tensor('f32', c.inputs[0].shape, f32File(`${dir}/test_data_set_${set}/input_0.bin`));
          const want = f32File(`${dir}/test_data_set_${set}/output_0.bin`);
          const a = (await c.run({ input: x })).output.data as Float32Array;
          const b = (await s.run({ input: x })).output.data as Float32Array;
          expect(relErr(want, a)).toBeLessThan(F32_TOL);
          expect(relErr(want, b)).toBeLessThan(F32_TOL);
          expect(Array.from(b)).toEqual(Array.from(a));
          if (withInterpreter && set === 0) expect(relErr(interpret(g, { input: x }).output.data as Float32Array, a)).toBeLessThan(F32_TOL);
        }, suite.sharedTimeout);
      }
    });
  }

  describe(`${target}: DSL zoo models against the reference interpreter`, () => {
    for (const [name, size] of suite.zoo) {
      it(`${name}${size ? ` at ${size}×${size}` : ''}: compile().run and save → load`, async () => {
        const g = zoo(name, size ? { size } : {});
        const x = sineInput(g, 1);
        const want = interpret(g, { input: x }).output.data as Float32Array;
        const c = await compile(g, target);
        expect(relErr(want, (await c.run({ input: x })).output.data as Float32Array)).toBeLessThan(F32_TOL);
        const s = await load(c.save());
        expect(relErr(want, (await s.run({ input: x })).output.data as Float32Array)).toBeLessThan(F32_TOL);
      }, suite.zooTimeout);
    }
  });

  describe(`${target} artifacts: typed errors`, () => {
    let bytes: Uint8Array, c: CompiledModel;
    beforeAll(async () => {
      c = await compile(zoo('lenet5'), target);
      bytes = c.save();
    });

    it('truncated, wrong version, flipped bytes → BAD_ARTIFACT', async () => {
      expect(await code(() => load(bytes.slice(0, 10)))).toBe('BAD_ARTIFACT');
      expect(await code(() => load(bytes.slice(0, bytes.length - 100)))).toBe('BAD_ARTIFACT');
      const v = bytes.slice(); v[4] = 99;
      expect(await code(() => load(v))).toBe('BAD_ARTIFACT');
      for (const at of [20, Math.floor(bytes.length / 2), bytes.length - 8]) {
        const f = bytes.slice(); f[at] ^= 0x40;
        expect(await code(() => load(f))).toBe('BAD_ARTIFACT');
      }
    });

    it('wrong input name, shape or dtype at run → BAD_INPUT naming the input', async () => {
      const s = await load(bytes);
      const good = s.inputs[0];
      expect(await code(() => s.run({ input: tensor('f32', [1, 1, 28, 28]) }))).toBe('BAD_INPUT');
      expect(await code(() => s.run({ input: tensor('i32', good.shape) }))).toBe('BAD_INPUT');
      expect(await code(() => s.run({ image: tensor('f32', good.shape) }))).toBe('BAD_INPUT');
      expect(await code(() => s.run({}))).toBe('BAD_INPUT');
      expect(await code(() => c.run({ input: tensor('f32', [2, 1, 32, 32]) }))).toBe('BAD_INPUT');
      const x = sineInput(zoo('lenet5'), 3);
      expect((await s.run({ input: x })).output.shape).toEqual([1, 10]);
    });
  });
}


/** What only wgsl has: the adapter, tampered plans and shaders, fp16-cast graphs. */
async function wgslOnly(): Promise<void> {
const gpu = await gpuContext();

describe('wgsl: the adapter', () => {
  it('is found and named (the sentence docs/benchmarks.md quotes)', () => {
    console.log(`WebGPU adapter: ${gpu.adapterName}; shader-f16: ${gpu.hasF16}`);
    expect(gpu.adapterName.length).toBeGreaterThan(0);
  });
});

describe('wgsl artifacts: tampered plans and shaders', () => {
  let bytes: Uint8Array;
  beforeAll(async () => {
    bytes = (await compile(zoo('lenet5'), 'wgsl')).save();
  });

  /** An artifact whose plan or shader is tampered with (valid checksum, re-encoded). */
  async function tampered(edit: (plan: Record<string, unknown>, shaders: string[]) => void): Promise<Uint8Array> {
    const { decodeArtifact, encodeArtifact } = await import('../runtime/artifact.js');
    const a = decodeArtifact(bytes);
    const plan = structuredClone(a.header.plan) as Record<string, unknown>;
    const shaders = JSON.parse(new TextDecoder().decode(a.sections['wgsl.f32'])) as string[];
    edit(plan, shaders);
    return encodeArtifact({ header: { ...a.header, plan }, sections: { ...a.sections, 'wgsl.f32': new TextEncoder().encode(JSON.stringify(shaders)) } });
  }

  it('a shader that fails to compile → KERNEL_ERROR naming the kernel', async () => {
    const bad = await tampered((plan, shaders) => { shaders[(plan.steps as { shader: number }[])[1].shader] += '\nfn broken( {'; });
    const err = await WebGpuModel.load(bad).catch((e) => e);
    expect(err).toBeInstanceOf(CnncError);
    expect(err.code).toBe('KERNEL_ERROR');
    expect(err.message).toMatch(/kernel \S+ failed to compile/);
    expect(err.node).toBeTruthy();
  });

  it('a buffer over the device limit → TOO_LARGE naming the kernel', async () => {
    const bad = await tampered((plan) => {
      const steps = plan.steps as { bindings: number[] }[];
      (plan.buffers as { elems: number }[])[steps[0].bindings.at(-1)!].elems = 2 ** 31;
    });
    const err = await WebGpuModel.load(bad).catch((e) => e);
    expect(err).toBeInstanceOf(CnncError);
    expect(err.code).toBe('TOO_LARGE');
    expect(err.message).toContain('kernel');
  });
});

describe('wgsl: fp16-cast graphs', () => {
  const dir = `${MODELS}/squeezenet1_1`;
  it.skipIf(!existsSync(dir))('squeezenet1_1 with fp16: within 1e-2 of PyTorch and the same top-1 (f16 shaders where the adapter has shader-f16, else the f32 fallback)', async () => {
    const c = await compile(loadOnnxFile(`${dir}/model.onnx`), 'wgsl', { fp16: true });
    expect(c.graph.nodes.some((n) => n.op === 'Conv' && c.graph.type(n.outputs[0]).dtype === 'f16')).toBe(true);
    const m = await WebGpuModel.load(c.save());
    expect(m.precision).toBe(gpu.hasF16 ? 'f16' : 'f32');
    for (const set of [0, 1]) {
      const x = tensor('f32', c.inputs[0].shape, f32File(`${dir}/test_data_set_${set}/input_0.bin`));
      const want = f32File(`${dir}/test_data_set_${set}/output_0.bin`);
      const got = (await m.run({ input: x })).output.data as Float32Array;
      expect(relErr(want, got)).toBeLessThan(1e-2);
      const argmax = (v: Float32Array) => v.indexOf(Math.max(...v));
      expect(argmax(got)).toBe(argmax(want));
    }
  });

  it.skipIf(!gpu.hasF16)(`'enable f16' shaders validate and run (skipped where the adapter lacks shader-f16: this one is ${gpu.adapterName}, hasF16=${gpu.hasF16})`, async () => {
    const g = zoo('lenet5');
    const c = await compile(g, 'wgsl', { fp16: true });
    const m = await WebGpuModel.load(c.save());
    expect(m.precision).toBe('f16');
    const x = sineInput(g, 2);
    const want = interpret(g, { input: x }).output.data as Float32Array;
    expect(relErr(want, (await m.run({ input: x })).output.data as Float32Array)).toBeLessThan(1e-2);
  });
});
}
