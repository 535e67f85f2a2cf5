/**
 * An MLP on a flattened one-pixel map, reshaped back → the same MLP as 1×1 Convs on the map.
 * Keras/timm-style squeeze-and-excitation writes its gate as GlobalAveragePool → Flatten (or
 * Reshape/Squeeze) → Gemm (or MatMul + Add) → activation → Gemm → Sigmoid/HardSigmoid →
 * Reshape/Unsqueeze back to [N, C, 1, 1] → Mul; PyTorch's SE modules write 1×1 Convs. After this
 * rule both spellings are one, so fuse-epilogue and fuse-squeeze-excitation see the conv form.
 * Anchored at the reshape back: every node between the flatten and it must be a Gemm (alpha = beta
 * = 1, transA = 0, constant B and C), a MatMul by a constant matrix or an elementwise op whose other
 * operands are constants of rank ≤ 2, read only inside the pattern. Gemm/MatMul weights become
 * [M, K, 1, 1] Conv weights; constants [.., M] broadcast as [.., M, 1, 1]. Exact up to the order of
 * the K-term sums (both are dot products of the same terms).
 */
import { tensor, type Tensor } from '../runtime/tensor.js';
import type { Node } from '../ir/graph.js';
import { getOp } from '../ir/ops/index.js';
import type { CanonicalRule } from './canonicalize-match.js';
import { makeNode, type GraphView } from './pass.js';

const VIEWS = new Set(['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze']);

/** [N, C, 1, …, 1] of rank ≥ 3: a map with one pixel. */
const onePixel = (s: readonly number[]) => s.length >= 3 && s.slice(2).every((d) => d === 1);

/** A view of a one-pixel map `q` as the vector [N, C]: returns q. */
function flattened(view: GraphView, v: string, rank: number): string | undefined {
  const p = view.producer.get(v);
  if (!p || !VIEWS.has(p.op)) return undefined;
  const q = view.shape(p.inputs[0]), s = view.shape(v);
  return onePixel(q) && q.length === rank && s.length === 2 && s[0] === q[0] && s[1] === q[1] ? p.inputs[0] : undefined;
}

/** A row-major [M, K] matrix as a [M, K, 1, …] conv weight (raw copy or transposed from [K, M]). */
function convWeight(b: Tensor, transposed: boolean, rank: number): Tensor {
  const [r, c] = b.shape;
  const [M, K] = transposed ? [r, c] : [c, r];
  const out = tensor(b.dtype, [M, K, ...new Array(rank - 2).fill(1)]);
  const src = b.data as Float32Array, dst = out.data as Float32Array;
  if (transposed) dst.set(src);
  else for (let k = 0; k < K; k++) for (let m = 0; m < M; m++) dst[m * K + k] = src[k * M + m];
  return out;
}

/** A Gemm's C as a conv bias of M entries (a scalar or [1, M] / [M] row), or undefined. */
function convBias(c: Tensor, M: number): Tensor | undefined {
  const n = c.data.length;
  if (n === M && c.shape.length <= 2 && c.shape[c.shape.length - 1] === M) return { ...c, shape: [M] };
  if (n !== 1) return undefined;
  const out = tensor(c.dtype, [M]);
  (out.data as Float32Array).fill((c.data as Float32Array)[0]);
  return out;
}

/** The pattern's nodes (topological order) between the flatten of one-pixel map `q` and `s`, or undefined. */
function collect(view: GraphView, s: string, rank: number): { q: string; flat: string; nodes: Node[] } | undefined {
  const g = view.g;
  const nodes = new Set<Node>();
  let entry: { q: string; flat: string } | undefined;
  const stack = [s];
  while (stack.length) {
    const v = stack.pop()!;
    if (g.constValue(v) || entry?.flat === v) continue;
    const q = flattened(view, v, rank);
    if (q) {
      if (entry) return undefined; // two entries
      entry = { q, flat: v };
      continue;
    }
    const p = view.producer.get(v);
    if (p && nodes.has(p)) continue;
    if (!p || p.outputs.length !== 1) return undefined; // a graph input, or a multi-output node
    nodes.add(p);
    stack.push(...p.inputs.filter((i) => i !== ''));
  }
  if (!entry || !nodes.size) return undefined;
  // every value the pattern defines is read inside it only (s: by the reshape back only)
  for (const n of nodes) {
    const v = n.outputs[0];
    if (g.outputs.includes(v) || (view.consumers.get(v) ?? []).some((c) => !nodes.has(c) && v !== s) || (v === s && !view.single(s))) return undefined;
  }
  if ((view.consumers.get(entry.flat) ?? []).some((c) => !nodes.has(c))) return undefined;
  const order = (n: Node) => g.nodes.indexOf(n);
  return { ...entry, nodes: [...nodes].sort((a, b) => order(a) - order(b)) };
}

/** `n` on one-pixel maps: inputs renamed by `name`, constants reshaped; undefined when it has no such form. */
function onMap(view: GraphView, n: Node, name: (v: string) => string, rank: number, out: string): Node | undefined {
  const g = view.g;
  const ones = new Array(rank - 2).fill(1);
  if (n.op === 'Gemm' || n.op === 'MatMul') {
    const b = g.constValue(n.inputs[1]), c = n.inputs[2] ? g.constValue(n.inputs[2]) : undefined;
    const gemm = n.op === 'Gemm';
    if (!b || b.shape.length !== 2 || (n.inputs[2] && !c) || g.constValue(n.inputs[0])) return undefined;
    if (gemm && (Number(n.attrs.alpha) !== 1 || Number(n.attrs.beta) !== 1 || Number(n.attrs.transA) !== 0)) return undefined;
    const w = convWeight(b, gemm && Number(n.attrs.transB) !== 0, rank);
    const bias = c && convBias(c, w.shape[0]);
    if (c && !bias) return undefined;
    const inputs = [name(n.inputs[0]), g.addConstant(`${n.inputs[1]}_conv`, w), ...(bias ? [g.addConstant(`${n.inputs[2]}_conv`, bias)] : [])];
    return makeNode(g, 'Conv', inputs, { kernel_shape: ones }, { name: n.name, outputs: [out] });
  }
  if (!getOp(n.op, n.name).traits.elementwise) return undefined;
  const inputs: string[] = [];
  for (const i of n.inputs) {
    const c = g.constValue(i);
    if (!c) { inputs.push(name(i)); continue; }
    if (c.shape.length > 2) return undefined;
    inputs.push(c.shape.length === 0 ? i : g.addConstant(`${i}_map`, { ...c, shape: [...c.shape, ...ones] }));
  }
  return makeNode(g, n.op, inputs, n.attrs, { name: n.name, outputs: [out] });
}

function rewrite(n: Node, view: GraphView): Node[] | null {
  if (!VIEWS.has(n.op)) return null;
  const out = view.shape(n.outputs[0]), s = view.shape(n.inputs[0]);
  if (!onePixel(out) || s.length !== 2 || s[0] !== out[0] || s[1] !== out[1]) return null;
  const m = collect(view, n.inputs[0], out.length);
  if (!m || !m.nodes.some((x) => x.op === 'Gemm' || x.op === 'MatMul')) return null;
  const renamed = new Map<string, string>([[m.flat, m.q]]);
  const name = (v: string) => renamed.get(v) ?? v;
  const made: Node[] = [];
  for (const p of m.nodes) {
    const v = p.outputs[0];
    const o = v === n.inputs[0] ? n.outputs[0] : view.g.freshName(`${v}_map`);
    const q = onMap(view, p, name, out.length, o);
    if (!q) return null;
    renamed.set(v, o);
    made.push(q);
  }
  return made;
}

export const vectorMlpRule: CanonicalRule = {
  name: 'vector-mlp',
  doc: 'Flatten(one-pixel map) → Gemm/MatMul and elementwise ops → Reshape back → 1×1 Convs on the map (squeeze-excitation written with Gemm)',
  rewrite,
};
