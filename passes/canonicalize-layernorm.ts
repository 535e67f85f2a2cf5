/**
 * LayerNormalization written out (PyTorch's opset-13 export, TF, hand-written channels-first LNs):
 *   mean = ReduceMean(x, axes), d = x − mean, var = ReduceMean(d² , axes), s = √(var + ε),
 *   y = d / s  [· γ] [+ β]
 * with d² as Pow(d, 2) or Mul(d, d), and d / s as Div or Mul(d, Reciprocal(s)); γ and β constants
 * that vary along the normalized axes only. Normalized axes that end the shape become one
 * LayerNormalization(axis); others (ConvNeXt's channels-first LN over axis 1 of NCHW) become
 * Transpose → LayerNormalization → Transpose: three kernels instead of nine, and the layout pass
 * cancels the transposes against NHWC neighbours.
 */
import { fromF64, toF64, type Tensor } from '../runtime/tensor.js';
import type { Node } from '../ir/graph.js';
import { sizeOf } from '../ir/types.js';
import { keepsShape, other, scalarConst, type CanonicalRule } from './canonicalize-match.js';
import { makeNode, type GraphView } from './pass.js';

/** The normalization core y = (x − mean)/√(var + ε) over `axes` (sorted, non-negative). */
export interface NormCore {
  x: string;
  axes: number[];
  eps: number;
}

/** The reduced axes of a keepdims ReduceMean, sorted and non-negative; undefined otherwise. */
function meanAxes(view: GraphView, n: Node | undefined): number[] | undefined {
  if (!n || n.op !== 'ReduceMean' || Number(n.attrs.keepdims) !== 1) return undefined;
  const r = view.shape(n.inputs[0]).length;
  const axes = (n.attrs.axes as number[]).map((a) => (a < 0 ? a + r : a)).sort((a, b) => a - b);
  return axes.length ? axes : undefined;
}

/** d / s, or d · Reciprocal(s), with s read once: returns [d, s]. */
function quotient(view: GraphView, v: string): [string, string] | undefined {
  const p = view.producer.get(v);
  if (p?.op === 'Div') return [p.inputs[0], p.inputs[1]];
  if (p?.op !== 'Mul') return undefined;
  for (const r of p.inputs) {
    const rec = view.single(r) ? view.producedBy(r, 'Reciprocal') : undefined;
    if (rec) return [other(p, r), rec.inputs[0]];
  }
  return undefined;
}

/** The core ending at value `v` (Div or Mul-by-reciprocal), every intermediate read only inside it. */
export function normCore(view: GraphView, v: string): NormCore | undefined {
  const q = quotient(view, v);
  if (!q) return undefined;
  const [d, s] = q;
  const sqrt = view.single(s) ? view.producedBy(s, 'Sqrt') : undefined;
  const ve = sqrt?.inputs[0];
  const add = ve && view.single(ve) ? view.producedBy(ve, 'Add') : undefined;
  if (!add) return undefined;
  const ei = add.inputs.findIndex((i) => scalarConst(view, i) !== undefined);
  const eps = ei < 0 ? undefined : scalarConst(view, add.inputs[ei]);
  const vr = add.inputs[1 - ei];
  if (eps === undefined || !(eps >= 0) || !view.single(vr)) return undefined;
  const varMean = view.producer.get(vr);
  const axes = meanAxes(view, varMean);
  const sq = axes && view.single(varMean!.inputs[0]) ? view.producer.get(varMean!.inputs[0]) : undefined;
  const squares = sq && ((sq.op === 'Pow' && sq.inputs[0] === d && scalarConst(view, sq.inputs[1]) === 2)
    || (sq.op === 'Mul' && sq.inputs[0] === d && sq.inputs[1] === d));
  const sub = squares ? view.producedBy(d, 'Sub') : undefined;
  // d is read by the square and the quotient only (Mul(d, d) reads it twice)
  if (!sub || view.uses.get(d) !== (sq!.op === 'Mul' ? 3 : 2) || view.g.outputs.includes(d)) return undefined;
  const [x, mean] = sub.inputs;
  const mean1 = view.single(mean) ? view.producer.get(mean) : undefined;
  if (!mean1 || mean1.inputs[0] !== x || meanAxes(view, mean1)?.join() !== axes!.join()) return undefined;
  return { x, axes: axes!, eps };
}

/**
 * A constant broadcast onto `shape` that varies only along `axes`, as a tensor of the axes' sizes
 * (the LayerNormalization Scale/B over the normalized shape); undefined when it varies elsewhere.
 */
export function alongAxes(t: Tensor, shape: readonly number[], axes: readonly number[]): Tensor | undefined {
  const r = shape.length;
  if (t.shape.length > r) return undefined;
  const sh = [...new Array(r - t.shape.length).fill(1), ...t.shape];
  if (sh.some((d, i) => d !== 1 && (!axes.includes(i) || d !== shape[i]))) return undefined;
  const out = axes.map((a) => shape[a]);
  const v = toF64(t);
  const res = new Float64Array(sizeOf(out));
  for (let k = 0; k < res.length; k++) {
    // k's coordinates along the axes (row-major), then its index in t
    let rest = k, idx = 0, stride = 1;
    for (let j = axes.length - 1; j >= 0; j--) {
      const c = rest % out[j];
      rest = (rest - c) / out[j];
      if (sh[axes[j]] !== 1) idx += c * stride;
      stride *= sh[axes[j]];
    }
    res[k] = v[idx];
  }
  return fromF64(t.dtype, out, res);
}

interface Match extends NormCore {
  core: string;
  gamma?: Tensor;
  beta?: Tensor;
}

/** `n` as y = core [· γ] [+ β], γ and β constants along the normalized axes. */
function matchAt(view: GraphView, n: Node): Match | undefined {
  const out = n.outputs[0];
  const withCore = (v: string, extra: Partial<Match>): Match | undefined => {
    const c = normCore(view, v);
    return c && { ...c, core: v, ...extra };
  };
  const constOperand = (m: Node) => {
    const i = m.inputs.findIndex((v) => view.g.constValue(v));
    return i < 0 || m.inputs.length !== 2 ? undefined : { c: view.g.constValue(m.inputs[i])!, rest: m.inputs[1 - i] };
  };
  const scaled = (m: Node | undefined, beta?: Tensor): Match | undefined => {
    const k = m && m.op === 'Mul' ? constOperand(m) : undefined;
    const found = k && view.single(k.rest) ? withCore(k.rest, { beta }) : undefined;
    const gamma = found && alongAxes(k!.c, view.shape(out), found.axes);
    return found && gamma ? { ...found, gamma } : undefined;
  };
  let m: Match | undefined;
  if (n.op === 'Add') {
    const k = constOperand(n);
    if (k && view.single(k.rest)) {
      const inner = scaled(view.producer.get(k.rest), k.c) ?? withCore(k.rest, { beta: k.c });
      const beta = inner && alongAxes(k.c, view.shape(out), inner.axes);
      m = inner && beta ? { ...inner, beta } : undefined;
    }
  }
  m ??= scaled(n) ?? withCore(out, {});
  return m && keepsShape(view, m.x, out) ? m : undefined;
}

function rewrite(n: Node, view: GraphView): Node[] | null {
  const m = matchAt(view, n);
  if (!m) return null;
  // leave it to the reader that takes γ/β in too
  const readers = view.consumers.get(n.outputs[0]) ?? [];
  if (readers.length === 1 && view.single(n.outputs[0]) && matchAt(view, readers[0])?.core === m.core) return null;
  const g = view.g;
  const shape = view.shape(m.x), r = shape.length;
  const dtype = g.type(m.x).dtype;
  const normShape = m.axes.map((a) => shape[a]);
  const scale = g.addConstant(`${n.name}_scale`, m.gamma ?? fromF64(dtype, normShape, new Float64Array(sizeOf(normShape)).fill(1)));
  const bias = m.beta ? g.addConstant(`${n.name}_bias`, m.beta) : '';
  const attrs = { axis: -m.axes.length, epsilon: m.eps };
  const inputs = (x: string) => (bias ? [x, scale, bias] : [x, scale]);
  const trailing = m.axes.every((a, i) => a === r - m.axes.length + i);
  if (trailing) return [makeNode(g, 'LayerNormalization', inputs(m.x), attrs, { name: n.name, outputs: n.outputs })];
  const perm = [...shape.keys()].filter((a) => !m.axes.includes(a)).concat(m.axes);
  const inverse = perm.map((_, i) => perm.indexOf(i));
  const t = makeNode(g, 'Transpose', [m.x], { perm }, { name: `${n.name}_to_last` });
  const ln = makeNode(g, 'LayerNormalization', inputs(t.outputs[0]), attrs, { name: n.name });
  return [t, ln, makeNode(g, 'Transpose', ln.outputs, { perm: inverse }, { name: `${n.name}_back`, outputs: n.outputs })];
}

export const layerNormRule: CanonicalRule = {
  name: 'layernorm',
  doc: 'ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div[/Mul γ/Add β] → LayerNormalization (Transposes around it for leading axes)',
  rewrite,
};
