/**
 * WGSL kernels on integer and bool tensors, NaN in max/min reductions, empty outputs and Resize
 * linear/cubic, each against the reference interpreter (f32: |got − ref| ≤ 1e-5 + 1e-4·|ref|,
 * NaN where the reference has NaN; integers and bool exactly, with their dtypes). Several ops share
 * one graph so that one compile and one session cover them (llvmpipe compiles every shader).
 */
import { describe, expect, it } from 'vitest';
import { compile } from '../index.js';
import { CnncError } from '../runtime/errors.js';
import { Graph } from '../ir/graph.js';
import { interpret } from '../ir/interpreter.js';
import { tensor, toF64, type DType, type Tensor } from '../runtime/tensor.js';
import { randT } from './wgsl-harness.js';

const TOL = { rtol: 1e-4, atol: 1e-5 };
/** f64 as the conformance runner checks it: the wgsl target carries f64 in f32 (one rounding, 2^-24). */
const F64_TOL = { rtol: 1e-7, atol: 1e-12 };

function expectSame(ref: Record<string, Tensor>, got: Record<string, Tensor>): void {
  for (const [k, want] of Object.entries(ref)) {
    expect(got[k].dtype, k).toBe(want.dtype);
    expect(got[k].shape, k).toEqual(want.shape);
    const a = toF64(want), b = toF64(got[k]);
    const exact = !['f32', 'f16', 'f64'].includes(want.dtype);
    const tol = want.dtype === 'f64' ? F64_TOL : TOL;
    for (let i = 0; i < a.length; i++) {
      if (Number.isNaN(a[i])) { expect(b[i], `${k}[${i}]`).toBeNaN(); continue; }
      if (exact || !Number.isFinite(a[i])) expect(b[i], `${k}[${i}]`).toBe(a[i]);
      else expect(Math.abs(b[i] - a[i]), `${k}[${i}]: got ${b[i]}, want ${a[i]}`).toBeLessThanOrEqual(tol.atol + tol.rtol * Math.abs(a[i]));
    }
  }
}

async function expectGraph(g: Graph, feeds: Record<string, Tensor>): Promise<void> {
  const c = await compile(g, 'wgsl', { opt: 'O0' });
  expectSame(interpret(g, feeds), await c.run(feeds));
}

const t = (dtype: DType, shape: number[], v: number[]): Tensor =>
  tensor(dtype, shape, dtype === 'i64' ? BigInt64Array.from(v, (x) => BigInt(x)) : dtype === 'u64' ? BigUint64Array.from(v, (x) => BigInt(x)) : v);

describe('wgsl integer and bool tensors', () => {
  it('comparisons, Where, logic, Cast, u8/i8 wrapping arithmetic, integer Pow and empty Slice in one graph', async () => {
    const g = new Graph('ints');
    const nan = Number.NaN;
    const x = g.addInput('x', { dtype: 'f32', shape: [8] });
    const y = g.addInput('y', { dtype: 'f32', shape: [8] });
    const a8 = g.addInput('a8', { dtype: 'u8', shape: [6] });
    const b8 = g.addInput('b8', { dtype: 'u8', shape: [6] });
    const s8 = g.addInput('s8', { dtype: 'i8', shape: [6] });
    const l = g.addInput('l', { dtype: 'i64', shape: [4] });
    const k = g.addConstant('k', t('i64', [4], [3, 2, 0, 5]));
    const lt = g.addNode('Less', [x, y])[0];
    const eq = g.addNode('Equal', [x, y])[0];
    const outs = [
      lt, eq,
      g.addNode('Where', [lt, x, y])[0],
      g.addNode('Not', [lt])[0],
      g.addNode('Or', [lt, eq])[0],
      g.addNode('Cast', [x], { to: 'bool' })[0],
      g.addNode('Cast', [x], { to: 'u8' })[0],
      g.addNode('Cast', [lt], { to: 'f32' })[0],
      g.addNode('Add', [a8, b8])[0],
      g.addNode('Sub', [a8, b8])[0],
      g.addNode('Mul', [s8, s8])[0],
      g.addNode('Pow', [l, k])[0],
      g.addNode('Greater', [l, k])[0],
      g.addNode('Slice', [x], { starts: [9], ends: [12], axes: [0] })[0],
    ];
    g.setOutputs(outs);
    await expectGraph(g, {
      x: tensor('f32', [8], [1, -2, nan, 0.5, 3, -0, 7, 2]),
      y: tensor('f32', [8], [2, -2, 1, nan, -3, 0, 7.5, 1]),
      a8: tensor('u8', [6], [250, 3, 0, 255, 128, 7]),
      b8: tensor('u8', [6], [10, 5, 0, 255, 128, 9]),
      s8: tensor('i8', [6], [-128, 127, 12, -12, 0, 100]),
      l: t('i64', [4], [3, -7, 12345, 3]),
    });
  });

  it('refuses an i64 input value outside i32 at run time, and an i64 constant outside i32 at compile time', async () => {
    const g = new Graph('wide');
    const l = g.addInput('l', { dtype: 'i64', shape: [2] });
    g.setOutputs(g.addNode('Add', [l, l]));
    const c = await compile(g, 'wgsl', { opt: 'O0' });
    await expect(c.run({ l: t('i64', [2], [1, 2 ** 40]) })).rejects.toThrow(/outside the i32 range/);

    const h = new Graph('wideconst');
    const m = h.addInput('m', { dtype: 'i64', shape: [2] });
    const big = h.addConstant('big', t('i64', [2], [1, 2 ** 33]));
    h.setOutputs(h.addNode('Add', [m, big]));
    await expect(compile(h, 'wgsl', { opt: 'O0' })).rejects.toThrow(/i64 constant 'big' holds 8589934592/);
  });
});

describe('wgsl NaN in max/min reductions', () => {
  it('MaxPool, ReduceMax, ReduceMin, GlobalMaxPool and Softmax keep a NaN', async () => {
    const g = new Graph('nan');
    const x = g.addInput('x', { dtype: 'f32', shape: [1, 2, 4, 4] });
    g.setOutputs([
      g.addNode('MaxPool', [x], { kernel_shape: [2, 2], strides: [2, 2] })[0],
      g.addNode('ReduceMax', [x], { axes: [2, 3], keepdims: 0 })[0],
      g.addNode('ReduceMin', [x], { axes: [1], keepdims: 1 })[0],
      g.addNode('GlobalMaxPool', [x])[0],
      g.addNode('Softmax', [x], { axis: -1 })[0],
    ]);
    const v = randT([1, 2, 4, 4], 7);
    (v.data as Float32Array)[5] = Number.NaN;
    await expectGraph(g, { x: v });
  });
});

describe('wgsl Resize linear and cubic', () => {
  it('every coordinate transformation mode, antialias, exclude_outside, crop and extrapolation', async () => {
    const g = new Graph('resize');
    const x = g.addInput('x', { dtype: 'f32', shape: [1, 2, 5, 6] });
    const outs: string[] = [];
    for (const coordinate_transformation_mode of ['half_pixel', 'half_pixel_symmetric', 'pytorch_half_pixel', 'align_corners', 'asymmetric']) {
      outs.push(g.addNode('Resize', [x], { mode: 'linear', scales: [1, 1, 1.7, 0.6], coordinate_transformation_mode })[0]);
      outs.push(g.addNode('Resize', [x], { mode: 'cubic', sizes: [1, 2, 3, 9], coordinate_transformation_mode })[0]);
    }
    outs.push(g.addNode('Resize', [x], { mode: 'cubic', scales: [1, 1, 0.6, 0.5], antialias: 1, exclude_outside: 1, cubic_coeff_a: -0.5 })[0]);
    outs.push(g.addNode('Resize', [x], { mode: 'linear', sizes: [1, 2, 4, 4], coordinate_transformation_mode: 'tf_crop_and_resize', roi: [0, 0, 0.4, 0.6, 1, 1, 1.2, 0.9], extrapolation_value: 10 })[0]);
    g.setOutputs(outs);
    await expectGraph(g, { x: randT([1, 2, 5, 6], 3) });
  });
});

describe('wgsl kernels added for issue 14', () => {
  it('BatchNormalization with statistics fed at run time, InstanceNormalization, Tile, DepthToSpace, SpaceToDepth, Pad wrap, Shape, Size, CastLike', async () => {
    const g = new Graph('more');
    const x = g.addInput('x', { dtype: 'f32', shape: [2, 4, 2, 4] });
    const mean = g.addInput('mean', { dtype: 'f32', shape: [4] });
    const vr = g.addInput('var', { dtype: 'f32', shape: [4] });
    const scale = g.addConstant('scale', randT([4], 11));
    const bias = g.addConstant('bias', randT([4], 12));
    const like = g.addConstant('like', tensor('i32', [1], [0]));
    g.setOutputs([
      g.addNode('BatchNormalization', [x, scale, bias, mean, vr], { epsilon: 1e-3 })[0],
      g.addNode('InstanceNormalization', [x, scale, bias], { epsilon: 1e-4 })[0],
      g.addNode('Tile', [x], { repeats: [1, 2, 1, 3] })[0],
      g.addNode('DepthToSpace', [x], { blocksize: 2, mode: 'CRD' })[0],
      g.addNode('DepthToSpace', [x], { blocksize: 2, mode: 'DCR' })[0],
      g.addNode('SpaceToDepth', [x], { blocksize: 2 })[0],
      g.addNode('Pad', [x], { pads: [0, 0, 2, 1, 0, 0, 1, 5], mode: 'wrap' })[0],
      g.addNode('Shape', [x], { start: 1 })[0],
      g.addNode('Size', [x])[0],
      g.addNode('CastLike', [x, like])[0],
    ]);
    const v = tensor('f32', [4], [0.5, 1, 2, 0.25]);
    await expectGraph(g, { x: randT([2, 4, 2, 4], 5), mean: randT([4], 6), var: v });
  });
});

describe('wgsl 3-D Conv and pooling', () => {
  it('Conv3d with groups, bias, pads, strides, dilations and an activation; MaxPool3d and AveragePool3d', async () => {
    const g = new Graph('video');
    const x = g.addInput('x', { dtype: 'f32', shape: [2, 4, 5, 6, 7] });
    const w = g.addConstant('w', randT([6, 2, 3, 2, 3], 21));
    const b = g.addConstant('b', randT([6], 22));
    g.setOutputs([
      g.addNode('Conv', [x, w, b], { group: 2, pads: [1, 0, 1, 1, 1, 0], strides: [1, 2, 2], dilations: [1, 1, 2], activation: 'relu' })[0],
      g.addNode('MaxPool', [x], { kernel_shape: [2, 3, 2], strides: [2, 2, 1], pads: [0, 1, 0, 0, 1, 1], ceil_mode: 1 })[0],
      g.addNode('AveragePool', [x], { kernel_shape: [3, 2, 2], pads: [1, 1, 0, 1, 0, 1], count_include_pad: 1 })[0],
      g.addNode('AveragePool', [x], { kernel_shape: [2, 2, 2], pads: [1, 1, 1, 1, 1, 1] })[0],
    ]);
    const v = randT([2, 4, 5, 6, 7], 23);
    (v.data as Float32Array)[40] = Number.NaN;
    await expectGraph(g, { x: v });
  });
});

describe('wgsl casts to integers', () => {
  it('truncate and wrap modulo 2^bits as the reference does (i32, u16, i16, u4, i4, u2, i2), NaN and ±∞ giving 0', async () => {
    const g = new Graph('casts');
    const x = g.addInput('x', { dtype: 'f32', shape: [12] });
    g.setOutputs((['i32', 'u16', 'i16', 'u4', 'i4', 'u2', 'i2', 'u8', 'i8'] as const).map((to) => g.addNode('Cast', [x], { to })[0]));
    const big = 3e9, inf = Number.POSITIVE_INFINITY;
    await expectGraph(g, { x: tensor('f32', [12], [0.5, -1.7, 7.9, -8.2, 65537.5, -40000, big, -big, 1e12, Number.NaN, inf, -inf]) });
  });
});

describe('wgsl integer ops beyond 2^24', () => {
  it('Equal, Less, Where and casts between integer dtypes are exact on i64 values f32 cannot hold', async () => {
    const g = new Graph('bigints');
    const a = g.addInput('a', { dtype: 'i64', shape: [4] });
    const b = g.addInput('b', { dtype: 'i64', shape: [4] });
    const eq = g.addNode('Equal', [a, b])[0];
    g.setOutputs([
      eq,
      g.addNode('Less', [a, b])[0],
      g.addNode('Where', [eq, a, b])[0],
      g.addNode('Where', [g.addNode('Less', [a, b])[0], b, a])[0],
      g.addNode('Cast', [a], { to: 'i32' })[0],
      g.addNode('Cast', [a], { to: 'u8' })[0],
      g.addNode('Cast', [b], { to: 'i16' })[0],
      g.addNode('Cast', [eq], { to: 'i64' })[0],
    ]);
    await expectGraph(g, { a: t('i64', [4], [16777217, -16777219, 2 ** 30 + 1, 5]), b: t('i64', [4], [16777216, -16777219, 2 ** 30, -(2 ** 31)]) });
  });
});

describe('wgsl integer arithmetic in native i32/u32 (exact beyond 2^24)', () => {
  const I32_MIN = -(2 ** 31), I32_MAX = 2 ** 31 - 1;
  it('i32 and i64 Add, Sub, Mul, Div, Pow, Max, Min, Abs, Neg, comparisons: wrapping, truncating, x/0 = 0, as the reference', async () => {
    const g = new Graph('intmath');
    const outs: string[] = [];
    for (const dtype of ['i32', 'i64'] as const) {
      const a = g.addInput(`a_${dtype}`, { dtype, shape: [8] });
      const b = g.addInput(`b_${dtype}`, { dtype, shape: [8] });
      for (const op of ['Add', 'Sub', 'Mul', 'Div', 'Max', 'Min', 'Less', 'Equal', 'GreaterOrEqual']) outs.push(g.addNode(op, [a, b])[0]);
      outs.push(g.addNode('Abs', [a])[0], g.addNode('Neg', [b])[0]);
    }
    const p = g.addInput('p', { dtype: 'i32', shape: [8] }), n = g.addInput('n', { dtype: 'i32', shape: [8] });
    outs.push(g.addNode('Pow', [p, n])[0]);
    g.setOutputs(outs);
    // i32: 16777217 + 1 (f32 gives 16777216 + 1 = 16777216), 2^30 · 3 wraps to −2^30, INT_MIN / −1 wraps, x / 0 = 0
    const a32 = [16777217, 2 ** 30, I32_MIN, -7, 7, 123456789, I32_MAX, 16777219];
    const b32 = [1, 3, -1, 2, 0, -16777217, 1, 16777218];
    // i64 carried in i32: results that stay in i32
    const a64 = [16777217, 2 ** 29, -16777219, -7, 7, 123456789, 2 ** 30, 16777219];
    const b64 = [1, 3, -1, 2, 0, -17, 1, 127];
    await expectGraph(g, {
      a_i32: tensor('i32', [8], a32), b_i32: tensor('i32', [8], b32), a_i64: t('i64', [8], a64), b_i64: t('i64', [8], b64),
      // 3^19 > 2^24, 2^31 wraps to INT_MIN, (−1)^−3 = −1, 2^−1 = 0, 0^−1 = 0 (1/0 stored as 0), 1^−5 = 1, 7^0 = 1, (−3)^13
      p: tensor('i32', [8], [3, 2, -1, 2, 0, 1, 7, -3]), n: tensor('i32', [8], [19, 31, -3, -1, -1, -5, 0, 13]),
    });
  });

  it('i64 carried in i32: results at the i32 edges exact; a result beyond i32 is OUT_OF_RANGE naming node and element, never wrapped', async () => {
    const g = new Graph('i64range');
    const i64 = (name: string) => g.addInput(name, { dtype: 'i64', shape: [4] });
    const nodes: [string, string[], Record<string, string>?][] = [
      ['Add', [i64('a1'), i64('b1')]], ['Sub', [i64('a2'), i64('b2')]], ['Mul', [i64('a3'), i64('b3')]],
      ['Neg', [i64('a4')]], ['Abs', [i64('a5')]], ['Pow', [i64('a6'), i64('n6')]], ['Sum', [i64('a7'), i64('b7'), i64('c7')]],
      ['Div', [i64('a8'), i64('b8')]], ['Cast', [g.addInput('x', { dtype: 'f32', shape: [4] })], { to: 'i64' }],
    ];
    g.setOutputs(nodes.flatMap(([op, ins, attrs]) => g.addNode(op, ins, attrs ?? {}, { name: `my${op}` })));
    // every result at or next to the i32 edges, none beyond
    const inRange: Record<string, Tensor> = {
      a1: t('i64', [4], [I32_MAX - 1, I32_MIN + 1, 5, -3]), b1: t('i64', [4], [1, -1, 16777216, 3]),
      a2: t('i64', [4], [I32_MIN + 1, I32_MAX - 1, -16777217, 0]), b2: t('i64', [4], [1, -1, 1, I32_MAX]),
      a3: t('i64', [4], [-65536, 65535, 46340, -1]), b3: t('i64', [4], [32768, 32767, 46340, I32_MAX]),
      a4: t('i64', [4], [I32_MAX, -I32_MAX, 0, 16777217]), a5: t('i64', [4], [-I32_MAX, I32_MAX, -1, 0]),
      a6: t('i64', [4], [-2, 2, 3, -1]), n6: t('i64', [4], [31, 30, 19, 2 ** 30 + 1]),
      // Sum: 2^31 − 1 + 1 − 5 and −2^31 − 5 + 5 wrap on the way and come back: exact, not refused
      a7: t('i64', [4], [I32_MAX, I32_MIN, 1, I32_MAX - 2]), b7: t('i64', [4], [1, -5, 2, 1]), c7: t('i64', [4], [-5, 5, 3, 1]),
      a8: t('i64', [4], [I32_MIN, I32_MAX, 7, -7]), b8: t('i64', [4], [1, -1, 0, 2]),
      x: tensor('f32', [4], [-2147483648, 2147483520, -3.9, 3.9]),
    };
    const c = await compile(g, 'wgsl', { opt: 'O0' });
    expectSame(interpret(g, inRange), await c.run(inRange));
    // one result beyond i32 per run: [node, the inputs changed, the element]
    const beyond: [string, Record<string, Tensor>, number][] = [
      ['myAdd', { a1: t('i64', [4], [5, I32_MAX, 0, 0]), b1: t('i64', [4], [1, 1, 0, 0]) }, 1],
      ['mySub', { a2: t('i64', [4], [0, 0, I32_MIN, 0]), b2: t('i64', [4], [0, 0, 1, 0]) }, 2],
      ['myMul', { a3: t('i64', [4], [65536, 1, 1, 1]), b3: t('i64', [4], [32768, 1, 1, 1]) }, 0],
      ['myMul', { a3: t('i64', [4], [1, 1, 1, -1]), b3: t('i64', [4], [1, 1, 1, I32_MIN]) }, 3],
      ['myNeg', { a4: t('i64', [4], [0, 0, 0, I32_MIN]) }, 3],
      ['myAbs', { a5: t('i64', [4], [I32_MIN, 0, 0, 0]) }, 0],
      ['myPow', { a6: t('i64', [4], [1, 2, 1, 1]), n6: t('i64', [4], [1, 31, 1, 1]) }, 1],
      ['myPow', { a6: t('i64', [4], [1, 1, 65536, 1]), n6: t('i64', [4], [1, 1, 3, 1]) }, 2],
      ['mySum', { a7: t('i64', [4], [0, I32_MAX, 0, 0]), b7: t('i64', [4], [0, I32_MAX, 0, 0]), c7: t('i64', [4], [0, -5, 0, 0]) }, 1],
      ['myDiv', { a8: t('i64', [4], [0, I32_MIN, 0, 0]), b8: t('i64', [4], [1, -1, 1, 1]) }, 1],
      ['myCast', { x: tensor('f32', [4], [0, 0, 3e9, 0]) }, 2],
      ['myCast', { x: tensor('f32', [4], [-2147483904, 0, 0, 0]) }, 0],
    ];
    for (const [node, change, k] of beyond) {
      const err = await c.run({ ...inRange, ...change }).then(() => undefined, (e: unknown) => e);
      expect(err, node).toBeInstanceOf(CnncError);
      expect((err as CnncError).code, node).toBe('OUT_OF_RANGE');
      expect((err as CnncError).node, node).toBe(node);
      expect((err as CnncError).message, node).toContain(`i64 result element ${k} is outside the i32 range`);
    }
    // the status is reset per run: in range again gives the reference's values
    expectSame(interpret(g, inRange), await c.run(inRange));
  });

  it('u32 natively and u64 carried in u32: wrapping Add/Sub/Mul, Div by 0, unsigned Max/Min/Less above 2^31, Pow, casts', async () => {
    const g = new Graph('uintmath');
    const a = g.addInput('a', { dtype: 'u32', shape: [6] }), b = g.addInput('b', { dtype: 'u32', shape: [6] });
    const c = g.addInput('c', { dtype: 'u64', shape: [6] }), d = g.addInput('d', { dtype: 'u64', shape: [6] });
    const k = g.addConstant('k', t('u64', [1], [3000000000]));
    const e = g.addInput('e', { dtype: 'u32', shape: [6] });
    const outs = ['Add', 'Sub', 'Mul', 'Div', 'Max', 'Min', 'Less'].map((op) => g.addNode(op, [a, b])[0]);
    outs.push(g.addNode('Pow', [a, e])[0]); // results below 2^53, where the reference's float64 pow is exact
    outs.push(...['Max', 'Min', 'Div', 'Greater'].map((op) => g.addNode(op, [c, d])[0]));
    outs.push(g.addNode('Max', [c, k])[0], g.addNode('Cast', [a], { to: 'i32' })[0], g.addNode('Cast', [c], { to: 'f32' })[0]);
    outs.push(g.addNode('Cast', [b], { to: 'u64' })[0], g.addNode('Cast', [g.addNode('Cast', [a], { to: 'f32' })[0]], { to: 'u32' })[0]);
    g.setOutputs(outs);
    const big = 2 ** 32 - 1;
    await expectGraph(g, {
      a: tensor('u32', [6], [big, 0, 65537, big, 2 ** 31 + 5, 2]),
      b: tensor('u32', [6], [1, 1, 65537, 0, 2 ** 31 + 4, 31]),
      e: tensor('u32', [6], [1, 7, 2, 0, 1, 31]),
      c: t('u64', [6], [big, 16777217, 7, 2 ** 31, 0, 10]),
      d: t('u64', [6], [16777216, 16777216, 0, 2 ** 31 + 1, 5, 3]),
    });
  });

  it('refuses a u64 input of 2^32 or more at run time and u64 Sub (it wraps to 2^64 − k) at compile time', async () => {
    const g = new Graph('wideu');
    const c = g.addInput('c', { dtype: 'u64', shape: [2] });
    g.setOutputs(g.addNode('Max', [c, c]));
    const m = await compile(g, 'wgsl', { opt: 'O0' });
    await expect(m.run({ c: t('u64', [2], [1, 2 ** 32]) })).rejects.toThrow(/u64 input element 1 is 4294967296, outside the u32 range/);
    const h = new Graph('subu');
    const x = h.addInput('x', { dtype: 'u64', shape: [2] });
    h.setOutputs(h.addNode('Sub', [x, x]));
    await expect(compile(h, 'wgsl', { opt: 'O0' })).rejects.toThrow(/u64 Sub can leave the u32 range/);
  });
});

describe('wgsl f64 carried in f32', () => {
  it('Cast to and from f64, Max, Min, Abs, Neg, Where, Concat within the f64 tolerance of the float64 reference', async () => {
    const g = new Graph('f64');
    const x = g.addInput('x', { dtype: 'f64', shape: [7] }), y = g.addInput('y', { dtype: 'f64', shape: [7] });
    const h = g.addInput('h', { dtype: 'f16', shape: [7] }), f = g.addInput('f', { dtype: 'f32', shape: [7] });
    const cond = g.addNode('Greater', [f, g.addConstant('zero', tensor('f32', [1], [0]))])[0];
    g.setOutputs([
      g.addNode('Cast', [x], { to: 'f32' })[0], g.addNode('Cast', [x], { to: 'f16' })[0],
      g.addNode('Cast', [h], { to: 'f64' })[0], g.addNode('Cast', [f], { to: 'f64' })[0],
      g.addNode('Max', [x, y])[0], g.addNode('Min', [x, y])[0], g.addNode('Abs', [x])[0], g.addNode('Neg', [y])[0],
      g.addNode('Where', [cond, x, y])[0], g.addNode('Concat', [x, y], { axis: 0 })[0],
    ]);
    const nan = Number.NaN;
    const h16 = tensor('f16', [7], [0, 0x3c00, 0xbc00, 0x7bff, 0x0001, 0x7c00, 0x7e00]); // 0, 1, −1, 65504, 2^-24, ∞, NaN
    await expectGraph(g, {
      x: tensor('f64', [7], [1 / 3, -2.718281828459045, 1e-300, 3e38, nan, -Infinity, 16777217]),
      y: tensor('f64', [7], [0.1, -2.7182818, -1e-300, -3e38, 1, 5, 16777216]),
      h: h16, f: tensor('f32', [7], [0.1, -1, 0, 3, nan, 2, -0]),
    });
  });

  it('refuses f64 arithmetic by name at compile time and an f64 input beyond f32 at run time', async () => {
    const g = new Graph('f64add');
    const x = g.addInput('x', { dtype: 'f64', shape: [2] });
    g.setOutputs(g.addNode('Add', [x, x]));
    await expect(compile(g, 'wgsl', { opt: 'O0' })).rejects.toThrow(/f64 Add would compute in f32/);
    const h = new Graph('f64max');
    const y = h.addInput('y', { dtype: 'f64', shape: [2] });
    h.setOutputs(h.addNode('Max', [y, y]));
    const m = await compile(h, 'wgsl', { opt: 'O0' });
    await expect(m.run({ y: tensor('f64', [2], [1, 1e300]) })).rejects.toThrow(/f64 input element 1 is 1e\+300, beyond the f32 range/);
  });
});

describe('wgsl 3-D ConvTranspose', () => {
  it('with groups, strides, dilations, pads, output_padding and bias', async () => {
    const g = new Graph('deconv3d');
    const x = g.addInput('x', { dtype: 'f32', shape: [2, 4, 3, 4, 3] });
    const w = g.addConstant('w', randT([4, 3, 2, 3, 2], 31));
    const b = g.addConstant('b', randT([6], 32));
    g.setOutputs([
      g.addNode('ConvTranspose', [x, w, b], { group: 2, strides: [2, 1, 2], dilations: [1, 2, 1], pads: [1, 0, 0, 0, 1, 1], output_padding: [1, 0, 1] })[0],
    ]);
    await expectGraph(g, { x: randT([2, 4, 3, 4, 3], 33) });
  });
});
