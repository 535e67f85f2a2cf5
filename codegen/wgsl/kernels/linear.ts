/** Gemm (with its fused epilogue) and batched MatMul on the GEMM template. */
import { CnncError } from '../../../runtime/errors.js';
import type { Node } from '../../../ir/graph.js';
import { sizeOf } from '../../../ir/types.js';
import { epilogueScalar } from '../../c-like.js';
import { wgslRenderer } from '../scalar.js';
import type { Emitter, Operand } from '../emit.js';
import { f, u, type Binding } from '../kernel.js';
import { opt } from './common.js';
import { broadcastIndexExpr } from './elementwise.js';
import { matmulBody } from './matmul.js';

/**
 * Gemm(A, B, C?, R?): Y = act(alpha·A'·B' + beta·C + R), A' and B' transposed as asked. A constant
 * B larger than one storage binding (VGG's and AlexNet's first FC layers) is split into column
 * blocks, one kernel each, writing its columns of Y.
 */
export function emitGemm(e: Emitter, node: Node): void {
  const A = e.operand(node.inputs[0]), Y = e.operand(node.outputs[0]);
  const bt = Number(node.attrs.transB ?? 0) !== 0;
  const [, N] = Y.shape;
  const bType = e.graph.type(node.inputs[1]);
  const K = bt ? bType.shape[1] : bType.shape[0];
  const bytes = sizeOf(bType.shape) * (bType.dtype === 'f16' ? 2 : 4);
  const bc = e.graph.constValue(node.inputs[1]);
  const blocks = bc && bytes > e.limits.maxStorageBufferBindingSize ? Math.ceil(bytes / e.limits.maxStorageBufferBindingSize) + 1 : 1;
  // (the whole B gets a buffer only when it is not split: operand() makes one)
  if (blocks === 1) return gemmBlock(e, node, A, e.operand(node.inputs[1]), Y, 0, N, '');
  const B = { name: node.inputs[1], dtype: bType.dtype === 'f16' ? 'f16' as const : 'f32' as const, shape: bType.shape, buffer: -1 };
  const per = Math.ceil(N / blocks);
  for (let n0 = 0; n0 < N; n0 += per) {
    const n1 = Math.min(N, n0 + per), w = n1 - n0;
    const src = bc!.data as Float32Array;
    const data = new (src.constructor as Float32ArrayConstructor)(K * w);
    for (let k = 0; k < K; k++) {
      for (let j = 0; j < w; j++) data[bt ? j * K + k : k * w + j] = src[bt ? (n0 + j) * K + k : k * N + n0 + j];
    }
    const shape = bt ? [w, K] : [K, w];
    const buffer = e.weight({ dtype: bc!.dtype, shape, data }, `${node.inputs[1]}[${n0}:${n1}]`);
    gemmBlock(e, node, A, { ...B, shape, buffer }, Y, n0, w, `cols${n0}`);
  }
}

/** Columns [n0, n0 + cols) of a Gemm, B holding just those columns. */
function gemmBlock(e: Emitter, node: Node, A: Operand, B: Operand, Y: Operand, n0: number, cols: number, name: string): void {
  const at = Number(node.attrs.transA ?? 0) !== 0, bt = Number(node.attrs.transB ?? 0) !== 0;
  const alpha = Number(node.attrs.alpha ?? 1), beta = Number(node.attrs.beta ?? 1);
  const [M, N] = Y.shape;
  const K = at ? A.shape[0] : A.shape[1];
  const c = opt(node, 2), r = opt(node, 3);
  const bindings: Binding[] = [e.read('A', A), e.read('W', B)];
  if (c) bindings.push(e.read('C', e.operand(c)));
  if (r) bindings.push(e.read('R', e.operand(r)));
  bindings.push(e.write('Y', Y));
  const rr = wgslRenderer();
  const act = rr.render(epilogueScalar(node.attrs, { node: node.name, op: node.op }), ['v']);
  const fns = `${rr.helpers()}
fn loadL(z: u32, r: u32, k: u32) -> f32 { return f32(A[${at ? `k * ${u(M)} + r` : `r * ${u(K)} + k`}]); }
fn loadR(z: u32, k: u32, c: u32) -> f32 { return f32(W[${bt ? `c * ${u(K)} + k` : `k * ${u(cols)} + c`}]); }
fn store(z: u32, r: u32, cb: u32, acc: f32) {
  let c = cb + ${u(n0)};
  let yi = r * ${u(N)} + c;
  var v = ${alpha === 1 ? 'acc' : `${f(alpha)} * acc`};
  ${c ? `v += ${beta === 1 ? '' : `${f(beta)} * `}f32(C[${broadcastIndexExpr(e.graph.type(c).shape, [M, N], 'yi')}]);` : ''}
  ${r ? 'v += f32(R[yi]);' : ''}
  Y[yi] = T_Y(${act});
}`;
  e.kernel(node, { name: name || undefined, bindings, ...matmulBody({ rows: M, cols, depth: K, batch: 1 }, fns, e.limits) });
}

/** MatMul with numpy semantics: 1-D operands promoted, batch dimensions broadcast. */
export function emitMatMul(e: Emitter, node: Node): void {
  const A = e.operand(node.inputs[0]), B = e.operand(node.inputs[1]), Y = e.operand(node.outputs[0]);
  const a = A.shape.length === 1 ? [1, A.shape[0]] : [...A.shape];
  const b = B.shape.length === 1 ? [B.shape[0], 1] : [...B.shape];
  const [M, K] = a.slice(-2), N = b[b.length - 1];
  if (b[b.length - 2] !== K) throw new CnncError('SHAPE_MISMATCH', `MatMul inner dimensions ${K} and ${b[b.length - 2]} differ`, { node: node.name, op: node.op });
  const batchA = a.slice(0, -2), batchB = b.slice(0, -2);
  const rank = Math.max(batchA.length, batchB.length);
  const batch: number[] = [];
  for (let k = 0; k < rank; k++) batch.push(Math.max(batchA[batchA.length - rank + k] ?? 1, batchB[batchB.length - rank + k] ?? 1));
  const Z = sizeOf(batch);
  const fns = `
fn loadL(z: u32, r: u32, k: u32) -> f32 { return f32(A[(${broadcastIndexExpr(batchA, batch, 'z')}) * ${u(M * K)} + r * ${u(K)} + k]); }
fn loadR(z: u32, k: u32, c: u32) -> f32 { return f32(W[(${broadcastIndexExpr(batchB, batch, 'z')}) * ${u(K * N)} + k * ${u(N)} + c]); }
fn store(z: u32, r: u32, c: u32, v: f32) { Y[(z * ${u(M)} + r) * ${u(N)} + c] = T_Y(v); }`;
  e.kernel(node, { bindings: [e.read('A', A), e.read('W', B), e.write('Y', Y)], ...matmulBody({ rows: M, cols: N, depth: K, batch: Z }, fns, e.limits) });
}
