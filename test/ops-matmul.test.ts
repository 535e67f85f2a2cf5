import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { nodeCost } from '../ir/cost.js';
import { Graph } from '../ir/graph.js';
import { interpret } from '../ir/interpreter.js';
import type { AttrValue } from '../ir/op.js';
import { tensor, toF64, type Tensor } from '../runtime/tensor.js';
import { errorOf } from './op-harness.js';

function run(op: string, xs: (Tensor | undefined)[], attrs: Record<string, AttrValue> = {}): Tensor {
  const g = new Graph('t');
  const names = xs.map((x, i) => (x ? g.addInput(`x${i}`, { dtype: x.dtype, shape: x.shape }) : ''));
  g.setOutputs([g.add(op, names, attrs, { name: 'n' })]);
  const feeds = Object.fromEntries(xs.flatMap((x, i) => (x ? [[`x${i}`, x]] : [])));
  return interpret(g, feeds)[g.outputs[0]];
}
const vals = (t: Tensor) => Array.from(toF64(t));
const f32 = (shape: number[], v: number[]) => tensor('f32', shape, v);

// A = [[1,2,3],[4,5,6]] (2×3), B = [[1,0],[0,1],[1,1]] (3×2): A·B = [[4,5],[10,11]].
const A = f32([2, 3], [1, 2, 3, 4, 5, 6]);
const B = f32([3, 2], [1, 0, 0, 1, 1, 1]);
const AT = f32([3, 2], [1, 4, 2, 5, 3, 6]);
const BT = f32([2, 3], [1, 0, 1, 0, 1, 1]);

describe('Gemm (hand-computed)', () => {
  it('plain product, and the same through transA and transB', () => {
    expect(vals(run('Gemm', [A, B]))).toEqual([4, 5, 10, 11]);
    expect(vals(run('Gemm', [AT, B], { transA: 1 }))).toEqual([4, 5, 10, 11]);
    expect(vals(run('Gemm', [A, BT], { transB: 1 }))).toEqual([4, 5, 10, 11]);
    expect(vals(run('Gemm', [AT, BT], { transA: 1, transB: 1 }))).toEqual([4, 5, 10, 11]);
  });
  it('alpha, beta and C broadcast as a row [N], a column [M,1] and a scalar', () => {
    expect(vals(run('Gemm', [A, B, f32([2], [1, 2])], { alpha: 2, beta: 0.5 }))).toEqual([8.5, 11, 20.5, 23]);
    expect(vals(run('Gemm', [A, B, f32([2, 1], [100, 200])]))).toEqual([104, 105, 210, 211]);
    expect(vals(run('Gemm', [A, B, f32([], [1])], { beta: -1 }))).toEqual([3, 4, 9, 10]);
  });
  it('epilogue: act(alpha·A·B + beta·C + R) with residual R and relu / clip / leaky_relu', () => {
    const C = f32([2], [-10, 0]);
    const R = f32([2, 2], [1, -6, -1, 1]);
    // A·B + C + R = [[-5, -1], [-1, 12]]
    expect(vals(run('Gemm', [A, B, C, R]))).toEqual([-5, -1, -1, 12]);
    expect(vals(run('Gemm', [A, B, C, R], { activation: 'relu' }))).toEqual([0, 0, 0, 12]);
    expect(vals(run('Gemm', [A, B, C, R], { activation: 'clip', act_alpha: 0, act_beta: 6 }))).toEqual([0, 0, 0, 6]);
    expect(vals(run('Gemm', [A, B, C, R], { activation: 'leaky_relu', act_alpha: 0.5 }))).toEqual([-2.5, -0.5, -0.5, 12]);
    // Residual without bias: C marked absent with ''.
    expect(vals(run('Gemm', [A, B, undefined, R], { activation: 'relu' }))).toEqual([5, 0, 9, 12]);
  });
  it('rejects mismatched K, a non-broadcastable C, a bad activation and mixed dtypes', () => {
    const g = new Graph('t');
    const a = g.addInput('a', { dtype: 'f32', shape: [2, 3] });
    const b = g.addInput('b', { dtype: 'f32', shape: [2, 3] });
    const c = g.addInput('c', { dtype: 'f32', shape: [3] });
    const h = g.addInput('h', { dtype: 'f16', shape: [3, 2] });
    let e = errorOf(() => g.add('Gemm', [a, b], {}, { name: 'fc' }));
    expect([e.code, e.node, e.op, e.value]).toEqual(['SHAPE_MISMATCH', 'fc', 'Gemm', 'b']);
    e = errorOf(() => g.add('Gemm', [a, b, c], { transB: 1 }, { name: 'fc2' }));
    expect([e.code, e.value]).toEqual(['SHAPE_MISMATCH', 'c']);
    expect(errorOf(() => g.add('Gemm', [a, b], { transB: 1, activation: 'swish' })).code).toBe('BAD_ATTRIBUTE');
    expect(errorOf(() => g.add('Gemm', [a, h])).code).toBe('DTYPE_MISMATCH');
  });
  it('cost: 2·M·N·K flops; params are the constant weights', () => {
    const g = new Graph('t');
    const x = g.addInput('x', { dtype: 'f32', shape: [4, 3] });
    const w = g.addConstant('w', f32([5, 3], new Array(15).fill(1)));
    const bias = g.addConstant('b', f32([5], new Array(5).fill(0)));
    g.add('Gemm', [x, w, bias], { transB: 1 });
    const c = nodeCost(g, g.nodes[0]);
    expect(c.flops).toBe(2 * 4 * 5 * 3);
    expect(c.params).toBe(20);
  });
});

/** An independent naive batched matmul over explicit nested arrays (for the property test). */
function naiveBatched(a: number[][][], b: number[][][]): number[][][] {
  return a.map((m, q) => m.map((row) => b[q][0].map((_, j) => row.reduce((s, v, p) => s + v * b[q][p][j], 0))));
}

describe('MatMul (numpy semantics)', () => {
  it('2-D product', () => {
    expect(vals(run('MatMul', [A, B]))).toEqual([4, 5, 10, 11]);
  });
  it('1-D operands are promoted then their axis dropped', () => {
    const v = f32([3], [1, 1, 1]);
    const r1 = run('MatMul', [v, B]);
    expect(r1.shape).toEqual([2]);
    expect(vals(r1)).toEqual([2, 2]);
    const r2 = run('MatMul', [A, v]);
    expect(r2.shape).toEqual([2]);
    expect(vals(r2)).toEqual([6, 15]);
    const r3 = run('MatMul', [v, f32([3], [1, 2, 3])]);
    expect(r3.shape).toEqual([]);
    expect(vals(r3)).toEqual([6]);
  });
  it('batch dims broadcast: [2,1,2,3] × [3,3,2] → [2,3,2,2]', () => {
    const a = f32([2, 1, 2, 3], [1, 2, 3, 4, 5, 6, -1, -2, -3, -4, -5, -6]);
    const b = f32([3, 3, 2], [1, 0, 0, 1, 1, 1, /* */ 2, 0, 0, 2, 2, 2, /* */ 0, 0, 0, 0, 0, 1]);
    const y = run('MatMul', [a, b]);
    expect(y.shape).toEqual([2, 3, 2, 2]);
    expect(vals(y)).toEqual([
      4, 5, 10, 11, 8, 10, 20, 22, 0, 3, 0, 6,
      -4, -5, -10, -11, -8, -10, -20, -22, 0, -3, 0, -6,
    ]);
  });
  it('matches a naive batched product on random shapes (property, f32 tolerance 1e-5 relative)', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }),
      fc.integer({ min: 0, max: 1000 }),
      (nb, m, k, n, seed) => {
        let s = seed;
        const rnd = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
        const a = Array.from({ length: nb }, () => Array.from({ length: m }, () => Array.from({ length: k }, rnd)));
        const b = Array.from({ length: nb }, () => Array.from({ length: k }, () => Array.from({ length: n }, rnd)));
        const y = run('MatMul', [f32([nb, m, k], a.flat(2)), f32([nb, k, n], b.flat(2))]);
        const want = naiveBatched(a.map((x) => x.map((r) => r.map(Math.fround))), b.map((x) => x.map((r) => r.map(Math.fround)))).flat(2);
        vals(y).forEach((v, i) => expect(Math.abs(v - want[i])).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(want[i]))));
      },
    ), { numRuns: 30 });
  });
  it('integer MatMul is exact', () => {
    expect(vals(run('MatMul', [tensor('i32', [1, 2], [3, -4]), tensor('i32', [2, 1], [5, 6])]))).toEqual([-9]);
  });
  it('rejects a rank-0 operand, a K mismatch and non-broadcastable batches', () => {
    const g = new Graph('t');
    const s = g.addInput('s', { dtype: 'f32', shape: [] });
    const a = g.addInput('a', { dtype: 'f32', shape: [2, 2, 3] });
    const b = g.addInput('b', { dtype: 'f32', shape: [3, 4, 2] });
    const c = g.addInput('c', { dtype: 'f32', shape: [3, 3, 2] });
    expect(errorOf(() => g.add('MatMul', [s, a])).value).toBe('s');
    const e = errorOf(() => g.add('MatMul', [a, b], {}, { name: 'mm' }));
    expect([e.code, e.node, e.value]).toEqual(['SHAPE_MISMATCH', 'mm', 'b']);
    expect(errorOf(() => g.add('MatMul', [a, c])).code).toBe('SHAPE_MISMATCH');
  });
  it('cost: 2·batch·M·K·N flops', () => {
    const g = new Graph('t');
    const a = g.addInput('a', { dtype: 'f32', shape: [2, 1, 4, 3] });
    const b = g.addInput('b', { dtype: 'f32', shape: [5, 3, 6] });
    g.add('MatMul', [a, b]);
    expect(nodeCost(g, g.nodes[0]).flops).toBe(2 * 10 * 4 * 3 * 6);
  });
});
