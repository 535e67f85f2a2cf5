/**
 * y = ep(W·x + B) for one vector x: the batch-1 Gemm (a classifier's fully connected layer) and the
 * two layers of a squeeze-and-excitation gate. Memory-bound (each weight is used once), so the kernel
 * streams the weights, packed at compile time in blocks of 4 outputs ([block][k][4 lanes], conv.ts
 * packConvWeights with V = 1), with four independent accumulators per block so that the multiply-add
 * latency does not bound it, and x read 4 values per load. Eight accumulators (8 k per step) ran 1.5×
 * slower: V8 hoists the step's loads and spills. The conv microkernel's 4-pixel tile wasted 3 of its 4
 * rows on one vector: ResNet-18's fc ran at 35% of the stream bandwidth.
 */
import type binaryen from 'binaryen';
import { FnBuilder, Ops, i32, none, v128, type Expr } from './builder.js';
import { storeEpilogue, type Epilogue } from './conv.js';

export interface VecMatSpec extends Epilogue {
  /** Inputs and outputs. */
  K: number;
  O: number;
  /** Packed weights and bias (bias padded to whole blocks), the input vector, the output (and residual R, if any: O floats). */
  Wt: number;
  B: number;
  X: number;
  Y: number;
}

/** Adds `name_row(b)`: outputs 4b…4b+3 (fewer in the last block). Returns the number of blocks. */
export function emitVecMatRows(m: binaryen.Module, name: string, s: VecMatSpec): number {
  const fb = new FnBuilder(m, 1), o = new Ops(m);
  const i = fb.local(i32), xp = fb.local(i32), w = fb.local(i32), tmp = fb.local(v128), tmp2 = fb.local(v128), xv = fb.local(v128);
  const acc = [0, 1, 2, 3].map(() => fb.local(v128));
  const { K, O } = s, K4 = K - (K % 4), full = Math.floor(O / 4), blocks = Math.ceil(O / 4);
  const b16 = m.i32.shl(fb.geti(0), o.c(4));
  const store = (lanes: number) => storeEpilogue(fb, s,
    m.f32x4.add(m.f32x4.add(fb.getv(acc[0]), fb.getv(acc[1])), m.f32x4.add(fb.getv(acc[2]), fb.getv(acc[3]))),
    o.addc(b16, s.Y), s.R !== undefined ? o.addc(b16, s.R) : undefined, lanes, tmp, tmp2);
  const body: Expr[] = [
    fb.set(w, o.addc(m.i32.mul(fb.geti(0), o.c(K * 16)), s.Wt)),
    fb.set(xp, o.c(s.X)),
    fb.set(acc[0], o.vload(b16, s.B)),
    ...acc.slice(1).map((a) => fb.set(a, o.splat(0))),
  ];
  if (K4 > 0) {
    // x[k..k+3] in one load, each lane broadcast by a shuffle (V8 places it next to its use): 5 loads per
    // 16 multiply-adds instead of 8
    const lane = (u: number) => m.i8x16.shuffle(fb.getv(xv), fb.getv(xv), Array.from({ length: 16 }, (_, b) => 4 * u + (b & 3)));
    body.push(fb.loop(i, o.c(0), K4, 4, [
      fb.set(xv, o.vload(fb.geti(xp))),
      ...acc.map((a, u) => fb.set(a, o.fmadd(fb.getv(a), lane(u), o.vload(fb.geti(w), u * 16)))),
      fb.set(xp, o.addc(fb.geti(xp), 16)),
      fb.set(w, o.addc(fb.geti(w), 64)),
    ]));
  }
  for (let t = 0; t < K % 4; t++) body.push(fb.set(acc[t], o.fmadd(fb.getv(acc[t]), o.sload(fb.geti(xp), t * 4), o.vload(fb.geti(w), t * 16))));
  if (O % 4 === 0) body.push(...store(4));
  else if (full === 0) body.push(...store(O % 4));
  else body.push(m.if(m.i32.eq(fb.geti(0), o.c(full)), m.block(null, store(O % 4)), m.block(null, store(4))));
  m.addFunction(`${name}_row`, i32, none, fb.vars, m.block(null, body));
  return blocks;
}
