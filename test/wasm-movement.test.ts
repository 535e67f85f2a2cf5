/**
 * The wasm target's Resize linear/cubic (lower-resize.ts) and index-gather (lower-index.ts)
 * lowerings against the reference interpreter: every coordinate transform in linear and cubic
 * modes (exclude_outside, antialias), Pad in every mode, DepthToSpace/SpaceToDepth, Gather with
 * constant indices, Transpose/Slice of integer tensors. f32 within |wasm − ref| ≤ 1e-5 + 1e-4·|ref|
 * (NaN where the reference has NaN); other dtypes exactly. At -O0 and with the defaults.
 */
import { describe, expect, it } from 'vitest';
import { compile } from '../index.js';
import { Graph } from '../ir/graph.js';
import { interpret } from '../ir/interpreter.js';
import type { AttrValue } from '../ir/op.js';
import { fromF64, tensor, type Tensor } from '../runtime/tensor.js';
import { mismatch } from './wasm-golden.js';

function randT(shape: number[], seed: number): Tensor {
  let s = seed * 2654435761 >>> 0;
  const n = shape.reduce((a, b) => a * b, 1);
  return tensor('f32', shape, Float32Array.from({ length: n }, () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 31 - 1; }));
}

async function expectSame(op: string, ins: Tensor[], attrs: Record<string, AttrValue>, live = [0]): Promise<void> {
  const g = new Graph('t');
  const feeds: Record<string, Tensor> = {};
  const names = ins.map((t, i) => {
    if (!live.includes(i)) return g.addConstant(`c${i}`, t);
    feeds[`x${i}`] = t;
    return g.addInput(`x${i}`, { dtype: t.dtype, shape: t.shape });
  });
  g.setOutputs([g.add(op, names, attrs, { name: 'n0' })]);
  const ref = interpret(g, feeds)[g.outputs[0]];
  for (const opts of [{ opt: 'O0' as const }, {}]) {
    const got = (await (await compile(g, 'wasm', opts)).run(feeds))[g.outputs[0]];
    expect(got.shape).toEqual(ref.shape);
    expect(got.dtype).toBe(ref.dtype);
    if (ref.dtype === 'f32') expect(mismatch(ref.data as Float32Array, got.data as Float32Array, (i) => `[${i}] ${JSON.stringify(opts)}`)).toBeUndefined();
    else expect(Array.from(got.data as ArrayLike<number | bigint>)).toEqual(Array.from(ref.data as ArrayLike<number | bigint>));
  }
}

const COORDS = ['half_pixel', 'half_pixel_symmetric', 'pytorch_half_pixel', 'align_corners', 'asymmetric', 'tf_half_pixel_for_nearest'];

describe('wasm Resize linear and cubic vs the reference', () => {
  for (const mode of ['linear', 'cubic']) {
    for (const coordinate_transformation_mode of COORDS) {
      it(`${mode}, ${coordinate_transformation_mode}: upsampling ×2 by scales, downsampling to sizes`, async () => {
        await expectSame('Resize', [randT([1, 2, 4, 5], 1)], { mode, coordinate_transformation_mode, scales: [1, 1, 2, 2] });
        await expectSame('Resize', [randT([2, 2, 7, 6], 2)], { mode, coordinate_transformation_mode, sizes: [2, 2, 3, 4] });
      });
    }
  }
  it('cubic with exclude_outside and cubic_coeff_a −0.5; linear with antialias downsampling; tf_crop_and_resize inside the box', async () => {
    await expectSame('Resize', [randT([1, 1, 5, 5], 3)], { mode: 'cubic', exclude_outside: 1, cubic_coeff_a: -0.5, scales: [1, 1, 1.6, 1.6] });
    await expectSame('Resize', [randT([1, 1, 8, 8], 4)], { mode: 'linear', antialias: 1, sizes: [1, 1, 3, 5] });
    await expectSame('Resize', [randT([1, 1, 5, 5], 5)], { mode: 'linear', coordinate_transformation_mode: 'tf_crop_and_resize', roi: [0, 0, 0.2, 0.1, 1, 1, 0.8, 0.9], sizes: [1, 1, 4, 3] });
  });
  it('a bilinear upsampling head after a conv (channels-last storage in between)', async () => {
    const g = new Graph('head');
    g.addInput('x', { dtype: 'f32', shape: [1, 3, 6, 6] });
    const c = g.add('Conv', ['x', g.addConstant('w', randT([4, 3, 3, 3], 6))], { pads: [1, 1, 1, 1] });
    g.setOutputs([g.add('Resize', [c], { mode: 'linear', scales: [1, 1, 2, 2] })]);
    const feeds = { x: randT([1, 3, 6, 6], 7) };
    const ref = interpret(g, feeds)[g.outputs[0]];
    const got = (await (await compile(g, 'wasm')).run(feeds))[g.outputs[0]];
    expect(mismatch(ref.data as Float32Array, got.data as Float32Array, (i) => `[${i}]`)).toBeUndefined();
  });
});

describe('wasm index gather vs the reference', () => {
  const x = randT([1, 2, 3, 4], 8);
  for (const mode of ['constant', 'reflect', 'edge', 'wrap']) {
    it(`Pad ${mode}, with negative pads (crops) too`, async () => {
      await expectSame('Pad', [x], { mode, pads: [0, 0, 2, 1, 0, 1, 1, 3], value: 1.5 });
      await expectSame('Pad', [x], { mode, pads: [0, 0, -1, 2, 0, 0, 1, -1] });
    });
  }
  it('Pad of i64 and u8 tensors', async () => {
    await expectSame('Pad', [tensor('i64', [2, 3], BigInt64Array.from([1n, -2n, 3n, 4n, 2n ** 40n, 6n]))], { mode: 'constant', pads: [1, 0, 0, 2], value: 7 });
    await expectSame('Pad', [tensor('u8', [2, 3], [1, 2, 3, 250, 5, 6])], { mode: 'reflect', pads: [0, 2, 1, 1] });
    await expectSame('Pad', [fromF64('f16', [2, 2], [1.5, -2, 0.1, 65504])], { mode: 'constant', pads: [1, 0, 0, 1], value: 0.3 });
  });
  it('DepthToSpace (DCR, CRD) and SpaceToDepth', async () => {
    await expectSame('DepthToSpace', [randT([2, 8, 2, 3], 9)], { blocksize: 2, mode: 'DCR' });
    await expectSame('DepthToSpace', [randT([1, 8, 2, 3], 10)], { blocksize: 2, mode: 'CRD' });
    await expectSame('SpaceToDepth', [randT([2, 2, 4, 6], 11)], { blocksize: 2 });
  });
  it('Gather with constant (negative too) indices, f32 and i32 data', async () => {
    const idx = tensor('i64', [2, 2], BigInt64Array.from([0n, -1n, 2n, 1n]));
    await expectSame('Gather', [randT([3, 4], 12), idx], { axis: 0 });
    await expectSame('Gather', [tensor('i32', [3, 4], Array.from({ length: 12 }, (_, i) => i * 7 - 30)), idx], { axis: 1 });
  });
  it('Transpose and Slice of i32 tensors', async () => {
    const t = tensor('i32', [2, 3, 4], Array.from({ length: 24 }, (_, i) => i - 12));
    await expectSame('Transpose', [t], { perm: [2, 0, 1] });
    await expectSame('Slice', [t], { starts: [0, 1], ends: [3, 100], axes: [1, 2], steps: [2, 1] });
  });
  it('Gather with run-time i64 and i32 indices (negative too); an out-of-range index is an error, not a silent read', async () => {
    const idx = tensor('i64', [3], BigInt64Array.from([2n, -1n, 0n]));
    await expectSame('Gather', [randT([3, 4, 2], 13), idx], { axis: 1 }, [0, 1]);
    await expectSame('Gather', [tensor('u8', [5], [1, 2, 3, 4, 5]), tensor('i32', [2, 2], [4, -5, 0, 1])], { axis: 0 }, [0, 1]);
    const g = new Graph('oob');
    g.addInput('x', { dtype: 'f32', shape: [4] });
    g.addInput('i', { dtype: 'i64', shape: [1] });
    g.setOutputs([g.add('Gather', ['x', 'i'], { axis: 0 })]);
    const c = await compile(g, 'wasm');
    for (const bad of [4n, -5n, 2n ** 32n + 1n]) {
      await expect(c.run({ x: randT([4], 14), i: tensor('i64', [1], BigInt64Array.from([bad])) })).rejects.toThrow(/trap/);
    }
  });
});
