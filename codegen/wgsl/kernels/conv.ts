/**
 * Convolutions: Conv as implicit GEMM over the GEMM template (rows = output channels of a group,
 * cols = output pixels, depth = C/group · kH · kW, im2col done on the fly in loadR), a direct
 * kernel for depthwise convs (one input channel per group), ConvTranspose as a direct gather,
 * and FusedDwPw as a GEMM whose loadR computes the depthwise conv and its activation.
 * A Conv's input scale S (input 4, one vector of C per batch item) multiplies each input as it is
 * loaded: `S[n · C + c]` beside the X read.
 */
import { CnncError } from '../../../runtime/errors.js';
import type { Node } from '../../../ir/graph.js';
import { windowGeometry, type WindowGeometry } from '../../../ir/ops/geometry.js';
import { epilogueScalar } from '../../c-like.js';
import { wgslRenderer } from '../scalar.js';
import type { Emitter } from '../emit.js';
import { dispatch1d, flatIndex, i, u } from '../kernel.js';
import { epilogue, geometryDims, index4, opt, window2 } from './common.js';
import { matmulBody } from './matmul.js';
import { emitConv3d, emitConvTranspose3d } from './window3d.js';

function geometry(e: Emitter, node: Node): WindowGeometry {
  return windowGeometry(node.op, node.attrs, e.graph.type(node.inputs[0]).shape, e.graph.type(node.inputs[1]).shape, { node: node.name, op: node.op });
}

/** WGSL for "input pixel (ih, iw) of output pixel (oh, ow), tap (kh, kw)" with bounds (ok). */
function tapCode(w: ReturnType<typeof window2>, H: number, W: number): string {
  return `let ih = i32(oh * ${u(w.SH)} + kh * ${u(w.DH)}) - ${i(w.PH)};
  let iw = i32(ow * ${u(w.SW)} + kw * ${u(w.DW)}) - ${i(w.PW)};
  let ok = ih >= 0 && ih < ${i(H)} && iw >= 0 && iw < ${i(W)};`;
}

export function emitConv(e: Emitter, node: Node): void {
  if (e.graph.type(node.inputs[0]).shape.length === 5) {
    if (opt(node, 4)) throw new CnncError('UNSUPPORTED', 'the wgsl target scales conv inputs on load in 1-D and 2-D convs only', { node: node.name, op: node.op });
    return emitConv3d(e, node);
  }
  const g = geometry(e, node);
  const { x: xd, y: yd } = geometryDims(g, node);
  const w = window2(g);
  const X = e.operand(node.inputs[0]), Wt = e.operand(node.inputs[1]), Y = e.operand(node.outputs[0]);
  const ep = epilogue(e, node, Y, opt(node, 2), opt(node, 3));
  const G = g.group, CG = g.C / G, MG = g.M / G, KK = w.KH * w.KW;
  const L = g.layout;
  const sv = opt(node, 4);
  const bindings = [e.read('X', X), e.read('W', Wt), ...ep.bindings, ...(sv ? [e.read('S', e.operand(sv))] : [])];
  // X at `at`, times the input scale at `si` (batch item · C + channel) when the conv has one
  const xs = (at: string, si: string) => (sv ? `f32(X[${at}]) * f32(S[${si}])` : `f32(X[${at}])`);

  if (CG === 1) {
    // depthwise (and channel-multiplier) conv: one thread per output element
    const n = g.N * g.M * yd.H * yd.W;
    const d = dispatch1d(n, e.wg1d);
    const coords = L === 'NHWC'
      ? `let m = idx % ${u(g.M)}; let ow = (idx / ${u(g.M)}) % ${u(yd.W)}; let oh = (idx / ${u(g.M * yd.W)}) % ${u(yd.H)}; let n = idx / ${u(g.M * yd.W * yd.H)};`
      : `let ow = idx % ${u(yd.W)}; let oh = (idx / ${u(yd.W)}) % ${u(yd.H)}; let m = (idx / ${u(yd.W * yd.H)}) % ${u(g.M)}; let n = idx / ${u(g.M * yd.W * yd.H)};`;
    e.kernel(node, {
      bindings, workgroupSize: [e.wg1d, 1, 1], dispatch: d, decls: ep.decls,
      body: `
let idx = ${flatIndex(d, e.wg1d)};
if (idx >= ${u(n)}) { return; }
${coords}
let c = m / ${u(MG)};
var acc = 0.0;
for (var kh = 0u; kh < ${u(w.KH)}; kh++) {
  for (var kw = 0u; kw < ${u(w.KW)}; kw++) {
    ${tapCode(w, xd.H, xd.W)}
    if (ok) { acc = fma(${xs(index4(L, xd, 'n', 'c', 'u32(ih)', 'u32(iw)'), `n * ${u(g.C)} + c`)}, f32(W[m * ${u(KK)} + kh * ${u(w.KW)} + kw]), acc); }
  }
}
${ep.store(index4(L, yd, 'n', 'm', 'oh', 'ow'), 'm', 'acc')}`,
    });
    return;
  }

  const pointwise = KK === 1 && w.SH === 1 && w.SW === 1 && w.PH === 0 && w.PW === 0 && L === 'NCHW';
  const P = yd.H * yd.W;
  const loadR = pointwise
    ? `fn loadR(z: u32, k: u32, c: u32) -> f32 { return ${xs(`(z * ${u(CG)} + k) * ${u(P)} + c`, `z * ${u(CG)} + k`)}; }`
    : `fn loadR(z: u32, k: u32, c: u32) -> f32 {
  let n = z / ${u(G)}; let g = z % ${u(G)};
  let ci = g * ${u(CG)} + k / ${u(KK)}; let t = k % ${u(KK)};
  let kh = t / ${u(w.KW)}; let kw = t % ${u(w.KW)};
  let oh = c / ${u(yd.W)}; let ow = c % ${u(yd.W)};
  ${tapCode(w, xd.H, xd.W)}
  if (!ok) { return 0.0; }
  return ${xs(index4(L, xd, 'n', 'ci', 'u32(ih)', 'u32(iw)'), `n * ${u(g.C)} + ci`)};
}`;
  const fns = `${ep.decls}
fn loadL(z: u32, r: u32, k: u32) -> f32 { return f32(W[((z % ${u(G)}) * ${u(MG)} + r) * ${u(CG * KK)} + k]); }
${loadR}
fn store(z: u32, r: u32, c: u32, acc: f32) {
  let n = z / ${u(G)}; let m = (z % ${u(G)}) * ${u(MG)} + r;
  let oh = c / ${u(yd.W)}; let ow = c % ${u(yd.W)};
  ${ep.store(index4(L, yd, 'n', 'm', 'oh', 'ow'), 'm', 'acc')}
}`;
  e.kernel(node, { bindings, ...matmulBody({ rows: MG, cols: P, depth: CG * KK, batch: g.N * G }, fns, e.limits) });
}

export function emitConvTranspose(e: Emitter, node: Node): void {
  if (e.graph.type(node.inputs[0]).shape.length === 5) return emitConvTranspose3d(e, node);
  const g = geometry(e, node);
  const { x: xd, y: yd } = geometryDims(g, node);
  const w = window2(g);
  const X = e.operand(node.inputs[0]), Wt = e.operand(node.inputs[1]), Y = e.operand(node.outputs[0]);
  const ep = epilogue(e, node, Y, opt(node, 2), opt(node, 3));
  const G = g.group, CG = g.C / G, MG = g.M / G, KK = w.KH * w.KW, L = g.layout;
  const n = g.N * g.M * yd.H * yd.W;
  const d = dispatch1d(n, e.wg1d);
  const coords = L === 'NHWC'
    ? `let m = idx % ${u(g.M)}; let ow = (idx / ${u(g.M)}) % ${u(yd.W)}; let oh = (idx / ${u(g.M * yd.W)}) % ${u(yd.H)}; let n = idx / ${u(g.M * yd.W * yd.H)};`
    : `let ow = idx % ${u(yd.W)}; let oh = (idx / ${u(yd.W)}) % ${u(yd.H)}; let m = (idx / ${u(yd.W * yd.H)}) % ${u(g.M)}; let n = idx / ${u(g.M * yd.W * yd.H)};`;
  e.kernel(node, {
    bindings: [e.read('X', X), e.read('W', Wt), ...ep.bindings], workgroupSize: [e.wg1d, 1, 1], dispatch: d, decls: ep.decls,
    body: `
let idx = ${flatIndex(d, e.wg1d)};
if (idx >= ${u(n)}) { return; }
${coords}
let grp = m / ${u(MG)}; let mg = m % ${u(MG)};
var acc = 0.0;
for (var kh = 0u; kh < ${u(w.KH)}; kh++) {
  let th = i32(oh) + ${i(w.PH)} - i32(kh * ${u(w.DH)});
  if (th < 0 || th % ${i(w.SH)} != 0 || th / ${i(w.SH)} >= ${i(xd.H)}) { continue; }
  let ih = u32(th / ${i(w.SH)});
  for (var kw = 0u; kw < ${u(w.KW)}; kw++) {
    let tw = i32(ow) + ${i(w.PW)} - i32(kw * ${u(w.DW)});
    if (tw < 0 || tw % ${i(w.SW)} != 0 || tw / ${i(w.SW)} >= ${i(xd.W)}) { continue; }
    let iw = u32(tw / ${i(w.SW)});
    for (var cg = 0u; cg < ${u(CG)}; cg++) {
      let ci = grp * ${u(CG)} + cg;
      acc = fma(f32(X[${index4(L, xd, 'n', 'ci', 'ih', 'iw')}]), f32(W[(ci * ${u(MG)} + mg) * ${u(KK)} + kh * ${u(w.KW)} + kw]), acc);
    }
  }
}
${ep.store(index4(L, yd, 'n', 'm', 'oh', 'ow'), 'm', 'acc')}`,
  });
}

/** FusedDwPw(X, Wdw, Bdw, Wpw, Bpw, R?): the depthwise result never leaves the GEMM's tile loader. */
export function emitFusedDwPw(e: Emitter, node: Node): void {
  const g = geometry(e, node);
  const { x: xd, y: dwd } = geometryDims(g, node);
  const w = window2(g);
  const wpw = e.graph.type(node.inputs[3]).shape;
  const M = wpw[0];
  if (wpw[1] !== g.C || wpw.slice(2).some((k) => k !== 1)) {
    throw new CnncError('SHAPE_MISMATCH', `pointwise weight [${wpw}] must be (M, ${g.C}, 1, 1)`, { node: node.name, op: node.op, value: node.inputs[3] });
  }
  const L = g.layout, KK = w.KH * w.KW, P = dwd.H * dwd.W;
  const yd = { ...dwd, C: M };
  const X = e.operand(node.inputs[0]), Wdw = e.operand(node.inputs[1]), Wpw = e.operand(node.inputs[3]), Y = e.operand(node.outputs[0]);
  const bdw = opt(node, 2);
  const r = wgslRenderer();
  const dwAct = r.render(epilogueScalar(node.attrs, { node: node.name, op: node.op }, 'dw'), ['d']);
  const ep = epilogue(e, node, Y, opt(node, 4), opt(node, 5), r);
  const bindings = [e.read('X', X), e.read('WD', Wdw), ...(bdw ? [e.read('BD', e.operand(bdw))] : []), e.read('WP', Wpw), ...ep.bindings];
  const fns = `${ep.decls}
fn loadL(z: u32, r: u32, k: u32) -> f32 { return f32(WP[r * ${u(g.C)} + k]); }
fn loadR(n: u32, c: u32, p: u32) -> f32 {
  let oh = p / ${u(dwd.W)}; let ow = p % ${u(dwd.W)};
  var d = ${bdw ? 'f32(BD[c])' : '0.0'};
  for (var kh = 0u; kh < ${u(w.KH)}; kh++) {
    for (var kw = 0u; kw < ${u(w.KW)}; kw++) {
      ${tapCode(w, xd.H, xd.W)}
      if (ok) { d = fma(f32(X[${index4(L, xd, 'n', 'c', 'u32(ih)', 'u32(iw)')}]), f32(WD[c * ${u(KK)} + kh * ${u(w.KW)} + kw]), d); }
    }
  }
  return ${dwAct};
}
fn store(n: u32, m: u32, p: u32, acc: f32) {
  let oh = p / ${u(dwd.W)}; let ow = p % ${u(dwd.W)};
  ${ep.store(index4(L, yd, 'n', 'm', 'oh', 'ow'), 'm', 'acc')}
}`;
  e.kernel(node, { bindings, ...matmulBody({ rows: M, cols: P, depth: g.C, batch: g.N, costlyR: true }, fns, e.limits) });
}
