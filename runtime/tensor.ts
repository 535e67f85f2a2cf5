/**
 * Tensors as every part of cnnc exchanges them: a dtype, a static shape and a typed array.
 * This file lives in runtime/ (not ir/) so that an edge app bundles it without the compiler.
 */
import { CnncError } from './errors.js';

/**
 * Element types (ONNX names in brackets). The code generators take f32/f16 (and the integer
 * types of shape arithmetic); the others exist so that the reference path covers ONNX exactly.
 * - f32 f16 f64 bf16 [FLOAT FLOAT16 DOUBLE BFLOAT16]
 * - i8 i16 i32 i64 u8 u16 u32 u64 bool [INT8 ... UINT64 BOOL]
 * - f8e4m3fn f8e4m3fnuz f8e5m2 f8e5m2fnuz f8e8m0 [FLOAT8E4M3FN ... FLOAT8E8M0]: 8-bit floats
 * - f4e2m1 i4 u4 i2 u2 [FLOAT4E2M1 INT4 UINT4 INT2 UINT2]: sub-byte types, one element per
 *   byte in memory (packed only in ONNX files)
 */
export type DType = 'f32' | 'f16' | 'i32' | 'i64' | 'u8' | 'i8' | 'bool'
  | 'f64' | 'bf16' | 'i16' | 'u16' | 'u32' | 'u64'
  | 'f8e4m3fn' | 'f8e4m3fnuz' | 'f8e5m2' | 'f8e5m2fnuz' | 'f8e8m0' | 'f4e2m1' | 'i4' | 'u4' | 'i2' | 'u2';
export const DTYPES: readonly DType[] = ['f32', 'f16', 'i32', 'i64', 'u8', 'i8', 'bool',
  'f64', 'bf16', 'i16', 'u16', 'u32', 'u64',
  'f8e4m3fn', 'f8e4m3fnuz', 'f8e5m2', 'f8e5m2fnuz', 'f8e8m0', 'f4e2m1', 'i4', 'u4', 'i2', 'u2'];

/**
 * f16 and bf16 are stored as their bits in a Uint16Array, the 8- and 4-bit floats as their bits
 * in a Uint8Array (one element per byte); i4/i2 in an Int8Array, u4/u2 in a Uint8Array; bool as 0/1 bytes.
 */
export type TensorData = Float32Array | Float64Array | Uint16Array | Int16Array | Int32Array | Uint32Array
  | BigInt64Array | BigUint64Array | Uint8Array | Int8Array;

export interface Tensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: TensorData;
}

/** Bytes per element in memory (1 for the sub-byte types, which are unpacked in memory). */
export const BYTES_PER_ELEMENT: Record<DType, number> = {
  f32: 4, f16: 2, i32: 4, i64: 8, u8: 1, i8: 1, bool: 1, f64: 8, bf16: 2, i16: 2, u16: 2, u32: 4, u64: 8,
  f8e4m3fn: 1, f8e4m3fnuz: 1, f8e5m2: 1, f8e5m2fnuz: 1, f8e8m0: 1, f4e2m1: 1, i4: 1, u4: 1, i2: 1, u2: 1,
};

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function allocData(dtype: DType, n: number): TensorData {
  return new (ARRAY_OF[dtype])(n);
}

type ArrayCtor = new (n: number) => TensorData;
const ARRAY_OF: Record<DType, ArrayCtor> = {
  f32: Float32Array, f64: Float64Array, f16: Uint16Array, bf16: Uint16Array, i16: Int16Array, u16: Uint16Array,
  i32: Int32Array, u32: Uint32Array, i64: BigInt64Array, u64: BigUint64Array, u8: Uint8Array, bool: Uint8Array,
  i8: Int8Array, i4: Int8Array, i2: Int8Array, u4: Uint8Array, u2: Uint8Array,
  f8e4m3fn: Uint8Array, f8e4m3fnuz: Uint8Array, f8e5m2: Uint8Array, f8e5m2fnuz: Uint8Array, f8e8m0: Uint8Array, f4e2m1: Uint8Array,
};

export function tensor(dtype: DType, shape: readonly number[], data?: TensorData | ArrayLike<number>): Tensor {
  const n = sizeOf(shape);
  if (data === undefined) return { dtype, shape: [...shape], data: allocData(dtype, n) };
  if (data.length !== n) {
    throw new CnncError('SHAPE_MISMATCH', `tensor data has ${data.length} elements, shape [${shape}] needs ${n}`);
  }
  if (isTensorDataOf(dtype, data)) return { dtype, shape: [...shape], data };
  return fromF64(dtype, shape, Float64Array.from(data as ArrayLike<number>));
}

/** The typed-array class holding a dtype's elements (its name, e.g. 'Float32Array' for f32). */
export function arrayTypeOf(dtype: DType): string {
  return ARRAY_OF[dtype].name;
}

function isTensorDataOf(dtype: DType, d: unknown): d is TensorData {
  return d instanceof ARRAY_OF[dtype];
}

/** The tensor's values as float64 (small floats decoded, 64-bit integers converted: exact below 2^53). */
export function toF64(t: Tensor): Float64Array {
  const out = new Float64Array(t.data.length);
  const fmt = MINIFLOATS[t.dtype];
  if (t.dtype === 'f16') {
    const d = t.data as Uint16Array;
    for (let i = 0; i < d.length; i++) out[i] = f16ToF32(d[i]);
  } else if (t.dtype === 'bf16') {
    // bf16 bits are the top half of the f32 bits.
    const d = t.data as Uint16Array, u = new Uint32Array(d.length);
    for (let i = 0; i < d.length; i++) u[i] = d[i] << 16;
    out.set(new Float32Array(u.buffer));
  } else if (fmt) {
    const d = t.data as Uint8Array, table = decodeTable(fmt);
    for (let i = 0; i < d.length; i++) out[i] = table[d[i]];
  } else if (t.dtype === 'f8e8m0') {
    const d = t.data as Uint8Array;
    for (let i = 0; i < d.length; i++) out[i] = d[i] === 0xff ? NaN : 2 ** (d[i] - 127);
  } else if (t.data instanceof BigInt64Array || t.data instanceof BigUint64Array) {
    const d = t.data;
    for (let i = 0; i < d.length; i++) out[i] = Number(d[i]);
  } else {
    out.set(t.data);
  }
  return out;
}

/** Options of float64 → dtype conversions (ONNX Cast attributes). */
export interface ConvertOptions {
  /** 8-bit floats: out-of-range values (and ±inf) become ±max instead of inf/NaN (ONNX default 1). */
  saturate?: boolean;
  /** f8e8m0: how values between two powers of two round (ONNX default 'up'). */
  roundMode?: 'up' | 'down' | 'nearest';
}

/**
 * A tensor of `dtype` from float64 values: floats round to nearest even (8-bit floats saturate
 * unless `saturate: false`, see encodeFloat); integers truncate toward zero and wrap modulo
 * 2^bits (as C casts and ONNX's 4/2-bit Cast); bool is value != 0.
 */
export function fromF64(dtype: DType, shape: readonly number[], v: ArrayLike<number>, opts: ConvertOptions = {}): Tensor {
  const t = tensor(dtype, shape);
  const d = t.data;
  const fmt = MINIFLOATS[dtype];
  const int = (x: number) => Math.trunc(x) || 0;
  if (dtype === 'f16') {
    // f32ToF16 is exact for values that are f32 already (most); the others would round twice through f32.
    for (let i = 0; i < v.length; i++) (d as Uint16Array)[i] = Math.fround(v[i]) === v[i] ? f32ToF16(v[i]) : encodeFloat(fmt!, v[i]);
    return t;
  }
  if (fmt) {
    const sat = opts.saturate ?? true;
    for (let i = 0; i < v.length; i++) (d as Uint8Array)[i] = encodeFloat(fmt, v[i], sat);
    return t;
  }
  switch (dtype) {
    case 'f32': case 'f64': (d as Float32Array).set(v); break;
    case 'f8e8m0': for (let i = 0; i < v.length; i++) (d as Uint8Array)[i] = encodeE8M0(v[i], opts.saturate ?? true, opts.roundMode ?? 'up'); break;
    case 'i64': for (let i = 0; i < v.length; i++) (d as BigInt64Array)[i] = BigInt(Number.isFinite(v[i]) ? int(v[i]) : 0); break;
    case 'u64': for (let i = 0; i < v.length; i++) (d as BigUint64Array)[i] = BigInt.asUintN(64, BigInt(Number.isFinite(v[i]) ? int(v[i]) : 0)); break;
    case 'bool': for (let i = 0; i < v.length; i++) (d as Uint8Array)[i] = v[i] ? 1 : 0; break;
    case 'i4': case 'u4': case 'i2': case 'u2': {
      const bits = dtype[1] === '4' ? 4 : 2, m = 2 ** bits, signed = dtype[0] === 'i';
      for (let i = 0; i < v.length; i++) {
        const w = ((int(v[i]) % m) + m) % m;
        (d as Int8Array)[i] = signed && w >= m / 2 ? w - m : w;
      }
      break;
    }
    // The typed array stores ToInt32/ToUint16/... of the truncated value: wraps modulo 2^bits.
    default: for (let i = 0; i < v.length; i++) (d as Int32Array)[i] = int(v[i]); break;
  }
  return t;
}

/** Plain numbers from a small integer/float tensor (shape vectors, axes, scales). */
export function toNumbers(t: Tensor): number[] {
  return Array.from(toF64(t));
}

// ---- IEEE half precision, round-to-nearest-even ----
const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);

export function f32ToF16(v: number): number {
  f32buf[0] = v;
  const x = u32buf[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf / nan
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow to inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow to zero
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let r = mant >> shift;
    const rest = mant & ((1 << shift) - 1);
    if (rest > half || (rest === half && (r & 1))) r++;
    return sign | r;
  }
  let r = (e << 10) | (mant >> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (r & 1))) r++;
  return sign | r;
}

export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Rounds a number to the nearest f16 value (as a JS number). */
export function roundF16(v: number): number {
  return f16ToF32(f32ToF16(v));
}

// ---- Small binary floats (f16, bf16, the 8-bit and 4-bit floats): bits <-> float64 ----

/**
 * A binary float format of `exp` exponent and `mant` mantissa bits (plus a sign bit). `kind`
 * says what the top codes mean: 'ieee': all-ones exponent is inf/NaN (f16, bf16, e5m2);
 * 'fn': only all-ones exponent and mantissa is NaN, no inf (e4m3fn); 'fnuz': no inf, no −0,
 * the −0 code is the NaN (e4m3fnuz, e5m2fnuz); 'finite': no inf, no NaN (f4e2m1).
 * `saturating`: ONNX Cast's `saturate` applies (the 8-bit floats). `nan`: the code NaN becomes.
 */
export interface FloatFormat {
  readonly exp: number;
  readonly mant: number;
  readonly bias: number;
  readonly kind: 'ieee' | 'fn' | 'fnuz' | 'finite';
  readonly saturating: boolean;
  readonly nan: number;
}

export const MINIFLOATS: Partial<Record<DType, FloatFormat>> = {
  f16: { exp: 5, mant: 10, bias: 15, kind: 'ieee', saturating: false, nan: 0x7e00 },
  bf16: { exp: 8, mant: 7, bias: 127, kind: 'ieee', saturating: false, nan: 0x7fc0 },
  f8e4m3fn: { exp: 4, mant: 3, bias: 7, kind: 'fn', saturating: true, nan: 0x7f },
  f8e4m3fnuz: { exp: 4, mant: 3, bias: 8, kind: 'fnuz', saturating: true, nan: 0x80 },
  f8e5m2: { exp: 5, mant: 2, bias: 15, kind: 'ieee', saturating: true, nan: 0x7e },
  f8e5m2fnuz: { exp: 5, mant: 2, bias: 16, kind: 'fnuz', saturating: true, nan: 0x80 },
  // f4e2m1 has no NaN: NaN becomes the −0 code, as the ONNX reference (ml_dtypes) does.
  f4e2m1: { exp: 2, mant: 1, bias: 1, kind: 'finite', saturating: false, nan: 0x8 },
};

/** The largest finite value of a format (448 for e4m3fn, 57344 for e5m2, 6 for f4e2m1...). */
export function maxFinite(f: FloatFormat): number {
  const top = 2 ** f.exp - 1;
  const [e, m] = f.kind === 'ieee' ? [top - 1, 2 ** f.mant - 1] : f.kind === 'fn' ? [top, 2 ** f.mant - 2] : [top, 2 ** f.mant - 1];
  return (1 + m / 2 ** f.mant) * 2 ** (e - f.bias);
}

export function decodeFloat(f: FloatFormat, bits: number): number {
  const signBit = 1 << (f.exp + f.mant);
  const e = (bits >> f.mant) & (2 ** f.exp - 1);
  const m = bits & (2 ** f.mant - 1);
  const sign = bits & signBit ? -1 : 1;
  if (f.kind === 'ieee' && e === 2 ** f.exp - 1) return m ? NaN : sign * Infinity;
  if (f.kind === 'fn' && e === 2 ** f.exp - 1 && m === 2 ** f.mant - 1) return NaN;
  if (f.kind === 'fnuz' && bits === signBit) return NaN;
  if (e === 0) return sign * m * 2 ** (1 - f.bias - f.mant);
  return sign * (1 + m / 2 ** f.mant) * 2 ** (e - f.bias);
}

const tables = new Map<FloatFormat, Float64Array>();
/** Every value of an 8- or 4-bit format, by code. */
function decodeTable(f: FloatFormat): Float64Array {
  let t = tables.get(f);
  if (!t) {
    t = Float64Array.from({ length: 2 ** (1 + f.exp + f.mant) }, (_, b) => decodeFloat(f, b));
    tables.set(f, t);
  }
  return t;
}

/** floor(log2 a) for a finite a > 0, exact (Math.log2 may be off by one near powers of two). */
function floorLog2(a: number): number {
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  return e;
}

/** Round half to even of x >= 0. */
function rne(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * The bits of v rounded to nearest even in format f. Beyond the largest finite value (after
 * rounding) and for ±inf: ±max where `saturate` applies (8-bit floats with saturate) or the
 * format has no inf (f4e2m1); else ±inf where the format has one (f16, bf16, e5m2); else NaN
 * (e4m3fn, the fnuz types). The ONNX Cast table, saturate column and no-saturate column.
 */
export function encodeFloat(f: FloatFormat, v: number, saturate = true): number {
  if (Number.isNaN(v)) return f.nan;
  const signBit = 1 << (f.exp + f.mant);
  const neg = v < 0 || Object.is(v, -0);
  const sign = neg ? signBit : 0;
  const a = Math.abs(v);
  const max = maxFinite(f);
  const emin = 1 - f.bias;
  let r = Infinity;
  if (a !== Infinity) {
    const q = 2 ** (Math.max(floorLog2(a || 1), emin) - f.mant);
    r = rne(a / q) * q;
  }
  if (r > max) {
    if ((f.saturating && saturate) || f.kind === 'finite') return sign | encodeFloat(f, max);
    if (f.kind === 'ieee') return sign | ((2 ** f.exp - 1) << f.mant);
    return f.kind === 'fn' ? sign | f.nan : f.nan;
  }
  if (r === 0) return f.kind === 'fnuz' ? 0 : sign;
  if (r < 2 ** emin) return sign | (r / 2 ** (emin - f.mant)); // subnormal
  const e = floorLog2(r);
  return sign | ((e + f.bias) << f.mant) | (r / 2 ** (e - f.mant) - 2 ** f.mant);
}

/**
 * f8e8m0 (a power of two 2^(e−127), e = 0..254; 0xff is NaN): positive values round to a power
 * of two by `mode` (ONNX Cast round_mode; 'nearest' rounds halfway up); values below 2^−127
 * (zero included) become 2^−127; above 2^127 (and +inf) 2^127 with saturate, else NaN.
 * Negative values have no code: NaN (cnnc's choice; the conformance tests cover none).
 */
export function encodeE8M0(v: number, saturate = true, mode: 'up' | 'down' | 'nearest' = 'up'): number {
  if (Number.isNaN(v) || v < 0) return 0xff;
  if (v === Infinity) return saturate ? 0xfe : 0xff;
  if (v === 0) return 0;
  let e = floorLog2(v);
  const exact = 2 ** e === v;
  if (!exact && (mode === 'up' || (mode === 'nearest' && v >= 1.5 * 2 ** e))) e++;
  if (e < -127) e = -127;
  if (e > 127) return saturate ? 0xfe : 0xff;
  return e + 127;
}
