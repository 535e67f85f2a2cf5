/**
 * SqueezeExcitationGate (ir/ops/squeeze-excitation.ts): one block per batch item. Its threads
 * compute the Cr hidden units into shared memory (each a dot product over the C pooled values),
 * then, after a barrier, the C gates (each over the hidden units). A few thousand MACs: one launch.
 */
import { sizeOf } from '../../ir/types.js';
import { CnncError } from '../../runtime/errors.js';
import { Code, checkFloat, load, store } from './emit.js';
import type { Launch, LowerCtx } from './kernel.js';
import { epilogueAct } from './scalar.js';

/** Hidden units that fit the 48 KiB of static shared memory. */
export const SE_MAX_HIDDEN = 12288;

export function squeezeExcitationGate(ctx: LowerCtx): Launch {
  const { node, graph } = ctx;
  const [pn, w1n, b1n, w2n, b2n] = node.inputs, yn = node.outputs[0];
  const place = { node: node.name, op: node.op };
  const pt = graph.type(pn), yt = graph.type(yn);
  checkFloat(yt.dtype, node.name, node.op);
  const N = pt.shape[0], C = sizeOf(pt.shape.slice(1)), Cr = graph.type(w1n).shape[0];
  if (Cr > SE_MAX_HIDDEN) throw new CnncError('UNSUPPORTED', `${Cr} hidden units exceed the CUDA SE kernel's shared memory (${SE_MAX_HIDDEN})`, place);
  const d = (v: string) => graph.type(v).dtype;
  const T = 128;
  const c = new Code();
  c.line(`__shared__ float h[${Math.max(1, Cr)}];`);
  c.line('const int n = blockIdx.x;');
  c.block(`for (int j = threadIdx.x; j < ${Cr}; j += ${T})`, () => {
    c.line(`float v = ${load(d(b1n), 'b1', 'j')};`);
    c.line(`for (int k = 0; k < ${C}; k++) v += ${load(d(w1n), 'w1', `j * ${C} + k`)} * ${load(pt.dtype, 'p', `n * ${C} + k`)};`);
    c.line(`h[j] = ${epilogueAct(node.attrs, 'v', place)};`);
  });
  c.line('__syncthreads();');
  c.block(`for (int ch = threadIdx.x; ch < ${C}; ch += ${T})`, () => {
    c.line(`float v = ${load(d(b2n), 'b2', 'ch')};`);
    c.line(`for (int j = 0; j < ${Cr}; j++) v += ${load(d(w2n), 'w2', `ch * ${Cr} + j`)} * h[j];`);
    c.line(store(yt.dtype, 'y', `n * ${C} + ch`, epilogueAct(node.attrs, 'v', place, 'gate')));
  });
  return {
    kind: 'se_gate',
    args: [
      { param: 'p', value: pn, dtype: pt.dtype }, { param: 'w1', value: w1n, dtype: d(w1n) }, { param: 'b1', value: b1n, dtype: d(b1n) },
      { param: 'w2', value: w2n, dtype: d(w2n) }, { param: 'b2', value: b2n, dtype: d(b2n) }, { param: 'y', value: yn, dtype: yt.dtype, out: true },
    ],
    body: c.toString(), threads: T, grid: [Math.max(1, N), 1, 1],
  };
}
