/**
 * Shape-op simplification: removes nodes that compute their input unchanged (Identity,
 * inference-mode Dropout, a Cast to the same dtype, an identity Transpose, a Reshape/Flatten/
 * Squeeze/Unsqueeze that keeps the shape) and turns every reshape-like op into one Reshape with a
 * static shape, collapsing chains of them (Reshape(Flatten(x)) → Reshape(x)).
 */
import type { Graph, Node } from '../ir/graph.js';
import { getOp } from '../ir/ops/index.js';
import { sameShape } from '../ir/types.js';
import { commit, makeNode, sweepRewrite, useCounts, withNode, type GraphView, type Pass } from './pass.js';

/**
 * Reshape-likes: ops whose output is input 0's bytes under another shape (traits.alias: Reshape,
 * Flatten, Squeeze, Unsqueeze). Identity, which never changes the shape, is a no-op instead (kept as
 * it is when it must stay).
 */
const isReshape = (op: string) => op !== 'Identity' && !!getOp(op).traits.alias;

/** True when node `n` outputs its first input unchanged (`read`: the values something reads, when known). */
export function isNoOp(g: Graph, n: Node, read?: ReadonlySet<string>): boolean {
  const x = n.inputs[0];
  const y = n.outputs[0];
  if (!x || !y) return false;
  if (n.outputs.slice(1).some((o) => o !== '' && (read ? read.has(o) : isRead(g, o)))) return false; // e.g. Dropout's mask
  switch (n.op) {
    case 'Cast': return g.type(x).dtype === g.type(y).dtype;
    case 'Transpose': return permOf(g, n).every((p, i) => p === i) || sameOrderIgnoringOnes(g, n);
    case 'Identity': return true;
    default: return isReshape(n.op) && sameShape(g.type(x).shape, g.type(y).shape);
  }
}

/** A Transpose that only moves size-1 axes is a no-op only when the shape is also unchanged. */
function sameOrderIgnoringOnes(g: Graph, n: Node): boolean {
  return sameShape(g.type(n.inputs[0]).shape, g.type(n.outputs[0]).shape) && isPureReshapeTranspose(g.type(n.inputs[0]).shape, permOf(g, n));
}

/** A Transpose's permutation ([] means reversed axes). */
export function permOf(g: Graph, n: Node): number[] {
  const p = n.attrs.perm as number[];
  const r = g.type(n.inputs[0]).shape.length;
  return p.length ? [...p] : Array.from({ length: r }, (_, i) => r - 1 - i);
}

/** A transpose whose non-1 axes keep their order moves no data: it is a reshape. */
export function isPureReshapeTranspose(shape: readonly number[], perm: readonly number[]): boolean {
  const moved = perm.filter((p) => shape[p] !== 1);
  return moved.every((p, i) => i === 0 || p > moved[i - 1]);
}

function isRead(g: Graph, v: string): boolean {
  return g.outputs.includes(v) || g.nodes.some((n) => n.inputs.includes(v));
}

/**
 * Removes no-op nodes in one pass (linear in the graph): readers of a no-op's output read its input
 * instead; a no-op defining a graph output renames its input's producer to define that output when
 * nothing else reads the input (else the node stays).
 */
export function removeNoOps(graph: Graph): Graph {
  const g = graph.clone();
  const outputs = new Set(g.outputs);
  const uses = useCounts(g);
  const read = new Set(uses.keys());
  const alias = new Map<string, string>(); // removed output → the value it equals (never itself aliased)
  const producer = new Map<string, number>(); // value → index in `kept`
  const kept: Node[] = [];
  for (const n0 of g.nodes) {
    const n = n0.inputs.some((i) => alias.has(i)) ? withNode(n0, { inputs: n0.inputs.map((i) => alias.get(i) ?? i) }) : n0;
    if (isNoOp(g, n, read)) {
      const [src, out] = [n.inputs[0], n.outputs[0]];
      const p = producer.get(src);
      if (!outputs.has(out)) {
        for (const i of n.inputs) if (i !== '') uses.set(i, uses.get(i)! - 1);
        uses.set(src, uses.get(src)! + (uses.get(out) ?? 0));
        alias.set(out, src);
        continue;
      }
      if (p !== undefined && uses.get(src) === 1 && !outputs.has(src)) {
        kept[p] = withNode(kept[p], { outputs: kept[p].outputs.map((o) => (o === src ? out : o)) });
        producer.set(out, p);
        g.removeValue(out);
        g.removeValue(src);
        continue;
      }
    }
    for (const o of n.outputs) producer.set(o, kept.length);
    kept.push(n);
  }
  return commit(g, kept);
}

/** Reshape-likes (and data-free Transposes) become Reshape with a static shape, reading past earlier reshapes. */
function reshapeRule(n: Node, view: GraphView): Node[] | null {
  const g = view.g;
  const isReshapeLike = isReshape(n.op) || (n.op === 'Transpose' && isPureReshapeTranspose(view.shape(n.inputs[0]), permOf(g, n)));
  if (!isReshapeLike) return null;
  const out = g.type(n.outputs[0]).shape;
  let src = n.inputs[0];
  for (let p = view.producer.get(src); p && isReshapeNode(view, p); p = view.producer.get(src)) src = p.inputs[0];
  if (n.op === 'Reshape' && src === n.inputs[0] && sameShape(n.attrs.shape as number[], out)) return null;
  const shape = [...out];
  return [makeNode(g, 'Reshape', [src], { shape, allowzero: shape.includes(0) ? 1 : 0 }, { name: n.name, outputs: [n.outputs[0]] })];
}

function isReshapeNode(view: GraphView, p: Node): boolean {
  return isReshape(p.op) || (p.op === 'Transpose' && isPureReshapeTranspose(view.shape(p.inputs[0]), permOf(view.g, p)));
}

export function simplify(graph: Graph): Graph {
  const g = removeNoOps(graph);
  sweepRewrite(g, reshapeRule);
  return removeNoOps(g);
}

export const simplifyPass: Pass = {
  name: 'simplify',
  doc: 'removes Identity/Dropout/no-op Cast, Transpose and reshapes; reshape-likes become one static Reshape',
  run: (g) => simplify(g),
};
