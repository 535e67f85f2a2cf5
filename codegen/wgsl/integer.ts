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

const INFIX: Record<string, string> = { add: '+', sub: '-', mul: '*' };
const COMPARE: Record<string, string> = { gt: '>', ge: '>=', lt: '<', le: '<=', eq: '==', ne: '!=' };

/** Prints integer formulas in one type and remembers the helper functions they call. */
export class IntRenderer {
  private readonly used = new Set<string>();

  constructor(readonly T: IntType) {}

  /** `e` as a `T` expression of `args` (identifiers of type T), or undefined when it has no integer form. */
  render(e: Scalar, args: readonly string[]): string | undefined {
    return this.expr(simplify(e), args);
  }

  /** Definitions of the helpers rendered so far. */
  helpers(): string {
    return [...this.used].map((h) => HELPERS[h](this.T)).join('\n');
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

  private expr(e: Scalar, args: readonly string[]): string | undefined {
    const zero = this.T === 'i32' ? '0i' : '0u', one = this.T === 'i32' ? '1i' : '1u';
    switch (e.k) {
      case 'arg': return args[e.i];
      case 'const': return this.lit(e.v);
      case 'un': {
        const a = this.expr(e.a, args);
        if (a === undefined) return undefined;
        if (e.fn === 'neg') return `(${zero} - ${a})`;
        if (e.fn === 'abs') return this.T === 'i32' ? `abs(${a})` : a;
        return undefined;
      }
      case 'bin': {
        const a = this.expr(e.a, args), b = this.expr(e.b, args);
        if (a === undefined || b === undefined) return undefined;
        if (COMPARE[e.fn]) return `select(${zero}, ${one}, ${a} ${COMPARE[e.fn]} ${b})`;
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
