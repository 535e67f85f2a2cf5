/**
 * What the cuda target can lower: `supportsOp` per op (for the ops × targets table) and `supports`
 * per node (modes, dtypes, shapes). Each answers undefined when it can, else the reason it cannot,
 * which compile() reports for every node at fault before any code is emitted. Both read the
 * generator table (codegen/cuda/lower.ts); the per-node reasons are the messages the generators
 * throw for the same nodes (test/cuda-supports.test.ts checks they agree).
 */
import { elementwiseDtypes, epilogueScalar, opScalar } from '../c-like.js';
import type { Graph, Node } from '../../ir/graph.js';
import { CnncError } from '../../runtime/errors.js';
import type { DType } from '../../runtime/tensor.js';
import { conv, convTranspose, fusedDwPw } from './conv.js';
import { floatKernelDtype } from './emit.js';
import { generatorOf } from './lower.js';
import { gemm, matmul } from './matmul.js';
import { concat, dynamicGather, gather } from './movement.js';
import { BITS_ONLY, batchNorm, cast, castReason, elementwise, fusedElementwise, typedFormula, instanceNorm, layerNorm, channelLayerNorm, lrn, reduce, softmax } from './pointwise.js';
import { globalPool, pool } from './pool.js';
import { resize, resizeReason } from './resize.js';
import { SE_MAX_HIDDEN, squeezeExcitationGate } from './squeeze-excitation.js';
import { dequantizeLinear, matmulInteger, quantizeLinear } from './quant.js';
import { quantReason } from '../quant.js';

/** Dtypes a kernel argument may have (codegen/cuda/emit.ts `ctype`). */
const C_DTYPES: readonly DType[] = ['f32', 'f16', 'f64', 'i8', 'i16', 'i32', 'i64', 'u8', 'u16', 'u32', 'u64', 'bool', ...BITS_ONLY];
const FLOAT: readonly DType[] = ['f32', 'f16'];

type Gen = NonNullable<ReturnType<typeof generatorOf>>;
type Check = (node: Node, graph: Graph) => string | undefined;

/** Generators that compute in f32 (f16 storage): their output must be a float (emit.ts `checkFloat`). */
const FLOAT_KERNELS = new Set<Gen>([fusedElementwise, conv, convTranspose, fusedDwPw, gemm, matmul, squeezeExcitationGate, pool, globalPool, batchNorm, softmax, layerNorm, channelLayerNorm, reduce, instanceNorm, lrn]);

const notFloat = (op: string, d: DType) => `the CUDA target computes ${op} in f32 or f16, not ${d}`;

/** The reason the epilogue activation (`dw_activation` with prefix 'dw') has no formula. */
const epilogue = (prefix = ''): Check => (node) => {
  try { epilogueScalar(node.attrs, {}, prefix); } catch (e) { return (e as CnncError).message; }
  return undefined;
};

/** The gather kernel's conditions: an index table under 2^24 elements from constant side inputs. */
function gatherCheck(n: Node, g: Graph): string | undefined {
  if (dynamicGather(n.op, n.inputs[1], (v) => !!g.constValue(v))) return undefined;
  const elems = g.type(n.inputs[0]).shape.reduce((p, q) => p * q, 1);
  if (elems >= 1 << 24) return `${n.op} input of ${elems} elements is too large for the CUDA gather kernel`;
  const i = n.inputs.findIndex((v, k) => k > 0 && v && !g.constValue(v));
  return i > 0 ? `${n.op} input ${i} must be a constant for the CUDA target` : undefined;
}

/** Per-generator conditions beyond dtypes: what each throws for a node it cannot lower. */
const CHECKS = new Map<Gen, Check>([
  [conv, epilogue()], [convTranspose, epilogue()], [gemm, epilogue()],
  [fusedDwPw, (n, g) => epilogue()(n, g) ?? epilogue('dw')(n, g)],
  [squeezeExcitationGate, (n, g) => epilogue()(n, g) ?? epilogue('gate')(n, g)
    ?? (g.type(n.inputs[1]).shape[0] > SE_MAX_HIDDEN ? `${g.type(n.inputs[1]).shape[0]} hidden units exceed the CUDA SE kernel's shared memory (${SE_MAX_HIDDEN})` : undefined)],
  [pool, (n) => (n.outputs[1] ? 'MaxPool Indices output is not supported by the CUDA target' : undefined)],
  [layerNorm, (n) => (n.outputs.slice(1).some(Boolean) ? 'LayerNormalization mean/inv-std outputs are not supported by the CUDA target' : undefined)],
  [cast, (n, g) => castReason(g.type(n.inputs[0]).dtype, g.type(n.outputs[0]).dtype)],
  [gather, gatherCheck],
  [resize, (n, g) => (n.attrs.mode === 'nearest' ? gatherCheck(n, g) : resizeReason(g.type(n.outputs[0]).dtype))],
  [quantizeLinear, quantReason], [dequantizeLinear, quantReason], [matmulInteger, quantReason],
  [elementwise, (n, g) => {
    if ([n.outputs[0], ...n.inputs].some((v) => !FLOAT.includes(g.type(v).dtype))) {
      try { typedFormula(n, g); } catch (e) { return (e as CnncError).message.replace(/^UNSUPPORTED: /, ''); }
      return undefined;
    }
    return opScalar(n.op, n.attrs, n.inputs.length) ? undefined : `no CUDA kernel for ${n.op} (it has no scalar formula)`;
  }],
]);

/** Why the cuda target has no kernel for op `op` at all, or undefined when it lowers the op (in some modes). */
export function supportsOp(op: string): string | undefined {
  const gen = generatorOf(op);
  if (!gen) return `no CUDA kernel for op ${op}`;
  if (gen === elementwise && !elementwiseDtypes(op, C_DTYPES).length) return `${op} computes on none of the CUDA target's dtypes`;
  return undefined;
}

/** Why the cuda target cannot lower `node` of `graph`, or undefined when it can. */
export function supports(node: Node, graph: Graph): string | undefined {
  const gen = generatorOf(node.op);
  if (!gen) return `no CUDA kernel for op ${node.op}`;
  const y = graph.type(node.outputs[0]).dtype;
  if (FLOAT_KERNELS.has(gen) && !floatKernelDtype(y, node.op)) return notFloat(node.op, y);
  const why = CHECKS.get(gen)?.(node, graph);
  if (why) return why;
  // the values every kernel passes as arguments: input 0 and the outputs (Concat: every input)
  const args = [gen === concat ? node.inputs : node.inputs.slice(0, 1), node.outputs].flat().filter(Boolean);
  const bad = args.map((v) => graph.type(v).dtype).find((d) => !C_DTYPES.includes(d));
  return bad ? `the CUDA target has no ${bad} type` : undefined;
}
