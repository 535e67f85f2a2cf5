/**
 * Softmax written out → Softmax(axis): e = exp(x − ReduceMax(x)) (or exp(x)), e / ReduceSum(e)
 * (or e · Reciprocal(ReduceSum(e))), both reductions over the one axis with keepdims. Without the
 * max subtraction the formula is the same function; Softmax computes it without overflow.
 */
import type { Node } from '../ir/graph.js';
import { keepsShape, other, type CanonicalRule } from './canonicalize-match.js';
import { makeNode, type GraphView } from './pass.js';

/** The one axis a keepdims reduction `op` reduces, or undefined. */
function oneAxis(view: GraphView, n: Node | undefined, op: string): number | undefined {
  if (!n || n.op !== op || Number(n.attrs.keepdims) !== 1) return undefined;
  const axes = n.attrs.axes as number[];
  const r = view.shape(n.inputs[0]).length;
  return axes.length === 1 ? (axes[0] + r) % r : undefined;
}

/** e / s or e · Reciprocal(s) at `n`, s read once: [e, s]. */
function division(view: GraphView, n: Node): [string, string][] {
  if (n.op === 'Div') return [[n.inputs[0], n.inputs[1]]];
  if (n.op !== 'Mul') return [];
  return n.inputs.flatMap((r) => {
    const rec = view.single(r) ? view.producedBy(r, 'Reciprocal') : undefined;
    return rec ? [[other(n, r), rec.inputs[0]] as [string, string]] : [];
  });
}

function rewrite(n: Node, view: GraphView): Node[] | null {
  for (const [e, s] of division(view, n)) {
    const sum = view.single(s) ? view.producer.get(s) : undefined;
    const axis = oneAxis(view, sum, 'ReduceSum');
    const exp = view.producedBy(e, 'Exp');
    // e is read by the sum and the division only
    if (axis === undefined || sum!.inputs[0] !== e || !exp || view.uses.get(e) !== 2 || view.g.outputs.includes(e)) continue;
    let x = exp.inputs[0];
    const sub = view.single(x) ? view.producedBy(x, 'Sub') : undefined;
    const max = sub && view.single(sub.inputs[1]) ? view.producer.get(sub.inputs[1]) : undefined;
    if (sub && max && max.inputs[0] === sub.inputs[0] && oneAxis(view, max, 'ReduceMax') === axis) x = sub.inputs[0];
    if (keepsShape(view, x, n.outputs[0])) return [makeNode(view.g, 'Softmax', [x], { axis }, { name: n.name, outputs: n.outputs })];
  }
  return null;
}

export const softmaxRule: CanonicalRule = {
  name: 'softmax',
  doc: 'exp(x − max)/Σexp (ReduceMax/Sub/Exp/ReduceSum/Div) → Softmax',
  rewrite,
};
