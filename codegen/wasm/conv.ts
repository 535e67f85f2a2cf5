/**
 * Convolution kernels on NHWC activations, specialised to one layer's static shapes.
 *
 * Dense conv (and 1×1 conv, and Gemm as a 1×1 conv over rows): a register-blocked outer product.
 * One call of `<name>_row(oy)` computes an output row; inside, for each block of MB = 4·V output
 * channels, tiles of P output pixels keep P·V f32x4 accumulators live while the reduction runs over
 * (ky, kx, c): per c one v128 weight load per vector, one splat load per pixel, P·V mul+add.
 * Weights are packed at compile time as [mb][ky][kx][c][MB]. Padding costs no copy: a tap that
 * falls outside the input is skipped at compile time for border pixels (whose columns are known),
 * and at run time per kernel row (the row `oy` is a parameter). Splitting a layer into row calls
 * keeps the function hot, so V8 tiers it up to TurboFan within the first inference.
 *
 * Pooling (and depthwise convs over large stride-2 inputs; the others: dwconv.ts): vectorised over
 * channels, one output pixel at a time.
 */
import binaryen from 'binaryen';
import { FnBuilder, Ops, i32, none, v128, type Expr } from './builder.js';
import { activation } from './activation.js';
import { recordUnitWork, unitWorkOf, validKernelRows } from './units.js';

export interface Epilogue {
  act: string;
  alpha: number;
  beta: number;
  /** Residual input: byte address of pixel 0 (at this output's first channel), floats per pixel. */
  R?: number;
  rps?: number;
  /** The residual is added after the activation (Conv's residual_after_act), not before. */
  after?: boolean;
}

export interface ConvSpec extends Epilogue {
  name: string;
  /** Input: byte address of pixel (0,0) at the group's first channel; floats per pixel. */
  X: number; H: number; W: number; xps: number; Cg: number;
  /** Output: byte address of pixel (0,0) at its first channel; floats per pixel. */
  Y: number; OH: number; OW: number; yps: number; M: number;
  kh: number; kw: number; sh: number; sw: number; dh: number; dw: number; ph: number; pw: number;
  /** Packed weights and padded bias (byte addresses), from packConvWeights. */
  Wp: number; B: number;
  /** Tile: P output pixels × V vectors of 4 output channels. */
  P: number; V: number;
  /** Loop order: weight blocks outside pixel tiles ('weights') or inside ('tile'); default by weight size. */
  order?: 'weights' | 'tile';
  /** `<name>_row(oy)` must compute exactly row oy (FusedDwPw drives it row by row). */
  singleRow?: boolean;
  /** Input row of output row oy is ⌊oy / band⌋ (FusedDwPw: a band of rows shares one scratch row); sh is then unused. */
  band?: number;
  /** Internal: a piece of a re-cut pointwise conv (its shape is final, and it gets no `<name>()` driver). */
  part?: boolean;
}

/** Packs W (M, Cg, kh, kw) and bias into [mb][ky][kx][c][4V] and [mb][4V] (zero padded). */
export function packConvWeights(w: Float32Array, bias: Float32Array | undefined, M: number, Cg: number, kh: number, kw: number, V: number): { weights: Float32Array; bias: Float32Array } {
  const MB = 4 * V, nmb = Math.ceil(M / MB), K = kh * kw, block = K * Cg * MB;
  const out = new Float32Array(nmb * block);
  // one pass over W in its own order (m, c, ky·kx): element (m, c, k) goes to [m/MB][k][c][m%MB]
  for (let m = 0, src = 0; m < M; m++) {
    const d0 = Math.floor(m / MB) * block + (m % MB);
    for (let c = 0; c < Cg; c++) for (let k = 0; k < K; k++) out[d0 + (k * Cg + c) * MB] = w[src++];
  }
  const b = new Float32Array(nmb * MB);
  if (bias) b.set(bias.subarray(0, M));
  return { weights: out, bias: b };
}

/** Stores an epilogue'd vector: residual add and activation (in the epilogue's order), then a full or lane-masked store. */
export function storeEpilogue(fb: FnBuilder, ep: Epilogue, acc: Expr, yAddr: Expr, rAddr: Expr | undefined, lanes: number, tmp: number, tmp2: number): Expr[] {
  const m = fb.m, o = new Ops(m);
  if (lanes <= 0) return [];
  const late = ep.after === true && rAddr !== undefined;
  const val = rAddr !== undefined && !late ? m.f32x4.add(acc, o.vload(rAddr)) : acc;
  const out: Expr[] = [fb.set(tmp, val)];
  const act = activation(fb, ep.act, ep.alpha, ep.beta, tmp);
  const a = late ? m.f32x4.add(act, o.vload(rAddr)) : act;
  if (lanes === 4) return [...out, o.vstore(yAddr, a)];
  out.push(fb.set(tmp2, a));
  for (let l = 0; l < lanes; l++) out.push(m.f32.store(l * 4, 4, yAddr, m.f32x4.extract_lane(fb.getv(tmp2), l)));
  return out;
}

/**
 * Adds `<name>_row(i)` (output row i, or output-channel block i for weight-stationary layers) and
 * `<name>()` (all of them) for a dense conv; returns the number of rows (units) `<name>_row` takes.
 */
export function emitConv(m: binaryen.Module, spec: ConvSpec): number {
  const rows = pointwiseRows(spec);
  if (rows) return emitPointwiseRows(m, spec, rows);
  const parts = rowParts(spec);
  if (parts > 1) {
    const rowWork = Array.from({ length: spec.OH }, (_, oy) => validKernelRows(oy, spec.kh, spec.sh, spec.dh, spec.ph, spec.H));
    return emitChannelParts(m, spec, parts, rowWork, (sub) => emitConv(m, { ...sub, part: true }));
  }
  const s = flatten1x1(spec);
  const fb = new FnBuilder(m, 1), o = new Ops(m);
  // No c-loop unroll: V8's register allocator (15 usable xmm registers) spills accumulators once a
  // second step's loads are live too; unrolled 2× the 4 × 12 tile ran at 45–50 % of the FMA peak, not
  // unrolled 4 × 8 at 65–75 % (bench --target layers; docs/benchmarks.md).
  const { P, V } = s, MB = 4 * V, U = 1;
  const oy0 = 0, oy = fb.local(i32);
  const mb = fb.local(i32), wbase = fb.local(i32), ox = fb.local(i32), ky = fb.local(i32), iy = fb.local(i32);
  const xrow = fb.local(i32), xp = fb.local(i32), wp = fb.local(i32), xend = fb.local(i32);
  const yrow = fb.local(i32), rrow = fb.local(i32);
  const acc = Array.from({ length: P * V }, () => fb.local(v128));
  const w = Array.from({ length: V }, () => fb.local(v128));
  const sv = fb.local(v128), tmp = fb.local(v128), tmp2 = fb.local(v128);
  const KS = s.kh * s.kw * s.Cg * MB * 4; // bytes of one packed output-channel block
  const nmbFull = Math.floor(s.M / MB), tail = s.M - nmbFull * MB;
  const xpix = s.xps * 4, col = s.sw * xpix;

  // One tile of `pix` pixels starting at column ox (run-time `oxE`, or compile-time `oxC` for border tiles).
  const tile = (mbE: () => Expr, lanes: number, pix: number, oxC: number | undefined): Expr[] => {
    const st: Expr[] = [];
    const mbOff = () => o.mul(mbE(), MB * 4);
    // the partial last block computes only the vectors holding real channels (M = 64 with 12-channel blocks: 1 of 3)
    const nv = Math.ceil(lanes / 4);
    for (let p = 0; p < pix; p++) for (let v = 0; v < nv; v++) st.push(fb.set(acc[p * V + v], o.vload(o.addc(mbOff(), s.B), v * 16)));
    const kxBody: Expr[] = [];
    // Interior tiles of a dense undilated input: the taps of one kernel row are one contiguous run
    // of kw·Cg floats in input and in packed weights alike, so one reduction loop covers them
    // (the first conv's Cg = 3 otherwise gives 3-step loops).
    const merged = oxC === undefined && s.dw === 1 && s.xps === s.Cg && s.kw > 1;
    const run = merged ? s.kw * s.Cg : s.Cg;
    for (let kx = 0; kx < (merged ? 1 : s.kw); kx++) {
      const valid: number[] = [];
      for (let p = 0; p < pix; p++) {
        const c = oxC === undefined ? 0 : (oxC + p) * s.sw - s.pw + kx * s.dw;
        if (oxC === undefined || (c >= 0 && c < s.W)) valid.push(p);
      }
      if (!valid.length) continue;
      const p0 = valid[0];
      // column of pixel p0 at tap kx
      const colE = oxC === undefined
        ? o.addc(o.mul(fb.geti(ox), col), (p0 * s.sw - s.pw + kx * s.dw) * xpix)
        : o.c(((oxC + p0) * s.sw - s.pw + kx * s.dw) * xpix);
      kxBody.push(fb.set(xp, o.add(fb.geti(xrow), colE)));
      kxBody.push(fb.set(wp, o.add(fb.geti(wbase), o.addc(o.mul(fb.geti(ky), s.kw * s.Cg * MB * 4), kx * s.Cg * MB * 4))));
      const step = (u: number): Expr[] => {
        const b: Expr[] = [];
        for (let v = 0; v < nv; v++) b.push(fb.set(w[v], o.vload(fb.geti(wp), (u * MB + 4 * v) * 4)));
        for (const p of valid) {
          b.push(fb.set(sv, o.sload(fb.geti(xp), (p - p0) * col + u * 4)));
          for (let v = 0; v < nv; v++) b.push(fb.set(acc[p * V + v], o.fmadd(fb.getv(acc[p * V + v]), fb.getv(sv), fb.getv(w[v]))));
        }
        return b;
      };
      const nU = Math.floor(run / U), rem = run - nU * U;
      if (nU >= 2) {
        const l = fb.label('C');
        kxBody.push(fb.set(xend, o.addc(fb.geti(xp), nU * U * 4)));
        kxBody.push(m.loop(l, m.block(null, [
          ...Array.from({ length: U }, (_, u) => step(u)).flat(),
          fb.set(xp, o.addc(fb.geti(xp), U * 4)),
          fb.set(wp, o.addc(fb.geti(wp), U * MB * 4)),
          m.br(l, m.i32.lt_u(fb.geti(xp), fb.geti(xend))),
        ])));
        for (let u = 0; u < rem; u++) kxBody.push(...step(u));
      } else {
        for (let u = 0; u < run; u++) kxBody.push(...step(u));
      }
    }
    // kernel rows: skip a row outside the input (padding)
    st.push(fb.loop(ky, o.c(0), s.kh, 1, [
      fb.set(iy, o.add(s.band ? m.i32.div_u(fb.geti(oy), o.c(s.band)) : o.mul(fb.geti(oy), s.sh), o.addc(o.mul(fb.geti(ky), s.dh), -s.ph))),
      m.if(m.i32.lt_u(fb.geti(iy), o.c(s.H)), m.block(null, [
        fb.set(xrow, o.addc(o.mul(fb.geti(iy), s.W * xpix), s.X)),
        ...kxBody,
      ])),
    ]));
    for (let p = 0; p < pix; p++) {
      const oxp = () => (oxC === undefined ? o.addc(fb.geti(ox), p) : o.c(oxC + p));
      for (let v = 0; v < nv; v++) {
        const ch = () => o.addc(mbOff(), v * 16);
        const y = o.add(fb.geti(yrow), o.add(o.mul(oxp(), s.yps * 4), ch()));
        const r = s.R !== undefined ? o.add(fb.geti(rrow), o.add(o.mul(oxp(), s.rps! * 4), ch())) : undefined;
        st.push(...storeEpilogue(fb, s, fb.getv(acc[p * V + v]), y, r, Math.min(4, lanes - 4 * v), tmp, tmp2));
      }
    }
    return st;
  };

  // Columns: interior tiles in a run-time loop, border and leftover pixels as compile-time tiles.
  const oxA = Math.min(s.OW, Math.ceil(s.pw / s.sw));
  const oxB = Math.max(oxA, Math.min(s.OW, Math.floor((s.W - 1 + s.pw - (s.kw - 1) * s.dw) / s.sw) + 1));
  // Narrow rows (ResNet's 7-pixel layer4) are all compile-time tiles: 4 + 3 pixels
  // instead of a border pixel, one interior tile and a 2-pixel leftover.
  const nT = s.OW <= 2 * P ? 0 : Math.floor((oxB - oxA) / P);
  type TileBody = (pix: number, oxC: number | undefined) => Expr[];
  const forCols = (inner: TileBody): Expr[] => {
    const st: Expr[] = [];
    if (nT > 0) st.push(fb.loop(ox, o.c(oxA), oxA + nT * P, P, inner(P, undefined)));
    const left: number[] = [];
    for (let x = 0; x < oxA; x++) left.push(x);
    for (let x = oxA + nT * P; x < s.OW; x++) left.push(x);
    for (let i = 0; i < left.length;) {
      let n = 1;
      while (n < P && i + n < left.length && left[i + n] === left[i] + n) n++;
      st.push(...inner(n, left[i]));
      i += n;
    }
    return st;
  };
  // Output-channel blocks: full blocks in a run-time loop, then the partial one.
  const forMb = (inner: (mbE: () => Expr, lanes: number) => Expr[]): Expr[] => {
    const st: Expr[] = [];
    if (nmbFull > 0) {
      st.push(fb.loop(mb, o.c(0), nmbFull, 1, [
        fb.set(wbase, o.addc(o.mul(fb.geti(mb), KS), s.Wp)),
        ...inner(() => fb.geti(mb), MB),
      ]));
    }
    if (tail > 0) st.push(fb.set(wbase, o.c(s.Wp + nmbFull * KS)), ...inner(() => o.c(nmbFull), tail));
    return st;
  };

  const rowStart = (): Expr[] => [
    fb.set(yrow, o.addc(o.mul(fb.geti(oy), s.OW * s.yps * 4), s.Y)),
    fb.set(rrow, s.R !== undefined ? o.addc(o.mul(fb.geti(oy), s.OW * s.rps! * 4), s.R) : o.c(0)),
  ];
  // Tile-outer when the layer's packed weights stay in L2 (each pixel tile's inputs then stay in
  // L1), one row per call. Otherwise weight-stationary: one call per output-channel block sweeps
  // ALL rows, so that big weights (ResNet's layer4: 9.4 MB) stream once per layer, not per row.
  const tileOuter = isTileOuter(s);
  const allRows = !tileOuter && !s.singleRow;
  const ws = allRows ? rowBands(nmbFull + (tail > 0 ? 1 : 0), s.OH) : { rows: s.OH, bands: 1 };
  const body: Expr[] = [];
  if (tileOuter || s.singleRow) {
    body.push(fb.set(oy, fb.geti(oy0)), ...rowStart());
    if (tileOuter) body.push(...forCols((pix, oxC) => forMb((mbE, lanes) => tile(mbE, lanes, pix, oxC))));
    else body.push(...forMb((mbE, lanes) => forCols((pix, oxC) => tile(mbE, lanes, pix, oxC))));
  } else {
    // the parameter is (output-channel block, band of rows): one call per weight block and band
    // keeps the function hot, and the bands give threads units enough to share evenly
    const blk = fb.local(i32), y0 = fb.local(i32), y1 = fb.local(i32);
    body.push(
      fb.set(blk, m.i32.div_u(fb.geti(oy0), o.c(ws.bands))),
      fb.set(y0, o.mul(m.i32.rem_u(fb.geti(oy0), o.c(ws.bands)), ws.rows)),
      fb.set(y1, o.addc(fb.geti(y0), ws.rows)),
      fb.set(y1, m.select(m.i32.lt_u(fb.geti(y1), o.c(s.OH)), fb.geti(y1), o.c(s.OH))),
    );
    const allRowsOf = (mbE: () => Expr, lanes: number): Expr[] => [
      fb.set(wbase, o.addc(o.mul(mbE(), KS), s.Wp)),
      fb.loopDyn(oy, fb.geti(y0), fb.geti(y1), 1, [...rowStart(), ...forCols((pix, oxC) => tile(mbE, lanes, pix, oxC))]),
    ];
    const full = nmbFull > 0 ? m.block(null, allRowsOf(() => fb.geti(blk), MB)) : m.nop();
    body.push(tail > 0 ? m.if(m.i32.eq(fb.geti(blk), o.c(nmbFull)), m.block(null, allRowsOf(() => o.c(nmbFull), tail)), full) : full);
  }
  m.addFunction(`${s.name}_row`, i32, none, fb.vars, m.block(null, body));
  const units = allRows ? (nmbFull + (tail > 0 ? 1 : 0)) * ws.bands : s.OH;
  // channel blocks: the partial last one computes only its real vectors; rows: only unpadded kernel rows
  const rowWork = (oy: number) => (s.band ? 1 : validKernelRows(oy, s.kh, s.sh, s.dh, s.ph, s.H));
  const bandWork = (b: number) => Array.from({ length: Math.min(ws.rows, s.OH - b * ws.rows) }, (_, i) => rowWork(b * ws.rows + i)).reduce((x, y) => x + y, 0);
  recordUnitWork(m, s.name, Array.from({ length: units }, (_, u) => allRows
    ? (Math.floor(u / ws.bands) < nmbFull ? V : Math.ceil(tail / 4)) * bandWork(u % ws.bands)
    : rowWork(u)));
  if (!s.part) addRowDriver(m, s.name, units, !s.singleRow);
  return units;
}

/**
 * Threads share a layer evenly when it has many units of like work: cut at the nearest unit
 * (runtime/wasm/threads.ts), 3 threads on 96 units leave the busiest within 1.6% of the mean.
 */
export const TARGET_UNITS = 96;

/**
 * Bands of rows for a weight-stationary conv of `blocks` channel blocks: the fewest bands (of equal
 * rows; the last may be shorter) that make blocks · bands ≥ TARGET_UNITS, as few as possible
 * because every band streams the block's weights again (from L1/L2: one block is KS bytes).
 */
function rowBands(blocks: number, OH: number): { rows: number; bands: number } {
  const want = Math.min(OH, Math.ceil(TARGET_UNITS / blocks));
  const rows = Math.ceil(OH / want);
  return { rows, bands: Math.ceil(OH / rows) };
}

/**
 * A tile-outer conv with too few rows for threads to share evenly (SqueezeNet's 55 and 27) is cut
 * into (row, channel range) units as well: how many ranges (1: not cut).
 */
function rowParts(s: ConvSpec): number {
  if (s.part || s.singleRow || isPointwise(s) || !isTileOuter(s) || 2 * s.OH >= TARGET_UNITS) return 1;
  return Math.min(4, Math.ceil(s.M / (4 * s.V)), Math.ceil(TARGET_UNITS / s.OH));
}

/**
 * Tile-outer when the layer's packed weights stay in L2 (each pixel tile's inputs then stay in L1),
 * one row per call; otherwise weight-stationary, one call per output-channel block over all rows.
 */
function isTileOuter(s: ConvSpec): boolean {
  const KS = s.kh * s.kw * s.Cg * 4 * s.V * 4, blocks = Math.ceil(s.M / (4 * s.V));
  return s.order === 'tile' || (s.order === undefined && KS * blocks <= 256 * 1024);
}

/** A 1×1, stride 1, unpadded conv: pixel i of the input makes pixel i of the output, rows contiguous in both. */
const isPointwise = (s: ConvSpec) =>
  s.kh === 1 && s.kw === 1 && s.sh === 1 && s.sw === 1 && s.ph === 0 && s.pw === 0 && s.H === s.OH && s.W === s.OW && !s.singleRow && !s.part;

/**
 * A weight-stationary pointwise conv (its units are channel blocks) sweeps one row of H·W pixels:
 * no per-row edge tile (13×13 rows of 4-pixel tiles otherwise end in a 1-pixel tile), no per-row call.
 */
function flatten1x1(s: ConvSpec): ConvSpec {
  return isPointwise(s) && s.OH > 1 ? { ...s, H: 1, W: s.H * s.W, OH: 1, OW: s.OH * s.OW } : s;
}

/** A re-cut pointwise conv: `rows` rows of `width` pixels, a `last` row of the rest, each row in `parts` ranges of channel blocks. */
interface PointwiseCut { rows: number; width: number; last: number; parts: number }

/**
 * A tile-outer pointwise conv (or Gemm) is re-cut into about TARGET_UNITS rows of a whole number of
 * pixel tiles (and a shorter last row where they do not divide H·W): no edge tiles except in that
 * last row, and units enough for threads to share evenly. Where the map has too few tiles for that
 * (14×14: 49 tiles of 4), each row is also cut into up to 4 ranges of output-channel blocks.
 */
function pointwiseRows(s: ConvSpec): PointwiseCut | undefined {
  if (!isPointwise(s) || !isTileOuter(s)) return undefined;
  const n = s.OH * s.OW;
  if (n < 4 * s.P) return undefined;
  const width = s.P * Math.max(1, Math.round(n / (TARGET_UNITS * s.P)));
  const rows = Math.floor(n / width), last = n - rows * width;
  const units = rows + (last > 0 ? 1 : 0);
  const parts = Math.min(4, Math.ceil(s.M / (4 * s.V)), Math.ceil(TARGET_UNITS / units));
  return { rows, width, last, parts };
}

/** Emits a pointwise conv as `rows` rows of `width` pixels (`<name>_main`) and its short last row (`<name>_last`), channels cut into `r.parts` ranges. */
function emitPointwiseRows(m: binaryen.Module, s: ConvSpec, r: PointwiseCut): number {
  const rowCount = r.rows + (r.last > 0 ? 1 : 0);
  if (r.parts === 1) {
    emitPointwiseRowFns(m, s, r);
    recordUnitWork(m, s.name, Array.from({ length: rowCount }, (_, u) => (u < r.rows ? r.width : r.last)));
    addRowDriver(m, s.name, rowCount);
    return rowCount;
  }
  return emitChannelParts(m, s, r.parts, Array.from({ length: rowCount }, (_, u) => (u < r.rows ? r.width : r.last)), (sub) => emitPointwiseRowFns(m, sub, r));
}

/**
 * `<name>_row(u)` and its driver for a tile-outer conv cut into (row, channel range) units: row
 * ⌊u / parts⌋ of the part conv `<name>_c<u mod parts>`, which `emitPart` emits over that range of
 * output-channel blocks (its weights, bias, outputs and residual start at the range's first block).
 * `rowWork`: each row's work over all channels. Returns the number of units.
 */
function emitChannelParts(m: binaryen.Module, s: ConvSpec, parts: number, rowWork: number[], emitPart: (sub: ConvSpec) => void): number {
  const MB = 4 * s.V, nmb = Math.ceil(s.M / MB), work: number[] = [];
  const ranges = Array.from({ length: parts }, (_, k) => [Math.floor(k * nmb / parts), Math.floor((k + 1) * nmb / parts)]);
  ranges.forEach(([b0, b1], k) => emitPart({
    ...s, name: `${s.name}_c${k}`, M: Math.min(s.M, b1 * MB) - b0 * MB, Wp: s.Wp + b0 * s.kh * s.kw * s.Cg * MB * 4, B: s.B + b0 * MB * 4,
    Y: s.Y + b0 * MB * 4, R: s.R !== undefined ? s.R + b0 * MB * 4 : undefined, order: 'tile',
  }));
  const vectors = Math.ceil(s.M / 4);
  for (const w of rowWork) for (const [b0, b1] of ranges) work.push(w * (Math.ceil(Math.min(s.M, b1 * MB) / 4) - b0 * s.V) / vectors);
  const fb = new FnBuilder(m, 1), o = new Ops(m);
  const row = fb.local(i32), k = fb.local(i32);
  m.addFunction(`${s.name}_row`, i32, none, fb.vars, m.block(null, [
    fb.set(row, m.i32.div_u(fb.geti(0), o.c(parts))),
    fb.set(k, m.i32.rem_u(fb.geti(0), o.c(parts))),
    ...ranges.map((_, p) => m.if(m.i32.eq(fb.geti(k), o.c(p)), m.call(`${s.name}_c${p}_row`, [fb.geti(row)], none))),
  ]));
  recordUnitWork(m, s.name, work);
  addRowDriver(m, s.name, work.length);
  return work.length;
}

/** `<name>_row(i)` for a re-cut pointwise conv: row i of `<name>_main`, or the short last row `<name>_last`. */
function emitPointwiseRowFns(m: binaryen.Module, s: ConvSpec, r: PointwiseCut): void {
  const main = `${s.name}_main`, last = `${s.name}_last`;
  emitConv(m, { ...s, name: main, H: r.rows, W: r.width, OH: r.rows, OW: r.width, part: true });
  if (r.last === 0) {
    m.addFunction(`${s.name}_row`, i32, none, [], m.call(`${main}_row`, [m.local.get(0, i32)], none));
    return;
  }
  const px = r.rows * r.width;
  emitConv(m, {
    ...s, name: last, H: 1, W: r.last, OH: 1, OW: r.last, part: true,
    X: s.X + px * s.xps * 4, Y: s.Y + px * s.yps * 4, R: s.R !== undefined ? s.R + px * s.rps! * 4 : undefined,
  });
  m.addFunction(`${s.name}_row`, i32, none, [], m.if(m.i32.lt_u(m.local.get(0, i32), m.i32.const(r.rows)),
    m.call(`${main}_row`, [m.local.get(0, i32)], none), m.call(`${last}_row`, [m.i32.const(0)], none)));
}

/**
 * `<name>_row(u)` over the units of `parts` (equal shapes: batch images, groups), `rows` units
 * each, part by part; with `<name>()` and `<name>_range` over all of them, so that threads share
 * the units of every part (a grouped conv's groups would otherwise run one after another, each
 * split, or on one thread).
 */
export function addPartsDriver(m: binaryen.Module, name: string, parts: string[], rows: number): void {
  const fb = new FnBuilder(m, 1), o = new Ops(m);
  const p = fb.local(i32), r = fb.local(i32);
  m.addFunction(`${name}_row`, i32, none, fb.vars, m.block(null, [
    fb.set(p, m.i32.div_u(fb.geti(0), o.c(rows))),
    fb.set(r, m.i32.rem_u(fb.geti(0), o.c(rows))),
    ...parts.map((part, k) => m.if(m.i32.eq(fb.geti(p), o.c(k)), m.call(`${part}_row`, [fb.geti(r)], none))),
  ]));
  recordUnitWork(m, name, parts.flatMap((part) => unitWorkOf(m, part, rows)));
  addRowDriver(m, name, parts.length * rows);
}

/**
 * `<name>()`: calls `<name>_row(oy)` for every output row. Where rows are independent (`parallel`:
 * each writes only its own outputs), also exports `<name>_range(start, end)` over rows [start, end)
 * and the global `<name>_rows`, so that worker threads can share the layer out (runtime/wasm/threads.ts).
 */
export function addRowDriver(m: binaryen.Module, name: string, rows: number, parallel = true): void {
  const fb = new FnBuilder(m, 0), o = new Ops(m);
  const r = fb.local(i32);
  m.addFunction(name, none, none, fb.vars, fb.loop(r, o.c(0), rows, 1, [m.call(`${name}_row`, [fb.geti(r)], none)]));
  if (!parallel) return;
  const fr = new FnBuilder(m, 2);
  const k = fr.local(i32);
  m.addFunction(`${name}_range`, binaryen.createType([i32, i32]), none, fr.vars,
    fr.loopDyn(k, fr.geti(0), fr.geti(1), 1, [m.call(`${name}_row`, [fr.geti(k)], none)]));
  m.addFunctionExport(`${name}_range`, `${name}_range`);
  m.addGlobal(`${name}_rows`, i32, false, o.c(rows));
  m.addGlobalExport(`${name}_rows`, `${name}_rows`);
}

export interface WindowSpec extends Epilogue {
  name: string;
  kind: 'dw' | 'max' | 'avg';
  X: number; H: number; W: number; xps: number; C: number;
  Y: number; OH: number; OW: number; yps: number;
  kh: number; kw: number; sh: number; sw: number; dh: number; dw: number; ph: number; pw: number;
  /** Depthwise: weights [ky][kx][Cpad4] and bias [Cpad4] (byte addresses). */
  Wd?: number; B?: number;
  /** Average pooling: count padding positions; `padEndH/W` bound them (ceil_mode windows beyond are not counted). */
  countPad?: boolean; padEndH?: number; padEndW?: number;
  /** Output row oy writes scratch row ⌊oy / band⌋ at Y (FusedDwPw: one scratch row per band of rows). */
  band?: number;
  V: number;
}

/** Adds `<name>_row(oy)` and `<name>()` for a depthwise conv or a max/average pool; returns its rows. */
export function emitWindow(m: binaryen.Module, s: WindowSpec): number {
  const fb = new FnBuilder(m, 1), o = new Ops(m);
  const oy = 0, V = s.V, CB = 4 * V;
  const ox = fb.local(i32), cb = fb.local(i32), iy0 = fb.local(i32), base = fb.local(i32), yrow = fb.local(i32), rrow = fb.local(i32);
  const xp = fb.local(i32), wp = fb.local(i32), wend = fb.local(i32);
  const rowCnt = fb.local(i32), scale = fb.local(v128);
  const acc = Array.from({ length: V }, () => fb.local(v128));
  const tmp = fb.local(v128), tmp2 = fb.local(v128);
  const xpix = s.xps * 4, Cp = Math.ceil(s.C / 4) * 4;
  const nFull = Math.floor(s.C / CB);
  const iyOf = (ky: number) => o.addc(fb.geti(iy0), ky * s.dh);
  const rowValid = (ky: number) => m.i32.lt_u(iyOf(ky), o.c(s.H));
  // average pooling divisor: kernel rows counted here, columns at compile time
  const inPadded = (ky: number) => m.i32.and(m.i32.ge_s(iyOf(ky), o.c(-s.ph)), m.i32.lt_s(iyOf(ky), o.c(s.H + (s.padEndH ?? 0))));
  const colCount = (oxC: number | undefined) => {
    if (oxC === undefined) return s.kw;
    let n = 0;
    for (let kx = 0; kx < s.kw; kx++) {
      const x = oxC * s.sw - s.pw + kx * s.dw;
      if (s.countPad ? x >= -s.pw && x < s.W + (s.padEndW ?? 0) : x >= 0 && x < s.W) n++;
    }
    return n;
  };

  // One pixel, one block of `nv` vectors at channel offset chE (bytes), `lanes` valid channels.
  const block = (oxC: number | undefined, chE: () => Expr, nv: number, lanes: number): Expr[] => {
    const st: Expr[] = [];
    for (let v = 0; v < nv; v++) {
      const init = s.kind === 'dw' ? o.vload(o.addc(chE(), s.B!), v * 16) : o.splat(s.kind === 'max' ? -Infinity : 0);
      st.push(fb.set(acc[v], init));
    }
    for (let ky = 0; ky < s.kh; ky++) {
      const taps: Expr[] = [];
      if (oxC === undefined && s.kind === 'dw' && s.kw > 1) {
        // Interior pixels: the kernel row's taps as a run-time loop, one tap per trip. Unrolled, the
        // row is one basic block whose 2·kw·nv loads TurboFan schedules ahead of the multiply-adds,
        // spilling them to the stack (dwconv5x5 at 10–16 % of the FMA peak).
        const l = fb.label('T');
        taps.push(fb.set(xp, o.add(o.add(fb.geti(base), o.mul(iyOf(ky), s.W * xpix)), chE())));
        taps.push(fb.set(wp, o.addc(chE(), s.Wd! + ky * s.kw * Cp * 4)));
        taps.push(fb.set(wend, o.addc(fb.geti(wp), s.kw * Cp * 4)));
        const body: Expr[] = [];
        for (let v = 0; v < nv; v++) body.push(fb.set(acc[v], o.fmadd(fb.getv(acc[v]), o.vload(fb.geti(xp), v * 16), o.vload(fb.geti(wp), v * 16))));
        taps.push(m.loop(l, m.block(null, [
          ...body,
          fb.set(xp, o.addc(fb.geti(xp), s.dw * xpix)),
          fb.set(wp, o.addc(fb.geti(wp), Cp * 4)),
          m.br(l, m.i32.lt_u(fb.geti(wp), fb.geti(wend))),
        ])));
      } else {
        for (let kx = 0; kx < s.kw; kx++) {
          if (oxC !== undefined) {
            const x = oxC * s.sw - s.pw + kx * s.dw;
            if (x < 0 || x >= s.W) continue;
          }
          // input address of this tap: base (pixel column ox·sw − pw, channel) + row + kx·dw
          const colOff = oxC === undefined ? kx * s.dw * xpix : (oxC * s.sw - s.pw + kx * s.dw) * xpix;
          for (let v = 0; v < nv; v++) {
            const x = o.vload(o.add(o.add(fb.geti(base), o.mul(iyOf(ky), s.W * xpix)), chE()), colOff + v * 16);
            let e: Expr;
            if (s.kind === 'dw') e = o.fmadd(fb.getv(acc[v]), x, o.vload(o.addc(chE(), s.Wd! + (ky * s.kw + kx) * Cp * 4), v * 16));
            else if (s.kind === 'max') e = m.f32x4.max(fb.getv(acc[v]), x);
            else e = m.f32x4.add(fb.getv(acc[v]), x);
            taps.push(fb.set(acc[v], e));
          }
        }
      }
      if (taps.length) st.push(m.if(rowValid(ky), m.block(null, taps)));
    }
    for (let v = 0; v < nv; v++) {
      const ch = () => o.addc(chE(), v * 16);
      let a = fb.getv(acc[v]);
      if (s.kind === 'avg') a = m.f32x4.mul(a, fb.getv(scale));
      const oxE = oxC === undefined ? fb.geti(ox) : o.c(oxC);
      const y = o.add(fb.geti(yrow), o.add(o.mul(oxE, s.yps * 4), ch()));
      const oxE2 = oxC === undefined ? fb.geti(ox) : o.c(oxC);
      const r = s.R !== undefined ? o.add(fb.geti(rrow), o.add(o.mul(oxE2, s.rps! * 4), ch())) : undefined;
      st.push(...storeEpilogue(fb, s, a, y, r, Math.min(4, lanes - 4 * v), tmp, tmp2));
    }
    return st;
  };

  // One output pixel: base pointer, divisor, then the channel blocks.
  const pixel = (oxC: number | undefined): Expr[] => {
    const st: Expr[] = [];
    // base = X + column(ox·sw − pw) (compile-time columns are folded into the tap offsets)
    st.push(fb.set(base, oxC === undefined ? o.addc(o.mul(fb.geti(ox), s.sw * xpix), s.X - s.pw * xpix) : o.c(s.X)));
    if (s.kind === 'avg') {
      const cc = colCount(oxC);
      st.push(fb.set(scale, m.f32x4.splat(m.f32.div(m.f32.const(1), m.f32.convert_s.i32(o.mul(fb.geti(rowCnt), cc))))));
    }
    const chBody = (chE: () => Expr, nv: number, lanes: number) => block(oxC, chE, nv, lanes);
    if (nFull > 0) {
      st.push(fb.loop(cb, o.c(0), nFull * CB * 4, CB * 4, chBody(() => fb.geti(cb), V, CB)));
    }
    const rest = s.C - nFull * CB;
    if (rest > 0) st.push(...chBody(() => o.c(nFull * CB * 4), Math.ceil(rest / 4), rest));
    return st;
  };

  const oxA = Math.min(s.OW, Math.ceil(s.pw / s.sw));
  const oxB = Math.max(oxA, Math.min(s.OW, Math.floor((s.W - 1 + s.pw - (s.kw - 1) * s.dw) / s.sw) + 1));
  const body: Expr[] = [
    fb.set(iy0, o.addc(o.mul(fb.geti(oy), s.sh), -s.ph)),
    fb.set(yrow, s.band ? o.addc(o.mul(m.i32.div_u(fb.geti(oy), o.c(s.band)), s.OW * s.yps * 4), s.Y) : o.addc(o.mul(fb.geti(oy), s.OW * s.yps * 4), s.Y)),
    fb.set(rrow, s.R !== undefined ? o.addc(o.mul(fb.geti(oy), s.OW * s.rps! * 4), s.R) : o.c(0)),
  ];
  if (s.kind === 'avg') {
    let cnt: Expr = o.c(0);
    for (let ky = 0; ky < s.kh; ky++) cnt = m.i32.add(cnt, s.countPad ? inPadded(ky) : rowValid(ky));
    body.push(fb.set(rowCnt, cnt));
  }
  if (oxB > oxA) body.push(fb.loop(ox, o.c(oxA), oxB, 1, pixel(undefined)));
  for (let x = 0; x < s.OW; x++) if (x < oxA || x >= oxB) body.push(...pixel(x));
  m.addFunction(`${s.name}_row`, i32, none, fb.vars, m.block(null, body));
  addRowDriver(m, s.name, s.OH, !s.band); // band: rows of a band share one scratch row
  return s.OH;
}
