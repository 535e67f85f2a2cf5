/**
 * The int8 conv kernels' shared parts (kernels-quant.ts: the pair-dot bodies; kernels-quant-relaxed.ts:
 * the relaxed u8-dot body): the kernel spec, the units that threads share, and step 3, the
 * requantizing epilogue and its stores, exactly as the reference (ir/ops/quant.ts qEpilogue) computes it.
 */
import binaryen from 'binaryen';
import { roundHalfEven } from '../../ir/scalar.js';
import { FnBuilder, Ops, i32, v128, type Expr } from './builder.js';
/** Where a 2-D image of 8-bit values is and how it is laid out (element strides = byte strides). */
export interface QImage {
  X: number;
  H: number; W: number; C: number;
  /** Element strides of channel, row, column. */
  sc: number; sh: number; sw: number;
  signed: boolean;
  zp: number;
}

/** The requantizing epilogue's constants. */
export interface QEpilogue {
  /** Address of the i32 bias per (padded) channel. */
  B: number;
  /** Address of the multipliers fround(x_scale·w_scale[c]) per (padded) channel, as f64 (0 when `small`: unused) and as f32. */
  Mul: number;
  Mul32: number;
  act: '' | 'relu' | 'clip';
  lo: number; hi: number;
  ys: number; yz: number;
  outSigned: boolean;
  /** Every sum is known to stay within ±2^24 (from the weights and biases): no per-vector check for the f64 path. */
  small?: boolean;
  /** f32 output: v = f32(acc · m[c]) after the activation, not requantized (ys, yz, outSigned unused). */
  f32Out: boolean;
}

export interface QConvSpec {
  name: string;
  x: QImage;
  /** Scratch i16 image [Hp][Wp][Cp]. */
  S: number; Hp: number; Wp: number; Cp: number;
  ph: number; pw: number;
  Y: number; OH: number; OW: number; M: number;
  /** Bytes between output pixels (the output's channels-last pixel stride). */
  yps: number;
  kh: number; kw: number; sh: number; sw: number; dh: number; dw: number;
  /** Packed weights: dense [ceil(M/4)][kh][kw][Cp/2][4][2], depthwise [kh][ceil(kw/2)][Cp][2] (int8). */
  Wq: number;
  wSigned: boolean;
  depthwise: boolean;
  P: number; V: number;
  ep: QEpilogue;
}

/**
 * Pixels per unit of a dense conv's `_range`: a whole number of register tiles for every tile width
 * (2, 3, 4 pixels), so that a unit's tiles are the same whichever body runs it.
 */
const UNIT_PIXELS = 12;

/** Units of work of the conv's `_range`: output rows (depthwise), runs of UNIT_PIXELS pixels (dense). */
export const qconvUnits = (s: QConvSpec) => (s.depthwise ? s.OH : Math.ceil((s.OH * s.OW) / UNIT_PIXELS));

/**
 * The tiles of dense units [ua, ub) over `pixels` flat output pixels, P at a time (`row(Pn)`: the
 * tile of Pn pixels at q0): the whole units in a run-time loop, the last, partial unit (its size known
 * here) only when the range ends with it.
 */
export function denseUnits(fb: FnBuilder, P: number, pixels: number, q0: number, ua: number, ub: number, row: (Pn: number) => Expr[]): Expr[] {
  const m = fb.m, o = new Ops(m);
  if (UNIT_PIXELS % P) throw new Error(`tile of ${P} pixels does not divide a unit of ${UNIT_PIXELS}`);
  const whole = Math.floor(pixels / UNIT_PIXELS), rest = pixels % UNIT_PIXELS, at = whole * UNIT_PIXELS;
  const end = m.select(m.i32.lt_s(fb.geti(ub), o.c(whole)), fb.geti(ub), o.c(whole));
  const fullP = Math.floor(rest / P), tailP = rest % P;
  const last = [
    ...(fullP ? [fb.loop(q0, o.c(at), at + fullP * P, P, row(P))] : []),
    ...(tailP ? [fb.set(q0, o.c(at + fullP * P)), ...row(tailP)] : []),
  ];
  return [
    ...(whole ? [fb.loopDyn(q0, o.mul(fb.geti(ua), UNIT_PIXELS), o.mul(end, UNIT_PIXELS), P, row(P))] : []),
    ...(rest ? [m.if(m.i32.gt_s(fb.geti(ub), o.c(whole)), m.block(null, last))] : []),
  ];
}

/**
 * Step 3 for 4 channels: acc (i32x4) → the quantized values as i32x4, zero point added and already
 * clamped to the output range (activation included). `blk`: the channel block (4 channels).
 * The reference rounds acc·m in f64 then to f32; for |acc| ≤ 2^24 the product is exact in f64, so
 * one f32 multiply gives the same bits; larger sums (rare) take the f64 path. The f32 division
 * v / y_scale is the reference's f64 division rounded to f32 (double rounding is innocuous for
 * division of f32s). Rounding half to even: adding 1.5·2^23 to |t| ≤ 2^22 lands in the binade
 * whose ulp is 1, so the f32 add rounds as roundHalfEven does, and the integer is the bits minus
 * those of 1.5·2^23. relu/clip commute with that monotone rounding, so they are integer clamps
 * (see activationBounds), merged with the saturation and applied before the rounding.
 */
function requant4(fb: FnBuilder, acc: Expr, blk: Expr, ep: QEpilogue, k: Splats): Expr {
  const m = fb.m, o = new Ops(m);
  const a = fb.local(v128), b = fb.local(i32);
  const A = () => fb.getv(a);
  const wide = m.call(wideProduct(m), [A(), o.add(o.c(ep.Mul), o.mul(fb.geti(b), 32))], v128);
  const narrowSum = m.f32x4.mul(m.f32x4.convert_i32x4_s(A()), m.v128.load(0, 16, o.add(o.c(ep.Mul32), o.mul(fb.geti(b), 16))));
  const large = m.v128.any_true(m.i32x4.gt_u(m.i32x4.abs(A()), k.i(2 ** 24)));
  const v = ep.small ? narrowSum : m.if(large, wide, narrowSum);
  const f = (x: number) => k.f(x);
  if (ep.f32Out) {
    // relu/clip of an f32 that is never NaN or −0 (acc · m with m > 0): pmax/pmin give the reference's bits
    const act = ep.act === 'relu' ? m.f32x4.pmax(v, f(0)) : ep.act === 'clip' ? m.f32x4.pmin(m.f32x4.pmax(v, f(ep.lo)), f(ep.hi)) : v;
    return m.block(null, [fb.set(a, acc), fb.set(b, blk), act], v128);
  }
  const t = m.f32x4.div(v, f(ep.ys));
  // clamped to the integer bounds before rounding: rounding keeps integers and order, so the
  // rounded value lands in [lo, hi] (and |t| ≤ 2^22, where the magic-number rounding holds)
  const [lo, hi] = activationBounds(ep);
  const clamped = m.f32x4.pmax(m.f32x4.pmin(t, f(hi - ep.yz)), f(lo - ep.yz));
  return m.block(null, [fb.set(a, acc), fb.set(b, blk), m.i32x4.sub(m.f32x4.add(clamped, f(MAGIC)), k.i(MAGIC_BITS - ep.yz))], v128);
}

/**
 * The epilogue's splatted constants, each in a v128 local set once at the function's start: V8
 * rematerialised every inline splat (a scalar move and a shuffle) per 4 outputs, which cost more
 * than the integer dot products of a layer with few input channels.
 */
export class Splats {
  readonly inits: Expr[] = [];
  private readonly locals = new Map<string, number>();
  constructor(private readonly fb: FnBuilder) {}
  f(x: number): Expr { return this.get(`f${x}`, () => this.fb.m.f32x4.splat(this.fb.m.f32.const(x))); }
  i(x: number): Expr { return this.get(`i${x}`, () => this.fb.m.i32x4.splat(this.fb.m.i32.const(x))); }
  private get(key: string, make: () => Expr): Expr {
    let l = this.locals.get(key);
    if (l === undefined) {
      l = this.fb.local(v128);
      this.locals.set(key, l);
      this.inits.push(this.fb.set(l, make()));
    }
    return this.fb.getv(l);
  }
}

const MAGIC = 1.5 * 2 ** 23, MAGIC_BITS = 0x4b400000;

/**
 * The quantized output's bounds [lo, hi] (zero point added): the output type's range, narrowed by
 * the activation. With G(v) = roundHalfEven(f32(f32(v) / y_scale)) non-decreasing,
 * G(min(max(v, a), b)) = min(max(G(v), G(a)), G(b)), and saturation is a clamp too.
 */
export function activationBounds(ep: Pick<QEpilogue, 'act' | 'lo' | 'hi' | 'ys' | 'yz' | 'outSigned'>): [number, number] {
  const S0 = ep.outSigned ? -128 : 0, S1 = ep.outSigned ? 127 : 255;
  const sat = (x: number) => Math.min(S1, Math.max(S0, x));
  const G = (v: number) => roundHalfEven(Math.fround(Math.fround(v) / ep.ys)) + ep.yz;
  if (ep.act === 'relu') return [sat(G(0)), S1];
  if (ep.act === 'clip') return [sat(G(ep.lo)), sat(G(ep.hi))];
  return [S0, S1];
}

const WIDE = 'qrequant_wide';
const wideAdded = new WeakSet<binaryen.Module>();

/**
 * f32(acc · m) for 4 lanes via f64 (acc: i32x4, m: 4 f64 at the address), in its own function: V8
 * ran the whole kernel several times slower with these f64x2 conversions inlined into it.
 */
function wideProduct(m: binaryen.Module): string {
  if (wideAdded.has(m)) return WIDE;
  wideAdded.add(m);
  const fb = new FnBuilder(m, 2);
  const A = () => fb.getv(0), P = () => fb.geti(1);
  const half = (hi: boolean) => m.f32x4.demote_f64x2_zero(m.f64x2.mul(
    m.f64x2.convert_low_i32x4_s(hi ? m.i8x16.shuffle(A(), A(), [8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7]) : A()),
    m.v128.load(hi ? 16 : 0, 8, P())));
  m.addFunction(WIDE, binaryen.createType([v128, i32]), v128, fb.vars,
    m.i8x16.shuffle(half(false), half(true), [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23]));
  return WIDE;
}

/**
 * Two i32x4 of quantized values (already in range) → their 8 bytes in the low lanes (b undefined:
 * a's 4 bytes). Each operand goes through a local: a binaryen expression used twice is emitted twice,
 * and V8 then ran the whole requantizing epilogue two to four times per vector.
 */
function narrow(fb: FnBuilder, a: Expr, b: Expr | undefined, signed: boolean): Expr {
  const m = fb.m, ta = fb.local(v128), tb = fb.local(v128), th = fb.local(v128);
  const h = fb.getv(th);
  return m.block(null, [
    fb.set(ta, a), ...(b ? [fb.set(tb, b)] : []),
    fb.set(th, m.i16x8.narrow_i32x4_s(fb.getv(ta), fb.getv(b ? tb : ta))),
    signed ? m.i8x16.narrow_i16x8_s(h, fb.getv(th)) : m.i8x16.narrow_i16x8_u(h, fb.getv(th)),
  ], v128);
}

/** Stores the 4 f32 lanes of v at ptr; `limit` (run-time count) guards each lane when given. */
function storeF32(fb: FnBuilder, ptr: Expr, v: Expr, limit?: Expr): Expr {
  const m = fb.m;
  if (!limit) return m.v128.store(0, 4, ptr, v);
  const t = fb.local(v128), p = fb.local(i32), lim = fb.local(i32);
  const lanes = Array.from({ length: 4 }, (_, k) => m.if(m.i32.lt_s(m.i32.const(k), fb.geti(lim)),
    m.f32.store(k * 4, 4, fb.geti(p), m.f32x4.extract_lane(fb.getv(t), k))));
  return m.block(null, [fb.set(t, v), fb.set(p, ptr), fb.set(lim, limit), ...lanes]);
}

/** The epilogue's stores of 4·k channels (k i32x4 accumulators at `blks`) at ptr: 8-bit or f32 values. */
export function storeOut(fb: FnBuilder, ptr: () => Expr, accs: Expr[], blks: Expr[], ep: QEpilogue, ks: Splats, limit?: () => Expr): Expr {
  const m = fb.m, o = new Ops(m);
  const qs = accs.map((a, k) => requant4(fb, a, blks[k], ep, ks));
  if (ep.f32Out) return m.block(null, qs.map((q, k) => storeF32(fb, o.addc(ptr(), 16 * k), q, limit && (k ? m.i32.sub(limit(), o.c(4 * k)) : limit()))));
  return storeBytes(fb, ptr(), narrow(fb, qs[0], qs[1], ep.outSigned), qs.length === 1 ? 4 : 8, limit?.());
}

/** Stores `n` (compile-time) bytes of v's low lanes at ptr; `limit` (run-time count) guards each byte when given. */
function storeBytes(fb: FnBuilder, ptr: Expr, v: Expr, n: 4 | 8, limit?: Expr): Expr {
  const m = fb.m, t = fb.local(v128), p = fb.local(i32);
  if (!limit) {
    return n === 8 ? m.i64.store(0, 1, ptr, m.i64x2.extract_lane(v, 0)) : m.i32.store(0, 1, ptr, m.i32x4.extract_lane(v, 0));
  }
  const lim = fb.local(i32);
  const bytes = Array.from({ length: n }, (_, k) => m.if(m.i32.lt_s(m.i32.const(k), fb.geti(lim)),
    m.i32.store8(k, 1, fb.geti(p), m.i8x16.extract_lane_u(fb.getv(t), k))));
  return m.block(null, [fb.set(t, v), fb.set(p, ptr), fb.set(lim, limit), ...bytes]);
}

/**
 * The scratch image's padding filled with `byte`, for a scratch of `pix` bytes per pixel: the rows
 * above and below the image once (`outside`), and for image row `y` (an i32 local) the columns left
 * and right of it (`edges`). The two widening steps share it: the pair dot pads with 0 (x − z), the
 * relaxed u8 dot with the zero point itself.
 */
export function scratchBorders(fb: FnBuilder, s: QConvSpec, pix: number, byte: number, y: number): { outside: Expr[]; edges: Expr[] } {
  const m = fb.m, o = new Ops(m), row = s.Wp * pix;
  const fill = (at: Expr, n: number) => (n > 0 ? [m.memory.fill(at, o.c(byte), o.c(n))] : []);
  const rowStart = () => o.add(o.c(s.S + s.ph * row), o.mul(fb.geti(y), row));
  return {
    outside: [...fill(o.c(s.S), s.ph * row), ...fill(o.c(s.S + (s.ph + s.x.H) * row), (s.Hp - s.ph - s.x.H) * row)],
    edges: [...fill(rowStart(), s.pw * pix), ...fill(o.addc(rowStart(), (s.pw + s.x.W) * pix), (s.Wp - s.pw - s.x.W) * pix)],
  };
}
