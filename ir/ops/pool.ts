/**
 * Pooling: MaxPool, AveragePool (pads, dilations, ceil_mode, count_include_pad, auto_pad; 1-D to 3-D)
 * and the global pools. Reference kernels work channels-first in float64, one (n, c) plane at a time.
 */
import { fromF64, sizeOf, toF64, type Tensor } from '../../runtime/tensor.js';
import type { AttrValue, Cost, NodeInfo, OpDef, Window } from '../op.js';
import { fail, input } from '../op.js';
import {
  joinShape, layoutOf, nodeGeometry, splitShape, to3d, toChannelsFirst, toChannelsLast, windowGeometry, type WindowGeometry,
} from './geometry.js';
import { isArithFloat, type TensorType } from '../types.js';

const POOL_ATTRS: Record<string, AttrValue | null> = {
  auto_pad: 'NOTSET', ceil_mode: 0, dilations: [], kernel_shape: null, pads: [], strides: [], layout: 'NCHW',
};

/** MaxPool takes floats and (ONNX ≥ 12) 8-bit integers; the averaging ops take floats. */
function checkDtype(node: NodeInfo, ints: boolean): TensorType {
  const x = input(node, 0);
  const d = x.type.dtype;
  if (!(isArithFloat(d) || (ints && (d === 'u8' || d === 'i8')))) fail(node, 'DTYPE_MISMATCH', `does not take ${d} inputs`, x.name);
  return x.type;
}

function poolInfer(node: NodeInfo): TensorType[] {
  const x = checkDtype(node, node.op === 'MaxPool');
  return [{ dtype: x.dtype, shape: [...nodeGeometry(node).outShape] }];
}

/** Per axis and output index: the input positions its window reads, and how many taps lie within the pads. */
function axisTaps(inSize: number, outSize: number, k: number, s: number, d: number, pb: number, pe: number) {
  const taps: number[][] = [], padded: number[] = [];
  for (let o = 0; o < outSize; o++) {
    const list: number[] = [];
    let inPads = 0;
    for (let t = 0; t < k; t++) {
      const i = o * s - pb + t * d;
      if (i >= 0 && i < inSize) list.push(i);
      if (i >= -pb && i < inSize + pe) inPads++;
    }
    taps.push(list);
    padded.push(inPads);
  }
  return { taps, padded };
}

/**
 * Max or average pooling in float64 over `x` in g.layout. Averages divide by the taps inside the
 * input, or with count_include_pad by the taps inside input + pads (never the ceil_mode overhang).
 */
export function pool(g: WindowGeometry, x: Float64Array, mode: 'max' | 'avg', countIncludePad = false): Float64Array {
  const [ID, IH, IW] = to3d(g.inSize, 1), [OD, OH, OW] = to3d(g.outSize, 1);
  const k = to3d(g.kernel, 1), s = to3d(g.strides, 1), d = to3d(g.dilations, 1);
  const pb = to3d(g.padBegin, 0), pe = to3d(g.padEnd, 0);
  const inP = ID * IH * IW, outP = OD * OH * OW, planes = g.N * g.C;
  const [A, B, Cx] = [ID, IH, IW].map((n, a) => axisTaps(n, [OD, OH, OW][a], k[a], s[a], d[a], pb[a], pe[a]));
  const xf = g.layout === 'NHWC' ? toChannelsFirst(x, g.N, g.C, inP) : x;
  const y = new Float64Array(planes * outP);
  for (let p = 0; p < planes; p++) {
    const xb = p * inP;
    let yi = p * outP;
    for (let od = 0; od < OD; od++) for (let oh = 0; oh < OH; oh++) for (let ow = 0; ow < OW; ow++) {
      const td = A.taps[od], th = B.taps[oh], tw = Cx.taps[ow];
      let acc = mode === 'max' ? -Infinity : 0;
      for (const id of td) for (const ih of th) {
        const row = xb + (id * IH + ih) * IW;
        for (const iw of tw) {
          const v = xf[row + iw];
          if (mode === 'avg') acc += v;
          else if (v > acc || Number.isNaN(v)) acc = v;
        }
      }
      if (mode === 'avg') {
        const count = countIncludePad ? A.padded[od] * B.padded[oh] * Cx.padded[ow] : td.length * th.length * tw.length;
        acc = count > 0 ? acc / count : 0;
      }
      y[yi++] = acc;
    }
  }
  return g.layout === 'NHWC' ? toChannelsLast(y, g.N, g.C, outP) : y;
}

/** Max or mean over all spatial positions of each (n, c), in either layout. */
export function globalPool(x: Float64Array, shape: readonly number[], layout: 'NCHW' | 'NHWC', mode: 'max' | 'avg'): Float64Array {
  const { N, C, spatial } = splitShape(shape, layout);
  const P = sizeOf(spatial);
  const xf = layout === 'NHWC' ? toChannelsFirst(x, N, C, P) : x;
  const y = new Float64Array(N * C);
  for (let p = 0; p < N * C; p++) {
    let acc = mode === 'max' ? -Infinity : 0;
    for (let i = p * P; i < (p + 1) * P; i++) {
      const v = xf[i];
      if (mode === 'avg') acc += v;
      else if (v > acc || Number.isNaN(v)) acc = v;
    }
    y[p] = mode === 'avg' ? acc / P : acc;
  }
  return y; // [N, C] is also [N, 1, .., 1, C]: no transpose needed
}

function poolCost(node: NodeInfo): Partial<Cost> {
  const g = nodeGeometry(node);
  return { flops: g.N * g.C * sizeOf(g.outSize) * sizeOf(g.kernel), params: 0 };
}

function poolWindow(node: NodeInfo): Window {
  const g = nodeGeometry(node);
  return { kernel: [...g.kernel], strides: [...g.strides], dilations: [...g.dilations] };
}

function globalPoolOp(name: string, mode: 'max' | 'avg', doc: string): OpDef {
  return {
    name,
    doc,
    inputs: [1, 1],
    attrs: { layout: 'NCHW' },
    infer(node) {
      const x = checkDtype(node, mode === 'max');
      const layout = layoutOf(node.attrs, { node: node.name, op: node.op });
      if (x.shape.length < 3) fail(node, 'SHAPE_MISMATCH', `expects a rank ≥ 3 input (N, C, spatial...), got [${x.shape}]`, input(node, 0).name);
      const { N, C, spatial } = splitShape(x.shape, layout);
      return [{ dtype: x.dtype, shape: joinShape(N, C, spatial.map(() => 1), layout) }];
    },
    reference([x], attrs, [out]) {
      const y = globalPool(toF64(x as Tensor), x!.shape, layoutOf(attrs), mode);
      return [fromF64(out.dtype, out.shape, y)];
    },
    cost: (node) => ({ flops: sizeOf(input(node, 0).type.shape), params: 0 }),
    window: () => 'global',
    traits: { category: 'pool', fp16: mode === 'max' ? 'compute' : undefined, layoutInputs: [0] },
  };
}

export const POOL_OPS: OpDef[] = [
  {
    name: 'MaxPool',
    traits: { category: 'pool', fp16: 'compute', layoutInputs: [0] },
    doc: 'max over a sliding window (pads, dilations, ceil_mode, auto_pad); output Y only (no Indices)',
    inputs: [1, 1],
    attrs: { ...POOL_ATTRS, storage_order: 0 },
    infer: poolInfer,
    reference([x], attrs, [out]) {
      const g = windowGeometry('MaxPool', attrs, x!.shape);
      return [fromF64(out.dtype, out.shape, pool(g, toF64(x!), 'max'))];
    },
    cost: poolCost,
    window: poolWindow,
  },
  {
    name: 'AveragePool',
    traits: { category: 'pool', fp16: 'compute', layoutInputs: [0] },
    doc: 'mean over a sliding window (count_include_pad, ceil_mode, dilations, auto_pad)',
    inputs: [1, 1],
    attrs: { ...POOL_ATTRS, count_include_pad: 0 },
    infer: poolInfer,
    reference([x], attrs, [out]) {
      const g = windowGeometry('AveragePool', attrs, x!.shape);
      return [fromF64(out.dtype, out.shape, pool(g, toF64(x!), 'avg', attrs.count_include_pad === 1))];
    },
    cost: poolCost,
    window: poolWindow,
  },
  globalPoolOp('GlobalAveragePool', 'avg', 'mean over all spatial positions, keeping them as size-1 axes'),
  globalPoolOp('GlobalMaxPool', 'max', 'max over all spatial positions, keeping them as size-1 axes'),
];
