/**
 * The kernels that are not convolutions: elementwise expressions with broadcasting (vectorised
 * along the innermost contiguous run), global pooling, copies (concat, pad), transposes (layout
 * changes), softmax and a scalar-blocked ConvTranspose. Each is one function specialised to its
 * shapes and addresses.
 */
import binaryen from 'binaryen';
import { FnBuilder, Ops, f32, i32, none, v128, type Expr } from './builder.js';
import { exp, withScratch } from './math.js';
import { recordUnitWork } from './units.js';

/** One elementwise operand: byte address and element strides over the output's (collapsed) dims; 0 = broadcast. */
export interface Operand { addr: number; strides: number[] }

export interface ElementwiseSpec {
  name: string;
  /** Output dims (collapsed), contiguous at `Y`. */
  dims: number[];
  Y: number;
  /** More outputs of the same dims and order as Y (a fused group's intermediates read elsewhere). */
  moreY?: number[];
  operands: Operand[];
  /**
   * The value from the operands' f32x4 values (locals), e.g. a rendered scalar formula; with moreY,
   * one value per output, evaluated in order (the first may set locals the others read).
   */
  expr: (fb: FnBuilder, xs: number[]) => Expr | Expr[];
}

/** Merges adjacent dims along which every operand (and the output) is contiguous. */
export function collapseDims(dims: number[], strides: number[][]): { dims: number[]; strides: number[][] } {
  const d = [...dims], s = strides.map((x) => [...x]);
  for (let i = d.length - 1; i > 0; i--) {
    const mergeable = s.every((st) => st[i - 1] === st[i] * d[i]);
    if (mergeable || d[i] === 1) {
      if (d[i] === 1) { d.splice(i, 1); s.forEach((st) => st.splice(i, 1)); continue; }
      d[i - 1] *= d[i];
      s.forEach((st) => { st[i - 1] = st[i]; });
      d.splice(i, 1);
      s.forEach((st) => st.splice(i, 1));
    }
  }
  // a leading dim of 1 (batch 1) whose stride does not chain stays above: drop it too
  while (d.length > 1 && d[0] === 1) { d.shift(); s.forEach((st) => st.shift()); }
  if (d.length === 0) return { dims: [1], strides: s.map(() => [0]) };
  return { dims: d, strides: s };
}

/**
 * Exports `<name>_range` (a function of (start, end) over `units` independent units of work) and
 * the global `<name>_rows` = units, for the threaded runtime (runtime/wasm/threads.ts).
 */
export function exportUnits(m: binaryen.Module, name: string, units: number): void {
  m.addFunctionExport(`${name}_range`, `${name}_range`);
  m.addGlobal(`${name}_rows`, i32, false, m.i32.const(units));
  m.addGlobalExport(`${name}_rows`, `${name}_rows`);
}

/** Elements per unit of a one-dimensional elementwise kernel's range (a multiple of 4: units stay SIMD-aligned). */
export const ELEMENTWISE_CHUNK = 2048;

/**
 * out[i] = expr(x_k[i]) over broadcast operands. The innermost dim runs four lanes at a time when
 * every operand is contiguous (stride 1) or constant (stride 0) along it; otherwise lane by lane.
 * `<name>_range(a, b)` computes indices [a, b) of the outermost (collapsed) dim, or chunks [a, b)
 * of ELEMENTWISE_CHUNK elements when everything collapses to one dim; `<name>()` all of them.
 */
export function emitElementwise(m: binaryen.Module, s: ElementwiseSpec): void {
  const fb = new FnBuilder(m, 2), o = new Ops(m);
  const out = s.dims.map((_, i) => s.dims.slice(i + 1).reduce((a, b) => a * b, 1));
  const ys = [s.Y, ...(s.moreY ?? [])];
  const collapsed = collapseDims(s.dims, [...ys.map(() => out), ...s.operands.map((x) => x.strides)]);
  const { dims } = collapsed;
  // the extra outputs share the first one's pointer: each is at a fixed distance from it
  const strides = [collapsed.strides[0], ...collapsed.strides.slice(ys.length)];
  const r = dims.length, inner = dims[r - 1];
  const idx = dims.map(() => fb.local(i32));
  const ptr = strides.map(() => fb.local(i32));
  const xs = s.operands.map(() => fb.local(v128));
  const res = ys.map(() => fb.local(v128));
  const addrs = [s.Y, ...s.operands.map((x) => x.addr)];
  const values = (e: Expr | Expr[]) => (Array.isArray(e) ? e : [e]);
  const storeAll = (store: (y: number, v: Expr) => Expr) => ys.map((y, k) => store(y - s.Y, fb.getv(res[k])));
  const vector = strides.every((st) => st[r - 1] === 0 || st[r - 1] === 1);

  // innermost: pointers at the row start, then 4 lanes at a time and a lane-by-lane tail
  const rowStart = (k: number) => {
    let e = o.c(addrs[k]);
    for (let d = 0; d < r - 1; d++) e = o.add(e, o.mul(fb.geti(idx[d]), strides[k][d] * 4));
    return e;
  };
  const lane = (k: number, off: number): Expr => {
    const st = strides[k][r - 1];
    return o.sload(fb.geti(ptr[k]), st * off * 4);
  };
  const compute = (load: (k: number) => Expr): Expr[] => [
    ...s.operands.map((_, j) => fb.set(xs[j], load(j + 1))),
    ...values(s.expr(fb, xs)).map((v, k) => fb.set(res[k], v)),
  ];
  let units: number, body: Expr;
  if (r === 1) {
    units = Math.ceil(inner / ELEMENTWISE_CHUNK);
    recordUnitWork(m, s.name, Array.from({ length: units }, (_, u) => Math.min(ELEMENTWISE_CHUNK, inner - u * ELEMENTWISE_CHUNK)));
    body = flatRange(fb, inner, vector, strides.map((st) => st[0]), addrs, ptr, compute, storeAll);
  } else {
    const innerBody: Expr[] = strides.map((_, k) => fb.set(ptr[k], rowStart(k)));
    const n4 = vector ? Math.floor(inner / 4) * 4 : 0;
    if (n4 > 0) {
      innerBody.push(fb.loop(idx[r - 1], o.c(0), n4, 4, [
        ...compute((k) => (strides[k][r - 1] === 1 ? o.vload(fb.geti(ptr[k])) : o.sload(fb.geti(ptr[k])))),
        ...storeAll((d, v) => o.vstore(o.addc(fb.geti(ptr[0]), d), v)),
        ...strides.map((st, k) => fb.set(ptr[k], o.addc(fb.geti(ptr[k]), st[r - 1] * 16))),
      ]));
    }
    body = elementwiseRows(fb, innerBody, inner - n4, idx, ptr, strides, dims, compute, storeAll, lane);
    units = dims[0];
  }
  m.addFunction(`${s.name}_range`, binaryen.createType([i32, i32]), none, fb.vars, body);
  m.addFunction(s.name, none, none, [], m.call(`${s.name}_range`, [o.c(0), o.c(units)], none));
  exportUnits(m, s.name, units);
}

type Compute = (load: (k: number) => Expr) => Expr[];
type StoreAll = (store: (y: number, v: Expr) => Expr) => Expr[];

/** A dense 1-D kernel's chunks [a, b) (params 0, 1): 4 lanes at a time, then lane by lane to the chunk's end. */
function flatRange(fb: FnBuilder, n: number, vector: boolean, st: number[], addrs: number[], ptr: number[], compute: Compute, storeAll: StoreAll): Expr {
  const m = fb.m, o = new Ops(m);
  const i = fb.local(i32), end = fb.local(i32), end4 = fb.local(i32);
  const endE = o.mul(fb.geti(1), ELEMENTWISE_CHUNK);
  const advance = (lanes: number) => st.map((x, k) => fb.set(ptr[k], o.addc(fb.geti(ptr[k]), x * lanes * 4)));
  const start = () => o.mul(fb.geti(0), ELEMENTWISE_CHUNK);
  const body: Expr[] = [
    fb.set(end, m.select(m.i32.lt_u(endE, o.c(n)), endE, o.c(n))),
    ...st.map((x, k) => fb.set(ptr[k], o.addc(o.mul(start(), x * 4), addrs[k]))),
    fb.set(end4, vector ? m.i32.and(fb.geti(end), o.c(~3)) : start()),
  ];
  if (vector) {
    body.push(fb.loopDyn(i, start(), fb.geti(end4), 4, [
      ...compute((k) => (st[k] === 1 ? o.vload(fb.geti(ptr[k])) : o.sload(fb.geti(ptr[k])))),
      ...storeAll((d, v) => o.vstore(o.addc(fb.geti(ptr[0]), d), v)),
      ...advance(4),
    ]));
  }
  body.push(fb.loopDyn(i, fb.geti(end4), fb.geti(end), 1, [
    ...compute((k) => o.sload(fb.geti(ptr[k]))),
    ...storeAll((d, v) => m.f32.store(0, 4, o.addc(fb.geti(ptr[0]), d), m.f32x4.extract_lane(v, 0))),
    ...advance(1),
  ]));
  return m.block(null, body);
}

/** A kernel over ≥ 2 dims: indices [a, b) (params 0, 1) of the outermost one, the inner ones whole. */
function elementwiseRows(fb: FnBuilder, innerBody: Expr[], tail: number, idx: number[], ptr: number[], strides: number[][], dims: number[],
  compute: Compute, storeAll: StoreAll, lane: (k: number, off: number) => Expr): Expr {
  const m = fb.m, o = new Ops(m), r = dims.length, inner = dims[r - 1];
  if (tail > 0 && tail <= 8) {
    for (let t = 0; t < tail; t++) {
      innerBody.push(...compute((k) => lane(k, t)));
      innerBody.push(...storeAll((d, v) => m.f32.store(t * 4, 4, o.addc(fb.geti(ptr[0]), d), m.f32x4.extract_lane(v, 0))));
    }
  } else if (tail > 0) {
    innerBody.push(fb.loop(idx[r - 1], o.c(0), tail, 1, [
      ...compute((k) => lane(k, 0)),
      ...storeAll((d, v) => m.f32.store(0, 4, o.addc(fb.geti(ptr[0]), d), m.f32x4.extract_lane(v, 0))),
      ...strides.map((st, k) => fb.set(ptr[k], o.addc(fb.geti(ptr[k]), st[r - 1] * 4))),
    ]));
  }
  let body: Expr = m.block(null, innerBody);
  for (let d = r - 2; d >= 1; d--) body = fb.loop(idx[d], o.c(0), dims[d], 1, [body]);
  return fb.loopDyn(idx[0], fb.geti(0), fb.geti(1), 1, [body]);
}

export interface GlobalPoolSpec {
  name: string;
  kind: 'avg' | 'max';
  X: number; pixels: number; xps: number; C: number;
  Y: number;
  /** Scratch of ⌈C/4⌉·16 bytes for the running sums. */
  S: number;
  /** One image of a batch: adds `<name>_row(unit)` for a parts driver (lower-pool.ts) instead of the exported range and `<name>()`. */
  part?: boolean;
}

/**
 * Global average/max pooling over NHWC pixels, vectorised over channels. `<name>_range(a, b)`
 * pools channel groups [a, b) of 16 (one cache line of sums and of outputs: threads sharing the
 * channels write no common line), reading every pixel's slice of them in memory order.
 */
export function emitGlobalPool(m: binaryen.Module, s: GlobalPoolSpec): void {
  const fb = new FnBuilder(m, 2), o = new Ops(m);
  const p = fb.local(i32), c = fb.local(i32), x = fb.local(i32), t = fb.local(v128), c0 = fb.local(i32), c1 = fb.local(i32);
  const nv = Math.ceil(s.C / 4), nFull = Math.floor(s.C / 4), units = Math.ceil(nv / 4);
  const op = (a: Expr, b: Expr) => (s.kind === 'avg' ? m.f32x4.add(a, b) : m.f32x4.max(a, b));
  const scale = s.kind === 'avg' ? 1 / s.pixels : 1;
  const c1E = o.mul(fb.geti(1), 64);
  const body: Expr[] = [
    // byte offsets [c0, c1) of the group range's vectors
    fb.set(c0, o.mul(fb.geti(0), 64)),
    fb.set(c1, m.select(m.i32.lt_u(c1E, o.c(nv * 16)), c1E, o.c(nv * 16))),
    fb.loopDyn(c, fb.geti(c0), fb.geti(c1), 16, [o.vstore(o.addc(fb.geti(c), s.S), o.splat(s.kind === 'avg' ? 0 : -Infinity))]),
    fb.loop(p, o.c(0), s.pixels, 1, [
      fb.set(x, o.addc(o.mul(fb.geti(p), s.xps * 4), s.X)),
      fb.loopDyn(c, fb.geti(c0), fb.geti(c1), 16, [
        o.vstore(o.addc(fb.geti(c), s.S), op(o.vload(o.addc(fb.geti(c), s.S)), o.vload(o.add(fb.geti(x), fb.geti(c))))),
      ]),
    ]),
    // whole vectors, then the last one's real lanes
    fb.loopDyn(c, fb.geti(c0), m.select(m.i32.lt_u(fb.geti(c1), o.c(nFull * 16)), fb.geti(c1), o.c(nFull * 16)), 16, [
      o.vstore(o.addc(fb.geti(c), s.Y), m.f32x4.mul(o.vload(o.addc(fb.geti(c), s.S)), o.splat(scale))),
    ]),
  ];
  if (nFull < nv) {
    const lanes = s.C - 4 * nFull, stores: Expr[] = [fb.set(t, m.f32x4.mul(o.vload(o.c(s.S + nFull * 16)), o.splat(scale)))];
    for (let l = 0; l < lanes; l++) stores.push(m.f32.store(0, 4, o.c(s.Y + nFull * 16 + l * 4), m.f32x4.extract_lane(fb.getv(t), l)));
    body.push(m.if(m.i32.eq(fb.geti(c1), o.c(nv * 16)), m.block(null, stores)));
  }
  m.addFunction(`${s.name}_range`, binaryen.createType([i32, i32]), none, fb.vars, m.block(null, body));
  recordUnitWork(m, s.name, Array.from({ length: units }, (_, u) => Math.min(4, nv - 4 * u)));
  if (s.part) {
    m.addFunction(`${s.name}_row`, i32, none, [], m.call(`${s.name}_range`, [m.local.get(0, i32), o.addc(m.local.get(0, i32), 1)], none));
    return;
  }
  m.addFunction(s.name, none, none, [], m.call(`${s.name}_range`, [o.c(0), o.c(units)], none));
  exportUnits(m, s.name, units);
}

/** Units (groups of 16 channels) of a global pool over C channels. */
export const globalPoolUnits = (C: number): number => Math.ceil(Math.ceil(C / 4) / 4);

/** Copies `rows` runs of `bytes` bytes from src (stride srcStride) to dst (stride dstStride). */
export function emitCopy(m: binaryen.Module, name: string, src: number, dst: number, rows: number, bytes: number, srcStride: number, dstStride: number): void {
  const fb = new FnBuilder(m, 0), o = new Ops(m);
  const r = fb.local(i32);
  const body = rows === 1
    ? m.memory.copy(o.c(dst), o.c(src), o.c(bytes))
    : fb.loop(r, o.c(0), rows, 1, [m.memory.copy(o.addc(o.mul(fb.geti(r), dstStride), dst), o.addc(o.mul(fb.geti(r), srcStride), src), o.c(bytes))]);
  m.addFunction(name, none, none, fb.vars, body);
}

/** Fills `n` floats at dst with `value`. */
export function emitFill(m: binaryen.Module, name: string, dst: number, n: number, value: number): void {
  const fb = new FnBuilder(m, 0), o = new Ops(m);
  const i = fb.local(i32);
  const body = value === 0 && !Object.is(value, -0)
    ? m.memory.fill(o.c(dst), o.c(0), o.c(n * 4))
    : fb.loop(i, o.c(0), n * 4, 4, [m.f32.store(0, 4, o.addc(fb.geti(i), dst), m.f32.const(value))]);
  m.addFunction(name, none, none, fb.vars, body);
}

/**
 * Strided copy: Y[Σ i_d·dstStrides_d] = X[Σ i_d·srcStrides_d] over `dims` — transposes, slices,
 * pads and layout changes. Lane by lane: these run at the graph's edges, not in its hot loops.
 */
export function emitStrided(m: binaryen.Module, name: string, X: number, srcStrides: number[], Y: number, dstStrides: number[], dims: number[], bytes = 4): void {
  const fb = new FnBuilder(m, 0), o = new Ops(m);
  const { dims: d, strides } = collapseDims(dims, [dstStrides, srcStrides]);
  const idx = d.map(() => fb.local(i32));
  let src: Expr = o.c(X), dst: Expr = o.c(Y);
  for (let k = 0; k < d.length; k++) {
    src = o.add(src, o.mul(fb.geti(idx[k]), strides[1][k] * bytes));
    dst = o.add(dst, o.mul(fb.geti(idx[k]), strides[0][k] * bytes));
  }
  // elements of 1, 2, 4 or 8 bytes (int8 values of the quantized kernels, f32, i64)
  let body: Expr = bytes === 1 ? m.i32.store8(0, 1, dst, m.i32.load8_u(0, 1, src))
    : bytes === 2 ? m.i32.store16(0, 1, dst, m.i32.load16_u(0, 1, src))
      : bytes === 8 ? m.i64.store(0, 1, dst, m.i64.load(0, 1, src)) : m.f32.store(0, 4, dst, m.f32.load(0, 4, src));
  for (let k = d.length - 1; k >= 0; k--) body = fb.loop(idx[k], o.c(0), d[k], 1, [body]);
  m.addFunction(name, none, none, fb.vars, body);
}

/** Softmax over the middle dim of [outer, n, inner] (dense), stable (max subtracted). */
export function emitSoftmax(m: binaryen.Module, name: string, X: number, Y: number, outer: number, n: number, inner: number): void {
  const fb = new FnBuilder(m, 0), o = new Ops(m);
  const a = fb.local(i32), b = fb.local(i32), k = fb.local(i32), base = fb.local(i32);
  const mx = fb.local(f32), sum = fb.local(f32);
  const at = (arr: number) => o.add(fb.geti(base), o.addc(o.mul(fb.geti(k), inner * 4), arr));
  const expf = (x: Expr) => m.f32x4.extract_lane(withScratch(fb, () => exp(fb, m.f32x4.splat(x))), 0);
  const body = fb.loop(a, o.c(0), outer, 1, [fb.loop(b, o.c(0), inner, 1, [
    fb.set(base, o.add(o.mul(fb.geti(a), n * inner * 4), o.mul(fb.geti(b), 4))),
    fb.set(mx, m.f32.const(-Infinity)),
    fb.loop(k, o.c(0), n, 1, [fb.set(mx, m.f32.max(fb.get(mx, f32), m.f32.load(0, 4, at(X))))]),
    fb.set(sum, m.f32.const(0)),
    fb.loop(k, o.c(0), n, 1, [
      m.f32.store(0, 4, at(Y), expf(m.f32.sub(m.f32.load(0, 4, at(X)), fb.get(mx, f32)))),
      fb.set(sum, m.f32.add(fb.get(sum, f32), m.f32.load(0, 4, at(Y)))),
    ]),
    fb.loop(k, o.c(0), n, 1, [m.f32.store(0, 4, at(Y), m.f32.div(m.f32.load(0, 4, at(Y)), fb.get(sum, f32)))]),
  ])]);
  m.addFunction(name, none, none, fb.vars, body);
}

export interface ConvTransposeSpec {
  name: string;
  X: number; H: number; W: number; C: number;
  Y: number; OH: number; OW: number; M: number;
  kh: number; kw: number; sh: number; sw: number; dh: number; dw: number; ph: number; pw: number;
  /** Packed weights [ky][kx][c][Mpad4] and bias [Mpad4]. */
  Wp: number; B: number;
}

/**
 * ConvTranspose (group 1, NHWC) as a scatter: Y = bias, then every input pixel adds its C×M
 * products at each tap's output pixel, four output channels at a time. Padded weight lanes are
 * zero, so a vector that runs past M into the next pixel adds nothing there.
 */
export function emitConvTranspose(m: binaryen.Module, s: ConvTransposeSpec): void {
  const fb = new FnBuilder(m, 0), o = new Ops(m);
  const Mp = Math.ceil(s.M / 4) * 4, nv = Mp / 4;
  const p = fb.local(i32), iy = fb.local(i32), ix = fb.local(i32), c = fb.local(i32), mv = fb.local(i32);
  const oy = fb.local(i32), ox = fb.local(i32), yp = fb.local(i32), xp = fb.local(i32), t = fb.local(v128);
  const body: Expr[] = [];
  // Y = bias
  body.push(fb.loop(p, o.c(0), s.OH * s.OW, 1, [
    fb.set(yp, o.addc(o.mul(fb.geti(p), s.M * 4), s.Y)),
    ...Array.from({ length: nv }, (_, v) => {
      const lanes = Math.min(4, s.M - 4 * v);
      if (lanes === 4) return o.vstore(fb.geti(yp), o.vload(o.c(s.B + v * 16)), v * 16);
      return m.block(null, Array.from({ length: lanes }, (_, l) => m.f32.store(v * 16 + l * 4, 4, fb.geti(yp), m.f32.load(0, 4, o.c(s.B + v * 16 + l * 4)))));
    }),
  ]));
  const taps: Expr[] = [];
  for (let ky = 0; ky < s.kh; ky++) for (let kx = 0; kx < s.kw; kx++) {
    taps.push(fb.set(oy, o.addc(o.mul(fb.geti(iy), s.sh), ky * s.dh - s.ph)));
    taps.push(fb.set(ox, o.addc(o.mul(fb.geti(ix), s.sw), kx * s.dw - s.pw)));
    taps.push(m.if(m.i32.and(m.i32.lt_u(fb.geti(oy), o.c(s.OH)), m.i32.lt_u(fb.geti(ox), o.c(s.OW))), m.block(null, [
      fb.set(yp, o.addc(o.mul(o.add(o.mul(fb.geti(oy), s.OW), fb.geti(ox)), s.M * 4), s.Y)),
      fb.loop(mv, o.c(0), nv * 16, 16, [
        fb.set(t, o.vload(o.add(fb.geti(yp), fb.geti(mv)))),
        fb.loop(c, o.c(0), s.C, 1, [
          fb.set(t, o.fmadd(fb.getv(t), o.sload(o.add(fb.geti(xp), o.mul(fb.geti(c), 4))),
            o.vload(o.add(o.addc(o.mul(fb.geti(c), Mp * 4), s.Wp + (ky * s.kw + kx) * s.C * Mp * 4), fb.geti(mv))))),
        ]),
        o.vstore(o.add(fb.geti(yp), fb.geti(mv)), fb.getv(t)),
      ]),
    ])));
  }
  body.push(fb.loop(iy, o.c(0), s.H, 1, [fb.loop(ix, o.c(0), s.W, 1, [
    fb.set(xp, o.addc(o.mul(o.add(o.mul(fb.geti(iy), s.W), fb.geti(ix)), s.C * 4), s.X)),
    ...taps,
  ])]));
  m.addFunction(s.name, none, none, fb.vars, m.block(null, body));
}

/** Packs ConvTranspose W (C, M, kh, kw) as [ky][kx][c][Mpad4], bias as [Mpad4]. */
export function packConvTransposeWeights(w: Float32Array, bias: Float32Array | undefined, C: number, M: number, kh: number, kw: number): { weights: Float32Array; bias: Float32Array } {
  const Mp = Math.ceil(M / 4) * 4;
  const out = new Float32Array(kh * kw * C * Mp);
  for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) for (let c = 0; c < C; c++) for (let j = 0; j < M; j++) {
    out[((ky * kw + kx) * C + c) * Mp + j] = w[((c * M + j) * kh + ky) * kw + kx];
  }
  const b = new Float32Array(Mp);
  if (bias) b.set(bias.subarray(0, M));
  return { weights: out, bias: b };
}

/**
 * Table gather: Y (dense, `dims`) [o] = X[Σ_a table_a[o_a]] with per-axis i32 byte-offset tables
 * (Resize nearest: each axis maps output to input coordinates independently).
 */
export function emitTableGather(m: binaryen.Module, name: string, X: number, Y: number, dims: number[], tables: number[]): void {
  const fb = new FnBuilder(m, 0), o = new Ops(m);
  const idx = dims.map(() => fb.local(i32));
  const part = dims.map(() => fb.local(i32));
  const dst = fb.local(i32);
  // part_a = X + Σ_{b ≤ a} table_b[o_b], updated as each loop advances
  let body: Expr = m.block(null, [
    m.f32.store(0, 4, fb.geti(dst), m.f32.load(0, 4, fb.geti(part[dims.length - 1]))),
    fb.set(dst, o.addc(fb.geti(dst), 4)),
  ]);
  for (let a = dims.length - 1; a >= 0; a--) {
    const prev = a === 0 ? o.c(X) : fb.geti(part[a - 1]);
    body = fb.loop(idx[a], o.c(0), dims[a], 1, [
      fb.set(part[a], o.add(prev, m.i32.load(0, 4, o.addc(o.mul(fb.geti(idx[a]), 4), tables[a])))),
      body,
    ]);
  }
  m.addFunction(name, none, none, fb.vars, m.block(null, [fb.set(dst, o.c(Y)), body]));
}

/** LayerNormalization over the last `n` floats of each of `rows` rows (dense), scale/bias of n floats. */
export function emitLayerNorm(m: binaryen.Module, name: string, X: number, Y: number, rows: number, n: number, eps: number, S: number, B: number): void {
  const fb = new FnBuilder(m, 0), o = new Ops(m);
  const r = fb.local(i32), k = fb.local(i32), base = fb.local(i32);
  const mean = fb.local(f32), v = fb.local(f32), d = fb.local(f32);
  const xk = () => m.f32.load(0, 4, o.add(fb.geti(base), o.addc(o.mul(fb.geti(k), 4), X)));
  const body = fb.loop(r, o.c(0), rows, 1, [
    fb.set(base, o.mul(fb.geti(r), n * 4)),
    fb.set(mean, m.f32.const(0)),
    fb.loop(k, o.c(0), n, 1, [fb.set(mean, m.f32.add(fb.get(mean, f32), xk()))]),
    fb.set(mean, m.f32.div(fb.get(mean, f32), m.f32.const(n))),
    fb.set(v, m.f32.const(0)),
    fb.loop(k, o.c(0), n, 1, [fb.set(d, m.f32.sub(xk(), fb.get(mean, f32))), fb.set(v, m.f32.add(fb.get(v, f32), m.f32.mul(fb.get(d, f32), fb.get(d, f32))))]),
    fb.set(v, m.f32.div(m.f32.const(1), m.f32.sqrt(m.f32.add(m.f32.div(fb.get(v, f32), m.f32.const(n)), m.f32.const(eps))))),
    fb.loop(k, o.c(0), n, 1, [
      m.f32.store(0, 4, o.add(fb.geti(base), o.addc(o.mul(fb.geti(k), 4), Y)), m.f32.add(
        m.f32.mul(m.f32.mul(m.f32.sub(xk(), fb.get(mean, f32)), fb.get(v, f32)), m.f32.load(0, 4, o.addc(o.mul(fb.geti(k), 4), S))),
        m.f32.load(0, 4, o.addc(o.mul(fb.geti(k), 4), B)))),
    ]),
  ]);
  m.addFunction(name, none, none, fb.vars, body);
}

/** `name()`: calls the functions `parts` in order. */
export function addSequence(m: binaryen.Module, name: string, parts: string[]): void {
  m.addFunction(name, none, none, [], m.block(null, parts.map((p) => m.call(p, [], none))));
}
