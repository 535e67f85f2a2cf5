/**
 * InstanceNormalization written out → InstanceNormalization: the normalization core of
 * canonicalize-layernorm.ts over every spatial axis (2 … r−1) of an NCHW value, then · γ and/or
 * + β per channel. (The core alone is a LayerNormalization over the trailing axes, which the
 * LayerNorm rule writes; GroupNorm, Reshape(N, G, −1) → core → Reshape → per-channel affine, is
 * that LayerNormalization between its Reshapes, with the affine left as Mul/Add.)
 */
import { fromF64, type Tensor } from '../runtime/tensor.js';
import type { Node } from '../ir/graph.js';
import { keepsShape, type CanonicalRule } from './canonicalize-match.js';
import { alongAxes, normCore, type NormCore } from './canonicalize-layernorm.js';
import { makeNode, type GraphView } from './pass.js';

interface Match extends NormCore {
  gamma?: Tensor;
  beta?: Tensor;
}

/** A spatial core (axes 2 … r−1 of a rank ≥ 3 value) ending at `v`, read only by its reader. */
function spatialCore(view: GraphView, v: string): NormCore | undefined {
  const c = view.single(v) ? normCore(view, v) : undefined;
  const r = c ? view.shape(c.x).length : 0;
  return c && r >= 3 && c.axes.join() === [...Array(r - 2).keys()].map((i) => i + 2).join() ? c : undefined;
}

/** A constant operand of a two-input node: the constant per channel (axis 1) and the other input. */
function perChannel(view: GraphView, m: Node | undefined, shape: readonly number[]): { t: Tensor; rest: string } | undefined {
  if (!m || m.inputs.length !== 2) return undefined;
  const i = m.inputs.findIndex((v) => view.g.constValue(v));
  const t = i < 0 ? undefined : alongAxes(view.g.constValue(m.inputs[i])!, shape, [1]);
  return t && { t, rest: m.inputs[1 - i] };
}

function matchAt(view: GraphView, n: Node): Match | undefined {
  const shape = view.shape(n.outputs[0]);
  const scaled = (m: Node | undefined): Match | undefined => {
    const k = m?.op === 'Mul' ? perChannel(view, m, shape) : undefined;
    const c = k && spatialCore(view, k.rest);
    return c && { ...c, gamma: k!.t };
  };
  if (n.op === 'Add') {
    const k = perChannel(view, n, shape);
    const inner = k && view.single(k.rest) ? scaled(view.producer.get(k.rest)) ?? spatialCore(view, k.rest) : undefined;
    if (inner) return { ...inner, beta: k!.t };
  }
  return scaled(n);
}

function rewrite(n: Node, view: GraphView): Node[] | null {
  const m = matchAt(view, n);
  if (!m || !keepsShape(view, m.x, n.outputs[0])) return null;
  const readers = view.consumers.get(n.outputs[0]) ?? [];
  if (readers.length === 1 && view.single(n.outputs[0]) && matchAt(view, readers[0])?.x === m.x) return null;
  const g = view.g;
  const C = view.shape(m.x)[1], dtype = g.type(m.x).dtype;
  const scale = g.addConstant(`${n.name}_scale`, m.gamma ?? fromF64(dtype, [C], new Float64Array(C).fill(1)));
  const bias = g.addConstant(`${n.name}_bias`, m.beta ?? fromF64(dtype, [C], new Float64Array(C)));
  return [makeNode(g, 'InstanceNormalization', [m.x, scale, bias], { epsilon: m.eps }, { name: n.name, outputs: n.outputs })];
}

export const instanceNormRule: CanonicalRule = {
  name: 'instancenorm',
  doc: 'the LayerNorm core over the spatial axes, then per-channel ·γ/+β → InstanceNormalization',
  rewrite,
};
