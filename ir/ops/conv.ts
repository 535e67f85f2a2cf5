/**
 * Conv and ConvTranspose (1-D, 2-D, 3-D; groups, dilations, auto_pad) with the fused epilogue
 * act(conv + bias + residual). The reference kernels work channels-last in float64: a conv output is a
 * dot product over (taps, channels) with the channel loop innermost and four output channels per pass.
 *
 * Conv's optional input 4 is an input scale S ("scale on load"): one vector of C per batch item
 * (shape (N, C, 1, …) or (N, 1, …, C); the layout does not matter for a vector), and the node
 * computes conv(X · S[n, c]) — the closing Mul of squeeze-and-excitation, fused by
 * passes/fuse-scale-on-load.ts so that the feature map is read once.
 */
import { fromF64, sizeOf, toF64, type Tensor } from '../../runtime/tensor.js';
import type { AttrValue, Attrs, Cost, NodeInfo, OpDef, Window } from '../op.js';
import { fail, input } from '../op.js';
import { ACTIVATION_KINDS, EPILOGUE_ATTRS, applyEpilogueActivation } from './activation.js';
import {
  nodeGeometry, to3d, toChannelsFirst, toChannelsLast, windowGeometry, type WindowGeometry,
} from './geometry.js';
import { isArithFloat, sameShape, type TensorType } from '../types.js';

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
  if (!isArithFloat(x.type.dtype)) fail(node, 'DTYPE_MISMATCH', `expects a float input, got ${x.type.dtype}`, x.name);
  const g = nodeGeometry(node);
  checkOperand(node, 1, 'weight');
  checkOperand(node, 2, 'bias', [g.M]);
  checkOperand(node, 3, 'residual', g.outShape);
  checkActivation(node);
  const after = node.attrs.residual_after_act ?? 0;
  if (after !== 0 && after !== 1) fail(node, 'BAD_ATTRIBUTE', `residual_after_act must be 0 or 1, got ${String(after)}`);
  if (node.inputs[4]) checkInputScale(node, g.N, g.C);
  return [{ dtype: x.type.dtype, shape: [...g.outShape] }];
}

/** Conv's input scale (input 4): N·C elements, batch first, at most one other axis not 1 (SHAPE_MISMATCH naming it). */
function checkInputScale(node: NodeInfo, N: number, C: number): void {
  checkOperand(node, 4, 'input scale');
  const s = node.inputs[4]!.type.shape;
  const perChannel = s.length >= 2 && s[0] === N && sizeOf(s.slice(1)) === C && s.slice(1).filter((d) => d !== 1).length <= 1;
  if (!perChannel) fail(node, 'SHAPE_MISMATCH', `input scale has shape [${s}], expected one vector of ${C} per batch item (${N})`, node.inputs[4]!.name);
}

/** X · S[n, c] in float64 (S: N·C values, batch-major), X in `layout` with P pixels per channel. */
export function scaleInput(x: Float64Array, s: Float64Array, N: number, C: number, P: number, layout: string): Float64Array {
  const y = new Float64Array(x.length);
  for (let n = 0; n < N; n++) for (let p = 0; p < P; p++) for (let c = 0; c < C; c++) {
    const i = layout === 'NHWC' ? (n * P + p) * C + c : (n * C + c) * P + p;
    y[i] = x[i] * s[n * C + c];
  }
  return y;
}

// ---- kernels (float64, channels-last inside) ----

/**
 * A convolution in float64: `x` in g.layout, `w` as (M, C/group, ...kernel), optional bias (M).
 * Returns the output in g.layout. Shared by Conv and FusedDwPw.
 *
 * Inside it works channels-last with weights as (M, taps, C/group), so that every output is a sum
 * of dot products over contiguous runs. Four output channels share each input load, and two
 * neighbouring outputs of a row share each weight load whenever their runs line up (the interior).
 */
export function convolve(g: WindowGeometry, x: Float64Array, w: Float64Array, bias?: Float64Array): Float64Array {
  const p = convPlan(g);
  const { N, C, M, group } = g;
  const [OD, OH, OW] = to3d(g.outSize, 1);
  const taps = p.KD * p.KH * p.KW, Cg = p.Cg;
  const xl = g.layout === 'NHWC' ? x : toChannelsLast(x, N, C, p.ID * p.IH * p.IW);
  const wt = new Float64Array(w.length);
  for (let m = 0; m < M; m++) for (let c = 0; c < Cg; c++) for (let t = 0; t < taps; t++) wt[(m * taps + t) * Cg + c] = w[(m * Cg + c) * taps + t];
  const y = new Float64Array(N * OD * OH * OW * M);
  const a = newRuns(taps), b = newRuns(taps);
  const dx = p.SW * C; // input distance between horizontally neighbouring outputs
  const depthwise = Cg === 1 && M === C && !p.rowRuns; // runs are single taps then
  const wd = depthwise ? transposeTapsChannels(w, M, taps) : wt;
  for (let n = 0; n < N; n++) for (let od = 0; od < OD; od++) for (let oh = 0; oh < OH; oh++) {
    const rowBase = ((n * OD + od) * OH + oh) * OW;
    if (depthwise) {
      for (let ow = 0; ow < OW; ow++) {
        a.n = collectRuns(p, n, od, oh, ow, a);
        dotDepthwise(xl, wd, y, (rowBase + ow) * M, a, M);
      }
      continue;
    }
    for (let ow = 0; ow < OW;) {
      a.n = collectRuns(p, n, od, oh, ow, a);
      if (ow + 1 < OW && (b.n = collectRuns(p, n, od, oh, ow + 1, b)) && sameRuns(a, b, dx)) {
        dotPair(xl, wt, y, (rowBase + ow) * M, a, dx, group, Cg, M / group, taps * Cg, M);
        ow += 2;
      } else {
        dotOne(xl, wt, y, (rowBase + ow) * M, a, group, Cg, M / group, taps * Cg);
        ow += 1;
      }
    }
  }
  if (bias) addChannelBias(y, bias, M);
  return g.layout === 'NHWC' ? y : toChannelsFirst(y, N, M, OD * OH * OW);
}

/** A conv's geometry as plain numbers, padded to 3-D (D, H, W). */
interface ConvPlan {
  ID: number; IH: number; IW: number; KD: number; KH: number; KW: number;
  SD: number; SH: number; SW: number; DD: number; DH: number; DW: number;
  PD: number; PH: number; PW: number; C: number; Cg: number;
  /** One group and no W dilation: a whole kernel row (kw, c) is one contiguous run. */
  rowRuns: boolean;
}

function convPlan(g: WindowGeometry): ConvPlan {
  const [ID, IH, IW] = to3d(g.inSize, 1), [KD, KH, KW] = to3d(g.kernel, 1);
  const [SD, SH, SW] = to3d(g.strides, 1), [DD, DH, DW] = to3d(g.dilations, 1);
  const [PD, PH, PW] = to3d(g.padBegin, 0);
  const Cg = g.C / g.group;
  return { ID, IH, IW, KD, KH, KW, SD, SH, SW, DD, DH, DW, PD, PH, PW, C: g.C, Cg, rowRuns: g.group === 1 && DW === 1 };
}

/** The runs one output reads: input offset, weight offset (within one output channel), length. */
interface Runs { x: Int32Array; w: Int32Array; len: Int32Array; n: number }

const newRuns = (taps: number): Runs => ({ x: new Int32Array(taps), w: new Int32Array(taps), len: new Int32Array(taps), n: 0 });

/** Fills `r` with the runs of output (n, od, oh, ow) inside the input (padding adds zero); returns their count. */
function collectRuns(p: ConvPlan, n: number, od: number, oh: number, ow: number, r: Runs): number {
  let nt = 0;
  const iw0 = ow * p.SW - p.PW;
  for (let kd = 0; kd < p.KD; kd++) {
    const id = od * p.SD - p.PD + kd * p.DD;
    if (id < 0 || id >= p.ID) continue;
    for (let kh = 0; kh < p.KH; kh++) {
      const ih = oh * p.SH - p.PH + kh * p.DH;
      if (ih < 0 || ih >= p.IH) continue;
      const row = ((n * p.ID + id) * p.IH + ih) * p.IW, wrow = (kd * p.KH + kh) * p.KW;
      if (p.rowRuns) {
        const lo = Math.max(0, -iw0), hi = Math.min(p.KW, p.IW - iw0);
        if (hi <= lo) continue;
        r.x[nt] = (row + iw0 + lo) * p.C;
        r.w[nt] = (wrow + lo) * p.Cg;
        r.len[nt++] = (hi - lo) * p.C;
        continue;
      }
      for (let kw = 0; kw < p.KW; kw++) {
        const iw = iw0 + kw * p.DW;
        if (iw < 0 || iw >= p.IW) continue;
        r.x[nt] = (row + iw) * p.C;
        r.w[nt] = (wrow + kw) * p.Cg;
        r.len[nt++] = p.Cg;
      }
    }
  }
  return nt;
}

/** Whether b's runs are a's shifted by dx in the input (same taps, same lengths). */
function sameRuns(a: Runs, b: Runs, dx: number): boolean {
  if (a.n !== b.n) return false;
  for (let t = 0; t < a.n; t++) if (b.w[t] !== a.w[t] || b.len[t] !== a.len[t] || b.x[t] - a.x[t] !== dx) return false;
  return true;
}

/** All output channels of one output: y[yo + m] = Σ runs x·w, four channels per pass over the input. */
function dotOne(xl: Float64Array, wt: Float64Array, y: Float64Array, yo: number, r: Runs, group: number, Cg: number, Mg: number, KC: number): void {
  const rx = r.x, rw = r.w, rl = r.len, nt = r.n;
  for (let gi = 0; gi < group; gi++) {
    const xc = gi * Cg, mEnd = (gi + 1) * Mg;
    let m = gi * Mg;
    for (; m + 4 <= mEnd; m += 4) {
      let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
      for (let t = 0; t < nt; t++) {
        const xa = rx[t] + xc, w0 = m * KC + rw[t], w1 = w0 + KC, w2 = w1 + KC, w3 = w2 + KC, L = rl[t];
        for (let c = 0; c < L; c++) {
          const xv = xl[xa + c];
          a0 += xv * wt[w0 + c]; a1 += xv * wt[w1 + c]; a2 += xv * wt[w2 + c]; a3 += xv * wt[w3 + c];
        }
      }
      y[yo + m] = a0; y[yo + m + 1] = a1; y[yo + m + 2] = a2; y[yo + m + 3] = a3;
    }
    for (; m < mEnd; m++) {
      let acc = 0;
      for (let t = 0; t < nt; t++) {
        const xa = rx[t] + xc, wa = m * KC + rw[t], L = rl[t];
        for (let c = 0; c < L; c++) acc += xl[xa + c] * wt[wa + c];
      }
      y[yo + m] = acc;
    }
  }
}

/** Depthwise weights (C, 1, taps) as (taps, C): one tap's weights for all channels are contiguous. */
function transposeTapsChannels(w: Float64Array, C: number, taps: number): Float64Array {
  const out = new Float64Array(w.length);
  for (let c = 0; c < C; c++) for (let t = 0; t < taps; t++) out[t * C + c] = w[c * taps + t];
  return out;
}

/** Depthwise (one input channel per output channel): y[yo + c] = Σ taps x·w, vectorized over channels. */
function dotDepthwise(xl: Float64Array, wd: Float64Array, y: Float64Array, yo: number, r: Runs, C: number): void {
  const rx = r.x, rw = r.w, nt = r.n;
  for (let t = 0; t < nt; t++) {
    const xa = rx[t], wa = rw[t] * C; // with one channel per group, rw[t] is the tap index
    for (let c = 0; c < C; c++) y[yo + c] += xl[xa + c] * wd[wa + c];
  }
}

/** Like dotOne for two neighbouring outputs whose runs are `r` and `r` shifted by dx. */
function dotPair(xl: Float64Array, wt: Float64Array, y: Float64Array, yo: number, r: Runs, dx: number, group: number, Cg: number, Mg: number, KC: number, M: number): void {
  const rx = r.x, rw = r.w, rl = r.len, nt = r.n;
  for (let gi = 0; gi < group; gi++) {
    const xc = gi * Cg, mEnd = (gi + 1) * Mg;
    let m = gi * Mg;
    for (; m + 4 <= mEnd; m += 4) {
      let a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
      for (let t = 0; t < nt; t++) {
        const xa = rx[t] + xc, xb = xa + dx, w0 = m * KC + rw[t], w1 = w0 + KC, w2 = w1 + KC, w3 = w2 + KC, L = rl[t];
        for (let c = 0; c < L; c++) {
          const u = xl[xa + c], v = xl[xb + c], p0 = wt[w0 + c], p1 = wt[w1 + c], p2 = wt[w2 + c], p3 = wt[w3 + c];
          a0 += u * p0; a1 += u * p1; a2 += u * p2; a3 += u * p3;
          b0 += v * p0; b1 += v * p1; b2 += v * p2; b3 += v * p3;
        }
      }
      y[yo + m] = a0; y[yo + m + 1] = a1; y[yo + m + 2] = a2; y[yo + m + 3] = a3;
      y[yo + M + m] = b0; y[yo + M + m + 1] = b1; y[yo + M + m + 2] = b2; y[yo + M + m + 3] = b3;
    }
    for (; m < mEnd; m++) {
      let acc = 0, acc2 = 0;
      for (let t = 0; t < nt; t++) {
        const xa = rx[t] + xc, xb = xa + dx, wa = m * KC + rw[t], L = rl[t];
        for (let c = 0; c < L; c++) {
          const wv = wt[wa + c];
          acc += xl[xa + c] * wv;
          acc2 += xl[xb + c] * wv;
        }
      }
      y[yo + m] = acc;
      y[yo + M + m] = acc2;
    }
  }
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

/** The epilogue in place: y = act(y + residual), or act(y) + residual with `residual_after_act` (Conv). */
export function applyEpilogue(y: Float64Array, residual: Tensor | undefined, attrs: Attrs): void {
  const after = Number(attrs.residual_after_act ?? 0) === 1;
  if (after) applyEpilogueActivation(y, attrs);
  if (residual) {
    const r = toF64(residual);
    for (let i = 0; i < y.length; i++) y[i] += r[i];
  }
  if (!after) applyEpilogueActivation(y, attrs);
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

/** FLOPs are exactly 2·MACs (bias, residual and activation are not counted), so MACs = FLOPs/2 holds in the summary. */
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
    traits: { category: 'conv', fp16: 'compute', layoutInputs: [0, 3] },
    doc: 'N-D convolution (groups, dilations, pads/auto_pad) with fused epilogue act(conv(X · S) + B + R) (act(conv(X · S) + B) + R with residual_after_act = 1), S an optional per-(batch, channel) input scale',
    inputs: [2, 5],
    // residual_after_act: the residual is added after the activation (a skip connection around an activated conv, as in YOLO's bottlenecks)
    attrs: { ...WINDOW_ATTRS, ...EPILOGUE_ATTRS, residual_after_act: 0 },
    infer: convInfer,
    reference([x, w, b, r, s], attrs, [out]) {
      const g = windowGeometry('Conv', attrs, x!.shape, w!.shape);
      const xv = s ? scaleInput(toF64(x!), toF64(s), g.N, g.C, sizeOf(g.inSize), g.layout) : toF64(x!);
      const y = convolve(g, xv, toF64(w!), f64(b));
      applyEpilogue(y, r, attrs);
      return [fromF64(out.dtype, out.shape, y)];
    },
    cost: convCost,
    window: convWindow,
  },
  {
    name: 'ConvTranspose',
    traits: { category: 'conv', fp16: 'compute', layoutInputs: [0, 3] },
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
