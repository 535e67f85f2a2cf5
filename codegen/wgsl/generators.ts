/**
 * The wgsl target's generator table: which kernel generator lowers each op. Ops with a scalar
 * formula (`traits.scalar`) and no entry here go to the elementwise kernel, which renders it.
 */
import type { Node } from '../../ir/graph.js';
import { getOp, hasOp } from '../../ir/ops/index.js';
import type { Emitter } from './emit.js';
import { emitConv, emitConvTranspose, emitFusedDwPw } from './kernels/conv.js';
import { emitBatchNorm, emitCopyOp, emitElementwise, emitFusedElementwise } from './kernels/elementwise.js';
import { emitCast } from './kernels/cast.js';
import { emitGemm, emitMatMul } from './kernels/linear.js';
import { emitConcat, emitGather, emitIndexMap, emitKnownValue, emitPad, emitResize, emitSlice, emitSplit, emitTranspose } from './kernels/movement.js';
import { emitChannelLayerNorm, emitInstanceNorm, emitLayerNorm, emitLRN, emitSoftmax } from './kernels/norm.js';
import { emitGlobalPool, emitPool, emitReduce, type Reducer } from './kernels/pool.js';
import { emitSqueezeExcitationGate } from './kernels/squeeze-excitation.js';
import { emitConvInteger, emitDequantizeLinear, emitDynamicQuantizeLinear, emitMatMulInteger, emitQConv, emitQGemm, emitQuantizeLinear } from './kernels/quant.js';

const REDUCERS: Record<string, Reducer> = { ReduceMean: 'mean', ReduceSum: 'sum', ReduceMax: 'max', ReduceMin: 'min' };

export type Generator = (e: Emitter, node: Node) => void;

/** Each op's kernel generator (ops with a scalar formula not listed here use emitElementwise). */
export const GENERATORS: Readonly<Record<string, Generator>> = {
  Conv: emitConv,
  ConvTranspose: emitConvTranspose,
  FusedDwPw: emitFusedDwPw,
  Gemm: emitGemm,
  MatMul: emitMatMul,
  SqueezeExcitationGate: emitSqueezeExcitationGate,
  MaxPool: emitPool,
  AveragePool: emitPool,
  GlobalAveragePool: emitGlobalPool,
  GlobalMaxPool: emitGlobalPool,
  BatchNormalization: emitBatchNorm,
  FusedElementwise: emitFusedElementwise,
  Concat: emitConcat,
  Transpose: emitTranspose,
  Slice: emitSlice,
  Split: emitSplit,
  Pad: emitPad,
  Gather: emitGather,
  Resize: emitResize,
  Softmax: emitSoftmax,
  LogSoftmax: emitSoftmax,
  LayerNormalization: emitLayerNorm,
  ChannelLayerNorm: emitChannelLayerNorm,
  InstanceNormalization: emitInstanceNorm,
  LRN: emitLRN,
  Expand: emitCopyOp,
  Cast: emitCast,
  CastLike: emitCast,
  Tile: emitIndexMap,
  DepthToSpace: emitIndexMap,
  SpaceToDepth: emitIndexMap,
  Shape: emitKnownValue,
  Size: emitKnownValue,
  QuantizeLinear: emitQuantizeLinear,
  DequantizeLinear: emitDequantizeLinear,
  DynamicQuantizeLinear: emitDynamicQuantizeLinear,
  ConvInteger: emitConvInteger,
  QLinearConv: emitConvInteger,
  QConv: emitQConv,
  MatMulInteger: emitMatMulInteger,
  QLinearMatMul: emitMatMulInteger,
  QGemm: emitQGemm,
};

/** The generator that lowers `node`, or undefined when the target has none for its op. */
export function generatorFor(node: Node): Generator | undefined {
  const gen = GENERATORS[node.op];
  if (gen) return gen;
  if (REDUCERS[node.op]) {
    return (e, n) => {
      const rank = e.graph.type(n.inputs[0]).shape.length;
      const given = (n.attrs.axes as number[] | undefined) ?? [];
      const axes = given.length ? given.map((a) => (a < 0 ? a + rank : a))
        : Number(n.attrs.noop_with_empty_axes ?? 0) ? [] : Array.from({ length: rank }, (_, k) => k);
      if (!axes.length) return emitCopyOp(e, n);
      emitReduce(e, n, axes, REDUCERS[n.op]);
    };
  }
  // every op with a scalar formula: its traits.scalar rendered by the elementwise kernel
  if (hasOp(node.op) && getOp(node.op).traits.scalar) return emitElementwise;
  return undefined;
}
