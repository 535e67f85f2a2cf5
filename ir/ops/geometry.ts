/**
 * Geometry of sliding-window ops (Conv, ConvTranspose, FusedDwPw, MaxPool, AveragePool), resolved
 * once from attributes and input shapes: inference, reference kernels, cost and the code generators
 * all call `windowGeometry` so that auto_pad, ceil_mode and output_shape mean the same thing everywhere.
 *
 * ONNX rules, per spatial axis (in = input size, k = kernel, s = stride, d = dilation, e = d·(k−1)+1):
 *   explicit pads:   out = floor((in + padBegin + padEnd − e) / s) + 1     (ceil with ceil_mode)
 *   SAME_UPPER/LOWER: out = ceil(in / s), total = max(0, (out−1)·s + e − in),
 *                     UPPER puts the odd pixel at the end, LOWER at the beginning
 *   VALID:           pads 0
 *   ConvTranspose:   out = s·(in−1) + output_padding + e − padBegin − padEnd, or given by output_shape
 *                    (or in·s for SAME_*), the pads then following from it (and possibly negative).
 */
import { CnncError } from '../../runtime/errors.js';
import type { Attrs, NodeInfo } from '../op.js';

export type Layout = 'NCHW' | 'NHWC';
export type WindowKind = 'conv' | 'convTranspose' | 'pool';

export interface WindowGeometry {
  readonly kind: WindowKind;
  readonly layout: Layout;
  /** Batch size. */
  readonly N: number;
  /** Input channels. */
  readonly C: number;
  /** Output channels (pools: C; FusedDwPw: C, this geometry being its depthwise part). */
  readonly M: number;
  /** Channel groups (pools: 1; depthwise: C). Conv W is (M, C/group, ...k); ConvTranspose W is (C, M/group, ...k). */
  readonly group: number;
  /** Spatial sizes, outermost first: [L], [H, W] or [D, H, W]. */
  readonly inSize: readonly number[];
  readonly outSize: readonly number[];
  readonly kernel: readonly number[];
  readonly strides: readonly number[];
  readonly dilations: readonly number[];
  /**
   * Resolved pads at the start and end of each axis (auto_pad applied). Conv and pools: ≥ 0; with
   * ceil_mode the last window may reach past inSize + padEnd, and those positions count as neither
   * input nor padding. ConvTranspose: may be negative when output_shape asks for a larger output.
   * Input position of output o, tap t (conv/pool): o·s − padBegin + t·d.
   * Output position of input i, tap t (ConvTranspose): i·s − padBegin + t·d.
   */
  readonly padBegin: readonly number[];
  readonly padEnd: readonly number[];
  /** ConvTranspose output_padding (zeros for the others). */
  readonly outputPadding: readonly number[];
  /** The full output shape, in the op's layout. */
  readonly outShape: readonly number[];
}

/** Where an error belongs (the node and op), when known. */
export interface Place {
  node?: string;
  op?: string;
}

const KIND: Record<string, WindowKind> = {
  Conv: 'conv', FusedDwPw: 'conv', ConvTranspose: 'convTranspose', MaxPool: 'pool', AveragePool: 'pool',
};

/** Splits a shape in `layout` into batch, channels and spatial sizes. */
export function splitShape(shape: readonly number[], layout: Layout): { N: number; C: number; spatial: number[] } {
  const r = shape.length;
  return layout === 'NHWC'
    ? { N: shape[0], C: shape[r - 1], spatial: shape.slice(1, r - 1) }
    : { N: shape[0], C: shape[1], spatial: shape.slice(2) };
}

/** A shape in `layout` from batch, channels and spatial sizes. */
export function joinShape(N: number, C: number, spatial: readonly number[], layout: Layout): number[] {
  return layout === 'NHWC' ? [N, ...spatial, C] : [N, C, ...spatial];
}

export function layoutOf(attrs: Attrs, place: Place = {}): Layout {
  const l = attrs.layout ?? 'NCHW';
  if (l !== 'NCHW' && l !== 'NHWC') bad(place, 'BAD_ATTRIBUTE', `layout must be 'NCHW' or 'NHWC', got ${JSON.stringify(l)}`);
  return l;
}

function bad(place: Place, code: 'BAD_ATTRIBUTE' | 'SHAPE_MISMATCH' | 'UNSUPPORTED', msg: string, value?: string): never {
  throw new CnncError(code, msg, { node: place.node, op: place.op, value });
}

/** An int-list attribute of length n; [] (or absent) means `fill` on every axis. */
function perAxis(attrs: Attrs, name: string, n: number, fill: number, min: number, place: Place): number[] {
  const v = attrs[name] ?? [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'number' || !Number.isInteger(x))) {
    bad(place, 'BAD_ATTRIBUTE', `attribute '${name}' must be a list of integers, got ${JSON.stringify(v)}`);
  }
  const xs = v as number[];
  if (xs.length === 0) return new Array<number>(n).fill(fill);
  if (xs.length !== n) bad(place, 'BAD_ATTRIBUTE', `attribute '${name}' has ${xs.length} values, ${n} spatial axes need ${n}`);
  if (xs.some((x) => x < min)) bad(place, 'BAD_ATTRIBUTE', `attribute '${name}' must be ≥ ${min}, got [${xs}]`);
  return [...xs];
}

/**
 * Resolves the geometry of a sliding-window node. `x` is the data input's shape (in `layout`), `w` the
 * weight's (Conv/ConvTranspose/FusedDwPw; pools take kernel_shape). Throws CnncError naming `place`.
 */
export function windowGeometry(op: string, attrs: Attrs, x: readonly number[], w?: readonly number[], place: Place = { op }): WindowGeometry {
  const kind = KIND[op];
  if (!kind) bad(place, 'UNSUPPORTED', `${op} has no window geometry`);
  const layout = layoutOf(attrs, place);
  const nsp = x.length - 2;
  if (nsp < 1 || nsp > 3) bad(place, 'UNSUPPORTED', `input must have 1 to 3 spatial axes (rank 3 to 5), got shape [${x}]`);
  const { N, C, spatial: inSize } = splitShape(x, layout);

  // channels, groups and the kernel
  let group = 1, M = C;
  let kernel: number[];
  if (kind === 'pool') {
    kernel = perAxis(attrs, 'kernel_shape', nsp, 0, 1, place);
    if (kernel.includes(0)) bad(place, 'BAD_ATTRIBUTE', `attribute 'kernel_shape' is required`);
  } else {
    if (!w || w.length !== x.length) bad(place, 'SHAPE_MISMATCH', `weight shape [${w ?? []}] must have the input's rank ${x.length}`);
    group = op === 'FusedDwPw' ? C : intAttr(attrs, 'group', 1, place);
    if (group < 1 || C % group !== 0) bad(place, 'SHAPE_MISMATCH', `input channels ${C} are not divisible by group ${group}`);
    if (kind === 'conv') {
      M = w[0];
      if (w[1] * group !== C) bad(place, 'SHAPE_MISMATCH', `weight [${w}] takes ${w[1]}·${group} input channels, the input has ${C}`);
      if (M % group !== 0) bad(place, 'SHAPE_MISMATCH', `output channels ${M} are not divisible by group ${group}`);
      if (op === 'FusedDwPw' && M !== C) bad(place, 'SHAPE_MISMATCH', `depthwise weight [${w}] must have ${C} output channels`);
    } else {
      if (w[0] !== C) bad(place, 'SHAPE_MISMATCH', `weight [${w}] takes ${w[0]} input channels, the input has ${C}`);
      M = w[1] * group;
    }
    kernel = w.slice(2);
    if (kernel.some((k) => k < 1)) bad(place, 'SHAPE_MISMATCH', `weight [${w}] has an empty kernel`);
    const ks = perAxis(attrs, 'kernel_shape', nsp, 0, 1, place);
    if (ks[0] !== 0 && ks.some((k, i) => k !== kernel[i])) bad(place, 'SHAPE_MISMATCH', `kernel_shape [${ks}] differs from the weight's [${kernel}]`);
  }
  const strides = perAxis(attrs, 'strides', nsp, 1, 1, place);
  const dilations = perAxis(attrs, 'dilations', nsp, 1, 1, place);
  const pads = perAxis(attrs, 'pads', 2 * nsp, 0, 0, place);
  let padBegin = pads.slice(0, nsp), padEnd = pads.slice(nsp);
  const autoPad = String(attrs.auto_pad ?? 'NOTSET');
  if (!['NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID'].includes(autoPad)) bad(place, 'BAD_ATTRIBUTE', `unknown auto_pad '${autoPad}'`);
  const extent = kernel.map((k, i) => dilations[i] * (k - 1) + 1);
  // a pool window lying wholly in the padding would have no input to reduce (ONNX Runtime rejects it too)
  if (kind === 'pool' && [...padBegin, ...padEnd].some((p, i) => p >= extent[i % nsp])) {
    bad(place, 'BAD_ATTRIBUTE', `pads [${pads}] must be smaller than the window [${extent}]`);
  }
  const outputPadding = kind === 'convTranspose' ? perAxis(attrs, 'output_padding', nsp, 0, 0, place) : new Array<number>(nsp).fill(0);
  let outSize: number[];

  if (kind === 'convTranspose') {
    outputPadding.forEach((p, i) => {
      if (p >= Math.max(strides[i], dilations[i])) bad(place, 'BAD_ATTRIBUTE', `output_padding ${p} must be smaller than the stride or dilation on axis ${i}`);
    });
    const natural = inSize.map((n, i) => strides[i] * (n - 1) + outputPadding[i] + extent[i]);
    const given = perAxis(attrs, 'output_shape', nsp, 0, 1, place);
    const target = given[0] !== 0 ? given
      : autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER' ? inSize.map((n, i) => n * strides[i]) : undefined;
    if (target) {
      const total = natural.map((n, i) => n - target[i]);
      const half = total.map((t) => Math.floor(t / 2));
      padBegin = autoPad === 'SAME_UPPER' ? half : total.map((t, i) => t - half[i]);
      padEnd = total.map((t, i) => t - padBegin[i]);
    } else if (autoPad === 'VALID') {
      padBegin = padBegin.map(() => 0);
      padEnd = padEnd.map(() => 0);
    }
    outSize = natural.map((n, i) => n - padBegin[i] - padEnd[i]);
  } else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    outSize = inSize.map((n, i) => Math.ceil(n / strides[i]));
    const total = outSize.map((o, i) => Math.max(0, (o - 1) * strides[i] + extent[i] - inSize[i]));
    const small = total.map((t) => Math.floor(t / 2));
    padBegin = autoPad === 'SAME_UPPER' ? small : total.map((t, i) => t - small[i]);
    padEnd = total.map((t, i) => t - padBegin[i]);
  } else {
    if (autoPad === 'VALID') {
      padBegin = padBegin.map(() => 0);
      padEnd = padEnd.map(() => 0);
    }
    const ceil = kind === 'pool' && intAttr(attrs, 'ceil_mode', 0, place) !== 0;
    outSize = inSize.map((n, i) => {
      const span = n + padBegin[i] + padEnd[i] - extent[i];
      if (span < 0) return 0;
      let o = (ceil ? Math.ceil(span / strides[i]) : Math.floor(span / strides[i])) + 1;
      // ceil_mode: a last window that would start in the end padding is dropped (PyTorch, ONNX ≥ 1.16)
      if (ceil && (o - 1) * strides[i] >= n + padBegin[i]) o--;
      return o;
    });
  }
  if (outSize.some((o) => o < 1)) {
    bad(place, 'SHAPE_MISMATCH', `window [${extent}] (kernel·dilation) does not fit the padded input [${inSize}]: output would be [${outSize}]`);
  }
  const outShape = joinShape(N, M, outSize, layout);
  return { kind, layout, N, C, M, group, inSize, outSize, kernel, strides, dilations, padBegin, padEnd, outputPadding, outShape };
}

function intAttr(attrs: Attrs, name: string, fill: number, place: Place): number {
  const v = attrs[name] ?? fill;
  if (typeof v !== 'number' || !Number.isInteger(v)) bad(place, 'BAD_ATTRIBUTE', `attribute '${name}' must be an integer, got ${JSON.stringify(v)}`);
  return v;
}

/** The geometry of a node as inference and cost see it (input 0 is the data, input 1 the weight). */
export function nodeGeometry(node: NodeInfo): WindowGeometry {
  const x = node.inputs[0], w = node.inputs[1];
  if (!x) throw new CnncError('BAD_GRAPH', 'input 0 is required', { node: node.name, op: node.op });
  return windowGeometry(node.op, node.attrs, x.type.shape, w?.type.shape, { node: node.name, op: node.op });
}

/** Pads a 1-D or 2-D geometry list to 3 axes (leading 1s/0s), so kernels loop over D, H, W only. */
export function to3d(v: readonly number[], fill: number): [number, number, number] {
  const p = [...new Array<number>(3 - v.length).fill(fill), ...v];
  return [p[0], p[1], p[2]];
}

/** [N, C, P] (channels first, P = product of spatial sizes) → [N, P, C] (channels last). */
export function toChannelsLast(v: Float64Array, N: number, C: number, P: number): Float64Array {
  const out = new Float64Array(v.length);
  for (let n = 0; n < N; n++) {
    const base = n * C * P;
    for (let c = 0; c < C; c++) {
      const src = base + c * P;
      for (let p = 0; p < P; p++) out[base + p * C + c] = v[src + p];
    }
  }
  return out;
}

/** [N, P, C] (channels last) → [N, C, P] (channels first). */
export function toChannelsFirst(v: Float64Array, N: number, C: number, P: number): Float64Array {
  const out = new Float64Array(v.length);
  for (let n = 0; n < N; n++) {
    const base = n * C * P;
    for (let c = 0; c < C; c++) {
      const dst = base + c * P;
      for (let p = 0; p < P; p++) out[dst + p] = v[base + p * C + c];
    }
  }
  return out;
}
