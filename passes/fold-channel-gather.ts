/**
 * Channel gathers folded away: a Gather with constant 1-D indices along the channel axis (what
 * canonicalize-shuffle.ts makes of a channel shuffle) costs nothing where its readers can absorb it.
 * Local rewrites, each exact:
 * - Slice / Split of a gathered tensor along the gather axis → a Gather of the selected indices
 *   (ShuffleNetV2's chunk after the shuffle); other slices stay.
 * - Conv (group 1) reading a channel gather → the Conv reading the gather's input, its weight's
 *   input-channel axis re-ordered at compile time (W′[:, idx[j]] = W[:, j]). A gather of a subset
 *   (one chunk of a shuffle) gives W′ zero columns for the channels it drops: the conv then does up
 *   to WIDEN_LIMIT× its multiply-adds, traded for a gather kernel and a round trip through memory.
 * - Depthwise Conv (multiplier 1, no residual input) reading a channel permutation → the depthwise
 *   Conv with its weights and bias permuted, then the permutation; only where every reader of its
 *   output is a group-1 Conv, which then folds it (ShuffleNetV2's stride-2 branch: dw → 1×1).
 * A gather nothing absorbs stays one gather kernel on every target (Gather with constant indices).
 * Indices must be distinct (a repeated channel would sum weight columns: not exact). Runs after
 * fuse-epilogue (activations are in the convs by then) and before fuse-dwpw and layout-nhwc.
 */
import { tensor, toF64, type Tensor } from '../runtime/tensor.js';
import type { Graph, Node } from '../ir/graph.js';
import { getOp } from '../ir/ops/index.js';
import { makeNode, removeUnusedConstants, sweepRewrite, withNode, type GraphView, type Pass } from './pass.js';

/** A subset gather folds into a conv only when the conv reads at most this many times the channels it used to. */
export const WIDEN_LIMIT = 2;

interface ChannelGather {
  gather: Node;
  x: string;
  axis: number;
  /** Non-negative, distinct. */
  indices: number[];
}

/** The Gather defining `v` when it has constant 1-D distinct indices, with its axis made non-negative. */
function gatherOf(view: GraphView, v: string): ChannelGather | undefined {
  const gather = view.producedBy(v, 'Gather');
  const c = gather && view.g.constValue(gather.inputs[1]);
  if (!gather || !c || c.shape.length !== 1) return undefined;
  const shape = view.shape(gather.inputs[0]);
  const axis = (Number(gather.attrs.axis) + shape.length) % shape.length;
  const indices = Array.from(toF64(c), (i) => (i < 0 ? i + shape[axis] : i));
  return new Set(indices).size === indices.length ? { gather, x: gather.inputs[0], axis, indices } : undefined;
}

function indexConstant(g: Graph, name: string, indices: readonly number[]): string {
  return g.addConstant(`${name}_indices`, tensor('i64', [indices.length], BigInt64Array.from(indices.map(BigInt))));
}

function gatherNode(g: Graph, src: ChannelGather, indices: readonly number[], name: string, output: string): Node {
  return makeNode(g, 'Gather', [src.x, indexConstant(g, name, indices)], { axis: src.axis }, { name, outputs: [output] });
}

/** Slice along the gather axis only → Gather of the sliced indices. */
function sliceRule(n: Node, view: GraphView): Node[] | null {
  const src = n.op === 'Slice' ? gatherOf(view, n.inputs[0]) : undefined;
  if (!src) return null;
  const inShape = view.shape(n.inputs[0]), outShape = view.shape(n.outputs[0]);
  const rank = inShape.length;
  const axes = (n.attrs.axes as number[]).length ? (n.attrs.axes as number[]).map((a) => (a + rank) % rank) : inShape.map((_, i) => i);
  const steps = n.attrs.steps as number[];
  // every other axis is taken whole, in order
  const whole = (a: number) => inShape[a] === outShape[a] && (!axes.includes(a) || (steps[axes.indexOf(a)] ?? 1) === 1);
  if (inShape.some((_, a) => a !== src.axis && !whole(a))) return null;
  const k = axes.indexOf(src.axis);
  // the positions along the axis the Slice keeps: the reference Slice on those positions
  const pos = tensor('i32', [inShape[src.axis]], Int32Array.from(src.indices.keys()));
  const attrs = { starts: [(n.attrs.starts as number[])[k]], ends: [(n.attrs.ends as number[])[k]], axes: [0], steps: steps.length ? [steps[k]] : [] };
  const [kept] = getOp('Slice').reference([pos], attrs, [{ dtype: 'i32', shape: [outShape[src.axis]] }]) as Tensor[];
  return [gatherNode(view.g, src, Array.from(kept.data as Int32Array, (p) => src.indices[p]), n.name, n.outputs[0])];
}

/** Split along the gather axis → one Gather per part. */
function splitRule(n: Node, view: GraphView): Node[] | null {
  const src = n.op === 'Split' ? gatherOf(view, n.inputs[0]) : undefined;
  const rank = view.shape(n.inputs[0]).length;
  if (!src || (Number(n.attrs.axis) + rank) % rank !== src.axis) return null;
  let at = 0;
  return n.outputs.flatMap((o, i) => {
    const len = view.shape(o)[src.axis];
    const part = src.indices.slice(at, (at += len));
    return o === '' ? [] : [gatherNode(view.g, src, part, `${n.name}_${i}`, o)];
  });
}

const channelAxis = (n: Node, rank: number) => (n.attrs.layout === 'NHWC' ? rank - 1 : 1);
const isFloat = (t: Tensor) => t.dtype === 'f32' || t.dtype === 'f16';

/** W′ with W′[:, indices[j]] = W[:, j] along axis 1 of a (M, C, …) weight widened to C channels; raw copies. */
function scatterColumns(w: Tensor, indices: readonly number[], C: number): Tensor {
  const [M, Cw] = w.shape;
  const inner = w.data.length / (M * Cw);
  const out = tensor(w.dtype, [M, C, ...w.shape.slice(2)]);
  const src = w.data as Float32Array, dst = out.data as Float32Array;
  for (let m = 0; m < M; m++) for (let j = 0; j < Cw; j++) {
    dst.set(src.subarray((m * Cw + j) * inner, (m * Cw + j + 1) * inner), (m * C + indices[j]) * inner);
  }
  return out;
}

/** A group-1 Conv reading a channel gather → the Conv reading the gather's input with re-ordered weights. */
function convRule(n: Node, view: GraphView): Node[] | null {
  if (n.op !== 'Conv' || Number(n.attrs.group) !== 1) return null;
  const src = gatherOf(view, n.inputs[0]);
  const w = view.g.constValue(n.inputs[1]);
  const rank = view.shape(n.inputs[0]).length;
  if (!src || !w || !isFloat(w) || src.axis !== channelAxis(n, rank)) return null;
  const C = view.shape(src.x)[src.axis];
  if (C > WIDEN_LIMIT * src.indices.length) return null;
  const wName = view.g.addConstant(`${n.inputs[1]}_gathered`, scatterColumns(w, src.indices, C));
  return [withNode(n, { inputs: [src.x, wName, ...n.inputs.slice(2)] })];
}

/** Per-channel constant `t` (axis 0) re-ordered so entry perm[j] holds t[j]. */
function permuteRows(t: Tensor, perm: readonly number[]): Tensor {
  const inner = t.data.length / perm.length;
  const out = tensor(t.dtype, t.shape);
  const src = t.data as Float32Array, dst = out.data as Float32Array;
  perm.forEach((p, j) => dst.set(src.subarray(j * inner, (j + 1) * inner), p * inner));
  return out;
}

/** A depthwise Conv reading a channel permutation, read only by group-1 Convs → dw Conv on the input, then the permutation. */
function depthwiseRule(n: Node, view: GraphView): Node[] | null {
  if (n.op !== 'Conv' || (n.inputs[3] ?? '') !== '') return null;
  const src = gatherOf(view, n.inputs[0]);
  const rank = view.shape(n.inputs[0]).length;
  const w = view.g.constValue(n.inputs[1]), b = n.inputs[2] ? view.g.constValue(n.inputs[2]) : undefined;
  if (!src || !w || !isFloat(w) || (n.inputs[2] && !b) || src.axis !== channelAxis(n, rank)) return null;
  const C = view.shape(src.x)[src.axis];
  if (src.indices.length !== C || Number(n.attrs.group) !== C || w.shape[0] !== C || w.shape[1] !== 1) return null;
  const readers = view.consumers.get(n.outputs[0]) ?? [];
  const folds = (r: Node) => r.op === 'Conv' && Number(r.attrs.group) === 1 && r.inputs[0] === n.outputs[0] && !r.inputs.slice(1).includes(n.outputs[0]);
  if (view.g.outputs.includes(n.outputs[0]) || !readers.length || !readers.every(folds)) return null;
  const g = view.g;
  const wName = g.addConstant(`${n.inputs[1]}_permuted`, permuteRows(w, src.indices));
  const bName = b ? g.addConstant(`${n.inputs[2]}_permuted`, permuteRows(b, src.indices)) : '';
  const dw = withNode(n, { inputs: [src.x, wName, ...(n.inputs.length > 2 ? [bName] : [])], outputs: [g.freshName(`${n.outputs[0]}_unpermuted`)] });
  return [dw, gatherNode(g, { ...src, x: dw.outputs[0] }, src.indices, `${n.name}_permute`, n.outputs[0])];
}

const RULES = [sliceRule, splitRule, convRule, depthwiseRule];
const OPS = new Set(['Slice', 'Split', 'Conv']);

export function foldChannelGathers(graph: Graph): Graph {
  const g = graph.clone();
  sweepRewrite(g, (n, view) => {
    if (!OPS.has(n.op)) return null;
    for (const r of RULES) {
      const out = r(n, view);
      if (out) return out;
    }
    return null;
  });
  removeUnusedConstants(g);
  return g;
}

export const foldChannelGatherPass: Pass = {
  name: 'fold-channel-gather',
  doc: 'channel gathers (shuffles) through Split/Slice and into the weights of the convs reading them',
  run: (g) => foldChannelGathers(g),
};
