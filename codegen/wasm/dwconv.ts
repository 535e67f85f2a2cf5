/**
 * Depthwise convolution on NHWC activations, specialised to one layer's static shapes.
 *
 * `<name>_row(oy)` computes output row oy in tiles of P output pixels; per tile, a run-time loop
 * over vectors of 4 channels keeps P independent f32x4 accumulators (no chain of one accumulator
 * waiting on the multiply-add latency). Per kernel row, its kw weight vectors are loaded once and
 * serve all P pixels, and each input column is loaded once and serves every (pixel, tap) pair that
 * reads it (stride 1, 3×3, P = 4: 6 input loads for 12 multiply-adds, where one pixel at a time
 * took 2 loads per multiply-add). All taps are unrolled at compile time; the weights sit at fixed
 * addresses and the input in fixed offsets from one pointer, so no address is computed per tap.
 *
 * Padding: rows whose kernel rows all fall inside the input run a body with no checks; the few
 * others check each kernel row. Border columns are compile-time tiles that skip their outside taps.
 * Channel order is the innermost loop, so a tile's inputs (kw + (P−1)·sw columns × C channels) stay
 * in L1 for the next tile, which shares kw − sw of its columns.
 */
import binaryen from 'binaryen';
import { FnBuilder, Ops, i32, none, v128, type Expr } from './builder.js';
import { addRowDriver, storeEpilogue, type Epilogue } from './conv.js';

export interface DepthwiseSpec extends Epilogue {
  name: string;
  /** Input: byte address of pixel (0,0), floats per pixel, C channels. */
  X: number; H: number; W: number; xps: number; C: number;
  /** Output: byte address of pixel (0,0), floats per pixel. */
  Y: number; OH: number; OW: number; yps: number;
  kh: number; kw: number; sh: number; sw: number; dh: number; dw: number; ph: number; pw: number;
  /** Weights [ky][kx][Cpad4] and bias [Cpad4] (byte addresses), from packDepthwiseWeights. */
  Wd: number; B: number;
  /** Output row oy writes scratch row ⌊oy / band⌋ at Y (FusedDwPw: one scratch row per band of rows). */
  band?: number;
}

/**
 * Tile: P output pixels × V vectors of 4 channels. P·V accumulators + kw·V weights + 1 input stay
 * inside V8's 15 vector registers. Measured (interleaved A/B, CPU time): P = 4 beat 2 and 8;
 * V = 2 or 4 spilled and ran 0.5–0.8× as fast.
 */
const P = 4, V = 1;

/** Packs depthwise W (C, 1, kh, kw) as [ky][kx][Cpad4] and the bias as [Cpad4]. */
export function packDepthwiseWeights(w: Float32Array, bias: Float32Array | undefined, C: number, kh: number, kw: number): { weights: Float32Array; bias: Float32Array } {
  const Cp = Math.ceil(C / 4) * 4;
  const out = new Float32Array(kh * kw * Cp);
  for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) for (let c = 0; c < C; c++) out[(ky * kw + kx) * Cp + c] = w[(c * kh + ky) * kw + kx];
  const b = new Float32Array(Cp);
  if (bias) b.set(bias.subarray(0, C));
  return { weights: out, bias: b };
}

/** Adds `<name>_row(oy)` and `<name>()` for a depthwise conv; returns its rows. */
export function emitDepthwise(m: binaryen.Module, s: DepthwiseSpec): number {
  const fb = new FnBuilder(m, 1), o = new Ops(m);
  const oy = 0;
  const iy0 = fb.local(i32), xrow = fb.local(i32), yrow = fb.local(i32), rrow = fb.local(i32);
  const ox = fb.local(i32), xb = fb.local(i32), yb = fb.local(i32), rb = fb.local(i32);
  const c = fb.local(i32), xc = fb.local(i32);
  const acc = Array.from({ length: P * V }, () => fb.local(v128));
  const wv = Array.from({ length: s.kw * V }, () => fb.local(v128));
  const xv = fb.local(v128), tmp = fb.local(v128), tmp2 = fb.local(v128);
  const xpix = s.xps * 4, rowBytes = s.W * xpix, Cp = Math.ceil(s.C / 4) * 4;
  const nFull = Math.floor(s.C / (4 * V)), rest = s.C - 4 * V * nFull;

  /**
   * One tile of `pix` pixels at one channel vector (byte offset `chE`): `oxC` is the first pixel's
   * column at compile time (border tiles), or undefined (run-time column ox; xb/yb/rb point at it).
   * `checked`: test each kernel row against the input's height (rows near the top and bottom).
   */
  const tile = (pix: number, oxC: number | undefined, checked: boolean, chE: () => Expr, lanes: number): Expr[] => {
    const st: Expr[] = [];
    const nv = Math.ceil(lanes / 4), a = (p: number, v: number) => acc[p * V + v];
    // input pointer of this tile's first column at this channel: interior tiles start at column
    // ox·sw − pw ≥ 0, border tiles at column 0 (their column offsets are compile-time)
    st.push(fb.set(xc, o.add(fb.geti(oxC === undefined ? xb : xrow), chE())));
    for (let v = 0; v < nv; v++) {
      st.push(fb.set(a(0, v), o.vload(chE(), s.B + 16 * v)));
      for (let p = 1; p < pix; p++) st.push(fb.set(a(p, v), fb.getv(a(0, v))));
    }
    const col0 = oxC === undefined ? 0 : oxC * s.sw - s.pw; // column of pixel 0, tap 0
    for (let ky = 0; ky < s.kh; ky++) {
      // (pixel, tap) pairs by the input column they read
      const byCol = new Map<number, { p: number; kx: number }[]>();
      const used = new Set<number>();
      for (let p = 0; p < pix; p++) for (let kx = 0; kx < s.kw; kx++) {
        const j = p * s.sw + kx * s.dw, x = col0 + j;
        if (oxC !== undefined && (x < 0 || x >= s.W)) continue;
        if (!byCol.has(j)) byCol.set(j, []);
        byCol.get(j)!.push({ p, kx });
        used.add(kx);
      }
      if (!byCol.size) continue;
      const taps: Expr[] = [];
      for (const kx of [...used].sort((x, y) => x - y)) {
        for (let v = 0; v < nv; v++) taps.push(fb.set(wv[kx * V + v], o.vload(chE(), s.Wd + (ky * s.kw + kx) * Cp * 4 + 16 * v)));
      }
      // checked rows may start above the input: the row offset goes into the (wrapping) i32 add
      const rowOff = ky * s.dh * rowBytes;
      const ptr = () => (checked ? o.addc(fb.geti(xc), rowOff) : fb.geti(xc));
      for (const j of [...byCol.keys()].sort((x, y) => x - y)) {
        for (let v = 0; v < nv; v++) {
          taps.push(fb.set(xv, o.vload(ptr(), (col0 + j) * xpix + (checked ? 0 : rowOff) + 16 * v)));
          for (const { p, kx } of byCol.get(j)!) taps.push(fb.set(a(p, v), o.fmadd(fb.getv(a(p, v)), fb.getv(xv), fb.getv(wv[kx * V + v]))));
        }
      }
      st.push(checked ? m.if(m.i32.lt_u(o.addc(fb.geti(iy0), ky * s.dh), o.c(s.H)), m.block(null, taps)) : m.block(null, taps));
    }
    for (let p = 0; p < pix; p++) {
      const oxOff = oxC === undefined ? p * s.yps * 4 : (oxC + p) * s.yps * 4;
      const rOff = s.R === undefined ? 0 : oxC === undefined ? p * s.rps! * 4 : (oxC + p) * s.rps! * 4;
      for (let v = 0; v < nv; v++) {
        const y = o.addc(o.add(fb.geti(oxC === undefined ? yb : yrow), chE()), oxOff + 16 * v);
        const r = s.R === undefined ? undefined : o.addc(o.add(fb.geti(oxC === undefined ? rb : rrow), chE()), rOff + 16 * v);
        st.push(...storeEpilogue(fb, s, fb.getv(a(p, v)), y, r, Math.min(4, lanes - 4 * v), tmp, tmp2));
      }
    }
    return st;
  };

  /** A tile over all channels: full vectors in a run-time loop, then the partial one. */
  const channels = (pix: number, oxC: number | undefined, checked: boolean): Expr[] => {
    const st: Expr[] = [];
    if (nFull > 0) st.push(fb.loop(c, o.c(0), nFull * 16 * V, 16 * V, tile(pix, oxC, checked, () => fb.geti(c), 4 * V)));
    if (rest > 0) st.push(...tile(pix, oxC, checked, () => o.c(nFull * 16 * V), rest));
    return st;
  };

  // Columns: interior tiles (every tap inside the input) in a run-time loop, the rest at compile time.
  const oxA = Math.min(s.OW, Math.ceil(s.pw / s.sw));
  const oxB = Math.max(oxA, Math.min(s.OW, Math.floor((s.W - 1 + s.pw - (s.kw - 1) * s.dw) / s.sw) + 1));
  const nT = Math.floor((oxB - oxA) / P);
  const rowBody = (checked: boolean): Expr[] => {
    const st: Expr[] = [];
    if (nT > 0) {
      st.push(fb.loop(ox, o.c(oxA), oxA + nT * P, P, [
        fb.set(xb, o.add(fb.geti(xrow), o.addc(o.mul(fb.geti(ox), s.sw * xpix), -s.pw * xpix))),
        fb.set(yb, o.add(fb.geti(yrow), o.mul(fb.geti(ox), s.yps * 4))),
        ...(s.R !== undefined ? [fb.set(rb, o.add(fb.geti(rrow), o.mul(fb.geti(ox), s.rps! * 4)))] : []),
        ...channels(P, undefined, checked),
      ]));
    }
    const left: number[] = [];
    for (let x = 0; x < s.OW; x++) if (x < oxA || x >= oxA + nT * P) left.push(x);
    for (let i = 0; i < left.length;) {
      let n = 1;
      while (n < P && i + n < left.length && left[i + n] === left[i] + n) n++;
      st.push(...channels(n, left[i], checked));
      i += n;
    }
    return st;
  };

  const yRowOf = s.band ? m.i32.div_u(fb.geti(oy), o.c(s.band)) : fb.geti(oy);
  const body: Expr[] = [
    fb.set(iy0, o.addc(o.mul(fb.geti(oy), s.sh), -s.ph)),
    fb.set(xrow, o.addc(o.mul(fb.geti(iy0), rowBytes), s.X)),
    fb.set(yrow, o.addc(o.mul(yRowOf, s.OW * s.yps * 4), s.Y)),
    fb.set(rrow, s.R !== undefined ? o.addc(o.mul(fb.geti(oy), s.OW * s.rps! * 4), s.R) : o.c(0)),
  ];
  // every kernel row inside the input: 0 ≤ iy0 and iy0 + (kh−1)·dh < H (one unsigned compare)
  const lastTop = s.H - 1 - (s.kh - 1) * s.dh;
  if (lastTop >= 0) body.push(m.if(m.i32.le_u(fb.geti(iy0), o.c(lastTop)), m.block(null, rowBody(false)), m.block(null, rowBody(true))));
  else body.push(...rowBody(true));
  m.addFunction(`${s.name}_row`, i32, none, fb.vars, m.block(null, body));
  addRowDriver(m, s.name, s.OH, !s.band); // band: rows of a band share one scratch row
  return s.OH;
}
