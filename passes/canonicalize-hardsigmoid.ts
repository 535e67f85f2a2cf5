/**
 * HardSigmoid written out → HardSigmoid(alpha, beta): c · Clip(a·x + b, 0, h) with c·h = 1 and
 * c > 0, which is max(0, min(1, c·a·x + c·b)). Covers Clip(x/6 + 0.5, 0, 1) (c = 1) and
 * Relu6(x + 3)/6 (ReLU6 is Clip(0, 6) in the IR; c = 1/6), in any operand order.
 */
import type { Node } from '../ir/graph.js';
import { affine, factorList, keepsShape, near, product, type CanonicalRule } from './canonicalize-match.js';
import { makeNode, type GraphView } from './pass.js';

export interface HardSigmoidForm {
  x: string;
  alpha: number;
  beta: number;
}

/**
 * c · g as max(0, min(1, alpha·x + beta)) when g is a HardSigmoid (c = 1) or Clip(0, h) of an
 * affine a·x + b with c·h = 1; undefined otherwise.
 */
export function hardSigmoidOf(view: GraphView, g: string, c: number): HardSigmoidForm | undefined {
  const p = view.producer.get(g);
  if (p?.op === 'HardSigmoid') {
    return near(c, 1) ? { x: p.inputs[0], alpha: Number(p.attrs.alpha), beta: Number(p.attrs.beta) } : undefined;
  }
  if (p?.op !== 'Clip' || Number(p.attrs.min) !== 0 || !(c > 0) || !near(c * Number(p.attrs.max), 1)) return undefined;
  const f = affine(view, p.inputs[0]);
  return { x: f.x, alpha: c * f.a, beta: c * f.b };
}

/** The HardSigmoid the product at `n` spells (one factor, power 1, read only here unless it is n itself). */
export function matchHardSigmoid(view: GraphView, n: Node): HardSigmoidForm | undefined {
  const p = product(view, n.outputs[0]);
  const f = factorList(p);
  if (f.length !== 1 || f[0][1] !== 1) return undefined;
  const g = f[0][0];
  if (g !== n.outputs[0] && !view.single(g)) return undefined;
  return hardSigmoidOf(view, g, p.coef);
}

function rewrite(n: Node, view: GraphView): Node[] | null {
  if (n.op !== 'Clip' && n.op !== 'Mul' && n.op !== 'Div') return null;
  const m = matchHardSigmoid(view, n);
  // Clip(x, 0, 1) itself stays a Clip: nothing to gain
  if (!m || (m.alpha === 1 && m.beta === 0) || !keepsShape(view, m.x, n.outputs[0])) return null;
  return [makeNode(view.g, 'HardSigmoid', [m.x], { alpha: m.alpha, beta: m.beta }, { name: n.name, outputs: n.outputs })];
}

export const hardSigmoidRule: CanonicalRule = {
  name: 'hardsigmoid',
  doc: 'Clip(a·x + b, 0, 1) and Relu6(x + 3)/6 → HardSigmoid',
  rewrite,
};
