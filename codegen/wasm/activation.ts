/**
 * Activations on f32x4 values, applied in kernels' stores (fused epilogues) and by the elementwise
 * kernel. exp and erf are small wasm functions ($exp4, $erf4) with f32-accurate polynomials
 * (Cephes expf, Abramowitz–Stegun 7.1.26 erf: |error| ≤ 1.5e-7).
 */
import type binaryen from 'binaryen';
import { FnBuilder, v128, type Expr } from './builder.js';

export const SUPPORTED_ACTIVATIONS = new Set(['', 'relu', 'leaky_relu', 'clip', 'sigmoid', 'hard_sigmoid', 'hard_swish', 'silu', 'gelu', 'gelu_tanh', 'tanh', 'erf']);

const sp = (m: binaryen.Module, x: number) => m.f32x4.splat(m.f32.const(x));

/** Adds $exp4 and $erf4 (v128 → v128) to the module. */
export function addMathFunctions(m: binaryen.Module): void {
  {
    const fb = new FnBuilder(m, 1);
    const x = 0, n = fb.local(v128), r = fb.local(v128);
    const g = (i: number) => m.local.get(i, v128);
    const mul = m.f32x4.mul.bind(m.f32x4), add = m.f32x4.add.bind(m.f32x4), sub = m.f32x4.sub.bind(m.f32x4);
    let p = sp(m, 1.9875691500e-4);
    for (const c of [1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1]) p = add(mul(p, g(r)), sp(m, c));
    const body = m.block(null, [
      m.local.set(x, m.f32x4.pmin(sp(m, 88.3), m.f32x4.pmax(sp(m, -87.3), g(x)))),
      m.local.set(n, m.f32x4.nearest(mul(g(x), sp(m, 1.44269504088896341)))),
      m.local.set(r, sub(sub(g(x), mul(g(n), sp(m, 0.693359375))), mul(g(n), sp(m, -2.12194440e-4)))),
      m.return(mul(
        add(add(mul(p, mul(g(r), g(r))), g(r)), sp(m, 1)),
        m.i32x4.shl(m.i32x4.add(m.i32x4.trunc_sat_f32x4_s(g(n)), m.i32x4.splat(m.i32.const(127))), m.i32.const(23)),
      )),
    ]);
    m.addFunction('exp4', v128, v128, fb.vars, body);
  }
  {
    // erf(x) = sign(x)·(1 − t·poly(t)·e^(−x²)), t = 1/(1 + p|x|)
    const fb = new FnBuilder(m, 1);
    const x = 0, a = fb.local(v128), t = fb.local(v128);
    const g = (i: number) => m.local.get(i, v128);
    const mul = m.f32x4.mul.bind(m.f32x4), add = m.f32x4.add.bind(m.f32x4);
    let p = sp(m, 1.061405429);
    for (const c of [-1.453152027, 1.421413741, -0.284496736, 0.254829592]) p = add(mul(p, g(t)), sp(m, c));
    const y = m.f32x4.sub(sp(m, 1), mul(mul(p, g(t)), m.call('exp4', [m.f32x4.neg(mul(g(a), g(a)))], v128)));
    const body = m.block(null, [
      m.local.set(a, m.f32x4.abs(g(x))),
      m.local.set(t, m.f32x4.div(sp(m, 1), add(sp(m, 1), mul(sp(m, 0.3275911), g(a))))),
      // copy the sign of x onto y
      m.return(m.v128.or(m.v128.and(y, m.i32x4.splat(m.i32.const(0x7fffffff))), m.v128.and(g(x), m.i32x4.splat(m.i32.const(0x80000000 | 0))))),
    ]);
    m.addFunction('erf4', v128, v128, fb.vars, body);
  }
}

/** Scratch locals of the inlined exp, one set per function (each use completes before the next). */
const expLocals = new WeakMap<FnBuilder, { x: number; n: number; r: number }>();

/**
 * e^x inlined into the caller (the same polynomial as $exp4): a call per vector costs as much as
 * a 3×3 depthwise tap loop, and V8 11 does not inline wasm calls.
 */
export function expInline(fb: FnBuilder, e: Expr): Expr {
  const m = fb.m;
  let l = expLocals.get(fb);
  if (!l) { l = { x: fb.local(v128), n: fb.local(v128), r: fb.local(v128) }; expLocals.set(fb, l); }
  const { x, n, r } = l;
  const g = (i: number) => m.local.get(i, v128);
  const mul = m.f32x4.mul.bind(m.f32x4), add = m.f32x4.add.bind(m.f32x4), sub = m.f32x4.sub.bind(m.f32x4);
  let p = sp(m, 1.9875691500e-4);
  for (const c of [1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1]) p = add(mul(p, g(r)), sp(m, c));
  return m.block(null, [
    m.local.set(x, m.f32x4.pmin(sp(m, 88.3), m.f32x4.pmax(sp(m, -87.3), e))),
    m.local.set(n, m.f32x4.nearest(mul(g(x), sp(m, 1.44269504088896341)))),
    m.local.set(r, sub(sub(g(x), mul(g(n), sp(m, 0.693359375))), mul(g(n), sp(m, -2.12194440e-4)))),
    mul(
      add(add(mul(p, mul(g(r), g(r))), g(r)), sp(m, 1)),
      m.i32x4.shl(m.i32x4.add(m.i32x4.trunc_sat_f32x4_s(g(n)), m.i32x4.splat(m.i32.const(127))), m.i32.const(23)),
    ),
  ], v128);
}

/** The activation of the v128 in local `x` (read several times, so it must be a local). */
export function activation(fb: FnBuilder, kind: string, alpha: number, beta: number, x: number): Expr {
  const m = fb.m;
  const X = () => m.local.get(x, v128);
  const sig = (e: Expr) => m.f32x4.div(sp(m, 1), m.f32x4.add(sp(m, 1), expInline(fb, m.f32x4.neg(e))));
  const clamp = (e: Expr, lo: number, hi: number) => m.f32x4.pmin(sp(m, hi), m.f32x4.pmax(sp(m, lo), e));
  switch (kind) {
    case '': return X();
    case 'relu': return m.f32x4.pmax(sp(m, 0), X());
    case 'leaky_relu': return m.v128.bitselect(X(), m.f32x4.mul(X(), sp(m, alpha)), m.f32x4.ge(X(), sp(m, 0)));
    case 'clip': return clamp(X(), alpha, beta);
    case 'sigmoid': return sig(X());
    case 'hard_sigmoid': return clamp(m.f32x4.add(m.f32x4.mul(X(), sp(m, alpha)), sp(m, beta)), 0, 1);
    case 'hard_swish': return m.f32x4.mul(X(), clamp(m.f32x4.add(m.f32x4.mul(X(), sp(m, 1 / 6)), sp(m, 0.5)), 0, 1));
    case 'silu': return m.f32x4.mul(X(), sig(X()));
    case 'tanh': return m.f32x4.sub(m.f32x4.mul(sp(m, 2), sig(m.f32x4.mul(X(), sp(m, 2)))), sp(m, 1));
    case 'erf': return m.call('erf4', [X()], v128);
    case 'gelu': return m.f32x4.mul(m.f32x4.mul(X(), sp(m, 0.5)), m.f32x4.add(sp(m, 1), m.call('erf4', [m.f32x4.mul(X(), sp(m, Math.SQRT1_2))], v128)));
    case 'gelu_tanh': {
      // 0.5·x·(1 + tanh(z)) = x·sigmoid(2z), z = √(2/π)·(x + 0.044715x³)
      const x3 = m.f32x4.mul(m.f32x4.mul(X(), X()), X());
      const z = m.f32x4.mul(sp(m, 2 * Math.sqrt(2 / Math.PI)), m.f32x4.add(X(), m.f32x4.mul(x3, sp(m, 0.044715))));
      return m.f32x4.mul(X(), sig(z));
    }
    default: throw new Error(`activation '${kind}' has no wasm form`);
  }
}
