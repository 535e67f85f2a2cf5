/**
 * Whole models on the wasm target: every model in ../shared/models against PyTorch's outputs and
 * (for the smaller ones) the reference interpreter, the DSL zoo at reduced input sizes against the
 * interpreter — each through compile().run and through save → load in runtime/index.ts alone.
 * f32 tolerance: 1e-4 relative to the largest |reference|. One compile per model (beforeAll).
 * Also: bad artifacts and bad inputs give typed errors.
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
import { f32File, relErr, sineInput } from './golden.js';

const F32_TOL = 1e-4;
const MODELS = '../shared/models';

/** [model, compare with the interpreter too (fast enough in float64)] */
const SHARED: [string, boolean][] = [
  ['lenet5', true], ['unet_small', true], ['squeezenet1_1', true], ['mobilenet_v2', false], ['efficientnet_b0', false], ['resnet18', false],
];

for (const [name, withInterpreter] of SHARED) {
  const dir = `${MODELS}/${name}`;
  describe.skipIf(!existsSync(dir))(`wasm: ${name} (../shared/models)`, () => {
    let g: Graph, c: CompiledModel, s: Session;
    beforeAll(async () => {
      g = loadOnnxFile(`${dir}/model.onnx`);
      c = await compile(g, 'wasm');
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
      });
    }
  });
}

/** DSL zoo models at input sizes the interpreter runs in seconds. */
const ZOO: [string, number | undefined][] = [
  ['lenet5', undefined], ['resnet18', 64], ['resnet50', 64], ['mobilenet_v2', 64], ['mobilenet_v3_small', 64], ['squeezenet1_1', 64],
  ['efficientnet_b0', 64], ['googlenet', 64], ['unet_small', 32], ['convnext_tiny', 32], ['yolov5s', 64],
];

describe('wasm: DSL zoo models against the reference interpreter', () => {
  for (const [name, size] of ZOO) {
    it(`${name}${size ? ` at ${size}×${size}` : ''}: compile().run and save → load`, async () => {
      const g = zoo(name, size ? { size } : {});
      const x = sineInput(g, 1);
      const want = interpret(g, { input: x }).output.data as Float32Array;
      const c = await compile(g, 'wasm');
      expect(relErr(want, (await c.run({ input: x })).output.data as Float32Array)).toBeLessThan(F32_TOL);
      const s = await load(c.save());
      expect(relErr(want, (await s.run({ input: x })).output.data as Float32Array)).toBeLessThan(F32_TOL);
    });
  }
});

describe('wasm artifacts: typed errors', () => {
  let bytes: Uint8Array, c: CompiledModel;
  beforeAll(async () => {
    c = await compile(zoo('lenet5'), 'wasm');
    bytes = c.save();
  });
  const code = async (f: () => Promise<unknown>) => {
    try { await f(); } catch (e) { expect(e).toBeInstanceOf(CnncError); return (e as CnncError).code; }
    return 'no error';
  };

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
