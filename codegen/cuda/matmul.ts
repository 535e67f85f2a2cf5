/**
 * Gemm and MatMul on the tiled GEMM. GEMM rows are the output's columns (features: the weight side,
 * contiguous along k for PyTorch's transB=1 Linear) and GEMM columns are the output's rows.
 */
import { CnncError } from '../../runtime/errors.js';
import { epilogueAct } from './scalar.js';
import { checkFloat, coord, fl, load, mul, store, strides, sum } from './emit.js';
import { gemmLaunch } from './gemm.js';
import type { Arg, Launch, LowerCtx } from './kernel.js';
import { broadcastIdx } from './pointwise.js';

export function gemm(ctx: LowerCtx): Launch {
  const { node, graph } = ctx;
  const [an, bn, cn = '', rn = ''] = node.inputs;
  const at = graph.type(an), bt = graph.type(bn), yn = node.outputs[0], yt = graph.type(yn);
  checkFloat(yt.dtype, node.name, node.op);
  const transA = Number(node.attrs.transA ?? 0) !== 0, transB = Number(node.attrs.transB ?? 0) !== 0;
  const alpha = Number(node.attrs.alpha ?? 1), beta = Number(node.attrs.beta ?? 1);
  const [I, J] = yt.shape;
  const K = transA ? at.shape[0] : at.shape[1];
  const args: Arg[] = [{ param: 'a', value: an, dtype: at.dtype }, { param: 'w', value: bn, dtype: bt.dtype }];
  const ct = cn ? graph.type(cn) : undefined;
  if (ct) args.push({ param: 'bias', value: cn, dtype: ct.dtype });
  const rt = rn ? graph.type(rn) : undefined;
  if (rt) args.push({ param: 'res', value: rn, dtype: rt.dtype });
  args.push({ param: 'y', value: yn, dtype: yt.dtype, out: true });
  const place = { node: node.name, op: node.op };
  return gemmLaunch({
    kind: 'gemm', args, M: J, N: I, K, batch: 1, f16: args.every((x) => x.dtype === 'f16'),
    loadA: (j, k) => load(bt.dtype, 'w', transB ? sum(mul(j, K), k) : sum(mul(k, J), j)),
    loadB: (c, k, i, out) => c.line(`${out} = ${load(at.dtype, 'a', transA ? sum(mul(k, I), i) : sum(mul(i, K), k))};`),
    epilogue: (c, j, i, acc) => {
      c.line(`const int yi = ${sum(mul(i, J), j)};`);
      if (alpha !== 1) c.line(`${acc} *= ${fl(alpha)};`);
      if (ct && beta !== 0) {
        // C broadcasts onto (I, J): index it through the output's coordinates
        const ci = broadcastIdx('yi', ct.shape, [I, J]);
        c.line(`${acc} += ${beta === 1 ? '' : `${fl(beta)} * `}${load(ct.dtype, 'bias', ci)};`);
      }
      if (rt) c.line(`${acc} += ${load(rt.dtype, 'res', 'yi')};`);
      c.line(store(yt.dtype, 'y', 'yi', epilogueAct(node.attrs, acc, place)));
    },
  });
}

/** MatMul with numpy batch broadcasting (blockIdx.z walks the output's batch); rank-1 operands promoted. */
export function matmul(ctx: LowerCtx): Launch {
  const { node, graph } = ctx;
  const [an, bn] = node.inputs;
  const at = graph.type(an), bt = graph.type(bn), yn = node.outputs[0], yt = graph.type(yn);
  checkFloat(yt.dtype, node.name, node.op);
  const A = at.shape.length === 1 ? [1, at.shape[0]] : [...at.shape];
  const B = bt.shape.length === 1 ? [bt.shape[0], 1] : [...bt.shape];
  const I = A[A.length - 2], K = A[A.length - 1], J = B[B.length - 1];
  if (B[B.length - 2] !== K) throw new CnncError('SHAPE_MISMATCH', `MatMul inner sizes ${K} and ${B[B.length - 2]} differ`, { node: node.name, op: node.op });
  const rank = Math.max(A.length, B.length);
  const batchShape: number[] = [];
  for (let d = 0; d < rank - 2; d++) {
    const x = A[A.length - rank + d] ?? 1, y = B[B.length - rank + d] ?? 1;
    batchShape.push(Math.max(x, y));
  }
  const batch = batchShape.reduce((p, q) => p * q, 1);
  /** Offset of the batch slice `g` in an operand of shape `S`. */
  const batchOff = (S: number[]): string => {
    const lead = S.length - 2, st = strides(S);
    return sum(...batchShape.map((_, q) => {
      const j = q - (batchShape.length - lead);
      return j >= 0 && S[j] !== 1 ? mul(coord('g', batchShape, q), st[j]) : '0';
    }));
  };
  const offA = batch > 1 ? batchOff(A) : '0', offB = batch > 1 ? batchOff(B) : '0';
  return gemmLaunch({
    kind: 'matmul',
    args: [{ param: 'a', value: an, dtype: at.dtype }, { param: 'w', value: bn, dtype: bt.dtype }, { param: 'y', value: yn, dtype: yt.dtype, out: true }],
    M: J, N: I, K, batch, f16: [at, bt, yt].every((t) => t.dtype === 'f16'),
    loadA: (j, k) => load(bt.dtype, 'w', sum(offB, mul(k, J), j)),
    loadB: (c, k, i, out) => c.line(`${out} = ${load(at.dtype, 'a', sum(offA, mul(i, K), k))};`),
    epilogue: (c, j, i, acc) => c.line(store(yt.dtype, 'y', sum(batch > 1 ? mul('g', I * J) : '0', mul(i, J), j), acc)),
  });
}
