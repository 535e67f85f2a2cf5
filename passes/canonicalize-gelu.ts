/**
 * GELU written out → Gelu, in any operand order and association of the product:
 *   erf form  0.5 · x · (1 + erf(x/√2))            (x/√2 as Div by √2 or Mul by 1/√2)
 *   tanh form 0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³)))   → Gelu(approximate='tanh')
 * (x³ as Pow(x, 3) or a product of x's).
 */
import type { Node } from '../ir/graph.js';
import { factorList, keepsShape, linearIn, near, product, scalarConst, type CanonicalRule, type Product } from './canonicalize-match.js';
import { makeNode, type GraphView } from './pass.js';

/** `v` = 1 + f(t) with f the unary op `op` (Erf or Tanh), both read once: returns t. */
function onePlus(view: GraphView, v: string, op: string): string | undefined {
  const add = view.single(v) ? view.producedBy(v, 'Add') : undefined;
  const i = add ? add.inputs.findIndex((u) => near(scalarConst(view, u), 1)) : -1;
  const f = i < 0 ? undefined : add!.inputs[1 - i];
  const fn = f && view.single(f) ? view.producedBy(f, op) : undefined;
  return fn && view.single(fn.inputs[0]) ? fn.inputs[0] : undefined;
}

/** t = √(2/π) · (x + 0.044715 · x³), every node read once. */
function tanhArgument(view: GraphView, t: string, x: string): boolean {
  const u = linearIn(view, t, Math.sqrt(2 / Math.PI));
  const add = u && view.single(u) ? view.producedBy(u, 'Add') : undefined;
  if (!add || !add.inputs.includes(x)) return false;
  const w = add.inputs[add.inputs[0] === x ? 1 : 0];
  if (!view.single(w)) return false;
  const cube: Product = product(view, w);
  const f = factorList(cube);
  return f.length === 1 && f[0][0] === x && f[0][1] === 3 && near(cube.coef, 0.044715);
}

/** The Gelu mode the product at `n` spells, with its input; undefined when it spells none. */
function matchGelu(view: GraphView, n: Node): { x: string; approximate: string } | undefined {
  const p = product(view, n.outputs[0]);
  const f = factorList(p);
  if (!near(p.coef, 0.5) || f.length !== 2 || f.some(([, e]) => e !== 1)) return undefined;
  for (const [[x], [a]] of [[f[0], f[1]], [f[1], f[0]]]) {
    const te = onePlus(view, a, 'Erf');
    if (te && linearIn(view, te, Math.SQRT1_2) === x) return { x, approximate: 'none' };
    const tt = onePlus(view, a, 'Tanh');
    if (tt && tanhArgument(view, tt, x)) return { x, approximate: 'tanh' };
  }
  return undefined;
}

function rewrite(n: Node, view: GraphView): Node[] | null {
  if (n.op !== 'Mul' && n.op !== 'Div') return null;
  const m = matchGelu(view, n);
  if (!m || !keepsShape(view, m.x, n.outputs[0])) return null;
  return [makeNode(view.g, 'Gelu', [m.x], { approximate: m.approximate }, { name: n.name, outputs: n.outputs })];
}

export const geluRule: CanonicalRule = {
  name: 'gelu',
  doc: '0.5·x·(1+erf(x/√2)) → Gelu; 0.5·x·(1+tanh(√(2/π)(x+0.044715x³))) → Gelu(tanh)',
  rewrite,
};
