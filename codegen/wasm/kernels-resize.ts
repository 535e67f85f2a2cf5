/**
 * Resampling along one axis with taps fixed at compile time (Resize linear and cubic, every
 * coordinate transform: the reference's own taps, ir/ops/resize.ts): out[o, i, q] = Σ_k w[i][k] ·
 * in[o, idx[i][k], q], summed in f64. The table holds, per output index, K i32 indices then K f32 weights.
 */
import binaryen from 'binaryen';
import { FnBuilder, Ops, i32, none } from './builder.js';

export interface ResampleSpec {
  name: string; X: number; Y: number;
  outer: number; inLen: number; outLen: number; inner: number;
  K: number; T: number;
}

export function emitResampleAxis(m: binaryen.Module, s: ResampleSpec): void {
  const fb = new FnBuilder(m, 0), o = new Ops(m);
  const f64 = binaryen.f64;
  const a = fb.local(i32), i = fb.local(i32), q = fb.local(i32), k = fb.local(i32), tp = fb.local(i32), yp = fb.local(i32), acc = fb.local(f64);
  const tap = [
    // x = X[(a·inLen + idx)·inner + q]
    fb.set(acc, m.f64.add(fb.get(acc, f64), m.f64.mul(
      m.f64.promote(m.f32.load(0, 4, o.add(o.add(o.addc(o.mul(fb.geti(a), s.inLen * s.inner * 4), s.X), o.mul(fb.geti(q), 4)),
        o.mul(m.i32.load(0, 4, o.add(fb.geti(tp), o.mul(fb.geti(k), 4))), s.inner * 4)))),
      m.f64.promote(m.f32.load(s.K * 4, 4, o.add(fb.geti(tp), o.mul(fb.geti(k), 4))))))),
  ];
  const body = fb.loop(a, o.c(0), s.outer, 1, [fb.loop(i, o.c(0), s.outLen, 1, [
    fb.set(tp, o.addc(o.mul(fb.geti(i), s.K * 8), s.T)),
    fb.loop(q, o.c(0), s.inner, 1, [
      fb.set(acc, m.f64.const(0)),
      fb.loop(k, o.c(0), s.K, 1, tap),
      m.f32.store(0, 4, fb.geti(yp), m.f32.demote(fb.get(acc, f64))),
      fb.set(yp, o.addc(fb.geti(yp), 4)),
    ]),
  ])]);
  m.addFunction(s.name, none, none, fb.vars, m.block(null, [fb.set(yp, o.c(s.Y)), body]));
}

export interface FillRowsSpec {
  name: string; Y: number;
  outer: number; len: number; inner: number;
  /** [begin, end) ranges of indices along the axis to fill. */
  ranges: readonly (readonly [number, number])[];
  value: number;
}

/** Y[o, i, q] = value for i in the ranges (tf_crop_and_resize samples outside the box: extrapolation_value). */
export function emitFillRows(m: binaryen.Module, s: FillRowsSpec): void {
  const fb = new FnBuilder(m, 0), o = new Ops(m);
  const a = fb.local(i32), i = fb.local(i32), q = fb.local(i32);
  const body = s.ranges.map(([b, e]) => fb.loop(a, o.c(0), s.outer, 1, [fb.loop(i, o.c(b), e, 1, [fb.loop(q, o.c(0), s.inner, 1, [
    m.f32.store(0, 4, o.add(o.add(o.addc(o.mul(fb.geti(a), s.len * s.inner * 4), s.Y), o.mul(fb.geti(i), s.inner * 4)), o.mul(fb.geti(q), 4)), m.f32.const(s.value)),
  ])])]));
  m.addFunction(s.name, none, none, fb.vars, m.block(null, body));
}
