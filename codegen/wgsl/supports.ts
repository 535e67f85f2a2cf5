/**
 * What the wgsl target can lower: `supportsOp` per op (for the ops × targets table) and `supports`
 * per node (modes, dtypes, shapes). Each answers undefined when it can, else the reason it cannot,
 * which compile() reports for every node at fault before any code is emitted. Both read the
 * generator table (codegen/wgsl/generators.ts); the per-node reasons are the messages the generators
 * throw for the same nodes (test/wgsl-supports.test.ts checks they agree).
 */
import { elementwiseDtypes, epilogueScalar, opScalar } from '../c-like.js';
import type { Graph, Node } from '../../ir/graph.js';
import { CnncError } from '../../runtime/errors.js';
import type { DType } from '../../runtime/tensor.js';
import { sizeOf } from '../../ir/types.js';
import { ALIAS_OPS, constantMisfit } from './emit.js';
import { carrierMisfit } from './carried.js';
import { generatorFor, type Generator } from './generators.js';
import { emitGemm } from './kernels/linear.js';
import { emitConv, emitConvTranspose, emitFusedDwPw } from './kernels/conv.js';
import { emitSqueezeExcitationGate, seReason } from './kernels/squeeze-excitation.js';
import { emitElementwise, emitFusedElementwise, MAX_ELEMENTWISE_INPUTS, tooManyInputs } from './kernels/elementwise.js';
import { emitLayerNorm } from './kernels/norm.js';
import { emitGather, emitIndexMap, emitPad, emitResize } from './kernels/movement.js';
import { emitPool } from './kernels/pool.js';
import { bitCastReason, emitCast } from './kernels/cast.js';
import { BIT_FLOATS, isBitFloat } from '../minifloat.js';
import { emitDequantizeLinear, emitMatMulInteger, emitQuantizeLinear } from './kernels/quant.js';
import { quantReason } from '../quant.js';

/**
 * Dtypes the wgsl target has buffers for: i64, the narrow integers and bool are carried in i32
 * buffers, u64 in u32, f64 in f32 (carried.ts says which ops take u64 and f64); bf16 and the 8-
 * and 4-bit floats as their codes in i32, in Cast only.
 */
const BUFFER_DTYPES: readonly DType[] = ['f32', 'f16', 'i32', 'i64', 'u8', 'i8', 'u16', 'i16', 'u4', 'i4', 'u2', 'i2', 'bool', 'u32', 'u64', 'f64', ...BIT_FLOATS];

type Check = (node: Node, graph: Graph) => string | undefined;

const spatial: Check = (node, graph) => {
  const rank = graph.type(node.inputs[0]).shape.length;
  return rank === 3 || rank === 4 ? undefined : `the wgsl target handles 1-D and 2-D spatial ops, not ${rank - 2}-D`;
};

/** Conv, ConvTranspose and pooling: 1-D, 2-D and 3-D (window3d.ts). */
const spatial3: Check = (node, graph) => {
  const rank = graph.type(node.inputs[0]).shape.length;
  return rank >= 3 && rank <= 5 ? undefined : `the wgsl target handles 1-D to 3-D spatial ops, not ${rank - 2}-D`;
};

/** The reason an epilogue activation (activation / dw_activation / gate_activation) has no formula. */
const epilogues: Check = (node) => {
  for (const prefix of ['', 'dw', 'gate']) {
    if (node.attrs[prefix ? `${prefix}_activation` : 'activation'] === undefined) continue;
    try { epilogueScalar(node.attrs, {}, prefix); } catch (e) { return (e as CnncError).message; }
  }
  return undefined;
};

const both = (...cs: Check[]): Check => (n, g) => cs.reduce<string | undefined>((why, c) => why ?? c(n, g), undefined);

/** Per-generator conditions beyond dtypes: what each throws for a node it cannot lower. */
const CHECKS = new Map<Generator, Check>([
  [emitConv, both(spatial3, epilogues, (n, g) => (n.inputs[4] && g.type(n.inputs[0]).shape.length === 5 ? 'the wgsl target scales conv inputs on load in 1-D and 2-D convs only' : undefined))],
  [emitConvTranspose, both(spatial3, epilogues)],
  [emitFusedDwPw, both(spatial, epilogues)],
  [emitGemm, epilogues],
  [emitSqueezeExcitationGate, (n, g) => epilogues(n, g) ?? seReason(g.type(n.inputs[0]).shape[0], g.type(n.inputs[1]).shape[0])],
  [emitPool, both(spatial3, (n) => (n.outputs[1] ? 'MaxPool indices output is not supported on wgsl' : undefined))],
  [emitLayerNorm, (n) => (n.outputs.slice(1).some(Boolean) ? 'LayerNormalization mean/inv_std outputs are not supported on wgsl' : undefined)],
  [emitPad, (n) => {
    const mode = String(n.attrs.mode ?? 'constant');
    return ['constant', 'edge', 'reflect', 'wrap'].includes(mode) ? undefined : `Pad mode '${mode}' is not supported on wgsl`;
  }],
  [emitResize, (n, g) => {
    const mode = String(n.attrs.mode ?? 'nearest'), d = g.type(n.inputs[0]).dtype;
    if (mode !== 'nearest' && d !== 'f32' && d !== 'f16') return `Resize ${mode} on ${d} is not supported on wgsl (float tensors only)`;
    const v = n.inputs.slice(1).find((x) => x && !g.constValue(x));
    return v ? `input '${v}' must be a constant on wgsl` : undefined;
  }],
  [emitIndexMap, (n, g) => {
    if (sizeOf(g.type(n.inputs[0]).shape) >= 2 ** 31) return `${n.op} input has more elements than the wgsl index table holds`;
    const v = n.inputs.slice(1).find((x) => x && !g.constValue(x));
    return v ? `input '${v}' must be a constant on wgsl` : undefined;
  }],
  [emitGather, (n, g) => (['i32', 'i64'].includes(g.type(n.inputs[1]).dtype) ? undefined : 'Gather indices must be integers')],
  [emitCast, (n, g) => bitCastReason(g.type(n.inputs[0]).dtype, g.type(n.outputs[0]).dtype)],
  [emitQuantizeLinear, (n, g) => quantReason(n, g)
    ?? (g.type(n.inputs[0]).dtype === 'f32' ? undefined : 'QuantizeLinear of i32 has no wgsl kernel (f32 x only: no f64 for the exact quotient)')],
  [emitDequantizeLinear, quantReason],
  [emitMatMulInteger, quantReason],
  [emitFusedElementwise, (n, g) => {
    const live = n.inputs.filter((v) => { const t = g.constValue(v); return !(t && t.dtype === 'f32' && sizeOf(t.shape) === 1); }).length;
    const k = live + n.outputs.length;
    return k > MAX_ELEMENTWISE_INPUTS + 1 ? `${k} buffers (inputs and outputs) are more than the wgsl elementwise kernel binds (${MAX_ELEMENTWISE_INPUTS + 1})` : undefined;
  }],
  [emitElementwise, (n, g) => {
    const k = n.inputs.filter(Boolean).length;
    return tooManyInputs(n, g) ?? (opScalar(n.op, n.attrs, k) ? undefined : `op ${n.op} has no scalar formula for the wgsl elementwise kernel`);
  }],
]);

/** Why the wgsl target has no kernel for op `op` at all, or undefined when it lowers the op (in some modes). */
export function supportsOp(op: string): string | undefined {
  if (ALIAS_OPS.has(op)) return undefined;
  const gen = generatorFor({ name: op, op, inputs: [], outputs: [], attrs: {} });
  if (!gen) return `no wgsl kernel for ${op}`;
  if (gen === emitElementwise && !elementwiseDtypes(op, BUFFER_DTYPES).length) {
    return `${op} computes on no dtype the wgsl target has buffers for (${BUFFER_DTYPES.join(', ')})`;
  }
  return undefined;
}

/** Why the wgsl target cannot lower `node` of `graph`, or undefined when it can. */
export function supports(node: Node, graph: Graph): string | undefined {
  if (ALIAS_OPS.has(node.op)) return undefined;
  const gen = generatorFor(node);
  if (!gen) return `no wgsl kernel for ${node.op}`;
  for (const v of [...node.inputs, ...node.outputs]) {
    if (!v) continue;
    const d = graph.type(v).dtype;
    if (!BUFFER_DTYPES.includes(d)) return `the wgsl target has no ${d} buffers`;
    if (isBitFloat(d) && gen !== emitCast) return `the wgsl target converts ${d} only in Cast`;
    const c = graph.constValue(v);
    const misfit = c && constantMisfit(c);
    if (misfit) return `${d} constant '${v}' ${misfit}`;
  }
  return carrierMisfit(node, graph) ?? CHECKS.get(gen)?.(node, graph);
}
