/**
 * Renders an ir/scalar.ts expression as f32x4 (v128) code: the wasm dialect of the formulas that
 * ops and activations define once. The reference's semantics hold lane by lane: max/min propagate
 * NaN, comparisons are false on NaN (ne true) and give 1 or 0 as values, select picks where the
 * condition is neither 0 nor NaN, round is half to even (f32x4.nearest).
 */
import type { BinaryFn, Scalar, UnaryFn } from '../../ir/scalar.js';
import type { FnBuilder, Expr } from './builder.js';
import * as M from './math.js';
import { Vec, withScratch } from './math.js';

/** The expression over `args` (v128 locals holding the inputs); scratch locals are reused across calls. */
export function renderScalar(fb: FnBuilder, e: Scalar, args: readonly number[]): Expr {
  return withScratch(fb, () => new Renderer(new Vec(fb), args).value(e));
}

const COMPARE: Partial<Record<BinaryFn, true>> = { gt: true, ge: true, lt: true, le: true, eq: true, ne: true };

const UNARY: Record<UnaryFn, (v: Vec, a: Expr) => Expr> = {
  neg: (v, a) => v.m.f32x4.neg(a),
  abs: (v, a) => v.m.f32x4.abs(a),
  sqrt: (v, a) => v.m.f32x4.sqrt(a),
  floor: (v, a) => v.m.f32x4.floor(a),
  ceil: (v, a) => v.m.f32x4.ceil(a),
  round: (v, a) => v.m.f32x4.nearest(a), // ties to even
  recip: (v, a) => v.div(v.k(1), a),
  exp: (v, a) => M.exp(v.fb, a),
  expm1: (v, a) => M.expm1(v.fb, a),
  log: (v, a) => M.log(v.fb, a),
  log1p: (v, a) => M.log1p(v.fb, a),
  sign: (v, a) => M.sign(v.fb, a),
  sin: (v, a) => M.sin(v.fb, a),
  cos: (v, a) => M.cos(v.fb, a),
  tanh: (v, a) => M.tanh(v.fb, a),
  erf: (v, a) => M.erf(v.fb, a),
  sigmoid: (v, a) => M.sigmoid(v.fb, a),
};

/** The argument index i when a is arg i and b is sigmoid(arg i). */
function timesOwnSigmoid(a: Scalar, b: Scalar): number | undefined {
  return a.k === 'arg' && b.k === 'un' && b.fn === 'sigmoid' && b.a.k === 'arg' && b.a.i === a.i ? a.i : undefined;
}

class Renderer {
  constructor(readonly v: Vec, readonly args: readonly number[]) {}

  value(e: Scalar): Expr {
    const v = this.v, m = v.m;
    switch (e.k) {
      case 'arg': return v.get(this.args[e.i]);
      case 'const': return v.k(e.v);
      case 'un': return this.unary(e.fn, e.a);
      case 'bin':
        if (COMPARE[e.fn]) return v.and(this.mask(e), v.k(1));
        if (e.fn === 'mul') {
          // x·sigmoid(x) (SiLU, Swish with β = 1): x/(1 + e^−x), one division and no multiply
          const x = timesOwnSigmoid(e.a, e.b) ?? timesOwnSigmoid(e.b, e.a);
          if (x !== undefined) return M.sigmoid(v.fb, v.get(this.args[x]), v.get(this.args[x]));
        }
        return this.binary(e.fn, e.a, e.b);
      case 'select':
        if (e.c.k === 'const') return this.value(e.c.v !== 0 && e.c.v === e.c.v ? e.a : e.b);
        return m.v128.bitselect(this.value(e.a), this.value(e.b), this.mask(e.c));
    }
  }

  /** The lanes where `c` is true (neither 0 nor NaN), as an all-ones mask. */
  private mask(c: Scalar): Expr {
    const v = this.v, f = v.m.f32x4;
    if (c.k === 'bin' && COMPARE[c.fn]) {
      const a = this.value(c.a), b = this.value(c.b);
      switch (c.fn) {
        case 'gt': return f.gt(a, b);
        case 'ge': return f.ge(a, b);
        case 'lt': return f.lt(a, b);
        case 'le': return f.le(a, b);
        case 'eq': return f.eq(a, b);
        default: return f.ne(a, b);
      }
    }
    return v.let(this.value(c), (t) => v.m.v128.or(f.gt(v.get(t), v.k(0)), f.lt(v.get(t), v.k(0))));
  }

  private unary(fn: UnaryFn, a: Scalar): Expr {
    return UNARY[fn](this.v, this.value(a));
  }

  private binary(fn: BinaryFn, a: Scalar, b: Scalar): Expr {
    const v = this.v;
    switch (fn) {
      case 'add': return v.add(this.value(a), this.value(b));
      case 'sub': return v.sub(this.value(a), this.value(b));
      case 'mul': return v.mul(this.value(a), this.value(b));
      case 'div': return v.div(this.value(a), this.value(b));
      case 'max': case 'min': return this.maxMin(fn, a, b);
      case 'pow': return b.k === 'const' && smallInteger(b.v) ? this.powInt(a, b.v) : M.pow(v.fb, this.value(a), this.value(b));
      default: throw new Error(`no wasm form for '${fn}'`);
    }
  }

  /**
   * IEEE maximum/minimum. f32x4.max/min are exact but cost ~8 instructions on x86 each; against a
   * constant c, pmax(x, c) = x < c ? c : x (one maxps) is the same function unless both are zeros
   * of opposite sign, so: c ≠ 0 → pmax/pmin; max(x, +0) → pmax + 0 (turns −0 into +0: ReLU);
   * min(x, +0) and max(x, −0) → pmin/pmax; min(x, −0) and NaN constants → the exact form.
   */
  private maxMin(fn: 'max' | 'min', a: Scalar, b: Scalar): Expr {
    const v = this.v, f = v.m.f32x4;
    const [x, c] = b.k === 'const' ? [a, b.v] : a.k === 'const' ? [b, a.v] : [undefined, NaN];
    if (x === undefined || Number.isNaN(c)) return fn === 'max' ? f.max(this.value(a), this.value(b)) : f.min(this.value(a), this.value(b));
    if (fn === 'max') {
      const p = f.pmax(this.value(x), v.k(c)); // variable first: NaN stays NaN
      return c === 0 && !Object.is(c, -0) ? v.add(p, v.k(0)) : p;
    }
    if (Object.is(c, -0)) return f.min(this.value(x), v.k(c));
    return f.pmin(this.value(x), v.k(c));
  }

  /** a^n for a small integer constant n: repeated products (within an ulp or two of pow). */
  private powInt(a: Scalar, n: number): Expr {
    const v = this.v;
    if (n === 0) return v.k(1); // Math.pow(NaN, 0) = 1
    return v.let(this.value(a), (t) => {
      let p = v.get(t);
      for (let i = 1; i < Math.abs(n); i++) p = v.mul(p, v.get(t));
      return n < 0 ? v.div(v.k(1), p) : p;
    });
  }
}

const smallInteger = (n: number) => Number.isInteger(n) && Math.abs(n) <= 4;
