/** Normalizations, one thread per normalized row: Softmax/LogSoftmax, LayerNormalization, ChannelLayerNorm, LRN. */
import { CnncError } from '../../../runtime/errors.js';
import type { Node } from '../../../ir/graph.js';
import { layoutOf } from '../../../ir/ops/geometry.js';
import { sizeOf } from '../../../ir/types.js';
import type { Emitter } from '../emit.js';
import { f, i as lit, u } from '../kernel.js';
import { opt } from './common.js';
import { simple } from './elementwise.js';
import { helperDecls } from '../scalar.js';

const norm = (a: number, rank: number) => (a < 0 ? a + rank : a);

export function emitSoftmax(e: Emitter, node: Node): void {
  const X = e.operand(node.inputs[0]), Y = e.operand(node.outputs[0]);
  const axis = norm(Number(node.attrs.axis ?? -1), X.shape.length);
  const D = X.shape[axis], inner = sizeOf(X.shape.slice(axis + 1)), rows = sizeOf(X.shape) / D;
  const log = node.op === 'LogSoftmax';
  simple(e, node, [e.read('X', X), e.write('Y', Y)], rows, `
let base = (i / ${u(inner)}) * ${u(D * inner)} + i % ${u(inner)};
var mx = ${f(-Infinity)};
for (var k = 0u; k < ${u(D)}; k++) { mx = cnnc_max(mx, f32(X[base + k * ${u(inner)}])); }
var s = 0.0;
for (var k = 0u; k < ${u(D)}; k++) { s += exp(f32(X[base + k * ${u(inner)}]) - mx); }
for (var k = 0u; k < ${u(D)}; k++) {
  let d = f32(X[base + k * ${u(inner)}]) - mx;
  Y[base + k * ${u(inner)}] = T_Y(${log ? 'd - log(s)' : 'exp(d) / s'});
}`, helperDecls('cnnc_max'));
}

/** LayerNormalization(X, Scale, B?) over the axes from `axis` on; the extra outputs unsupported. */
export function emitLayerNorm(e: Emitter, node: Node): void {
  if (node.outputs.slice(1).some(Boolean)) throw new CnncError('UNSUPPORTED', 'LayerNormalization mean/inv_std outputs are not supported on wgsl', { node: node.name, op: node.op });
  const X = e.operand(node.inputs[0]), Y = e.operand(node.outputs[0]);
  const axis = norm(Number(node.attrs.axis ?? -1), X.shape.length);
  const D = sizeOf(X.shape.slice(axis)), rows = sizeOf(X.shape) / D;
  const S = e.operand(node.inputs[1]), b = opt(node, 2);
  const ss = sizeOf(S.shape), bs = b ? sizeOf(e.graph.type(b).shape) : 0;
  const bindings = [e.read('X', X), e.read('S', S), ...(b ? [e.read('B', e.operand(b))] : []), e.write('Y', Y)];
  simple(e, node, bindings, rows, `
let base = i * ${u(D)};
var m = 0.0;
for (var k = 0u; k < ${u(D)}; k++) { m += f32(X[base + k]); }
m = m / ${f(D)};
var v = 0.0;
for (var k = 0u; k < ${u(D)}; k++) { let d = f32(X[base + k]) - m; v += d * d; }
let r = inverseSqrt(v / ${f(D)} + ${f(Number(node.attrs.epsilon ?? 1e-5))});
for (var k = 0u; k < ${u(D)}; k++) {
  Y[base + k] = T_Y((f32(X[base + k]) - m) * r * f32(S[${ss === 1 ? '0u' : 'k'}])${b ? ` + f32(B[${bs === 1 ? '0u' : 'k'}])` : ''});
}`);
}

/**
 * ChannelLayerNorm(X, Scale, B?) over the one axis `axis`: one thread per position along the other
 * axes, reading its C elements at stride `inner` (neighbouring threads read neighbouring addresses).
 * Two passes for mean and variance, as LayerNormalization.
 */
export function emitChannelLayerNorm(e: Emitter, node: Node): void {
  const X = e.operand(node.inputs[0]), Y = e.operand(node.outputs[0]);
  const axis = norm(Number(node.attrs.axis), X.shape.length);
  const C = X.shape[axis], inner = sizeOf(X.shape.slice(axis + 1)), rows = sizeOf(X.shape) / C;
  const b = opt(node, 2);
  const bindings = [e.read('X', X), e.read('S', e.operand(node.inputs[1])), ...(b ? [e.read('B', e.operand(b))] : []), e.write('Y', Y)];
  const at = `base + k * ${u(inner)}`;
  simple(e, node, bindings, rows, `
let base = (i / ${u(inner)}) * ${u(C * inner)} + i % ${u(inner)};
var m = 0.0;
for (var k = 0u; k < ${u(C)}; k++) { m += f32(X[${at}]); }
m = m / ${f(C)};
var v = 0.0;
for (var k = 0u; k < ${u(C)}; k++) { let d = f32(X[${at}]) - m; v += d * d; }
let r = inverseSqrt(v / ${f(C)} + ${f(Number(node.attrs.epsilon ?? 1e-5))});
for (var k = 0u; k < ${u(C)}; k++) {
  Y[${at}] = T_Y((f32(X[${at}]) - m) * r * f32(S[k])${b ? ' + f32(B[k])' : ''});
}`);
}

/** LRN across channels: y = x / (bias + alpha/size · Σ x²)^beta. */
export function emitLRN(e: Emitter, node: Node): void {
  const X = e.operand(node.inputs[0]), Y = e.operand(node.outputs[0]);
  const layout = layoutOf(node.attrs, { node: node.name, op: node.op });
  const C = layout === 'NHWC' ? X.shape[X.shape.length - 1] : X.shape[1];
  const inner = layout === 'NHWC' ? 1 : sizeOf(X.shape.slice(2));
  const size = Number(node.attrs.size);
  const lo = Math.floor((size - 1) / 2), hi = Math.ceil((size - 1) / 2);
  const alpha = Number(node.attrs.alpha ?? 1e-4), beta = Number(node.attrs.beta ?? 0.75), bias = Number(node.attrs.bias ?? 1);
  simple(e, node, [e.read('X', X), e.write('Y', Y)], sizeOf(X.shape), `
let c = i32((i / ${u(inner)}) % ${u(C)});
var s = 0.0;
for (var k = max(c - ${lit(lo)}, 0i); k <= min(c + ${lit(hi)}, ${lit(C - 1)}); k++) {
  let v = f32(X[u32(i32(i) + (k - c) * ${lit(inner)})]);
  s += v * v;
}
Y[i] = T_Y(f32(X[i]) / pow(${f(bias)} + ${f(alpha / size)} * s, ${f(beta)}));`);
}

/** InstanceNormalization(X, scale, B): per (n, c) over the spatial axes, one thread per (n, c). */
export function emitInstanceNorm(e: Emitter, node: Node): void {
  const X = e.operand(node.inputs[0]), Y = e.operand(node.outputs[0]);
  const nhwc = layoutOf(node.attrs, { node: node.name, op: node.op }) === 'NHWC';
  const C = nhwc ? X.shape[X.shape.length - 1] : X.shape[1];
  const P = sizeOf(X.shape) / (X.shape[0] * C);
  // element k of row i = (n, c): NCHW rows are contiguous; NHWC strides by C
  const at = nhwc ? `(i / ${u(C)}) * ${u(P * C)} + (i % ${u(C)}) + k * ${u(C)}` : `i * ${u(P)} + k`;
  const bindings = [e.read('X', X), e.read('S', e.operand(node.inputs[1])), e.read('B', e.operand(node.inputs[2])), e.write('Y', Y)];
  simple(e, node, bindings, X.shape[0] * C, `
let c = i % ${u(C)};
var m = 0.0;
for (var k = 0u; k < ${u(P)}; k++) { m += f32(X[${at}]); }
m = m / ${f(P)};
var v = 0.0;
for (var k = 0u; k < ${u(P)}; k++) { let d = f32(X[${at}]) - m; v += d * d; }
let r = f32(S[c]) / sqrt(v / ${f(P)} + ${f(Number(node.attrs.epsilon ?? 1e-5))});
for (var k = 0u; k < ${u(P)}; k++) { Y[${at}] = T_Y((f32(X[${at}]) - m) * r + f32(B[c])); }`);
}
