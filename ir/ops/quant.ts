/**
 * Linear quantization (ONNX): QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear and the
 * integer conv/matmul ops QLinearConv, QLinearMatMul, ConvInteger, MatMulInteger, plus cnnc's
 * own QConv/QGemm (what passes/quantize-qdq.ts rewrites QDQ patterns into).
 *
 * Quantization parameters (scale, zero point) have one of three granularities, given by the
 * scale's shape: a scalar (or one element) per tensor; 1-D of x.shape[axis] per axis; x's rank
 * with shape[axis] = ceil(x.shape[axis] / block_size) per block (opset 21).
 *
 * The reference kernels follow the ONNX reference (onnx/reference/ops) where it is precise, and
 * onnxruntime where it is not: x / scale is computed in the scale's precision (f32 usually) and
 * rounded half to even; integers saturate to the dtype's range; 8/4-bit floats are a Cast (with
 * `saturate`). Integer conv/matmul accumulate in float64, which is exact: a product of two
 * zero-point-shifted 8-bit values is below 2^16 in magnitude, so any sum of fewer than 2^36 of them
 * (plus an int32 bias) is an integer below 2^53, where float64 is exact whatever the order of
 * additions; the result then wraps to int32 as ONNX's int32 accumulators do.
 */
import { toF64, type DType, type Tensor } from '../../runtime/tensor.js';
import type { AttrValue, Attrs, InferInput, NodeInfo, OpDef } from '../op.js';
import { attrInt, attrString, fail, input } from '../op.js';
import { roundHalfEven } from '../scalar.js';
import { isArithFloat, sameShape, sizeOf, type TensorType } from '../types.js';
import { ACTIVATION_KINDS, EPILOGUE_ATTRS, activate } from './activation.js';
import { broadcastIndex, broadcastShapes } from './broadcast.js';
import { convolve } from './conv.js';
import { store } from './elementwise.js';
import { windowGeometry, type WindowGeometry } from './geometry.js';

// ---- dtypes ----

/** Integer quantized dtypes and their saturation ranges. */
export const QUANT_RANGE: Partial<Record<DType, readonly [number, number]>> = {
  u8: [0, 255], i8: [-128, 127], u16: [0, 65535], i16: [-32768, 32767], u4: [0, 15], i4: [-8, 7], u2: [0, 3], i2: [-2, 1],
};
/** Float quantized dtypes (a Cast after scaling; `saturate` applies to the 8-bit ones). */
const QUANT_FLOATS: readonly DType[] = ['f8e4m3fn', 'f8e4m3fnuz', 'f8e5m2', 'f8e5m2fnuz', 'f4e2m1'];
const isQuantDtype = (d: DType) => QUANT_RANGE[d] !== undefined || QUANT_FLOATS.includes(d);
const SCALE_DTYPES: readonly DType[] = ['f32', 'f16', 'bf16', 'f64'];
const INT8: readonly DType[] = ['u8', 'i8'];

/** Rounds float64 values to `dtype`'s precision in place (f64: unchanged). */
function roundTo(dtype: DType, v: Float64Array): Float64Array {
  if (dtype === 'f64') return v;
  if (dtype === 'f32') {
    for (let i = 0; i < v.length; i++) v[i] = Math.fround(v[i]);
    return v;
  }
  return toF64(store(dtype, [v.length], v));
}

/** A dtype-valued attribute ('' = unset). */
function dtypeAttr(node: NodeInfo, name: string): DType | undefined {
  const v = attrString(node.attrs, name, node);
  if (v === '') return undefined;
  if (!SCALE_DTYPES.includes(v as DType) && !isQuantDtype(v as DType) && v !== 'i32') fail(node, 'BAD_ATTRIBUTE', `attribute '${name}' is not a dtype: '${v}'`);
  return v as DType;
}

// ---- quantization parameters: shape checks and the element → parameter map ----

/** How a (scale, zero point) pair maps onto x. */
interface Granularity {
  kind: 'tensor' | 'axis' | 'block';
  axis: number;
  blockSize: number;
}

/**
 * Checks scale/zero-point shapes and dtypes against x (inputs at xi, si, zi) and constant scale
 * values (finite and > 0) and zero points (in range): the typed errors hostile models get.
 */
function checkParams(node: NodeInfo, xi: number, si: number, zi: number, qDtype: DType): Granularity {
  const x = input(node, xi), s = input(node, si), z = node.inputs[zi];
  if (!SCALE_DTYPES.includes(s.type.dtype)) fail(node, 'DTYPE_MISMATCH', `scale must be a float, got ${s.type.dtype}`, s.name);
  if (z) {
    if (z.type.dtype !== qDtype) fail(node, 'DTYPE_MISMATCH', `zero point is ${z.type.dtype}, the quantized dtype is ${qDtype}`, z.name);
    if (z.type.shape.length !== s.type.shape.length || z.type.shape.some((d, i) => d !== s.type.shape[i])) {
      fail(node, 'SHAPE_MISMATCH', `zero point shape [${z.type.shape}] differs from the scale's [${s.type.shape}]`, z.name);
    }
  }
  const g = granularity(node, x, s);
  checkScaleValues(node, s);
  if (z?.value) checkZeroPoints(node, z, qDtype);
  return g;
}

function granularity(node: NodeInfo, x: InferInput, s: InferInput): Granularity {
  const xs = x.type.shape, ss = s.type.shape, r = xs.length;
  const rawAxis = node.attrs.axis === undefined ? 1 : attrInt(node.attrs, 'axis', node);
  const blockSize = node.attrs.block_size === undefined ? 0 : attrInt(node.attrs, 'block_size', node);
  if (blockSize < 0) fail(node, 'BAD_ATTRIBUTE', `block_size must be ≥ 0, got ${blockSize}`);
  if (sizeOf(ss) === 1 && ss.length <= 1 && blockSize === 0) return { kind: 'tensor', axis: 0, blockSize: 0 };
  if (rawAxis < -r || rawAxis >= r) fail(node, 'BAD_ATTRIBUTE', `axis ${rawAxis} is out of range for rank ${r}`);
  const axis = rawAxis < 0 ? rawAxis + r : rawAxis;
  if (blockSize === 0) {
    if (ss.length !== 1 || ss[0] !== xs[axis]) {
      fail(node, 'SHAPE_MISMATCH', `per-axis scale must be 1-D of length ${xs[axis]} (x [${xs}] axis ${axis}), got [${ss}]`, s.name);
    }
    return { kind: 'axis', axis, blockSize };
  }
  const want = xs.map((d, i) => (i === axis ? Math.ceil(d / blockSize) : d));
  if (ss.length !== r || ss.some((d, i) => d !== want[i])) {
    fail(node, 'SHAPE_MISMATCH', `blocked scale must have shape [${want}] (x [${xs}], axis ${axis}, block_size ${blockSize}), got [${ss}]`, s.name);
  }
  return { kind: 'block', axis, blockSize };
}

function checkScaleValues(node: NodeInfo, s: InferInput): void {
  if (!s.value) return;
  for (const v of toF64(s.value)) {
    if (!(v > 0 && Number.isFinite(v))) fail(node, 'BAD_ATTRIBUTE', `scale ${v} must be finite and > 0`, s.name);
  }
}

function checkZeroPoints(node: NodeInfo, z: InferInput, qDtype: DType): void {
  const range = qDtype === 'i32' ? [0, 0] : QUANT_RANGE[qDtype];
  if (!range) return;
  for (const v of toF64(z.value!)) {
    if (!(v >= range[0] && v <= range[1])) fail(node, 'BAD_ATTRIBUTE', `zero point ${v} is outside [${range}] of ${qDtype}`, z.name);
  }
}

/** For each element of x, the index of its scale/zero point. */
function paramIndex(xShape: readonly number[], g: Granularity): Int32Array {
  const n = sizeOf(xShape);
  const idx = new Int32Array(n);
  if (g.kind === 'tensor') return idx;
  const D = xShape[g.axis], inner = sizeOf(xShape.slice(g.axis + 1));
  const bs = g.kind === 'block' ? g.blockSize : 1, nb = Math.ceil(D / bs);
  for (let i = 0; i < n; i++) {
    const d = Math.floor(i / inner) % D, o = Math.floor(i / (inner * D)), r = i % inner;
    idx[i] = g.kind === 'axis' ? d : (o * nb + Math.floor(d / bs)) * inner + r;
  }
  return idx;
}

/** A reference kernel's view of a node (types only), to reuse the inference checks. */
function refNode(op: string, attrs: Attrs, ins: readonly (Tensor | undefined)[]): NodeInfo {
  return { name: op, op, attrs, inputs: ins.map((t, i) => (t ? { name: `${i}`, type: t } : undefined)) };
}

/** Integer results saturated to `dtype` (NaN → 0, as store does). */
function saturate(v: Float64Array, dtype: DType): void {
  const [lo, hi] = QUANT_RANGE[dtype]!;
  for (let i = 0; i < v.length; i++) v[i] = Math.min(hi, Math.max(lo, v[i]));
}

// ---- QuantizeLinear / DequantizeLinear ----

function quantizedDtype(node: NodeInfo): DType {
  const z = node.inputs[2];
  const attr = dtypeAttr(node, 'output_dtype');
  if (attr && !isQuantDtype(attr)) fail(node, 'BAD_ATTRIBUTE', `output_dtype ${attr} is not a quantized dtype`);
  if (attr && z && z.type.dtype !== attr) fail(node, 'DTYPE_MISMATCH', `zero point is ${z.type.dtype}, output_dtype is ${attr}`, z.name);
  const q = attr ?? z?.type.dtype ?? 'u8';
  if (!isQuantDtype(q)) fail(node, 'DTYPE_MISMATCH', `cannot quantize to ${q}`, z?.name);
  return q;
}

const QuantizeLinear: OpDef = {
  name: 'QuantizeLinear',
  traits: { category: 'quantization' },
  doc: 'y = saturate(round_half_even(x / y_scale) + y_zero_point), per tensor, axis or block',
  inputs: [2, 3],
  attrs: { axis: 1, block_size: 0, saturate: 1, output_dtype: '', precision: '' },
  infer(node) {
    const x = input(node, 0);
    if (!isArithFloat(x.type.dtype) && x.type.dtype !== 'i32') fail(node, 'DTYPE_MISMATCH', `x must be a float or i32, got ${x.type.dtype}`, x.name);
    const q = quantizedDtype(node);
    checkParams(node, 0, 1, 2, q);
    dtypeAttr(node, 'precision');
    return [{ dtype: q, shape: [...x.type.shape] }];
  },
  reference([x, s, z], attrs, [out]) {
    const g = granularity(refNode('QuantizeLinear', attrs, [x, s, z]), { name: 'x', type: x! }, { name: 's', type: s! });
    const idx = paramIndex(x!.shape, g);
    const X = toF64(x!), S = toF64(s!), Z = z ? toF64(z) : new Float64Array(S.length);
    const q = new Float64Array(X.length);
    for (let i = 0; i < q.length; i++) q[i] = X[i] / S[idx[i]];
    roundTo((String(attrs.precision) || s!.dtype) as DType, q);
    if (QUANT_RANGE[out.dtype]) {
      for (let i = 0; i < q.length; i++) q[i] = roundHalfEven(q[i]) + Z[idx[i]];
      saturate(q, out.dtype);
      return [store(out.dtype, out.shape, q)];
    }
    for (let i = 0; i < q.length; i++) q[i] += Z[idx[i]];
    return [store(out.dtype, out.shape, q, { saturate: Number(attrs.saturate) !== 0 })];
  },
};

const DequantizeLinear: OpDef = {
  name: 'DequantizeLinear',
  traits: { category: 'quantization' },
  doc: 'y = (x − x_zero_point) · x_scale, per tensor, axis or block',
  inputs: [2, 3],
  attrs: { axis: 1, block_size: 0, output_dtype: '' },
  infer(node) {
    const x = input(node, 0), s = input(node, 1);
    if (!isQuantDtype(x.type.dtype) && x.type.dtype !== 'i32') fail(node, 'DTYPE_MISMATCH', `x must be a quantized dtype or i32, got ${x.type.dtype}`, x.name);
    checkParams(node, 0, 1, 2, x.type.dtype);
    const outDtype = dtypeAttr(node, 'output_dtype') ?? s.type.dtype;
    if (!SCALE_DTYPES.includes(outDtype)) fail(node, 'BAD_ATTRIBUTE', `output_dtype ${outDtype} is not a float`);
    return [{ dtype: outDtype, shape: [...x.type.shape] }];
  },
  reference([x, s, z], attrs, [out]) {
    const g = granularity(refNode('DequantizeLinear', attrs, [x, s, z]), { name: 'x', type: x! }, { name: 's', type: s! });
    const idx = paramIndex(x!.shape, g);
    const X = toF64(x!), S = toF64(s!), Z = z ? toF64(z) : new Float64Array(S.length);
    // (x − zp) is exact in float64; onnxruntime converts it to the output float, then multiplies there.
    const d = new Float64Array(X.length);
    for (let i = 0; i < d.length; i++) d[i] = X[i] - Z[idx[i]];
    roundTo(out.dtype, d);
    for (let i = 0; i < d.length; i++) d[i] *= S[idx[i]];
    return [store(out.dtype, out.shape, d)];
  },
};

/** ONNX DynamicQuantizeLinear: u8 with scale and zero point from the data's range (0 included). */
const DynamicQuantizeLinear: OpDef = {
  name: 'DynamicQuantizeLinear',
  traits: { category: 'quantization' },
  doc: 'u8 quantization with scale = (max(0,max x) − min(0,min x)) / 255 and zero point from the data',
  inputs: [1, 1],
  attrs: {},
  infer(node) {
    const x = input(node, 0);
    if (x.type.dtype !== 'f32') fail(node, 'DTYPE_MISMATCH', `x must be f32, got ${x.type.dtype}`, x.name);
    return [{ dtype: 'u8', shape: [...x.type.shape] }, { dtype: 'f32', shape: [] }, { dtype: 'u8', shape: [] }];
  },
  reference([x], _attrs, [out]) {
    const X = toF64(x!);
    let lo = 0, hi = 0;
    for (const v of X) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    // f32 arithmetic, as the ONNX function body computes it.
    const scale = Math.fround(Math.fround(hi - lo) / 255);
    const zp = scale === 0 ? 0 : Math.min(255, Math.max(0, roundHalfEven(Math.fround(0 - Math.fround(lo / scale)))));
    const q = new Float64Array(X.length);
    for (let i = 0; i < q.length; i++) q[i] = scale === 0 ? zp : Math.min(255, Math.max(0, roundHalfEven(Math.fround(X[i] / scale)) + zp));
    return [store('u8', out.shape, q), store('f32', [], Float64Array.of(scale)), store('u8', [], Float64Array.of(zp))];
  },
};

// ---- integer conv and matmul ----

/** Values minus zero points (broadcast by `idx`, or a scalar), as float64. */
function shifted(t: Tensor, z: Tensor | undefined, idx?: Int32Array): Float64Array {
  const v = toF64(t);
  if (!z) return v;
  const Z = toF64(z);
  for (let i = 0; i < v.length; i++) v[i] -= Z[idx ? idx[i] : 0];
  return v;
}

/** Wraps exact integer sums to int32, as int32 accumulators do. */
function wrapInt32(v: Float64Array): Float64Array {
  for (let i = 0; i < v.length; i++) v[i] = v[i] | 0;
  return v;
}

const CONV_ATTRS: Record<string, AttrValue> = { auto_pad: 'NOTSET', dilations: [], group: 1, kernel_shape: [], pads: [], strides: [] };

function convGeometry(node: NodeInfo, xi: number, wi: number): WindowGeometry {
  const x = input(node, xi), w = input(node, wi);
  for (const t of [x, w]) if (!INT8.includes(t.type.dtype)) fail(node, 'DTYPE_MISMATCH', `takes u8 or i8, got ${t.type.dtype}`, t.name);
  return windowGeometry('Conv', node.attrs, x.type.shape, w.type.shape, { node: node.name, op: node.op });
}

/** A per-tensor (one element) or per-output-channel ([M]) parameter of a conv weight. */
function checkPerChannel(node: NodeInfo, i: number, M: number, what: string, dtype?: DType): void {
  const t = node.inputs[i];
  if (!t) return;
  const n = sizeOf(t.type.shape);
  if (t.type.shape.length > 1 || (n !== 1 && n !== M)) fail(node, 'SHAPE_MISMATCH', `${what} must be a scalar or [${M}], got [${t.type.shape}]`, t.name);
  if (dtype && t.type.dtype !== dtype) fail(node, 'DTYPE_MISMATCH', `${what} is ${t.type.dtype}, expected ${dtype}`, t.name);
}

function checkScalar(node: NodeInfo, i: number, what: string, dtype?: DType): void {
  const t = node.inputs[i];
  if (!t) return;
  if (sizeOf(t.type.shape) !== 1 || t.type.shape.length > 1) fail(node, 'SHAPE_MISMATCH', `${what} must be a scalar, got [${t.type.shape}]`, t.name);
  if (dtype && t.type.dtype !== dtype) fail(node, 'DTYPE_MISMATCH', `${what} is ${t.type.dtype}, expected ${dtype}`, t.name);
}

/** The output channel of each weight element (M, C/g, ...k), for per-channel zero points. */
function channelIndex(w: Tensor, perChannel: boolean): Int32Array | undefined {
  if (!perChannel) return undefined;
  const inner = sizeOf(w.shape.slice(1));
  return Int32Array.from({ length: sizeOf(w.shape) }, (_, i) => Math.floor(i / inner));
}

/** (x − x_zp) ⊛ (w − w_zp) + B as exact integers (float64), in NCHW. */
function integerConv(attrs: Attrs, x: Tensor, xz: Tensor | undefined, w: Tensor, wz: Tensor | undefined, b?: Tensor): { g: WindowGeometry; acc: Float64Array } {
  const g = windowGeometry('Conv', { ...attrs, layout: 'NCHW' }, x.shape, w.shape);
  const acc = convolve(g, shifted(x, xz), shifted(w, wz, channelIndex(w, !!wz && sizeOf(wz.shape) > 1)), b ? toF64(b) : undefined);
  return { g, acc: wrapInt32(acc) };
}

/** Requantizes per-channel int32 sums: saturate(rint(acc · mult[c]) + zp), mult = fround(fround(sx·sw[c]) / sy). */
function requantize(acc: Float64Array, channelOf: (i: number) => number, mult: Float64Array, zp: number, dtype: DType): Float64Array {
  const y = new Float64Array(acc.length);
  for (let i = 0; i < y.length; i++) y[i] = roundHalfEven(acc[i] * mult[mult.length === 1 ? 0 : channelOf(i)]) + zp;
  saturate(y, dtype);
  return y;
}

/** The combined multipliers of QLinear ops, in f32 as ONNX computes x_scale·w_scale / y_scale. */
function multipliers(sx: Tensor, sw: Tensor, sy: Tensor): Float64Array {
  const a = toF64(sx)[0], y = toF64(sy)[0];
  return toF64(sw).map((w) => Math.fround(Math.fround(a * w) / y));
}

const ConvInteger: OpDef = {
  name: 'ConvInteger',
  traits: { category: 'conv' },
  doc: 'int32 conv of (x − x_zero_point) and (w − w_zero_point), u8/i8 operands',
  inputs: [2, 4],
  attrs: CONV_ATTRS,
  infer(node) {
    const g = convGeometry(node, 0, 1);
    checkScalar(node, 2, 'x_zero_point', input(node, 0).type.dtype);
    checkPerChannel(node, 3, g.M, 'w_zero_point', input(node, 1).type.dtype);
    return [{ dtype: 'i32', shape: [...g.outShape] }];
  },
  reference([x, w, xz, wz], attrs, [out]) {
    return [store('i32', out.shape, integerConv(attrs, x!, xz, w!, wz).acc)];
  },
  cost: convCost(1),
};

function convCost(wi: number): NonNullable<OpDef['cost']> {
  return (node, [out]) => {
    const w = input(node, wi).type.shape;
    return { flops: 2 * sizeOf(out.shape) * sizeOf(w.slice(1)), params: sizeOf(w) };
  };
}

const QLinearConv: OpDef = {
  name: 'QLinearConv',
  traits: { category: 'conv' },
  doc: 'quantized conv: saturate(rint((x − xz) ⊛ (w − wz) + B) · xs·ws/ys) + yz)',
  inputs: [8, 9],
  attrs: CONV_ATTRS,
  infer(node) {
    const g = convGeometry(node, 0, 3);
    const xd = input(node, 0).type.dtype, wd = input(node, 3).type.dtype;
    const yz = input(node, 7);
    if (!INT8.includes(yz.type.dtype)) fail(node, 'DTYPE_MISMATCH', `y_zero_point must be u8 or i8, got ${yz.type.dtype}`, yz.name);
    checkScalar(node, 1, 'x_scale', 'f32');
    checkScalar(node, 2, 'x_zero_point', xd);
    checkPerChannel(node, 4, g.M, 'w_scale', 'f32');
    checkPerChannel(node, 5, g.M, 'w_zero_point', wd);
    checkScalar(node, 6, 'y_scale', 'f32');
    checkScalar(node, 7, 'y_zero_point');
    const b = node.inputs[8];
    if (b && (b.type.dtype !== 'i32' || b.type.shape.length !== 1 || b.type.shape[0] !== g.M)) {
      fail(node, 'SHAPE_MISMATCH', `bias must be i32 [${g.M}], got ${b.type.dtype}[${b.type.shape}]`, b.name);
    }
    for (const i of [1, 4, 6]) checkScaleValues(node, input(node, i));
    for (const [i, d] of [[2, xd], [5, wd], [7, yz.type.dtype]] as const) { const z = node.inputs[i]; if (z?.value) checkZeroPoints(node, z, d); }
    return [{ dtype: yz.type.dtype, shape: [...g.outShape] }];
  },
  reference([x, xs, xz, w, ws, wz, ys, yz, b], attrs, [out]) {
    const { g, acc } = integerConv(attrs, x!, xz, w!, wz, b);
    const P = sizeOf(g.outSize);
    const y = requantize(acc, (i) => Math.floor(i / P) % g.M, multipliers(xs!, ws!, ys!), toF64(yz!)[0], out.dtype);
    return [store(out.dtype, out.shape, y)];
  },
  cost: convCost(3),
};

/** Zero points of MatMulInteger/QLinearMatMul as a broadcastable shape: [M] per row of A, [N] per column of B. */
function zpShape(z: TensorType, side: 'a' | 'b'): number[] {
  return side === 'a' && z.shape.length === 1 ? [z.shape[0], 1] : [...z.shape];
}

/** Shape of the numpy matmul of a and b, via MatMul's rules; typed errors name this node. */
function matmulShape(node: NodeInfo, ai: number, bi: number): number[] {
  const a = input(node, ai).type.shape, b = input(node, bi).type.shape;
  for (const [s, i] of [[a, ai], [b, bi]] as const) if (s.length === 0) fail(node, 'SHAPE_MISMATCH', 'operand must have rank ≥ 1', input(node, i).name);
  const pa = a.length === 1 ? [1, a[0]] : [...a], pb = b.length === 1 ? [b[0], 1] : [...b];
  if (pa[pa.length - 1] !== pb[pb.length - 2]) fail(node, 'SHAPE_MISMATCH', `inner dimensions differ: [${a}] × [${b}]`, input(node, bi).name);
  const batch = broadcastShapes(pa.slice(0, -2), pb.slice(0, -2));
  if (!batch) fail(node, 'SHAPE_MISMATCH', `batch dimensions of [${a}] and [${b}] do not broadcast`, input(node, bi).name);
  return [...batch, ...(a.length === 1 ? [] : [pa[pa.length - 2]]), ...(b.length === 1 ? [] : [pb[pb.length - 1]])];
}

function checkMatmulZp(node: NodeInfo, zi: number, xi: number, side: 'a' | 'b'): void {
  const z = node.inputs[zi];
  if (!z) return;
  const x = input(node, xi);
  if (z.type.dtype !== x.type.dtype) fail(node, 'DTYPE_MISMATCH', `zero point is ${z.type.dtype}, its operand is ${x.type.dtype}`, z.name);
  const b = broadcastShapes(zpShape(z.type, side), x.type.shape);
  if (!b || !sameShape(b, x.type.shape)) {
    fail(node, 'SHAPE_MISMATCH', `zero point [${z.type.shape}] does not fit operand [${x.type.shape}] (scalar, per ${side === 'a' ? 'row' : 'column'}, or broadcastable)`, z.name);
  }
  if (z.value) checkZeroPoints(node, z, z.type.dtype);
}

/** (a − az) @ (b − bz) as exact integers (float64), wrapped to int32. */
function integerMatmul(a: Tensor, az: Tensor | undefined, b: Tensor, bz: Tensor | undefined, shape: number[]): Float64Array {
  const A = shifted(a, az, az && broadcastIndex(zpShape(az, 'a'), a.shape));
  const B = shifted(b, bz, bz && broadcastIndex(zpShape(bz, 'b'), b.shape));
  const pa = a.shape.length === 1 ? [1, a.shape[0]] : [...a.shape], pb = b.shape.length === 1 ? [b.shape[0], 1] : [...b.shape];
  const m = pa[pa.length - 2], k = pa[pa.length - 1], n = pb[pb.length - 1];
  const batch = broadcastShapes(pa.slice(0, -2), pb.slice(0, -2))!;
  const offA = broadcastIndex(pa.slice(0, -2), batch), offB = broadcastIndex(pb.slice(0, -2), batch);
  const y = new Float64Array(sizeOf(shape));
  for (let q = 0; q < sizeOf(batch); q++) {
    const oa = offA[q] * m * k, ob = offB[q] * k * n, oy = q * m * n;
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += A[oa + i * k + p] * B[ob + p * n + j];
      y[oy + i * n + j] = s;
    }
  }
  return wrapInt32(y);
}

function matmulCost(ai: number, bi: number): NonNullable<OpDef['cost']> {
  return (node, [out]) => {
    const a = input(node, ai).type.shape;
    return { flops: 2 * sizeOf(out.shape) * a[a.length - 1] };
  };
}

const MatMulInteger: OpDef = {
  name: 'MatMulInteger',
  traits: { category: 'matmul' },
  doc: 'int32 numpy matmul of (A − a_zero_point) and (B − b_zero_point), u8/i8 operands',
  inputs: [2, 4],
  attrs: {},
  infer(node) {
    for (const i of [0, 1]) { const t = input(node, i); if (!INT8.includes(t.type.dtype)) fail(node, 'DTYPE_MISMATCH', `takes u8 or i8, got ${t.type.dtype}`, t.name); }
    const shape = matmulShape(node, 0, 1);
    checkMatmulZp(node, 2, 0, 'a');
    checkMatmulZp(node, 3, 1, 'b');
    return [{ dtype: 'i32', shape }];
  },
  reference([a, b, az, bz], _attrs, [out]) {
    return [store('i32', out.shape, integerMatmul(a!, az, b!, bz, [...out.shape]))];
  },
  cost: matmulCost(0, 1),
};

const QLinearMatMul: OpDef = {
  name: 'QLinearMatMul',
  traits: { category: 'matmul' },
  doc: 'quantized matmul: saturate(rint((a − az) @ (b − bz) · as·bs/ys) + yz)',
  inputs: [8, 8],
  attrs: {},
  infer(node) {
    for (const i of [0, 3]) { const t = input(node, i); if (!INT8.includes(t.type.dtype)) fail(node, 'DTYPE_MISMATCH', `takes u8 or i8, got ${t.type.dtype}`, t.name); }
    const shape = matmulShape(node, 0, 3);
    checkMatmulZp(node, 2, 0, 'a');
    checkMatmulZp(node, 5, 3, 'b');
    const a = input(node, 0).type.shape, b = input(node, 3).type.shape;
    const rows = a.length >= 2 ? a[a.length - 2] : 1, cols = b.length >= 2 ? b[b.length - 1] : 1;
    for (const [i, what, n] of [[1, 'a_scale (per row)', rows], [4, 'b_scale (per column)', cols], [6, 'y_scale', 1]] as const) {
      const s = input(node, i);
      if (!SCALE_DTYPES.includes(s.type.dtype)) fail(node, 'DTYPE_MISMATCH', `scale must be a float, got ${s.type.dtype}`, s.name);
      checkPerChannel(node, i, n, what);
      checkScaleValues(node, s);
    }
    const yz = input(node, 7);
    checkScalar(node, 7, 'y_zero_point');
    if (!INT8.includes(yz.type.dtype)) fail(node, 'DTYPE_MISMATCH', `y_zero_point must be u8 or i8, got ${yz.type.dtype}`, yz.name);
    if (yz.value) checkZeroPoints(node, yz, yz.type.dtype);
    return [{ dtype: yz.type.dtype, shape }];
  },
  reference([a, as, az, b, bs, bz, ys, yz], _attrs, [out]) {
    const acc = integerMatmul(a!, az, b!, bz, [...out.shape]);
    // Per-row a_scale and per-column b_scale: one multiplier per (row, column), f32 as in QLinearConv.
    const A = toF64(as!), B = toF64(bs!), Y = toF64(ys!)[0];
    const n = b!.shape.length >= 2 ? b!.shape[b!.shape.length - 1] : 1, m = A.length;
    const mult = new Float64Array(m * B.length);
    for (let i = 0; i < m; i++) for (let j = 0; j < B.length; j++) mult[i * B.length + j] = Math.fround(Math.fround(A[i] * B[j]) / Y);
    const at = (e: number) => (m === 1 ? 0 : Math.floor(e / n) % m) * B.length + (B.length === 1 ? 0 : e % n);
    return [store(out.dtype, out.shape, requantize(acc, at, mult, toF64(yz!)[0], out.dtype))];
  },
  cost: matmulCost(0, 3),
};

// ---- QConv / QGemm: what QDQ patterns become (passes/quantize-qdq.ts) ----

/** Quantization parameters of QConv/QGemm, as attributes (the QDQ pass needs them constant). */
const QPARAM_ATTRS = {
  x_scale: null, x_zero_point: 0, w_scale: null, w_zero_point: [] as number[], y_scale: null, y_zero_point: 0, out_dtype: 'i8',
} as const;

/** Checks QConv/QGemm quantization attributes; `channels`: output channels of per-channel w params. */
function checkQAttrs(node: NodeInfo, xDtype: DType, wDtype: DType, channels: number): DType {
  const a = node.attrs;
  const out = attrString(a, 'out_dtype', node) as DType;
  if (!INT8.includes(out) && out !== 'f32') fail(node, 'BAD_ATTRIBUTE', `out_dtype must be u8, i8 or f32, got '${out}'`);
  const ws = a.w_scale, wz = a.w_zero_point;
  if (!Array.isArray(ws) || (ws.length !== 1 && ws.length !== channels)) fail(node, 'SHAPE_MISMATCH', `w_scale must have 1 or ${channels} values, got ${JSON.stringify(ws)}`);
  if (!Array.isArray(wz) || (wz.length !== 0 && wz.length !== ws.length)) fail(node, 'SHAPE_MISMATCH', `w_zero_point must have 0 or ${ws.length} values, got ${JSON.stringify(wz)}`);
  for (const s of [a.x_scale, a.y_scale, ...ws]) if (!(typeof s === 'number' && s > 0 && Number.isFinite(s))) fail(node, 'BAD_ATTRIBUTE', `scale ${String(s)} must be finite and > 0`);
  const yzCheck = out === 'f32' ? [] : [[a.y_zero_point, out] as const];
  for (const [z, d] of [[a.x_zero_point, xDtype], ...yzCheck, ...(wz as number[]).map((v) => [v, wDtype] as const)] as const) {
    const [lo, hi] = QUANT_RANGE[d]!;
    if (!(typeof z === 'number' && Number.isInteger(z) && z >= lo && z <= hi)) fail(node, 'BAD_ATTRIBUTE', `zero point ${String(z)} is outside [${lo},${hi}] of ${d}`);
  }
  const act = String(a.activation ?? '');
  if (!ACTIVATION_KINDS.includes(act)) fail(node, 'BAD_ATTRIBUTE', `unknown activation '${act}'`);
  return out;
}

function checkInt8(node: NodeInfo, i: number): DType {
  const t = input(node, i);
  if (!INT8.includes(t.type.dtype)) fail(node, 'DTYPE_MISMATCH', `takes u8 or i8, got ${t.type.dtype}`, t.name);
  return t.type.dtype;
}

function checkBias(node: NodeInfo, i: number, channels: number): void {
  const b = node.inputs[i];
  if (b && (b.type.dtype !== 'i32' || b.type.shape.length !== 1 || b.type.shape[0] !== channels)) {
    fail(node, 'SHAPE_MISMATCH', `bias must be i32 [${channels}] (in units of x_scale·w_scale), got ${b.type.dtype}[${b.type.shape}]`, b.name);
  }
}

/**
 * The requantizing epilogue of QConv/QGemm, as the float graph it replaces computes it:
 * real = fround(acc · fround(xs·ws[c])), y = fround(act(real)), q = saturate(rint(fround(y / ys)) + yz).
 * out_dtype f32 (the output is not requantized): y itself (y_scale and y_zero_point unused).
 */
function qEpilogue(acc: Float64Array, channelOf: (i: number) => number, attrs: Attrs, out: DType): Float64Array {
  const xs = Number(attrs.x_scale), ys = Number(attrs.y_scale), yz = Number(attrs.y_zero_point);
  const ws = attrs.w_scale as number[];
  const mult = ws.map((w) => Math.fround(xs * w));
  const kind = String(attrs.activation), alpha = Number(attrs.act_alpha), beta = Number(attrs.act_beta);
  const y = new Float64Array(acc.length);
  for (let i = 0; i < y.length; i++) {
    let v = Math.fround(acc[i] * mult[ws.length === 1 ? 0 : channelOf(i)]);
    if (kind) v = Math.fround(activate(kind, v, alpha, beta));
    y[i] = out === 'f32' ? v : roundHalfEven(Math.fround(v / ys)) + yz;
  }
  if (out !== 'f32') saturate(y, out);
  return y;
}

const scalarTensor = (dtype: DType, v: number): Tensor => store(dtype, [], Float64Array.of(v));
const vectorTensor = (dtype: DType, v: readonly number[]): Tensor => store(dtype, [v.length], Float64Array.from(v));

const QConv: OpDef = {
  name: 'QConv',
  traits: { category: 'conv' },
  doc: 'int8 conv, int32 accumulation, requantizing epilogue act((x−xz)⊛(w−wz)+B)·xs·ws → /ys + yz (out_dtype f32: no requantization)',
  inputs: [2, 3],
  attrs: { ...CONV_ATTRS, ...QPARAM_ATTRS, ...EPILOGUE_ATTRS },
  infer(node) {
    const g = convGeometry(node, 0, 1);
    const out = checkQAttrs(node, checkInt8(node, 0), checkInt8(node, 1), g.M);
    checkBias(node, 2, g.M);
    return [{ dtype: out, shape: [...g.outShape] }];
  },
  reference([x, w, b], attrs, [out]) {
    const wz = attrs.w_zero_point as number[];
    const { g, acc } = integerConv(attrs, x!, scalarTensor('f64', Number(attrs.x_zero_point)), w!, wz.length ? vectorTensor('f64', wz) : undefined, b);
    const P = sizeOf(g.outSize);
    return [store(out.dtype, out.shape, qEpilogue(acc, (i) => Math.floor(i / P) % g.M, attrs, out.dtype))];
  },
  cost: convCost(1),
};

/** QGemm: y[..., n] from x[..., k] and a constant-shaped w [K, N] (per-channel parameters along N). */
const QGemm: OpDef = {
  name: 'QGemm',
  traits: { category: 'matmul' },
  doc: 'int8 x[...,K] @ w[K,N], int32 accumulation, requantizing epilogue (bias, activation, output scale; out_dtype f32: none)',
  inputs: [2, 3],
  attrs: { ...QPARAM_ATTRS, ...EPILOGUE_ATTRS },
  infer(node) {
    const x = input(node, 0), w = input(node, 1);
    const xd = checkInt8(node, 0), wd = checkInt8(node, 1);
    if (w.type.shape.length !== 2) fail(node, 'SHAPE_MISMATCH', `weight must be 2-D [K, N], got [${w.type.shape}]`, w.name);
    const [k, n] = w.type.shape;
    if (x.type.shape.length < 1 || x.type.shape[x.type.shape.length - 1] !== k) fail(node, 'SHAPE_MISMATCH', `x [${x.type.shape}] does not end in K=${k}`, x.name);
    const out = checkQAttrs(node, xd, wd, n);
    checkBias(node, 2, n);
    return [{ dtype: out, shape: [...x.type.shape.slice(0, -1), n] }];
  },
  reference([x, w, b], attrs, [out]) {
    const wz = attrs.w_zero_point as number[];
    const [k, n] = w!.shape;
    const x2 = { ...x!, shape: [sizeOf(x!.shape) / k, k] };
    const acc = integerMatmul(x2, scalarTensor('f64', Number(attrs.x_zero_point)), w!, wz.length ? vectorTensor('f64', wz) : undefined, [x2.shape[0], n]);
    if (b) { const B = toF64(b); for (let i = 0; i < acc.length; i++) acc[i] = (acc[i] + B[i % n]) | 0; }
    return [store(out.dtype, out.shape, qEpilogue(acc, (i) => i % n, attrs, out.dtype))];
  },
  cost: matmulCost(0, 1),
};

export const QUANT_OPS: OpDef[] = [QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, ConvInteger, QLinearConv, MatMulInteger, QLinearMatMul, QConv, QGemm];
