/**
 * A LayerNorm over channels in an NCHW graph, as torchvision's LayerNorm2d and the canonicalize pass
 * write it: Transpose(p) → LayerNormalization over the last axis → Transpose(q), three kernels of
 * which two only move data. A normalization over one axis commutes with transposes, so the chain is
 * ChannelLayerNorm over axis k = p[last] of the original layout, then Transpose(p∘q) — dropped when
 * it is the identity (p and q inverse, the usual case), else one transpose in place of two (the
 * layout and simplify passes may have merged other transposes into p or q). Runs after layout-nhwc:
 * a target computing in NHWC has cancelled the transposes by then, and only where the target's
 * supports() takes the ChannelLayerNorm (wgsl and cuda).
 */
import { fromF64, toF64 } from '../runtime/tensor.js';
import type { Graph, Node } from '../ir/graph.js';
import { sizeOf } from '../ir/types.js';
import { makeNode, type GraphView, type Pass, type PassContext, rewriteCopy } from './pass.js';

/** A Transpose's permutation (an empty perm reverses the axes). */
function permOf(n: Node, rank: number): number[] {
  const p = (n.attrs.perm as number[] | undefined) ?? [];
  return p.length ? p : Array.from({ length: rank }, (_, i) => rank - 1 - i);
}

/** Whether LayerNorm's Scale or B `v` can be a vector of C: it is one, or a one-element constant. */
function perChannelShape(g: Graph, v: string, C: number): boolean {
  const shape = g.type(v).shape;
  return (shape.length === 1 && shape[0] === C) || (!!g.constValue(v) && sizeOf(shape) === 1);
}

/** Scale or B as the ChannelLayerNorm's vector of C (perChannelShape holds): as is, or the constant expanded. */
function perChannel(g: Graph, v: string, C: number, name: string): string {
  const shape = g.type(v).shape;
  if (shape.length === 1 && shape[0] === C) return v;
  const t = g.constValue(v)!;
  return g.addConstant(name, fromF64(t.dtype, [C], new Float64Array(C).fill(toF64(t)[0])));
}

/** Offered the closing Transpose, which the result replaces (its output name kept). */
function rule(post: Node, view: GraphView, ctx: PassContext): Node[] | null {
  const g = view.g;
  if (post.op !== 'Transpose') return null;
  const ln = view.single(post.inputs[0]) ? view.producedBy(post.inputs[0], 'LayerNormalization') : undefined;
  if (!ln || ln.outputs.slice(1).some(Boolean)) return null;
  const [t, scale, bias = ''] = ln.inputs;
  const r = view.shape(t).length, axis = Number(ln.attrs.axis);
  if ((axis < 0 ? axis + r : axis) !== r - 1) return null;
  const pre = view.single(t) ? view.producedBy(t, 'Transpose') : undefined;
  if (!pre) return null;
  const x = pre.inputs[0], p = permOf(pre, r), q = permOf(post, r);
  const k = p[r - 1], C = view.shape(x)[k];
  const composed = q.map((j) => p[j]);
  const identity = composed.every((a, i) => a === i);
  // checked before perChannel adds constants, which only a node that is kept should
  const fits = (v: string) => v === '' || perChannelShape(g, v, C);
  if (!fits(scale) || !fits(bias)) return null;
  const out = identity ? post.outputs[0] : g.freshName(`${ln.name}_channels`);
  const node = makeNode(g, 'ChannelLayerNorm', [x, scale, bias], { axis: k, epsilon: ln.attrs.epsilon }, { name: ln.name, outputs: [out] });
  if (!identity) g.redefine({ name: out, type: g.type(x) });
  if (ctx.supports && ctx.supports(node, g) !== undefined) {
    if (!identity) g.removeValue(out);
    return null;
  }
  const s = perChannel(g, scale, C, `${ln.name}_scale`);
  const b = bias && perChannel(g, bias, C, `${ln.name}_bias`);
  const cln = { ...node, inputs: b ? [x, s, b] : [x, s] };
  return identity ? [cln] : [cln, makeNode(g, 'Transpose', [out], { perm: composed }, { name: post.name, outputs: post.outputs })];
}

export function foldTransposedLayerNorm(graph: Graph, ctx: PassContext): Graph {
  return rewriteCopy(graph, (n, view) => rule(n, view, ctx));
}

export const foldTransposedLayerNormPass: Pass = {
  name: 'fold-transposed-layernorm',
  doc: 'Transpose → LayerNormalization over the last axis → Transpose into one ChannelLayerNorm over the original axis (where the target lowers it)',
  run: (g, ctx) => foldTransposedLayerNorm(g, ctx),
};
