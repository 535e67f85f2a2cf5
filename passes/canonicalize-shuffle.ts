/**
 * Channel shuffle written out → Gather(x, indices, axis): Reshape → Transpose → Reshape back to x's
 * shape (ShuffleNet's [N, g, C/g, H, W] → perm [0, 2, 1, 3, 4] → [N, C, H, W], the 4-D spelling
 * [N, g, C/g, H·W] → [0, 2, 1, 3], any group count, NCHW or NHWC) is a permutation of one axis. The
 * chain is not matched by its perm: its index map is computed (the reference Transpose run on an
 * iota of x's shape) and the rule fires when that map moves elements along one axis only, so any
 * chain that is not such a permutation stays as it was. The Gather with constant indices lowers on
 * every target as one gather kernel; fold-channel-gather.ts then folds it into the convs reading it.
 */
import { tensor, type Tensor } from '../runtime/tensor.js';
import type { Node } from '../ir/graph.js';
import { getOp } from '../ir/ops/index.js';
import { sizeOf } from '../ir/types.js';
import type { CanonicalRule } from './canonicalize-match.js';
import { makeNode, type GraphView } from './pass.js';

/** Bigger chains are left alone: the index map is computed element by element at compile time. */
const MAX_ELEMENTS = 1 << 24;

const VIEWS = new Set(['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze']);

/** Row-major strides of `shape`. */
function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

/**
 * The axis and indices when `src` (the flat source index of each element of a tensor of `shape`)
 * is a gather along one axis: src(o) = o with coordinate a replaced by idx[coordinate a]. Undefined
 * for the identity and for any other map.
 */
export function oneAxisGather(src: ArrayLike<number>, shape: readonly number[]): { axis: number; indices: number[] } | undefined {
  const st = strides(shape);
  for (let a = 0; a < shape.length; a++) {
    const indices = Array.from({ length: shape[a] }, (_, j) => src[j * st[a]] / st[a]);
    if (indices.every((i, j) => i === j) || !indices.every((i) => Number.isInteger(i) && i >= 0 && i < shape[a])) continue;
    let ok = true;
    for (let o = 0; o < src.length && ok; o++) {
      const c = Math.floor(o / st[a]) % shape[a];
      ok = src[o] === o + (indices[c] - c) * st[a];
    }
    if (ok) return { axis: a, indices };
  }
  return undefined;
}

/** The flat source index of each element after view → Transpose → view, for input shape `shape`. */
function indexMap(view: GraphView, t: Node, shape: readonly number[]): Int32Array {
  const iota = tensor('i32', view.shape(t.inputs[0]), Int32Array.from({ length: sizeOf(shape) }, (_, i) => i));
  const out = { dtype: 'i32' as const, shape: [...view.shape(t.outputs[0])] };
  const [moved] = getOp('Transpose').reference([iota], t.attrs, [out]) as Tensor[];
  return moved.data as Int32Array;
}

function rewrite(n: Node, view: GraphView): Node[] | null {
  if (!VIEWS.has(n.op)) return null;
  const t = view.single(n.inputs[0]) ? view.producedBy(n.inputs[0], 'Transpose') : undefined;
  const r = t && view.single(t.inputs[0]) ? view.producer.get(t.inputs[0]) : undefined;
  if (!t || !r || !VIEWS.has(r.op)) return null;
  const x = r.inputs[0];
  const shape = view.shape(x);
  if (shape.join() !== view.shape(n.outputs[0]).join() || sizeOf(shape) > MAX_ELEMENTS) return null;
  const m = oneAxisGather(indexMap(view, t, shape), shape);
  if (!m) return null;
  const idx = view.g.addConstant(`${n.name}_indices`, tensor('i64', [m.indices.length], BigInt64Array.from(m.indices.map(BigInt))));
  return [makeNode(view.g, 'Gather', [x, idx], { axis: m.axis }, { name: n.name, outputs: n.outputs })];
}

export const shuffleRule: CanonicalRule = {
  name: 'shuffle',
  doc: 'Reshape → Transpose → Reshape that permutes one axis (channel shuffle) → Gather with constant indices',
  rewrite,
};
