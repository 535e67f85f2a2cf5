/**
 * Reductions over axes (ReduceMean, ReduceSum, ReduceMax, ReduceMin) and the normalizations
 * along one axis (Softmax, LogSoftmax).
 */
import { toF64, type DType, type Tensor } from '../../runtime/tensor.js';
import type { NodeInfo, OpDef } from '../op.js';
import { attrInt, fail, input } from '../op.js';
import { isArithFloat, sizeOf } from '../types.js';
import { intAttr, intsAttr, normAxes, normAxis, offsetMap, refInfo, stridesOf } from './broadcast.js';
import { store } from './elementwise.js';

const NUMERIC: readonly DType[] = ['f32', 'f16', 'i32', 'i64', 'u8', 'i8'];
const WITH_BOOL: readonly DType[] = [...NUMERIC, 'bool'];

/** The reduced axes (normalized), or null when the op is the identity (empty axes with noop_with_empty_axes). */
function reducedAxes(node: NodeInfo, rank: number): number[] | null {
  const axes = intsAttr(node, 'axes');
  if (axes.length === 0) return intAttr(node, 'noop_with_empty_axes') ? null : Array.from({ length: rank }, (_, i) => i);
  return normAxes(node, axes, rank);
}

/** A reduction: `init` and `step` fold the values of each output element, `finish` ends it (mean). */
function reduce(name: string, doc: string, init: number, step: (acc: number, x: number) => number,
  finish: (acc: number, count: number) => number = (a) => a, dtypes = NUMERIC): OpDef {
  return {
    name,
    traits: { category: 'reduction' },
    doc,
    inputs: [1, 1],
    attrs: { axes: [], keepdims: 1, noop_with_empty_axes: 0 },
    infer(node) {
      const x = input(node, 0);
      if (!dtypes.includes(x.type.dtype)) fail(node, 'DTYPE_MISMATCH', `does not take ${x.type.dtype}`, x.name);
      const axes = reducedAxes(node, x.type.shape.length);
      if (!axes) return [x.type];
      const keep = intAttr(node, 'keepdims') !== 0;
      const shape = x.type.shape.flatMap((d, i) => (axes.includes(i) ? (keep ? [1] : []) : [d]));
      return [{ dtype: x.type.dtype, shape }];
    },
    reference([x], attrs, [out]) {
      const t = x as Tensor;
      const axes = reducedAxes(refInfo(name, attrs, [t]), t.shape.length);
      if (!axes) return [t];
      // Output index of each input element: reduced axes contribute nothing.
      const keptShape = t.shape.map((d, i) => (axes.includes(i) ? 1 : d));
      const st = stridesOf(keptShape);
      const idx = offsetMap(t.shape, t.shape.map((d, a) => Int32Array.from({ length: d }, (_, i) => (axes.includes(a) ? 0 : i * st[a]))));
      const v = toF64(t);
      const acc = new Float64Array(sizeOf(out.shape)).fill(init);
      for (let k = 0; k < v.length; k++) acc[idx[k]] = step(acc[idx[k]], v[k]);
      const count = v.length / Math.max(1, acc.length);
      for (let q = 0; q < acc.length; q++) acc[q] = finish(acc[q], count);
      return [store(out.dtype, out.shape, acc)];
    },
    cost: (node) => ({ flops: sizeOf(input(node, 0).type.shape) }),
  };
}

/** Softmax / LogSoftmax along `axis` (opset ≥ 13 semantics: one axis, not the 2-D coercion). */
function softmax(name: string, doc: string, log: boolean): OpDef {
  return {
    name,
    traits: { category: 'normalization' },
    doc,
    inputs: [1, 1],
    attrs: { axis: -1 },
    infer(node) {
      const x = input(node, 0);
      if (!isArithFloat(x.type.dtype)) fail(node, 'DTYPE_MISMATCH', `expects a float input, got ${x.type.dtype}`, x.name);
      normAxis(node, intAttr(node, 'axis'), x.type.shape.length);
      return [x.type];
    },
    reference([x], attrs, [out]) {
      const t = x as Tensor;
      const axis = normAxis(refInfo(name, attrs, [t]), attrInt(attrs, 'axis'), t.shape.length);
      const d = t.shape[axis];
      const inner = sizeOf(t.shape.slice(axis + 1));
      const outer = sizeOf(t.shape.slice(0, axis));
      const v = toF64(t);
      for (let o = 0; o < outer; o++) {
        for (let i = 0; i < inner; i++) {
          const base = o * d * inner + i;
          let max = -Infinity;
          for (let j = 0; j < d; j++) max = Math.max(max, v[base + j * inner]);
          let sum = 0;
          for (let j = 0; j < d; j++) sum += Math.exp(v[base + j * inner] - max);
          for (let j = 0; j < d; j++) {
            const z = v[base + j * inner] - max;
            v[base + j * inner] = log ? z - Math.log(sum) : Math.exp(z) / sum;
          }
        }
      }
      return [store(out.dtype, out.shape, v)];
    },
    // max, subtract, exp, sum, divide: about 5 operations per element.
    cost: (_n, [out]) => ({ flops: 5 * sizeOf(out.shape) }),
  };
}

export const REDUCE_OPS: OpDef[] = [
  reduce('ReduceMean', 'mean over axes (all when empty)', 0, (a, x) => a + x, (a, n) => a / n),
  reduce('ReduceSum', 'sum over axes (all when empty)', 0, (a, x) => a + x),
  reduce('ReduceMax', 'maximum over axes (all when empty)', -Infinity, (a, x) => (Number.isNaN(a) || a >= x ? a : x), undefined, WITH_BOOL),
  reduce('ReduceMin', 'minimum over axes (all when empty)', Infinity, (a, x) => (Number.isNaN(a) || a <= x ? a : x), undefined, WITH_BOOL),
  // ONNX opset < 13 Softmax flattens to 2-D at `axis` instead: the importer expresses that as
  // Reshape [prod(:axis), prod(axis:)] → Softmax(axis=1) → Reshape back (identical when axis = rank−1).
  softmax('Softmax', 'exp(x) / Σ exp(x) along axis (default −1; opset ≥ 13 semantics)', false),
  softmax('LogSoftmax', 'x − log Σ exp(x) along axis (default −1; opset ≥ 13 semantics)', true),
];
