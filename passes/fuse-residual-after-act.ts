/**
 * Residual after the activation: Add(act(conv(x)), r), the skip connection around an activated
 * conv (YOLO's bottlenecks: x + SiLU(conv(x))), becomes the Conv's residual input with
 * residual_after_act = 1 (ir/ops/conv.ts: act(conv + B) + R), so the sum is stored by the conv
 * and the Add's kernel — a full read of two maps and a write of one — goes; a Concat reading the
 * sum can then have the conv write it in place. Runs after fuse-epilogue (the activation is in the
 * conv by then). Only where the conv's output has no other reader, the shapes and dtypes agree,
 * the conv has no residual or input scale yet, and the target's supports() takes the result.
 */
import type { Graph, Node } from '../ir/graph.js';
import { sameShape } from '../ir/types.js';
import { withNode, type GraphView, type Pass, type PassContext, rewriteCopy } from './pass.js';

/** The Conv producing `y` when its output can take a residual after its activation. */
function host(view: GraphView, y: string): Node | undefined {
  const p = view.producer.get(y);
  if (!p || p.op !== 'Conv' || !p.attrs.activation || (p.inputs[3] ?? '') !== '' || (p.inputs[4] ?? '') !== '') return undefined;
  return view.uses.get(y) === 1 && !view.g.outputs.includes(y) ? p : undefined;
}

function rule(n: Node, view: GraphView, ctx?: Pick<PassContext, 'supports'>): Node[] | null {
  if (n.op !== 'Add' || n.inputs.length !== 2 || n.inputs[0] === n.inputs[1]) return null;
  const g = view.g, out = view.shape(n.outputs[0]);
  for (const [y, r] of [[n.inputs[0], n.inputs[1]], [n.inputs[1], n.inputs[0]]]) {
    const p = host(view, y);
    if (!p || !sameShape(view.shape(y), out) || !sameShape(view.shape(r), out) || g.type(y).dtype !== g.type(r).dtype) continue;
    const inputs = [...p.inputs];
    while (inputs.length < 3) inputs.push('');
    inputs[3] = r;
    const fused = withNode(p, { inputs, attrs: { residual_after_act: 1 }, outputs: n.outputs });
    if (ctx?.supports?.(fused, g) !== undefined) continue;
    return [fused];
  }
  return null;
}

export function fuseResidualAfterAct(graph: Graph, ctx?: Pick<PassContext, 'supports'>): Graph {
  return rewriteCopy(graph, (n, view) => rule(n, view, ctx));
}

export const fuseResidualAfterActPass: Pass = {
  name: 'fuse-residual-after-act',
  doc: 'Add(act(conv(x)), r) → the Conv adds r after its activation (residual_after_act): YOLO bottlenecks lose their Add kernel',
  run: (g, ctx) => fuseResidualAfterAct(g, ctx),
};
