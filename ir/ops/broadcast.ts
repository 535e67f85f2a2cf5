/**
 * Helpers shared by the non-spatial ops: numpy broadcasting, strides, axis normalization,
 * index maps for data-movement kernels (offsetMap/take), integer attributes, size limits.
 */
import { CnncError } from '../../runtime/errors.js';
import { fromF64, tensor, type Tensor } from '../../runtime/tensor.js';
import { sizeOf } from '../types.js';
import { attrInt, attrInts, fail, type Attrs, type NodeInfo } from '../op.js';

/** The numpy (multidirectional) broadcast of two shapes, or null when they do not broadcast. */
export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] | null {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) return null;
    out.push(x === 1 ? y : x);
  }
  return out;
}

/** Broadcasts the shapes of several inputs, failing with SHAPE_MISMATCH naming the first input that does not fit. */
export function broadcastInputs(node: NodeInfo, inputs: readonly { name: string; type: { shape: readonly number[] } }[]): number[] {
  let shape: number[] = [...inputs[0].type.shape];
  for (const x of inputs.slice(1)) {
    const next = broadcastShapes(shape, x.type.shape);
    if (!next) fail(node, 'SHAPE_MISMATCH', `shape [${x.type.shape}] does not broadcast with [${shape}]`, x.name);
    shape = next;
  }
  return shape;
}

/** True when `from` broadcasts to exactly `to` (unidirectional: `to` is not changed). */
export function broadcastsTo(from: readonly number[], to: readonly number[]): boolean {
  const s = broadcastShapes(from, to);
  return s !== null && s.length === to.length && s.every((d, i) => d === to[i]);
}

/** Row-major strides of a shape. */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/**
 * The core of every data-movement kernel: for each element of `outShape` (row-major), the flat
 * index of its source, as the sum over output axes a of `tables[a][i_a]`; -1 when any table
 * entry is -1 (a padded element).
 */
export function offsetMap(outShape: readonly number[], tables: readonly ArrayLike<number>[]): Int32Array {
  const n = sizeOf(outShape);
  const rank = outShape.length;
  const idx = new Int32Array(n);
  const pos = new Array<number>(rank).fill(0);
  for (let k = 0; k < n; k++) {
    let flat = 0;
    for (let a = 0; a < rank; a++) {
      const t = tables[a][pos[a]];
      if (t < 0) { flat = -1; break; }
      flat += t;
    }
    idx[k] = flat;
    for (let a = rank - 1; a >= 0; a--) {
      if (++pos[a] < outShape[a]) break;
      pos[a] = 0;
    }
  }
  return idx;
}

/** Per-axis tables (see offsetMap) from a source coordinate function and the input's strides. */
export function axisTables(outShape: readonly number[], inStrides: readonly number[], src: (axis: number, i: number) => number): Int32Array[] {
  return outShape.map((d, a) => Int32Array.from({ length: d }, (_, i) => {
    const c = src(a, i);
    return c < 0 ? -1 : c * inStrides[a];
  }));
}

/**
 * For each element of `outShape`, the flat index of the element of an input of shape
 * `inShape` that broadcasts onto it.
 */
export function broadcastIndex(inShape: readonly number[], outShape: readonly number[]): Int32Array {
  const lead = outShape.length - inShape.length;
  const inStrides = stridesOf(inShape);
  const tables = outShape.map((d, a) => {
    const j = a - lead;
    const st = j >= 0 && inShape[j] !== 1 ? inStrides[j] : 0;
    return Int32Array.from({ length: d }, (_, i) => i * st);
  });
  return offsetMap(outShape, tables);
}

/**
 * A tensor of `outShape` whose element k is `t.data[idx[k]]` (raw copy: exact for every dtype,
 * i64 included), or `fill` where idx[k] is -1.
 */
export function take(t: Tensor, outShape: readonly number[], idx: Int32Array, fill = 0): Tensor {
  const out = tensor(t.dtype, outShape);
  // Raw element access: numbers, or bigints for i64 (never mixed within one tensor).
  const src = t.data as unknown as Float64Array;
  const dst = out.data as unknown as Float64Array;
  const fillRaw = fromF64(t.dtype, [1], [fill]).data[0] as number;
  for (let k = 0; k < idx.length; k++) dst[k] = idx[k] < 0 ? fillRaw : src[idx[k]];
  return out;
}

/** An axis in [-rank, rank) made non-negative; BAD_ATTRIBUTE otherwise. */
export function normAxis(node: NodeInfo, axis: number, rank: number, what = 'axis'): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    fail(node, 'BAD_ATTRIBUTE', `${what} ${axis} is out of range for rank ${rank}`);
  }
  return axis < 0 ? axis + rank : axis;
}

/** Normalizes a list of axes, rejecting duplicates. */
export function normAxes(node: NodeInfo, axes: readonly number[], rank: number, what = 'axes'): number[] {
  const out = axes.map((a) => normAxis(node, a, rank, what));
  if (new Set(out).size !== out.length) fail(node, 'BAD_ATTRIBUTE', `${what} [${axes}] has duplicates`);
  return out;
}


/** A NodeInfo built from run-time tensors, so reference kernels reuse the shape logic of `infer`. */
export function refInfo(op: string, attrs: Attrs, inputs: readonly (Tensor | undefined)[]): NodeInfo {
  return { name: op, op, attrs, inputs: inputs.map((t, i) => (t ? { name: `input${i}`, type: t, value: t } : undefined)) };
}

/** Copies `count` raw elements between typed arrays of the same dtype (exact for i64 too). */
export function copyRaw(src: Tensor['data'], srcOff: number, dst: Tensor['data'], dstOff: number, count: number): void {
  (dst as unknown as Float64Array).set((src as unknown as Float64Array).subarray(srcOff, srcOff + count), dstOff);
}

/** An integer attribute (ONNX ints): BAD_ATTRIBUTE naming the node otherwise. */
export function intAttr(node: NodeInfo, name: string): number {
  const v = attrInt(node.attrs, name, node);
  if (!Number.isInteger(v)) fail(node, 'BAD_ATTRIBUTE', `attribute '${name}' must be an integer, got ${v}`);
  return v;
}

/** A list-of-integers attribute (axes, shapes, pads, starts...). */
export function intsAttr(node: NodeInfo, name: string): number[] {
  const v = attrInts(node.attrs, name, node);
  if (!v.every(Number.isInteger)) fail(node, 'BAD_ATTRIBUTE', `attribute '${name}' must hold integers, got [${v}]`);
  return v;
}

/** Most elements one value may hold (typed arrays index with 32 bits). */
export const MAX_ELEMENTS = 2 ** 31 - 1;

/** An output shape that attributes made (Reshape, Expand, Pad, Resize): TOO_LARGE when it or one dimension is over MAX_ELEMENTS. */
export function checkSize(node: NodeInfo, shape: readonly number[]): number[] {
  if (sizeOf(shape) > MAX_ELEMENTS || shape.some((d) => d > MAX_ELEMENTS)) {
    throw new CnncError('TOO_LARGE', `output shape [${shape}] has more than ${MAX_ELEMENTS} elements`, { node: node.name, op: node.op });
  }
  return [...shape];
}
