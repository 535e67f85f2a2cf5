/**
 * The CUDA kernels added for integer/bool/f64 elementwise, Resize linear/cubic, run-time Gather
 * indices and BatchNormalization parameters, and constant graph outputs: one graph holding all of
 * them, built once for the CPU emulator (codegen/cuda/emu) and compared output by output with the
 * reference interpreter, on special values (NaN, ±Inf, integer overflow, division by zero and -1),
 * and the max/min kernels (MaxPool, GlobalMaxPool, ReduceMax/Min, Softmax) propagating a NaN.
 * Tolerances (test/conformance/runner.ts `compare`): f32 rtol 1e-4 / atol 1e-5, f16 rtol 2e-3 /
 * atol 1e-3, integers and bool exact. The same kernels compile with nvcc -Werror when it is here.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildEmulatedProgram, emulationAvailable } from '../codegen/cuda/emu.js';
import { lowerCuda, translationUnit } from '../codegen/cuda/lower.js';
import { checkCompilesAsync, findNvcc } from '../codegen/cuda/nvcc.js';
import { supports } from '../codegen/cuda/supports.js';
import { Graph } from '../ir/graph.js';
import { interpret } from '../ir/interpreter.js';
import { fromF64, tensor, type Tensor } from '../runtime/tensor.js';
import { compare } from './conformance/runner.js';
import { runStandalone } from './gpu/common.js';

const ok = emulationAvailable();
const work = mkdtempSync(join(tmpdir(), 'cnnc-cuda-typed-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const I64_MIN = -(2n ** 63n);
const feeds: Record<string, Tensor> = {
  fa: fromF64('f32', [8], [1, -2, NaN, Infinity, -Infinity, 0, -0, 3.5]),
  fb: fromF64('f32', [8], [1, 2, 1, Infinity, 5, -0, 0, NaN]),
  ia: tensor('i32', [8], Int32Array.from([7, -7, 2147483647, -2147483648, 0, 5, -1, 9])),
  ib: tensor('i32', [8], Int32Array.from([2, 2, 1, -1, 0, 0, -1, -4])),
  la: tensor('i64', [6], BigInt64Array.from([9007199254740993n, -5n, I64_MIN, 2n ** 62n, 0n, 7n])),
  lb: tensor('i64', [6], BigInt64Array.from([2n, 3n, -1n, 4n, 0n, -2n])),
  ua: tensor('u8', [4], Uint8Array.from([200, 3, 255, 0])),
  ub: tensor('u8', [4], Uint8Array.from([100, 5, 2, 0])),
  ba: tensor('bool', [4], Uint8Array.from([1, 0, 1, 0])),
  bb: tensor('bool', [4], Uint8Array.from([1, 1, 0, 0])),
  ca: tensor('i8', [4], Int8Array.from([-128, -3, 50, 127])),
  da: fromF64('f64', [3], [0.1, NaN, 1e300]),
  img: fromF64('f32', [2, 2, 3, 4], Array.from({ length: 48 }, (_, i) => Math.sin(i) * 3 + (i === 5 ? NaN : 0))),
  himg: fromF64('f16', [1, 2, 4, 4], Array.from({ length: 32 }, (_, i) => Math.cos(i))),
  vol: fromF64('f32', [1, 1, 2, 3, 3], Array.from({ length: 18 }, (_, i) => i * 0.25 - 2)),
  e5: tensor('f8e5m2', [6], Uint8Array.from([0x00, 0x3c, 0xbc, 0x7c, 0x7f, 0x01])),
  bf: tensor('bf16', [4], Uint16Array.from([0x3f80, 0xc000, 0x7fc0, 0x0001])),
  uimg: tensor('u8', [1, 1, 3, 3], Uint8Array.from([9, 200, 3, 255, 0, 7, 1, 2, 128])),
  ind: tensor('i64', [2, 2], BigInt64Array.from([0n, -1n, 2n, 1n])),
  bnm: fromF64('f32', [2], [0.5, -1]),
  bnv: fromF64('f32', [2], [2, 0.25]),
};

/** Every new kernel kind as one node each; the graph's outputs are all their results. */
function typedGraph(): Graph {
  const g = new Graph('cuda_typed');
  for (const [n, t] of Object.entries(feeds)) g.addInput(n, { dtype: t.dtype, shape: t.shape });
  const outs: string[] = [];
  const add = (op: string, ins: string[], attrs: Record<string, number | string | number[]> = {}) => { outs.push(g.add(op, ins, attrs, { name: `${op}_${outs.length}` })); };
  for (const [a, b] of [['ia', 'ib'], ['la', 'lb'], ['ua', 'ub']]) for (const op of ['Add', 'Sub', 'Mul', 'Div', 'Max', 'Min', 'Less', 'Equal', 'GreaterOrEqual']) add(op, [a, b]);
  add('Pow', ['ia', 'ib']); add('Pow', ['lb', 'lb']); add('Pow', ['fa', 'ib']); add('Abs', ['ia']); add('Neg', ['la']);
  for (const op of ['Less', 'Greater', 'Equal', 'LessOrEqual']) add(op, ['fa', 'fb']);
  for (const op of ['And', 'Or', 'Xor']) add(op, ['ba', 'bb']);
  add('Not', ['ba']);
  add('Where', ['ba', 'ua', 'ub']);
  add('Where', [g.add('Less', ['fa', 'fb']), 'fa', 'fb']);
  add('Clip', ['ca'], { min: -5, max: 60 });
  add('Add', ['da', 'da']); add('Max', ['da', 'da']); add('Mul', ['da', 'da']);
  add('Cast', ['da'], { to: 'f32' }); add('Cast', ['fa'], { to: 'f64' }); add('Cast', ['la'], { to: 'f64' });
  add('Cast', ['himg'], { to: 'f8e4m3fn' }); add('Cast', ['himg'], { to: 'f8e4m3fn', saturate: 0 }); add('Cast', ['e5'], { to: 'f32' });
  add('Cast', ['bf'], { to: 'f32' }); add('Cast', ['ca'], { to: 'i4' });
  // Resize linear / cubic in several coordinate modes, f32 and f16, 4-D and 5-D
  const resize = (x: string, attrs: Record<string, number | string | number[]>) => add('Resize', [x], attrs);
  resize('img', { scales: [1, 1, 2, 2], mode: 'linear' });
  resize('img', { scales: [1, 1, 1.5, 0.5], mode: 'linear', coordinate_transformation_mode: 'align_corners' });
  resize('img', { sizes: [2, 2, 5, 7], mode: 'cubic', coordinate_transformation_mode: 'asymmetric' });
  resize('img', { scales: [1, 1, 2, 2], mode: 'cubic', coordinate_transformation_mode: 'pytorch_half_pixel', exclude_outside: 1 });
  resize('img', { scales: [1, 1, 0.5, 0.5], mode: 'linear', antialias: 1 });
  resize('img', { scales: [1, 1, 2, 2], mode: 'linear', coordinate_transformation_mode: 'tf_crop_and_resize', roi: [0, 0, 0.2, 0.4, 1, 1, 1.2, 0.8], extrapolation_value: 7 });
  resize('himg', { scales: [1, 1, 2, 2], mode: 'linear', coordinate_transformation_mode: 'half_pixel_symmetric' });
  resize('vol', { scales: [1, 1, 2, 2, 2], mode: 'linear' });
  // Gather with run-time indices; BatchNormalization with run-time mean and variance
  add('Gather', ['img', 'ind'], { axis: 2 });
  add('Gather', ['la', 'ind'], { axis: 0 });
  add('BatchNormalization', ['img', g.addConstant('bns', fromF64('f32', [2], [1.5, -1])), g.addConstant('bnb', fromF64('f32', [2], [0.1, 0.2])), 'bnm', 'bnv'], { epsilon: 1e-3 });
  // max/min kernels propagate a NaN (img holds one), as the reference does
  add('MaxPool', ['img'], { kernel_shape: [2, 2] }); add('GlobalMaxPool', ['img']); add('Softmax', ['img'], { axis: -1 });
  add('ReduceMax', ['img'], { axes: [3], keepdims: 1 }); add('ReduceMin', ['img'], { axes: [2, 3], keepdims: 0 });
  add('MaxPool', ['uimg'], { kernel_shape: [2, 2], pads: [1, 1, 0, 0] }); add('GlobalMaxPool', ['uimg']);
  add('ReduceMax', ['ba'], { axes: [0], keepdims: 0 }); add('ReduceMin', ['ua'], { axes: [0], keepdims: 1 });
  // graph outputs that are a constant and an input
  outs.push(g.addConstant('k', tensor('i64', [3], BigInt64Array.from([1n, -2n, 3n]))), 'ia');
  g.setOutputs(outs);
  return g;
}

describe.skipIf(!ok)(`CUDA typed elementwise, Resize interpolation, run-time Gather/BN, constant outputs on the CPU emulator${ok ? '' : ' SKIPPED: g++ or CUDA headers not found'}`, () => {
  const g = typedGraph();

  it('supports() accepts every node of the graph', () => {
    expect(g.nodes.map((n) => supports(n, g)).filter(Boolean)).toEqual([]);
  });

  it('every output equals the reference (ints/bool exact, f32 1e-4, f16 2e-3)', () => {
    const mod = lowerCuda(g);
    const bin = buildEmulatedProgram(mod, join(work, 'typed'));
    const got = runStandalone(bin, join(work, 'typed'), mod.plan, feeds).outputs;
    const ref = interpret(g, feeds);
    expect(Object.keys(got).length).toBe(g.outputs.length);
    const bad = g.outputs.map((o) => [o, compare(got[o], ref[o])]).filter(([, d]) => d);
    expect(bad).toEqual([]);
  }, 120_000);

  it.skipIf(!findNvcc())('the new kernels compile with nvcc -Werror for sm_80 and sm_90', async () => {
    const mod = lowerCuda(g);
    await expect(checkCompilesAsync(translationUnit('typed kernels', mod.kernels))).resolves.toBeUndefined();
  }, 300_000);
});
