/**
 * Scale on load: Mul(x, s), s one value per (batch item, channel) of x — the closing Mul of
 * squeeze-and-excitation, s the gate — read only as input 0 of Convs, becomes those Convs' input
 * scale (Conv input 4, ir/ops/conv.ts: conv(x · s[n, c])). The Mul's kernel, which re-read and
 * re-wrote the whole feature map, is gone; each conv multiplies as it loads.
 *
 * Runs after fuse-squeeze-excitation (the gate is one node by then) and layout-nhwc (s is then
 * (N, 1, 1, C) or (N, C, 1, 1), one vector per batch item either way). Leaves the Mul when s is not
 * per-(batch, channel) with x's batch, when the dtypes differ, when a reader is not a Conv reading it
 * as its data input, or when the target's supports() refuses one of the scaled convs.
 */
import type { Graph, Node } from '../ir/graph.js';
import { sameShape } from '../ir/types.js';
import { withNode, type GraphView, type Pass, type PassContext, rewriteCopy } from './pass.js';

/** The channel axis of a conv's data input (rank r). */
const channelAxis = (conv: Node, r: number) => (conv.attrs.layout === 'NHWC' ? r - 1 : 1);

/** Which operand of `mul` is the map x and which the per-(batch, channel) scale s, for a conv reading the Mul; undefined when none fits. */
function split(g: Graph, mul: Node, conv: Node): { x: string; s: string } | undefined {
  if (mul.op !== 'Mul' || mul.inputs.length !== 2) return undefined;
  const out = g.type(mul.outputs[0]);
  for (const [x, s] of [[mul.inputs[0], mul.inputs[1]], [mul.inputs[1], mul.inputs[0]]]) {
    const xt = g.type(x), st = g.type(s);
    if (!sameShape(xt.shape, out.shape) || xt.dtype !== out.dtype || st.dtype !== xt.dtype || st.shape.length !== xt.shape.length) continue;
    const c = channelAxis(conv, xt.shape.length);
    const perChannel = st.shape.every((d, i) => (i === 0 ? d === xt.shape[0] : i === c ? d === xt.shape[c] : d === 1));
    // on a one-pixel map either operand fits: the product is the same
    if (perChannel) return { x, s };
  }
  return undefined;
}

/** A Conv that reads `v` as its data input only and has no input scale yet. */
const readsAsData = (n: Node, v: string) =>
  n.op === 'Conv' && n.inputs[0] === v && n.inputs.indexOf(v, 1) < 0 && (n.inputs[4] ?? '') === '';

/** The conv with x scaled by s on load. */
function scaled(conv: Node, x: string, s: string): Node {
  const inputs = [...conv.inputs];
  while (inputs.length < 4) inputs.push('');
  inputs[0] = x;
  inputs[4] = s;
  return withNode(conv, { inputs });
}

function rule(conv: Node, view: GraphView, ctx: PassContext): Node[] | null {
  const g = view.g;
  if (conv.op !== 'Conv') return null;
  const v = conv.inputs[0];
  const mul = view.producer.get(v);
  if (!mul || g.outputs.includes(v)) return null;
  const readers = view.consumers.get(v) ?? [];
  if (!readers.every((r) => readsAsData(r, v))) return null;
  const xs = split(g, mul, conv);
  // every reader must take the same operands (layouts agree) and the target must lower each scaled conv
  if (!xs || readers.some((r) => split(g, mul, r)?.s !== xs.s)) return null;
  if (ctx.supports && readers.some((r) => ctx.supports!(scaled(r, xs.x, xs.s), g) !== undefined)) return null;
  return [scaled(conv, xs.x, xs.s)];
}

export function fuseScaleOnLoad(graph: Graph, ctx: PassContext): Graph {
  return rewriteCopy(graph, (n, view) => rule(n, view, ctx));
}

export const fuseScaleOnLoadPass: Pass = {
  name: 'fuse-scale-on-load',
  doc: 'Mul(x, s) with s per (batch, channel), read only by Convs → the Convs scale x on load (input scale S); the SE block\'s closing Mul kernel goes',
  run: (g, ctx) => fuseScaleOnLoad(g, ctx),
};
