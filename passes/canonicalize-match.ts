/**
 * Matching helpers the canonicalisation rules share (canonicalize-*.ts): scalar constants checked
 * against the value a formula needs, and products of factors read in any operand order.
 */
import { toF64 } from '../runtime/tensor.js';
import type { Node } from '../ir/graph.js';
import { sameShape } from '../ir/types.js';
import type { GraphView } from './pass.js';

/** One rewrite of a decomposed spelling into the registry op it means: a guard, then a rewrite. */
export interface CanonicalRule {
  readonly name: string;
  /** One line: the spelling matched and the op written. */
  readonly doc: string;
  /** Nodes replacing `n` (defining n's outputs), or null when the pattern does not end at `n`. */
  rewrite(n: Node, view: GraphView): Node[] | null;
}

/** The value of a one-element constant, else undefined. */
export function scalarConst(view: GraphView, v: string): number | undefined {
  const t = view.g.constValue(v);
  return t && t.data.length === 1 ? toF64(t)[0] : undefined;
}

/** a ≈ b to 1e-6 relative: float32 renderings of √2, 1/6 or √(2/π) pass, 4-digit approximations do not. */
export function near(a: number | undefined, b: number): boolean {
  return a !== undefined && Math.abs(a - b) <= 1e-6 * Math.abs(b);
}

/** The other input of a two-input node. */
export function other(n: Node, v: string): string {
  return n.inputs[n.inputs[0] === v ? 1 : 0];
}

/**
 * A product coef · Π factor^power, read through Mul, Div by a scalar constant and Pow by a small
 * integer constant. Only the root's producer may have other readers: every node below it must be
 * read once (by the node above), so the rewrite leaves nothing dangling.
 */
export interface Product {
  coef: number;
  factors: Map<string, number>;
}

export function product(view: GraphView, v: string, root = true): Product {
  const leaf = (): Product => ({ coef: 1, factors: new Map([[v, 1]]) });
  const p = view.producer.get(v);
  if (!p || (!root && !view.single(v))) return leaf();
  const operand = (u: string): Product => {
    const c = scalarConst(view, u);
    return c !== undefined ? { coef: c, factors: new Map() } : product(view, u, false);
  };
  if (p.op === 'Mul') return times(operand(p.inputs[0]), operand(p.inputs[1]));
  const k = scalarConst(view, p.inputs[1] ?? '');
  if (p.op === 'Div' && k !== undefined && k !== 0) return times(operand(p.inputs[0]), { coef: 1 / k, factors: new Map() });
  if (p.op === 'Pow' && k !== undefined && Number.isInteger(k) && k >= 1 && k <= 4) {
    const b = operand(p.inputs[0]);
    return { coef: b.coef ** k, factors: new Map([...b.factors].map(([f, e]) => [f, e * k])) };
  }
  return leaf();
}

function times(a: Product, b: Product): Product {
  const factors = new Map(a.factors);
  for (const [f, e] of b.factors) factors.set(f, (factors.get(f) ?? 0) + e);
  return { coef: a.coef * b.coef, factors };
}

/** The factors of a product as [value, power] pairs. */
export function factorList(p: Product): [string, number][] {
  return [...p.factors];
}

/** `v` is `coef · x` for one factor x (power 1): returns x. */
export function linearIn(view: GraphView, v: string, coef: number): string | undefined {
  const p = product(view, v);
  const f = factorList(p);
  return f.length === 1 && f[0][1] === 1 && near(p.coef, coef) ? f[0][0] : undefined;
}

/**
 * `v` as an affine a·x + b: Add(u, scalar b) in either order, or u = v (b = 0), where u is a·x when
 * it is a product of one factor x and else x itself (a = 1). Nodes below `v` are only looked
 * through when read once, so the pattern's other nodes are dropped with it.
 */
export function affine(view: GraphView, v: string): { x: string; a: number; b: number } {
  const linear = (u: string, b: number) => {
    const p = product(view, u, false);
    const f = factorList(p);
    return f.length === 1 && f[0][1] === 1 ? { x: f[0][0], a: p.coef, b } : { x: u, a: 1, b };
  };
  const add = view.single(v) ? view.producedBy(v, 'Add') : undefined;
  const bi = add ? add.inputs.findIndex((i) => scalarConst(view, i) !== undefined) : -1;
  return bi < 0 ? linear(v, 0) : linear(add!.inputs[1 - bi], scalarConst(view, add!.inputs[bi])!);
}

/** The rewrite keeps the anchor's shape: x (the pattern's input) already has the output's shape. */
export function keepsShape(view: GraphView, x: string, out: string): boolean {
  const a = view.g.type(x), b = view.g.type(out);
  return a.dtype === b.dtype && sameShape(a.shape, b.shape);
}
