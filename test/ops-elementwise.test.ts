import { describe, expect, it } from 'vitest';
import { nodeCost } from '../ir/cost.js';
import { Graph } from '../ir/graph.js';
import { interpret } from '../ir/interpreter.js';
import type { AttrValue } from '../ir/op.js';
import { roundF16, tensor, toF64, type Tensor } from '../runtime/tensor.js';
import { errorOf } from './op-harness.js';

/** Runs one op on the given tensors through the reference interpreter; returns its outputs. */
function run(op: string, xs: Tensor[], attrs: Record<string, AttrValue> = {}): Tensor[] {
  const g = new Graph('t');
  const names = xs.map((x, i) => g.addInput(`x${i}`, { dtype: x.dtype, shape: x.shape }));
  g.setOutputs(g.addNode(op, names, attrs, { name: 'n' }));
  const res = interpret(g, Object.fromEntries(xs.map((x, i) => [`x${i}`, x])));
  return g.outputs.map((o) => res[o]);
}
const vals = (t: Tensor) => Array.from(toF64(t));
const f32 = (shape: number[], v: number[]) => tensor('f32', shape, v);

describe('binary ops with numpy broadcasting (hand-computed)', () => {
  it('Add broadcasts a row over a matrix and an outer sum of [2,1] + [1,3]', () => {
    const [y] = run('Add', [f32([2, 3], [1, 2, 3, 4, 5, 6]), f32([3], [10, 20, 30])]);
    expect(y.shape).toEqual([2, 3]);
    expect(vals(y)).toEqual([11, 22, 33, 14, 25, 36]);
    const [o] = run('Add', [f32([2, 1], [1, 2]), f32([1, 3], [10, 20, 30])]);
    expect(o.shape).toEqual([2, 3]);
    expect(vals(o)).toEqual([11, 21, 31, 12, 22, 32]);
  });
  it('broadcasts a rank-0 scalar and across ranks ([4,1,2] with [3,1])', () => {
    expect(vals(run('Mul', [f32([], [3]), f32([2], [1, 2])])[0])).toEqual([3, 6]);
    const a = f32([2, 1, 2], [1, 2, 3, 4]);
    const b = f32([3, 1], [10, 20, 30]);
    const [y] = run('Sub', [a, b]);
    expect(y.shape).toEqual([2, 3, 2]);
    expect(vals(y)).toEqual([-9, -8, -19, -18, -29, -28, -7, -6, -17, -16, -27, -26]);
  });
  it('Div: floats divide, integers truncate toward zero, integer division by zero gives 0', () => {
    expect(vals(run('Div', [f32([2], [1, -3]), f32([2], [4, 2])])[0])).toEqual([0.25, -1.5]);
    const [q] = run('Div', [tensor('i32', [4], [7, -7, 7, 5]), tensor('i32', [4], [2, 2, -2, 0])]);
    expect(q.dtype).toBe('i32');
    expect(vals(q)).toEqual([3, -3, -3, 0]);
    const [q64] = run('Div', [tensor('i64', [2], [9, -9]), tensor('i64', [1], [4])]);
    expect(q64.data).toEqual(BigInt64Array.from([2n, -2n]));
  });
  it('integer Add/Sub/Mul stay in their dtype (u8 wraps like a C cast)', () => {
    expect(vals(run('Add', [tensor('u8', [2], [250, 1]), tensor('u8', [2], [10, 2])])[0])).toEqual([4, 3]);
    expect(vals(run('Mul', [tensor('i8', [2], [-3, 4]), tensor('i8', [2], [5, 6])])[0])).toEqual([-15, 24]);
  });
  it('Pow takes an exponent of another dtype; the output has the base dtype', () => {
    const [y] = run('Pow', [f32([3], [2, 3, 4]), tensor('i64', [3], [3, 2, -1])]);
    expect(y.dtype).toBe('f32');
    expect(vals(y)).toEqual([8, 9, 0.25]);
    expect(vals(run('Pow', [tensor('i32', [2], [2, 3]), f32([1], [2])])[0])).toEqual([4, 9]);
  });
  it('PRelu with a per-channel slope [C,1,1] over [1,C,1,2]', () => {
    const [y] = run('PRelu', [f32([1, 2, 1, 2], [-1, 2, -3, 4]), f32([2, 1, 1], [0.5, 0.25])]);
    expect(vals(y)).toEqual([-0.5, 2, -0.75, 4]);
  });
  it('Max/Min/Sum/Mean fold any number of broadcast inputs', () => {
    const a = f32([2, 2], [1, 5, 3, 2]), b = f32([2], [4, 0]), c = f32([], [2]);
    expect(vals(run('Max', [a, b, c])[0])).toEqual([4, 5, 4, 2]);
    expect(vals(run('Min', [a, b, c])[0])).toEqual([1, 0, 2, 0]);
    expect(vals(run('Sum', [a, b, c])[0])).toEqual([7, 7, 9, 4]);
    expect(vals(run('Mean', [a, b, c])[0])).toEqual([7 / 3, 7 / 3, 3, 4 / 3].map(Math.fround));
    expect(vals(run('Max', [a])[0])).toEqual([1, 5, 3, 2]);
    expect(vals(run('Max', [f32([2], [NaN, 1]), f32([2], [0, NaN])])[0]).every(Number.isNaN)).toBe(true);
  });
  it('f16 results are rounded to f16 (tolerance: exact f16 rounding of the float64 result)', () => {
    const h = (v: number[]) => tensor('f16', [v.length], v);
    const [y] = run('Add', [h([0.1, 1000]), h([0.2, 0.3])]);
    expect(y.dtype).toBe('f16');
    expect(vals(y)).toEqual([roundF16(roundF16(0.1) + roundF16(0.2)), roundF16(1000 + roundF16(0.3))]);
  });
});

describe('unary ops, Cast and Identity (hand-computed)', () => {
  it('Neg, Abs, Sqrt, Exp, Log, Reciprocal, Floor, Ceil, Round (half to even)', () => {
    expect(vals(run('Neg', [tensor('i32', [2], [3, -4])])[0])).toEqual([-3, 4]);
    expect(vals(run('Abs', [f32([3], [-1.5, 0, 2])])[0])).toEqual([1.5, 0, 2]);
    expect(vals(run('Sqrt', [f32([2], [4, 2.25])])[0])).toEqual([2, 1.5]);
    expect(vals(run('Exp', [f32([1], [0])])[0])).toEqual([1]);
    expect(vals(run('Log', [f32([2], [1, 0])])[0])).toEqual([0, -Infinity]);
    expect(vals(run('Reciprocal', [f32([2], [4, -0.5])])[0])).toEqual([0.25, -2]);
    expect(vals(run('Floor', [f32([2], [-1.5, 1.5])])[0])).toEqual([-2, 1]);
    expect(vals(run('Ceil', [f32([2], [-1.5, 1.5])])[0])).toEqual([-1, 2]);
    expect(vals(run('Round', [f32([6], [0.5, 1.5, 2.5, -0.5, -1.5, 2.4])])[0])).toEqual([0, 2, 2, -0, -2, 2]);
  });
  it('Cast truncates floats toward zero, rounds to f16, maps nonzero to true', () => {
    const x = f32([4], [1.7, -1.7, 0, 65520]);
    expect(vals(run('Cast', [x], { to: 'i32' })[0])).toEqual([1, -1, 0, 65520]);
    expect(run('Cast', [x], { to: 'i64' })[0].data).toEqual(BigInt64Array.from([1n, -1n, 0n, 65520n]));
    expect(vals(run('Cast', [x], { to: 'f16' })[0])).toEqual([roundF16(1.7), roundF16(-1.7), 0, Infinity]);
    expect(vals(run('Cast', [x], { to: 'bool' })[0])).toEqual([1, 1, 0, 1]);
    expect(run('Cast', [tensor('i64', [1], [7])], { to: 'f32' })[0]).toMatchObject({ dtype: 'f32', shape: [1] });
  });
  it('Identity returns its input', () => {
    expect(vals(run('Identity', [tensor('i32', [2], [5, 6])])[0])).toEqual([5, 6]);
  });
});

describe('comparisons, logic, Where, CastLike (hand-computed)', () => {
  const b = (v: number[]) => tensor('bool', [v.length], v);
  it('comparisons broadcast and give bool; NaN compares unequal', () => {
    const a = f32([2, 2], [1, 2, 3, NaN]);
    const c = f32([2], [2, 3]);
    const [eq] = run('Equal', [a, c]);
    expect([eq.dtype, eq.shape, vals(eq)]).toEqual(['bool', [2, 2], [0, 0, 0, 0]]);
    expect(vals(run('Equal', [a, f32([1], [3])])[0])).toEqual([0, 0, 1, 0]);
    expect(vals(run('Less', [a, c])[0])).toEqual([1, 1, 0, 0]);
    expect(vals(run('LessOrEqual', [a, c])[0])).toEqual([1, 1, 0, 0]);
    expect(vals(run('Greater', [a, c])[0])).toEqual([0, 0, 1, 0]);
    expect(vals(run('GreaterOrEqual', [a, c])[0])).toEqual([0, 0, 1, 0]);
    expect(vals(run('Equal', [tensor('i64', [2], [5, 6]), tensor('i64', [2], [5, 7])])[0])).toEqual([1, 0]);
  });
  it('Not, And, Or, Xor on bool', () => {
    const p = b([0, 0, 1, 1]), q = b([0, 1, 0, 1]);
    expect(vals(run('Not', [p])[0])).toEqual([1, 1, 0, 0]);
    expect(vals(run('And', [p, q])[0])).toEqual([0, 0, 0, 1]);
    expect(vals(run('Or', [p, q])[0])).toEqual([0, 1, 1, 1]);
    expect(vals(run('Xor', [p, q])[0])).toEqual([0, 1, 1, 0]);
  });
  it('Where picks x or y with three-way broadcasting; i64 values stay exact', () => {
    const [y] = run('Where', [tensor('bool', [2, 1], [1, 0]), f32([3], [1, 2, 3]), f32([], [-1])]);
    expect([y.shape, vals(y)]).toEqual([[2, 3], [1, 2, 3, -1, -1, -1]]);
    const big = 2n ** 62n + 3n;
    const [z] = run('Where', [tensor('bool', [2], [0, 1]), tensor('i64', [2], BigInt64Array.of(big, 1n)), tensor('i64', [1], BigInt64Array.of(-big))]);
    expect(z.data).toEqual(BigInt64Array.of(-big, 1n));
  });
  it('CastLike takes the dtype of its second input', () => {
    const [y] = run('CastLike', [f32([2], [2.9, -2.9]), tensor('i32', [0], [])]);
    expect([y.dtype, vals(y)]).toEqual(['i32', [2, -2]]);
  });
});

describe('Softmax, LogSoftmax and reductions (hand-computed)', () => {
  it('Softmax along the last and a middle axis; LogSoftmax', () => {
    const x = f32([2, 2], [0, Math.log(3), 1000, 1000]);
    // Large values do not overflow: the max is subtracted first.
    expect(vals(run('Softmax', [x])[0]).map((v) => +v.toFixed(6))).toEqual([0.25, 0.75, 0.5, 0.5]);
    const [y] = run('Softmax', [f32([1, 2, 2], [0, 0, Math.log(3), 0])], { axis: -2 });
    expect(vals(y).map((v) => +v.toFixed(6))).toEqual([0.25, 0.5, 0.75, 0.5]);
    const [l] = run('LogSoftmax', [f32([2], [0, 0])]);
    vals(l).forEach((v) => expect(v).toBeCloseTo(-Math.LN2, 6));
  });
  it('ReduceMean over axes, with and without keepdims, negative axes and all axes', () => {
    const x = f32([2, 3], [1, 2, 3, 4, 5, 6]);
    const [a] = run('ReduceMean', [x], { axes: [1] });
    expect(a.shape).toEqual([2, 1]);
    expect(vals(a)).toEqual([2, 5]);
    const [b] = run('ReduceMean', [x], { axes: [-2], keepdims: 0 });
    expect(b.shape).toEqual([3]);
    expect(vals(b)).toEqual([2.5, 3.5, 4.5]);
    const [c] = run('ReduceMean', [x], { keepdims: 0 });
    expect(c.shape).toEqual([]);
    expect(vals(c)).toEqual([3.5]);
    const [d] = run('ReduceMean', [x], { noop_with_empty_axes: 1 });
    expect(d.shape).toEqual([2, 3]);
    expect(vals(d)).toEqual([1, 2, 3, 4, 5, 6]);
  });
  it('ReduceSum, ReduceMax, ReduceMin over a middle axis of a 3-D tensor (global pooling shape)', () => {
    const x = f32([1, 2, 2], [1, -2, 3, 4]);
    expect(vals(run('ReduceSum', [x], { axes: [1] })[0])).toEqual([4, 2]);
    expect(vals(run('ReduceMax', [x], { axes: [1, 2] })[0])).toEqual([4]);
    expect(vals(run('ReduceMin', [x], { axes: [2], keepdims: 0 })[0])).toEqual([-2, 3]);
  });
});

describe('elementwise errors and cost', () => {
  it('non-broadcastable shapes are SHAPE_MISMATCH naming node and value', () => {
    const g = new Graph('t');
    const a = g.addInput('a', { dtype: 'f32', shape: [2, 3] });
    const b = g.addInput('b', { dtype: 'f32', shape: [4] });
    const e = errorOf(() => g.add('Add', [a, b], {}, { name: 'add0' }));
    expect(e.code).toBe('SHAPE_MISMATCH');
    expect(e.node).toBe('add0');
    expect(e.op).toBe('Add');
    expect(e.value).toBe('b');
  });
  it('mixed dtypes, bool arithmetic, a slope that grows the input and an unknown Cast target are typed errors', () => {
    const g = new Graph('t');
    const a = g.addInput('a', { dtype: 'f32', shape: [2] });
    const i = g.addInput('i', { dtype: 'i32', shape: [2] });
    const m = g.addInput('m', { dtype: 'bool', shape: [2] });
    const s = g.addInput('s', { dtype: 'f32', shape: [3, 2] });
    expect(errorOf(() => g.add('Add', [a, i])).code).toBe('DTYPE_MISMATCH');
    expect(errorOf(() => g.add('Add', [m, m])).code).toBe('DTYPE_MISMATCH');
    expect(errorOf(() => g.add('Sqrt', [i])).code).toBe('DTYPE_MISMATCH');
    expect(errorOf(() => g.add('PRelu', [a, s])).value).toBe('s');
    expect(errorOf(() => g.add('Cast', [a], { to: 'f128' })).code).toBe('BAD_ATTRIBUTE');
    expect(errorOf(() => g.add('Where', [a, a, a])).code).toBe('DTYPE_MISMATCH');
    expect(errorOf(() => g.add('And', [a, a])).code).toBe('DTYPE_MISMATCH');
    expect(errorOf(() => g.add('Softmax', [a], { axis: 1 })).code).toBe('BAD_ATTRIBUTE');
    expect(errorOf(() => g.add('ReduceMean', [s], { axes: [0, -2] })).code).toBe('BAD_ATTRIBUTE');
  });
  it('cost: one flop per output element, n−1 per element for variadic ops', () => {
    const g = new Graph('t');
    const a = g.addInput('a', { dtype: 'f32', shape: [2, 3] });
    const b = g.addInput('b', { dtype: 'f32', shape: [3] });
    g.add('Add', [a, b], {}, { name: 'add' });
    g.add('Max', [a, b, a], {}, { name: 'max' });
    const [add, max] = g.nodes;
    expect(nodeCost(g, add).flops).toBe(6);
    expect(nodeCost(g, max).flops).toBe(12);
    expect(nodeCost(g, add).bytesWritten).toBe(24);
  });
});
