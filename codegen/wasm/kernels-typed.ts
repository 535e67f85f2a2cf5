/**
 * The typed elementwise kernel: a scalar formula (ir/scalar.ts) over operands of any of the
 * dtypes in TYPED_DTYPES (f32, f64, i8…i64, u8…u64, bool), evaluated in f64 exactly as the
 * reference interpreter does (load → f64, formula, then to the output dtype: floats round, integers
 * truncate toward zero and wrap, non-finite integers become 0, bool is "neither 0 nor NaN").
 * Scalar (not SIMD): it serves comparisons, logic, Where, Cast and integer arithmetic.
 */
import binaryen from 'binaryen';
import type { DType } from '../../runtime/tensor.js';
import { BYTES_PER_ELEMENT } from '../../runtime/tensor.js';
import type { BinaryFn, Scalar, UnaryFn } from '../../ir/scalar.js';
import { FnBuilder, Ops, i32, none, type Expr } from './builder.js';
import { pow as mathPow } from './math.js';
import { BIT_FLOATS, SUB_BYTE_INTS, e8m0Encoding, encoding, isBitFloat, type E8M0Encoding, type Encoding, type RoundMode } from '../minifloat.js';

const f64 = binaryen.f64, i64 = binaryen.i64;

export const TYPED_DTYPES: ReadonlySet<DType> = new Set<DType>(['f32', 'f64', 'f16', 'i8', 'i16', 'i32', 'i64', 'u8', 'u16', 'u32', 'u64', 'bool']);

/** The formula functions the f64 renderer has (pow: exact for integral exponents, f32 otherwise). */
export const TYPED_FNS: ReadonlySet<string> = new Set<UnaryFn | BinaryFn | 'select'>([
  'neg', 'abs', 'sqrt', 'floor', 'ceil', 'round', 'sign', 'recip',
  'add', 'sub', 'mul', 'div', 'max', 'min', 'gt', 'ge', 'lt', 'le', 'eq', 'ne', 'pow', 'select',
]);

/** What Cast reads and writes besides: the bit floats (codegen/minifloat.ts) and the 4/2-bit integers. */
export const CAST_DTYPES: ReadonlySet<DType> = new Set<DType>([...TYPED_DTYPES, ...BIT_FLOATS, ...SUB_BYTE_INTS]);


export interface TypedOperand { addr: number; strides: readonly number[]; dtype: DType }

export interface TypedElementwiseSpec {
  name: string;
  dims: readonly number[];
  Y: number; out: DType;
  operands: TypedOperand[];
  expr: Scalar;
  /** Cast's bool: NaN and ±Inf are true (numpy, onnxruntime); elsewhere they are 0 like other non-finite integers. */
  cast?: boolean;
  /** Cast's `saturate` and `round_mode` (bit float outputs). */
  saturate?: boolean;
  roundMode?: RoundMode;
  /** Addresses of the decode tables (f32 per code) of the 8- and 4-bit float operands. */
  tables?: Partial<Record<DType, number>>;
}

/** 2^k as an f64, for an i32 expression k in the normal range (built from its exponent bits). */
const pow2 = (m: binaryen.Module, k: Expr): Expr => m.f64.reinterpret(m.i64.shl(m.i64.extend_u(m.i32.add(k, m.i32.const(1023))), m.i64.extend_u(m.i32.const(52))));

/** IEEE half bits (i32 local h) → f64, exactly. */
function halfToF64(fb: FnBuilder, h: number): Expr {
  const m = fb.m, H = () => fb.get(h, i32);
  const e = () => m.i32.and(m.i32.shr_u(H(), m.i32.const(10)), m.i32.const(31));
  const man = () => m.i32.and(H(), m.i32.const(1023));
  const mag = m.select(m.i32.eqz(e()), m.f64.mul(m.f64.convert_u.i32(man()), m.f64.const(2 ** -24)),
    m.select(m.i32.eq(e(), m.i32.const(31)), m.select(m.i32.eqz(man()), m.f64.const(Infinity), m.f64.const(NaN)),
      m.f64.mul(m.f64.convert_u.i32(m.i32.or(man(), m.i32.const(1024))), pow2(m, m.i32.sub(e(), m.i32.const(25))))));
  return m.select(m.i32.and(H(), m.i32.const(0x8000)), m.f64.neg(mag), mag);
}

/** f64 local v → IEEE half bits, rounded to nearest even once (as the reference does); NaN → 0x7e00. */
function f64ToHalf(fb: FnBuilder, v: number): Expr {
  const m = fb.m, a = fb.local(f64), A = () => fb.get(a, f64), e = fb.local(i32), E = () => fb.get(e, i32);
  const sign = m.i32.shl(m.i32.wrap(m.i64.shr_u(m.i64.reinterpret(fb.get(v, f64)), m.i64.extend_u(m.i32.const(63)))), m.i32.const(15));
  // normal: e = exponent of a, mantissa m = round(a·2^(10−e)) ∈ [1024, 2048]; bits = ((e + 14) << 10) + m (2048 carries into e)
  const normal = m.i32.add(m.i32.shl(m.i32.add(E(), m.i32.const(14)), m.i32.const(10)), m.i32.trunc_u_sat.f64(m.f64.nearest(m.f64.mul(A(), pow2(m, m.i32.sub(m.i32.const(10), E()))))));
  const bits = m.select(m.f64.ne(A(), A()), m.i32.const(0x7e00),
    m.select(m.f64.ge(A(), m.f64.const(65520)), m.i32.const(0x7c00),
      m.select(m.f64.lt(A(), m.f64.const(2 ** -14)), m.i32.trunc_u_sat.f64(m.f64.nearest(m.f64.mul(A(), m.f64.const(2 ** 24)))), normal)));
  return m.block(null, [
    fb.set(a, m.f64.abs(fb.get(v, f64))),
    fb.set(e, m.i32.sub(m.i32.wrap(m.i64.shr_u(m.i64.reinterpret(m.f64.max(A(), m.f64.const(2 ** -14))), m.i64.extend_u(m.i32.const(52)))), m.i32.const(1023))),
    m.i32.or(bits, sign),
  ], i32);
}

/** f64 local v → the code of a bit float: codegen/minifloat.ts's algorithm over the bits of f32(v). */
function encodeBits(fb: FnBuilder, v: number, e: Encoding): Expr {
  const m = fb.m, k32 = (c: number) => m.i32.const(c | 0);
  const [u, a, s, ef, xb, k, c] = Array.from({ length: 7 }, () => fb.local(i32));
  const g = (l: number) => fb.get(l, i32);
  const norm = () => m.i32.ge_u(g(ef), k32(e.normal));
  const t = m.i32.sub(k32(e.subShift), m.select(m.i32.gt_u(g(ef), k32(1)), g(ef), k32(1)));
  const tl = fb.local(i32);
  const bySign = (neg: number, pos: number) => m.select(g(s), k32(neg), k32(pos));
  let r = m.select(m.i32.eqz(g(c)), bySign(e.zeroNeg, e.zeroPos), m.i32.or(bySign(e.signBit, 0), g(c)));
  r = m.select(m.i32.ge_u(g(a), k32(e.over)), bySign(e.overNeg, e.overPos), r);
  r = m.select(m.i32.gt_u(g(a), k32(0x7f800000)), k32(e.nan), r);
  return m.block(null, [
    fb.set(u, m.i32.reinterpret(m.f32.demote(fb.get(v, f64)))),
    fb.set(a, m.i32.and(g(u), k32(0x7fffffff))),
    fb.set(s, m.i32.shr_u(g(u), k32(31))),
    fb.set(ef, m.i32.shr_u(g(a), k32(23))),
    fb.set(xb, m.select(norm(), m.i32.sub(g(a), k32((e.normal - 1) << 23)),
      m.i32.or(m.i32.and(g(a), k32(0x7fffff)), m.select(m.i32.eqz(g(ef)), k32(0), k32(0x800000))))),
    fb.set(tl, t),
    fb.set(k, m.select(norm(), k32(23 - e.mant), m.select(m.i32.gt_u(g(tl), k32(25)), k32(25), g(tl)))),
    fb.set(c, m.i32.shr_u(m.i32.add(m.i32.add(g(xb), m.i32.sub(m.i32.shl(k32(1), m.i32.sub(g(k), k32(1))), k32(1))),
      m.i32.and(m.i32.shr_u(g(xb), g(k)), k32(1))), g(k))),
    r,
  ], i32);
}

/** f64 local v → f8e8m0 code: codegen/minifloat.ts's e8m0 rule over the bits of f32(v). */
function encodeE8M0(fb: FnBuilder, v: number, e: E8M0Encoding): Expr {
  const m = fb.m, k32 = (c: number) => m.i32.const(c | 0);
  const [u, a, ef, c] = Array.from({ length: 4 }, () => fb.local(i32));
  const g = (l: number) => fb.get(l, i32);
  const neg = () => m.i32.shr_u(g(u), k32(31));
  const thr = m.select(m.i32.eqz(g(ef)), k32(e.thrSub), k32(e.thrNormal));
  let r = m.select(m.i32.gt_u(g(c), k32(e.cap)), k32(e.cap), g(c));
  r = m.select(neg(), k32(e.neg), r);
  r = m.select(m.i32.eqz(g(a)), m.select(neg(), k32(e.zeroNeg), k32(e.zeroPos)), r);
  r = m.select(m.i32.gt_u(g(a), k32(0x7f800000)), k32(e.nan), r);
  return m.block(null, [
    fb.set(u, m.i32.reinterpret(m.f32.demote(fb.get(v, f64)))),
    fb.set(a, m.i32.and(g(u), k32(0x7fffffff))),
    fb.set(ef, m.i32.shr_u(g(a), k32(23))),
    fb.set(c, m.i32.add(g(ef), m.i32.ge_u(m.i32.and(g(a), k32(0x7fffff)), thr))),
    r,
  ], i32);
}

/** An element of dtype `d` at `ptr`, as f64 (exact); `tables`: the 8/4-bit floats' decode tables. */
export function load(fb: FnBuilder, ptr: Expr, d: DType, tables: Partial<Record<DType, number>> = {}): Expr {
  const m = fb.m;
  if (d === 'bf16') return m.f64.promote(m.f32.reinterpret(m.i32.shl(m.i32.load16_u(0, 1, ptr), m.i32.const(16))));
  if (isBitFloat(d)) {
    const at = tables[d];
    if (at === undefined) throw new Error(`no decode table for ${d}`);
    return m.f64.promote(m.f32.load(0, 4, m.i32.add(m.i32.const(at), m.i32.shl(m.i32.load8_u(0, 1, ptr), m.i32.const(2)))));
  }
  switch (d) {
    case 'f16': {
      const h = fb.local(i32);
      return m.block(null, [fb.set(h, m.i32.load16_u(0, 1, ptr)), halfToF64(fb, h)], f64);
    }
    case 'f32': return m.f64.promote(m.f32.load(0, 1, ptr));
    case 'f64': return m.f64.load(0, 1, ptr);
    case 'i64': return m.f64.convert_s.i64(m.i64.load(0, 1, ptr));
    case 'u64': return m.f64.convert_u.i64(m.i64.load(0, 1, ptr));
    case 'i32': return m.f64.convert_s.i32(m.i32.load(0, 1, ptr));
    case 'u32': return m.f64.convert_u.i32(m.i32.load(0, 1, ptr));
    case 'i16': return m.f64.convert_s.i32(m.i32.load16_s(0, 1, ptr));
    case 'u16': return m.f64.convert_u.i32(m.i32.load16_u(0, 1, ptr));
    case 'i8': case 'i4': case 'i2': return m.f64.convert_s.i32(m.i32.load8_s(0, 1, ptr));
    default: return m.f64.convert_u.i32(m.i32.load8_u(0, 1, ptr)); // u8, bool
  }
}

/**
 * Stores f64 local `v` as dtype `d`, like the reference's store(): integers truncate toward zero
 * and wrap modulo 2^bits (as a typed array or BigInt64Array stores them), NaN and ±Inf become 0,
 * and bool is "finite and not 0" — except for Cast (`cast`), where bool is "not 0" (NaN, ±Inf true).
 */
export function store(fb: FnBuilder, ptr: Expr, v: number, d: DType, cast: boolean, saturate = true, mode: RoundMode = 'up'): Expr {
  const m = fb.m, x = () => fb.get(v, f64);
  if (isBitFloat(d)) {
    const bits = d === 'f8e8m0' ? encodeE8M0(fb, v, e8m0Encoding(saturate, mode)) : encodeBits(fb, v, encoding(d, saturate));
    return BYTES_PER_ELEMENT[d] === 2 ? m.i32.store16(0, 1, ptr, bits) : m.i32.store8(0, 1, ptr, bits);
  }
  const finite = () => m.f64.lt(m.f64.abs(x()), m.f64.const(Infinity));
  if (d === 'f32') return m.f32.store(0, 1, ptr, m.f32.demote(x()));
  if (d === 'f64') return m.f64.store(0, 1, ptr, x());
  if (d === 'f16') return m.i32.store16(0, 1, ptr, f64ToHalf(fb, v));
  if (d === 'bool') return m.i32.store8(0, 1, ptr, cast ? m.f64.ne(x(), m.f64.const(0)) : m.i32.and(m.f64.ne(x(), m.f64.const(0)), finite()));
  // t = trunc(v) (0 when not finite), then t mod 2^bits in [0, 2^bits): exact in f64 for an integral t
  const bits = BYTES_PER_ELEMENT[d] === 8 ? 64 : 32;
  const t = fb.local(f64), T = () => fb.get(t, f64);
  const setT = fb.set(t, m.select(finite(), m.f64.trunc(x()), m.f64.const(0)));
  const r = m.f64.sub(T(), m.f64.mul(m.f64.floor(m.f64.mul(T(), m.f64.const(2 ** -bits))), m.f64.const(2 ** bits)));
  // (for 64 bits the wrapped value of a small negative t would round to 2^64: below 2^63 convert signed)
  const wrapped = bits === 64 ? m.select(m.f64.lt(m.f64.abs(T()), m.f64.const(2 ** 63)), m.i64.trunc_s_sat.f64(T()), m.i64.trunc_u_sat.f64(r))
    : m.i64.trunc_u_sat.f64(r);
  const w = m.block(null, [setT, wrapped], i64);
  const sub = SUB_BYTE_INTS.includes(d) ? 32 - Number(d[1]) : 0;
  if (sub) {
    // 4/2-bit: the low bits of the wrapped value, sign-extended into the byte for i4/i2 (as the runtime stores them)
    const lo = m.i32.shl(m.i32.wrap(w), m.i32.const(sub));
    return m.i32.store8(0, 1, ptr, d[0] === 'i' ? m.i32.shr_s(lo, m.i32.const(sub)) : m.i32.shr_u(lo, m.i32.const(sub)));
  }
  switch (BYTES_PER_ELEMENT[d]) {
    case 8: return m.i64.store(0, 1, ptr, w);
    case 4: return m.i64.store32(0, 1, ptr, w);
    case 2: return m.i64.store16(0, 1, ptr, w);
    default: return m.i64.store8(0, 1, ptr, w);
  }
}

class F64Renderer {
  constructor(readonly fb: FnBuilder, readonly args: readonly number[]) {}
  private get m() { return this.fb.m; }
  private bool(e: Expr): Expr { return this.m.f64.convert_u.i32(e); }

  /** The lanes' truth: neither 0 nor NaN, as i32. */
  truth(e: Scalar): Expr {
    const m = this.m, t = this.fb.local(f64);
    return m.block(null, [this.fb.set(t, this.value(e)), m.i32.and(m.f64.ne(this.fb.get(t, f64), m.f64.const(0)), m.f64.eq(this.fb.get(t, f64), this.fb.get(t, f64)))], i32);
  }

  value(e: Scalar): Expr {
    const m = this.m;
    switch (e.k) {
      case 'arg': return this.fb.get(this.args[e.i], f64);
      case 'const': return m.f64.const(e.v);
      case 'select': return m.select(this.truth(e.c), this.value(e.a), this.value(e.b));
      case 'un': return this.unary(e.fn, this.value(e.a));
      case 'bin': return this.binary(e.fn, e.a, e.b);
    }
  }

  private unary(fn: UnaryFn, a: Expr): Expr {
    const m = this.m;
    switch (fn) {
      case 'neg': return m.f64.neg(a);
      case 'abs': return m.f64.abs(a);
      case 'sqrt': return m.f64.sqrt(a);
      case 'floor': return m.f64.floor(a);
      case 'ceil': return m.f64.ceil(a);
      case 'round': return m.f64.nearest(a); // ties to even
      case 'recip': return m.f64.div(m.f64.const(1), a);
      case 'sign': {
        const t = this.fb.local(f64), x = () => this.fb.get(t, f64);
        return m.block(null, [this.fb.set(t, a), m.select(m.f64.gt(x(), m.f64.const(0)), m.f64.const(1),
          m.select(m.f64.lt(x(), m.f64.const(0)), m.f64.const(-1), x()))], f64);
      }
      default: throw new Error(`no f64 form for '${fn}'`);
    }
  }

  private binary(fn: BinaryFn, as: Scalar, bs: Scalar): Expr {
    const m = this.m, a = this.value(as), b = this.value(bs);
    switch (fn) {
      case 'add': return m.f64.add(a, b);
      case 'sub': return m.f64.sub(a, b);
      case 'mul': return m.f64.mul(a, b);
      case 'div': return m.f64.div(a, b);
      case 'max': return m.f64.max(a, b);
      case 'min': return m.f64.min(a, b);
      case 'gt': return this.bool(m.f64.gt(a, b));
      case 'ge': return this.bool(m.f64.ge(a, b));
      case 'lt': return this.bool(m.f64.lt(a, b));
      case 'le': return this.bool(m.f64.le(a, b));
      case 'eq': return this.bool(m.f64.eq(a, b));
      case 'ne': return this.bool(m.f64.ne(a, b));
      case 'pow': return this.pow(a, b);
    }
  }

  /**
   * a^b: by squaring where b is an integer (exact, as the reference's f64 Math.pow is for these
   * operands), else math.ts's f32 pow (an exponent of a float dtype that is not integral).
   */
  private pow(a: Expr, b: Expr): Expr {
    const m = this.m, fb = this.fb, A = fb.local(f64), B = fb.local(f64);
    const splat = (l: number) => m.f32x4.splat(m.f32.demote(fb.get(l, f64)));
    const approx = m.f64.promote(m.f32x4.extract_lane(mathPow(fb, splat(A), splat(B)), 0));
    const integral = m.i32.and(m.f64.eq(m.f64.trunc(fb.get(B, f64)), fb.get(B, f64)), m.f64.lt(m.f64.abs(fb.get(B, f64)), m.f64.const(2 ** 63)));
    return m.block(null, [fb.set(A, a), fb.set(B, b), m.select(integral, this.powInt(fb.get(A, f64), fb.get(B, f64)), approx)], f64);
  }

  /** a^b for an integral b (`pow` checks), by squaring; b < 0 gives 1 / a^|b|, as C pow does. */
  private powInt(a: Expr, b: Expr): Expr {
    const m = this.m, fb = this.fb;
    const base = fb.local(f64), r = fb.local(f64), e = fb.local(i64), neg = fb.local(i32), l = fb.label('P'), out = fb.label('Q');
    const E = () => fb.get(e, i64);
    // i64 constants via i32 (binaryen.js changed i64.const's signature between versions)
    const k64 = (v: number) => m.i64.extend_s(m.i32.const(v));
    return m.block(null, [
      fb.set(base, a),
      fb.set(e, m.i64.trunc_s_sat.f64(b)),
      fb.set(neg, m.i64.lt_s(E(), k64(0))),
      m.if(fb.get(neg, i32), fb.set(e, m.i64.sub(k64(0), E()))),
      fb.set(r, m.f64.const(1)),
      m.block(out, [m.loop(l, m.block(null, [
        m.br(out, m.i64.eqz(E())),
        m.if(m.i32.wrap(m.i64.and(E(), k64(1))), fb.set(r, m.f64.mul(fb.get(r, f64), fb.get(base, f64)))),
        fb.set(base, m.f64.mul(fb.get(base, f64), fb.get(base, f64))),
        fb.set(e, m.i64.shr_u(E(), k64(1))),
        m.br(l),
      ]))]),
      m.select(fb.get(neg, i32), m.f64.div(m.f64.const(1), fb.get(r, f64)), fb.get(r, f64)),
    ], f64);
  }
}

/** out[i] = expr(x_k[i]) over broadcast operands of any TYPED_DTYPES dtype, one element at a time. */
export function emitTypedElementwise(m: binaryen.Module, s: TypedElementwiseSpec): void {
  const fb = new FnBuilder(m, 0), o = new Ops(m);
  const idx = s.dims.map(() => fb.local(i32)), yp = fb.local(i32);
  const xs = s.operands.map(() => fb.local(f64)), res = fb.local(f64);
  const ob = BYTES_PER_ELEMENT[s.out];
  const ptr = (op: TypedOperand) => s.dims.reduce<Expr>((e, _, d) => o.add(e, o.mul(fb.geti(idx[d]), op.strides[d] * BYTES_PER_ELEMENT[op.dtype])), o.c(op.addr));
  let body: Expr[] = [
    ...s.operands.map((op, k) => fb.set(xs[k], load(fb, ptr(op), op.dtype, s.tables))),
    fb.set(res, new F64Renderer(fb, xs).value(s.expr)),
    store(fb, fb.geti(yp), res, s.out, s.cast === true, s.saturate, s.roundMode),
    fb.set(yp, o.addc(fb.geti(yp), ob)),
  ];
  for (let d = s.dims.length - 1; d >= 0; d--) body = [fb.loop(idx[d], o.c(0), s.dims[d], 1, body)];
  m.addFunction(s.name, none, none, fb.vars, m.block(null, [fb.set(yp, o.c(s.Y)), ...body]));
}
