/**
 * SqueezeExcitationGate: the pooled-vector MLP of a squeeze-and-excitation block as one node
 * (passes/fuse-squeeze-excitation.ts forms it from two 1×1 Convs on a pooled map). Inputs
 * P (N, C, 1, …) or (N, 1, …, C) — a vector of C per batch item, so the layout does not matter —
 * W1 (Cr, C, 1, …), B1 (Cr), W2 (C, Cr, 1, …), B2 (C):
 *
 *   h[n, j] = activation(B1[j] + Σ_k W1[j, k] · P[n, k])
 *   Y[n, c] = gate_activation(B2[c] + Σ_j W2[c, j] · h[n, j])
 *
 * Y has P's shape. Under fp16 it computes like the convs it replaces: f16 operands, f32 sums.
 * Its meaning is exactly the two convs it replaces: the reference accumulates in
 * float64 and rounds h to the dtype, as the first conv stores its output.
 */
import { fromF64, toF64 } from '../../runtime/tensor.js';
import type { Attrs, NodeInfo, OpDef } from '../op.js';
import { fail, input } from '../op.js';
import { applyEpilogueActivation } from './activation.js';
import { checkActivation, checkOperand, paramCount } from './conv.js';
import { isArithFloat, sizeOf, type TensorType } from '../types.js';

/** The gate activation's attributes in the shape applyEpilogueActivation reads. */
const gateEpilogue = (a: Attrs): Attrs => ({ activation: a.gate_activation, act_alpha: a.gate_alpha, act_beta: a.gate_beta });

/** N, C and Cr of a node's input shapes (SHAPE_MISMATCH naming the node when they do not fit). */
export function seDims(node: NodeInfo): { N: number; C: number; Cr: number } {
  const p = input(node, 0).type.shape, w1 = input(node, 1).type.shape, w2 = input(node, 3).type.shape;
  if (p.length < 2) fail(node, 'SHAPE_MISMATCH', `pooled input must have a batch axis and channels, got [${p}]`, node.inputs[0]?.name);
  const N = p[0], C = sizeOf(p.slice(1));
  if (p.slice(1).filter((d) => d !== 1).length > 1) fail(node, 'SHAPE_MISMATCH', `pooled input [${p}] must be one vector per batch item`, node.inputs[0]?.name);
  const ones = (w: readonly number[]) => w.length >= 2 && w.slice(2).every((d) => d === 1);
  if (!ones(w1) || w1[1] !== C) fail(node, 'SHAPE_MISMATCH', `W1 [${w1}] must be (Cr, ${C}, 1, …)`, node.inputs[1]?.name);
  const Cr = w1[0];
  if (!ones(w2) || w2[0] !== C || w2[1] !== Cr) fail(node, 'SHAPE_MISMATCH', `W2 [${w2}] must be (${C}, ${Cr}, 1, …)`, node.inputs[3]?.name);
  return { N, C, Cr };
}

export const SQUEEZE_EXCITATION_OPS: OpDef[] = [{
  name: 'SqueezeExcitationGate',
  doc: 'the pooled-vector MLP of squeeze-and-excitation: gate_activation(W2·activation(W1·P + B1) + B2), one kernel',
  inputs: [5, 5],
  attrs: { activation: '', act_alpha: 0, act_beta: 0, gate_activation: '', gate_alpha: 0, gate_beta: 0 },
  traits: { category: 'matmul', fp16: 'compute' },
  infer(node): TensorType[] {
    const p = input(node, 0);
    if (!isArithFloat(p.type.dtype)) fail(node, 'DTYPE_MISMATCH', `expects a float input, got ${p.type.dtype}`, p.name);
    const { C, Cr } = seDims(node);
    checkOperand(node, 1, 'W1');
    checkOperand(node, 2, 'B1', [Cr]);
    checkOperand(node, 3, 'W2');
    checkOperand(node, 4, 'B2', [C]);
    checkActivation(node);
    checkActivation(node, 'gate_activation');
    return [{ dtype: p.type.dtype, shape: [...p.type.shape] }];
  },
  reference([p, w1, b1, w2, b2], attrs, [out]) {
    const N = p!.shape[0], C = sizeOf(p!.shape.slice(1)), Cr = w1!.shape[0];
    const [pv, w1v, b1v, w2v, b2v] = [p, w1, b1, w2, b2].map((t) => toF64(t!));
    const h = new Float64Array(N * Cr), y = new Float64Array(N * C);
    for (let n = 0; n < N; n++) {
      for (let j = 0; j < Cr; j++) {
        let acc = b1v[j];
        for (let k = 0; k < C; k++) acc += w1v[j * C + k] * pv[n * C + k];
        h[n * Cr + j] = acc;
      }
    }
    applyEpilogueActivation(h, attrs);
    const hr = toF64(fromF64(out.dtype, [N * Cr], h)); // stored in the dtype, as the first conv's output was
    for (let n = 0; n < N; n++) {
      for (let c = 0; c < C; c++) {
        let acc = b2v[c];
        for (let j = 0; j < Cr; j++) acc += w2v[c * Cr + j] * hr[n * Cr + j];
        y[n * C + c] = acc;
      }
    }
    applyEpilogueActivation(y, gateEpilogue(attrs));
    return [fromF64(out.dtype, out.shape, y)];
  },
  cost(node) {
    const { N, C, Cr } = seDims(node);
    return { flops: 2 * 2 * N * C * Cr, params: paramCount(node, [1, 2, 3, 4]) };
  },
}];
