/**
 * Test helper: normalizations and activations written the way exporters write them when the
 * opset lacks the op (PyTorch at opset 13: LayerNorm as ReduceMean, Sub, Pow, ReduceMean, Add,
 * Sqrt, Div, Mul, Add), for the canonicalisation tests and the opset-13 ConvNeXt test.
 */
import { tensor } from '../runtime/tensor.js';
import { Graph, type Node } from '../ir/graph.js';
import { exportOnnx } from '../frontends/onnx/export.js';
import { importOnnx } from '../frontends/onnx/import.js';
import { onnx } from '../frontends/onnx/proto.js';

export interface LnSpelling {
  /** d² as Pow(d, 2) (PyTorch) or Mul(d, d). */
  square?: 'pow' | 'mul';
  /** d / s as Div (PyTorch) or Mul(d, Reciprocal(s)). */
  divide?: 'div' | 'reciprocal';
  /** Operands of the commutative ops swapped (eps + var, γ · y, β + y). */
  swap?: boolean;
}

/** A scalar f32 constant. */
export function scalar(g: Graph, v: number): string {
  return g.addConstant('c', tensor('f32', [], [v]));
}

/** (x − mean)/√(var + eps) [· gamma] [+ beta] over `axes`, spelled out; the last node defines `out` when given. */
export function writeLayerNorm(g: Graph, x: string, axes: number[], eps: number, gamma?: string, beta?: string, s: LnSpelling = {}, out?: string): string {
  const comm = (op: string, a: string, b: string, last = false) => g.add(op, s.swap ? [b, a] : [a, b], {}, last && out ? { outputs: [out] } : {});
  const mean = g.add('ReduceMean', [x], { axes, keepdims: 1 });
  const d = g.add('Sub', [x, mean]);
  const d2 = s.square === 'mul' ? g.add('Mul', [d, d]) : g.add('Pow', [d, scalar(g, 2)]);
  const variance = g.add('ReduceMean', [d2], { axes, keepdims: 1 });
  const sd = g.add('Sqrt', [comm('Add', variance, scalar(g, eps))]);
  const div = () => (s.divide === 'reciprocal' ? comm('Mul', d, g.add('Reciprocal', [sd]), !gamma && !beta)
    : g.add('Div', [d, sd], {}, !gamma && !beta && out ? { outputs: [out] } : {}));
  let y = div();
  if (gamma) y = comm('Mul', y, gamma, !beta);
  if (beta) y = comm('Add', y, beta, true);
  return y;
}

/**
 * The graph with every LayerNormalization node written out in the opset-13 form, defining the
 * same output names (Scale/B broadcast from the right, as PyTorch's weight does). With
 * `channelsFirst`, Transpose(0,2,3,1) → LayerNormalization → Transpose(0,3,1,2) (torchvision's
 * LayerNorm2d) is written as the original ConvNeXt code does: over axis 1 of NCHW, γ/β [C,1,1].
 */
export function decomposeLayerNorms(src: Graph, spelling: LnSpelling = {}, channelsFirst = false): Graph {
  const g = new Graph(src.name);
  for (const v of src.values.values()) if (src.inputs.includes(v.name) || v.const) g.define(v);
  g.inputs = [...src.inputs];
  const skip = new Set<Node>();
  const consumers = src.consumers();
  for (const n of src.nodes) {
    if (skip.has(n)) continue;
    if (n.op !== 'LayerNormalization') {
      const wrapped = channelsFirst && wrapsLayerNorm(src, n, consumers);
      if (!wrapped) {
        g.addNode(n.op, n.inputs, n.attrs, { name: n.name, outputs: [...n.outputs] });
        continue;
      }
      const [ln, back] = wrapped;
      skip.add(ln).add(back);
      const C = g.type(n.inputs[0]).shape[1];
      // weight[:, None, None], folded into a [C, 1, 1] initializer as the exporter does
      const per = (v: string) => (v ? g.addConstant(`${v}_c11`, { ...g.constValue(v)!, shape: [C, 1, 1] }) : undefined);
      writeLayerNorm(g, n.inputs[0], [1], Number(ln.attrs.epsilon), per(ln.inputs[1]), per(ln.inputs[2] ?? ''), spelling, back.outputs[0]);
      continue;
    }
    rewriteLayerNorm(g, n, spelling);
  }
  g.setOutputs(src.outputs);
  return g;
}

/** Transpose `t` (to NHWC) → LayerNormalization over the last axis → Transpose back: [ln, back]. */
function wrapsLayerNorm(g: Graph, t: Node, consumers: Map<string, Node[]>): [Node, Node] | undefined {
  const only = (v: string) => (consumers.get(v)?.length === 1 && !g.outputs.includes(v) ? consumers.get(v)![0] : undefined);
  const ln = t.op === 'Transpose' && (t.attrs.perm as number[]).join() === '0,2,3,1' ? only(t.outputs[0]) : undefined;
  if (ln?.op !== 'LayerNormalization' || Number(ln.attrs.axis) !== -1) return undefined;
  const back = only(ln.outputs[0]);
  return back?.op === 'Transpose' && (back.attrs.perm as number[]).join() === '0,3,1,2' ? [ln, back] : undefined;
}

function rewriteLayerNorm(g: Graph, n: Node, spelling: LnSpelling): void {
  const [x, scale, bias] = n.inputs;
  const r = g.type(x).shape.length;
  const axis = (Number(n.attrs.axis) + r) % r;
  const axes = Array.from({ length: r - axis }, (_, i) => axis + i);
  writeLayerNorm(g, x, axes, Number(n.attrs.epsilon), scale, bias || undefined, spelling, n.outputs[0]);
}

/** ONNX bytes with their ai.onnx opset import set to `version` (the ops written must exist there). */
export function withOpset(bytes: Uint8Array, version: number): Uint8Array {
  const m = onnx.ModelProto.decode(bytes);
  m.opsetImport = [{ domain: '', version }];
  return onnx.ModelProto.encode(m).finish();
}

/**
 * `g` as PyTorch exports it at opset 13: ONNX bytes with every LayerNormalization written out
 * (and GELU, which the ONNX writer expands below opset 20).
 */
export function opset13Bytes(g: Graph, channelsFirst = false): Uint8Array {
  return withOpset(exportOnnx(decomposeLayerNorms(g, {}, channelsFirst)), 13);
}

/** opset13Bytes imported back. */
export function opset13Export(g: Graph, channelsFirst = false): Graph {
  return importOnnx(opset13Bytes(g, channelsFirst));
}
