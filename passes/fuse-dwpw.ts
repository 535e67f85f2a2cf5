/**
 * Depthwise + pointwise fusion: a depthwise Conv (group == C == M, no residual) with its epilogue,
 * read only by a 1×1 Conv (group 1, stride 1, no padding), becomes one FusedDwPw node, so a backend
 * can compute it tile by tile without writing the depthwise output to memory.
 */
import { tensor } from '../runtime/tensor.js';
import type { Graph, Node } from '../ir/graph.js';
import { getOp } from '../ir/ops/index.js';
import { windowGeometry } from '../ir/ops/geometry.js';
import { makeNode, type GraphView, type Pass, rewriteCopy } from './pass.js';

const allAre = (v: unknown, x: number) => !Array.isArray(v) || v.every((d) => d === x);

export function isDepthwise(g: Graph, n: Node): boolean {
  if (n.op !== 'Conv' || (n.inputs[3] ?? '') !== '') return false;
  const x = g.type(n.inputs[0]).shape;
  const w = g.type(n.inputs[1]).shape;
  if (x.length !== 4) return false;
  const C = n.attrs.layout === 'NHWC' ? x[3] : x[1];
  return Number(n.attrs.group) === C && w[0] === C && w[1] === 1;
}

export function isPointwise(g: Graph, n: Node): boolean {
  if (n.op !== 'Conv' || Number(n.attrs.group) !== 1) return false;
  const w = g.type(n.inputs[1]).shape;
  return w.length === 4 && w[2] === 1 && w[3] === 1 && allAre(n.attrs.strides, 1) && allAre(n.attrs.pads, 0)
    && ['NOTSET', 'VALID'].includes(String(n.attrs.auto_pad ?? 'NOTSET'));
}

function rule(pw: Node, view: GraphView): Node[] | null {
  const g = view.g;
  // FusedDwPw adds its residual before the activation: a conv adding it after keeps its own kernel
  if (!isPointwise(g, pw) || Number(pw.attrs.residual_after_act ?? 0) === 1) return null;
  const dw = view.producer.get(pw.inputs[0]);
  if (!dw || !isDepthwise(g, dw) || !view.single(pw.inputs[0]) || dw.attrs.layout !== pw.attrs.layout) return null;
  const geo = windowGeometry('Conv', dw.attrs, view.shape(dw.inputs[0]), view.shape(dw.inputs[1]), { node: dw.name, op: 'Conv' });
  // Bdw sits before the required Wpw, so an absent one becomes zeros
  const bdw = dw.inputs[2] || g.addConstant(`${dw.name}_zero_bias`, tensor(g.type(dw.outputs[0]).dtype, [geo.C]));
  const inputs = [dw.inputs[0], dw.inputs[1], bdw, pw.inputs[1], pw.inputs[2] ?? ''];
  if (pw.inputs[3]) inputs.push(pw.inputs[3]);
  const wanted: Record<string, unknown> = {
    strides: [...geo.strides], pads: [...geo.padBegin, ...geo.padEnd], dilations: [...geo.dilations], auto_pad: 'NOTSET',
    kernel_shape: [...geo.kernel], layout: dw.attrs.layout,
    dw_activation: dw.attrs.activation, dw_alpha: dw.attrs.act_alpha, dw_beta: dw.attrs.act_beta,
    activation: pw.attrs.activation, act_alpha: pw.attrs.act_alpha, act_beta: pw.attrs.act_beta,
  };
  const spec = getOp('FusedDwPw').attrs;
  const attrs = Object.fromEntries(Object.entries(wanted).filter(([k]) => k in spec)) as Record<string, never>;
  return [makeNode(g, 'FusedDwPw', inputs, attrs, { name: `${dw.name}_${pw.name}`, outputs: pw.outputs })];
}

export function fuseDwPw(graph: Graph): Graph {
  return rewriteCopy(graph, rule);
}

export const fuseDwPwPass: Pass = {
  name: 'fuse-dwpw',
  doc: 'fuses a depthwise Conv (with its epilogue) and the 1×1 Conv reading it into FusedDwPw',
  run: (g) => fuseDwPw(g),
};
