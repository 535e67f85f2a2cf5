/**
 * The wasm target's typed elementwise kernel (kernels-typed.ts) against the reference
 * interpreter: integer arithmetic (wrapping, truncating division, division by zero), comparisons
 * over f32 special values, bool logic, Where, Cast between f32/f64/integers/bool (NaN and ±Inf to
 * integers), and views of integer tensors. Integers and bool must match exactly; f32 within
 * |wasm − ref| ≤ 1e-5 + 1e-4·|ref| with NaN where the reference has NaN. Runs at -O0 and defaults.
 */
import { describe, expect, it } from 'vitest';
import { compile } from '../index.js';
import { Graph } from '../ir/graph.js';
import { interpret } from '../ir/interpreter.js';
import type { AttrValue } from '../ir/op.js';
import { fromF64, tensor, toF64, type DType, type Tensor } from '../runtime/tensor.js';
import { SPECIAL, mismatch } from './wasm-golden.js';

function oneNode(op: string, ins: Tensor[], attrs: Record<string, AttrValue> = {}) {
  const g = new Graph('t');
  const feeds: Record<string, Tensor> = {};
  const names = ins.map((t, i) => { feeds[`x${i}`] = t; return g.addInput(`x${i}`, { dtype: t.dtype, shape: t.shape }); });
  g.setOutputs([g.add(op, names, attrs, { name: 'n0' })]);
  return { g, feeds };
}

/** The first element that differs (NaN equals NaN, −0 differs from +0), or undefined. */
function mismatchExact(ref: Float64Array, got: Float64Array): string | undefined {
  for (let i = 0; i < ref.length; i++) {
    if (!(Object.is(ref[i], got[i]) || (Number.isNaN(ref[i]) && Number.isNaN(got[i])))) return `[${i}]: wasm ${got[i]}, reference ${ref[i]}`;
  }
  return ref.length === got.length ? undefined : 'lengths differ';
}

async function expectSame(g: Graph, feeds: Record<string, Tensor>): Promise<void> {
  const ref = interpret(g, feeds);
  for (const opts of [{ opt: 'O0' as const }, {}]) {
    const got = await (await compile(g, 'wasm', opts)).run(feeds);
    for (const k of Object.keys(ref)) {
      expect(got[k].dtype).toBe(ref[k].dtype);
      expect(got[k].shape).toEqual(ref[k].shape);
      if (ref[k].dtype === 'f16') expect(mismatchExact(toF64(ref[k]), toF64(got[k])), `${k} ${JSON.stringify(opts)}`).toBeUndefined();
      else if (ref[k].dtype === 'f32') expect(mismatch(ref[k].data as Float32Array, got[k].data as Float32Array, (i) => `${k}[${i}]`)).toBeUndefined();
      else expect(Array.from(got[k].data as ArrayLike<number | bigint>), `${k} ${JSON.stringify(opts)}`).toEqual(Array.from(ref[k].data as ArrayLike<number | bigint>));
    }
  }
}

const INTS: Record<string, number[]> = {
  i32: [0, 1, -1, 7, -7, 2147483647, -2147483648, 100000, 3, -3, 65536, 12],
  i64: [0, 1, -1, 7, -7, 2 ** 40, -(2 ** 40), 100000, 3, -3, 65536, 12],
  u8: [0, 1, 255, 7, 200, 128, 127, 100, 3, 9, 16, 12],
  i8: [0, 1, -1, 7, -7, 127, -128, 100, 3, -3, 64, 12],
};
function ints(d: DType, shift: number): Tensor {
  const v = INTS[d].map((_, i) => INTS[d][(i + shift) % INTS[d].length]);
  if (d === 'i64') return tensor('i64', [v.length], BigInt64Array.from(v.map((x) => BigInt(x))));
  return tensor(d, [v.length], v);
}

describe('wasm typed kernel: integer arithmetic, exact', () => {
  for (const d of ['i32', 'i64', 'u8', 'i8'] as DType[]) {
    for (const op of ['Add', 'Sub', 'Mul', 'Div', 'Max', 'Min']) {
      it(`${op} on ${d} (wrapping, truncating division, division by zero)`, async () => {
        const { g, feeds } = oneNode(op, [ints(d, 0), ints(d, 5)]);
        await expectSame(g, feeds);
      });
    }
  }
  it('Pow of i64 by i64 and of f32 by i32 exponents (negative exponents too)', async () => {
    const base = tensor('i64', [6], BigInt64Array.from([2n, -3n, 0n, 5n, 1n, -1n]));
    const exp = tensor('i64', [6], BigInt64Array.from([10n, 3n, 2n, 0n, -2n, 7n]));
    await expectSame(...(Object.values(oneNode('Pow', [base, exp])) as [Graph, Record<string, Tensor>]));
    const fb = tensor('f32', [6], [2.5, -3, 0, 5, 1.5, NaN]), ie = tensor('i32', [6], [3, 3, -1, 0, -2, 2]);
    await expectSame(...(Object.values(oneNode('Pow', [fb, ie])) as [Graph, Record<string, Tensor>]));
  });
});

describe('wasm typed kernel: comparisons, logic, Where, exact', () => {
  const n = SPECIAL.length;
  const a = tensor('f32', [n * n], Float32Array.from({ length: n * n }, (_, i) => SPECIAL[Math.floor(i / n)]));
  const b = tensor('f32', [n * n], Float32Array.from({ length: n * n }, (_, i) => SPECIAL[i % n]));
  for (const op of ['Equal', 'Greater', 'GreaterOrEqual', 'Less', 'LessOrEqual']) {
    it(`${op} over every pair of special values → bool`, async () => {
      await expectSame(...(Object.values(oneNode(op, [a, b])) as [Graph, Record<string, Tensor>]));
    });
  }
  const p = tensor('bool', [4], [0, 0, 1, 1]), q = tensor('bool', [4], [0, 1, 0, 1]);
  for (const op of ['And', 'Or', 'Xor']) {
    it(`${op} on bool`, async () => { await expectSame(...(Object.values(oneNode(op, [p, q])) as [Graph, Record<string, Tensor>])); });
  }
  it('Not on bool', async () => { await expectSame(...(Object.values(oneNode('Not', [q])) as [Graph, Record<string, Tensor>])); });
  it('Where with a broadcast bool condition over f32 specials and over i64', async () => {
    const cond = tensor('bool', [1, 4], [1, 0, 1, 0]);
    const x = tensor('f32', [3, 4], Float32Array.from({ length: 12 }, (_, i) => SPECIAL[i])), y = tensor('f32', [3, 4], Float32Array.from({ length: 12 }, (_, i) => SPECIAL[i + 3]));
    await expectSame(...(Object.values(oneNode('Where', [cond, x, y])) as [Graph, Record<string, Tensor>]));
    const xi = tensor('i64', [4], BigInt64Array.from([1n, 2n, 3n, 4n])), yi = tensor('i64', [4], BigInt64Array.from([-1n, -2n, -3n, -4n]));
    await expectSame(...(Object.values(oneNode('Where', [cond, xi, yi])) as [Graph, Record<string, Tensor>]));
  });
});

describe('wasm typed kernel: Cast, exact', () => {
  const f = tensor('f32', [SPECIAL.length + 4], [...SPECIAL, 2.5, -2.5, 3e9, -200.7]);
  for (const to of ['i32', 'i64', 'u8', 'i8', 'bool', 'f64']) {
    it(`Cast f32 → ${to} (NaN and ±Inf, out-of-range values)`, async () => {
      await expectSame(...(Object.values(oneNode('Cast', [f], { to })) as [Graph, Record<string, Tensor>]));
    });
  }
  it('CastLike f32 → i64 (the second input gives only the dtype)', async () => {
    await expectSame(...(Object.values(oneNode('CastLike', [f, tensor('i64', [1], BigInt64Array.from([0n]))])) as [Graph, Record<string, Tensor>]));
  });
  it('Cast i64 → f32, bool → f32, u8 → i32', async () => {
    await expectSame(...(Object.values(oneNode('Cast', [ints('i64', 0)], { to: 'f32' })) as [Graph, Record<string, Tensor>]));
    await expectSame(...(Object.values(oneNode('Cast', [tensor('bool', [3], [1, 0, 1])], { to: 'f32' })) as [Graph, Record<string, Tensor>]));
    await expectSame(...(Object.values(oneNode('Cast', [ints('u8', 0)], { to: 'i32' })) as [Graph, Record<string, Tensor>]));
  });
  it('a view (Reshape) of an i64 input, and i64 arithmetic after it', async () => {
    const g = new Graph('view');
    g.addInput('x', { dtype: 'i64', shape: [12] });
    const r = g.add('Reshape', ['x'], { shape: [3, 4] });
    g.setOutputs([g.add('Mul', [r, g.addConstant('k', tensor('i64', [4], BigInt64Array.from([1n, -2n, 3n, 2n ** 33n])))])]);
    await expectSame(g, { x: ints('i64', 2) });
  });
});

describe('wasm typed kernel: f16 tensors (computed in f64, rounded once to nearest even)', () => {
  // specials, the largest half and the overflow boundary, subnormals, and ties at several scales
  const EDGES = [...SPECIAL, 65504, 65519.99, 65520, -65536, 2 ** -24, 2 ** -25, 3 * 2 ** -26, 2 ** -14, 2 ** -14 - 2 ** -25,
    1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 - 2 ** -12, 2049, 2051, 0.1, -1 / 3];
  it('Cast f32 → f16 and f64 → f16 over special and rounding-edge values', async () => {
    await expectSame(...(Object.values(oneNode('Cast', [tensor('f32', [EDGES.length], EDGES)], { to: 'f16' })) as [Graph, Record<string, Tensor>]));
    await expectSame(...(Object.values(oneNode('Cast', [tensor('f64', [EDGES.length], EDGES)], { to: 'f16' })) as [Graph, Record<string, Tensor>]));
  });
  it('f16 inputs: Cast f16 → f32, and Max/Add of f16 tensors', async () => {
    const h = fromF64('f16', [EDGES.length], EDGES), h2 = fromF64('f16', [EDGES.length], [...EDGES].reverse());
    await expectSame(...(Object.values(oneNode('Cast', [h], { to: 'f32' })) as [Graph, Record<string, Tensor>]));
    await expectSame(...(Object.values(oneNode('Max', [h, h2])) as [Graph, Record<string, Tensor>]));
    await expectSame(...(Object.values(oneNode('Add', [h, h2])) as [Graph, Record<string, Tensor>]));
  });
});

describe('wasm typed reductions, exact', () => {
  const t = tensor('i32', [2, 3, 2, 2], Array.from({ length: 24 }, (_, i) => (i * 37) % 23 - 11));
  for (const op of ['ReduceSum', 'ReduceMean', 'ReduceMax', 'ReduceMin']) {
    it(`${op} of i32 over [2, 3] kept and over axis 1 not kept (mean truncates)`, async () => {
      await expectSame(...(Object.values(oneNode(op, [t], { axes: [2, 3], keepdims: 1 })) as [Graph, Record<string, Tensor>]));
      await expectSame(...(Object.values(oneNode(op, [t], { axes: [1], keepdims: 0 })) as [Graph, Record<string, Tensor>]));
    });
  }
  it('ReduceMax and ReduceMin of bool, ReduceSum of u8 (wraps)', async () => {
    const b = tensor('bool', [2, 3], [0, 1, 0, 0, 0, 0]);
    await expectSame(...(Object.values(oneNode('ReduceMax', [b], { axes: [1], keepdims: 0 })) as [Graph, Record<string, Tensor>]));
    await expectSame(...(Object.values(oneNode('ReduceMin', [b], { axes: [0], keepdims: 1 })) as [Graph, Record<string, Tensor>]));
    await expectSame(...(Object.values(oneNode('ReduceSum', [tensor('u8', [2, 3], [200, 100, 3, 250, 250, 7])], { axes: [1], keepdims: 0 })) as [Graph, Record<string, Tensor>]));
  });
});
