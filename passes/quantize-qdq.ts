/**
 * QDQ recognition: the pattern quantization tools write (onnxruntime's quantizer, PyTorch's export)
 *
 *   xq ─ DequantizeLinear ─┐
 *   w (int8 const) ─ DQ ───┼─ Conv / Gemm / MatMul ─ [activation] ─ QuantizeLinear ─ yq
 *   b (int32 const) ─ DQ ──┘
 *
 * becomes one QConv / QGemm node (ir/ops/quant.ts): int32 accumulation of (x − xz)(w − wz) plus the
 * int32 bias, then the requantizing epilogue (scale, activation, output scale and zero point). The
 * output keeps its name and type (u8/i8). Where no QuantizeLinear takes the host's (or its
 * activation's) f32 output, the node has out_dtype f32: the output straight from the int32
 * accumulator, not requantized (an f32 bias is then rounded to the accumulator's units, within half a
 * unit of x_scale·w_scale). Only fully constant, per-tensor activation parameters and
 * per-tensor or per-output-channel weight parameters are taken; anything else stays as it is (f32).
 *
 * Numerics: QConv's epilogue rounds where the float graph rounds (f32 products and quotients), so
 * both give the same int8 outputs whenever the float graph's dequantized operands are exact (power-
 * of-two scales); otherwise they may differ by one quantization step where the float conv's own
 * rounding tips a tie (test/quant-qdq.test.ts measures both).
 *
 * In the O2/O3 pipelines it runs first (before fold-constants turns the int8 weights into f32), and
 * only makes a QConv/QGemm the target's supports() accepts: elsewhere the QDQ graph stays f32.
 */
import { tensor, toF64, type Tensor } from '../runtime/tensor.js';
import type { Graph, Node } from '../ir/graph.js';
import type { Attrs } from '../ir/op.js';
import { getOp } from '../ir/ops/index.js';
import { roundHalfEven } from '../ir/scalar.js';
import { makeNode, removeUnusedConstants, sweepRewrite, type GraphView, type Pass } from './pass.js';

const HOSTS = new Set(['Conv', 'Gemm', 'MatMul']);
const CONV_KEYS = ['auto_pad', 'dilations', 'group', 'kernel_shape', 'pads', 'strides'];

/** Constant quantization parameters of a QuantizeLinear/DequantizeLinear node. */
interface QParams {
  scale: number[];
  zp: number[];
  /** The quantized dtype (zero point's, or the node's integer side). */
  dtype: string;
  axis: number;
  /** The quantized value: DQ's input, Q's output. */
  q: string;
}

/** The node's constant (scale, zero point), or undefined when either is not a constant or it is blocked. */
function qparams(g: Graph, n: Node): QParams | undefined {
  if (Number(n.attrs.block_size) !== 0) return undefined;
  const s = g.constValue(n.inputs[1]);
  const zName = n.inputs[2] ?? '';
  const z = zName ? g.constValue(zName) : undefined;
  if (!s || (zName && !z)) return undefined;
  const q = n.op === 'QuantizeLinear' ? n.outputs[0] : n.inputs[0];
  const scale = Array.from(toF64(s));
  const zp = z ? Array.from(toF64(z)) : scale.map(() => 0);
  const rank = g.type(q).shape.length;
  const axis = Number(n.attrs.axis) < 0 ? Number(n.attrs.axis) + rank : Number(n.attrs.axis);
  return { scale, zp, dtype: g.type(q).dtype, axis: s.shape.length === 0 || scale.length === 1 ? -1 : axis, q };
}

const isInt8 = (d: string) => d === 'i8' || d === 'u8';

/** A DequantizeLinear of 8-bit values with one (scale, zero point) — an activation. */
function dqActivation(view: GraphView, v: string): QParams | undefined {
  const dq = view.producedBy(v, 'DequantizeLinear');
  const p = dq && view.g.type(v).dtype === 'f32' ? qparams(view.g, dq) : undefined;
  return p && isInt8(p.dtype) && p.axis === -1 ? p : undefined;
}

/** A DequantizeLinear of constant 8-bit weights, per tensor or per channel on `axis`. */
function dqWeight(view: GraphView, v: string, axis: number): (QParams & { w: Tensor }) | undefined {
  const dq = view.producedBy(v, 'DequantizeLinear');
  if (!dq || view.g.type(v).dtype !== 'f32') return undefined;
  const w = view.g.constValue(dq.inputs[0]);
  const p = qparams(view.g, dq);
  if (!w || !p || !isInt8(p.dtype) || (p.axis !== -1 && p.axis !== axis)) return undefined;
  return { ...p, w };
}

/** The activation (as epilogue attributes) of an op between the host and the QuantizeLinear. */
function activationOf(n: Node): Attrs | undefined {
  const a = getOp(n.op, n.name).traits.asActivation?.(n.attrs);
  return a ? { ...a } : undefined;
}

/**
 * The bias as int32 in units of x_scale·w_scale[c]: a DequantizeLinear of int32 constants with
 * exactly that scale and zero point 0 (what quantizers write) is taken as is; an f32 constant is
 * rounded (half to even) to those units. undefined: no usable bias.
 */
function biasInt32(view: GraphView, v: string, accScale: number[], channels: number): Tensor | undefined {
  const dq = view.producedBy(v, 'DequantizeLinear');
  const scaleOf = (c: number) => accScale[accScale.length === 1 ? 0 : c];
  if (dq) {
    const b = view.g.constValue(dq.inputs[0]);
    const p = qparams(view.g, dq);
    if (!b || !p || b.dtype !== 'i32' || b.data.length !== channels || p.zp.some((z) => z !== 0)) return undefined;
    const same = Array.from({ length: channels }, (_, c) => p.scale[p.scale.length === 1 ? 0 : c] === scaleOf(c));
    return same.every(Boolean) ? b : undefined;
  }
  const f = view.g.constValue(v);
  if (!f || f.data.length !== channels) return undefined;
  const q = Array.from(toF64(f), (x, c) => roundHalfEven(x / scaleOf(c)));
  if (q.some((x) => !(Math.abs(x) < 2 ** 31))) return undefined;
  return tensor('i32', [channels], Int32Array.from(q));
}

/** w [N, K] → [K, N] (Gemm with transB). */
function transpose2d(w: Tensor): Tensor {
  const [n, k] = w.shape;
  const out = tensor(w.dtype, [k, n]);
  for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) out.data[j * n + i] = w.data[i * k + j];
  return out;
}

/** Whether the target lowers a node (the pipeline's supports(); absent: every node). */
type Accept = (node: Node, graph: Graph) => boolean;

/** Rewrites QuantizeLinear(act?(host(DQ(xq), DQ(w), bias?))) into QConv/QGemm, or returns null. */
function rule(q: Node, view: GraphView, accept: Accept): Node[] | null {
  const r = match(q, view);
  return r && r.every((n) => accept(n, view.g)) ? r : null;
}

function match(q: Node, view: GraphView): Node[] | null {
  if (q.op !== 'QuantizeLinear') return matchFloat(q, view);
  const g = view.g;
  const yp = qparams(g, q);
  if (!yp || !isInt8(yp.dtype) || yp.axis !== -1) return null;
  // QConv's epilogue divides by y_scale in f32: the QuantizeLinear must do the same.
  if (g.type(q.inputs[1]).dtype !== 'f32' || (q.attrs.precision !== '' && q.attrs.precision !== 'f32')) return null;
  const chain = view.single(q.inputs[0]) ? hostChain(view, q.inputs[0]) : null;
  if (!chain) return null;
  return quantized(view, chain, q.outputs, { y_scale: yp.scale[0], y_zero_point: yp.zp[0], out_dtype: yp.dtype });
}

/** A host (Conv/Gemm/MatMul of dequantized operands) and the activation after it, ending in value `v`. */
interface Chain { host: Node; act: Attrs; xp: QParams }

function hostChain(view: GraphView, v: string): Chain | null {
  const g = view.g;
  let act: Attrs = { activation: '', act_alpha: 0, act_beta: 0 };
  const between = view.producer.get(v);
  if (between && !HOSTS.has(between.op)) {
    const a = activationOf(between);
    if (!a) return null;
    act = a;
    v = between.inputs[0];
  }
  const host = view.producer.get(v);
  // the host's output must have no other reader, unless it is the chain's end (its new node writes it)
  if (!host || !HOSTS.has(host.op) || (!view.single(v) && host !== between) || g.type(v).dtype !== 'f32') return null;
  if (host.attrs.activation || (host.inputs[3] ?? '') !== '' || (host.attrs.layout ?? 'NCHW') !== 'NCHW') return null;
  const xp = dqActivation(view, host.inputs[0]);
  return xp ? { host, act, xp } : null;
}

/**
 * A host (and its activation) whose f32 output is not requantized (no QuantizeLinear takes it
 * alone): a QConv/QGemm with f32 output, straight from the int32 accumulator (the last layer of a
 * quantized classifier, a conv feeding a residual Add). Triggered on the chain's last node; a chain
 * that one QuantizeLinear consumes is left to `match` on that node.
 */
function matchFloat(n: Node, view: GraphView): Node[] | null {
  const out = n.outputs[0];
  if (n.outputs.length !== 1 || view.g.type(out).dtype !== 'f32') return null;
  const next = view.consumers.get(out) ?? [];
  if (view.single(out) && next.length === 1 && (next[0].op === 'QuantizeLinear' || (HOSTS.has(n.op) && activationOf(next[0])))) return null;
  if (!HOSTS.has(n.op) && !activationOf(n)) return null;
  const chain = hostChain(view, out);
  if (!chain) return null;
  return quantized(view, chain, n.outputs, { y_scale: 1, y_zero_point: 0, out_dtype: 'f32' });
}

function quantized(view: GraphView, { host, act, xp }: Chain, outputs: readonly string[], y: Attrs): Node[] | null {
  const common = { x_scale: xp.scale[0], x_zero_point: xp.zp[0], ...y, ...act };
  if (host.op === 'Conv') return qconv(view, outputs, host, xp, common);
  return qgemm(view, outputs, host, xp, common);
}

function qconv(view: GraphView, outputs: readonly string[], host: Node, xp: QParams, common: Attrs): Node[] | null {
  const wp = dqWeight(view, host.inputs[1], 0);
  if (!wp) return null;
  const M = wp.w.shape[0];
  const accScale = wp.scale.map((s) => Math.fround(xp.scale[0] * s));
  const b = host.inputs[2] ? biasInt32(view, host.inputs[2], accScale, M) : undefined;
  if (host.inputs[2] && !b) return null;
  const attrs: Attrs = { ...Object.fromEntries(CONV_KEYS.map((k) => [k, host.attrs[k]])), ...common, w_scale: wp.scale, w_zero_point: wp.zp };
  const ins = [xp.q, wp.q, b ? view.g.addConstant(`${host.name}_bias_i32`, b) : ''];
  return [makeNode(view.g, 'QConv', trim(ins), attrs, { name: `${host.name}_q`, outputs })];
}

function qgemm(view: GraphView, outputs: readonly string[], host: Node, xp: QParams, common: Attrs): Node[] | null {
  const a = host.attrs;
  const gemm = host.op === 'Gemm';
  if (gemm && (Number(a.transA) !== 0 || Number(a.alpha) !== 1 || (host.inputs[2] && Number(a.beta) !== 1))) return null;
  const transB = gemm && Number(a.transB) !== 0;
  const wp = dqWeight(view, host.inputs[1], transB ? 0 : 1);
  if (!wp || wp.w.shape.length !== 2) return null;
  const w = transB ? transpose2d(wp.w) : wp.w;
  const N = w.shape[1];
  const accScale = wp.scale.map((s) => Math.fround(xp.scale[0] * s));
  const bias = gemm && host.inputs[2] ? host.inputs[2] : '';
  if (bias && view.g.type(bias).shape.some((d, i, s) => d !== 1 && i !== s.length - 1)) return null;
  const b = bias ? biasInt32(view, bias, accScale, N) : undefined;
  if (bias && !b) return null;
  const attrs: Attrs = { ...common, w_scale: wp.scale, w_zero_point: wp.zp };
  const wName = transB ? view.g.addConstant(`${host.name}_w_kn`, w) : wp.q;
  const ins = [xp.q, wName, b ? view.g.addConstant(`${host.name}_bias_i32`, b) : ''];
  return [makeNode(view.g, 'QGemm', trim(ins), attrs, { name: `${host.name}_q`, outputs })];
}

const trim = (ins: string[]) => (ins[ins.length - 1] === '' ? ins.slice(0, -1) : ins);

/** The graph with its QDQ patterns rewritten (only those `accept` takes, when given). */
export function quantizeQdq(graph: Graph, accept: Accept = () => true): Graph {
  const g = graph.clone();
  sweepRewrite(g, (n, view) => rule(n, view, accept));
  removeUnusedConstants(g);
  return g;
}

export const quantizeQdqPass: Pass = {
  name: 'quantize-qdq',
  doc: 'rewrites QDQ patterns (DequantizeLinear → Conv/Gemm/MatMul → [activation] → QuantizeLinear) into QConv/QGemm where the target has int8 kernels',
  // without the target's supports() (a bare target name) nothing is rewritten
  // (and a graph with no QuantizeLinear, every f32 model, is returned as it is: no clone)
  run: (g, ctx) => (ctx.supports && g.nodes.some((n) => n.op === 'QuantizeLinear')
    ? quantizeQdq(g, (n, graph) => ctx.supports!(n, graph) === undefined) : g),
};
