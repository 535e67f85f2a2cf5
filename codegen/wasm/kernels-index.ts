/**
 * The index gather: Y[i] = X[T[i]] element by element, or the fill element where T[i] < 0, for
 * elements of 1, 2, 4 or 8 bytes (any dtype). T is a compile-time table: every pure data-movement
 * op with compile-time indices (Pad in every mode, DepthToSpace, SpaceToDepth, Gather with constant
 * indices, Transpose, Slice, Tile, Expand of any dtype) lowers to it.
 */
import type binaryen from 'binaryen';
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
