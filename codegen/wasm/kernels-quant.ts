/**
 * int8 convolution kernels (QConv, QGemm as a 1×1 conv) with int32 accumulation in SIMD:
 *
 * 1. `widen`: the 8-bit input minus its zero point, as i16, into a zero-padded channels-last
 *    scratch image [H+pads][W+pads][Cp] — padding is then plain zeros (x = x_zero_point) and the
 *    inner loops need no bounds checks.
 * 2. dense conv: each i32 lane is one output channel; `i32x4.dot_i16x8_s` of a splat pair of
 *    input channels (x[c], x[c+1]) with the packed int8 weights of 4 output channels × those 2
 *    input channels (sign-extended by `v128.load8x8_s`) adds 8 products per instruction. A register
 *    tile of P pixels × V blocks of 4 channels, like the f32 conv (conv.ts).
 *    depthwise: 8 channels × P pixels per step, the window's taps in pairs through the same dot.
 * 3. the requantizing epilogue (kernels-quant-epilogue.ts), exactly as the reference computes it:
 *    v = f32(acc · m[c]) (m[c] = fround(x_scale·w_scale[c]); one f32 multiply where that is exact,
 *    f64 otherwise), the activation in f32 (relu,
 *    clip: exact), q = rint_even(v / y_scale) + y_zero_point, saturated by the narrowing stores.
 *    Integer sums are exact in any order, so both SIMD builds give the reference's bits.
 *    With f32 output (out_dtype f32: nothing requantizes it) the epilogue stops at v (activation
 *    applied) and stores the f32 lanes.
 * The relaxed build adds a third body for dense convs, the relaxed u8 dot (kernels-quant-relaxed.ts).
 * Step 1 is its own function (emitQConvPrep), steps 2–3 another (emitQConvRun) over units of work
 * that threads share: rows for depthwise, runs of 12 output pixels for dense convs.
 */
import binaryen from 'binaryen';
import { FnBuilder, Ops, i32, isRelaxed, none, v128, type Expr } from './builder.js';
import { Splats, denseUnits, qconvUnits, scratchBorders, storeOut, type QConvSpec } from './kernels-quant-epilogue.js';
import { denseU8Body, u8Prep, u8dotProbe } from './kernels-quant-relaxed.js';

export { activationBounds, qconvUnits, type QConvSpec, type QEpilogue, type QImage } from './kernels-quant-epilogue.js';

/** Scratch channels: a multiple of 4 for dense (pairs for the pair dot, quads for the relaxed u8 dot), of 8 for depthwise. */
export const scratchChannels = (C: number, depthwise: boolean) => Math.ceil(C / (depthwise ? 8 : 4)) * (depthwise ? 8 : 4);

/** Dense weights w [M][C][kh][kw] (int8 values, w_zero_point 0) packed for the pair dot, padded with zeros. */
export function packQConvWeights(w: ArrayLike<number>, M: number, C: number, kh: number, kw: number): Int8Array {
  const Cp = scratchChannels(C, false), MB = Math.ceil(M / 4), K2 = kh * kw * Cp / 2;
  const out = new Int8Array(MB * K2 * 8);
  for (let m = 0; m < M; m++) for (let c = 0; c < C; c++) for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) {
    const kk = (y * kw + x) * (Cp / 2) + (c >> 1);
    out[((m >> 2) * K2 + kk) * 8 + (m & 3) * 2 + (c & 1)] = w[((m * C + c) * kh + y) * kw + x];
  }
  return out;
}

/**
 * Depthwise weights w [C][1][kh][kw] as [kh][kw][Cp]: 8 channels of a tap are one 8-byte load;
 * depthwiseBody interleaves a pair of taps per channel once per tile.
 */
export function packQDepthwiseWeights(w: ArrayLike<number>, C: number, kh: number, kw: number): Int8Array {
  const Cp = scratchChannels(C, true);
  const out = new Int8Array(kh * kw * Cp);
  for (let c = 0; c < C; c++) for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) out[(y * kw + x) * Cp + c] = w[(c * kh + y) * kw + x];
  return out;
}

/**
 * Step 1: the padded i16 scratch image of x − x_zero_point. Only the padding is zeroed (border rows,
 * each row's border columns): filling the whole scratch first doubled the memory traffic of large
 * early layers. The channels past C stay as they were: their dense weights are 0 and their
 * depthwise outputs are not stored.
 */
function widen(fb: FnBuilder, s: QConvSpec): Expr[] {
  const m = fb.m, o = new Ops(m), x = s.x;
  const y = fb.local(i32), xx = fb.local(i32), c = fb.local(i32), src = fb.local(i32), dst = fb.local(i32);
  const pix = s.Cp * 2, row = s.Wp * pix;
  const vector = x.sc === 1 && x.C % 8 === 0;
  const inner = vector
    ? [fb.loop(c, o.c(0), x.C / 8, 1, [m.v128.store(0, 1, o.add(fb.geti(dst), o.mul(fb.geti(c), 16)),
      m.i16x8.sub(x.signed ? m.v128.load8x8_s(0, 1, o.add(fb.geti(src), o.mul(fb.geti(c), 8))) : m.v128.load8x8_u(0, 1, o.add(fb.geti(src), o.mul(fb.geti(c), 8))),
        m.i16x8.splat(o.c(x.zp))))])]
    : [fb.loop(c, o.c(0), x.C, 1, [m.i32.store16(0, 1, o.add(fb.geti(dst), o.mul(fb.geti(c), 2)),
      m.i32.sub((x.signed ? m.i32.load8_s : m.i32.load8_u)(0, 1, o.add(fb.geti(src), o.mul(fb.geti(c), x.sc))), o.c(x.zp)))])];
  const pixels = planar4(fb, s, y, xx, src, dst);
  const border = scratchBorders(fb, s, pix, 0, y);
  return [
    ...border.outside,
    fb.loop(y, o.c(0), x.H, 1, [
      ...border.edges,
      ...pixels.head,
      ...(pixels.from < x.W ? [fb.loop(xx, o.c(pixels.from), x.W, 1, [
        fb.set(src, o.add(o.add(o.c(x.X), o.mul(fb.geti(y), x.sh)), o.mul(fb.geti(xx), x.sw))),
        fb.set(dst, o.add(o.c(s.S + (s.ph * s.Wp + s.pw) * pix), o.add(o.mul(fb.geti(y), row), o.mul(fb.geti(xx), pix)))),
        ...inner,
      ])] : []),
    ]),
  ];
}

/**
 * A planar (NCHW) input of 3 or 4 channels (a first conv's image) widened 8 pixels at a time: each
 * channel's 8 consecutive bytes, interleaved into channels-last by unpack shuffles (the scalar loop
 * ran one load and store per value). Returns the loop for row `y` and the column where the
 * per-pixel loop takes over.
 */
function planar4(fb: FnBuilder, s: QConvSpec, y: number, xx: number, src: number, dst: number): { head: Expr[]; from: number } {
  const m = fb.m, o = new Ops(m), x = s.x;
  const n8 = Math.floor(x.W / 8) * 8;
  if (s.Cp !== 4 || x.sw !== 1 || x.C < 3 || n8 === 0) return { head: [], from: 0 };
  const ch = Array.from({ length: 4 }, () => fb.local(v128));
  const lo16 = [0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23], hi16 = lo16.map((b) => b + 8);
  const lo32 = [0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23], hi32 = lo32.map((b) => b + 8);
  const sh = (a: Expr, b: Expr, mask: number[]) => m.i8x16.shuffle(a, b, mask);
  const C = (c: number) => fb.getv(ch[c]);
  const ab = (hi: boolean) => sh(C(0), C(1), hi ? hi16 : lo16), cd = (hi: boolean) => sh(C(2), C(3), hi ? hi16 : lo16);
  const load = (c: number) => m.i16x8.sub((x.signed ? m.v128.load8x8_s : m.v128.load8x8_u)(c * x.sc, 1, fb.geti(src)), m.i16x8.splat(o.c(x.zp)));
  const body = [
    fb.set(src, o.add(o.add(o.c(x.X), o.mul(fb.geti(y), x.sh)), fb.geti(xx))),
    fb.set(dst, o.add(o.c(s.S + (s.ph * s.Wp + s.pw) * 8), o.add(o.mul(fb.geti(y), s.Wp * 8), o.mul(fb.geti(xx), 8)))),
    ...Array.from({ length: 4 }, (_, c) => fb.set(ch[c], c < x.C ? load(c) : m.v128.const(new Array(16).fill(0)))),
    m.v128.store(0, 1, fb.geti(dst), sh(ab(false), cd(false), lo32)),
    m.v128.store(16, 1, fb.geti(dst), sh(ab(false), cd(false), hi32)),
    m.v128.store(32, 1, fb.geti(dst), sh(ab(true), cd(true), lo32)),
    m.v128.store(48, 1, fb.geti(dst), sh(ab(true), cd(true), hi32)),
  ];
  return { head: [fb.loop(xx, o.c(0), n8, 8, body)], from: n8 };
}

/** Dense conv over the scratch image, units [ua, ub) (i32 locals): P × V register tiles (tails handled with smaller tiles). */
function denseBody(fb: FnBuilder, s: QConvSpec, ks: Splats, ua: number, ub: number): Expr[] {
  const m = fb.m, o = new Ops(m);
  const MB = Math.ceil(s.M / 4), K2 = s.kh * s.kw * s.Cp / 2, pixels = s.OH * s.OW;
  const q0 = fb.local(i32), vb = fb.local(i32), wp = fb.local(i32), ky = fb.local(i32), kx = fb.local(i32), c2 = fb.local(i32);
  const base = Array.from({ length: s.P }, () => fb.local(i32));
  const px = Array.from({ length: s.P }, () => fb.local(i32));
  const acc = Array.from({ length: s.P * s.V }, () => fb.local(v128));
  const wv = Array.from({ length: s.V }, () => fb.local(v128));
  const sp = fb.local(v128);
  const rowBytes = s.Wp * s.Cp * 2, pixBytes = s.Cp * 2;
  const partial = s.M % 4 !== 0;
  const wload = (off: number) => (s.wSigned ? m.v128.load8x8_s : m.v128.load8x8_u)(off, 1, fb.geti(wp));

  /** Input pixel addresses of the tile's Pn pixels starting at q0 (row and column from the flat index). */
  const bases = (Pn: number) => Array.from({ length: Pn }, (_, p) => {
    const q = o.addc(fb.geti(q0), p);
    return fb.set(base[p], o.add(o.c(s.S), o.add(o.mul(m.i32.div_u(q, o.c(s.OW)), s.sh * rowBytes), o.mul(m.i32.rem_u(o.addc(fb.geti(q0), p), o.c(s.OW)), s.sw * pixBytes))));
  });

  /** One Pn × Vn tile at pixels q0.., blocks vb.. */
  const tile = (Pn: number, Vn: number): Expr[] => {
    const A = (p: number, v: number) => acc[p * s.V + v];
    const inner: Expr[] = [
      ...Array.from({ length: Vn }, (_, v) => fb.set(wv[v], wload(v * K2 * 8))),
      ...Array.from({ length: Pn }, (_, p) => [
        fb.set(sp, m.v128.load32_splat(0, 4, fb.geti(px[p]))),
        ...Array.from({ length: Vn }, (_, v) => fb.set(A(p, v), m.i32x4.add(fb.getv(A(p, v)), m.i32x4.dot_i16x8_s(fb.getv(sp), fb.getv(wv[v]))))),
      ]).flat(),
      ...Array.from({ length: Pn }, (_, p) => fb.set(px[p], o.addc(fb.geti(px[p]), 4))),
      fb.set(wp, o.addc(fb.geti(wp), 8)),
    ];
    const kxEnd = (s.dw - 1) * pixBytes, kyEnd = s.dh * rowBytes - s.kw * s.dw * pixBytes;
    const step = (bytes: number) => (bytes ? Array.from({ length: Pn }, (_, p) => fb.set(px[p], o.addc(fb.geti(px[p]), bytes))) : []);
    // undilated columns: a window row is kw·Cp contiguous channels of the scratch and of the packed
    // weights, so one loop covers it (a 3-channel first conv ran its channel-pair loop 2 trips at a time)
    const row = s.dw === 1 ? [fb.loop(c2, o.c(0), s.kw * s.Cp / 2, 1, inner)]
      : [fb.loop(kx, o.c(0), s.kw, 1, [fb.loop(c2, o.c(0), s.Cp / 2, 1, inner), ...step(kxEnd)])];
    const loops = s.kh === 1 ? row : [fb.loop(ky, o.c(0), s.kh, 1, [...row, ...step(kyEnd)])];
    const stores: Expr[] = [];
    for (let p = 0; p < Pn; p++) for (let v = 0; v < Vn; v++) {
      const blk = o.addc(fb.geti(vb), v);
      const ptr = () => o.add(o.add(o.c(s.Y), o.mul(o.addc(fb.geti(q0), p), s.yps)), o.mul(o.addc(fb.geti(vb), v), s.ep.f32Out ? 16 : 4));
      stores.push(storeOut(fb, ptr, [fb.getv(A(p, v))], [blk], s.ep, ks, partial ? () => m.i32.sub(o.c(s.M), o.mul(o.addc(fb.geti(vb), v), 4)) : undefined));
    }
    return [
      ...Array.from({ length: Pn }, (_, p) => Array.from({ length: Vn }, (_, v) => fb.set(A(p, v), m.v128.load(v * 16, 16, o.add(o.c(s.ep.B), o.mul(fb.geti(vb), 16)))))).flat(),
      ...Array.from({ length: Pn }, (_, p) => fb.set(px[p], fb.geti(base[p]))),
      fb.set(wp, o.add(o.c(s.Wq), o.mul(fb.geti(vb), K2 * 8))),
      ...loops,
      ...stores,
    ];
  };

  /** All channel blocks for a tile of Pn pixels at q0. */
  const row = (Pn: number): Expr[] => {
    const full = Math.floor(MB / s.V), tail = MB % s.V;
    return [
      ...bases(Pn),
      ...(full ? [fb.loop(vb, o.c(0), full * s.V, s.V, tile(Pn, s.V))] : []),
      ...(tail ? [fb.set(vb, o.c(full * s.V)), ...tile(Pn, tail)] : []),
    ];
  };
  return denseUnits(fb, s.P, pixels, q0, ua, ub, row);
}

/**
 * Depthwise conv over the scratch image. The taps of a window row go in pairs (kx, kx+1) (an odd
 * last tap pairs with a zero weight), so that `i32x4.dot_i16x8_s` does 8 products per instruction:
 * the two taps' input vectors interleaved per channel (shuffles V8 emits as unpack low/high) against
 * the packed weights (w[c][kx], w[c][kx+1]). A tile is P output pixels of a row × 8 channels, so the
 * weights are loaded once per tile.
 */
function depthwiseBody(fb: FnBuilder, s: QConvSpec, ks: Splats, ua: number, ub: number): Expr[] {
  const m = fb.m, o = new Ops(m);
  const oy = fb.local(i32), ox = fb.local(i32), c8 = fb.local(i32), xb = fb.local(i32), wb = fb.local(i32);
  const acc = Array.from({ length: 2 * s.P }, () => fb.local(v128));
  const xa = fb.local(v128), xc = fb.local(v128), w0 = fb.local(v128), w1 = fb.local(v128), wa = fb.local(v128), wc = fb.local(v128);
  const rowBytes = s.Wp * s.Cp * 2, pixBytes = s.Cp * 2, blocks = s.Cp / 8, pairs = Math.ceil(s.kw / 2);
  const partial = s.M % 8 !== 0;
  const wload = (off: number) => (s.wSigned ? m.v128.load8x8_s : m.v128.load8x8_u)(off, 1, fb.geti(wb));
  const LO = [0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23], HI = LO.map((b) => b + 8);
  const tile = (Pn: number): Expr[] => {
    const win: Expr[] = [];
    for (let y = 0; y < s.kh; y++) for (let j = 0; j < pairs; j++) {
      // the pair's weights interleaved per channel (w[c][2j], w[c][2j+1]) once per tile, from the compact
      // [kh][kw][Cp] layout the artifact stores (a paired layout would store a third more for 3×3)
      const wo = (y * s.kw + 2 * j) * s.Cp;
      win.push(fb.set(wa, wload(wo)), fb.set(wc, 2 * j + 1 < s.kw ? wload(wo + s.Cp) : m.v128.const(new Array(16).fill(0))));
      win.push(fb.set(w0, m.i8x16.shuffle(fb.getv(wa), fb.getv(wc), LO)), fb.set(w1, m.i8x16.shuffle(fb.getv(wa), fb.getv(wc), HI)));
      for (let p = 0; p < Pn; p++) {
        const at = (kx: number) => y * s.dh * rowBytes + (p * s.sw + kx * s.dw) * pixBytes;
        const second = 2 * j + 1 < s.kw;
        win.push(fb.set(xa, m.v128.load(at(2 * j), 16, fb.geti(xb))));
        win.push(fb.set(xc, second ? m.v128.load(at(2 * j + 1), 16, fb.geti(xb)) : fb.getv(xa)));
        win.push(
          fb.set(acc[2 * p], m.i32x4.add(fb.getv(acc[2 * p]), m.i32x4.dot_i16x8_s(m.i8x16.shuffle(fb.getv(xa), fb.getv(xc), LO), fb.getv(w0)))),
          fb.set(acc[2 * p + 1], m.i32x4.add(fb.getv(acc[2 * p + 1]), m.i32x4.dot_i16x8_s(m.i8x16.shuffle(fb.getv(xa), fb.getv(xc), HI), fb.getv(w1)))),
        );
      }
    }
    const pix = (p: number) => o.add(o.mul(fb.geti(oy), s.OW), o.addc(fb.geti(ox), p));
    return [
      fb.set(xb, o.add(o.add(o.c(s.S), o.add(o.mul(fb.geti(oy), s.sh * rowBytes), o.mul(fb.geti(ox), s.sw * pixBytes))), o.mul(fb.geti(c8), 16))),
      fb.set(wb, o.add(o.c(s.Wq), o.mul(fb.geti(c8), 8))),
      ...Array.from({ length: Pn }, (_, p) => [
        fb.set(acc[2 * p], m.v128.load(0, 16, o.add(o.c(s.ep.B), o.mul(fb.geti(c8), 32)))),
        fb.set(acc[2 * p + 1], m.v128.load(16, 16, o.add(o.c(s.ep.B), o.mul(fb.geti(c8), 32)))),
      ]).flat(),
      ...win,
      ...Array.from({ length: Pn }, (_, p) => storeOut(fb, () => o.add(o.add(o.c(s.Y), o.mul(pix(p), s.yps)), o.mul(fb.geti(c8), s.ep.f32Out ? 32 : 8)),
        [fb.getv(acc[2 * p]), fb.getv(acc[2 * p + 1])], [o.mul(fb.geti(c8), 2), o.addc(o.mul(fb.geti(c8), 2), 1)], s.ep, ks,
        partial ? () => m.i32.sub(o.c(s.M), o.mul(fb.geti(c8), 8)) : undefined)),
    ];
  };
  const full = Math.floor(s.OW / s.P), tail = s.OW % s.P;
  const columns = [
    ...(full ? [fb.loop(ox, o.c(0), full * s.P, s.P, [fb.loop(c8, o.c(0), blocks, 1, tile(s.P))])] : []),
    ...(tail ? [fb.set(ox, o.c(full * s.P)), fb.loop(c8, o.c(0), blocks, 1, tile(tail))] : []),
  ];
  return [fb.loopDyn(oy, fb.geti(ua), fb.geti(ub), 1, columns)];
}

/** Whether the relaxed u8-dot body can run this conv (the module asks the engine at run time). */
const u8Capable = (m: binaryen.Module, s: QConvSpec) => isRelaxed(m) && !s.depthwise && s.wSigned;

/** Step 1 as its own function `name()`: the scratch image (and, for the u8 body, z·Σw). */
export function emitQConvPrep(m: binaryen.Module, name: string, s: QConvSpec): void {
  const fb = new FnBuilder(m, 0);
  const pair = m.block(null, widen(fb, s));
  const body = u8Capable(m, s) ? m.if(m.call(u8dotProbe(m), [], i32), m.block(null, u8Prep(fb, s)), pair) : pair;
  m.addFunction(name, none, none, fb.vars, body);
}

/**
 * Steps 2 and 3: `name_range(a, b)` over units [a, b) (qconvUnits) and `name()` over all; with
 * `parallel`, the range and `name_rows` (the unit count) are exported for the threads
 * (runtime/wasm/threads.ts): units write disjoint outputs and only read the scratch.
 */
export function emitQConvRun(m: binaryen.Module, name: string, s: QConvSpec, parallel: boolean): void {
  const fb = new FnBuilder(m, 2), ks = new Splats(fb);
  const pair = m.block(null, s.depthwise ? depthwiseBody(fb, s, ks, 0, 1) : denseBody(fb, s, ks, 0, 1));
  // the relaxed build's dense convs: the relaxed dot where the engine multiplies u8 exactly (kernels-quant-relaxed.ts)
  const body = u8Capable(m, s) ? m.if(m.call(u8dotProbe(m), [], i32), m.block(null, denseU8Body(fb, s, ks, 0, 1)), pair) : pair;
  m.addFunction(`${name}_range`, binaryen.createType([i32, i32]), none, fb.vars, m.block(null, [...ks.inits, body]));
  const units = qconvUnits(s);
  m.addFunction(name, none, none, [], m.call(`${name}_range`, [m.i32.const(0), m.i32.const(units)], none));
  if (!parallel) return;
  m.addFunctionExport(`${name}_range`, `${name}_range`);
  m.addGlobal(`${name}_rows`, i32, false, m.i32.const(units));
  m.addGlobalExport(`${name}_rows`, `${name}_rows`);
}
