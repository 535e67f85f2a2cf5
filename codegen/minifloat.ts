/**
 * Cast to and from the float types the targets keep only as bits (bf16, the 8-bit floats, f4e2m1).
 * The conversion rule is the reference's (runtime/tensor.ts encodeFloat, through the Cast op):
 * round to nearest even, `saturate`, and each format's NaN / ±Inf / ±0 codes. A target renders one
 * integer algorithm over the bits u of an f32 (`encodeBits` below is that algorithm in TypeScript,
 * the model the targets' renderings follow), with every constant of it taken from the reference's
 * own results, so no target restates a format's rules:
 *
 *   a = u & 0x7fffffff, s = u >> 31
 *   a > 0x7f800000 (NaN)            → nan
 *   a ≥ over (rounds past the max)  → s ? overNeg : overPos   (±max with saturate, else ±Inf or NaN)
 *   ef = a >> 23
 *   ef ≥ normal: x = a − ((normal − 1) << 23), k = 23 − mant     (rebias the exponent field)
 *   else:        x = (a & 0x7fffff) | (ef > 0 ? 0x800000 : 0),    (a subnormal of the format)
 *                k = min(subShift − max(ef, 1), 25)
 *   c = (x + (1 << (k − 1)) − 1 + ((x >> k) & 1)) >> k             (shift right, ties to even)
 *   c = 0 → s ? zeroNeg : zeroPos, else (s ? signBit : 0) | c
 *
 * Decoding a code is exact in f32: bf16 is the top half of an f32; the 8- and 4-bit formats are a
 * table of the reference's value of every code (`decodeTable`).
 */
import { getOp } from '../ir/ops/index.js';
import type { Node } from '../ir/graph.js';
import { BYTES_PER_ELEMENT, tensor, type DType } from '../runtime/tensor.js';

/** Float dtypes the targets store as bits and convert only in Cast. */
export const BIT_FLOATS: readonly DType[] = ['bf16', 'f8e4m3fn', 'f8e4m3fnuz', 'f8e5m2', 'f8e5m2fnuz', 'f4e2m1', 'f8e8m0'];

/** Integer dtypes of 4 and 2 bits: stored one element per byte (sign-extended for i4/i2) as the runtime does. */
export const SUB_BYTE_INTS: readonly DType[] = ['i4', 'u4', 'i2', 'u2'];

export const isBitFloat = (d: DType): boolean => BIT_FLOATS.includes(d);

/**
 * Source dtypes whose every value is an f32: a Cast from them to a bit float rounds once, as the
 * reference does (i32, i64, f64... would round twice, through f32 and then to the format).
 */
export const EXACT_IN_F32: readonly DType[] = ['f32', 'f16', 'u8', 'i8', 'u16', 'i16', 'bool', ...SUB_BYTE_INTS, ...BIT_FLOATS];

/** Why a Cast from `x` to `y` cannot use this file's conversions, or undefined. */
export function bitCastProblem(x: DType, y: DType): string | undefined {
  if (isBitFloat(y) && !EXACT_IN_F32.includes(x)) return `has no Cast from ${x} to ${y} (it would round twice, through f32)`;
  return undefined;
}

/** Cast's `saturate` (CastLike has none: the reference saturates). */
export const castSaturate = (n: Node): boolean => n.op === 'CastLike' || Number(n.attrs.saturate ?? 1) !== 0;

export type RoundMode = 'up' | 'down' | 'nearest';

/** Cast's `round_mode` for f8e8m0 (CastLike: the reference's 'up'). */
export const castRoundMode = (n: Node): RoundMode => (n.op === 'CastLike' ? 'up' : String(n.attrs.round_mode ?? 'up') as RoundMode);

/** The constants of the encoding algorithm (file comment) for one format and `saturate`. */
export interface Encoding {
  readonly mant: number;
  readonly signBit: number;
  readonly nan: number;
  /** Smallest |x| (f32 bits) the reference maps to its overflow code (±max with saturate). */
  readonly over: number;
  readonly overPos: number;
  readonly overNeg: number;
  readonly zeroPos: number;
  readonly zeroNeg: number;
  /** The smallest f32 biased exponent that is a normal number of the format. */
  readonly normal: number;
  /** Subnormals: k = subShift − max(ef, 1). */
  readonly subShift: number;
}

const f32bits = new Uint32Array(1), f32view = new Float32Array(f32bits.buffer);
const fromBits = (u: number) => { f32bits[0] = u; return f32view[0]; };
const toBits = (v: number) => { f32view[0] = v; return f32bits[0]; };

/** The reference's codes of f32 values cast to `d` (the Cast op's reference itself). */
export function referenceCodes(d: DType, saturate: boolean, values: readonly number[]): number[] {
  const x = tensor('f32', [values.length], Float32Array.from(values));
  const y = getOp('Cast').reference([x], { to: d, saturate: saturate ? 1 : 0, round_mode: 'up' }, [{ dtype: d, shape: [values.length] }])[0];
  return Array.from(y.data as Uint8Array | Uint16Array);
}

const FORMAT: Record<string, { exp: number; mant: number; bias: number }> = {
  bf16: { exp: 8, mant: 7, bias: 127 },
  f8e4m3fn: { exp: 4, mant: 3, bias: 7 },
  f8e4m3fnuz: { exp: 4, mant: 3, bias: 8 },
  f8e5m2: { exp: 5, mant: 2, bias: 15 },
  f8e5m2fnuz: { exp: 5, mant: 2, bias: 16 },
  f4e2m1: { exp: 2, mant: 1, bias: 1 },
};

const cache = new Map<string, Encoding>();

/** The encoding constants of `d` with `saturate`, from the reference's codes. */
export function encoding(d: DType, saturate: boolean): Encoding {
  if (d === 'f8e8m0') throw new Error('f8e8m0 rounds by e8m0Encoding');
  const key = `${d}/${saturate}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const f = FORMAT[d];
  if (!f) throw new Error(`${d} is not a bit float`);
  const [nan, overPos, overNeg, zeroPos, zeroNeg] = referenceCodes(d, saturate, [NaN, Infinity, -Infinity, 0, -0]);
  // the smallest |x| with the +Inf code: codes grow with |x|, so a bisection over the f32 bits finds it
  let lo = 0, hi = 0x7f800000;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (referenceCodes(d, saturate, [fromBits(mid)])[0] === overPos) hi = mid; else lo = mid;
  }
  const e: Encoding = {
    mant: f.mant, signBit: 1 << (f.exp + f.mant), nan, over: hi, overPos, overNeg, zeroPos, zeroNeg,
    normal: 128 - f.bias, subShift: 151 - f.bias - f.mant,
  };
  cache.set(key, e);
  return e;
}

/** The algorithm of the file comment: the code of the f32 whose bits are `u`. */
export function encodeBits(e: Encoding, u: number): number {
  const a = (u & 0x7fffffff) >>> 0, s = u >>> 31;
  if (a > 0x7f800000) return e.nan;
  if (a >= e.over) return s ? e.overNeg : e.overPos;
  const ef = a >>> 23;
  const [x, k] = ef >= e.normal ? [a - ((e.normal - 1) << 23), 23 - e.mant]
    : [(a & 0x7fffff) | (ef > 0 ? 0x800000 : 0), Math.min(e.subShift - Math.max(ef, 1), 25)];
  const c = (x + (1 << (k - 1)) - 1 + ((x >>> k) & 1)) >>> k;
  if (c === 0) return s ? e.zeroNeg : e.zeroPos;
  return (s ? e.signBit : 0) | c;
}

/**
 * f8e8m0, a power of two 2^(code − 127), rounds by `round_mode` instead: for a positive f32 of
 * biased exponent ef and mantissa bits m, code = min(ef + (m ≥ thr ? 1 : 0), cap), thr = thrNormal
 * (ef > 0) or thrSub (an f32 denormal: only those above 2^−127 may round up to code 1); NaN → nan,
 * ±0 → zeroPos/zeroNeg, other negatives → neg. The codes are the reference's; the thresholds say
 * where each mode rounds up (a mantissa of 0x800000 is never reached: 'down').
 */
export interface E8M0Encoding {
  readonly nan: number; readonly neg: number; readonly zeroPos: number; readonly zeroNeg: number;
  readonly cap: number; readonly thrNormal: number; readonly thrSub: number;
}

export function e8m0Encoding(saturate: boolean, mode: RoundMode): E8M0Encoding {
  const x = tensor('f32', [6], Float32Array.from([NaN, -1, 0, -0, Infinity, 1]));
  const y = getOp('Cast').reference([x], { to: 'f8e8m0', saturate: saturate ? 1 : 0, round_mode: mode }, [{ dtype: 'f8e8m0', shape: [6] }])[0];
  const [nan, neg, zeroPos, zeroNeg, cap] = Array.from(y.data as Uint8Array);
  const [thrNormal, thrSub] = mode === 'up' ? [1, 0x400001] : mode === 'nearest' ? [0x400000, 0x600000] : [0x800000, 0x800000];
  return { nan, neg, zeroPos, zeroNeg, cap, thrNormal, thrSub };
}

/** The f8e8m0 rule above: the code of the f32 whose bits are `u`. */
export function encodeE8M0Bits(e: E8M0Encoding, u: number): number {
  const a = (u & 0x7fffffff) >>> 0, s = u >>> 31;
  if (a > 0x7f800000) return e.nan;
  if (a === 0) return s ? e.zeroNeg : e.zeroPos;
  if (s) return e.neg;
  const ef = a >>> 23, m = a & 0x7fffff;
  return Math.min(ef + (m >= (ef > 0 ? e.thrNormal : e.thrSub) ? 1 : 0), e.cap);
}

/** The f32 bits of every code of an 8- or 4-bit float (the reference's Cast to f32). */
export function decodeTable(d: DType): Uint32Array {
  const n = d === 'f4e2m1' ? 16 : 256;
  if (BYTES_PER_ELEMENT[d] !== 1 || !isBitFloat(d)) throw new Error(`${d} has no decode table`);
  const codes = tensor(d, [n], Uint8Array.from({ length: n }, (_, k) => k));
  const y = getOp('Cast').reference([codes], { to: 'f32', saturate: 1, round_mode: 'up' }, [{ dtype: 'f32', shape: [n] }])[0];
  return new Uint32Array((y.data as Float32Array).slice().buffer);
}

export { fromBits as f32FromBits, toBits as f32Bits };
