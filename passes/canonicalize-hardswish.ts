/**
 * HardSwish written out → HardSwish: x · HardSigmoid(x; 1/6, 1/2), x · Relu6(x + 3)/6 and
 * x · Clip(x + 3, 0, 6)/6, in any operand order (the /6 anywhere in the product).
 */
import type { Node } from '../ir/graph.js';
import { factorList, keepsShape, near, product, type CanonicalRule } from './canonicalize-match.js';
import { hardSigmoidOf } from './canonicalize-hardsigmoid.js';
import { makeNode, type GraphView } from './pass.js';

/** The x of the product c · x · g at `n` when c · g = HardSigmoid(x; 1/6, 1/2). */
function matchHardSwish(view: GraphView, n: Node): string | undefined {
  const p = product(view, n.outputs[0]);
  const f = factorList(p);
  if (f.length !== 2 || f.some(([, e]) => e !== 1)) return undefined;
  for (const [[x], [g]] of [[f[0], f[1]], [f[1], f[0]]]) {
    const hs = view.single(g) ? hardSigmoidOf(view, g, p.coef) : undefined;
    if (hs && hs.x === x && near(hs.alpha, 1 / 6) && near(hs.beta, 0.5)) return x;
  }
  return undefined;
}

function rewrite(n: Node, view: GraphView): Node[] | null {
  if (n.op !== 'Mul' && n.op !== 'Div') return null;
  const x = matchHardSwish(view, n);
  if (!x || !keepsShape(view, x, n.outputs[0])) return null;
  return [makeNode(view.g, 'HardSwish', [x], {}, { name: n.name, outputs: n.outputs })];
}

export const hardSwishRule: CanonicalRule = {
  name: 'hardswish',
  doc: 'x·HardSigmoid(x; 1/6, 1/2), x·Relu6(x+3)/6, x·Clip(x+3, 0, 6)/6 → HardSwish',
  rewrite,
};
