/**
 * f32x4 math for the scalar renderer (scalar.ts): the functions wasm SIMD lacks, as polynomials.
 * Cheap ones are inlined (exp, sigmoid, tanh, sign); the others are small module functions
 * (`math_log`, `math_erf`, ...) added on first use and called, so that a conv epilogue repeated
 * in every tile stays small.
 *
 * Every function keeps ir/scalar.ts' semantics on special values: NaN in → NaN out, saturation
 * (not NaN) for large |x|, ±Inf where the function overflows, denormals computed (wasm SIMD does
 * not flush them). Measured error against float64 (200k points, test/wasm-scalar.test.ts checks
 * the f32 golden tolerance): exp 1 ulp, log 1 ulp, expm1 2 ulp, log1p 3 ulp; sigmoid 1e-7 and
 * tanh 2e-7 absolute, and relative below |x| = 1/8 (a series where the sigmoid form would cancel); erf 3.5e-7
 * absolute (a series below 0.5, Abramowitz–Stegun 7.1.26 above); sin/cos 1e-7 absolute for
 * |x| ≤ 8192 (Cody–Waite reduction; beyond, bounded but inaccurate); pow ≈ |b·ln a|·2⁻²⁴
 * relative (e^(b·ln a) in f32).
 */
import binaryen from 'binaryen';
import { FnBuilder, Ops, v128, type Expr } from './builder.js';

const pools = new WeakMap<FnBuilder, { locals: number[]; used: number }>();

function poolOf(fb: FnBuilder) {
  let p = pools.get(fb);
  if (!p) { p = { locals: [], used: 0 }; pools.set(fb, p); }
  return p;
}

/**
 * A v128 scratch local of `fb`. Scratch locals are reused by the next `withScratch` scope: an
 * expression that sets and reads them completes before the next one starts.
 */
export function temp(fb: FnBuilder): number {
  const p = poolOf(fb);
  if (p.used === p.locals.length) p.locals.push(fb.local(v128));
  return p.locals[p.used++];
}

/** Runs `f`, then frees the scratch locals it took (its expression has used them by then). */
export function withScratch<T>(fb: FnBuilder, f: () => T): T {
  const p = poolOf(fb), saved = p.used;
  try { return f(); } finally { p.used = saved; }
}

/** Short names for the f32x4 expressions the polynomials use. */
export class Vec {
  readonly m: binaryen.Module;
  constructor(readonly fb: FnBuilder) { this.m = fb.m; }
  k(x: number): Expr { return this.m.f32x4.splat(this.m.f32.const(x)); }
  ki(x: number): Expr { return this.m.i32x4.splat(this.m.i32.const(x | 0)); }
  get(l: number): Expr { return this.m.local.get(l, v128); }
  add(a: Expr, b: Expr): Expr { return this.m.f32x4.add(a, b); }
  sub(a: Expr, b: Expr): Expr { return this.m.f32x4.sub(a, b); }
  mul(a: Expr, b: Expr): Expr { return this.m.f32x4.mul(a, b); }
  div(a: Expr, b: Expr): Expr { return this.m.f32x4.div(a, b); }
  /** a where mask, else b. */
  sel(mask: Expr, a: Expr, b: Expr): Expr { return this.m.v128.bitselect(a, b, mask); }
  and(a: Expr, b: Expr): Expr { return this.m.v128.and(a, b); }
  /** a·b + c: one `f32x4.relaxed_madd` in a relaxed-SIMD module, a mul and an add otherwise. */
  madd(a: Expr, b: Expr, c: Expr): Expr { return new Ops(this.m).fmadd(c, a, b); }
  /** Evaluates `e` into a scratch local, then `body` of it. */
  let(e: Expr, body: (l: number) => Expr): Expr {
    const l = temp(this.fb);
    return this.m.block(null, [this.m.local.set(l, e), body(l)], v128);
  }
  /** Horner: c[0]·xⁿ + … + c[n], over a local x. */
  poly(x: number, c: readonly number[]): Expr {
    let p = this.k(c[0]);
    for (const ci of c.slice(1)) p = this.add(this.mul(p, this.get(x)), this.k(ci));
    return p;
  }
}

// ---- exp ----

const LOG2E = 1.44269504088896341;
/** ln 2 in two parts (Cody–Waite): n·LN2_HI is exact for |n| < 2¹⁵; LN2_F32 is ln 2 rounded, for sigmoid (see there). */
const LN2_HI = 0.693359375, LN2_LO = -2.12194440e-4, LN2_F32 = Math.fround(Math.LN2);
/** Cephes expf: e^r ≈ 1 + r + r²·P(r) on |r| ≤ ln2/2. */
const EXP_P = [1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1];

/** 1.5·2²³: adding it rounds a float below 2²² in magnitude to an integer (ties to even, as f32x4.nearest), which its low bits then hold. */
const ROUND_MAGIC = 12582912, ROUND_MAGIC_BITS = 0x4b400000;

/**
 * e^x = 2ⁿ·e^r, r = x − n·ln2 (|r| ≤ ln2/2); `scale(ni, p)` applies 2ⁿ (ni: n in i32 lanes) to p = e^r.
 * n comes from the round-to-integer magic number: the same n as nearest(x·log2e) for |x| < 2²¹, and
 * its i32 lanes by one integer subtract (trunc_sat is a long sequence on x64).
 */
function expCore(v: Vec, x: Expr, lo: number, hi: number, scale: (ni: () => Expr, p: Expr) => Expr): Expr {
  const m = v.m;
  // variable first: pmax(x, c) = x < c ? c : x keeps NaN (pmax(c, x) would turn it into c)
  return v.let(m.f32x4.pmin(m.f32x4.pmax(x, v.k(lo)), v.k(hi)), (xc) =>
    v.let(v.add(v.mul(v.get(xc), v.k(LOG2E)), v.k(ROUND_MAGIC)), (t) =>
      v.let(v.sub(v.get(t), v.k(ROUND_MAGIC)), (n) =>
        v.let(v.sub(v.sub(v.get(xc), v.mul(v.get(n), v.k(LN2_HI))), v.mul(v.get(n), v.k(LN2_LO))), (r) =>
          scale(() => m.i32x4.sub(v.get(t), v.ki(ROUND_MAGIC_BITS)),
            v.add(v.add(v.mul(v.poly(r, EXP_P), v.mul(v.get(r), v.get(r))), v.get(r)), v.k(1)))))));
}

/** 2ⁿ as f32 bits for n in [-126, 128] (128 gives +Inf). */
const pow2 = (v: Vec, n: Expr) => v.m.i32x4.shl(v.m.i32x4.add(n, v.ki(127)), v.m.i32.const(23));

/**
 * e^x over the whole f32 range: x clamped to [-105, 89] and 2ⁿ applied in two halves, so results
 * overflow to +Inf, go through the denormals and reach 0 as float64's e^x rounded to f32 does.
 */
export function exp(fb: FnBuilder, x: Expr): Expr {
  const v = new Vec(fb), m = v.m;
  // (p·2ʰ)·2ⁿ⁻ʰ: 2ⁿ itself would overflow at n = 128 and underflow below −126
  return expCore(v, x, -105, 89, (nE, p) => v.let(nE(), (ni) =>
    v.let(m.i32x4.shr_s(v.get(ni), m.i32.const(1)), (h) =>
      v.mul(v.mul(p, pow2(v, v.get(h))), pow2(v, m.i32x4.sub(v.get(ni), v.get(h)))))));
}

/** expSaturating's clamp of x: +Inf from x ≈ 88.4, 1.2e-38 at the bottom. */
const SAT_LO = -87.3, SAT_HI = 88.5;

/**
 * e^x clamped to [-87.3, 88.5] with one 2ⁿ: +Inf from x ≈ 88.4 (a little early), 1.2e-38 at the
 * bottom. For sigmoid, tanh and erf, where neither end shows; 5 instructions cheaper than exp().
 */
export function expSaturating(fb: FnBuilder, x: Expr): Expr {
  const v = new Vec(fb);
  return expCore(v, x, SAT_LO, SAT_HI, (ni, p) => v.mul(p, pow2(v, ni())));
}

/** e^−r on |r| ≤ ln2/2 as 1 − r + r²·P(−r): EXP_P with its odd-degree coefficients negated. */
const EXP_P_NEG = EXP_P.map((c, i) => ((EXP_P.length - 1 - i) % 2 ? -c : c));

/**
 * Multiply-class vector instructions (multiplies and multiply-adds) that sigmoid and SiLU take per 4
 * lanes, besides one division: on x86 they share two pipes with a conv's multiply-adds, which bounds
 * a SiLU layer's share of the multiply-add peak (bench/layers.ts). test/wasm-scalar.test.ts counts them.
 */
export const SIGMOID_MULTIPLIES = 10;

/**
 * num/(1 + e^−x): sigmoid(x) with num = 1, and num·sigmoid(x) with one division instead of a
 * division and a multiply (SiLU: num = x). 0 at −Inf (e^Inf = Inf), 1 at +Inf, NaN at NaN; SiLU
 * gives −Inf/Inf = NaN at −Inf, as the reference's −Inf·0. The same e^−x as expSaturating(−x) with
 * fewer instructions, as it runs in every output of a SiLU conv: no negation (r' = x + n·ln2 = −r,
 * and the polynomial in −r'), 2ⁿ in two integer ops, its product with e^r and the 1 + in one
 * multiply-add, and the relaxed build's multiply-adds fused.
 * One multiply-add for x + n·ln2 (exp needs ln2 in two parts): its error, below |x|·2⁻²⁴ + |n|·2e-9,
 * is a relative error of e^−x, which moves sigmoid by σ(1 − σ) ≤ e^−|x| times it: < 3e-8 at most.
 * Measured (interleaved, relaxed build, one process): a depthwise 3×3 SiLU conv 6–9% faster than
 * with a two-part ln2 and a separate multiply by x.
 */
export function sigmoid(fb: FnBuilder, x: Expr, num?: Expr): Expr {
  const v = new Vec(fb), m = v.m;
  // −x clamped as in expSaturating; variable first keeps NaN
  return v.let(m.f32x4.pmin(m.f32x4.pmax(x, v.k(-SAT_HI)), v.k(-SAT_LO)), (xc) =>
    v.let(v.madd(v.get(xc), v.k(-LOG2E), v.k(ROUND_MAGIC)), (t) =>
      v.let(v.sub(v.get(t), v.k(ROUND_MAGIC)), (n) =>
        v.let(v.madd(v.get(n), v.k(LN2_F32), v.get(xc)), (r) => {
          let p = v.k(EXP_P_NEG[0]);
          for (const c of EXP_P_NEG.slice(1)) p = v.madd(p, v.get(r), v.k(c));
          const er = v.madd(v.mul(v.get(r), v.get(r)), p, v.sub(v.k(1), v.get(r)));
          // 2ⁿ: n sits in t's low bits (t = 1.5·2²³ + n), so (t − MAGIC_BITS + 127) << 23
          const pow2n = m.i32x4.shl(m.i32x4.add(v.get(t), v.ki(127 - ROUND_MAGIC_BITS)), m.i32.const(23));
          return v.div(num ?? v.k(1), v.madd(er, pow2n, v.k(1)));
        }))));
}

/**
 * tanh x = 2·sigmoid(2x) − 1: exactly ±1 at ±Inf. Near 0 that form cancels to an absolute error
 * ~1e-7 (tiny x would give 0), so below |x| = 1/8 the Taylor series to x⁷ (truncation < 1e-8
 * relatively; keeps ±0 and denormals as the reference does).
 */
export function tanh(fb: FnBuilder, x: Expr): Expr {
  const v = new Vec(fb), m = v.m;
  return v.let(x, (l) => v.let(v.mul(v.get(l), v.get(l)), (x2) => {
    // x·(1 + x²·(−1/3 + x²·(2/15 − x²·17/315))): a product, so −0 stays −0
    const poly = v.add(v.k(-1 / 3), v.mul(v.get(x2), v.add(v.k(2 / 15), v.mul(v.get(x2), v.k(-17 / 315)))));
    const series = v.mul(v.get(l), v.add(v.k(1), v.mul(v.get(x2), poly)));
    const wide = v.sub(v.mul(v.k(2), sigmoid(fb, v.mul(v.get(l), v.k(2)))), v.k(1));
    return v.sel(m.f32x4.lt(m.f32x4.abs(v.get(l)), v.k(0.125)), series, wide);
  }));
}

/** −1, 0 or 1; NaN and ±0 stay as they are. */
export function sign(fb: FnBuilder, x: Expr): Expr {
  const v = new Vec(fb), m = v.m;
  return v.let(x, (l) => v.sel(m.f32x4.gt(v.get(l), v.k(0)), v.k(1), v.sel(m.f32x4.lt(v.get(l), v.k(0)), v.k(-1), v.get(l))));
}

// ---- module functions: added once per module, called per vector ----

/** Calls `name(args)`, adding the function (v128 params → v128) to the module on first use. */
function callMath(fb: FnBuilder, name: string, args: Expr[], body: (v: Vec) => Expr): Expr {
  const m = fb.m;
  if (!m.getFunction(name)) {
    const f = new FnBuilder(m, args.length);
    const params = binaryen.createType(args.map(() => v128));
    m.addFunction(name, params, v128, f.vars, withScratch(f, () => body(new Vec(f))));
  }
  return m.call(name, args, v128);
}

const SQRTHF = 0.707106781186547524;
/** Cephes logf: ln(1 + f) ≈ f − f²/2 + f³·P(f) on f ∈ [√½ − 1, √2 − 1]. */
const LOG_P = [7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1, -1.6668057665e-1,
  2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1];

/** ln x: x = 2ᵉ·m with m ∈ [√½, √2) (denormals scaled by 2²³ first); ±0 → −Inf, x < 0 → NaN, +Inf → +Inf. */
export function log(fb: FnBuilder, x: Expr): Expr {
  return callMath(fb, 'math_log', [x], (v) => {
    const m = v.m, X = () => v.get(0);
    return v.let(m.f32x4.lt(X(), v.k(1.17549435e-38)), (sub) =>
      v.let(v.sel(v.get(sub), v.mul(X(), v.k(8388608)), X()), (xs) =>
        // exponent with m ∈ [0.5, 1): e = field − 126 (− 23 for scaled denormals)
        v.let(m.i32x4.sub(m.i32x4.shr_u(v.get(xs), m.i32.const(23)), v.sel(v.get(sub), v.ki(126 + 23), v.ki(126))), (e) =>
          v.let(m.v128.or(v.and(v.get(xs), v.ki(0x007fffff)), v.ki(0x3f000000)), (mant) =>
            v.let(m.f32x4.lt(v.get(mant), v.k(SQRTHF)), (small) =>
              // m < √½: use 2m and e − 1 (the mask is −1 in each lane that moves)
              v.let(m.f32x4.convert_i32x4_s(m.i32x4.add(v.get(e), v.get(small))), (fe) =>
                v.let(v.sub(v.add(v.get(mant), v.and(v.get(mant), v.get(small))), v.k(1)), (f) =>
                  v.let(v.mul(v.get(f), v.get(f)), (z) => {
                    let y = v.mul(v.mul(v.poly(f, LOG_P), v.get(f)), v.get(z));
                    y = v.add(y, v.mul(v.get(fe), v.k(LN2_LO)));
                    y = v.sub(y, v.mul(v.get(z), v.k(0.5)));
                    const r = v.add(v.add(v.get(f), y), v.mul(v.get(fe), v.k(LN2_HI)));
                    // +Inf and NaN give themselves, x < 0 NaN, ±0 −Inf
                    const finite = v.sel(m.f32x4.lt(X(), v.k(Infinity)), r, X());
                    return v.sel(m.f32x4.eq(X(), v.k(0)), v.k(-Infinity), v.sel(m.f32x4.lt(X(), v.k(0)), v.k(NaN), finite));
                  }))))))));
  });
}

/** ln(1 + x) = ln u · x/(u − 1), u = 1 + x (the rounding of u cancels); x where u = 1; +Inf at +Inf. */
export function log1p(fb: FnBuilder, x: Expr): Expr {
  return callMath(fb, 'math_log1p', [x], (v) => {
    const m = v.m, X = () => v.get(0);
    return v.let(v.add(v.k(1), X()), (u) => v.let(v.sub(v.get(u), v.k(1)), (d) => {
      const r = v.mul(log(v.fb, v.get(u)), v.div(X(), v.get(d)));
      return v.sel(m.f32x4.eq(v.get(d), v.k(0)), X(), v.sel(m.f32x4.eq(X(), v.k(Infinity)), X(), r));
    }));
  });
}

/** e^x − 1: Taylor series to x⁸ for |x| < 0.5 (no cancellation), exp(x) − 1 beyond. */
export function expm1(fb: FnBuilder, x: Expr): Expr {
  return callMath(fb, 'math_expm1', [x], (v) => {
    const m = v.m, X = () => v.get(0);
    const taylor = v.mul(X(), v.poly(0, [1 / 40320, 1 / 5040, 1 / 720, 1 / 120, 1 / 24, 1 / 6, 1 / 2, 1]));
    return v.sel(m.f32x4.lt(m.f32x4.abs(X()), v.k(0.5)), taylor, v.sub(exp(v.fb, X()), v.k(1)));
  });
}

/** Abramowitz–Stegun 7.1.26 coefficients: erf x ≈ 1 − t·P(t)·e^(−x²), t = 1/(1 + p·x). */
const ERF_AS = [1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592];
/** erf x = 2/√π·(x − x³/3 + x⁵/10 − …) to x¹³ for |x| < 0.5. */
const ERF_TAYLOR = [-1 / 75600, 1 / 9360, -1 / 1320, 1 / 216, -1 / 42, 1 / 10, -1 / 3, 1].map((c) => c * 2 / Math.sqrt(Math.PI));

/** erf x: a series near 0 (relative accuracy), A&S 7.1.26 beyond (|error| ≤ 1.5e-7); ±1 at ±Inf. */
export function erf(fb: FnBuilder, x: Expr): Expr {
  return callMath(fb, 'math_erf', [x], (v) => {
    const m = v.m, X = () => v.get(0);
    return v.let(m.f32x4.abs(X()), (a) => v.let(v.div(v.k(1), v.add(v.k(1), v.mul(v.k(0.3275911), v.get(a)))), (t) =>
      v.let(v.mul(X(), X()), (x2) => {
        const far = v.sub(v.k(1), v.mul(v.mul(v.poly(t, ERF_AS), v.get(t)), expSaturating(v.fb, m.f32x4.neg(v.get(x2)))));
        // copy the sign of x onto the far form (erf is odd)
        const signed = m.v128.or(v.and(far, v.ki(0x7fffffff)), v.and(X(), v.ki(0x80000000 | 0)));
        const near = v.mul(X(), v.poly(x2, ERF_TAYLOR));
        return v.sel(m.f32x4.lt(v.get(a), v.k(0.5)), near, signed);
      })));
  });
}

/** π/2 in three parts (Cephes): j·PIO2_1 and j·PIO2_2 are exact for |j| < 2¹³, i.e. |x| ≤ 8192. */
const PIO2 = [1.5703125, 4.837512969970703125e-4, 7.54978995489188216e-8];
const SIN_P = [-1.9515295891e-4, 8.3321608736e-3, -1.6666654611e-1];
const COS_P = [2.443315711809948e-5, -1.388731625493765e-3, 4.166664568298827e-2];

/**
 * sin x (quarter = 0) or cos x (quarter = 1): x = j·π/2 + r with |r| ≤ π/4, then ±sin r or ±cos r
 * by quadrant j + quarter. NaN and ±Inf give NaN.
 */
function sinCos(fb: FnBuilder, x: Expr, quarter: 0 | 1): Expr {
  return callMath(fb, quarter ? 'math_cos' : 'math_sin', [x], (v) => {
    const m = v.m, X = () => v.get(0);
    return v.let(m.f32x4.nearest(v.mul(X(), v.k(2 / Math.PI))), (j) =>
      v.let(PIO2.reduce((r, p) => v.sub(r, v.mul(v.get(j), v.k(p))), X()), (r) =>
        v.let(v.mul(v.get(r), v.get(r)), (z) =>
          v.let(m.i32x4.add(m.i32x4.trunc_sat_f32x4_s(v.get(j)), v.ki(quarter)), (q) => {
            const s = v.add(v.get(r), v.mul(v.mul(v.get(r), v.get(z)), v.poly(z, SIN_P)));
            const c = v.add(v.sub(v.k(1), v.mul(v.get(z), v.k(0.5))), v.mul(v.mul(v.get(z), v.get(z)), v.poly(z, COS_P)));
            // quadrant q: sin r, cos r, −sin r, −cos r
            const odd = m.i32x4.eq(v.and(v.get(q), v.ki(1)), v.ki(1));
            const negate = m.i32x4.shl(v.and(v.get(q), v.ki(2)), m.i32.const(30));
            return m.v128.xor(v.sel(odd, c, s), negate);
          }))));
  });
}

export const sin = (fb: FnBuilder, x: Expr): Expr => sinCos(fb, x, 0);
export const cos = (fb: FnBuilder, x: Expr): Expr => sinCos(fb, x, 1);

/**
 * a^b as JavaScript's Math.pow (the reference): e^(b·ln|a|), negated for a < 0 (or −0, −Inf) with
 * b an odd integer, NaN for finite a < 0 with b not an integer, 1 for b = ±0 (even when a is NaN);
 * |a| = 1 with b = ±Inf gives NaN (Math.pow; C gives 1).
 */
export function pow(fb: FnBuilder, a: Expr, b: Expr): Expr {
  return callMath(fb, 'math_pow', [a, b], (v) => {
    const m = v.m, A = () => v.get(0), B = () => v.get(1);
    const mag = exp(v.fb, v.mul(B(), log(v.fb, m.f32x4.abs(A()))));
    return v.let(m.f32x4.eq(m.f32x4.floor(B()), B()), (isInt) => {
      // odd: an integer below 2²⁴ (every larger f32 is even) whose lowest bit is set
      const odd = v.and(v.and(v.get(isInt), m.f32x4.lt(m.f32x4.abs(B()), v.k(16777216))),
        m.i32x4.eq(v.and(m.i32x4.trunc_sat_f32x4_s(B()), v.ki(1)), v.ki(1)));
      const signed = m.v128.xor(mag, v.and(odd, v.and(A(), v.ki(0x80000000 | 0))));
      const negFinite = v.and(m.f32x4.lt(A(), v.k(0)), m.f32x4.gt(A(), v.k(-Infinity)));
      const checked = v.sel(m.v128.andnot(negFinite, v.get(isInt)), v.k(NaN), signed);
      return v.sel(m.f32x4.eq(B(), v.k(0)), v.k(1), checked);
    });
  });
}
