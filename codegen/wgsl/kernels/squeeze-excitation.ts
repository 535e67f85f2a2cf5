/**
 * SqueezeExcitationGate (ir/ops/squeeze-excitation.ts): one workgroup per batch item. Its threads
 * compute the Cr hidden units into workgroup memory (each a dot product over the C pooled values),
 * then, after a barrier, the C gates (each over the hidden units). A few thousand MACs: one dispatch.
 */
import type { Node } from '../../../ir/graph.js';
import { sizeOf } from '../../../ir/types.js';
import { CnncError } from '../../../runtime/errors.js';
import { epilogueScalar } from '../../c-like.js';
import type { Emitter } from '../emit.js';
import { u } from '../kernel.js';
import { wgslRenderer } from '../scalar.js';

/** Hidden units that fit WebGPU's default 16 KiB of workgroup memory. */
export const SE_MAX_HIDDEN = 4096;

/** Why the kernel cannot take `node`, or undefined. */
export function seReason(batch: number, hidden: number): string | undefined {
  if (hidden > SE_MAX_HIDDEN) return `${hidden} hidden units exceed the wgsl SE kernel's workgroup memory (${SE_MAX_HIDDEN})`;
  return batch > 65535 ? `batch ${batch} exceeds the wgsl SE kernel's dispatch (one workgroup per item, at most 65535)` : undefined;
}

export function emitSqueezeExcitationGate(e: Emitter, node: Node): void {
  const [pn, w1n, b1n, w2n, b2n] = node.inputs;
  const place = { node: node.name, op: node.op };
  const P = e.operand(pn), Y = e.operand(node.outputs[0]);
  const N = P.shape[0], C = sizeOf(P.shape.slice(1)), Cr = e.graph.type(w1n).shape[0];
  const why = seReason(N, Cr);
  if (why) throw new CnncError('UNSUPPORTED', why, place);
  const r = wgslRenderer();
  const act = r.render(epilogueScalar(node.attrs, place), ['v']);
  const gate = r.render(epilogueScalar(node.attrs, place, 'gate'), ['v']);
  const T = Math.min(64, e.wg1d);
  e.kernel(node, {
    bindings: [e.read('P', P), e.read('W1', e.operand(w1n)), e.read('B1', e.operand(b1n)), e.read('W2', e.operand(w2n)),
      e.read('B2', e.operand(b2n)), e.write('Y', Y)],
    workgroupSize: [T, 1, 1], dispatch: [Math.max(1, N), 1, 1], workgroupBytes: 4 * Math.max(1, Cr),
    decls: `var<workgroup> h: array<f32, ${Math.max(1, Cr)}>;\n${r.helpers()}`,
    body: `
let n = wid.x;
for (var j = li; j < ${u(Cr)}; j += ${u(T)}) {
  var v = f32(B1[j]);
  for (var k = 0u; k < ${u(C)}; k++) { v += f32(W1[j * ${u(C)} + k]) * f32(P[n * ${u(C)} + k]); }
  h[j] = ${act};
}
workgroupBarrier();
for (var c = li; c < ${u(C)}; c += ${u(T)}) {
  var v = f32(B2[c]);
  for (var j = 0u; j < ${u(Cr)}; j++) { v += f32(W2[c * ${u(Cr)} + j]) * h[j]; }
  Y[n * ${u(C)} + c] = T_Y(${gate});
}`,
  });
}
