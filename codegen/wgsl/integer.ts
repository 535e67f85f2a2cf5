/**
 * Elementwise formulas (ir/scalar.ts) on integer values in native WGSL i32 or u32 arithmetic,
 * exact at any magnitude (an f32 holds integers exactly only up to 2^24). The semantics are the
 * reference's (ir/ops/elementwise.ts, which stores its float64 results modulo 2^bits):
 * - add, sub, mul, neg and abs wrap modulo 2^32 (WGSL's runtime integer arithmetic wraps);
 * - div truncates toward zero, a zero divisor gives 0, and INT_MIN / −1 wraps to INT_MIN;
 * - pow multiplies by repeated squaring (wrapping); a negative exponent gives 1/aⁿ truncated:
 *   1 for a = 1, ±1 for a = −1, else 0 (0 for a = 0, whose 1/0 = ∞ the reference stores as 0);
 * - max, min, comparisons (1 or 0) and select as for floats (no NaN among integers).
 * The reference computes Mul and Pow in float64, exact while |result| < 2^53; beyond that it has
 * lost low bits, and this exact wrapped result (numpy's and onnxruntime's) is the one given.
 *
 * Checked mode (i64 carried in i32): the true i64 result of add, sub, mul, neg, abs, div and pow
 * can leave the i32 range, where wrapping would be a silent wrong answer. Each of them then goes
 * through a helper that computes the wrapped value and sets the private flag `cnnc_ovf` when the
 * true value does not fit; the kernel reports the element (Emitter.rangeCheck). The adds and subs
 * at the top of a formula (Sum's chain) count their wraps in `cnnc_wrap` instead (true value =
 * result + 2^32 · cnnc_wrap), so Sum(2^31 − 1, 1, −5) is exact; the result is out of range iff
 * cnnc_wrap ≠ 0. A wrapped value that another op consumes sets `cnnc_ovf` at once.
 */
import type { Scalar } from '../../ir/scalar.js';
import { simplify } from '../c-like.js';

export type IntType = 'i32' | 'u32';

const HELPERS: Record<string, (T: IntType) => string> = {
  idiv: (T) => T === 'i32'
    ? `fn cnnc_idiv_i32(a: i32, b: i32) -> i32 {
  if (b == 0i) { return 0i; }
  if (b == -1i) { return 0i - a; }
  return a / b;
}`
    : 'fn cnnc_idiv_u32(a: u32, b: u32) -> u32 { if (b == 0u) { return 0u; } return a / b; }',
  ipow: (T) => {
    const z = T === 'i32' ? 'i' : 'u';
    const negative = T === 'i32'
      ? '  if (n < 0i) { if (a == 1i) { return 1i; } if (a == -1i) { return select(1i, -1i, (n & 1i) != 0i); } return 0i; }\n'
      : '';
    return `fn cnnc_ipow_${T}(a: ${T}, n: ${T}) -> ${T} {
${negative}  var r = 1${z}; var b = a; var k = u32(n);
  loop { if (k == 0u) { break; } if ((k & 1u) != 0u) { r = r * b; } b = b * b; k = k >> 1u; }
  return r;
}`;
  },
};

/** Checked i32 helpers: the wrapped result, and cnnc_ovf set when the true result leaves i32. */
const CHECKED: Record<string, string> = {
  add: `fn cnnc_add_chk(a: i32, b: i32) -> i32 {
  let r = a + b;
  if (((a ^ r) & (b ^ r)) < 0i) { cnnc_ovf = true; } // both operands' sign differs from the sum's
  return r;
}`,
  sub: `fn cnnc_sub_chk(a: i32, b: i32) -> i32 {
  let r = a - b;
  if (((a ^ b) & (a ^ r)) < 0i) { cnnc_ovf = true; }
  return r;
}`,
  // exact: a wrapped product differs from a·b by a multiple of 2^32, so r / a cannot truncate back to b
  mul: `fn cnnc_mul_chk(a: i32, b: i32) -> i32 {
  let r = a * b;
  if (a != 0i && (r / a != b || (a == -1i && b == (-2147483647i - 1i)))) { cnnc_ovf = true; }
  return r;
}`,
  neg: `fn cnnc_neg_chk(a: i32) -> i32 {
  if (a == (-2147483647i - 1i)) { cnnc_ovf = true; }
  return 0i - a;
}`,
  abs: `fn cnnc_abs_chk(a: i32) -> i32 {
  if (a == (-2147483647i - 1i)) { cnnc_ovf = true; }
  return abs(a);
}`,
  addc: `fn cnnc_addc_chk(a: i32, b: i32) -> i32 {
  let r = a + b;
  if (((a ^ r) & (b ^ r)) < 0i) { cnnc_wrap += select(-1i, 1i, a >= 0i); }
  return r;
}`,
  subc: `fn cnnc_subc_chk(a: i32, b: i32) -> i32 {
  let r = a - b;
  if (((a ^ b) & (a ^ r)) < 0i) { cnnc_wrap += select(-1i, 1i, a >= 0i); }
  return r;
}`,
  div: `fn cnnc_div_chk(a: i32, b: i32) -> i32 {
  if (a == (-2147483647i - 1i) && b == -1i) { cnnc_ovf = true; }
  return cnnc_idiv_i32(a, b);
}`,
  // squares b only while bits remain: the highest set bit always multiplies the last square in
  pow: `fn cnnc_pow_chk(a: i32, n: i32) -> i32 {
  if (n < 0i) { return cnnc_ipow_i32(a, n); }
  var r = 1i; var b = a; var k = u32(n);
  loop {
    if (k == 0u) { break; }
    if ((k & 1u) != 0u) { r = cnnc_mul_chk(r, b); }
    k = k >> 1u;
    if (k != 0u) { b = cnnc_mul_chk(b, b); }
  }
  return r;
}`,
};
const CHECKED_NEEDS: Record<string, string[]> = { div: ['idiv'], pow: ['ipow', 'mul_chk'] };

const INFIX: Record<string, string> = { add: '+', sub: '-', mul: '*' };
const COMPARE: Record<string, string> = { gt: '>', ge: '>=', lt: '<', le: '<=', eq: '==', ne: '!=' };

/** Prints integer formulas in one type and remembers the helper functions they call. */
export class IntRenderer {
  private readonly used = new Set<string>();
  private readonly usedChecked = new Set<string>();

  /** `checked`: i32 values that stand for i64 (see the file comment); needs `cnnc_ovf` declared. */
  constructor(readonly T: IntType, readonly checked = false) {}

  /** `e` as a `T` expression of `args` (identifiers of type T), or undefined when it has no integer form. */
  render(e: Scalar, args: readonly string[]): string | undefined {
    return this.expr(simplify(e), args, true);
  }

  /** Definitions of the helpers rendered so far. */
  helpers(): string {
    return [...[...this.used].map((h) => HELPERS[h](this.T)), ...[...this.usedChecked].map((h) => CHECKED[h])].join('\n');
  }

  /** A call to the checked helper for `fn` (with the helpers it calls). */
  private chk(fn: string, ...args: string[]): string {
    for (const need of CHECKED_NEEDS[fn] ?? []) {
      if (HELPERS[need]) this.used.add(need); else this.usedChecked.add(need.replace('_chk', ''));
    }
    this.usedChecked.add(fn);
    return `cnnc_${fn}_chk(${args.join(', ')})`;
  }

  private lit(v: number): string | undefined {
    if (!Number.isInteger(v)) return undefined;
    if (this.T === 'u32') return v >= 0 && v < 2 ** 32 ? `${v}u` : undefined;
    if (v === -(2 ** 31)) return '(-2147483647i - 1i)'; // 2147483648i alone is out of range
    return Math.abs(v) < 2 ** 31 ? `(${v}i)` : undefined;
  }

  private call(helper: string, a: string, b: string): string {
    this.used.add(helper);
    return `cnnc_${helper}_${this.T}(${a}, ${b})`;
  }

  /** `top`: e is the formula or an add/sub operand of a top add/sub (its wraps may be counted). */
  private expr(e: Scalar, args: readonly string[], top = false): string | undefined {
    const zero = this.T === 'i32' ? '0i' : '0u', one = this.T === 'i32' ? '1i' : '1u';
    switch (e.k) {
      case 'arg': return args[e.i];
      case 'const': return this.lit(e.v);
      case 'un': {
        const a = this.expr(e.a, args);
        if (a === undefined) return undefined;
        if (this.checked && (e.fn === 'neg' || e.fn === 'abs')) return this.chk(e.fn, a);
        if (e.fn === 'neg') return `(${zero} - ${a})`;
        if (e.fn === 'abs') return this.T === 'i32' ? `abs(${a})` : a;
        return undefined;
      }
      case 'bin': {
        const counted = top && (e.fn === 'add' || e.fn === 'sub');
        const a = this.expr(e.a, args, counted), b = this.expr(e.b, args, counted);
        if (a === undefined || b === undefined) return undefined;
        if (COMPARE[e.fn]) return `select(${zero}, ${one}, ${a} ${COMPARE[e.fn]} ${b})`;
        if (this.checked && CHECKED[e.fn]) return this.chk(counted ? `${e.fn}c` : e.fn, a, b);
        if (INFIX[e.fn]) return `(${a} ${INFIX[e.fn]} ${b})`;
        if (e.fn === 'div') return this.call('idiv', a, b);
        if (e.fn === 'pow') return this.call('ipow', a, b);
        if (e.fn === 'max' || e.fn === 'min') return `${e.fn}(${a}, ${b})`;
        return undefined;
      }
      case 'select': {
        const c = this.expr(e.c, args), a = this.expr(e.a, args), b = this.expr(e.b, args);
        if (c === undefined || a === undefined || b === undefined) return undefined;
        return `select(${b}, ${a}, ${c} != ${zero})`;
      }
    }
  }
}
