/**
 * Matrix products: Gemm (with the fused epilogue: bias C, residual R, activation) and
 * MatMul (numpy semantics: batched, broadcast batch dims, 1-D operands promoted).
 */
import { toF64, type DType, type Tensor } from '../../runtime/tensor.js';
import type { NodeInfo, OpDef } from '../op.js';
import { attrFloat, attrInt, attrString, fail, input } from '../op.js';
import { sizeOf } from '../types.js';
import { ACTIVATION_KINDS, EPILOGUE_ATTRS, applyEpilogueActivation } from './activation.js';
import { broadcastIndex, broadcastShapes, broadcastsTo, intAttr } from './broadcast.js';
import { store } from './elementwise.js';

const MATMUL_DTYPES: readonly DType[] = ['f32', 'f16', 'i32', 'i64'];

function checkSameDtype(node: NodeInfo, i: number): void {
  const a = input(node, 0);
  const x = input(node, i);
  if (!MATMUL_DTYPES.includes(x.type.dtype)) fail(node, 'DTYPE_MISMATCH', `does not take ${x.type.dtype}`, x.name);
  if (x.type.dtype !== a.type.dtype) fail(node, 'DTYPE_MISMATCH', `dtype ${x.type.dtype} differs from ${a.type.dtype} of '${a.name}'`, x.name);
}

/** Gemm's M, K, N after transposition flags. */
function gemmDims(node: NodeInfo): { m: number; k: number; n: number } {
  const a = input(node, 0);
  const b = input(node, 1);
  for (const x of [a, b]) if (x.type.shape.length !== 2) fail(node, 'SHAPE_MISMATCH', `must be 2-D, got [${x.type.shape}]`, x.name);
  const [m, k] = intAttr(node, 'transA') ? [a.type.shape[1], a.type.shape[0]] : a.type.shape;
  const [kb, n] = intAttr(node, 'transB') ? [b.type.shape[1], b.type.shape[0]] : b.type.shape;
  if (k !== kb) fail(node, 'SHAPE_MISMATCH', `inner dimensions differ: A gives K=${k}, B gives K=${kb}`, b.name);
  return { m, k, n };
}

const Gemm: OpDef = {
  name: 'Gemm',
  traits: { category: 'matmul', fp16: 'compute' },
  doc: 'act(alpha·A′·B′ + beta·C + R), A′/B′ optionally transposed; C broadcasts to (M, N)',
  inputs: [2, 4],
  attrs: { alpha: 1, beta: 1, transA: 0, transB: 0, ...EPILOGUE_ATTRS },
  infer(node) {
    const { m, n } = gemmDims(node);
    for (let i = 1; i < node.inputs.length; i++) if (node.inputs[i]) checkSameDtype(node, i);
    for (const i of [2, 3]) {
      const x = node.inputs[i];
      if (x && !broadcastsTo(x.type.shape, [m, n])) {
        fail(node, 'SHAPE_MISMATCH', `${i === 2 ? 'bias C' : 'residual R'} [${x.type.shape}] does not broadcast to [${m},${n}]`, x.name);
      }
    }
    const act = attrString(node.attrs, 'activation', node);
    if (!ACTIVATION_KINDS.includes(act as never)) fail(node, 'BAD_ATTRIBUTE', `unknown activation '${act}'`);
    return [{ dtype: input(node, 0).type.dtype, shape: [m, n] }];
  },
  reference([a, b, c, r], attrs, [out]) {
    const [m, n] = out.shape;
    const ta = attrInt(attrs, 'transA') !== 0;
    const tb = attrInt(attrs, 'transB') !== 0;
    const alpha = attrFloat(attrs, 'alpha');
    const beta = attrFloat(attrs, 'beta');
    const A = toF64(a as Tensor);
    const B = toF64(b as Tensor);
    const k = ta ? (a as Tensor).shape[0] : (a as Tensor).shape[1];
    const y = new Float64Array(m * n);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += A[ta ? p * m + i : i * k + p] * B[tb ? j * k + p : p * n + j];
        y[i * n + j] = alpha * s;
      }
    }
    for (const [t, scale] of [[c, beta], [r, 1]] as const) {
      if (!t) continue;
      const v = toF64(t);
      const idx = broadcastIndex(t.shape, out.shape);
      for (let q = 0; q < y.length; q++) y[q] += scale * v[idx[q]];
    }
    applyEpilogueActivation(y, attrs);
    return [store(out.dtype, out.shape, y)];
  },
  cost(node, [out]) {
    const { k } = gemmDims(node);
    return { flops: 2 * sizeOf(out.shape) * k };
  },
};

/** MatMul shapes: operands promoted to ≥2-D, batch dims broadcast, promoted axes dropped again. */
function matmulShapes(node: NodeInfo) {
  const a = input(node, 0);
  const b = input(node, 1);
  const sa = a.type.shape, sb = b.type.shape;
  for (const x of [a, b]) if (x.type.shape.length === 0) fail(node, 'SHAPE_MISMATCH', 'operand must have rank ≥ 1', x.name);
  const pa = sa.length === 1 ? [1, sa[0]] : [...sa];
  const pb = sb.length === 1 ? [sb[0], 1] : [...sb];
  const [m, k] = pa.slice(-2);
  const [kb, n] = pb.slice(-2);
  if (k !== kb) fail(node, 'SHAPE_MISMATCH', `inner dimensions differ: [${sa}] × [${sb}]`, b.name);
  const batch = broadcastShapes(pa.slice(0, -2), pb.slice(0, -2));
  if (!batch) fail(node, 'SHAPE_MISMATCH', `batch dimensions of [${sa}] and [${sb}] do not broadcast`, b.name);
  const shape = [...batch, ...(sa.length === 1 ? [] : [m]), ...(sb.length === 1 ? [] : [n])];
  return { pa, pb, batch, m, k, n, shape };
}

const MatMul: OpDef = {
  name: 'MatMul',
  traits: { category: 'matmul', fp16: 'compute' },
  doc: 'matrix product with numpy semantics (batched, broadcast, 1-D operands promoted)',
  inputs: [2, 2],
  attrs: {},
  infer(node) {
    checkSameDtype(node, 0);
    checkSameDtype(node, 1);
    return [{ dtype: input(node, 0).type.dtype, shape: matmulShapes(node).shape }];
  },
  reference([a, b], _attrs, [out]) {
    const info: NodeInfo = { name: 'MatMul', op: 'MatMul', attrs: {}, inputs: [a, b].map((t, i) => ({ name: `${i}`, type: t as Tensor })) };
    const { pa, pb, batch, m, k, n } = matmulShapes(info);
    const A = toF64(a as Tensor);
    const B = toF64(b as Tensor);
    // Offsets of each batch's matrix in A and B (broadcast over the batch dims).
    const nb = sizeOf(batch);
    const offA = broadcastIndex(pa.slice(0, -2), batch);
    const offB = broadcastIndex(pb.slice(0, -2), batch);
    const y = new Float64Array(nb * m * n);
    for (let q = 0; q < nb; q++) {
      const oa = offA[q] * m * k, ob = offB[q] * k * n, oy = q * m * n;
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let p = 0; p < k; p++) s += A[oa + i * k + p] * B[ob + p * n + j];
          y[oy + i * n + j] = s;
        }
      }
    }
    return [store(out.dtype, out.shape, y)];
  },
  cost(node) {
    const { batch, m, k, n } = matmulShapes(node);
    return { flops: 2 * sizeOf(batch) * m * k * n };
  },
};

export const MATMUL_OPS: OpDef[] = [Gemm, MatMul];
