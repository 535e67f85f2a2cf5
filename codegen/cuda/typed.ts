/**
 * Elementwise formulas (ir/scalar.ts) on integer, bool and f64 values, and mixed dtypes (Where's
 * bool condition, Pow's integer exponent, comparisons' bool result): the cases the f32 renderer
 * (codegen/c-like.ts) cannot express. Semantics follow the reference (ir/ops/elementwise.ts):
 * integer add/sub/mul wrap (exact for i64 as its BigInt path), integer division truncates and
 * gives 0 for a zero divisor, float values compute in double (the reference's float64), and a
 * float result stored to an integer truncates, wraps modulo 2^bits and is 0 when not finite.
 */
import type { Scalar } from '../../ir/scalar.js';
import { simplify } from '../c-like.js';
import { CnncError } from '../../runtime/errors.js';
import type { DType } from '../../runtime/tensor.js';

const dev = '__device__ __forceinline__';

/** Device helpers for the typed formulas (the translation unit's prelude declares them). */
export const TYPED_HELPERS = [
  `${dev} long long cnnc_idiv(long long a, long long b) { return b == 0 ? 0 : b == -1 ? (long long)(0ULL - (unsigned long long)a) : a / b; }`,
  `${dev} unsigned long long cnnc_idiv(unsigned long long a, unsigned long long b) { return b == 0 ? 0 : a / b; }`,
  `${dev} double cnnc_maxd(double a, double b) { return (a != a || b != b) ? a + b : fmax(a, b); }`,
  `${dev} double cnnc_mind(double a, double b) { return (a != a || b != b) ? a + b : fmin(a, b); }`,
  // Math.pow in double: pow(1, NaN) and pow(±1, ±inf) are NaN (C's pow gives 1)
  `${dev} double cnnc_powd(double x, double y) {
  if (y == 0.0) return 1.0;
  if (x != x || y != y) return x + y;
  if (fabs(x) == 1.0 && fabs(y) == INFINITY) return NAN;
  return pow(x, y);
}`,
  // a float64 stored to an integer: truncated, 0 when not finite, wrapped modulo 2^64 (then the
  // C conversion to the narrower type wraps modulo its width)
  `${dev} unsigned long long cnnc_wrapd(double x) {
  if (!(fabs(x) < INFINITY)) return 0ULL;
  double m = fmod(trunc(x), 18446744073709551616.0);
  if (m < 0) return m >= -9223372036854775808.0 ? (unsigned long long)(long long)m : (unsigned long long)(m + 18446744073709551616.0);
  return m >= 9223372036854775808.0 ? (unsigned long long)(m - 9223372036854775808.0) + 9223372036854775808ULL : (unsigned long long)m;
}`,
].join('\n');

export const FLOATS: readonly DType[] = ['f32', 'f16', 'f64'];
const INTS: readonly DType[] = ['i8', 'i16', 'i32', 'i64', 'u8', 'u16', 'u32', 'u64', 'bool'];

type Kind = 'i' | 'd';
interface Val { s: string; k: Kind }

/** The integer type every integer value computes in: unsigned when a u64 is involved. */
export function wideType(dtypes: readonly DType[]): string {
  return dtypes.includes('u64') ? 'unsigned long long' : 'long long';
}

/** `x[idx]` of dtype `d` as a typed value (floats widened to double, integers to `W`). */
export function loadTyped(d: DType, ptr: string, idx: string, W: string): Val {
  if (d === 'f16') return { s: `(double)__half2float(${ptr}[${idx}])`, k: 'd' };
  if (FLOATS.includes(d)) return { s: `(double)${ptr}[${idx}]`, k: 'd' };
  if (INTS.includes(d)) return { s: `(${W})${ptr}[${idx}]`, k: 'i' };
  throw new CnncError('UNSUPPORTED', `the CUDA target has no ${d} type`);
}

/** A statement storing the typed value `v` into `ptr[idx]` of dtype `d` (see the file comment). */
export function storeTyped(d: DType, ptr: string, idx: string, v: Val): string {
  if (d === 'bool') return `${ptr}[${idx}] = (${v.s}) != 0;`;
  if (d === 'f16') return `${ptr}[${idx}] = __float2half((float)(${v.s}));`;
  if (d === 'f32') return `${ptr}[${idx}] = (float)(${v.s});`;
  if (d === 'f64') return `${ptr}[${idx}] = (double)(${v.s});`;
  const T = INT_CTYPE[d];
  if (!T) throw new CnncError('UNSUPPORTED', `the CUDA target has no ${d} type`);
  return v.k === 'i' ? `${ptr}[${idx}] = (${T})(${v.s});` : `${ptr}[${idx}] = (${T})cnnc_wrapd(${v.s});`;
}

const INT_CTYPE: Partial<Record<DType, string>> = {
  i8: 'signed char', i16: 'short', i32: 'int', i64: 'long long', u8: 'unsigned char', u16: 'unsigned short', u32: 'unsigned int', u64: 'unsigned long long',
};

const INFIX: Record<string, string> = { add: '+', sub: '-', mul: '*' };
const COMPARE: Record<string, string> = { gt: '>', ge: '>=', lt: '<', le: '<=', eq: '==', ne: '!=' };

function dbl(v: Val): string {
  return v.k === 'd' ? v.s : `(double)(${v.s})`;
}

/**
 * `e` over the typed `args` (identifiers) as C++ computing in `W` (integers) or double (floats);
 * an UNSUPPORTED error for a function without integer semantics here (sqrt of an integer...).
 */
export function renderTyped(e: Scalar, args: readonly Val[], W: string): Val {
  const unsigned = W.startsWith('unsigned');
  const go = (x: Scalar): Val => {
    switch (x.k) {
      case 'arg': return args[x.i];
      case 'const': {
        if (Number.isInteger(x.v) && Math.abs(x.v) < 2 ** 53) return { s: `((${W})${x.v}LL)`, k: 'i' };
        if (Number.isNaN(x.v)) return { s: '((double)NAN)', k: 'd' };
        if (!Number.isFinite(x.v)) return { s: x.v > 0 ? '((double)INFINITY)' : '(-(double)INFINITY)', k: 'd' };
        return { s: `(${x.v.toPrecision(17)})`, k: 'd' };
      }
      case 'un': {
        const a = go(x.a);
        if (x.fn === 'neg') return a.k === 'i' ? { s: `((${W})(0ULL - (unsigned long long)(${a.s})))`, k: 'i' } : { s: `(-${a.s})`, k: 'd' };
        if (x.fn === 'abs') {
          if (a.k === 'd') return { s: `fabs(${a.s})`, k: 'd' };
          return unsigned ? a : { s: `((${a.s}) < 0 ? (${W})(0ULL - (unsigned long long)(${a.s})) : (${a.s}))`, k: 'i' };
        }
        throw new CnncError('UNSUPPORTED', `${x.fn} has no integer or f64 form on the CUDA target`);
      }
      case 'bin': {
        const a = go(x.a), b = go(x.b);
        const ints = a.k === 'i' && b.k === 'i';
        if (COMPARE[x.fn]) return { s: `((${a.s}) ${COMPARE[x.fn]} (${b.s}) ? (${W})1 : (${W})0)`, k: 'i' };
        if (INFIX[x.fn]) {
          return ints ? { s: `((${W})((unsigned long long)(${a.s}) ${INFIX[x.fn]} (unsigned long long)(${b.s})))`, k: 'i' } : { s: `(${dbl(a)} ${INFIX[x.fn]} ${dbl(b)})`, k: 'd' };
        }
        if (x.fn === 'div') return ints ? { s: `cnnc_idiv((${W})(${a.s}), (${W})(${b.s}))`, k: 'i' } : { s: `(${dbl(a)} / ${dbl(b)})`, k: 'd' };
        if (x.fn === 'pow') return { s: `cnnc_powd(${dbl(a)}, ${dbl(b)})`, k: 'd' };
        if (x.fn === 'max' || x.fn === 'min') {
          if (!ints) return { s: `cnnc_${x.fn}d(${dbl(a)}, ${dbl(b)})`, k: 'd' };
          return { s: `((${a.s}) ${x.fn === 'max' ? '>' : '<'} (${b.s}) ? (${a.s}) : (${b.s}))`, k: 'i' };
        }
        throw new CnncError('UNSUPPORTED', `${x.fn} has no integer or f64 form on the CUDA target`);
      }
      case 'select': {
        const c = go(x.c), a = go(x.a), b = go(x.b);
        const cond = c.k === 'i' ? `(${c.s}) != 0` : `((${c.s}) < 0 || (${c.s}) > 0)`;
        return a.k === 'i' && b.k === 'i' ? { s: `(${cond} ? (${a.s}) : (${b.s}))`, k: 'i' } : { s: `(${cond} ? ${dbl(a)} : ${dbl(b)})`, k: 'd' };
      }
    }
  };
  return go(simplify(e));
}
