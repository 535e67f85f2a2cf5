/**
 * BatchNormalization folding. Inference BN is y = s·x + t per channel, s = scale/√(var+ε),
 * t = B − mean·s. After a Conv, ConvTranspose or Gemm (or a 2-D MatMul) with constant weights
 * and a single reader, it folds into the weights (scaled per output channel) and the bias.
 * A BN with nothing to fold into becomes a 1×1 depthwise Conv (rank 4: later passes fuse its
 * activation) or Mul + Add (other ranks).
 */
import { fromF64, toF64, type Tensor } from '../runtime/tensor.js';
import type { Graph, Node } from '../ir/graph.js';
import { sizeOf } from '../ir/types.js';
import { commit, makeNode, removeUnusedConstants, useCounts, withNode, type Pass } from './pass.js';

/** y = s·x + t per output channel. */
export interface Affine { s: Float64Array; t: Float64Array }

/** The per-channel affine form of a BN node whose parameters are constants. */
function affineOf(g: Graph, bn: Node): Affine | undefined {
  const ps = bn.inputs.slice(1, 5).map((i) => g.constValue(i));
  if (ps.some((p) => !p)) return undefined;
  const [scale, bias, mean, variance] = (ps as Tensor[]).map(toF64);
  const eps = Number(bn.attrs.epsilon ?? 1e-5);
  const s = scale.map((v, c) => v / Math.sqrt(variance[c] + eps));
  const t = bias.map((b, c) => b - mean[c] * s[c]);
  return { s, t };
}

const noEpilogue = (n: Node) => !n.attrs.activation && !(n.inputs[3] ?? '');

/**
 * Folds a per-channel affine map (laid out as `bnLayout`) into producer `p`; returns the replacement
 * node, defining `outputs`, or undefined when `p` cannot take it. Also used for a constant Mul.
 */
export function foldAffineInto(g: Graph, p: Node, bnLayout: string, a: Affine, outputs: string[]): Node | undefined {
  const W = g.constValue(p.inputs[1]);
  const bias = g.constValue(p.inputs[2] ?? '');
  if (!W || ((p.inputs[2] ?? '') !== '' && !bias)) return undefined;
  const out = { outputs };
  if ((p.op === 'Conv' || p.op === 'ConvTranspose') && noEpilogue(p) && (p.attrs.layout ?? 'NCHW') === bnLayout) {
    const M = a.s.length;
    const per = sizeOf(W.shape.slice(2));
    const scaled = p.op === 'Conv'
      ? scaleRuns(W, a.s, Array.from({ length: W.shape[0] }, (_, m) => m), W.shape[1] * per)
      : scaleRuns(W, a.s, convTransposeChannels(W.shape, Number(p.attrs.group ?? 1)), per);
    const b = bias ? toF64(bias) : new Float64Array(M);
    const nb = b.map((v, m) => v * a.s[m] + a.t[m]);
    const wName = g.addConstant(`${p.inputs[1]}_bn`, scaled);
    const bName = g.addConstant(`${p.name}_bias_bn`, fromF64(W.dtype, [M], nb));
    const inputs = [p.inputs[0], wName, bName];
    return withNode(p, { inputs, ...out });
  }
  if (p.op === 'Gemm' && noEpilogue(p) && W.shape.length === 2) return foldGemm(g, p, W, bias, a, out.outputs);
  if (p.op === 'MatMul' && W.shape.length === 2 && g.type(p.inputs[0]).shape.length === 2) {
    return foldGemm(g, makeNode(g, 'Gemm', [p.inputs[0], p.inputs[1]], {}, { name: p.name }), W, undefined, a, out.outputs);
  }
  return undefined;
}

/** ConvTranspose W is (C, M/group, k…): row (c, j) belongs to output channel group(c)·(M/group) + j. */
function convTransposeChannels(shape: readonly number[], group: number): number[] {
  const [C, Mg] = shape;
  const Cg = C / group;
  return Array.from({ length: C * Mg }, (_, r) => Math.floor(Math.floor(r / Mg) / Cg) * Mg + (r % Mg));
}

/**
 * W with run r (elements r·len … r·len + len − 1) multiplied by s[channel[r]]. f32 weights are
 * scaled in place of a float64 copy: each f32 widens to double exactly and the product rounds to
 * f32 once on the store, the same bits as toF64 → multiply → fromF64 (which f16 and others take).
 */
function scaleRuns(W: Tensor, s: Float64Array, channel: readonly number[], len: number): Tensor {
  if (W.dtype !== 'f32') {
    const w = toF64(W);
    for (let r = 0; r < channel.length; r++) for (let i = r * len, e = i + len; i < e; i++) w[i] *= s[channel[r]];
    return fromF64(W.dtype, W.shape, w);
  }
  const w = W.data as Float32Array, out = new Float32Array(w.length);
  for (let r = 0; r < channel.length; r++) {
    const k = s[channel[r]];
    for (let i = r * len, e = i + len; i < e; i++) out[i] = w[i] * k;
  }
  return { dtype: 'f32', shape: [...W.shape], data: out };
}

/** Gemm: Y = α·A·B + β·C, BN over columns n: B scaled per column, C' = s·β·C + t, β' = 1. */
function foldGemm(g: Graph, p: Node, W: Tensor, bias: Tensor | undefined, a: Affine, outputs: string[]): Node {
  const transB = Number(p.attrs.transB ?? 0) !== 0;
  const [r, c] = W.shape;
  // transB: row i of (N, K) is column i; else every row runs over the N columns
  const scaled = transB ? scaleRuns(W, a.s, Array.from({ length: r }, (_, i) => i), c) : scaleColumns(W, a.s, r, c);
  const N = a.s.length;
  const beta = Number(p.attrs.beta ?? 1);
  const M = g.type(p.inputs[0]).shape[Number(p.attrs.transA ?? 0) ? 1 : 0];
  // C broadcasts to (M, N); keep it per column unless it varies along rows.
  const rows = bias && bias.shape.length === 2 && bias.shape[0] > 1 ? M : 1;
  const cv = bias ? toF64(bias) : undefined;
  const cAt = (m: number, n: number): number => {
    if (!cv || !bias) return 0;
    const sh = bias.shape;
    if (sh.length === 0) return cv[0];
    if (sh.length === 1) return cv[sh[0] === 1 ? 0 : n];
    return cv[(sh[0] === 1 ? 0 : m) * sh[1] + (sh[1] === 1 ? 0 : n)];
  };
  const nc = new Float64Array(rows * N);
  for (let m = 0; m < rows; m++) for (let n = 0; n < N; n++) nc[m * N + n] = a.s[n] * beta * cAt(m, n) + a.t[n];
  const wName = g.addConstant(`${p.inputs[1]}_bn`, scaled);
  const cName = g.addConstant(`${p.name}_bias_bn`, fromF64(W.dtype, rows === 1 ? [N] : [rows, N], nc));
  return withNode(p, { inputs: [p.inputs[0], wName, cName], attrs: { beta: 1 }, outputs });
}

/** (r, c) W with column j multiplied by s[j] (f32 without a float64 copy, as in scaleRuns). */
function scaleColumns(W: Tensor, s: Float64Array, r: number, c: number): Tensor {
  const w = W.dtype === 'f32' ? (W.data as Float32Array) : toF64(W);
  const out = W.dtype === 'f32' ? new Float32Array(w.length) : (w as Float64Array);
  for (let i = 0; i < r; i++) for (let j = 0, o = i * c; j < c; j++) out[o + j] = w[o + j] * s[j];
  return W.dtype === 'f32' ? { dtype: 'f32', shape: [r, c], data: out } : fromF64(W.dtype, [r, c], out);
}

/** A BN with no producer to fold into: 1×1 depthwise Conv (rank 4) or Mul + Add. */
function standalone(g: Graph, bn: Node, a: Affine): Node[] | undefined {
  const x = g.type(bn.inputs[0]);
  const C = a.s.length;
  const layout = String(bn.attrs.layout ?? 'NCHW');
  if (x.shape.length === 4) {
    const w = g.addConstant(`${bn.name}_dw_w`, fromF64(x.dtype, [C, 1, 1, 1], a.s));
    const b = g.addConstant(`${bn.name}_dw_b`, fromF64(x.dtype, [C], a.t));
    return [makeNode(g, 'Conv', [bn.inputs[0], w, b], { group: C, kernel_shape: [1, 1], layout }, { name: bn.name, outputs: [bn.outputs[0]] })];
  }
  const shape = layout === 'NHWC' ? [C] : [C, ...new Array(Math.max(0, x.shape.length - 2)).fill(1)];
  const s = g.addConstant(`${bn.name}_scale`, fromF64(x.dtype, shape, a.s));
  const t = g.addConstant(`${bn.name}_shift`, fromF64(x.dtype, shape, a.t));
  const mul = makeNode(g, 'Mul', [bn.inputs[0], s], {}, { name: `${bn.name}_mul` });
  const add = makeNode(g, 'Add', [mul.outputs[0], t], {}, { name: bn.name, outputs: [bn.outputs[0]] });
  return [mul, add];
}

export function foldBatchNorm(graph: Graph): Graph {
  const g = graph.clone();
  const uses = useCounts(g);
  const producers = g.producers();
  const replaced = new Map<Node, Node[]>();
  const removed = new Set<Node>();
  for (const bn of g.nodes) {
    if (bn.op !== 'BatchNormalization' || bn.outputs.slice(1).some((o) => o !== '' && uses.has(o))) continue;
    if (!['f32', 'f16'].includes(g.type(bn.inputs[0]).dtype)) continue;
    const a = affineOf(g, bn);
    if (!a) continue;
    const p = producers.get(bn.inputs[0]);
    const foldable = p && !removed.has(p) && uses.get(bn.inputs[0]) === 1 && !g.outputs.includes(bn.inputs[0]);
    const folded = foldable ? foldAffineInto(g, p, String(bn.attrs.layout ?? 'NCHW'), a, [bn.outputs[0]]) : undefined;
    if (folded && p) {
      removed.add(p);
      replaced.set(bn, [folded]);
      continue;
    }
    const alone = standalone(g, bn, a);
    if (alone) replaced.set(bn, alone);
  }
  const nodes = g.nodes.filter((n) => !removed.has(n)).flatMap((n) => replaced.get(n) ?? [n]);
  commit(g, nodes);
  removeUnusedConstants(g);
  return g;
}

export const foldBatchNormPass: Pass = {
  name: 'fold-batchnorm',
  doc: 'folds BatchNormalization into the preceding Conv/ConvTranspose/Gemm/MatMul; a lone BN becomes a 1×1 depthwise Conv or Mul+Add',
  run: (g) => foldBatchNorm(g),
};
