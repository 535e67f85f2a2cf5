/**
 * Scalar kernels of the ONNX quantization ops, whose scales and zero points may arrive at run time
 * (ir/ops/quant.ts has the semantics; every rounding here is the reference's):
 *
 * - QuantizeLinear: q = sat(rint_even(f32(x / s)) + zp), per tensor, axis or block, to u8/i8/u16/i16;
 * - DequantizeLinear: y = f32(f32(x − zp) · s);
 * - DynamicQuantizeLinear: u8 with scale and zero point from the data's range, in f32;
 * - ConvInteger / QLinearConv, MatMulInteger / QLinearMatMul: int32 sums of zero-point-shifted
 *   8-bit products (wrapping, as int32 accumulators do), requantized with the f32 multiplier
 *   fround(fround(sx·sw)/sy) and rint_even in f64.
 */
import binaryen from 'binaryen';
import type { Graph, Node } from '../../ir/graph.js';
import { broadcastIndex } from '../../ir/ops/broadcast.js';
import { windowGeometry } from '../../ir/ops/geometry.js';
import { BYTES_PER_ELEMENT, sizeOf } from '../../ir/types.js';
import type { DType } from '../../runtime/tensor.js';
import { FnBuilder, Ops, i32, none, type Expr } from './builder.js';
import { load, store } from './kernels-typed.js';
import { two, wordsOf, type Loc, type OpLowering, type Storage } from './storage.js';

const f64 = binaryen.f64, f32 = binaryen.f32;
const RANGE: Partial<Record<DType, [number, number]>> = { u8: [0, 255], i8: [-128, 127], u16: [0, 65535], i16: [-32768, 32767] };
const INT8 = ['u8', 'i8'];
const dt = (g: Graph, v: string) => g.type(v).dtype;

/** A value's dense logical-order location and its dtype. */
const operand = (s: Storage, n: Node, v: string) => ({ l: s.plain(n, v), d: dt(s.g, v) });

/** An output in logical order. */
function output(s: Storage, v: string): Loc {
  const l = s.dense(wordsOf(sizeOf(s.shape(v)), dt(s.g, v)), 'plain', 0);
  s.define(v, l);
  return l;
}

/** 8-bit value at ptr as i32. */
const load8 = (m: binaryen.Module, ptr: Expr, d: DType) => (d === 'i8' ? m.i32.load8_s(0, 1, ptr) : m.i32.load8_u(0, 1, ptr));

/** rint_even(v) + zp clamped to [lo, hi], as i32 (v: f64). */
function saturateF64(m: binaryen.Module, v: Expr, zp: Expr, lo: number, hi: number): Expr {
  const r = m.f64.add(m.f64.nearest(v), zp);
  return m.i32.trunc_s_sat.f64(m.f64.min(m.f64.max(r, m.f64.const(lo)), m.f64.const(hi)));
}

// ---- QuantizeLinear / DequantizeLinear ----

/** Parameter layout over x: outer × D × inner elements; the parameter of (o, d, r). */
function granularity(n: Node, g: Graph) {
  const xs = g.type(n.inputs[0]).shape, ss = g.type(n.inputs[1]).shape, r = xs.length;
  const bs = Number(n.attrs.block_size ?? 0);
  if (sizeOf(ss) === 1 && ss.length <= 1 && bs === 0) return { kind: 'tensor' as const, outer: 1, D: 1, inner: sizeOf(xs), bs: 1, nb: 1 };
  const axis = (Number(n.attrs.axis ?? 1) + r) % r;
  const D = xs[axis], inner = sizeOf(xs.slice(axis + 1)), outer = sizeOf(xs.slice(0, axis));
  return { kind: bs === 0 ? 'axis' as const : 'block' as const, outer, D, inner, bs: Math.max(1, bs), nb: Math.ceil(D / Math.max(1, bs)) };
}

function qdqProblem(n: Node, g: Graph): string | undefined {
  const [x, sc, zp] = n.inputs;
  const q = n.op === 'QuantizeLinear' ? n.outputs[0] : x;
  if (!RANGE[dt(g, q)] && !(n.op === 'DequantizeLinear' && dt(g, q) === 'i32')) return `has no ${n.op} for ${dt(g, q)} (u8, i8, u16, i16)`;
  if (dt(g, sc) !== 'f32') return `needs an f32 scale ('${sc}' is ${dt(g, sc)})`;
  if (zp && dt(g, zp) !== dt(g, q)) return `needs a ${dt(g, q)} zero point`;
  if (n.op === 'QuantizeLinear' && !['f32', 'i32'].includes(dt(g, x))) return `quantizes f32 or i32 only ('${x}' is ${dt(g, x)})`;
  if (n.op === 'QuantizeLinear' && !['', 'f32'].includes(String(n.attrs.precision ?? ''))) return `divides in f32 only (precision '${String(n.attrs.precision)}')`;
  if (n.op === 'DequantizeLinear' && dt(g, n.outputs[0]) !== 'f32') return 'dequantizes to f32 only';
  return undefined;
}

const quantizeLinear: OpLowering = {
  typed: qdqProblem,
  lower(s, n) {
    const [xv, sv, zv] = n.inputs;
    const gr = granularity(n, s.g);
    // per tensor, any storage order will do: keep a channels-last input channels-last (no copies between convs)
    const xl0 = s.loc(n, xv), sh = s.shape(xv);
    const keep = gr.kind === 'tensor' && xl0.phys === 'T' && xl0.ps === sh[1];
    const x = keep ? xl0 : s.plain(n, xv);
    const xd = dt(s.g, xv), od = dt(s.g, n.outputs[0]), yd = n.op === 'QuantizeLinear' ? od : 'f32';
    const y = s.dense(Math.max(1, wordsOf(sizeOf(sh), od)), keep ? 'T' : 'plain', keep ? sh[1] : 0);
    s.define(n.outputs[0], y);
    const S = s.plain(n, sv), Z = zv ? s.plain(n, zv) : undefined;
    const zd = zv ? dt(s.g, zv) : 'u8';
    const quant = n.op === 'QuantizeLinear';
    const [lo, hi] = RANGE[od] ?? [0, 0];
    s.step(n, quant ? 'quantize_linear' : 'dequantize_linear', gr.kind, sizeOf(sh), (m, a, fn) => {
      const fb = new FnBuilder(m, 0), o = new Ops(m);
      const io = fb.local(i32), id = fb.local(i32), ir = fb.local(i32), e = fb.local(i32), p = fb.local(i32), v = fb.local(f64);
      const pIdx = gr.kind === 'tensor' ? o.c(0) : gr.kind === 'axis' ? fb.geti(id)
        : o.add(o.mul(o.add(o.mul(fb.geti(io), gr.nb), m.i32.div_u(fb.geti(id), o.c(gr.bs))), gr.inner), fb.geti(ir));
      const sc = m.f64.promote(m.f32.load(0, 4, o.add(o.c(a(S)), o.mul(fb.geti(p), 4))));
      const z = Z ? load(fb, o.add(o.c(a(Z)), o.mul(fb.geti(p), BYTES_PER_ELEMENT[zd])), zd) : m.f64.const(0);
      const xe = load(fb, o.add(o.c(a(x)), o.mul(fb.geti(e), BYTES_PER_ELEMENT[xd])), xd);
      const yPtr = o.add(o.c(a(y)), o.mul(fb.geti(e), BYTES_PER_ELEMENT[yd]));
      const body = quant
        ? [fb.set(v, m.f64.convert_s.i32(saturateF64(m, m.f64.promote(m.f32.demote(m.f64.div(xe, sc))), z, lo, hi))), store(fb, yPtr, v, od, false)]
        : [fb.set(v, m.f64.mul(m.f64.promote(m.f32.demote(m.f64.sub(xe, z))), sc)), store(fb, yPtr, v, 'f32', false)];
      const inner = [fb.set(p, pIdx), ...body, fb.set(e, o.addc(fb.geti(e), 1))];
      const n = sizeOf(sh);
      // per tensor f32 → 8 bits: 4 lanes at a time, the scalar loop for the last n % 4
      // and per tensor 8 bits → f32: likewise
      const simdQ = quant && gr.kind === 'tensor' && xd === 'f32' && (od === 'u8' || od === 'i8');
      const simdD = !quant && gr.kind === 'tensor' && (xd === 'u8' || xd === 'i8');
      const simd = simdQ || simdD ? n - (n % 4) : 0;
      if (simd) {
        const zp = Z ? (zd === 'i8' ? m.i32.load8_s : m.i32.load8_u)(0, 1, o.c(a(Z))) : o.c(0);
        const tail = n > simd ? [fb.loop(ir, o.c(simd), n, 1, [fb.set(e, fb.geti(ir)), fb.set(p, o.c(0)), ...body])] : [];
        const head = simdQ ? quantize4(fb, a(x), a(y), a(S), zp, simd, od === 'i8') : dequantize4(fb, a(x), a(y), a(S), zp, simd, xd === 'i8');
        m.addFunction(fn, none, none, fb.vars, m.block(null, [head, ...tail]));
        return;
      }
      const loops = fb.loop(io, o.c(0), gr.outer, 1, [fb.loop(id, o.c(0), gr.D, 1, [fb.loop(ir, o.c(0), gr.inner, 1, inner)])]);
      m.addFunction(fn, none, none, fb.vars, m.block(null, n === 0 ? [] : [fb.set(e, o.c(0)), loops]));
    }, [x, S, ...(Z ? [Z] : [])], [y]);
  },
};

const MAGIC = 1.5 * 2 ** 23, MAGIC_BITS = 0x4b400000;

/**
 * QuantizeLinear per tensor of `count` (a multiple of 4) f32 values at X into 8 bits at Y, 4 lanes a
 * step, as the reference computes: f32x4.div is the f64 quotient rounded to f32 (double rounding is
 * innocuous for a division of f32s); adding 1.5·2^23 to |t| ≤ 2^22 rounds half to even (larger |t|
 * saturate anyway); NaN lanes give 0, as the reference's store does.
 */
function quantize4(fb: FnBuilder, X: number, Y: number, S: number, zp: Expr, count: number, signed: boolean): Expr {
  const m = fb.m, o = new Ops(m);
  const e = fb.local(i32), sv = fb.local(binaryen.v128), zv = fb.local(binaryen.v128), t = fb.local(binaryen.v128);
  const f = (x: number) => m.f32x4.splat(m.f32.const(x));
  const [lo, hi] = signed ? [-128, 127] : [0, 255];
  const T = () => fb.getv(t);
  const clamped = m.f32x4.pmax(m.f32x4.pmin(T(), f(2 ** 22)), f(-(2 ** 22)));
  const q = m.i32x4.add(m.i32x4.sub(m.f32x4.add(clamped, f(MAGIC)), m.i32x4.splat(o.c(MAGIC_BITS))), fb.getv(zv));
  const sat = m.v128.and(m.i32x4.min_s(m.i32x4.max_s(q, m.i32x4.splat(o.c(lo))), m.i32x4.splat(o.c(hi))), m.f32x4.eq(T(), T()));
  const h = m.i16x8.narrow_i32x4_s(sat, sat);
  const bytes = signed ? m.i8x16.narrow_i16x8_s(h, h) : m.i8x16.narrow_i16x8_u(h, h);
  return m.block(null, [
    fb.set(sv, m.v128.load32_splat(0, 4, o.c(S))),
    fb.set(zv, m.i32x4.splat(zp)),
    fb.loop(e, o.c(0), count, 4, [
      fb.set(t, m.f32x4.div(m.v128.load(0, 4, o.add(o.c(X), o.mul(fb.geti(e), 4))), fb.getv(sv))),
      m.i32.store(0, 1, o.add(o.c(Y), fb.geti(e)), m.i32x4.extract_lane(bytes, 0)),
    ]),
  ]);
}

/**
 * DequantizeLinear per tensor of `count` (a multiple of 4) 8-bit values at X into f32 at Y, 4 lanes a
 * step: x − zp is an integer of at most 9 bits, exact in f32, and its product with the f32 scale is
 * exact in f64, so one f32 multiply rounds it as the reference's f64 product stored as f32 does.
 */
function dequantize4(fb: FnBuilder, X: number, Y: number, S: number, zp: Expr, count: number, signed: boolean): Expr {
  const m = fb.m, o = new Ops(m);
  const e = fb.local(i32), sv = fb.local(binaryen.v128), zv = fb.local(binaryen.v128);
  const bytes = m.v128.load32_zero(0, 1, o.add(o.c(X), fb.geti(e)));
  const wide = signed ? m.i32x4.extend_low_i16x8_s(m.i16x8.extend_low_i8x16_s(bytes)) : m.i32x4.extend_low_i16x8_u(m.i16x8.extend_low_i8x16_u(bytes));
  return m.block(null, [
    fb.set(sv, m.v128.load32_splat(0, 4, o.c(S))),
    fb.set(zv, m.i32x4.splat(zp)),
    fb.loop(e, o.c(0), count, 4, [
      m.v128.store(0, 4, o.add(o.c(Y), o.mul(fb.geti(e), 4)), m.f32x4.mul(m.f32x4.convert_i32x4_s(m.i32x4.sub(wide, fb.getv(zv))), fb.getv(sv))),
    ]),
  ]);
}

// ---- DynamicQuantizeLinear ----

const dynamicQuantize: OpLowering = {
  typed: (n, g) => (dt(g, n.inputs[0]) === 'f32' ? undefined : 'quantizes f32 only'),
  lower(s, n) {
    const x = s.plain(n, n.inputs[0]);
    const count = sizeOf(s.shape(n.inputs[0]));
    const [y, sc, zp] = n.outputs.map((v) => (v ? output(s, v) : s.dense(1, 'plain', 0)));
    s.step(n, 'dynamic_quantize_linear', '', count, (m, a, fn) => {
      const fb = new FnBuilder(m, 0), o = new Ops(m);
      const i = fb.local(i32), lo = fb.local(f32), hi = fb.local(f32), scale = fb.local(f32), z = fb.local(f32), t = fb.local(f32);
      const X = () => m.f32.load(0, 4, o.add(o.c(a(x)), o.mul(fb.geti(i), 4)));
      const clampU8 = (e: Expr) => m.f32.min(m.f32.max(e, m.f32.const(0)), m.f32.const(255));
      const body = count === 0 ? [] : [
        fb.loop(i, o.c(0), count, 1, [fb.set(t, X()), fb.set(lo, m.f32.min(fb.get(lo, f32), fb.get(t, f32))), fb.set(hi, m.f32.max(fb.get(hi, f32), fb.get(t, f32)))]),
      ];
      const q = m.select(m.f32.eq(fb.get(scale, f32), m.f32.const(0)), fb.get(z, f32),
        clampU8(m.f32.add(m.f32.nearest(m.f32.min(m.f32.max(m.f32.div(X(), fb.get(scale, f32)), m.f32.const(-1e9)), m.f32.const(1e9))), fb.get(z, f32))));
      m.addFunction(fn, none, none, fb.vars, m.block(null, [
        fb.set(lo, m.f32.const(0)), fb.set(hi, m.f32.const(0)),
        ...body,
        fb.set(scale, m.f32.div(m.f32.sub(fb.get(hi, f32), fb.get(lo, f32)), m.f32.const(255))),
        fb.set(z, m.select(m.f32.eq(fb.get(scale, f32), m.f32.const(0)), m.f32.const(0),
          clampU8(m.f32.nearest(m.f32.sub(m.f32.const(0), m.f32.div(fb.get(lo, f32), fb.get(scale, f32))))))),
        ...(count === 0 ? [] : [fb.loop(i, o.c(0), count, 1, [m.i32.store8(0, 1, o.add(o.c(a(y)), fb.geti(i)), m.i32.trunc_s_sat.f32(q))])]),
        m.f32.store(0, 4, o.c(a(sc)), fb.get(scale, f32)),
        m.i32.store8(0, 1, o.c(a(zp)), m.i32.trunc_s_sat.f32(fb.get(z, f32))),
      ]));
    }, [x], [y, sc, zp]);
  },
};

// ---- ConvInteger / QLinearConv ----

/** Operand slots: [x, xz, w, wz, bias, xs, ws, ys, yz] of ConvInteger or QLinearConv. */
function convSlots(n: Node) {
  const i = n.inputs;
  return n.op === 'ConvInteger'
    ? { x: i[0], w: i[1], xz: i[2], wz: i[3], b: '', xs: '', ws: '', ys: '', yz: '' }
    : { x: i[0], xs: i[1], xz: i[2], w: i[3], ws: i[4], wz: i[5], ys: i[6], yz: i[7], b: i[8] ?? '' };
}

function intOpProblem(n: Node, g: Graph): string | undefined {
  const ins = n.op === 'ConvInteger' || n.op === 'MatMulInteger' ? [n.inputs[0], n.inputs[1]] : [n.inputs[0], n.inputs[3]];
  const bad = ins.find((v) => !INT8.includes(dt(g, v)));
  if (bad) return `takes u8/i8 only ('${bad}' is ${dt(g, bad)})`;
  if (n.op === 'QLinearConv' || n.op === 'QLinearMatMul') {
    const sc = [n.inputs[1], n.inputs[4], n.inputs[6]].find((v) => dt(g, v) !== 'f32');
    if (sc) return `needs f32 scales ('${sc}' is ${dt(g, sc)})`;
  }
  return undefined;
}

/** f32 multipliers fround(fround(sx·sw[j]) / sy) as f64, for parameter index j (run-time loads). */
function multiplier(m: binaryen.Module, sx: Expr, sw: Expr, sy: Expr): Expr {
  return m.f64.promote(m.f32.div(m.f32.mul(sx, sw), sy));
}

const integerConv: OpLowering = {
  typed: intOpProblem,
  check(n, g) {
    const sl = convSlots(n);
    const geo = windowGeometry('Conv', { ...n.attrs, layout: 'NCHW' }, g.type(sl.x).shape, g.type(sl.w).shape, { node: n.name, op: n.op });
    return geo.inSize.length > 2 ? 'has no 3-D integer convolution' : undefined;
  },
  lower(s, n) {
    const sl = convSlots(n);
    const geo = windowGeometry('Conv', { ...n.attrs, layout: 'NCHW' }, s.shape(sl.x).slice(), s.shape(sl.w).slice(), { node: n.name, op: n.op });
    const [H, W] = two(geo.inSize, 1), [kh, kw] = two(geo.kernel, 1), [sh, sw] = two(geo.strides, 1), [dh, dw] = two(geo.dilations, 1);
    const [ph, pw] = two(geo.padBegin, 0), [OH, OW] = two(geo.outSize, 1);
    const { N, C, M, group } = geo, Cg = C / group, Mg = M / group;
    const opnd = (v: string) => (v ? operand(s, n, v) : undefined);
    const X = opnd(sl.x)!, Wt = opnd(sl.w)!, XZ = opnd(sl.xz), WZ = opnd(sl.wz), B = opnd(sl.b), XS = opnd(sl.xs), WS = opnd(sl.ws), YS = opnd(sl.ys), YZ = opnd(sl.yz);
    const wzPer = !!sl.wz && sizeOf(s.shape(sl.wz)) > 1, wsPer = !!sl.ws && sizeOf(s.shape(sl.ws)) > 1;
    const y = output(s, n.outputs[0]);
    const od = dt(s.g, n.outputs[0]);
    const reads = [X, Wt, XZ, WZ, B, XS, WS, YS, YZ].filter((v) => v !== undefined).map((v) => v!.l);
    s.step(n, n.op === 'ConvInteger' ? 'conv_integer' : 'qlinear_conv', '', 2 * N * M * OH * OW * Cg * kh * kw, (m, a, fn) => {
      const fb = new FnBuilder(m, 0), o = new Ops(m);
      const [bn, mm, oy, ox, c, ky, kx, iy, ix, acc, e] = Array.from({ length: 11 }, () => fb.local(i32));
      const zpX = XZ ? load8(m, o.c(a(XZ.l)), XZ.d) : o.c(0);
      const zpW = WZ ? load8(m, o.add(o.c(a(WZ.l)), wzPer ? fb.geti(mm) : o.c(0)), WZ.d) : o.c(0);
      const gi = m.i32.div_u(fb.geti(mm), o.c(Mg));
      const xPtr = o.add(o.c(a(X.l)), o.add(o.add(o.mul(fb.geti(bn), C * H * W), o.mul(o.add(o.mul(gi, Cg), fb.geti(c)), H * W)), o.add(o.mul(fb.geti(iy), W), fb.geti(ix))));
      const wPtr = o.add(o.c(a(Wt.l)), o.add(o.mul(fb.geti(mm), Cg * kh * kw), o.add(o.mul(fb.geti(c), kh * kw), o.add(o.mul(fb.geti(ky), kw), fb.geti(kx)))));
      const inside = m.i32.and(m.i32.lt_u(fb.geti(iy), o.c(H)), m.i32.lt_u(fb.geti(ix), o.c(W)));
      const mac = fb.set(acc, m.i32.add(fb.geti(acc), m.i32.mul(m.i32.sub(load8(m, xPtr, X.d), zpX), m.i32.sub(load8(m, wPtr, Wt.d), zpW))));
      const window = fb.loop(c, o.c(0), Cg, 1, [fb.loop(ky, o.c(0), kh, 1, [fb.loop(kx, o.c(0), kw, 1, [
        fb.set(iy, o.add(o.c(-ph), o.add(o.mul(fb.geti(oy), sh), o.mul(fb.geti(ky), dh)))),
        fb.set(ix, o.add(o.c(-pw), o.add(o.mul(fb.geti(ox), sw), o.mul(fb.geti(kx), dw)))),
        m.if(inside, mac),
      ])])]);
      const yPtr = o.add(o.c(a(y)), o.mul(fb.geti(e), BYTES_PER_ELEMENT[od]));
      let result: Expr;
      if (n.op === 'ConvInteger') result = m.i32.store(0, 4, yPtr, fb.geti(acc));
      else {
        const f32At = (l: Loc, idx: Expr) => m.f32.load(0, 4, o.add(o.c(a(l)), o.mul(idx, 4)));
        const mult = multiplier(m, f32At(XS!.l, o.c(0)), f32At(WS!.l, wsPer ? fb.geti(mm) : o.c(0)), f32At(YS!.l, o.c(0)));
        const [lo, hi] = RANGE[od]!;
        const q = saturateF64(m, m.f64.mul(m.f64.convert_s.i32(fb.geti(acc)), mult), m.f64.convert_s.i32(load8(m, o.c(a(YZ!.l)), YZ!.d)), lo, hi);
        result = m.i32.store8(0, 1, yPtr, q);
      }
      const bias = B ? m.i32.load(0, 4, o.add(o.c(a(B.l)), o.mul(fb.geti(mm), 4))) : o.c(0);
      const body = fb.loop(bn, o.c(0), N, 1, [fb.loop(mm, o.c(0), M, 1, [fb.loop(oy, o.c(0), OH, 1, [fb.loop(ox, o.c(0), OW, 1, [
        fb.set(acc, bias), window, result, fb.set(e, o.addc(fb.geti(e), 1)),
      ])])])]);
      m.addFunction(fn, none, none, fb.vars, m.block(null, sizeOf(s.shape(n.outputs[0])) === 0 ? [] : [fb.set(e, o.c(0)), body]));
    }, reads, [y]);
  },
};

// ---- MatMulInteger / QLinearMatMul ----

function mmSlots(n: Node) {
  const i = n.inputs;
  return n.op === 'MatMulInteger'
    ? { a: i[0], b: i[1], az: i[2] ?? '', bz: i[3] ?? '', as: '', bs: '', ys: '', yz: '' }
    : { a: i[0], as: i[1], az: i[2], b: i[3], bs: i[4], bz: i[5], ys: i[6], yz: i[7] };
}

/** Rows, inner and columns of a (numpy) matmul, and the operands' batch offsets per output batch. */
function mmPlan(g: Graph, av: string, bv: string) {
  const as = g.type(av).shape, bs = g.type(bv).shape;
  const pa = as.length === 1 ? [1, as[0]] : [...as], pb = bs.length === 1 ? [bs[0], 1] : [...bs];
  const M = pa[pa.length - 2], K = pa[pa.length - 1], N = pb[pb.length - 1];
  const ba = pa.slice(0, -2), bb = pb.slice(0, -2);
  const batch = ba.length >= bb.length ? ba.map((d, i) => Math.max(d, bb[i - (ba.length - bb.length)] ?? 1)) : bb.map((d, i) => Math.max(d, ba[i - (bb.length - ba.length)] ?? 1));
  return { M, K, N, batch: sizeOf(batch), offA: broadcastIndex(ba, batch), offB: broadcastIndex(bb, batch) };
}

const integerMatmul: OpLowering = {
  typed: intOpProblem,
  check(n, g) {
    const sl = mmSlots(n);
    const p = mmPlan(g, sl.a, sl.b);
    if (p.batch > 64) return `has no integer matmul over ${p.batch} batches (at most 64)`;
    for (const [v, len, what] of [[sl.az, p.M, 'per row'], [sl.as, p.M, 'per row'], [sl.bz, p.N, 'per column'], [sl.bs, p.N, 'per column']] as const) {
      if (v && sizeOf(g.type(v).shape) !== 1 && !(g.type(v).shape.length === 1 && g.type(v).shape[0] === len)) return `has no integer matmul parameter '${v}' of shape [${g.type(v).shape}] (scalar or ${what})`;
    }
    return undefined;
  },
  lower(s, n) {
    const sl = mmSlots(n);
    const p = mmPlan(s.g, sl.a, sl.b);
    const opnd = (v: string) => (v ? operand(s, n, v) : undefined);
    const A = opnd(sl.a)!, Bm = opnd(sl.b)!, AZ = opnd(sl.az), BZ = opnd(sl.bz), AS = opnd(sl.as), BS = opnd(sl.bs), YS = opnd(sl.ys), YZ = opnd(sl.yz);
    const per = (v: string) => !!v && sizeOf(s.shape(v)) > 1;
    const y = output(s, n.outputs[0]);
    const od = dt(s.g, n.outputs[0]);
    const reads = [A, Bm, AZ, BZ, AS, BS, YS, YZ].filter((v) => v !== undefined).map((v) => v!.l);
    s.step(n, n.op === 'MatMulInteger' ? 'matmul_integer' : 'qlinear_matmul', '', 2 * p.batch * p.M * p.N * p.K, (m, a, fn) => {
      const fb = new FnBuilder(m, 0), o = new Ops(m);
      const [i, j, k, acc] = Array.from({ length: 4 }, () => fb.local(i32));
      const idx = (v: string, l: number) => (per(v) ? fb.geti(l) : o.c(0));
      const zA = AZ ? load8(m, o.add(o.c(a(AZ.l)), idx(sl.az, i)), AZ.d) : o.c(0);
      const zB = BZ ? load8(m, o.add(o.c(a(BZ.l)), idx(sl.bz, j)), BZ.d) : o.c(0);
      const parts: Expr[] = [];
      for (let q = 0; q < p.batch; q++) {
        const oa = a(A.l) + p.offA[q] * p.M * p.K, ob = a(Bm.l) + p.offB[q] * p.K * p.N, oy = a(y) + q * p.M * p.N * BYTES_PER_ELEMENT[od];
        const mac = fb.set(acc, m.i32.add(fb.geti(acc), m.i32.mul(
          m.i32.sub(load8(m, o.add(o.c(oa), o.add(o.mul(fb.geti(i), p.K), fb.geti(k))), A.d), zA),
          m.i32.sub(load8(m, o.add(o.c(ob), o.add(o.mul(fb.geti(k), p.N), fb.geti(j))), Bm.d), zB))));
        const yPtr = o.add(o.c(oy), o.mul(o.add(o.mul(fb.geti(i), p.N), fb.geti(j)), BYTES_PER_ELEMENT[od]));
        let result: Expr;
        if (n.op === 'MatMulInteger') result = m.i32.store(0, 4, yPtr, fb.geti(acc));
        else {
          const f32At = (l: Loc, e: Expr) => m.f32.load(0, 4, o.add(o.c(a(l)), o.mul(e, 4)));
          const mult = multiplier(m, f32At(AS!.l, idx(sl.as, i)), f32At(BS!.l, idx(sl.bs, j)), f32At(YS!.l, o.c(0)));
          const [lo, hi] = RANGE[od]!;
          result = m.i32.store8(0, 1, yPtr, saturateF64(m, m.f64.mul(m.f64.convert_s.i32(fb.geti(acc)), mult), m.f64.convert_s.i32(load8(m, o.c(a(YZ!.l)), YZ!.d)), lo, hi));
        }
        parts.push(fb.loop(i, o.c(0), p.M, 1, [fb.loop(j, o.c(0), p.N, 1, [fb.set(acc, o.c(0)), fb.loop(k, o.c(0), p.K, 1, [mac]), result])]));
      }
      m.addFunction(fn, none, none, fb.vars, m.block(null, p.M * p.N * p.K === 0 ? [] : parts));
    }, reads, [y]);
  },
};

export const SCALAR_QUANT_LOWERINGS: Record<string, OpLowering> = {
  QuantizeLinear: quantizeLinear, DequantizeLinear: quantizeLinear, DynamicQuantizeLinear: dynamicQuantize,
  ConvInteger: integerConv, QLinearConv: integerConv, MatMulInteger: integerMatmul, QLinearMatMul: integerMatmul,
};
