/**
 * Pooling and reductions: MaxPool/AveragePool with one thread per output; GlobalAverage/MaxPool,
 * ReduceMean/Sum/Max/Min as one workgroup per output element, its threads striding over the
 * reduced elements and combining in workgroup memory.
 */
import { CnncError } from '../../../runtime/errors.js';
import type { Node } from '../../../ir/graph.js';
import { layoutOf, windowGeometry } from '../../../ir/ops/geometry.js';
import { stridesOf } from '../../../ir/ops/broadcast.js';
import type { Emitter } from '../emit.js';
import { dispatch1d, f, flatIndex, i, u } from '../kernel.js';
import { geometryDims, index4, window2 } from './common.js';
import { helperDecls } from '../scalar.js';
import { emitPool3d } from './window3d.js';

export function emitPool(e: Emitter, node: Node): void {
  if (node.outputs.length > 1 && node.outputs[1]) throw new CnncError('UNSUPPORTED', 'MaxPool indices output is not supported on wgsl', { node: node.name, op: node.op });
  const X = e.operand(node.inputs[0]), Y = e.operand(node.outputs[0]);
  if (X.shape.length === 5) return emitPool3d(e, node);
  const g = windowGeometry(node.op, node.attrs, X.shape, undefined, { node: node.name, op: node.op });
  const { x: xd, y: yd } = geometryDims(g, node);
  const w = window2(g);
  const L = g.layout;
  const max = node.op === 'MaxPool';
  const includePad = Number(node.attrs.count_include_pad ?? 0) !== 0;
  const n = g.N * g.C * yd.H * yd.W;
  const d = dispatch1d(n, e.wg1d);
  const coords = L === 'NHWC'
    ? `let c = idx % ${u(g.C)}; let ow = (idx / ${u(g.C)}) % ${u(yd.W)}; let oh = (idx / ${u(g.C * yd.W)}) % ${u(yd.H)}; let n = idx / ${u(g.C * yd.W * yd.H)};`
    : `let ow = idx % ${u(yd.W)}; let oh = (idx / ${u(yd.W)}) % ${u(yd.H)}; let c = (idx / ${u(yd.W * yd.H)}) % ${u(g.C)}; let n = idx / ${u(g.C * yd.W * yd.H)};`;
  // positions past the end padding (ceil_mode overhang) count as neither input nor padding
  const inPadded = `ih >= ${i(-w.PH)} && ih < ${i(xd.H + w.PEH)} && iw >= ${i(-w.PW)} && iw < ${i(xd.W + w.PEW)}`;
  e.kernel(node, {
    bindings: [e.read('X', X), e.write('Y', Y)], workgroupSize: [e.wg1d, 1, 1], dispatch: d, decls: max ? helperDecls('cnnc_max') : '',
    body: `
let idx = ${flatIndex(d, e.wg1d)};
if (idx >= ${u(n)}) { return; }
${coords}
var acc = ${max ? f(-Infinity) : '0.0'};
var count = 0.0;
for (var kh = 0u; kh < ${u(w.KH)}; kh++) {
  for (var kw = 0u; kw < ${u(w.KW)}; kw++) {
    let ih = i32(oh * ${u(w.SH)} + kh * ${u(w.DH)}) - ${i(w.PH)};
    let iw = i32(ow * ${u(w.SW)} + kw * ${u(w.DW)}) - ${i(w.PW)};
    if (ih >= 0 && ih < ${i(xd.H)} && iw >= 0 && iw < ${i(xd.W)}) {
      let v = f32(X[${index4(L, xd, 'n', 'c', 'u32(ih)', 'u32(iw)')}]);
      ${max ? 'acc = cnnc_max(acc, v);' : 'acc += v;'}
      count += 1.0;
    } else if (${includePad ? inPadded : 'false'}) {
      count += 1.0;
    }
  }
}
Y[${e.outIndex(Y, index4(L, yd, 'n', 'c', 'oh', 'ow'))}] = T_Y(${max ? 'acc' : 'acc / max(count, 1.0)'});`,
  });
}

export type Reducer = 'sum' | 'mean' | 'max' | 'min';

/** A reduction of `X` over `axes` (output = the input shape with those axes kept as 1 or dropped). */
export function emitReduce(e: Emitter, node: Node, axes: number[], kind: Reducer): void {
  const X = e.operand(node.inputs[0]), Y = e.operand(node.outputs[0]);
  const shape = X.shape, st = stridesOf(shape);
  const kept = shape.map((_, a) => a).filter((a) => !axes.includes(a));
  const red = axes.slice().sort((a, b) => a - b);
  const outN = kept.reduce((p, a) => p * shape[a], 1);
  const R = red.reduce((p, a) => p * shape[a], 1);
  // flat input index from (output index o, reduced index r): decompose each over its axes
  const decompose = (v: string, ax: number[]) => {
    let rem = 1;
    const terms: string[] = [];
    for (let k = ax.length - 1; k >= 0; k--) {
      const a = ax[k];
      terms.push(`((${v} / ${u(rem)}) % ${u(shape[a])}) * ${u(st[a])}`);
      rem *= shape[a];
    }
    return terms.length ? terms.join(' + ') : '0u';
  };
  // reduced axes contiguous at the end: the reduced elements are consecutive
  const tail = red.length > 0 && red.every((a, k) => a === shape.length - red.length + k);
  const T = Math.min(64, e.wg1d);
  // ±Inf from a runtime bit pattern (an infinite literal is a shader-creation error): an empty
  // reduction gives what the reference gives (−Inf for max, +Inf for min)
  const init = kind === 'max' ? '-cnnc_inf()' : kind === 'min' ? 'cnnc_inf()' : '0.0';
  // NaN-propagating max/min: the reference's reductions keep a NaN
  const comb = (a: string, b: string) => (kind === 'max' ? `cnnc_max(${a}, ${b})` : kind === 'min' ? `cnnc_min(${a}, ${b})` : `${a} + ${b}`);
  const split = outN > 65535;
  e.kernel(node, {
    bindings: [e.read('X', X), e.write('Y', Y)], workgroupSize: [T, 1, 1],
    dispatch: split ? [65535, Math.ceil(outN / 65535), 1] : [outN, 1, 1], workgroupBytes: 4 * T,
    decls: `var<workgroup> red: array<f32, ${T}>;\n${helperDecls('cnnc_max', 'cnnc_min', 'cnnc_inf')}`,
    body: `
let o = ${split ? 'wid.x + wid.y * 65535u' : 'wid.x'};
var acc = ${init};
if (o < ${u(outN)}) {
  let base = ${tail ? `o * ${u(R)}` : decompose('o', kept)};
  for (var r = li; r < ${u(R)}; r += ${u(T)}) {
    let v = f32(X[base + ${tail || R === 0 ? 'r' : decompose('r', red)}]);
    acc = ${comb('acc', 'v')};
  }
}
red[li] = acc;
workgroupBarrier();
for (var s = ${u(T / 2)}; s > 0u; s = s / 2u) {
  if (li < s) { red[li] = ${comb('red[li]', 'red[li + s]')}; }
  workgroupBarrier();
}
if (li == 0u && o < ${u(outN)}) { Y[o] = T_Y(red[0]${kind === 'mean' ? ` / ${f(R)}` : ''}); }`,
  });
}

/** GlobalAveragePool / GlobalMaxPool: a reduction over the spatial axes. */
export function emitGlobalPool(e: Emitter, node: Node): void {
  const rank = e.graph.type(node.inputs[0]).shape.length;
  const L = layoutOf(node.attrs, { node: node.name, op: node.op });
  const axes = L === 'NHWC' ? Array.from({ length: rank - 2 }, (_, k) => k + 1) : Array.from({ length: rank - 2 }, (_, k) => k + 2);
  emitReduce(e, node, axes, node.op === 'GlobalMaxPool' ? 'max' : 'mean');
}
