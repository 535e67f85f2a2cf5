/**
 * Target-neutral pieces of the quantization kernels (codegen/cuda/quant.ts, codegen/wgsl/kernels/quant.ts):
 * how a scale/zero point maps onto x (per tensor, axis or block, as an integer index expression both
 * C and WGSL read), the integer conv's geometry, and QConv/QGemm's weights packed four to a 32-bit
 * word for the int8 dot-product instructions (`__dp4a`, `dot4I8Packed`) with the constants that undo
 * the packing's sign flip and the zero points.
 *
 * Packed dot products (signed × signed bytes): an unsigned operand is flipped to signed by x' = x − 128
 * (its byte XOR 0x80), its zero point likewise, so (x − xz)(w − wz) = (x' − xz')(w' − wz') exactly. Over
 * Kp = K rounded up to 4 lanes, with padding lanes w' = wz' (they contribute nothing):
 *   Σ(x' − xz')(w' − wz') = Σx'w' − wz'·Σx' + C[m],   C[m] = −xz'·Σw' + Kp·xz'·wz' (+ bias[m]),
 * where Σx' is one more dot product with 0x01010101; all in wrapping int32, as the reference wraps.
 */
import type { Node } from '../ir/graph.js';
import type { Graph } from '../ir/graph.js';
import { windowGeometry, type WindowGeometry } from '../ir/ops/geometry.js';
import { sizeOf } from '../ir/types.js';
import { CnncError } from '../runtime/errors.js';
import { tensor, toF64, type DType, type Tensor } from '../runtime/tensor.js';

/** Saturation ranges of the integer dtypes the quantization kernels write. */
export const INT_RANGE: Partial<Record<DType, readonly [number, number]>> = {
  u8: [0, 255], i8: [-128, 127], u16: [0, 65535], i16: [-32768, 32767], u4: [0, 15], i4: [-8, 7], u2: [0, 3], i2: [-2, 1],
};

export interface QGranularity {
  kind: 'tensor' | 'axis' | 'block';
  axis: number;
  blockSize: number;
}

/** Quantize/DequantizeLinear's parameter granularity, read off the scale's shape (as ir/ops/quant.ts does). */
export function granularityOf(node: Node, graph: Graph): QGranularity {
  const xs = graph.type(node.inputs[0]).shape, ss = graph.type(node.inputs[1]).shape;
  const blockSize = Number(node.attrs.block_size ?? 0);
  if (sizeOf(ss) === 1 && ss.length <= 1 && blockSize === 0) return { kind: 'tensor', axis: 0, blockSize: 0 };
  const a = Number(node.attrs.axis ?? 1);
  return { kind: blockSize ? 'block' : 'axis', axis: a < 0 ? a + xs.length : a, blockSize };
}

/** The scale/zero-point index of flat element `i` of x (an integer expression in C and WGSL syntax). */
export function paramIndexExpr(i: string, xShape: readonly number[], g: QGranularity): string {
  if (g.kind === 'tensor') return '0';
  const D = xShape[g.axis], inner = sizeOf(xShape.slice(g.axis + 1));
  const d = `((${i} / ${inner}) % ${D})`;
  if (g.kind === 'axis') return d;
  const nb = Math.ceil(D / g.blockSize), o = `(${i} / ${inner * D})`;
  return `((${o} * ${nb} + ${d} / ${g.blockSize}) * ${inner} + ${i} % ${inner})`;
}

/** The NCHW geometry of an integer conv (ConvInteger, QLinearConv, QConv) and its weight's flat K. */
export interface IntConv {
  g: WindowGeometry;
  /** Input channels per group, output channels per group. */
  cg: number;
  mg: number;
  /** Taps per output: cg · ∏kernel (the weight row length). */
  K: number;
}

export function intConv(node: Node, graph: Graph, wi: number): IntConv {
  const place = { node: node.name, op: node.op };
  const g = windowGeometry('Conv', { ...node.attrs, layout: 'NCHW' }, graph.type(node.inputs[0]).shape, graph.type(node.inputs[wi]).shape, place);
  const cg = g.C / g.group;
  return { g, cg, mg: g.M / g.group, K: cg * sizeOf(g.kernel) };
}

/** QConv/QGemm's constant quantization parameters (attributes), with the epilogue multipliers in f32. */
export interface QAttrs {
  xz: number;
  /** fround(x_scale · w_scale[c]) per channel (one value: per tensor). */
  mult: number[];
  /** w_zero_point per channel (empty: 0). */
  wz: number[];
  ys: number;
  yz: number;
  out: DType;
}

export function qAttrs(node: Node): QAttrs {
  const a = node.attrs;
  const ws = a.w_scale as number[];
  return {
    xz: Number(a.x_zero_point), mult: ws.map((w) => Math.fround(Number(a.x_scale) * w)), wz: (a.w_zero_point as number[] | undefined) ?? [],
    ys: Number(a.y_scale), yz: Number(a.y_zero_point), out: String(a.out_dtype) as DType,
  };
}

/** A QConv/QGemm weight, as [rows (output channels), K] signed bytes packed four to an int32. */
export interface PackedWeights {
  /** Words per row: ceil(K / 4). */
  kw: number;
  /** rows·kw words, then C[m] (rows), then wz'[m] (rows): one i32 constant. */
  data: Tensor;
  /** xz' (the activation zero point, flipped to signed when x is u8). */
  xz: number;
  /** Whether any wz' is nonzero (else the Σx' term is skipped). */
  hasWz: boolean;
  /** XOR that flips x's bytes to signed (0x80 for u8, 0 for i8). */
  xFlip: number;
}

/**
 * Packs a constant weight read as w(m, k) (rows × K) for the packed dot product: bytes flipped to
 * signed, rows padded to a multiple of 4 with wz', and the per-row constants (bias folded in).
 */
export function packWeights(rows: number, K: number, w: (m: number, k: number) => number, wDtype: DType, xDtype: DType, q: QAttrs, bias?: Tensor): PackedWeights {
  const flipW = wDtype === 'u8' ? 128 : 0, xFlip = xDtype === 'u8' ? 0x80 : 0;
  const kw = Math.ceil(K / 4), Kp = kw * 4;
  const xz = q.xz - (xDtype === 'u8' ? 128 : 0);
  const data = new Int32Array(rows * kw + 2 * rows);
  const B = bias ? toF64(bias) : undefined;
  let hasWz = false;
  for (let m = 0; m < rows; m++) {
    const wz = (q.wz.length ? q.wz[q.wz.length === 1 ? 0 : m] : 0) - flipW;
    hasWz ||= wz !== 0;
    let sw = 0;
    for (let k = 0; k < Kp; k++) {
      const v = k < K ? w(m, k) - flipW : wz;
      sw += v;
      data[m * kw + (k >> 2)] |= (v & 255) << (8 * (k & 3));
    }
    data[rows * kw + m] = (-xz * sw + Kp * xz * wz + (B ? B[m] : 0)) | 0;
    data[rows * kw + rows + m] = wz;
  }
  return { kw, data: tensor('i32', [data.length], data), xz, hasWz, xFlip };
}

/** A typed refusal naming the node (what supports() reports and the generators throw). */
export function refuse(node: Node, why: string): never {
  throw new CnncError('UNSUPPORTED', why, { node: node.name, op: node.op });
}

/**
 * Why a quantization node has no kernel on the CUDA and wgsl targets beyond op coverage, or undefined:
 * the dtypes and parameter shapes the kernels handle (the common cases of every ONNX test and exporter).
 */
export function quantReason(node: Node, graph: Graph): string | undefined {
  const t = (i: number) => (node.inputs[i] ? graph.type(node.inputs[i]) : undefined);
  const y = graph.type(node.outputs[0]);
  switch (node.op) {
    case 'QuantizeLinear': {
      if (!INT_RANGE[y.dtype]) return `QuantizeLinear to ${y.dtype} has no kernel (integer outputs only)`;
      if (!['f32', 'i32'].includes(t(0)!.dtype) || t(1)!.dtype !== 'f32') return `QuantizeLinear of ${t(0)!.dtype} by a ${t(1)!.dtype} scale has no kernel (f32 or i32 x, f32 scale)`;
      const p = String(node.attrs.precision ?? '');
      return p && p !== 'f32' ? `QuantizeLinear precision ${p} has no kernel (f32 only)` : undefined;
    }
    case 'DequantizeLinear':
      if (!INT_RANGE[t(0)!.dtype] && t(0)!.dtype !== 'i32') return `DequantizeLinear of ${t(0)!.dtype} has no kernel (integer inputs only)`;
      return y.dtype === 'f32' && t(1)!.dtype === 'f32' ? undefined : `DequantizeLinear to ${y.dtype} (scale ${t(1)!.dtype}) has no kernel (f32 only)`;
    case 'MatMulInteger': case 'QLinearMatMul': {
      const [ai, bi, azi, bzi] = node.op === 'MatMulInteger' ? [0, 1, 2, 3] : [0, 3, 2, 5];
      for (const [zi, xi] of [[azi, ai], [bzi, bi]]) {
        const z = t(zi);
        if (!z || sizeOf(z.shape) === 1) continue;
        const x = t(xi)!.shape;
        const n = xi === ai ? (x.length >= 2 ? x[x.length - 2] : 1) : (x.length >= 2 ? x[x.length - 1] : 1);
        if (z.shape.length !== 1 || z.shape[0] !== n) return `${node.op} zero point of shape [${z.shape}] has no kernel (scalar, or 1-D per ${xi === ai ? 'row' : 'column'})`;
      }
      if (node.op === 'QLinearMatMul' && [1, 4, 6].some((i) => t(i)!.dtype !== 'f32')) return 'QLinearMatMul with non-f32 scales has no kernel';
      return undefined;
    }
    default:
      return undefined;
  }
}
