/**
 * Shape-op simplification: removes nodes that compute their input unchanged (Identity,
 * inference-mode Dropout, a Cast to the same dtype, an identity Transpose, a Reshape/Flatten/
 * Squeeze/Unsqueeze that keeps the shape) and turns every reshape-like op into one Reshape with a
 * static shape, collapsing chains of them (Reshape(Flatten(x)) → Reshape(x)).
 */
import type { Graph, Node } from '../ir/graph.js';
import { getOp } from '../ir/ops/index.js';
import { sameShape } from '../ir/types.js';
import { bypass, commit, makeNode, sweepRewrite, type GraphView, type Pass } from './pass.js';

/**
 * Reshape-likes: ops whose output is input 0's bytes under another shape (traits.alias: Reshape,
 * Flatten, Squeeze, Unsqueeze). Identity, which never changes the shape, is a no-op instead (kept as
 * it is when it must stay).
 */
const isReshape = (op: string) => op !== 'Identity' && !!getOp(op).traits.alias;

/** True when node `n` outputs its first input unchanged. */
export function isNoOp(g: Graph, n: Node): boolean {
  const x = n.inputs[0];
  const y = n.outputs[0];
  if (!x || !y) return false;
  if (n.outputs.slice(1).some((o) => o !== '' && isRead(g, o))) return false; // e.g. Dropout's mask
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

export function removeNoOps(graph: Graph): Graph {
  const g = graph.clone();
  let nodes = g.nodes;
  for (const name of g.nodes.map((n) => n.name)) {
    const n = nodes.find((m) => m.name === name); // the current version (its inputs may have been redirected)
    if (!n || !isNoOp(g, n)) continue;
    const r = bypass(g, nodes, n, n.outputs[0], n.inputs[0]);
    if (r) nodes = r;
  }
  return commit(g, nodes);
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
