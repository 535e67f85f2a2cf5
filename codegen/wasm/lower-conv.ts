/**
 * Lowerings of the convolution-like ops: Conv (dense, grouped, depthwise), FusedDwPw,
 * ConvTranspose, and Gemm/MatMul with a constant B (a 1×1 conv over A's rows). Each names its
 * function after kernel and variant, XNNPACK-style: `conv3x3_s2_nhwc_4x8_relu`, `dwconv3x3_s1`,
 * `dwpw3x3_s1_nhwc_4x8`, `gemm_4x8`, `deconv3x3_s2`.
 */
import binaryen from 'binaryen';
import type { Graph, Node } from '../../ir/graph.js';
import { windowGeometry, type WindowGeometry } from '../../ir/ops/geometry.js';
import { activationScalar } from '../../ir/ops/activation.js';
import { add, arg, substitute, x as X } from '../../ir/scalar.js';
import { sizeOf } from '../../ir/types.js';
import { activationProblem } from './activation.js';
import { FnBuilder } from './builder.js';
import { addPartsDriver, addRowDriver, emitConv, emitWindow, packConvWeights } from './conv.js';
import { emitDepthwise, packDepthwiseWeights, type DepthwiseSpec } from './dwconv.js';
import { emitConvTranspose, emitElementwise, packConvTransposeWeights } from './kernels.js';
import { renderScalar } from './scalar.js';
import { recordUnitWork, recordWindowRows } from './units.js';
import { emitScaleWeights, scaleWeightsProblem } from './scale-weights.js';
import { emitVecMatRows } from './vecmat.js';
import { actTag, kxk, needsConstants, pairTag, two, unchecked, type Loc, type OpLowering, type Storage } from './storage.js';

/**
 * Stride-2 depthwise convs over inputs this large (MobileNetV2's and EfficientNet-B0's 112×112×96)
 * stream their input from beyond L2: there the one-pixel kernel (emitWindow), whose reads run along
 * three rows in address order, measured 1.3–1.9× faster than the pixel-tiled one; below it, and at
 * stride 1, the tiled one is 1.0–1.9× faster (no epilogue; interleaved A/B, CPU time).
 */
const DW_STREAM_BYTES = 2 << 20;

/** A depthwise conv: the pixel-tiled kernel, or the one-pixel one for a large stride-2 input. */
function emitDepthwiseConv(m: binaryen.Module, s: DepthwiseSpec): number {
  if (s.sh > 1 && s.H * s.W * s.xps * 4 > DW_STREAM_BYTES) return emitWindow(m, { ...s, kind: 'dw', V: 4 });
  return emitDepthwise(m, s);
}

const geometry = (n: Node, g: Graph): WindowGeometry =>
  windowGeometry(n.op, n.attrs, g.type(n.inputs[0]).shape, g.type(n.inputs[1]).shape, { node: n.name, op: n.op });

/** Why the epilogue activation named by `prefix` attributes (activation/act_*, dw_*) has no wasm form. */
function epilogueProblem(n: Node, prefix: 'act' | 'dw'): string | undefined {
  const kind = String(n.attrs[prefix === 'act' ? 'activation' : 'dw_activation'] ?? '');
  return activationProblem(kind, Number(n.attrs[`${prefix}_alpha`] ?? 0), Number(n.attrs[`${prefix}_beta`] ?? 0));
}

function epilogue(n: Node) {
  return { act: String(n.attrs.activation ?? ''), alpha: Number(n.attrs.act_alpha ?? 0), beta: Number(n.attrs.act_beta ?? 0), after: Number(n.attrs.residual_after_act ?? 0) === 1 };
}

const conv: OpLowering = {
  check(n, g) {
    const geo = geometry(n, g);
    if (geo.inSize.length > 2) return 'has no 3-D convolution';
    if (n.inputs[4]) {
      // the input scale is taken by scaling a copy of the weights per image (scale-weights.ts)
      const [kh, kw] = two(geo.kernel, 1), Cg = geo.C / geo.group;
      const why = scaleWeightsProblem(n, g, isDepthwise(geo), geo.M * Cg * kh * kw, sizeOf(geo.inSize) * geo.C);
      if (why) return why;
    }
    return needsConstants(g, [n.inputs[1], n.inputs[2]]) ?? epilogueProblem(n, 'act');
  },
  lower(s, n) {
    const [xv, wv, bv, rv] = n.inputs;
    const geo = geometry(n, s.g);
    const x = s.spatialIn(n, xv);
    const w = s.constF32(n, wv);
    const bias = bv ? s.constF32(n, bv) : undefined;
    const y = s.spatialOut(n, n.outputs[0], geo.M);
    const r = s.residual(n, rv);
    const ep = epilogue(n);
    const [kh, kw] = two(geo.kernel, 1);
    const [sh, sw] = two(geo.strides, 1), [dh, dw] = two(geo.dilations, 1), [ph, pw] = two(geo.padBegin, 0);
    const [OH, OW] = two(geo.outSize, 1);
    const { C, M, group, N } = geo;
    const flops = 2 * N * OH * OW * M * (C / group) * kh * kw;
    const imgX = x.H * x.W * x.l.ps * 4, imgY = OH * OW * y.ps * 4, imgR = r ? OH * OW * r.ps * 4 : 0;
    const shape = `${kxk(kh, kw)}${pairTag('s', sh, sw, 0)}${pairTag('d', dh, dw, 1)}`;
    if (isDepthwise(geo)) {
      const pk = packDepthwiseWeights(w, bias, C, kh, kw);
      const Wd = s.weight(pk.weights), B = s.weight(pk.bias);
      s.step(n, `dwconv${shape}${actTag(ep.act)}`, 'depthwise', flops, (m, a, fn) => {
        for (let i = 0; i < N; i++) {
          // every image has OH rows: the parts driver shares all N·OH among threads
          emitDepthwiseConv(m, {
            name: N === 1 ? fn : `${fn}_n${i}`, X: a(x.l) + i * imgX, H: x.H, W: x.W, xps: x.l.ps, C, Y: a(y) + i * imgY, OH, OW, yps: y.ps,
            kh, kw, sh, sw, dh, dw, ph, pw, Wd, B, ...ep, R: r ? a(r) + i * imgR : undefined, rps: r?.ps,
          });
          recordWindowRows(m, N === 1 ? fn : `${fn}_n${i}`, OH, kh, sh, dh, ph, x.H);
        }
        if (N > 1) addPartsDriver(m, fn, Array.from({ length: N }, (_, i) => `${fn}_n${i}`), OH);
      }, [x.l, ...(r ? [r] : [])], [y]);
      return;
    }
    const Cg = C / group, Mg = M / group;
    const tile = s.tileFor(kh * kw);
    const packs = Array.from({ length: group }, (_, gi) => {
      const pk = packConvWeights(w.subarray(gi * Mg * Cg * kh * kw, (gi + 1) * Mg * Cg * kh * kw), bias?.subarray(gi * Mg, (gi + 1) * Mg), Mg, Cg, kh, kw, tile.V);
      return { Wp: s.weight(pk.weights), B: s.weight(pk.bias), len: pk.weights.length };
    });
    const kernel = `conv${shape}${group > 1 ? `_g${group}` : ''}_nhwc_${tile.P}x${4 * tile.V}${actTag(ep.act)}`;
    const weightsOf = scaledWeights(s, n, packs, N, group, Cg, tile.V, kernel);
    s.step(n, kernel, group > 1 ? `group ${group}` : '', flops, (m, a, fn) => {
      const parts: string[] = [];
      let rows = 0; // units per part: equal, the parts having one shape
      for (let i = 0; i < N; i++) for (let gi = 0; gi < group; gi++) {
        const name = N * group === 1 ? fn : `${fn}_n${i}g${gi}`;
        parts.push(name);
        rows = emitConv(m, {
          name, X: a(x.l) + i * imgX + gi * Cg * 4, H: x.H, W: x.W, xps: x.l.ps, Cg,
          Y: a(y) + i * imgY + gi * Mg * 4, OH, OW, yps: y.ps, M: Mg, kh, kw, sh, sw, dh, dw, ph, pw,
          Wp: weightsOf.at(a, i, gi), B: packs[gi].B, P: tile.P, V: tile.V, order: tile.order,
          ...ep, R: r ? a(r) + i * imgR + gi * Mg * 4 : undefined, rps: r?.ps,
        });
      }
      if (parts.length > 1) addPartsDriver(m, fn, parts, rows);
    }, [x.l, ...(r ? [r] : []), ...weightsOf.reads], [y]);
  },
};

const isDepthwise = (geo: WindowGeometry) => geo.group === geo.C && geo.M === geo.C && geo.group > 1;

/**
 * The weights each (image, group) of a conv runs on: its packed constants, or — when the conv
 * scales its input (input 4) — a per-image copy scaled by S, made by a step of its own just before
 * the conv (scale-weights.ts). Each copy keeps the packed slot's size, zero padding included.
 */
function scaledWeights(s: Storage, n: Node, packs: { Wp: number; len: number }[], N: number, group: number, Cg: number, V: number, kernel: string) {
  const sv = n.inputs[4];
  if (!sv) return { at: (_a: (l: Loc) => number, _i: number, gi: number) => packs[gi].Wp, reads: [] as Loc[] };
  const S = s.plain(n, sv);
  const slot = packs[0].len + 4; // groups have one shape
  const copy = s.dense(N * group * slot, 'plain', 0);
  const C = Cg * group;
  s.step(n, `${kernel}_wscale`, 'scale weights on load', N * group * packs[0].len, (m, a, fn) => emitScaleWeights(m, fn,
    Array.from({ length: N * group }, (_, k) => {
      const i = Math.floor(k / group), gi = k % group;
      return { W: packs[gi].Wp, len: packs[gi].len, Cg, V, S: a(S) + (i * C + gi * Cg) * 4, D: a(copy) + k * slot * 4 };
    })), [S], [copy]);
  return { at: (a: (l: Loc) => number, i: number, gi: number) => a(copy) + (i * group + gi) * slot * 4, reads: [copy] };
}

/** At most this many bands per FusedDwPw (scratch rows): units enough for threads to share evenly, little memory (one row each). */
const MAX_BANDS = 48;

/**
 * FusedDwPw's units: bands of `rows` consecutive output rows (the last may be shorter), `count` of
 * them, each band's pointwise channel blocks in `parts` ranges. Parts recompute the band's depthwise
 * rows (each part its own scratch rows), so they are used only where the map has too few rows to
 * share evenly (an odd count under 12: ResNet-style 7×7 maps, 7 rows on 2 threads is 4/3) and the
 * depthwise conv is a small share of the work (kh·kw ≤ M/16: at most 6% more work).
 */
export function dwpwBands(OH: number, taps = 9, M = 0): { rows: number; count: number; parts: number } {
  const rows = Math.ceil(OH / Math.min(OH, MAX_BANDS));
  const count = Math.ceil(OH / rows);
  return { rows, count, parts: count % 2 === 1 && count < 12 && 16 * taps <= M ? 2 : 1 };
}

/**
 * `name_row(u)` for FusedDwPw: for each output row of band ⌊u / parts⌋, the depthwise row into unit
 * u's scratch row (part k's scratch row of that band: `name_dw<k>`), then the pointwise conv of channel range k = u mod parts over it
 * (`name_pw<k>`); `name()` and `name_range` over units. Units share nothing (pointwise row r reads
 * only depthwise row r, from its own scratch row), so threads take whole units.
 */
function addBandDriver(m: binaryen.Module, name: string, OH: number, bands: { rows: number; count: number; parts: number }, partWork: number[]): void {
  const fb = new FnBuilder(m, 1);
  const r = fb.local(binaryen.i32), end = fb.local(binaryen.i32), b = fb.local(binaryen.i32), k = fb.local(binaryen.i32);
  const { rows: band, count, parts } = bands;
  const endE = m.i32.add(m.i32.mul(fb.geti(b), m.i32.const(band)), m.i32.const(band));
  const rowsOf = (p: number) => fb.loopDyn(r, m.i32.mul(fb.geti(b), m.i32.const(band)), fb.geti(end), 1, [
    m.call(`${name}_dw${p}_row`, [fb.geti(r)], binaryen.none),
    m.call(`${name}_pw${p}_row`, [fb.geti(r)], binaryen.none),
  ]);
  m.addFunction(`${name}_row`, binaryen.i32, binaryen.none, fb.vars, m.block(null, [
    fb.set(b, m.i32.div_u(fb.geti(0), m.i32.const(parts))),
    fb.set(k, m.i32.rem_u(fb.geti(0), m.i32.const(parts))),
    fb.set(end, m.select(m.i32.lt_u(endE, m.i32.const(OH)), endE, m.i32.const(OH))),
    ...partWork.map((_, p) => (parts === 1 ? rowsOf(p) : m.if(m.i32.eq(fb.geti(k), m.i32.const(p)), rowsOf(p)))),
  ]));
  recordUnitWork(m, name, Array.from({ length: count * parts }, (_, u) => Math.min(band, OH - Math.floor(u / parts) * band) * partWork[u % parts]));
  addRowDriver(m, name, count * parts);
}

const fusedDwPw: OpLowering = {
  check(n, g) {
    const geo = geometry(n, g);
    if (geo.inSize.length !== 2) return 'handles 2-D FusedDwPw only';
    return needsConstants(g, n.inputs.slice(1, 5)) ?? epilogueProblem(n, 'dw') ?? epilogueProblem(n, 'act');
  },
  lower(s, n) {
    const [xv, wdv, bdv, wpv, bpv, rv] = n.inputs;
    const geo = geometry(n, s.g);
    const x = s.spatialIn(n, xv);
    const { C } = geo, M = s.shape(wpv)[0];
    const [kh, kw] = geo.kernel, [sh, sw] = geo.strides, [dh, dw] = geo.dilations, [ph, pw] = geo.padBegin, [OH, OW] = geo.outSize;
    const dk = packDepthwiseWeights(s.constF32(n, wdv), bdv ? s.constF32(n, bdv) : undefined, C, kh, kw);
    const tile = s.tileFor();
    const pk = packConvWeights(s.constF32(n, wpv), bpv ? s.constF32(n, bpv) : undefined, M, C, 1, 1, tile.V);
    const Wd = s.weight(dk.weights), Bd = s.weight(dk.bias), Wp = s.weight(pk.weights), Bp = s.weight(pk.bias);
    const dwAct = String(n.attrs.dw_activation ?? '');
    // the depthwise result of one output row at a time lives in a small scratch row, one per unit (of every image)
    const { N } = geo;
    const bands = dwpwBands(OH, kh * kw, M);
    const units = bands.count * bands.parts;
    const mid = s.dense(N * units * OW * C, 'T', C);
    const y = s.spatialOut(n, n.outputs[0], M);
    const r = s.residual(n, rv);
    const ep = epilogue(n);
    const flops = 2 * N * OH * OW * C * (kh * kw * bands.parts + M);
    const imgX = x.H * x.W * x.l.ps * 4, imgY = OH * OW * y.ps * 4, imgR = r ? OH * OW * r.ps * 4 : 0;
    // channel ranges of the pointwise conv: whole blocks of 4V, the last one partial
    const MB = 4 * tile.V, nmb = Math.ceil(M / MB);
    const ranges = Array.from({ length: bands.parts }, (_, k) => [Math.floor(k * nmb / bands.parts), Math.floor((k + 1) * nmb / bands.parts)]);
    const partWork = ranges.map(([b0, b1]) => C * (kh * kw + Math.min(M, b1 * MB) - b0 * MB));
    const kernel = `dwpw${kxk(kh, kw)}${pairTag('s', sh, sw, 0)}${pairTag('d', dh, dw, 1)}_nhwc_${tile.P}x${4 * tile.V}${actTag(ep.act)}`;
    s.step(n, kernel, 'row by row', flops, (m, a, fn) => {
      const images = Array.from({ length: N }, (_, i) => (N === 1 ? fn : `${fn}_n${i}`));
      images.forEach((f, i) => {
        const X = a(x.l) + i * imgX, Y = a(y) + i * imgY, R = r ? a(r) + i * imgR : undefined;
        ranges.forEach(([b0, b1], k) => {
          // part k's scratch rows (one per band) follow part k − 1's: unit (band, k) writes only its own
          const scratch = a(mid) + (i * units + k * bands.count) * OW * C * 4;
          emitDepthwiseConv(m, {
            name: `${f}_dw${k}`, X, H: x.H, W: x.W, xps: x.l.ps, C, Y: scratch, OH, OW, yps: C,
            kh, kw, sh, sw, dh, dw, ph, pw, Wd, B: Bd, act: dwAct, alpha: Number(n.attrs.dw_alpha ?? 0), beta: Number(n.attrs.dw_beta ?? 0),
            band: bands.rows,
          });
          // output row oy reads its unit's scratch row
          emitConv(m, {
            name: `${f}_pw${k}`, X: scratch, H: bands.count, W: OW, xps: C, Cg: C, Y: Y + b0 * MB * 4, OH, OW, yps: y.ps,
            M: Math.min(M, b1 * MB) - b0 * MB, kh: 1, kw: 1, sh: 0, sw: 1, dh: 1, dw: 1, ph: 0, pw: 0,
            Wp: Wp + b0 * C * MB * 4, B: Bp + b0 * MB * 4, P: tile.P, V: tile.V, order: tile.order,
            ...ep, R: R !== undefined ? R + b0 * MB * 4 : undefined, rps: r?.ps, singleRow: true, band: bands.rows,
          });
        });
        addBandDriver(m, f, OH, bands, partWork);
      });
      // every image's units, one after another: threads share them out like one image's
      if (N > 1) addPartsDriver(m, fn, images, units);
    }, [x.l, mid, ...(r ? [r] : [])], [y]);
  },
};

const convTranspose: OpLowering = {
  check(n, g) {
    const geo = geometry(n, g);
    if (geo.inSize.length !== 2 || geo.group !== 1 || geo.N !== 1) return 'handles 2-D ConvTranspose with group 1 and batch 1 only';
    return needsConstants(g, [n.inputs[1], n.inputs[2]]) ?? epilogueProblem(n, 'act');
  },
  lower(s, n) {
    const [xv, wv, bv, rv] = n.inputs;
    const geo = geometry(n, s.g);
    const x = s.spatialIn(n, xv);
    if (x.l.ps !== x.C) unchecked(n, 'needs a dense ConvTranspose input');
    const { C, M } = geo;
    const [kh, kw] = geo.kernel, [sh, sw] = geo.strides, [dh, dw] = geo.dilations, [ph, pw] = geo.padBegin, [OH, OW] = geo.outSize;
    const pk = packConvTransposeWeights(s.constF32(n, wv), bv ? s.constF32(n, bv) : undefined, C, M, kh, kw);
    const Wp = s.weight(pk.weights), B = s.weight(pk.bias);
    const y = s.dense(OH * OW * M, String(n.attrs.layout ?? 'NCHW') === 'NHWC' ? 'plain' : 'T', M);
    s.define(n.outputs[0], y);
    const flops = 2 * x.H * x.W * C * M * kh * kw;
    const shape = `${kxk(kh, kw)}${pairTag('s', sh, sw, 0)}${pairTag('d', dh, dw, 1)}`;
    s.step(n, `deconv${shape}`, 'scatter', flops, (m, a, fn) => emitConvTranspose(m, {
      name: fn, X: a(x.l), H: x.H, W: x.W, C, Y: a(y), OH, OW, M, kh, kw, sh, sw, dh, dw, ph, pw, Wp, B,
    }), [x.l], [y]);
    const ep = epilogue(n);
    const r = s.residual(n, rv);
    if (ep.act === '' && !r) return;
    if (r && r.ps !== M) unchecked(n, 'needs a dense residual');
    // activation(y + r) in place, as one elementwise pass
    const act = activationScalar(ep.act, ep.alpha, ep.beta) ?? unchecked(n, `has no activation '${ep.act}'`);
    const e = r ? substitute(act, [add(X, arg(1))]) : act;
    const rl = r;
    s.step(n, `deconv_epilogue${actTag(ep.act)}`, 'epilogue', OH * OW * M, (m, a, fn) => emitElementwise(m, {
      name: fn, dims: [OH * OW * M], Y: a(y),
      operands: [{ addr: a(y), strides: [1] }, ...(rl ? [{ addr: a(rl), strides: [1] }] : [])],
      expr: (fb, xs) => renderScalar(fb, e, xs),
    }), [y, ...(rl ? [rl] : [])], [y]);
  },
};

/** Gemm's C broadcast to [rows, N] and scaled by beta. */
function broadcast2d(c: Float32Array, shape: readonly number[], rows: number, N: number, beta: number): Float32Array {
  const s2 = [...new Array(Math.max(0, 2 - shape.length)).fill(1), ...shape];
  const out = new Float32Array(rows * N);
  for (let i = 0; i < rows; i++) for (let j = 0; j < N; j++) out[i * N + j] = beta * c[(s2[0] === 1 ? 0 : i) * s2[1] + (s2[1] === 1 ? 0 : j)];
  return out;
}

/** Gemm/MatMul sizes: rows of A, K, N, and how C enters (bias, constant residual, live residual). */
function gemmPlan(n: Node, g: Graph) {
  const [av, bv, cv, rv] = n.inputs;
  const as = g.type(av).shape, bs = g.type(bv).shape;
  const isGemm = n.op === 'Gemm';
  const transA = isGemm && Number(n.attrs.transA) !== 0, transB = isGemm && Number(n.attrs.transB) !== 0;
  const K = transA ? as[0] : as[as.length - 1];
  const rows = sizeOf(as) / K;
  const N = transB ? bs[0] : bs[1];
  const beta = isGemm ? Number(n.attrs.beta) : 1;
  let c: 'none' | 'bias' | 'const' | 'live' | 'unsupported' = 'none';
  if (cv) {
    const cs = g.type(cv).shape, cc = g.constValue(cv);
    if (cc && sizeOf(cs) === N && (cs.length <= 1 || cs[cs.length - 1] === N)) c = 'bias';
    else if (cc && !rv) c = 'const';
    else if (!cc && beta === 1 && !rv && sizeOf(cs) === rows * N) c = 'live';
    else c = 'unsupported';
  }
  return { as, bs, transA, transB, K, rows, N, beta, c };
}

const gemm: OpLowering = {
  check(n, g) {
    const p = gemmPlan(n, g);
    if (p.bs.length !== 2 || !g.constValue(n.inputs[1])) return `needs a constant 2-D B (got [${p.bs}])`;
    if (p.transA && p.as[0] !== 1) return 'has no transA';
    if (p.c === 'unsupported') return `has no Gemm C of shape [${g.type(n.inputs[2]).shape}] here`;
    return n.op === 'Gemm' ? epilogueProblem(n, 'act') : undefined;
  },
  lower(s, n) {
    const [av, bv, cv, rv] = n.inputs;
    const { transB, K, rows, N, beta, c } = gemmPlan(n, s.g);
    const isGemm = n.op === 'Gemm';
    const alpha = isGemm ? Number(n.attrs.alpha) : 1;
    const b = s.constF32(n, bv);
    const w = new Float32Array(N * K); // (N, K): conv weights (M=N, C=K, 1, 1)
    for (let j = 0; j < N; j++) for (let k = 0; k < K; k++) w[j * K + k] = alpha * (transB ? b[j * K + k] : b[k * N + j]);
    const bias = c === 'bias' ? Float32Array.from(s.constF32(n, cv), (x) => x * beta) : undefined;
    const residConst = c === 'const' ? broadcast2d(s.constF32(n, cv), s.shape(cv), rows, N, beta) : undefined;
    const resid = c === 'live' ? cv : rv || undefined;
    const a = s.plain(n, av);
    const y = s.dense(rows * N, 'plain', 0);
    s.define(n.outputs[0], y);
    const r: Loc | undefined = resid ? s.plain(n, resid) : residConst ? s.constLoc(residConst) : undefined;
    const ep = isGemm ? epilogue(n) : { act: '', alpha: 0, beta: 0 };
    if (rows === 1) {
      // one vector: the memory-bound vector × matrix kernel, its blocks of 4 outputs shared by threads
      const pk = packConvWeights(w, bias, N, K, 1, 1, 1);
      const Wt = s.weight(pk.weights), B = s.weight(pk.bias);
      s.step(n, `gemv${actTag(ep.act)}`, '', 2 * N * K, (m, ad, fn) => addRowDriver(m, fn, emitVecMatRows(m, fn, {
        K, O: N, Wt, B, X: ad(a), Y: ad(y), ...ep, R: r ? ad(r) : undefined,
      })), [a, ...(r ? [r] : [])], [y]);
      return;
    }
    const tile = s.tileFor();
    const pk = packConvWeights(w, bias, N, K, 1, 1, tile.V);
    const Wp = s.weight(pk.weights), B = s.weight(pk.bias);
    s.step(n, `gemm_${tile.P}x${4 * tile.V}${actTag(ep.act)}`, '', 2 * rows * N * K, (m, ad, fn) => emitConv(m, {
      name: fn, X: ad(a), H: 1, W: rows, xps: K, Cg: K, Y: ad(y), OH: 1, OW: rows, yps: N, M: N,
      kh: 1, kw: 1, sh: 1, sw: 1, dh: 1, dw: 1, ph: 0, pw: 0, Wp, B, P: tile.P, V: tile.V, order: tile.order,
      ...ep, R: r ? ad(r) : undefined, rps: r ? N : undefined,
    }), [a, ...(r ? [r] : [])], [y]);
  },
};

export const CONV_LOWERINGS: Record<string, OpLowering> = {
  Conv: conv, FusedDwPw: fusedDwPw, ConvTranspose: convTranspose, Gemm: gemm, MatMul: gemm,
};
