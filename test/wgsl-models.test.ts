/**
 * Whole models on the WebGPU runtime (in CI: Dawn, OpenGL ES backend, Mesa llvmpipe, a
 * compatibility-mode adapter): every model in ../shared/models against PyTorch's outputs (and the
 * reference interpreter for the smaller ones), the DSL zoo at reduced input sizes against the
 * interpreter, each through compile().run and through save → runtime load().
 * f32 tolerance: 1e-4 relative to the largest |reference|. One compile per model (beforeAll).
 */
import { existsSync, readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { compile, type CompiledModel } from '../index.js';
import { loadOnnxFile } from '../frontends/onnx/import.js';
import type { Graph } from '../ir/graph.js';
import { interpret } from '../ir/interpreter.js';
import { zoo } from '../models/index.js';
import { load, type Session } from '../runtime/index.js';
import { CnncError } from '../runtime/errors.js';
import { tensor, type Tensor } from '../runtime/tensor.js';
import { gpuContext, WebGpuModel } from '../runtime/webgpu/index.js';
import { F32_TOL } from './wgsl-harness.js';
import { f32File, relErr, sineInput } from './golden.js';

const MODELS = '../shared/models';

describe('wgsl: the adapter', () => {
  it('is found and named (the sentence docs/benchmarks.md quotes)', async () => {
    const ctx = await gpuContext();
    console.log(`WebGPU adapter: ${ctx.adapterName}; shader-f16: ${ctx.hasF16}`);
    expect(ctx.adapterName.length).toBeGreaterThan(0);
  });
});

/** [model, compare with the interpreter too (fast enough in float64)] */
const SHARED: [string, boolean][] = [
  ['lenet5', true], ['unet_small', true], ['squeezenet1_1', true], ['mobilenet_v2', false], ['efficientnet_b0', false], ['resnet18', false],
];

for (const [name, withInterpreter] of SHARED) {
  const dir = `${MODELS}/${name}`;
  describe.skipIf(!existsSync(dir))(`wgsl: ${name} (../shared/models)`, () => {
    let g: Graph, c: CompiledModel, s: Session;
    beforeAll(async () => {
      g = loadOnnxFile(`${dir}/model.onnx`);
      c = await compile(g, 'wgsl');
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
      }, 300_000);
    }
  });
}

/** DSL zoo models at input sizes the interpreter and llvmpipe run in seconds. */
const ZOO: [string, number | undefined][] = [
  ['lenet5', undefined], ['resnet18', 64], ['resnet50', 64], ['mobilenet_v2', 64], ['mobilenet_v3_small', 64], ['squeezenet1_1', 64],
  ['efficientnet_b0', 64], ['googlenet', 64], ['convnext_tiny', 64], ['unet_small', 32], ['unet', 32], ['yolov5s', 64],
  ['alexnet', 224], // its classifier weight (151 MB) is split into column blocks under the 128 MiB binding limit
];

describe('wgsl: DSL zoo models against the reference interpreter', () => {
  for (const [name, size] of ZOO) {
    it(`${name}${size ? ` at ${size}×${size}` : ''}: compile().run and save → load`, async () => {
      const g = zoo(name, size ? { size } : {});
      const x = sineInput(g, 1);
      const want = interpret(g, { input: x }).output.data as Float32Array;
      const c = await compile(g, 'wgsl');
      expect(relErr(want, (await c.run({ input: x })).output.data as Float32Array)).toBeLessThan(F32_TOL);
      const s = await load(c.save());
      expect(relErr(want, (await s.run({ input: x })).output.data as Float32Array)).toBeLessThan(F32_TOL);
    }, 400_000);
  }
});

// VGG-11/16 (±BN), ResNet-34 and U-Net run on wgsl in test/zoo-targets.test.ts (one reference run per model).

describe('wgsl artifacts: typed errors', () => {
  let bytes: Uint8Array;
  beforeAll(async () => {
    bytes = (await compile(zoo('lenet5'), 'wgsl')).save();
  });
  const code = async (f: () => Promise<unknown>) => {
    try { await f(); } catch (e) { expect(e).toBeInstanceOf(CnncError); return (e as CnncError).code; }
    return 'no error';
  };

  it('truncated or flipped bytes → BAD_ARTIFACT', async () => {
    expect(await code(() => load(bytes.slice(0, bytes.length - 100)))).toBe('BAD_ARTIFACT');
    const f = bytes.slice(); f[Math.floor(bytes.length / 2)] ^= 0x40;
    expect(await code(() => load(f))).toBe('BAD_ARTIFACT');
  });

  it('wrong input shape, dtype or name → BAD_INPUT naming the input', async () => {
    const s = await load(bytes);
    expect(await code(() => s.run({ input: tensor('f32', [1, 1, 28, 28]) }))).toBe('BAD_INPUT');
    expect(await code(() => s.run({ input: tensor('i32', [1, 1, 32, 32]) }))).toBe('BAD_INPUT');
    expect(await code(() => s.run({ image: tensor('f32', [1, 1, 32, 32]) }))).toBe('BAD_INPUT');
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

const gpu = await gpuContext();

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
