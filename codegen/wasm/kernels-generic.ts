/**
 * Generic scalar kernels for what the SIMD kernels do not take: convolutions of any rank (1-D,
 * 2-D, 3-D), batch, groups, layout, and weights read at run time (graph inputs); ConvTranspose
 * the same way (as a gather); and batched, broadcasting MatMul / Gemm with any operands at run
 * time. They accumulate in f64 like the reference and finish with the epilogue
 * act(y + residual). Slow next to the SIMD kernels, but exact to the reference's rounding.
 */
import binaryen from 'binaryen';
import { FnBuilder, Ops, i32, none, v128, type Expr } from './builder.js';
import { activation } from './activation.js';
import { withScratch } from './math.js';

/** The epilogue: residual of the output's shape and order (address) and activation. */
export interface Epilogue { R?: number; act: string; alpha: number; beta: number; after?: boolean }

const f64 = binaryen.f64;

/** Nested counted loops (each dim ≥ 1) around `inner`. */
function nest(fb: FnBuilder, o: Ops, dims: readonly number[], idx: readonly number[], inner: Expr[]): Expr[] {
  let body = inner;
  for (let d = dims.length - 1; d >= 0; d--) body = [fb.loop(idx[d], o.c(0), dims[d], 1, body)];
  return body;
}

/** Stores f64 `v` as f32 at Y's running pointer `yp` after the epilogue, and advances it. */
function storeOut(fb: FnBuilder, o: Ops, v: Expr, yp: number, Y: number, ep: Epilogue): Expr[] {
  const m = fb.m;
  let y = m.f32.demote(v);
  const residual = () => m.f32.load(0, 4, o.addc(fb.geti(yp), ep.R! - Y));
  const late = ep.after === true && ep.R !== undefined;
  if (ep.R !== undefined && !late) y = m.f32.add(y, residual());
  if (ep.act !== '') {
    const t = fb.local(v128);
    let a = m.f32x4.extract_lane(withScratch(fb, () => activation(fb, ep.act, ep.alpha, ep.beta, t)), 0);
    if (late) a = m.f32.add(a, residual());
    return [fb.set(t, m.f32x4.splat(y)), m.f32.store(0, 4, fb.geti(yp), a), fb.set(yp, o.addc(fb.geti(yp), 4))];
  }
  if (late) y = m.f32.add(y, residual());
  return [m.f32.store(0, 4, fb.geti(yp), y), fb.set(yp, o.addc(fb.geti(yp), 4))];
}

export interface GenericConvSpec extends Epilogue {
  name: string;
  X: number; W: number; Bias?: number; Y: number;
  N: number; C: number; M: number; group: number;
  inSize: readonly number[]; outSize: readonly number[]; kernel: readonly number[];
  strides: readonly number[]; dilations: readonly number[]; padBegin: readonly number[];
  /** ConvTranspose: W is [C, M/group, k...] and each output gathers the inputs that reach it. */
  transpose: boolean;
  /** Channels last (N, spatial..., C) rather than N, C, spatial... */
  nhwc: boolean;
}

const prod = (a: readonly number[]) => a.reduce((p, x) => p * x, 1);
/** Element strides of batch, channel and each spatial dim. */
function dimStrides(C: number, sp: readonly number[], nhwc: boolean) {
  const inner = sp.map((_, d) => prod(sp.slice(d + 1)) * (nhwc ? C : 1));
  return { n: C * prod(sp), c: nhwc ? 1 : prod(sp), sp: inner };
}

/** Y[n, m, o...] = bias[m] + Σ_c Σ_k X[n, c, i(o, k)...] · W, then the epilogue; Y is dense in its layout. */
export function emitGenericConv(m: binaryen.Module, s: GenericConvSpec): void {
  const fb = new FnBuilder(m, 0), o = new Ops(m);
  const r = s.inSize.length;
  const xs = dimStrides(s.C, s.inSize, s.nhwc), ys = dimStrides(s.M, s.outSize, s.nhwc);
  const Cg = s.C / s.group, Mg = s.M / s.group, kk = prod(s.kernel);
  const kst = s.kernel.map((_, d) => prod(s.kernel.slice(d + 1)));
  // W strides of output channel and input channel
  const [wM, wC] = s.transpose ? [kk, Mg * kk] : [Cg * kk, kk];
  const n = fb.local(i32), mo = fb.local(i32), c = fb.local(i32), gi = fb.local(i32), yp = fb.local(i32);
  const xb = fb.local(i32), wb = fb.local(i32), acc = fb.local(f64);
  const oi = s.outSize.map(() => fb.local(i32)), ki = s.kernel.map(() => fb.local(i32)), ii = s.kernel.map(() => fb.local(i32));
  const inner: Expr[] = [];
  let ok: Expr | undefined;
  for (let d = 0; d < r; d++) {
    const base = s.transpose
      ? o.add(o.addc(fb.geti(oi[d]), s.padBegin[d]), o.mul(fb.geti(ki[d]), -s.dilations[d]))
      : o.add(o.addc(o.mul(fb.geti(oi[d]), s.strides[d]), -s.padBegin[d]), o.mul(fb.geti(ki[d]), s.dilations[d]));
    let cond: Expr;
    if (s.transpose && s.strides[d] > 1) {
      // t = o + p − k·dil must be a non-negative multiple of the stride; i = t / stride
      const t = fb.local(i32);
      inner.push(fb.set(t, base), fb.set(ii[d], m.i32.div_s(fb.geti(t), o.c(s.strides[d]))));
      cond = m.i32.and(m.i32.ge_s(fb.geti(t), o.c(0)), m.i32.eqz(m.i32.rem_s(fb.geti(t), o.c(s.strides[d]))));
      cond = m.i32.and(cond, m.i32.lt_s(fb.geti(ii[d]), o.c(s.inSize[d])));
    } else {
      inner.push(fb.set(ii[d], base));
      cond = m.i32.lt_u(fb.geti(ii[d]), o.c(s.inSize[d])); // negative wraps to large
    }
    ok = ok === undefined ? cond : m.i32.and(ok, cond);
  }
  const xAddr = s.inSize.reduce<Expr>((e, _, d) => o.add(e, o.mul(fb.geti(ii[d]), xs.sp[d] * 4)), fb.geti(xb));
  const wAddr = s.kernel.reduce<Expr>((e, _, d) => o.add(e, o.mul(fb.geti(ki[d]), kst[d] * 4)), fb.geti(wb));
  const mac = fb.set(acc, m.f64.add(fb.get(acc, f64), m.f64.mul(m.f64.promote(m.f32.load(0, 4, xAddr)), m.f64.promote(m.f32.load(0, 4, wAddr)))));
  inner.push(m.if(ok!, mac));
  const perChannel = [
    fb.set(xb, o.add(o.addc(o.mul(fb.geti(n), xs.n * 4), s.X), o.mul(o.add(o.mul(fb.geti(gi), Cg), fb.geti(c)), xs.c * 4))),
    fb.set(wb, s.transpose
      ? o.add(o.addc(o.mul(o.add(o.mul(fb.geti(gi), Cg), fb.geti(c)), wC * 4), s.W), o.mul(m.i32.rem_u(fb.geti(mo), o.c(Mg)), wM * 4))
      : o.add(o.addc(o.mul(fb.geti(mo), wM * 4), s.W), o.mul(fb.geti(c), wC * 4))),
    ...nest(fb, o, s.kernel, ki, inner),
  ];
  const yAddr = s.outSize.reduce<Expr>((e, _, d) => o.add(e, o.mul(fb.geti(oi[d]), ys.sp[d] * 4)),
    o.add(o.addc(o.mul(fb.geti(n), ys.n * 4), s.Y), o.mul(fb.geti(mo), ys.c * 4)));
  const perOutput = [
    fb.set(yp, yAddr),
    fb.set(acc, s.Bias !== undefined ? m.f64.promote(m.f32.load(0, 4, o.addc(o.mul(fb.geti(mo), 4), s.Bias))) : m.f64.const(0)),
    ...(Cg > 0 ? nest(fb, o, [Cg], [c], perChannel) : []),
    ...storeOut(fb, o, fb.get(acc, f64), yp, s.Y, s),
  ];
  const body = nest(fb, o, [s.N, s.M], [n, mo], [fb.set(gi, m.i32.div_u(fb.geti(mo), o.c(Mg))), ...nest(fb, o, s.outSize, oi, perOutput)]);
  m.addFunction(s.name, none, none, fb.vars, m.block(null, body));
}

export interface GenericMatMulSpec extends Epilogue {
  name: string;
  A: number; B: number; Y: number;
  /** Output batch dims and the A/B element strides along them (0 = broadcast). */
  batch: readonly number[]; aBatch: readonly number[]; bBatch: readonly number[];
  rows: number; cols: number; K: number;
  /** Element strides of A along rows and K, of B along K and cols. */
  am: number; ak: number; bk: number; bn: number;
  /** Gemm's alpha. */
  scale: number;
  /** Gemm's C: address and element strides along rows and cols (broadcast: 0), times beta. */
  C?: { addr: number; cm: number; cn: number; beta: number };
}

/** Y[b, i, j] = alpha · Σ_k A[b, i, k] B[b, k, j] + beta · C[i, j], then the epilogue; Y dense. */
export function emitGenericMatMul(m: binaryen.Module, s: GenericMatMulSpec): void {
  const fb = new FnBuilder(m, 0), o = new Ops(m);
  const bi = s.batch.map(() => fb.local(i32)), i = fb.local(i32), j = fb.local(i32), k = fb.local(i32);
  const ab = fb.local(i32), bb = fb.local(i32), yp = fb.local(i32), acc = fb.local(f64);
  const load = (base: number, e1: Expr, s1: number, e2: Expr, s2: number) => m.f64.promote(m.f32.load(0, 4, o.add(o.add(fb.geti(base), o.mul(e1, s1 * 4)), o.mul(e2, s2 * 4))));
  let v: Expr = m.f64.mul(fb.get(acc, f64), m.f64.const(s.scale));
  if (s.C) {
    const cAddr = o.add(o.addc(o.mul(fb.geti(i), s.C.cm * 4), s.C.addr), o.mul(fb.geti(j), s.C.cn * 4));
    v = m.f64.add(v, m.f64.mul(m.f64.promote(m.f32.load(0, 4, cAddr)), m.f64.const(s.C.beta)));
  }
  const perOutput = [
    fb.set(acc, m.f64.const(0)),
    ...(s.K > 0 ? [fb.loop(k, o.c(0), s.K, 1, [fb.set(acc, m.f64.add(fb.get(acc, f64),
      m.f64.mul(load(ab, fb.geti(i), s.am, fb.geti(k), s.ak), load(bb, fb.geti(k), s.bk, fb.geti(j), s.bn))))])] : []),
    ...storeOut(fb, o, v, yp, s.Y, s),
  ];
  const perBatch = [
    fb.set(ab, s.batch.reduce<Expr>((e, _, d) => o.add(e, o.mul(fb.geti(bi[d]), s.aBatch[d] * 4)), o.c(s.A))),
    fb.set(bb, s.batch.reduce<Expr>((e, _, d) => o.add(e, o.mul(fb.geti(bi[d]), s.bBatch[d] * 4)), o.c(s.B))),
    ...nest(fb, o, [s.rows, s.cols], [i, j], perOutput),
  ];
  m.addFunction(s.name, none, none, fb.vars, m.block(null, [fb.set(yp, o.c(s.Y)), ...nest(fb, o, s.batch, bi, perBatch)]));
}

export interface GenericPoolSpec {
  name: string;
  X: number; Y: number;
  N: number; C: number; nhwc: boolean;
  inSize: readonly number[]; outSize: readonly number[]; kernel: readonly number[];
  strides: readonly number[]; dilations: readonly number[]; padBegin: readonly number[]; padEnd: readonly number[];
  kind: 'max' | 'avg';
  /** AveragePool count_include_pad: divide by the taps inside input + pads. */
  countPad: boolean;
  /** The elements' dtype: f32, or u8/i8 for MaxPool (exact through f64). Default f32. */
  dtype?: 'f32' | 'u8' | 'i8';
}

/**
 * Max or average pooling of any rank, batch and layout, like the reference: max propagates NaN
 * (f64.max), an average divides by the taps inside the input (or input + pads), 0 when none.
 */
export function emitGenericPool(m: binaryen.Module, s: GenericPoolSpec): void {
  const fb = new FnBuilder(m, 0), o = new Ops(m);
  const r = s.inSize.length;
  const xs = dimStrides(s.C, s.inSize, s.nhwc), ys = dimStrides(s.C, s.outSize, s.nhwc);
  const dt = s.dtype ?? 'f32', es = dt === 'f32' ? 4 : 1;
  const n = fb.local(i32), c = fb.local(i32), xb = fb.local(i32), yp = fb.local(i32), cnt = fb.local(i32), acc = fb.local(f64);
  const oi = s.outSize.map(() => fb.local(i32)), ki = s.kernel.map(() => fb.local(i32)), ii = s.kernel.map(() => fb.local(i32));
  const inner: Expr[] = [];
  for (let d = 0; d < r; d++) {
    inner.push(fb.set(ii[d], o.add(o.addc(o.mul(fb.geti(oi[d]), s.strides[d]), -s.padBegin[d]), o.mul(fb.geti(ki[d]), s.dilations[d]))));
  }
  // fresh expressions per use: binaryen's trees share no nodes
  const all = (f: (d: number) => Expr) => s.inSize.map((_, d) => f(d)).reduce((e, t) => m.i32.and(e, t));
  const inside = () => all((d) => m.i32.lt_u(fb.geti(ii[d]), o.c(s.inSize[d])));
  const inPads = () => all((d) => m.i32.lt_u(o.addc(fb.geti(ii[d]), s.padBegin[d]), o.c(s.inSize[d] + s.padBegin[d] + s.padEnd[d])));
  const xAddr = s.inSize.reduce<Expr>((e, _, d) => o.add(e, o.mul(fb.geti(ii[d]), xs.sp[d] * es)), fb.geti(xb));
  const x = dt === 'f32' ? m.f64.promote(m.f32.load(0, 4, xAddr))
    : m.f64.convert_s.i32(dt === 'u8' ? m.i32.load8_u(0, 1, xAddr) : m.i32.load8_s(0, 1, xAddr));
  const a = () => fb.get(acc, f64);
  if (s.kind === 'max') inner.push(m.if(inside(), fb.set(acc, m.f64.max(a(), x))));
  else {
    inner.push(m.if(inside(), fb.set(acc, m.f64.add(a(), x))));
    inner.push(fb.set(cnt, o.add(fb.geti(cnt), s.countPad ? inPads() : inside())));
  }
  const avg = m.select(m.i32.gt_s(fb.geti(cnt), o.c(0)), m.f64.div(a(), m.f64.convert_s.i32(fb.geti(cnt))), m.f64.const(0));
  const perOutput = [
    fb.set(yp, s.outSize.reduce<Expr>((e, _, d) => o.add(e, o.mul(fb.geti(oi[d]), ys.sp[d] * es)),
      o.add(o.addc(o.mul(fb.geti(n), ys.n * es), s.Y), o.mul(fb.geti(c), ys.c * es)))),
    fb.set(acc, m.f64.const(s.kind === 'max' ? -Infinity : 0)), fb.set(cnt, o.c(0)),
    ...nest(fb, o, s.kernel, ki, inner),
    dt === 'f32' ? m.f32.store(0, 4, fb.geti(yp), m.f32.demote(s.kind === 'max' ? a() : avg))
      : m.i32.store8(0, 1, fb.geti(yp), m.i32.trunc_s_sat.f64(a())),
  ];
  const body = nest(fb, o, [s.N, s.C], [n, c], [
    fb.set(xb, o.add(o.addc(o.mul(fb.geti(n), xs.n * es), s.X), o.mul(fb.geti(c), xs.c * es))),
    ...nest(fb, o, s.outSize, oi, perOutput),
  ]);
  m.addFunction(s.name, none, none, fb.vars, m.block(null, body));
}
