/**
 * Generic (scalar, not SIMD) reduction kernels for the ops without a specialised one: Reduce*
 * over any axes, and LogSoftmax along one axis. Reductions accumulate in f64 like the reference
 * interpreter, so sums of many terms round once, at the end.
 */
import binaryen from 'binaryen';
import { FnBuilder, Ops, f32, i32, none, type Expr } from './builder.js';
import { exp, log, pow, withScratch } from './math.js';
import { load, store } from './kernels-typed.js';
import { BYTES_PER_ELEMENT, type DType } from '../../runtime/tensor.js';

export type ReduceKind = 'sum' | 'mean' | 'max' | 'min';

export interface ReduceSpec {
  name: string;
  X: number;
  Y: number;
  /** Kept dims (in input order) and their input element strides; the output is dense in this order. */
  kept: number[]; keptStrides: number[];
  /** Reduced dims (every size ≥ 1) and their input element strides. */
  red: number[]; redStrides: number[];
  kind: ReduceKind;
  /** The element dtype (f32 unless given): loads are exact in f64, the store rounds or truncates like the reference. */
  dtype?: DType;
}

const INIT: Record<ReduceKind, number> = { sum: 0, mean: 0, max: -Infinity, min: Infinity };

/** Nested counted loops over `dims` (each ≥ 1) with index locals `idx`, around `inner`. */
function nest(fb: FnBuilder, o: Ops, dims: number[], idx: number[], inner: Expr[]): Expr[] {
  let body = inner;
  for (let d = dims.length - 1; d >= 0; d--) body = [fb.loop(idx[d], o.c(0), dims[d], 1, body)];
  return body;
}

/**
 * Y[k] = fold over the reduced dims of X. max/min propagate NaN (f64.max/min do), as the
 * reference's fold does; mean divides the f64 sum by the count.
 */
export function emitReduce(m: binaryen.Module, s: ReduceSpec): void {
  const fb = new FnBuilder(m, 0), o = new Ops(m);
  const f64 = binaryen.f64;
  const acc = fb.local(f64), yp = fb.local(i32), base = fb.local(i32);
  const ki = s.kept.map(() => fb.local(i32)), ri = s.red.map(() => fb.local(i32));
  const d = s.dtype ?? 'f32', eb = BYTES_PER_ELEMENT[d];
  const offset = (idx: number[], strides: number[], start: Expr) => idx.reduce((e, l, k) => o.add(e, o.mul(fb.geti(l), strides[k] * eb)), start);
  const x = load(fb, offset(ri, s.redStrides, fb.geti(base)), d);
  const a = () => fb.get(acc, f64); // a fresh expression per use: binaryen's trees share no nodes
  const step = s.kind === 'max' ? m.f64.max(a(), x) : s.kind === 'min' ? m.f64.min(a(), x) : m.f64.add(a(), x);
  const count = s.red.reduce((p, d) => p * d, 1);
  const result = s.kind === 'mean' ? m.f64.div(a(), m.f64.const(count)) : a();
  const body = nest(fb, o, s.kept, ki, [
    fb.set(base, offset(ki, s.keptStrides, o.c(s.X))),
    fb.set(acc, m.f64.const(INIT[s.kind])),
    ...nest(fb, o, s.red, ri, [fb.set(acc, step)]),
    fb.set(acc, result),
    store(fb, fb.geti(yp), acc, d, false),
    fb.set(yp, o.addc(fb.geti(yp), eb)),
  ]);
  m.addFunction(s.name, none, none, fb.vars, m.block(null, [fb.set(yp, o.c(s.Y)), ...body]));
}

/** LogSoftmax along an axis of n elements: y = (x − max) − log Σ exp(x − max), for outer × inner rows. */
export function emitLogSoftmax(m: binaryen.Module, name: string, X: number, Y: number, outer: number, n: number, inner: number): void {
  const fb = new FnBuilder(m, 0), o = new Ops(m);
  const a = fb.local(i32), b = fb.local(i32), k = fb.local(i32), base = fb.local(i32);
  const mx = fb.local(f32), sum = fb.local(f32), lse = fb.local(f32);
  const at = (arr: number) => o.add(fb.geti(base), o.addc(o.mul(fb.geti(k), inner * 4), arr));
  const lane = (f: typeof exp, x: Expr) => m.f32x4.extract_lane(withScratch(fb, () => f(fb, m.f32x4.splat(x))), 0);
  const z = () => m.f32.sub(m.f32.load(0, 4, at(X)), fb.get(mx, f32));
  const body = fb.loop(a, o.c(0), outer, 1, [fb.loop(b, o.c(0), inner, 1, [
    fb.set(base, o.add(o.mul(fb.geti(a), n * inner * 4), o.mul(fb.geti(b), 4))),
    fb.set(mx, m.f32.const(-Infinity)),
    fb.loop(k, o.c(0), n, 1, [fb.set(mx, m.f32.max(fb.get(mx, f32), m.f32.load(0, 4, at(X))))]),
    fb.set(sum, m.f32.const(0)),
    fb.loop(k, o.c(0), n, 1, [fb.set(sum, m.f32.add(fb.get(sum, f32), lane(exp, z())))]),
    fb.set(lse, lane(log, fb.get(sum, f32))),
    fb.loop(k, o.c(0), n, 1, [m.f32.store(0, 4, at(Y), m.f32.sub(z(), fb.get(lse, f32)))]),
  ])]);
  m.addFunction(name, none, none, fb.vars, body);
}

/**
 * InstanceNormalization: each of `rows` rows of `count` floats normalized in f64 (mean, then the
 * mean squared deviation), times S[row % C] plus B[row % C].
 */
export function emitInstanceNorm(m: binaryen.Module, name: string, X: number, Y: number, rows: number, count: number, C: number, eps: number, S: number, B: number): void {
  const fb = new FnBuilder(m, 0), o = new Ops(m);
  const f64 = binaryen.f64;
  const r = fb.local(i32), k = fb.local(i32), base = fb.local(i32), ch = fb.local(i32);
  const mean = fb.local(f64), v = fb.local(f64), d = fb.local(f64);
  const xk = () => m.f64.promote(m.f32.load(0, 4, o.add(fb.geti(base), o.addc(o.mul(fb.geti(k), 4), X))));
  const param = (A: number) => m.f64.promote(m.f32.load(0, 4, o.addc(o.mul(fb.geti(ch), 4), A)));
  const body = fb.loop(r, o.c(0), rows, 1, [
    fb.set(base, o.mul(fb.geti(r), count * 4)),
    fb.set(ch, m.i32.rem_u(fb.geti(r), o.c(C))),
    fb.set(mean, m.f64.const(0)),
    fb.loop(k, o.c(0), count, 1, [fb.set(mean, m.f64.add(fb.get(mean, f64), xk()))]),
    fb.set(mean, m.f64.div(fb.get(mean, f64), m.f64.const(count))),
    fb.set(v, m.f64.const(0)),
    fb.loop(k, o.c(0), count, 1, [fb.set(d, m.f64.sub(xk(), fb.get(mean, f64))), fb.set(v, m.f64.add(fb.get(v, f64), m.f64.mul(fb.get(d, f64), fb.get(d, f64))))]),
    fb.set(v, m.f64.div(param(S), m.f64.sqrt(m.f64.add(m.f64.div(fb.get(v, f64), m.f64.const(count)), m.f64.const(eps))))),
    fb.loop(k, o.c(0), count, 1, [
      m.f32.store(0, 4, o.add(fb.geti(base), o.addc(o.mul(fb.geti(k), 4), Y)),
        m.f32.demote(m.f64.add(m.f64.mul(m.f64.sub(xk(), fb.get(mean, f64)), fb.get(v, f64)), param(B)))),
    ]),
  ]);
  m.addFunction(name, none, none, fb.vars, body);
}

export interface LrnSpec {
  name: string; X: number; Y: number;
  N: number; C: number; P: number; nhwc: boolean;
  size: number; alpha: number; beta: number; bias: number;
}

/** LRN across channels: y = x / (bias + alpha/size · Σ_window x²)^beta, the sum in f64. */
export function emitLrn(m: binaryen.Module, s: LrnSpec): void {
  const fb = new FnBuilder(m, 0), o = new Ops(m);
  const f64 = binaryen.f64;
  const [cs, ps] = s.nhwc ? [1, s.C] : [s.P, 1];
  const lo = Math.floor((s.size - 1) / 2), hi = Math.ceil((s.size - 1) / 2);
  const n = fb.local(i32), c = fb.local(i32), p = fb.local(i32), k = fb.local(i32), base = fb.local(i32), sum = fb.local(f64), t = fb.local(f32);
  const at = (arr: number, ch: Expr) => o.add(o.addc(fb.geti(base), arr), o.mul(ch, cs * 4));
  const xk = () => m.f64.promote(m.f32.load(0, 4, at(s.X, fb.geti(k))));
  const window = fb.loopDyn(k, m.select(m.i32.gt_s(o.addc(fb.geti(c), -lo), o.c(0)), o.addc(fb.geti(c), -lo), o.c(0)),
    m.select(m.i32.lt_s(o.addc(fb.geti(c), hi + 1), o.c(s.C)), o.addc(fb.geti(c), hi + 1), o.c(s.C)), 1,
    [fb.set(sum, m.f64.add(fb.get(sum, f64), m.f64.mul(xk(), xk())))]);
  const den = m.f32.demote(m.f64.add(m.f64.const(s.bias), m.f64.mul(m.f64.const(s.alpha / s.size), fb.get(sum, f64))));
  const powed = m.f32x4.extract_lane(withScratch(fb, () => pow(fb, m.f32x4.splat(den), m.f32x4.splat(m.f32.const(s.beta)))), 0);
  const body = fb.loop(n, o.c(0), s.N, 1, [fb.loop(p, o.c(0), s.P, 1, [
    fb.set(base, o.add(o.mul(fb.geti(n), s.C * s.P * 4), o.mul(fb.geti(p), ps * 4))),
    fb.loop(c, o.c(0), s.C, 1, [
      fb.set(sum, m.f64.const(0)), window,
      fb.set(t, powed),
      m.f32.store(0, 4, at(s.Y, fb.geti(c)), m.f32.div(m.f32.load(0, 4, at(s.X, fb.geti(c))), fb.get(t, f32))),
    ]),
  ])]);
  m.addFunction(s.name, none, none, fb.vars, body);
}
