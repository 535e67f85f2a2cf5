/**
 * The dense int8 conv of the relaxed-SIMD build on engines whose relaxed dot multiplies unsigned
 * bytes: `i32x4.relaxed_dot_i8x16_i7x16_add_s` adds 16 products and the accumulator in one
 * instruction, but the proposal defines it only for a second operand in 0..127. Engines that
 * lower it to AVX-VNNI's `vpdpbusd` (Chromium on x86 with AVX-VNNI) compute u8 · i8 exactly for
 * any byte; SSE's `pmaddubsw` saturates pairs at i16 and Arm's `sdot` reads the byte as signed.
 * So the module asks the engine once (`u8dotWorks`: products chosen to tell those apart) and each
 * conv runs this body only where the answer is exact, the `dot_i16x8_s` body otherwise.
 *
 * Here the scratch holds the 8-bit input itself, as u8 (i8 inputs flipped by 0x80, their zero
 * point by 128), padded with the zero point; the sum Σ w·(x − z) is Σ w·x − z·Σ w, z·Σ w per
 * output channel computed once per call. Weights are the pair-dot layout of packQConvWeights
 * ([4 outputs][2 inputs] per 8 bytes): two consecutive pairs, shuffled, give each lane its
 * output's 4 inputs.
 */
import type binaryen from 'binaryen';
import { FnBuilder, Ops, i32, relaxedDotAdd, v128, type Expr } from './builder.js';
import { denseUnits, scratchBorders, storeOut, type QConvSpec, type Splats } from './kernels-quant-epilogue.js';

const PROBE = 'u8dot_works', SEED = 'u8dot_seed', STATE = 'u8dot_state';
const probeAdded = new WeakSet<binaryen.Module>();

/** Per lane: [w0..w3] · [x0..x3] + acc for the byte pairs below; each lane catches one wrong lowering. */
const PROBE_W = [127, 127, 127, 127, -128, -128, -128, -128, -127, -127, -127, -127, 127, -128, 1, -1];
const PROBE_X = [255, 255, 255, 255, 255, 255, 255, 255, 128, 128, 128, 128, 255, 255, 128, 1];
const PROBE_ACC = [1, 2, 3, 4];
const probeWant = () => [0, 1, 2, 3].map((l) => PROBE_ACC[l] + [0, 1, 2, 3].reduce((s, k) => s + PROBE_W[4 * l + k] * PROBE_X[4 * l + k], 0));

const bytes = (xs: number[]) => xs.map((x) => x & 255);
const i32Bytes = (xs: number[]) => xs.flatMap((x) => [x & 255, (x >> 8) & 255, (x >> 16) & 255, (x >>> 24) & 255]);

/**
 * `u8dot_works()`: 1 when this engine's relaxed dot gives u8 · i8 exactly, computed on the first
 * call. The operands are offset by an exported mutable global (0) so that no optimizer can fold
 * the dot with its own idea of the instruction.
 */
export function u8dotProbe(m: binaryen.Module): string {
  if (probeAdded.has(m)) return PROBE;
  probeAdded.add(m);
  m.addGlobal(SEED, i32, true, m.i32.const(0));
  m.addGlobalExport(SEED, SEED);
  m.addGlobal(STATE, i32, true, m.i32.const(0));
  const seed = () => m.i8x16.splat(m.global.get(SEED, i32));
  const dot = relaxedDotAdd(m, m.i8x16.add(m.v128.const(bytes(PROBE_W)), seed()), m.i8x16.add(m.v128.const(bytes(PROBE_X)), seed()),
    m.v128.const(i32Bytes(PROBE_ACC)));
  const exact = m.i32x4.all_true(m.i32x4.eq(dot, m.v128.const(i32Bytes(probeWant()))));
  m.addFunction(PROBE, 0, i32, [], m.block(null, [
    m.if(m.i32.eqz(m.global.get(STATE, i32)), m.global.set(STATE, m.select(exact, m.i32.const(1), m.i32.const(2)))),
    m.i32.eq(m.global.get(STATE, i32), m.i32.const(1)),
  ], i32));
  m.addFunctionExport(PROBE, PROBE);
  return PROBE;
}

/** Channels of the u8 scratch pixel: a multiple of 4 (one relaxed dot reads 4 inputs). */
const quads = (C: number) => Math.ceil(C / 4) * 4;

/** Bytes the u8 body needs in the scratch: the image, then z·Σw per output channel (i32). */
export function u8ScratchBytes(Hp: number, Wp: number, C: number, M: number): number {
  return Math.ceil((Hp * Wp * quads(C)) / 16) * 16 + Math.ceil(M / 4) * 16;
}

/** 0x8080808080808080 as an i64 expression (binaryen.js changed i64.const's signature between versions). */
const flip64 = (m: binaryen.Module) => {
  const half = () => m.i64.extend_u(m.i32.const(0x80808080 | 0));
  return m.i64.or(m.i64.shl(half(), m.i64.extend_u(m.i32.const(32))), half());
};

/** The u8 scratch image of x (i8 flipped to u8), padding filled with the (flipped) zero point. */
function widenU8(fb: FnBuilder, s: QConvSpec, Cq: number): Expr[] {
  const m = fb.m, o = new Ops(m), x = s.x;
  const z = x.signed ? x.zp + 128 : x.zp, flip = x.signed ? 0x80 : 0;
  const y = fb.local(i32), xx = fb.local(i32), c = fb.local(i32), src = fb.local(i32), dst = fb.local(i32);
  const row = s.Wp * Cq;
  const at = (k: number) => o.add(fb.geti(src), o.mul(fb.geti(c), k));
  const to = (k: number) => o.add(fb.geti(dst), o.mul(fb.geti(c), k));
  // whole vectors where the channels allow, bytes otherwise; channels C..Cq get the zero point
  // (their weights are 0, and z keeps them out of z·Σw's way)
  const inner = x.sc === 1 && x.C % 16 === 0
    ? [fb.loop(c, o.c(0), x.C / 16, 1, [m.v128.store(0, 1, to(16), flip ? m.v128.xor(m.v128.load(0, 1, at(16)), m.i8x16.splat(o.c(flip))) : m.v128.load(0, 1, at(16)))])]
    : x.sc === 1 && x.C % 8 === 0
      ? [fb.loop(c, o.c(0), x.C / 8, 1, [m.i64.store(0, 1, to(8), flip ? m.i64.xor(m.i64.load(0, 1, at(8)), flip64(m)) : m.i64.load(0, 1, at(8)))])]
      : [fb.loop(c, o.c(0), x.C, 1, [m.i32.store8(0, 1, to(1), m.i32.xor(m.i32.load8_u(0, 1, o.add(fb.geti(src), o.mul(fb.geti(c), x.sc))), o.c(flip)))])];
  const tailBytes = Array.from({ length: Cq - x.C }, (_, k) => m.i32.store8(x.C + k, 1, fb.geti(dst), o.c(z)));
  const rowStart = () => o.add(o.c(s.S + s.ph * row), o.mul(fb.geti(y), row));
  const border = scratchBorders(fb, s, Cq, z, y);
  return [
    ...border.outside,
    fb.loop(y, o.c(0), x.H, 1, [
      ...border.edges,
      fb.loop(xx, o.c(0), x.W, 1, [
        fb.set(src, o.add(o.add(o.c(x.X), o.mul(fb.geti(y), x.sh)), o.mul(fb.geti(xx), x.sw))),
        fb.set(dst, o.add(o.addc(rowStart(), s.pw * Cq), o.mul(fb.geti(xx), Cq))),
        ...inner,
        ...tailBytes,
      ]),
    ]),
  ];
}

/** Lane m ← bytes (m, 2 inputs) of both pairs: output m's 4 consecutive inputs. */
const QUAD = [0, 1, 8, 9, 2, 3, 10, 11, 4, 5, 12, 13, 6, 7, 14, 15];

/**
 * The register tile of the u8 body: P pixels × V blocks of 4 output channels. In Chromium on
 * ResNet-18 and MobileNetV2 (int8 / f32, one process, repeated): 3 × 2 and 3 × 3 ≈ 0.49–0.50 on
 * ResNet-18, 2 × 2, 2 × 3, 4 × 3 ≈ 0.51–0.53, 2 × 4, 4 × 2, 5 × 2 ≈ 0.56–0.58, 2 × 6 0.62 (spills);
 * 3 × 2 also ran MobileNetV2's narrow 1×1 convs best (0.68 against 0.72–0.75).
 */
export const U8_TILE = { P: 3, V: 2 };

/** Where z·Σw per output channel sits in the scratch, after the u8 image. */
const corrAt = (s: QConvSpec) => s.S + Math.ceil((s.Hp * s.Wp * quads(s.x.C)) / 16) * 16;

/** The u8 body's step 1: the u8 scratch image, and z·Σw per output channel (the dot of each block's weights with a splat of z). */
export function u8Prep(fb: FnBuilder, s: QConvSpec): Expr[] {
  const m = fb.m, o = new Ops(m);
  const Cq = quads(s.x.C), blockBytes = s.kh * s.kw * Cq * 4;
  const z = s.x.signed ? s.x.zp + 128 : s.x.zp;
  const vb = fb.local(i32), wp = fb.local(i32), c4 = fb.local(i32), acc = fb.local(v128);
  const corr = z === 0 ? [] : [fb.loop(vb, o.c(0), Math.ceil(s.M / 4), 1, [
    fb.set(wp, o.add(o.c(s.Wq), o.mul(fb.geti(vb), blockBytes))),
    fb.set(acc, m.v128.const(new Array(16).fill(0))),
    fb.loop(c4, o.c(0), blockBytes / 16, 1, [
      fb.set(acc, relaxedDotAdd(m, quadLoad(m, m.v128.load(0, 1, fb.geti(wp))), m.i8x16.splat(o.c(z)), fb.getv(acc))),
      fb.set(wp, o.addc(fb.geti(wp), 16)),
    ]),
    m.v128.store(0, 16, o.add(o.c(corrAt(s)), o.mul(fb.geti(vb), 16)), fb.getv(acc)),
  ])];
  return [...widenU8(fb, s, Cq), ...corr];
}

/** 16 weight bytes (two pair-dot groups) with each lane's 4 inputs of one output together. */
function quadLoad(m: FnBuilder['m'], w: Expr): Expr {
  return m.i8x16.shuffle(w, w, QUAD);
}

/** The dense conv with the relaxed dot over the u8 scratch, units [ua, ub) (P × V tiles, smaller ones at the tails). */
export function denseU8Body(fb: FnBuilder, s: QConvSpec, ks: Splats, ua: number, ub: number): Expr[] {
  const m = fb.m, o = new Ops(m);
  const Cq = quads(s.x.C);
  if (Cq !== s.Cp) throw new Error(`u8 dot: scratch channels ${s.Cp}, want ${Cq}`);
  const MB = Math.ceil(s.M / 4), blockBytes = s.kh * s.kw * Cq * 4, pixels = s.OH * s.OW;
  const z = s.x.signed ? s.x.zp + 128 : s.x.zp;
  const Corr = corrAt(s);
  const { P, V } = U8_TILE;
  const q0 = fb.local(i32), vb = fb.local(i32), wp = fb.local(i32), ky = fb.local(i32), kx = fb.local(i32), c4 = fb.local(i32);
  const base = Array.from({ length: P }, () => fb.local(i32));
  const px = Array.from({ length: P }, () => fb.local(i32));
  const acc = Array.from({ length: P * V }, () => fb.local(v128));
  const wv = Array.from({ length: V }, () => fb.local(v128));
  const sp = fb.local(v128);
  const rowBytes = s.Wp * Cq, pixBytes = Cq;
  const partial = s.M % 4 !== 0;
  const wload = (off: number) => quadLoad(m, m.v128.load(off, 1, fb.geti(wp)));

  const bases = (Pn: number) => Array.from({ length: Pn }, (_, p) => {
    const q = o.addc(fb.geti(q0), p);
    return fb.set(base[p], o.add(o.c(s.S), o.add(o.mul(m.i32.div_u(q, o.c(s.OW)), s.sh * rowBytes), o.mul(m.i32.rem_u(o.addc(fb.geti(q0), p), o.c(s.OW)), s.sw * pixBytes))));
  });

  const tile = (Pn: number, Vn: number): Expr[] => {
    const A = (p: number, v: number) => acc[p * V + v];
    const inner: Expr[] = [
      ...Array.from({ length: Vn }, (_, v) => fb.set(wv[v], wload(v * blockBytes))),
      ...Array.from({ length: Pn }, (_, p) => [
        fb.set(sp, m.v128.load32_splat(0, 1, fb.geti(px[p]))),
        ...Array.from({ length: Vn }, (_, v) => fb.set(A(p, v), relaxedDotAdd(m, fb.getv(wv[v]), fb.getv(sp), fb.getv(A(p, v))))),
      ]).flat(),
      ...Array.from({ length: Pn }, (_, p) => fb.set(px[p], o.addc(fb.geti(px[p]), 4))),
      fb.set(wp, o.addc(fb.geti(wp), 16)),
    ];
    const kxEnd = (s.dw - 1) * pixBytes, kyEnd = s.dh * rowBytes - s.kw * s.dw * pixBytes;
    const step = (n: number) => (n ? Array.from({ length: Pn }, (_, p) => fb.set(px[p], o.addc(fb.geti(px[p]), n))) : []);
    const row = s.dw === 1 ? [fb.loop(c4, o.c(0), s.kw * Cq / 4, 1, inner)]
      : [fb.loop(kx, o.c(0), s.kw, 1, [fb.loop(c4, o.c(0), Cq / 4, 1, inner), ...step(kxEnd)])];
    const loops = s.kh === 1 ? row : [fb.loop(ky, o.c(0), s.kh, 1, [...row, ...step(kyEnd)])];
    const init = (v: number) => {
      const b = m.v128.load(v * 16, 16, o.add(o.c(s.ep.B), o.mul(fb.geti(vb), 16)));
      return z === 0 ? b : m.i32x4.sub(b, m.v128.load(v * 16, 16, o.add(o.c(Corr), o.mul(fb.geti(vb), 16))));
    };
    const stores: Expr[] = [];
    for (let p = 0; p < Pn; p++) for (let v = 0; v < Vn; v++) {
      const ptr = () => o.add(o.add(o.c(s.Y), o.mul(o.addc(fb.geti(q0), p), s.yps)), o.mul(o.addc(fb.geti(vb), v), s.ep.f32Out ? 16 : 4));
      stores.push(storeOut(fb, ptr, [fb.getv(A(p, v))], [o.addc(fb.geti(vb), v)], s.ep, ks, partial ? () => m.i32.sub(o.c(s.M), o.mul(o.addc(fb.geti(vb), v), 4)) : undefined));
    }
    return [
      ...Array.from({ length: Pn }, (_, p) => Array.from({ length: Vn }, (_, v) => fb.set(A(p, v), init(v)))).flat(),
      ...Array.from({ length: Pn }, (_, p) => fb.set(px[p], fb.geti(base[p]))),
      fb.set(wp, o.add(o.c(s.Wq), o.mul(fb.geti(vb), blockBytes))),
      ...loops,
      ...stores,
    ];
  };

  const row = (Pn: number): Expr[] => {
    const full = Math.floor(MB / V), tail = MB % V;
    return [
      ...bases(Pn),
      ...(full ? [fb.loop(vb, o.c(0), full * V, V, tile(Pn, V))] : []),
      ...(tail ? [fb.set(vb, o.c(full * V)), ...tile(Pn, tail)] : []),
    ];
  };
  return denseUnits(fb, P, pixels, q0, ua, ub, row);
}
