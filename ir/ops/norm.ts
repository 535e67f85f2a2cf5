/**
 * Normalizations: BatchNormalization (inference form), InstanceNormalization, LayerNormalization,
 * ChannelLayerNorm (LayerNormalization over one inner axis: passes/fold-transposed-layernorm.ts) and
 * LRN. Statistics are taken in float64 whatever stash_type says (at least as precise as asked).
 */
import { fromF64, sizeOf, toF64 } from '../../runtime/tensor.js';
import type { NodeInfo, OpDef } from '../op.js';
import { attrFloat, attrInt, fail, input } from '../op.js';
import { layoutOf, splitShape, type Layout } from './geometry.js';
import { isArithFloat, sameShape, type TensorType } from '../types.js';

function floatInput(node: NodeInfo, minRank: number): TensorType {
  const x = input(node, 0);
  if (!isArithFloat(x.type.dtype)) fail(node, 'DTYPE_MISMATCH', `expects a float input, got ${x.type.dtype}`, x.name);
  if (x.type.shape.length < minRank) fail(node, 'SHAPE_MISMATCH', `expects a rank ≥ ${minRank} input, got [${x.type.shape}]`, x.name);
  return x.type;
}

/** Inputs from..to-1 must be float vectors of length C (per-channel parameters). */
function checkChannelParams(node: NodeInfo, from: number, to: number, C: number): void {
  for (let i = from; i < to; i++) {
    const p = input(node, i);
    if (!isArithFloat(p.type.dtype)) fail(node, 'DTYPE_MISMATCH', `input ${i} must be float, got ${p.type.dtype}`, p.name);
    if (!sameShape(p.type.shape, [C])) fail(node, 'SHAPE_MISMATCH', `input ${i} has shape [${p.type.shape}], expected [${C}] (one per channel)`, p.name);
  }
}

const placeOf = (node: NodeInfo) => ({ node: node.name, op: node.op });

/**
 * Visits every element with its channel: f(index, channel). NCHW is [N, C, P], NHWC [N, P, C],
 * P being the product of the spatial sizes (rank 2 inputs are [N, C] in both).
 */
function forEachChannel(shape: readonly number[], layout: Layout, f: (i: number, c: number) => void): void {
  const { N, C, spatial } = splitShape(shape, layout);
  const P = sizeOf(spatial);
  let i = 0;
  if (layout === 'NHWC') {
    for (let n = 0; n < N * P; n++) for (let c = 0; c < C; c++) f(i++, c);
  } else {
    for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let p = 0; p < P; p++) f(i++, c);
  }
}

/** y = scale·(x − mean)/√(var + ε) + B per channel (inference form). */
export function batchNorm(x: Float64Array, shape: readonly number[], layout: Layout, params: Float64Array[], eps: number): Float64Array {
  const [scale, bias, mean, variance] = params;
  const inv = variance.map((v) => 1 / Math.sqrt(v + eps));
  const y = new Float64Array(x.length);
  forEachChannel(shape, layout, (i, c) => { y[i] = scale[c] * (x[i] - mean[c]) * inv[c] + bias[c]; });
  return y;
}

/** Normalizes x over its trailing `count` elements in blocks: y = (x − mean)/√(var + ε). */
function normalizeBlocks(x: Float64Array, count: number, eps: number): Float64Array {
  const y = new Float64Array(x.length);
  for (let b = 0; b < x.length; b += count) {
    let mean = 0;
    for (let i = b; i < b + count; i++) mean += x[i];
    mean /= count;
    let variance = 0;
    for (let i = b; i < b + count; i++) variance += (x[i] - mean) ** 2;
    const inv = 1 / Math.sqrt(variance / count + eps);
    for (let i = b; i < b + count; i++) y[i] = (x[i] - mean) * inv;
  }
  return y;
}

/** Normalizes x over axis `axis` alone (stride: the product of the later axes): y = (x − mean)/√(var + ε). */
function normalizeAlong(x: Float64Array, shape: readonly number[], axis: number, eps: number): Float64Array {
  const C = shape[axis], inner = sizeOf(shape.slice(axis + 1)), y = new Float64Array(x.length);
  for (let base = 0; base < x.length; base += C * inner) {
    for (let p = base; p < base + inner; p++) {
      let mean = 0;
      for (let c = 0; c < C; c++) mean += x[p + c * inner];
      mean /= C;
      let variance = 0;
      for (let c = 0; c < C; c++) variance += (x[p + c * inner] - mean) ** 2;
      const inv = 1 / Math.sqrt(variance / C + eps);
      for (let c = 0; c < C; c++) y[p + c * inner] = (x[p + c * inner] - mean) * inv;
    }
  }
  return y;
}

/** Whether `p` broadcasts (numpy, right-aligned) onto `target` without growing it. */
function broadcastsTo(p: readonly number[], target: readonly number[]): boolean {
  if (p.length > target.length) return false;
  return p.every((d, i) => d === 1 || d === target[target.length - p.length + i]);
}

/** The value of a broadcast tensor at flat index i of `target` (both right-aligned). */
function broadcastIndex(i: number, target: readonly number[], p: readonly number[]): number {
  let idx = 0, stride = 1;
  for (let a = target.length - 1, b = p.length - 1; b >= 0; a--, b--) {
    const coord = i % target[a];
    i = (i - coord) / target[a];
    if (p[b] !== 1) idx += coord * stride;
    stride *= p[b];
  }
  return idx;
}

function layerNormAxis(node: NodeInfo, rank: number): number {
  const axis = attrInt(node.attrs, 'axis', node);
  if (axis < -rank || axis >= rank) fail(node, 'BAD_ATTRIBUTE', `axis ${axis} is out of range for rank ${rank}`);
  return axis < 0 ? axis + rank : axis;
}

export const NORM_OPS: OpDef[] = [
  {
    name: 'BatchNormalization',
    traits: { category: 'normalization', inPlace: true, layoutInputs: [0] },
    doc: 'inference batch norm: scale·(x − mean)/√(var + ε) + B per channel (training_mode unsupported)',
    inputs: [5, 5],
    attrs: { epsilon: 1e-5, momentum: 0.9, training_mode: 0, layout: 'NCHW' },
    infer(node) {
      if (node.attrs.training_mode !== 0) fail(node, 'UNSUPPORTED', 'training_mode=1 is not supported (inference only)');
      const x = floatInput(node, 2);
      checkChannelParams(node, 1, 5, splitShape(x.shape, layoutOf(node.attrs, placeOf(node))).C);
      return [x];
    },
    reference([x, ...params], attrs, [out]) {
      const y = batchNorm(toF64(x!), x!.shape, layoutOf(attrs), params.map((p) => toF64(p!)), attrFloat(attrs, 'epsilon'));
      return [fromF64(out.dtype, out.shape, y)];
    },
    // torchvision counts: scale and B are parameters, the running statistics are buffers
    cost: (node, [out]) => ({ flops: 2 * sizeOf(out.shape), params: 2 * sizeOf(input(node, 1).type.shape) }),
  },
  {
    name: 'InstanceNormalization',
    traits: { category: 'normalization', layoutInputs: [0] },
    doc: 'per (n, c) normalization over the spatial axes: scale·(x − mean)/√(var + ε) + B (NCHW)',
    inputs: [3, 3],
    attrs: { epsilon: 1e-5 },
    infer(node) {
      const x = floatInput(node, 3);
      checkChannelParams(node, 1, 3, x.shape[1]);
      return [x];
    },
    reference([x, scale, bias], attrs, [out]) {
      const P = sizeOf(x!.shape.slice(2)), C = x!.shape[1];
      const y = normalizeBlocks(toF64(x!), P, attrFloat(attrs, 'epsilon'));
      const s = toF64(scale!), b = toF64(bias!);
      for (let i = 0; i < y.length; i++) {
        const c = Math.floor(i / P) % C;
        y[i] = y[i] * s[c] + b[c];
      }
      return [fromF64(out.dtype, out.shape, y)];
    },
    cost: (node, [out]) => ({ flops: 6 * sizeOf(out.shape), params: 2 * out.shape[1] }),
  },
  {
    name: 'LayerNormalization',
    traits: { category: 'normalization' },
    doc: 'normalizes over axes axis.. (mean 0, variance 1), then ·Scale + B (broadcast); output Y only',
    inputs: [2, 3],
    attrs: { axis: -1, epsilon: 1e-5, stash_type: 1 },
    infer(node) {
      const x = floatInput(node, 1);
      const normShape = x.shape.slice(layerNormAxis(node, x.shape.length));
      for (const i of [1, 2]) {
        const p = node.inputs[i];
        if (!p) continue;
        if (!isArithFloat(p.type.dtype)) fail(node, 'DTYPE_MISMATCH', `input ${i} must be float, got ${p.type.dtype}`, p.name);
        if (!broadcastsTo(p.type.shape, normShape)) fail(node, 'SHAPE_MISMATCH', `input ${i} of shape [${p.type.shape}] does not broadcast to the normalized shape [${normShape}]`, p.name);
      }
      return [x];
    },
    reference([x, scale, bias], attrs, [out]) {
      const rank = x!.shape.length;
      const axis = Number(attrs.axis) < 0 ? Number(attrs.axis) + rank : Number(attrs.axis);
      const normShape = x!.shape.slice(axis), count = sizeOf(normShape);
      const y = normalizeBlocks(toF64(x!), count, attrFloat(attrs, 'epsilon'));
      const s = toF64(scale!), b = bias ? toF64(bias) : undefined;
      for (let i = 0; i < y.length; i++) {
        const k = i % count;
        y[i] = y[i] * s[broadcastIndex(k, normShape, scale!.shape)] + (b ? b[broadcastIndex(k, normShape, bias!.shape)] : 0);
      }
      return [fromF64(out.dtype, out.shape, y)];
    },
    cost: (node, [out]) => ({
      flops: 7 * sizeOf(out.shape),
      params: sizeOf(input(node, 1).type.shape) + (node.inputs[2] ? sizeOf(node.inputs[2].type.shape) : 0),
    }),
  },
  {
    name: 'ChannelLayerNorm',
    traits: { category: 'normalization' },
    doc: 'LayerNormalization over the one axis `axis` (NCHW channels: LayerNorm2d without its Transposes), ·Scale + B along it',
    inputs: [2, 3],
    attrs: { axis: 1, epsilon: 1e-5 },
    infer(node) {
      const x = floatInput(node, 1);
      checkChannelParams(node, 1, node.inputs[2] ? 3 : 2, x.shape[layerNormAxis(node, x.shape.length)]);
      return [x];
    },
    reference([x, scale, bias], attrs, [out]) {
      const axis = Number(attrs.axis) < 0 ? Number(attrs.axis) + x!.shape.length : Number(attrs.axis);
      const y = normalizeAlong(toF64(x!), x!.shape, axis, attrFloat(attrs, 'epsilon'));
      const C = x!.shape[axis], inner = sizeOf(x!.shape.slice(axis + 1));
      const s = toF64(scale!), b = bias ? toF64(bias) : undefined;
      for (let i = 0; i < y.length; i++) {
        const c = Math.floor(i / inner) % C;
        y[i] = y[i] * s[c] + (b ? b[c] : 0);
      }
      return [fromF64(out.dtype, out.shape, y)];
    },
    cost: (node, [out]) => ({ flops: 7 * sizeOf(out.shape), params: sizeOf(input(node, 1).type.shape) + (node.inputs[2] ? sizeOf(node.inputs[2].type.shape) : 0) }),
  },
  {
    name: 'LRN',
    traits: { category: 'normalization', layoutInputs: [0] },
    doc: 'local response norm across channels: x / (bias + alpha/size · Σ x²)^beta',
    inputs: [1, 1],
    attrs: { alpha: 1e-4, beta: 0.75, bias: 1, size: null, layout: 'NCHW' },
    infer(node) {
      const size = attrInt(node.attrs, 'size', node);
      if (size < 1) fail(node, 'BAD_ATTRIBUTE', `size must be ≥ 1, got ${size}`);
      layoutOf(node.attrs, placeOf(node));
      return [floatInput(node, 3)];
    },
    reference([x], attrs, [out]) {
      const shape = x!.shape, layout = layoutOf(attrs);
      const { N, C, spatial } = splitShape(shape, layout);
      const P = sizeOf(spatial), v = toF64(x!), y = new Float64Array(v.length);
      const size = Number(attrs.size), alpha = Number(attrs.alpha), beta = Number(attrs.beta), bias = Number(attrs.bias);
      // element (n, c, p) lives at n·C·P + c·cs + p·ps
      const [cs, ps] = layout === 'NHWC' ? [1, C] : [P, 1];
      const lo = Math.floor((size - 1) / 2), hi = Math.ceil((size - 1) / 2);
      for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let p = 0; p < P; p++) {
        const base = n * C * P + p * ps;
        let sum = 0;
        for (let k = Math.max(0, c - lo); k <= Math.min(C - 1, c + hi); k++) sum += v[base + k * cs] ** 2;
        const i = base + c * cs;
        y[i] = v[i] / (bias + (alpha / size) * sum) ** beta;
      }
      return [fromF64(out.dtype, out.shape, y)];
    },
    cost: (node, [out]) => ({ flops: (2 * Number(node.attrs.size) + 4) * sizeOf(out.shape), params: 0 }),
  },
];
