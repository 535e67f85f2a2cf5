/**
 * The index gather: Y[i] = X[T[i]] element by element, or the fill element where T[i] < 0, for
 * elements of 1, 2, 4 or 8 bytes (any dtype). T is a compile-time table: every pure data-movement
 * op with compile-time indices (Pad in every mode, DepthToSpace, SpaceToDepth, Gather with constant
 * indices, Transpose, Slice, Tile, Expand of any dtype) lowers to it.
 */
import binaryen from 'binaryen';
import { FnBuilder, Ops, i32, none, type Expr } from './builder.js';

export interface IndexGatherSpec { name: string; X: number; Y: number; T: number; F: number; count: number; bytes: number }

export function emitIndexGather(m: binaryen.Module, s: IndexGatherSpec): void {
  const fb = new FnBuilder(m, 0), o = new Ops(m);
  const i = fb.local(i32), t = fb.local(i32), src = fb.local(i32);
  const w = s.bytes;
  const load = (p: Expr): Expr => (w === 8 ? m.i64.load(0, 1, p) : w === 4 ? m.i32.load(0, 1, p) : w === 2 ? m.i32.load16_u(0, 1, p) : m.i32.load8_u(0, 1, p));
  const dst = o.addc(o.mul(fb.geti(i), w), s.Y);
  const store = (v: Expr): Expr => (w === 8 ? m.i64.store(0, 1, dst, v) : w === 4 ? m.i32.store(0, 1, dst, v) : w === 2 ? m.i32.store16(0, 1, dst, v) : m.i32.store8(0, 1, dst, v));
  const body = fb.loop(i, o.c(0), s.count, 1, [
    fb.set(t, m.i32.load(0, 4, o.addc(o.mul(fb.geti(i), 4), s.T))),
    fb.set(src, m.select(m.i32.lt_s(fb.geti(t), o.c(0)), o.c(s.F), o.addc(o.mul(fb.geti(t), w), s.X))),
    store(load(fb.geti(src))),
  ]);
  m.addFunction(s.name, none, none, fb.vars, body);
}

export interface RuntimeGatherSpec {
  name: string; X: number; I: number; Y: number;
  outer: number; axisLen: number; count: number; inner: number;
  /** Bytes per data element and per index (4: i32, 8: i64). */
  bytes: number; indexBytes: number;
}

/**
 * Gather with indices read at run time: Y[o, j, q] = X[o, idx[j], q], a negative index counting
 * from the end. An index out of range traps (the runtime reports the trap) rather than read
 * outside the data.
 */
export function emitRuntimeGather(m: binaryen.Module, s: RuntimeGatherSpec): void {
  const fb = new FnBuilder(m, 0), o = new Ops(m);
  const a = fb.local(i32), j = fb.local(i32), q = fb.local(i32), ix = fb.local(i32), yp = fb.local(i32), w = s.bytes;
  // the index as i64 (i32 indices sign-extended), so a huge i64 index cannot wrap into range
  const v = fb.local(binaryen.i64), V = () => fb.get(v, binaryen.i64), L = () => m.i64.extend_s(o.c(s.axisLen));
  const rawIdx = s.indexBytes === 8 ? m.i64.load(0, 1, o.addc(o.mul(fb.geti(j), 8), s.I)) : m.i64.extend_s(m.i32.load(0, 1, o.addc(o.mul(fb.geti(j), 4), s.I)));
  const src = o.add(o.addc(o.mul(fb.geti(a), s.axisLen * s.inner * w), s.X), o.add(o.mul(fb.geti(ix), s.inner * w), o.mul(fb.geti(q), w)));
  const load = (p: Expr): Expr => (w === 8 ? m.i64.load(0, 1, p) : w === 4 ? m.i32.load(0, 1, p) : w === 2 ? m.i32.load16_u(0, 1, p) : m.i32.load8_u(0, 1, p));
  const store = (v: Expr): Expr => (w === 8 ? m.i64.store(0, 1, fb.geti(yp), v) : w === 4 ? m.i32.store(0, 1, fb.geti(yp), v) : w === 2 ? m.i32.store16(0, 1, fb.geti(yp), v) : m.i32.store8(0, 1, fb.geti(yp), v));
  const body = fb.loop(a, o.c(0), s.outer, 1, [fb.loop(j, o.c(0), s.count, 1, [
    fb.set(v, rawIdx),
    m.if(m.i64.lt_s(V(), m.i64.extend_s(o.c(0))), fb.set(v, m.i64.add(V(), L()))),
    m.if(m.i64.ge_u(V(), L()), m.unreachable()),
    fb.set(ix, m.i32.wrap(V())),
    fb.loop(q, o.c(0), s.inner, 1, [store(load(src)), fb.set(yp, o.addc(fb.geti(yp), w))]),
  ])]);
  m.addFunction(s.name, none, none, fb.vars, m.block(null, [fb.set(yp, o.c(s.Y)), body]));
}
