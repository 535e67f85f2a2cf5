/**
 * Tensors as every part of cnnc exchanges them: a dtype, a static shape and a typed array.
 * This file lives in runtime/ (not ir/) so that an edge app bundles it without the compiler.
 */
import { CnncError } from './errors.js';

export type DType = 'f32' | 'f16' | 'i32' | 'i64' | 'u8' | 'i8' | 'bool';
export const DTYPES: readonly DType[] = ['f32', 'f16', 'i32', 'i64', 'u8', 'i8', 'bool'];

/** f16 is stored as its IEEE bits in a Uint16Array; bool as 0/1 bytes. */
export type TensorData = Float32Array | Uint16Array | Int32Array | BigInt64Array | Uint8Array | Int8Array;

export interface Tensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: TensorData;
}

export const BYTES_PER_ELEMENT: Record<DType, number> = { f32: 4, f16: 2, i32: 4, i64: 8, u8: 1, i8: 1, bool: 1 };

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function allocData(dtype: DType, n: number): TensorData {
  switch (dtype) {
    case 'f32': return new Float32Array(n);
    case 'f16': return new Uint16Array(n);
    case 'i32': return new Int32Array(n);
    case 'i64': return new BigInt64Array(n);
    case 'u8': case 'bool': return new Uint8Array(n);
    case 'i8': return new Int8Array(n);
  }
}

export function tensor(dtype: DType, shape: readonly number[], data?: TensorData | ArrayLike<number>): Tensor {
  const n = sizeOf(shape);
  if (data === undefined) return { dtype, shape: [...shape], data: allocData(dtype, n) };
  if (data.length !== n) {
    throw new CnncError('SHAPE_MISMATCH', `tensor data has ${data.length} elements, shape [${shape}] needs ${n}`);
  }
  if (isTensorDataOf(dtype, data)) return { dtype, shape: [...shape], data };
  return fromF64(dtype, shape, Float64Array.from(data as ArrayLike<number>));
}

function isTensorDataOf(dtype: DType, d: unknown): d is TensorData {
  switch (dtype) {
    case 'f32': return d instanceof Float32Array;
    case 'f16': return d instanceof Uint16Array;
    case 'i32': return d instanceof Int32Array;
    case 'i64': return d instanceof BigInt64Array;
    case 'u8': case 'bool': return d instanceof Uint8Array;
    case 'i8': return d instanceof Int8Array;
  }
}

/** The tensor's values as float64 (f16 decoded, i64 converted; exact below 2^53). */
export function toF64(t: Tensor): Float64Array {
  const out = new Float64Array(t.data.length);
  if (t.dtype === 'f16') {
    const d = t.data as Uint16Array;
    for (let i = 0; i < d.length; i++) out[i] = f16ToF32(d[i]);
  } else if (t.dtype === 'i64') {
    const d = t.data as BigInt64Array;
    for (let i = 0; i < d.length; i++) out[i] = Number(d[i]);
  } else {
    out.set(t.data as Exclude<TensorData, BigInt64Array>);
  }
  return out;
}

/** A tensor of `dtype` from float64 values: rounded to f32/f16, truncated toward zero for integers. */
export function fromF64(dtype: DType, shape: readonly number[], v: ArrayLike<number>): Tensor {
  const t = tensor(dtype, shape);
  const d = t.data;
  switch (dtype) {
    case 'f32': (d as Float32Array).set(v); break;
    case 'f16': for (let i = 0; i < v.length; i++) (d as Uint16Array)[i] = f32ToF16(v[i]); break;
    case 'i64': for (let i = 0; i < v.length; i++) (d as BigInt64Array)[i] = BigInt(Math.trunc(v[i]) || 0); break;
    case 'bool': for (let i = 0; i < v.length; i++) (d as Uint8Array)[i] = v[i] ? 1 : 0; break;
    default: for (let i = 0; i < v.length; i++) (d as Int32Array)[i] = Math.trunc(v[i]) || 0; break;
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
