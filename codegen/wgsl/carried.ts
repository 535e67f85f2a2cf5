/**
 * Which nodes may compute on the dtypes WGSL lacks and the wgsl target carries in 32-bit buffers
 * (emit.ts bufferDType): u64 in u32, f64 in f32. The carrier is exact only while the values fit,
 * so a node is accepted when its result provably stays what the carrier can hold:
 *
 * - u64: the inputs fit in u32 (constants checked at compile time, inputs by the runtime); an op
 *   whose result is one of its inputs' values, or no larger (Max, Min, Div, movement), keeps them
 *   in range. Add, Sub, Mul, Sum, Pow can leave it (u64 Sub wraps to 2^64 − k): refused.
 * - f64: each value is rounded to f32 once, at the boundary (runtime) or at compile time
 *   (constants): within 2^-24 ≈ 6e-8 relatively, inside the f64 tolerance cnnc checks against
 *   the float64 reference (rtol 1e-7). Ops whose result is one of their inputs' values keep that
 *   bound exactly (rounding is monotonic, so max(fl(a), fl(b)) = fl(max(a, b))). f32 arithmetic
 *   would add its own rounding (a sum of two rounded values can be off by far more than 1e-7
 *   relatively under cancellation), and a comparison or a cast to an integer can flip on the
 *   rounding: those are refused by name rather than answered in f32.
 * - i64 as i32: a Cast from u32/u64 can produce values of 2^31 and more: refused. Elementwise ops
 *   that can grow (Add, Mul, Pow, a Cast from a float…) check their results at run time
 *   (kernels/elementwise.ts: OUT_OF_RANGE rather than a wrapped value). Sums and products in
 *   the f32 kernels (reductions, pools, matmuls, convs, norms) would round beyond 2^24 unchecked:
 *   refused on i32/u32/i64/u64 data (sums also on the narrow integers; max/min of 8/16-bit values is exact).
 */
import type { Graph, Node } from '../../ir/graph.js';
import type { DType } from '../../runtime/tensor.js';
import { ALIAS_OPS } from './emit.js';

/** Ops that only move, select or copy values: their result is one of their inputs' values. */
const MOVES = ['Expand', 'Concat', 'Transpose', 'Slice', 'Split', 'Gather', 'Pad', 'Tile', 'DepthToSpace', 'SpaceToDepth', 'Where', 'Identity'];
const SELECTS = ['Max', 'Min', 'Clip', 'Relu', 'ReduceMax', 'ReduceMin', 'MaxPool', 'GlobalMaxPool'];

/** Ops that may produce f64 or read f64 data (Shape and Size read only the shape). */
const F64_OPS = new Set([...ALIAS_OPS, ...MOVES, ...SELECTS, 'Abs', 'Neg', 'Cast', 'CastLike', 'Shape', 'Size']);

/** Ops that may produce u64 (their result is no larger than their inputs' values). */
const U64_OPS = new Set([...ALIAS_OPS, ...MOVES, ...SELECTS, 'Abs', 'Div', 'Cast', 'CastLike']);

/**
 * Ops whose wgsl kernels load every value as f32 and compute in f32, whatever the dtype (no
 * integer form, no range check): exact on integers only while values (selects) or sums stay
 * below 2^24.
 */
const F32_SELECTS = new Set(['ReduceMax', 'ReduceMin', 'MaxPool', 'GlobalMaxPool']);
const F32_ACCUMULATORS = new Set([
  'ReduceSum', 'ReduceMean', 'MatMul', 'Gemm', 'Conv', 'ConvTranspose', 'FusedDwPw', 'AveragePool', 'GlobalAveragePool',
  'BatchNormalization', 'Softmax', 'LogSoftmax', 'LayerNormalization', 'ChannelLayerNorm', 'InstanceNormalization', 'LRN', 'Resize',
]);
/** Integer dtypes whose values can reach 2^24 and beyond (f32 holds every 8- and 16-bit value exactly). */
const WIDE_INTS: readonly DType[] = ['i32', 'u32', 'i64', 'u64'];
const NARROW_INTS: readonly DType[] = ['i16', 'u16', 'i8', 'u8', 'i4', 'u4', 'i2', 'u2', 'bool'];

const FLOATS: readonly DType[] = ['f32', 'f16', 'f64'];
const UNSIGNED: readonly DType[] = ['u64', 'u32', 'u16', 'u8', 'u4', 'u2', 'bool'];

/** Why the wgsl target's 32-bit carriers cannot hold `node`'s values exactly enough, or undefined. */
export function carrierMisfit(node: Node, graph: Graph): string | undefined {
  const dt = (v: string) => graph.type(v).dtype;
  const ins = node.inputs.filter(Boolean).map(dt), outs = node.outputs.filter(Boolean).map(dt);
  const cast = node.op === 'Cast' || node.op === 'CastLike';
  if ([...ins, ...outs].includes('f64')) {
    if (!F64_OPS.has(node.op)) return `f64 ${node.op} would compute in f32 (WGSL has no f64; the wgsl target carries f64 values in f32 and takes f64 only in ops whose result is one of their inputs' values)`;
    if (cast && ins[0] === 'f64' && !FLOATS.includes(outs[0])) return `Cast from f64 to ${outs[0]}: the f32 the wgsl target carries f64 in could round across an integer`;
  }
  if (outs.includes('u64')) {
    if (!U64_OPS.has(node.op) || (cast && !UNSIGNED.includes(ins[0]))) {
      return `u64 ${cast ? `Cast from ${ins[0]}` : node.op} can leave the u32 range the wgsl target carries u64 in`;
    }
  }
  const data = node.inputs[0] ? dt(node.inputs[0]) : outs[0];
  if ((F32_SELECTS.has(node.op) || F32_ACCUMULATORS.has(node.op)) && WIDE_INTS.includes(data)) {
    return `${data} ${node.op} would compute in f32 on the wgsl target (integers exact only below 2^24)`;
  }
  if (F32_ACCUMULATORS.has(node.op) && NARROW_INTS.includes(data)) {
    return `${data} ${node.op} would sum in f32 on the wgsl target (exact only below 2^24; no integer kernel)`;
  }
  if (cast && outs[0] === 'i64' && (ins[0] === 'u32' || ins[0] === 'u64')) {
    return `Cast from ${ins[0]} to i64: values of 2^31 and more do not fit the i32 the wgsl target carries i64 in`;
  }
  return undefined;
}
