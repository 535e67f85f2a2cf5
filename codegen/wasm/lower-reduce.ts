/**
 * Lowerings of ReduceMean/Sum/Max/Min over any axes, with or without keepdims (a generic scalar
 * kernel, `reduce_sum`; ReduceMean over H, W kept stays a global average pool), and LogSoftmax.
 */
import type { Graph, Node } from '../../ir/graph.js';
import { sizeOf } from '../../ir/types.js';
import { emitLogSoftmax, emitReduce, type ReduceKind } from './kernels-reduce.js';
import { POOL_LOWERINGS } from './lower-pool.js';
import { TYPED_DTYPES } from './kernels-typed.js';
import { stridesOf, unchecked, wordsOf, type OpLowering, type Storage } from './storage.js';

const KIND: Record<string, ReduceKind> = { ReduceSum: 'sum', ReduceMean: 'mean', ReduceMax: 'max', ReduceMin: 'min' };

/** The reduced axes (normalized, sorted), or null for the identity (empty axes with noop_with_empty_axes). */
function reducedAxes(n: Node, rank: number): number[] | null {
  const axes = ((n.attrs.axes as number[] | undefined) ?? []).map((a) => (a + rank) % rank);
  if (axes.length === 0) return Number(n.attrs.noop_with_empty_axes ?? 0) ? null : Array.from({ length: rank }, (_, i) => i);
  return [...new Set(axes)].sort((a, b) => a - b);
}

/** The value of an empty reduction (what the reference's fold gives with no terms). */
const EMPTY: Record<ReduceKind, number> = { sum: 0, mean: NaN, max: -Infinity, min: Infinity };

export function lowerReduce(s: Storage, n: Node): void {
  const sh = s.shape(n.inputs[0]);
  const axes = reducedAxes(n, sh.length);
  if (!axes) { s.define(n.outputs[0], s.plain(n, n.inputs[0])); return; }
  const kind = KIND[n.op];
  const outSize = sizeOf(s.shape(n.outputs[0]));
  const red = axes.map((a) => sh[a]);
  const dtype = s.g.type(n.inputs[0]).dtype;
  if (sizeOf(red) === 0 || outSize === 0) {
    if (dtype !== 'f32') unchecked(n, `has no empty ${dtype} reduction`);
    s.define(n.outputs[0], s.constLoc(new Float32Array(outSize).fill(EMPTY[kind])));
    return;
  }
  const x = s.plain(n, n.inputs[0]);
  const st = stridesOf(sh);
  const keptAxes = sh.map((_, i) => i).filter((i) => !axes.includes(i));
  const y = s.dense(wordsOf(outSize, dtype), 'plain', 0);
  s.define(n.outputs[0], y);
  s.step(n, `reduce_${kind}`, '', sizeOf(sh), (m, a, fn) => emitReduce(m, {
    name: fn, X: a(x), Y: a(y), kind, dtype,
    kept: keptAxes.map((i) => sh[i]), keptStrides: keptAxes.map((i) => st[i]),
    red, redStrides: axes.map((i) => st[i]),
  }), [x], [y]);
}

/** Reductions of other dtypes (integers, bool, f16, f64) go through the same kernel, except empty ones. */
function typedReduce(n: Node, g: Graph): string | undefined {
  const x = n.inputs[0], d = g.type(x).dtype;
  if (!TYPED_DTYPES.has(d)) return `has no ${d} tensors ('${x}')`;
  const sh = g.type(x).shape, axes = reducedAxes(n, sh.length);
  if (axes && (axes.some((a) => sh[a] === 0) || sizeOf(g.type(n.outputs[0]).shape) === 0)) return `has no empty ${d} reduction`;
  return undefined;
}

const reduce: OpLowering = { typed: typedReduce, lower: lowerReduce };

/** ReduceMean: a global average pool where that applies, else the generic kernel. */
const reduceMean: OpLowering = {
  typed: typedReduce,
  lower(s, n) {
    const pool = POOL_LOWERINGS.ReduceMean;
    const x = s.g.type(n.inputs[0]);
    if (x.dtype === 'f32' && sizeOf(x.shape) > 0 && !pool.check?.(n, s.g)) pool.lower(s, n);
    else lowerReduce(s, n);
  },
};

const logSoftmax: OpLowering = {
  lower(s, n) {
    const sh = s.shape(n.inputs[0]);
    const axis = (Number(n.attrs.axis ?? -1) + sh.length) % sh.length;
    const size = sizeOf(sh);
    if (size === 0) { s.define(n.outputs[0], s.constLoc(new Float32Array(0))); return; }
    const x = s.plain(n, n.inputs[0]);
    const y = s.dense(size, 'plain', 0);
    s.define(n.outputs[0], y);
    s.step(n, 'logsoftmax', '', 5 * size, (m, a, fn) => emitLogSoftmax(m, fn, a(x), a(y), sizeOf(sh.slice(0, axis)), sh[axis], sizeOf(sh.slice(axis + 1))), [x], [y]);
  },
};

/** GlobalAveragePool / GlobalMaxPool of any rank and batch: a mean or max over the spatial axes, kept. */
const globalPoolAsReduce: OpLowering = {
  lower(s, n) {
    const r = s.shape(n.inputs[0]).length;
    const nhwc = String(n.attrs.layout ?? 'NCHW') === 'NHWC';
    const axes = Array.from({ length: r - 2 }, (_, i) => (nhwc ? i + 1 : i + 2));
    lowerReduce(s, { ...n, op: n.op === 'GlobalMaxPool' ? 'ReduceMax' : 'ReduceMean', attrs: { axes, keepdims: 1 } });
  },
};

export const GLOBAL_POOL_FALLBACK = globalPoolAsReduce;

export const REDUCE_LOWERINGS: Record<string, OpLowering> = {
  ReduceSum: reduce, ReduceMean: reduceMean, ReduceMax: reduce, ReduceMin: reduce, LogSoftmax: logSoftmax,
};
