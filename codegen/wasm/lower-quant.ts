/**
 * Lowerings of the quantized ops. QConv and QGemm (what passes/quantize-qdq.ts makes of QDQ
 * patterns) run the SIMD int8 kernels of kernels-quant.ts with their int8 weights stored as int8;
 * the ONNX ops whose parameters arrive at run time (QuantizeLinear, DequantizeLinear,
 * DynamicQuantizeLinear, ConvInteger, QLinearConv, MatMulInteger, QLinearMatMul) run the scalar
 * kernels of kernels-quant-scalar.ts, which compute as the reference does (ir/ops/quant.ts).
 */
import type { Graph, Node } from '../../ir/graph.js';
import { windowGeometry, type WindowGeometry } from '../../ir/ops/geometry.js';
import { sizeOf } from '../../ir/types.js';
import { u8ScratchBytes } from './kernels-quant-relaxed.js';
import { emitQConvPrep, emitQConvRun, packQConvWeights, packQDepthwiseWeights, scratchChannels, type QConvSpec, type QEpilogue } from './kernels-quant.js';
import type { Expr } from './builder.js';
import { needsConstants, two, wordsOf, type Loc, type OpLowering, type Storage } from './storage.js';
import { SCALAR_QUANT_LOWERINGS } from './lower-quant-scalar.js';

const INT8 = ['u8', 'i8'];
const ACTS = ['', 'relu', 'clip'];

/** Why QConv/QGemm's attributes have no int8 kernel here, or undefined. */
function qattrProblem(n: Node): string | undefined {
  const wz = (n.attrs.w_zero_point as number[] | undefined) ?? [];
  if (wz.some((z) => z !== 0)) return 'has no int8 kernel for nonzero weight zero points';
  const act = String(n.attrs.activation ?? '');
  if (!ACTS.includes(act)) return `has no int8 epilogue activation '${act}' (relu, clip)`;
  const ys = Number(n.attrs.y_scale);
  if (Math.fround(ys) !== ys) return `needs an f32 y_scale (got ${ys})`;
  return undefined;
}

function typedInt8(n: Node, g: Graph): string | undefined {
  const bad = [n.inputs[0], n.inputs[1]].find((v) => !INT8.includes(g.type(v).dtype));
  if (bad) return `takes u8/i8 values only ('${bad}' is ${g.type(bad).dtype})`;
  const y = g.type(n.outputs[0]).dtype;
  return INT8.includes(y) || y === 'f32' ? undefined : `writes u8, i8 or f32 only ('${n.outputs[0]}' is ${y})`;
}

/**
 * Whether every int32 sum stays within ±2^24 (so the epilogue's f32 multiply is exact and needs no
 * per-vector check): |bias[c]| + Σ|w[c][k]| · max|x − x_zero_point| per output channel.
 * `w(c)`: channel c's weights.
 */
function sumsWithin24(n: Node, g: Graph, bias: Int32Array, M: number, w: (c: number) => ArrayLike<number>): boolean {
  const xz = Number(n.attrs.x_zero_point), signed = g.type(n.inputs[0]).dtype === 'i8';
  const xMax = Math.max(Math.abs((signed ? -128 : 0) - xz), Math.abs((signed ? 127 : 255) - xz));
  for (let c = 0; c < M; c++) {
    let sum = 0;
    for (const v of Array.from(w(c))) sum += Math.abs(v);
    if (Math.abs(bias[c]) + sum * xMax > 2 ** 24) return false;
  }
  return true;
}

/** The epilogue constants of a QConv/QGemm with `M` output channels, padded to `Mp`, in the weights region. */
function epilogueOf(s: Storage, n: Node, M: number, Mp: number, w: (c: number) => ArrayLike<number>): QEpilogue {
  const bias = new Int32Array(Mp), mul = new Float64Array(Mp);
  const bv = n.inputs[2];
  if (bv) bias.set(s.g.constValue(bv)!.data as Int32Array);
  const xs = Number(n.attrs.x_scale), ws = n.attrs.w_scale as number[];
  for (let c = 0; c < M; c++) mul[c] = Math.fround(xs * ws[ws.length === 1 ? 0 : c]);
  const act = String(n.attrs.activation ?? '') as QEpilogue['act'];
  // the f64 multipliers serve only the wide path (sums beyond ±2^24): not stored when no sum gets there
  const small = sumsWithin24(n, s.g, bias, M, w);
  return {
    B: s.weightRaw(bias), Mul: small ? 0 : s.weightRaw(mul), Mul32: s.weightRaw(Float32Array.from(mul)), act, lo: Number(n.attrs.act_alpha ?? 0), hi: Number(n.attrs.act_beta ?? 0),
    ys: Number(n.attrs.y_scale), yz: Number(n.attrs.y_zero_point), outSigned: String(n.attrs.out_dtype) === 'i8', f32Out: String(n.attrs.out_dtype) === 'f32',
    small,
  };
}

const geometry = (n: Node, g: Graph): WindowGeometry =>
  windowGeometry('Conv', { ...n.attrs, layout: 'NCHW' }, g.type(n.inputs[0]).shape, g.type(n.inputs[1]).shape, { node: n.name, op: n.op });

/**
 * Register tile of the int8 conv: P pixels × V blocks of 4 output channels. 2 × 16 channels ran
 * ResNet-18's 3×3 convs ~15% faster than 4 × 8 (fewer input splats and pixel pointers per dot);
 * with few channels (a 3-channel first conv, narrow layers) and for depthwise (P pixels × 8
 * channels), 4 pixels.
 */
const denseTile = (depthwise: boolean, C: number, M: number) => (!depthwise && C >= 16 && M >= 16 ? { P: 2, V: 4 } : { P: 4, V: 2 });

const qconv: OpLowering = {
  typed: typedInt8,
  check(n, g) {
    const geo = geometry(n, g);
    if (geo.inSize.length > 2) return 'has no 3-D int8 convolution';
    if (geo.group !== 1 && !(geo.group === geo.C && geo.M === geo.C)) return 'has no grouped int8 convolution (only dense and depthwise)';
    return needsConstants(g, [n.inputs[1], n.inputs[2]]) ?? qattrProblem(n);
  },
  lower(s, n) {
    const [xv, wv] = n.inputs;
    const geo = geometry(n, s.g);
    const xl = s.loc(n, xv);
    const ls = s.logicalStrides(xv, xl);
    const oneD = geo.inSize.length === 1;
    const [H, W] = two(geo.inSize, 1), [kh, kw] = two(geo.kernel, 1), [sh, sw] = two(geo.strides, 1), [dh, dw] = two(geo.dilations, 1);
    const [ph, pw] = two(geo.padBegin, 0), [OH, OW] = two(geo.outSize, 1);
    const { N, C, M } = geo;
    const depthwise = geo.group > 1;
    const Cp = scratchChannels(C, depthwise);
    const Hp = (OH - 1) * sh + (kh - 1) * dh + 1, Wp = (OW - 1) * sw + (kw - 1) * dw + 1;
    const HpA = Math.max(Hp, ph + H), WpA = Math.max(Wp, pw + W);
    const w = s.g.constValue(wv)!;
    const Wq = s.weightRaw(depthwise ? packQDepthwiseWeights(w.data as Int8Array, C, kh, kw) : packQConvWeights(w.data as Int8Array, M, C, kh, kw));
    const wd = w.data as Int8Array, per = wd.length / M;
    const ep = epilogueOf(s, n, M, depthwise ? Cp : Math.ceil(M / 4) * 4, (c) => wd.subarray(c * per, (c + 1) * per));
    const scratch = s.dense(Math.ceil(Math.max(HpA * WpA * Cp * 2, depthwise ? 0 : u8ScratchBytes(HpA, WpA, C, M)) / 4), 'plain', 0);
    const yd = s.g.type(n.outputs[0]).dtype, yb = yd === 'f32' ? 4 : 1;
    const y = s.dense(wordsOf(sizeOf(s.shape(n.outputs[0])), yd), 'T', M);
    s.define(n.outputs[0], y);
    const xd = s.g.type(xv).dtype;
    const flops = 2 * N * OH * OW * M * (depthwise ? 1 : C) * kh * kw;
    const kernel = `${depthwise ? 'qdwconv' : 'qconv'}${kh}x${kw}${sh > 1 || sw > 1 ? `_s${sh === sw ? sh : `${sh}x${sw}`}` : ''}_i8`;
    qconvSteps(s, n, kernel, depthwise ? 'int8 depthwise' : 'int8', flops, N, (a, i) => ({
      x: {
        X: a(xl) + i * ls[0], H, W, C, sc: ls[1], sh: oneD ? 0 : ls[2], sw: ls[oneD ? 2 : 3], signed: xd === 'i8', zp: Number(n.attrs.x_zero_point),
      },
      S: a(scratch), Hp: HpA, Wp: WpA, Cp, ph, pw, Y: a(y) + i * OH * OW * M * yb, OH, OW, M, yps: M * yb,
      kh, kw, sh, sw, dh, dw, Wq, wSigned: w.dtype === 'i8', depthwise, ...denseTile(depthwise, C, M), ep,
    }), xl, y, scratch);
  },
};

/**
 * The steps of an int8 conv: one image (N = 1) widens into the scratch in one step, then convolves
 * in a second whose units the threads share (emitQConvRun); a batch runs both per image in one step
 * (the images share the scratch), on one thread.
 */
function qconvSteps(s: Storage, n: Node, kernel: string, what: string, flops: number, N: number,
  spec: (a: (l: Loc) => number, image: number) => Omit<QConvSpec, 'name'>, x: Loc, y: Loc, scratch: Loc): void {
  if (N === 1) {
    s.step(n, `${kernel}_widen`, `${what}: scratch`, 0, (m, a, fn) => emitQConvPrep(m, fn, { name: fn, ...spec(a, 0) }), [x], [scratch]);
    s.step(n, kernel, what, flops, (m, a, fn) => emitQConvRun(m, fn, { name: fn, ...spec(a, 0) }, true), [scratch], [y, scratch]);
    return;
  }
  s.step(n, kernel, what, flops, (m, a, fn) => {
    const calls: Expr[] = [];
    for (let i = 0; i < N; i++) {
      const name = `${fn}_n${i}`, q = { name, ...spec(a, i) };
      emitQConvPrep(m, `${name}_widen`, q);
      emitQConvRun(m, name, q, false);
      calls.push(m.call(`${name}_widen`, [], 0), m.call(name, [], 0));
    }
    m.addFunction(fn, 0, 0, [], m.block(null, calls));
  }, [x], [y, scratch]);
}

const qgemm: OpLowering = {
  typed: typedInt8,
  check(n, g) {
    return needsConstants(g, [n.inputs[1], n.inputs[2]]) ?? qattrProblem(n);
  },
  lower(s, n) {
    const [xv, wv] = n.inputs;
    const w = s.g.constValue(wv)!;
    const [K, N] = w.shape;
    const rows = sizeOf(s.shape(xv)) / K;
    const x: Loc = s.plain(n, xv);
    const wt = new Int8Array(N * K);
    for (let k = 0; k < K; k++) for (let j = 0; j < N; j++) wt[j * K + k] = (w.data as Int8Array)[k * N + j];
    const Wq = s.weightRaw(packQConvWeights(wt, N, K, 1, 1));
    const ep = epilogueOf(s, n, N, Math.ceil(N / 4) * 4, (j) => wt.subarray(j * K, (j + 1) * K));
    const Cp = scratchChannels(K, false);
    const scratch = s.dense(Math.ceil(Math.max(rows * Cp * 2, u8ScratchBytes(1, rows, K, N)) / 4), 'plain', 0);
    const yd = s.g.type(n.outputs[0]).dtype, yb = yd === 'f32' ? 4 : 1;
    const y = s.dense(wordsOf(rows * N, yd), 'plain', 0);
    s.define(n.outputs[0], y);
    const xd = s.g.type(xv).dtype;
    qconvSteps(s, n, 'qgemm_i8', 'int8', 2 * rows * N * K, 1, (a) => ({
      x: { X: a(x), H: 1, W: rows, C: K, sc: 1, sh: 0, sw: K, signed: xd === 'i8', zp: Number(n.attrs.x_zero_point) },
      S: a(scratch), Hp: 1, Wp: rows, Cp, ph: 0, pw: 0, Y: a(y), OH: 1, OW: rows, M: N, yps: N * yb,
      kh: 1, kw: 1, sh: 1, sw: 1, dh: 1, dw: 1, Wq, wSigned: w.dtype === 'i8', depthwise: false, ...denseTile(false, K, N), ep,
    }), x, y, scratch);
  },
};

export const QUANT_LOWERINGS: Record<string, OpLowering> = {
  QConv: qconv, QGemm: qgemm, ...SCALAR_QUANT_LOWERINGS,
};
