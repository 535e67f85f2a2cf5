/**
 * Conv and ConvTranspose (1-D, 2-D, 3-D; groups, dilations, auto_pad) with the fused epilogue
 * act(conv + bias + residual). The reference kernels work channels-last in float64: a conv output is a
 * dot product over (taps, channels) with the channel loop innermost and four output channels per pass.
 */
import { fromF64, sizeOf, toF64, type Tensor } from '../../runtime/tensor.js';
import type { AttrValue, Attrs, Cost, NodeInfo, OpDef, Window } from '../op.js';
import { fail, input } from '../op.js';
import { ACTIVATION_KINDS, EPILOGUE_ATTRS, applyEpilogueActivation } from './activation.js';
import {
  nodeGeometry, to3d, toChannelsFirst, toChannelsLast, windowGeometry, type WindowGeometry,
} from './geometry.js';
import { isFloat, sameShape, type TensorType } from '../types.js';

/** Attributes of a sliding window; [] means the ONNX default (1s for strides/dilations, 0 pads, kernel from W). */
export const WINDOW_ATTRS: Record<string, AttrValue> = {
  auto_pad: 'NOTSET', dilations: [], group: 1, kernel_shape: [], pads: [], strides: [], layout: 'NCHW',
};

// ---- inference shared by Conv, ConvTranspose and FusedDwPw ----

/** Checks that input i (when present) is a float of the data input's dtype, with the given shape. */
export function checkOperand(node: NodeInfo, i: number, what: string, shape?: readonly number[]): void {
  const v = node.inputs[i];
  if (!v) return;
  const dtype = input(node, 0).type.dtype;
  if (v.type.dtype !== dtype) fail(node, 'DTYPE_MISMATCH', `${what} is ${v.type.dtype}, the input is ${dtype}`, v.name);
  if (shape && !sameShape(v.type.shape, shape)) fail(node, 'SHAPE_MISMATCH', `${what} has shape [${v.type.shape}], expected [${shape}]`, v.name);
}

/** The epilogue attributes (activation name) are valid. */
export function checkActivation(node: NodeInfo, name = 'activation'): void {
  const a = node.attrs[name] ?? '';
  if (!ACTIVATION_KINDS.includes(a as never)) fail(node, 'BAD_ATTRIBUTE', `unknown ${name} '${String(a)}'`);
}

function convInfer(node: NodeInfo): TensorType[] {
  const x = input(node, 0);
  input(node, 1);
  if (!isFloat(x.type.dtype)) fail(node, 'DTYPE_MISMATCH', `expects a float input, got ${x.type.dtype}`, x.name);
  const g = nodeGeometry(node);
  checkOperand(node, 1, 'weight');
  checkOperand(node, 2, 'bias', [g.M]);
  checkOperand(node, 3, 'residual', g.outShape);
  checkActivation(node);
  return [{ dtype: x.type.dtype, shape: [...g.outShape] }];
}

// ---- kernels (float64, channels-last inside) ----

/**
 * A convolution in float64: `x` in g.layout, `w` as (M, C/group, ...kernel), optional bias (M).
 * Returns the output in g.layout. Shared by Conv and FusedDwPw.
 */
export function convolve(g: WindowGeometry, x: Float64Array, w: Float64Array, bias?: Float64Array): Float64Array {
  const [ID, IH, IW] = to3d(g.inSize, 1), [OD, OH, OW] = to3d(g.outSize, 1), [KD, KH, KW] = to3d(g.kernel, 1);
  const [SD, SH, SW] = to3d(g.strides, 1), [DD, DH, DW] = to3d(g.dilations, 1);
  const [PD, PH, PW] = to3d(g.padBegin, 0);
  const { N, C, M, group } = g;
  const Cg = C / group, Mg = M / group, taps = KD * KH * KW, KC = taps * Cg;
  const inP = ID * IH * IW, outP = OD * OH * OW;
  const xl = g.layout === 'NHWC' ? x : toChannelsLast(x, N, C, inP);
  // weights as (M, taps, C/group): the channel run of one tap is contiguous, like the input's
  const wt = new Float64Array(w.length);
  for (let m = 0; m < M; m++) for (let c = 0; c < Cg; c++) for (let t = 0; t < taps; t++) wt[(m * taps + t) * Cg + c] = w[(m * Cg + c) * taps + t];
  const y = new Float64Array(N * outP * M);
  const xo = new Int32Array(taps), wo = new Int32Array(taps);
  for (let n = 0; n < N; n++) for (let od = 0; od < OD; od++) for (let oh = 0; oh < OH; oh++) for (let ow = 0; ow < OW; ow++) {
    // the taps of this output that land inside the input (padding contributes zero)
    let nt = 0;
    for (let kd = 0; kd < KD; kd++) {
      const id = od * SD - PD + kd * DD;
      if (id < 0 || id >= ID) continue;
      for (let kh = 0; kh < KH; kh++) {
        const ih = oh * SH - PH + kh * DH;
        if (ih < 0 || ih >= IH) continue;
        for (let kw = 0; kw < KW; kw++) {
          const iw = ow * SW - PW + kw * DW;
          if (iw < 0 || iw >= IW) continue;
          xo[nt] = (((n * ID + id) * IH + ih) * IW + iw) * C;
          wo[nt++] = ((kd * KH + kh) * KW + kw) * Cg;
        }
      }
    }
    const yo = (((n * OD + od) * OH + oh) * OW + ow) * M;
    for (let gi = 0; gi < group; gi++) {
      const xc = gi * Cg;
      let m = gi * Mg;
      const mEnd = m + Mg;
      for (; m + 4 <= mEnd; m += 4) {
        let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        for (let t = 0; t < nt; t++) {
          const a = xo[t] + xc, b0 = m * KC + wo[t], b1 = b0 + KC, b2 = b1 + KC, b3 = b2 + KC;
          for (let c = 0; c < Cg; c++) {
            const xv = xl[a + c];
            a0 += xv * wt[b0 + c]; a1 += xv * wt[b1 + c]; a2 += xv * wt[b2 + c]; a3 += xv * wt[b3 + c];
          }
        }
        y[yo + m] = a0; y[yo + m + 1] = a1; y[yo + m + 2] = a2; y[yo + m + 3] = a3;
      }
      for (; m < mEnd; m++) {
        let acc = 0;
        for (let t = 0; t < nt; t++) {
          const a = xo[t] + xc, b = m * KC + wo[t];
          for (let c = 0; c < Cg; c++) acc += xl[a + c] * wt[b + c];
        }
        y[yo + m] = acc;
      }
    }
  }
  if (bias) addChannelBias(y, bias, M);
  return g.layout === 'NHWC' ? y : toChannelsFirst(y, N, M, outP);
}

/**
 * A transposed convolution in float64: `x` in g.layout, `w` as (C, M/group, ...kernel), optional bias (M).
 * Each input pixel scatters x·w into the outputs at i·s − padBegin + t·d. Returns the output in g.layout.
 */
export function convolveTranspose(g: WindowGeometry, x: Float64Array, w: Float64Array, bias?: Float64Array): Float64Array {
  const [ID, IH, IW] = to3d(g.inSize, 1), [OD, OH, OW] = to3d(g.outSize, 1), [KD, KH, KW] = to3d(g.kernel, 1);
  const [SD, SH, SW] = to3d(g.strides, 1), [DD, DH, DW] = to3d(g.dilations, 1);
  const [PD, PH, PW] = to3d(g.padBegin, 0);
  const { N, C, M, group } = g;
  const Cg = C / group, Mg = M / group, taps = KD * KH * KW;
  const inP = ID * IH * IW, outP = OD * OH * OW;
  const xl = g.layout === 'NHWC' ? x : toChannelsLast(x, N, C, inP);
  // weights as (taps, C, M/group): the output-channel run is contiguous, like the output's
  const wt = new Float64Array(w.length);
  for (let c = 0; c < C; c++) for (let m = 0; m < Mg; m++) for (let t = 0; t < taps; t++) wt[(t * C + c) * Mg + m] = w[(c * Mg + m) * taps + t];
  const y = new Float64Array(N * outP * M);
  for (let n = 0; n < N; n++) for (let id = 0; id < ID; id++) for (let ih = 0; ih < IH; ih++) for (let iw = 0; iw < IW; iw++) {
    const xb = (((n * ID + id) * IH + ih) * IW + iw) * C;
    for (let kd = 0; kd < KD; kd++) {
      const od = id * SD - PD + kd * DD;
      if (od < 0 || od >= OD) continue;
      for (let kh = 0; kh < KH; kh++) {
        const oh = ih * SH - PH + kh * DH;
        if (oh < 0 || oh >= OH) continue;
        for (let kw = 0; kw < KW; kw++) {
          const ow = iw * SW - PW + kw * DW;
          if (ow < 0 || ow >= OW) continue;
          const yb = (((n * OD + od) * OH + oh) * OW + ow) * M;
          const t = (kd * KH + kh) * KW + kw;
          for (let c = 0; c < C; c++) {
            const xv = xl[xb + c];
            const ys = yb + Math.floor(c / Cg) * Mg, ws = (t * C + c) * Mg;
            for (let m = 0; m < Mg; m++) y[ys + m] += xv * wt[ws + m];
          }
        }
      }
    }
  }
  if (bias) addChannelBias(y, bias, M);
  return g.layout === 'NHWC' ? y : toChannelsFirst(y, N, M, outP);
}

/** Adds a per-channel bias to a channels-last buffer. */
function addChannelBias(y: Float64Array, bias: Float64Array, M: number): void {
  for (let i = 0; i < y.length; i += M) for (let m = 0; m < M; m++) y[i + m] += bias[m];
}

/** The epilogue in place: y = act(y + residual). */
export function applyEpilogue(y: Float64Array, residual: Tensor | undefined, attrs: Attrs): void {
  if (residual) {
    const r = toF64(residual);
    for (let i = 0; i < y.length; i++) y[i] += r[i];
  }
  applyEpilogueActivation(y, attrs);
}

const f64 = (t: Tensor | undefined) => (t ? toF64(t) : undefined);

// ---- cost and window ----

/** Multiply-accumulates of a conv: N·M·out·(C/group)·k (ConvTranspose: N·C·in·(M/group)·k). */
export function convMacs(g: WindowGeometry): number {
  const k = sizeOf(g.kernel);
  return g.kind === 'convTranspose'
    ? g.N * g.C * sizeOf(g.inSize) * (g.M / g.group) * k
    : g.N * g.M * sizeOf(g.outSize) * (g.C / g.group) * k;
}

/** Weights and biases count as parameters whether constant or not (torchinfo counts). */
export function paramCount(node: NodeInfo, idx: readonly number[]): number {
  return idx.reduce((s, i) => s + (node.inputs[i] ? sizeOf(node.inputs[i]!.type.shape) : 0), 0);
}

function convCost(node: NodeInfo): Partial<Cost> {
  return { flops: 2 * convMacs(nodeGeometry(node)), params: paramCount(node, [1, 2]) };
}

function convWindow(node: NodeInfo): Window {
  const g = nodeGeometry(node);
  return { kernel: [...g.kernel], strides: [...g.strides], dilations: [...g.dilations] };
}

/**
 * A transposed conv upsamples: neighbouring outputs are 1/s input pixels apart, and one output
 * reads at most ceil((d·(k−1)+1)/s) neighbouring inputs per axis.
 */
function convTransposeWindow(node: NodeInfo): Window {
  const g = nodeGeometry(node);
  return {
    kernel: g.kernel.map((k, i) => Math.ceil((g.dilations[i] * (k - 1) + 1) / g.strides[i])),
    strides: g.strides.map((s) => 1 / s),
    dilations: g.kernel.map(() => 1),
  };
}

export const CONV_OPS: OpDef[] = [
  {
    name: 'Conv',
    doc: 'N-D convolution (groups, dilations, pads/auto_pad) with fused epilogue act(conv + B + R)',
    inputs: [2, 4],
    attrs: { ...WINDOW_ATTRS, ...EPILOGUE_ATTRS },
    infer: convInfer,
    reference([x, w, b, r], attrs, [out]) {
      const g = windowGeometry('Conv', attrs, x!.shape, w!.shape);
      const y = convolve(g, toF64(x!), toF64(w!), f64(b));
      applyEpilogue(y, r, attrs);
      return [fromF64(out.dtype, out.shape, y)];
    },
    cost: convCost,
    window: convWindow,
  },
  {
    name: 'ConvTranspose',
    doc: 'N-D transposed convolution (output_padding, output_shape, groups) with fused epilogue act(y + B + R)',
    inputs: [2, 4],
    attrs: { ...WINDOW_ATTRS, output_padding: [], output_shape: [], ...EPILOGUE_ATTRS },
    infer: convInfer,
    reference([x, w, b, r], attrs, [out]) {
      const g = windowGeometry('ConvTranspose', attrs, x!.shape, w!.shape);
      const y = convolveTranspose(g, toF64(x!), toF64(w!), f64(b));
      applyEpilogue(y, r, attrs);
      return [fromF64(out.dtype, out.shape, y)];
    },
    cost: convCost,
    window: convTransposeWindow,
  },
];
