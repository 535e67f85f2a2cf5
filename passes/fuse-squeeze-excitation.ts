/**
 * Squeeze-and-excitation gate fusion: the pooled-vector MLP of an SE block — a 1×1 Conv (with its
 * epilogue activation) on a map with one pixel, read only by a second 1×1 Conv (with the gate
 * activation, Sigmoid or HardSigmoid in practice) — becomes one SqueezeExcitationGate node, one
 * small kernel instead of two. Runs after fuse-epilogue (the activations are epilogues by then)
 * and after layout-nhwc (a one-pixel map is the same vector in either layout). The closing
 * Mul(x, gate) is fused next, into the convs reading it, by fuse-scale-on-load.ts.
 */
import { tensor } from '../runtime/tensor.js';
import type { Graph, Node } from '../ir/graph.js';
import { makeNode, type GraphView, type Pass, type PassContext, rewriteCopy } from './pass.js';

const allAre = (v: unknown, x: number) => !Array.isArray(v) || v.every((d) => d === x);

/** A 1×1, group-1, unpadded f32 Conv without a residual, reading and writing one pixel per batch item. */
function isVectorConv(g: Graph, n: Node): boolean {
  if (n.op !== 'Conv' || Number(n.attrs.group) !== 1 || (n.inputs[3] ?? '') !== '') return false;
  if (!allAre(n.attrs.pads, 0) || !['NOTSET', 'VALID'].includes(String(n.attrs.auto_pad ?? 'NOTSET'))) return false;
  const x = g.type(n.inputs[0]), w = g.type(n.inputs[1]), y = g.type(n.outputs[0]);
  const pixel = (s: readonly number[]) => s.length >= 3 && (n.attrs.layout === 'NHWC' ? s.slice(1, -1) : s.slice(2)).every((d) => d === 1);
  return x.dtype === 'f32' && y.dtype === 'f32' && pixel(x.shape) && pixel(y.shape) && w.shape.slice(2).every((d) => d === 1);
}

function rule(second: Node, view: GraphView, ctx: PassContext): Node[] | null {
  const g = view.g;
  if (!isVectorConv(g, second)) return null;
  const first = view.producer.get(second.inputs[0]);
  if (!first || !isVectorConv(g, first) || !view.single(second.inputs[0]) || first.attrs.layout !== second.attrs.layout) return null;
  // the gate scales the pooled map: as many gates as pooled channels
  if (g.type(second.inputs[1]).shape[0] !== g.type(first.inputs[1]).shape[1]) return null;
  const attrs = {
    activation: first.attrs.activation, act_alpha: first.attrs.act_alpha, act_beta: first.attrs.act_beta,
    gate_activation: second.attrs.activation, gate_alpha: second.attrs.act_alpha, gate_beta: second.attrs.act_beta,
  };
  const inputs = [first.inputs[0], first.inputs[1], first.inputs[2] ?? '', second.inputs[1], second.inputs[2] ?? ''];
  const node = makeNode(g, 'SqueezeExcitationGate', inputs, attrs, { name: `${first.name}_${second.name}`, outputs: second.outputs });
  // a target without the kernel keeps the two convs
  if (ctx.supports && ctx.supports(node, g) !== undefined) return null;
  // the op takes both biases: an absent one becomes zeros
  const zeros = (n: Node) => g.addConstant(`${n.name}_zero_bias`, tensor('f32', [g.type(n.inputs[1]).shape[0]]));
  const [p, w1, b1, w2, b2] = node.inputs;
  return [{ ...node, inputs: [p, w1, b1 || zeros(first), w2, b2 || zeros(second)] }];
}

export function fuseSqueezeExcitation(graph: Graph, ctx: PassContext): Graph {
  return rewriteCopy(graph, (n, view) => rule(n, view, ctx));
}

export const fuseSqueezeExcitationPass: Pass = {
  name: 'fuse-squeeze-excitation',
  doc: 'the pooled-vector MLP of squeeze-and-excitation (two 1×1 Convs on a one-pixel map) into one SqueezeExcitationGate kernel',
  run: (g, ctx) => fuseSqueezeExcitation(g, ctx),
};
