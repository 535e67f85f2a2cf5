/**
 * 3-D Conv and pooling (video models): direct kernels, one thread per output element, looping
 * over the window (and the group's input channels) with each axis' bounds checked. The 1-D and
 * 2-D ops keep their tiled kernels (conv.ts, pool.ts); these trade speed for generality.
 */
import type { Node } from '../../../ir/graph.js';
import { windowGeometry, type Layout, type WindowGeometry } from '../../../ir/ops/geometry.js';
import { helperDecls } from '../scalar.js';
import type { Emitter } from '../emit.js';
import { f, i, u } from '../kernel.js';
import { simple } from './elementwise.js';
import { epilogue, opt } from './common.js';

/** WGSL u32 expression of the flat index of (n, c, s0, s1, s2) in `layout`. */
function at(L: Layout, C: number, sz: readonly number[], n: string, c: string, s: string[]): string {
  let sp = s[0];
  for (let a = 1; a < sz.length; a++) sp = `(${sp}) * ${u(sz[a])} + ${s[a]}`;
  const P = sz.reduce((p, d) => p * d, 1);
  return L === 'NHWC' ? `((${n}) * ${u(P)} + ${sp}) * ${u(C)} + (${c})` : `((${n}) * ${u(C)} + (${c})) * ${u(P)} + ${sp}`;
}

/** Declares n, ch (channel), o0..o2 from the flat output index i. */
function coords(g: WindowGeometry, L: Layout, M: number): string {
  const out = g.outSize, P = out.reduce((p, d) => p * d, 1);
  const lines = L === 'NHWC' ? [`let ch = i % ${u(M)};`, `let p = i / ${u(M)};`] : [`let p = i % ${u(P)};`, `let ch = (i / ${u(P)}) % ${u(M)};`];
  lines.push(`let n = i / ${u(M * P)};`);
  let inner = 1;
  for (let a = out.length - 1; a >= 0; a--) { lines.push(`let o${a} = (p / ${u(inner)}) % ${u(out[a])};`); inner *= out[a]; }
  return lines.join(' ');
}

/** Opens a loop per axis (taps t0..), with x0.. the input positions and `ok` whether all are inside. */
function windowLoops(g: WindowGeometry): { open: string; close: string; ok: string; padded: string } {
  const open = g.kernel.map((k, a) =>
    `for (var t${a} = 0u; t${a} < ${u(k)}; t${a}++) { let x${a} = i32(o${a} * ${u(g.strides[a])} + t${a} * ${u(g.dilations[a])}) - ${i(g.padBegin[a])};`).join('\n');
  const ok = g.inSize.map((d, a) => `x${a} >= 0 && x${a} < ${i(d)}`).join(' && ');
  const padded = g.inSize.map((d, a) => `x${a} >= ${i(-g.padBegin[a])} && x${a} < ${i(d + g.padEnd[a])}`).join(' && ');
  return { open, close: g.kernel.map(() => '}').join(''), ok, padded };
}

const xs = (g: WindowGeometry) => g.inSize.map((_, a) => `u32(x${a})`);
const os = (g: WindowGeometry) => g.outSize.map((_, a) => `o${a}`);

export function emitPool3d(e: Emitter, node: Node): void {
  const X = e.operand(node.inputs[0]), Y = e.operand(node.outputs[0]);
  const g = windowGeometry(node.op, node.attrs, X.shape, undefined, { node: node.name, op: node.op });
  const max = node.op === 'MaxPool';
  const includePad = Number(node.attrs.count_include_pad ?? 0) !== 0;
  const w = windowLoops(g);
  simple(e, node, [e.read('X', X), e.write('Y', Y)], Y.shape.reduce((p, d) => p * d, 1), `
${coords(g, g.layout, g.C)}
var acc = ${max ? f(-Infinity) : '0.0'};
var count = 0.0;
${w.open}
if (${w.ok}) {
  let v = f32(X[${at(g.layout, g.C, g.inSize, 'n', 'ch', xs(g))}]);
  ${max ? 'acc = cnnc_max(acc, v);' : 'acc += v;'}
  count += 1.0;
} else if (${includePad ? w.padded : 'false'}) { count += 1.0; }
${w.close}
Y[${at(g.layout, g.C, g.outSize, 'n', 'ch', os(g))}] = T_Y(${max ? 'acc' : 'acc / max(count, 1.0)'});`, max ? helperDecls('cnnc_max') : '');
}

export function emitConv3d(e: Emitter, node: Node): void {
  const X = e.operand(node.inputs[0]), Wt = e.operand(node.inputs[1]), Y = e.operand(node.outputs[0]);
  const g = windowGeometry(node.op, node.attrs, X.shape, Wt.shape, { node: node.name, op: node.op });
  const ep = epilogue(e, node, Y, opt(node, 2), opt(node, 3));
  const CG = g.C / g.group, MG = g.M / g.group;
  const KK = g.kernel.reduce((p, k) => p * k, 1);
  let tap = 't0';
  for (let a = 1; a < g.kernel.length; a++) tap = `(${tap}) * ${u(g.kernel[a])} + t${a}`;
  const w = windowLoops(g);
  simple(e, node, [e.read('X', X), e.read('W', Wt), ...ep.bindings], Y.shape.reduce((p, d) => p * d, 1), `
${coords(g, g.layout, g.M)}
let c0 = (ch / ${u(MG)}) * ${u(CG)};
var acc = 0.0;
for (var cg = 0u; cg < ${u(CG)}; cg++) {
${w.open}
if (${w.ok}) { acc = fma(f32(X[${at(g.layout, g.C, g.inSize, 'n', 'c0 + cg', xs(g))}]), f32(W[(ch * ${u(CG)} + cg) * ${u(KK)} + ${tap}]), acc); }
${w.close}
}
${ep.store(at(g.layout, g.M, g.outSize, 'n', 'ch', os(g)), 'ch', 'acc')}`, ep.decls);
}

/** ConvTranspose as a gather: output o takes input i where i·s − padBegin + t·d = o (W is C × M/group × k). */
export function emitConvTranspose3d(e: Emitter, node: Node): void {
  const X = e.operand(node.inputs[0]), Wt = e.operand(node.inputs[1]), Y = e.operand(node.outputs[0]);
  const g = windowGeometry(node.op, node.attrs, X.shape, Wt.shape, { node: node.name, op: node.op });
  const ep = epilogue(e, node, Y, opt(node, 2), opt(node, 3));
  const CG = g.C / g.group, MG = g.M / g.group;
  const KK = g.kernel.reduce((p, k) => p * k, 1);
  let tap = 't0';
  for (let a = 1; a < g.kernel.length; a++) tap = `(${tap}) * ${u(g.kernel[a])} + t${a}`;
  const open = g.kernel.map((k, a) => `for (var t${a} = 0u; t${a} < ${u(k)}; t${a}++) {
  let q${a} = i32(o${a}) + ${i(g.padBegin[a])} - i32(t${a} * ${u(g.dilations[a])});
  let x${a} = q${a} / ${i(g.strides[a])};`).join('\n');
  const ok = g.inSize.map((d, a) => `q${a} >= 0 && q${a} % ${i(g.strides[a])} == 0 && x${a} < ${i(d)}`).join(' && ');
  simple(e, node, [e.read('X', X), e.read('W', Wt), ...ep.bindings], Y.shape.reduce((p, d) => p * d, 1), `
${coords(g, g.layout, g.M)}
let grp = ch / ${u(MG)};
let mg = ch % ${u(MG)};
var acc = 0.0;
for (var cg = 0u; cg < ${u(CG)}; cg++) {
let c = grp * ${u(CG)} + cg;
${open}
if (${ok}) { acc = fma(f32(X[${at(g.layout, g.C, g.inSize, 'n', 'c', xs(g))}]), f32(W[(c * ${u(MG)} + mg) * ${u(KK)} + ${tap}]), acc); }
${g.kernel.map(() => '}').join('')}
}
${ep.store(at(g.layout, g.M, g.outSize, 'n', 'ch', os(g)), 'ch', 'acc')}`, ep.decls);
}
