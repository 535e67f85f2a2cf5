/**
 * Mish written out → Mish: x · tanh(softplus(x)), softplus as Softplus(x) or log(1 + exp(x)),
 * in either operand order.
 */
import type { Node } from '../ir/graph.js';
import { factorList, keepsShape, near, product, scalarConst, type CanonicalRule } from './canonicalize-match.js';
import { makeNode, type GraphView } from './pass.js';

/** softplus(x) read once: Softplus(x) or Log(Add(Exp(x), 1)); returns x. */
function softplusOf(view: GraphView, v: string): string | undefined {
  const p = view.single(v) ? view.producer.get(v) : undefined;
  if (p?.op === 'Softplus') return p.inputs[0];
  const add = p?.op === 'Log' && view.single(p.inputs[0]) ? view.producedBy(p.inputs[0], 'Add') : undefined;
  const i = add ? add.inputs.findIndex((u) => near(scalarConst(view, u), 1)) : -1;
  const e = i < 0 ? undefined : add!.inputs[1 - i];
  const exp = e && view.single(e) ? view.producedBy(e, 'Exp') : undefined;
  return exp?.inputs[0];
}

function rewrite(n: Node, view: GraphView): Node[] | null {
  if (n.op !== 'Mul') return null;
  const p = product(view, n.outputs[0]);
  const f = factorList(p);
  if (!near(p.coef, 1) || f.length !== 2 || f.some(([, e]) => e !== 1)) return null;
  for (const [[x], [t]] of [[f[0], f[1]], [f[1], f[0]]]) {
    const tanh = view.single(t) ? view.producedBy(t, 'Tanh') : undefined;
    if (tanh && softplusOf(view, tanh.inputs[0]) === x && keepsShape(view, x, n.outputs[0])) {
      return [makeNode(view.g, 'Mish', [x], {}, { name: n.name, outputs: n.outputs })];
    }
  }
  return null;
}

export const mishRule: CanonicalRule = {
  name: 'mish',
  doc: 'x·tanh(softplus(x)), x·tanh(log(1+exp(x))) → Mish',
  rewrite,
};
