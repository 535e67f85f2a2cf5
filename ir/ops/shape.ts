/**
 * Tensor manipulation: ops that move or relabel elements without arithmetic. Kernels copy raw
 * elements (exact for every dtype, i64 included). Static ONNX inputs are attributes here.
 */
import { CnncError } from '../../runtime/errors.js';
import { tensor, toF64, type Tensor } from '../../runtime/tensor.js';
import type { NodeInfo, OpDef } from '../op.js';
import { attrInt, fail, input } from '../op.js';
import { sizeOf, type TensorType } from '../types.js';
import { axisTables, broadcastIndex, broadcastShapes, checkSize, copyRaw, intAttr, intsAttr, normAxes, normAxis, offsetMap, refInfo, stridesOf, take } from './broadcast.js';

/** Same elements, new shape (Reshape, Flatten, Squeeze, Unsqueeze). */
function relabel(t: Tensor, out: TensorType): Tensor {
  return { dtype: t.dtype, shape: [...out.shape], data: t.data };
}

function viewOp(name: string, doc: string, attrs: OpDef['attrs'], shapeOf: (node: NodeInfo) => number[]): OpDef {
  return {
    name,
    doc,
    inputs: [1, 1],
    attrs,
    infer: (node) => [{ dtype: input(node, 0).type.dtype, shape: shapeOf(node) }],
    reference: ([x], _a, [out]) => [relabel(x as Tensor, out)],
    cost: () => ({ flops: 0 }),
    traits: { category: 'movement', alias: true, inPlace: true, fp16: 'follow' },
  };
}

// ---- Reshape, Flatten, Squeeze, Unsqueeze ----

function reshapeShape(node: NodeInfo): number[] {
  const x = input(node, 0);
  const spec = intsAttr(node, 'shape');
  const allowzero = intAttr(node, 'allowzero') !== 0;
  const shape = spec.map((d, i) => {
    if (d === 0 && !allowzero) {
      if (i >= x.type.shape.length) fail(node, 'SHAPE_MISMATCH', `shape[${i}] = 0 copies a dimension the input [${x.type.shape}] does not have`, x.name);
      return x.type.shape[i];
    }
    if (!Number.isInteger(d) || d < -1) fail(node, 'BAD_ATTRIBUTE', `shape [${spec}] has invalid dimension ${d}`);
    return d;
  });
  const unknown = shape.filter((d) => d === -1).length;
  if (unknown > 1) fail(node, 'BAD_ATTRIBUTE', `shape [${spec}] has more than one -1`);
  const total = sizeOf(x.type.shape);
  const known = shape.reduce((p, d) => (d === -1 ? p : p * d), 1);
  if (unknown) {
    if (known === 0 || total % known !== 0) fail(node, 'SHAPE_MISMATCH', `cannot reshape [${x.type.shape}] (${total} elements) to [${spec}]`, x.name);
    shape[shape.indexOf(-1)] = total / known;
  } else if (known !== total) {
    fail(node, 'SHAPE_MISMATCH', `cannot reshape [${x.type.shape}] (${total} elements) to [${spec}] (${known})`, x.name);
  }
  return checkSize(node, shape);
}

function flattenShape(node: NodeInfo): number[] {
  const s = input(node, 0).type.shape;
  let axis = intAttr(node, 'axis');
  if (axis < -s.length || axis > s.length) fail(node, 'BAD_ATTRIBUTE', `axis ${axis} is out of range for rank ${s.length}`);
  if (axis < 0) axis += s.length;
  return [sizeOf(s.slice(0, axis)), sizeOf(s.slice(axis))];
}

function squeezeShape(node: NodeInfo): number[] {
  const x = input(node, 0);
  const s = x.type.shape;
  const given = intsAttr(node, 'axes');
  const axes = given.length ? normAxes(node, given, s.length) : s.flatMap((d, i) => (d === 1 ? [i] : []));
  for (const a of axes) if (s[a] !== 1) fail(node, 'SHAPE_MISMATCH', `cannot squeeze axis ${a} of size ${s[a]}`, x.name);
  return s.filter((_, i) => !axes.includes(i));
}

function unsqueezeShape(node: NodeInfo): number[] {
  const s = input(node, 0).type.shape;
  const given = intsAttr(node, 'axes');
  const rank = s.length + given.length;
  const axes = normAxes(node, given, rank);
  const rest = [...s];
  return Array.from({ length: rank }, (_, i) => (axes.includes(i) ? 1 : rest.shift()!));
}

// ---- Transpose ----

function transposePerm(node: NodeInfo): number[] {
  const rank = input(node, 0).type.shape.length;
  const perm = intsAttr(node, 'perm');
  if (perm.length === 0) return Array.from({ length: rank }, (_, i) => rank - 1 - i);
  const ok = perm.length === rank && [...perm].sort((a, b) => a - b).every((p, i) => p === i);
  if (!ok) fail(node, 'BAD_ATTRIBUTE', `perm [${perm}] is not a permutation of 0..${rank - 1}`);
  return perm;
}

const Transpose: OpDef = {
  name: 'Transpose',
  traits: { category: 'movement', fp16: 'follow' },
  doc: 'permutes axes: output axis i is input axis perm[i] (default: reversed)',
  inputs: [1, 1],
  attrs: { perm: [] },
  infer(node) {
    const x = input(node, 0);
    return [{ dtype: x.type.dtype, shape: transposePerm(node).map((p) => x.type.shape[p]) }];
  },
  reference([x], attrs, [out]) {
    const t = x as Tensor;
    const perm = transposePerm(refInfo('Transpose', attrs, [t]));
    const st = stridesOf(t.shape);
    const tables = out.shape.map((d, a) => Int32Array.from({ length: d }, (_, i) => i * st[perm[a]]));
    return [take(t, out.shape, offsetMap(out.shape, tables))];
  },
  cost: () => ({ flops: 0 }),
};

// ---- Concat, Split ----

const Concat: OpDef = {
  name: 'Concat',
  traits: { category: 'movement', fp16: 'follow' },
  doc: 'joins inputs along axis; other dimensions must match',
  inputs: [1, Infinity],
  attrs: { axis: null },
  infer(node) {
    const xs = node.inputs.map((_, i) => input(node, i));
    const first = xs[0].type;
    const axis = normAxis(node, intAttr(node, 'axis'), first.shape.length);
    const shape = [...first.shape];
    for (const x of xs.slice(1)) {
      if (x.type.dtype !== first.dtype) fail(node, 'DTYPE_MISMATCH', `dtype ${x.type.dtype} differs from ${first.dtype}`, x.name);
      const s = x.type.shape;
      if (s.length !== first.shape.length || s.some((d, i) => i !== axis && d !== first.shape[i])) {
        fail(node, 'SHAPE_MISMATCH', `shape [${s}] does not match [${first.shape}] outside axis ${axis}`, x.name);
      }
      shape[axis] += s[axis];
    }
    return [{ dtype: first.dtype, shape }];
  },
  reference(inputs, attrs, [out]) {
    const xs = inputs as Tensor[];
    const axis = normAxis(refInfo('Concat', attrs, xs), attrInt(attrs, 'axis'), out.shape.length);
    const outer = sizeOf(out.shape.slice(0, axis));
    const inner = sizeOf(out.shape.slice(axis + 1));
    const y = tensor(out.dtype, out.shape);
    const row = out.shape[axis] * inner;
    let off = 0;
    for (const x of xs) {
      const block = x.shape[axis] * inner;
      for (let o = 0; o < outer; o++) copyRaw(x.data, o * block, y.data, o * row + off, block);
      off += block;
    }
    return [y];
  },
  cost: () => ({ flops: 0 }),
};

/** The sizes Split cuts along its axis: `split`, or `num_outputs` even parts (the last smaller, as ONNX 18). */
function splitSizes(node: NodeInfo): { axis: number; sizes: number[] } {
  const x = input(node, 0);
  const axis = normAxis(node, intAttr(node, 'axis'), x.type.shape.length);
  const dim = x.type.shape[axis];
  const split = intsAttr(node, 'split');
  if (split.length) {
    const total = split.reduce((a, b) => a + b, 0);
    if (split.some((s) => !Number.isInteger(s) || s < 0) || total !== dim) {
      fail(node, 'SHAPE_MISMATCH', `split [${split}] does not add up to dimension ${dim} of axis ${axis}`, x.name);
    }
    return { axis, sizes: split };
  }
  const n = intAttr(node, 'num_outputs');
  if (n < 1) fail(node, 'BAD_ATTRIBUTE', "needs 'split' sizes or 'num_outputs' (the importer sets it from the node's output count)");
  if (n > dim) fail(node, 'SHAPE_MISMATCH', `cannot split dimension ${dim} into ${n} parts`, x.name);
  const chunk = Math.ceil(dim / n);
  const sizes = Array.from({ length: n }, (_, i) => Math.max(0, Math.min(chunk, dim - i * chunk)));
  if (sizes[n - 1] === 0) fail(node, 'SHAPE_MISMATCH', `cannot split dimension ${dim} into ${n} parts of ${chunk}`, x.name);
  return { axis, sizes };
}

const Split: OpDef = {
  name: 'Split',
  traits: { category: 'movement', fp16: 'follow' },
  doc: "cuts the input along axis into parts of sizes 'split' (or 'num_outputs' near-even parts)",
  inputs: [1, 1],
  attrs: { axis: 0, split: [], num_outputs: 0 },
  infer(node) {
    const x = input(node, 0);
    const { axis, sizes } = splitSizes(node);
    return sizes.map((d) => ({ dtype: x.type.dtype, shape: x.type.shape.map((s, i) => (i === axis ? d : s)) }));
  },
  reference([x], attrs, outs) {
    const t = x as Tensor;
    const a = normAxis(refInfo('Split', attrs, [t]), attrInt(attrs, 'axis'), t.shape.length);
    const outer = sizeOf(t.shape.slice(0, a));
    const inner = sizeOf(t.shape.slice(a + 1));
    const row = t.shape[a] * inner;
    let off = 0;
    return outs.map((o) => {
      const y = tensor(t.dtype, o.shape);
      const block = o.shape[a] * inner;
      for (let q = 0; q < outer; q++) copyRaw(t.data, q * row + off, y.data, q * block, block);
      off += block;
      return y;
    });
  },
  cost: () => ({ flops: 0 }),
};

// ---- Slice ----

/** Per input axis: first index, step and count, with ONNX clamping of starts/ends. */
function sliceRanges(node: NodeInfo): { start: number; step: number; len: number }[] {
  const s = input(node, 0).type.shape;
  const starts = intsAttr(node, 'starts');
  const ends = intsAttr(node, 'ends');
  const given = intsAttr(node, 'axes');
  const steps = intsAttr(node, 'steps');
  const axes = normAxes(node, given.length ? given : starts.map((_, i) => i), s.length);
  if (ends.length !== starts.length || axes.length !== starts.length || (steps.length && steps.length !== starts.length)) {
    fail(node, 'BAD_ATTRIBUTE', `starts, ends, axes and steps must have the same length (${starts.length}, ${ends.length}, ${given.length}, ${steps.length})`);
  }
  const ranges = s.map((d) => ({ start: 0, step: 1, len: d }));
  axes.forEach((a, i) => {
    const d = s[a];
    const step = steps.length ? steps[i] : 1;
    if (step === 0 || !Number.isInteger(step)) fail(node, 'BAD_ATTRIBUTE', `step ${step} on axis ${a}`);
    let start = starts[i] < 0 ? starts[i] + d : starts[i];
    let end = ends[i] < 0 ? ends[i] + d : ends[i];
    if (step > 0) {
      start = Math.min(Math.max(start, 0), d);
      end = Math.min(Math.max(end, 0), d);
    } else {
      start = Math.min(Math.max(start, 0), d - 1);
      end = Math.min(Math.max(end, -1), d - 1);
    }
    ranges[a] = { start, step, len: Math.max(0, Math.ceil((end - start) / step)) };
  });
  return ranges;
}

const Slice: OpDef = {
  name: 'Slice',
  traits: { category: 'movement', fp16: 'follow' },
  doc: 'elements start, start+step, ... before end along the given axes (negative indices count from the end; clamped)',
  inputs: [1, 1],
  attrs: { starts: null, ends: null, axes: [], steps: [] },
  infer: (node) => [{ dtype: input(node, 0).type.dtype, shape: sliceRanges(node).map((r) => r.len) }],
  reference([x], attrs, [out]) {
    const t = x as Tensor;
    const ranges = sliceRanges(refInfo('Slice', attrs, [t]));
    const st = stridesOf(t.shape);
    const tables = ranges.map((r, a) => Int32Array.from({ length: r.len }, (_, i) => (r.start + i * r.step) * st[a]));
    return [take(t, out.shape, offsetMap(out.shape, tables))];
  },
  cost: () => ({ flops: 0 }),
};

// ---- Shape, Gather, Expand ----

function shapeRange(node: NodeInfo): [number, number] {
  const rank = input(node, 0).type.shape.length;
  const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
  return [clamp(intAttr(node, 'start')), clamp(intAttr(node, 'end'))];
}

const Shape: OpDef = {
  name: 'Shape',
  traits: { category: 'shape' },
  doc: 'the input shape (dimensions start..end) as an i64 vector',
  inputs: [1, 1],
  attrs: { start: 0, end: Number.MAX_SAFE_INTEGER },
  infer(node) {
    const [s, e] = shapeRange(node);
    return [{ dtype: 'i64', shape: [Math.max(0, e - s)] }];
  },
  reference([x], attrs, [out]) {
    const t = x as Tensor;
    const [s, e] = shapeRange(refInfo('Shape', attrs, [t]));
    return [tensor('i64', out.shape, BigInt64Array.from(t.shape.slice(s, Math.max(s, e)).map(BigInt)))];
  },
  cost: () => ({ flops: 0 }),
};

const Gather: OpDef = {
  name: 'Gather',
  traits: { category: 'movement', fp16: 'follow' },
  doc: 'picks entries of data along axis by indices (negative indices count from the end)',
  inputs: [2, 2],
  attrs: { axis: 0 },
  infer(node) {
    const data = input(node, 0);
    const idx = input(node, 1);
    if (idx.type.dtype !== 'i32' && idx.type.dtype !== 'i64') fail(node, 'DTYPE_MISMATCH', `indices must be i32 or i64, got ${idx.type.dtype}`, idx.name);
    const s = data.type.shape;
    const axis = normAxis(node, intAttr(node, 'axis'), s.length);
    if (idx.value) {
      const bad = toF64(idx.value).find((i) => i < -s[axis] || i >= s[axis]);
      if (bad !== undefined) fail(node, 'SHAPE_MISMATCH', `index ${bad} is out of range for dimension ${s[axis]}`, idx.name);
    }
    return [{ dtype: data.type.dtype, shape: [...s.slice(0, axis), ...idx.type.shape, ...s.slice(axis + 1)] }];
  },
  reference([data, indices], attrs, [out]) {
    const t = data as Tensor;
    const axis = normAxis(refInfo('Gather', attrs, [t]), attrInt(attrs, 'axis'), t.shape.length);
    const d = t.shape[axis];
    const outer = sizeOf(t.shape.slice(0, axis));
    const inner = sizeOf(t.shape.slice(axis + 1));
    const ids = toF64(indices as Tensor);
    const y = tensor(t.dtype, out.shape);
    ids.forEach((raw, j) => {
      if (raw < -d || raw >= d) throw new CnncError('BAD_INPUT', `index ${raw} is out of range for dimension ${d}`, { op: 'Gather' });
      const i = raw < 0 ? raw + d : raw;
      for (let o = 0; o < outer; o++) copyRaw(t.data, (o * d + i) * inner, y.data, (o * ids.length + j) * inner, inner);
    });
    return [y];
  },
  cost: () => ({ flops: 0 }),
};

const Expand: OpDef = {
  name: 'Expand',
  traits: { category: 'movement', fp16: 'follow' },
  doc: 'broadcasts the input against shape (numpy rules, both directions)',
  inputs: [1, 1],
  attrs: { shape: null },
  infer(node) {
    const x = input(node, 0);
    const shape = intsAttr(node, 'shape');
    if (shape.some((d) => d < 0)) fail(node, 'BAD_ATTRIBUTE', `shape [${shape}] has a negative dimension`);
    const out = broadcastShapes(x.type.shape, shape);
    if (!out) fail(node, 'SHAPE_MISMATCH', `input [${x.type.shape}] does not broadcast with shape [${shape}]`, x.name);
    return [{ dtype: x.type.dtype, shape: checkSize(node, out) }];
  },
  reference: ([x], _a, [out]) => [take(x as Tensor, out.shape, broadcastIndex((x as Tensor).shape, out.shape))],
  cost: () => ({ flops: 0 }),
};

const Size: OpDef = {
  name: 'Size',
  traits: { category: 'shape' },
  doc: 'the number of elements, as an i64 scalar',
  inputs: [1, 1],
  attrs: {},
  infer: () => [{ dtype: 'i64', shape: [] }],
  reference: ([x]) => [tensor('i64', [], BigInt64Array.of(BigInt(sizeOf((x as Tensor).shape))))],
  cost: () => ({ flops: 0 }),
};

const Tile: OpDef = {
  name: 'Tile',
  traits: { category: 'movement' },
  doc: 'repeats the input repeats[i] times along each axis i',
  inputs: [1, 1],
  attrs: { repeats: null },
  infer(node) {
    const x = input(node, 0);
    const r = intsAttr(node, 'repeats');
    if (r.length !== x.type.shape.length || r.some((v) => v < 0)) fail(node, 'BAD_ATTRIBUTE', `repeats [${r}] must hold ${x.type.shape.length} non-negative integers`);
    return [{ dtype: x.type.dtype, shape: checkSize(node, x.type.shape.map((d, i) => d * r[i])) }];
  },
  reference([x], _a, [out]) {
    const t = x as Tensor;
    return [take(t, out.shape, offsetMap(out.shape, axisTables(out.shape, stridesOf(t.shape), (a, i) => i % t.shape[a])))];
  },
  cost: () => ({ flops: 0 }),
};

// ---- DepthToSpace, SpaceToDepth (NCHW): a reshape, a transpose and a reshape ----

/** Elements of `t` viewed as shape `mid`, permuted by `perm`, laid out as `out`. */
function permuteView(t: Tensor, mid: number[], perm: number[], out: readonly number[]): Tensor {
  const st = stridesOf(mid);
  const permuted = perm.map((p) => mid[p]);
  const tables = permuted.map((d, a) => Int32Array.from({ length: d }, (_, i) => i * st[perm[a]]));
  return take(t, out, offsetMap(permuted, tables));
}

/** The intermediate shape and permutation of DepthToSpace (DCR or CRD) / SpaceToDepth on [N, C, H, W]. */
function blockPlan(op: string, shape: readonly number[], b: number, mode: string): { mid: number[]; perm: number[] } {
  const [n, c, h, w] = shape;
  if (op === 'SpaceToDepth') return { mid: [n, c, h / b, b, w / b, b], perm: [0, 3, 5, 1, 2, 4] };
  if (mode === 'CRD') return { mid: [n, c / (b * b), b, b, h, w], perm: [0, 1, 4, 2, 5, 3] };
  return { mid: [n, b, b, c / (b * b), h, w], perm: [0, 3, 4, 1, 5, 2] };
}

function blockOp(name: string, doc: string, attrs: OpDef['attrs']): OpDef {
  const toSpace = name === 'DepthToSpace';
  return {
    name,
    doc,
    inputs: [1, 1],
    attrs,
    infer(node) {
      const x = input(node, 0);
      const b = intAttr(node, 'blocksize');
      const mode = toSpace ? String(node.attrs.mode) : 'DCR';
      if (mode !== 'DCR' && mode !== 'CRD') fail(node, 'BAD_ATTRIBUTE', `mode '${mode}' is not DCR or CRD`);
      if (b < 1) fail(node, 'BAD_ATTRIBUTE', `blocksize ${b} must be positive`);
      const s = x.type.shape;
      if (s.length !== 4) fail(node, 'SHAPE_MISMATCH', `expects a 4-D NCHW input, got [${s}]`, x.name);
      const [n, c, h, w] = s;
      if (toSpace ? c % (b * b) !== 0 : h % b !== 0 || w % b !== 0) {
        fail(node, 'SHAPE_MISMATCH', `[${s}] is not divisible by blocksize ${b}`, x.name);
      }
      checkSize(node, [b, b]);
      return [{ dtype: x.type.dtype, shape: checkSize(node, toSpace ? [n, c / (b * b), h * b, w * b] : [n, c * b * b, h / b, w / b]) }];
    },
    reference([x], a, [out]) {
      const t = x as Tensor;
      const { mid, perm } = blockPlan(name, t.shape, attrInt(a, 'blocksize'), String(a.mode ?? 'DCR'));
      return [permuteView(t, mid, perm, out.shape)];
    },
    cost: () => ({ flops: 0 }),
    traits: { category: 'movement' },
  };
}

export const SHAPE_OPS: OpDef[] = [
  viewOp('Reshape', 'same elements, new shape (0 copies the input dimension unless allowzero; one -1 is inferred)', { shape: null, allowzero: 0 }, reshapeShape),
  viewOp('Flatten', 'reshapes to 2-D: [prod(dims before axis), prod(dims from axis)]', { axis: 1 }, flattenShape),
  viewOp('Squeeze', 'removes size-1 axes (all of them when axes is empty)', { axes: [] }, squeezeShape),
  viewOp('Unsqueeze', 'inserts size-1 axes at the given output positions', { axes: null }, unsqueezeShape),
  Transpose,
  Concat,
  Split,
  Slice,
  Shape,
  Gather,
  Expand,
  Size,
  Tile,
  blockOp('DepthToSpace', 'moves blocks of channels into space (NCHW; mode DCR or CRD)', { blocksize: null, mode: 'DCR' }),
  blockOp('SpaceToDepth', 'moves blocks of space into channels (NCHW)', { blocksize: null }),
];
