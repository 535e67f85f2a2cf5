/**
 * Resize linear/cubic (any coordinate transformation mode, antialias, exclude_outside,
 * tf_crop_and_resize extrapolation): the taps and weights of each output index per axis come from
 * the op's own reference (ir/ops/resize.ts `resizeTaps`), so the rules hold by construction; the
 * kernel sums the separable product of the weights over the taps, one thread per output element.
 */
import type { Node } from '../../../ir/graph.js';
import { stridesOf } from '../../../ir/ops/broadcast.js';
import { resizeTaps } from '../../../ir/ops/resize.js';
import { sizeOf } from '../../../ir/types.js';
import type { Tensor } from '../../../runtime/tensor.js';
import type { Emitter } from '../emit.js';
import { f, u } from '../kernel.js';
import { simple } from './elementwise.js';

export function emitResizeInterp(e: Emitter, node: Node, others: (Tensor | undefined)[]): void {
  const X = e.operand(node.inputs[0]), Y = e.operand(node.outputs[0]);
  const s = X.shape, ins = stridesOf(s), out = Y.shape, os = stridesOf(out);
  const taps = resizeTaps({ name: node.name, op: node.op, attrs: node.attrs, inputs: [{ name: node.inputs[0], type: { dtype: 'f32', shape: s } }] })
    .map((a) => a.taps);
  // per axis a: K[a] taps for each output index, input offsets premultiplied by the stride (-1: outside the crop box)
  const K = taps.map((ts) => Math.max(1, ...ts.map((t) => t.idx.length)));
  const idx: number[] = [], wt: number[] = [], base: number[] = [];
  taps.forEach((ts, a) => {
    base.push(idx.length);
    for (const t of ts) {
      for (let k = 0; k < K[a]; k++) {
        idx.push(t.outside ? -1 : (t.idx[k] ?? 0) * ins[a]);
        wt.push(t.outside ? 0 : t.w[k] ?? 0);
      }
    }
  });
  const I = e.weight({ dtype: 'i32', shape: [idx.length], data: Int32Array.from(idx) }, `${node.name}.taps`);
  const W = e.weightF32(wt, `${node.name}.weights`);
  const extrapolation = Number(node.attrs.extrapolation_value ?? 0);
  const lines: string[] = [];
  out.forEach((d, a) => lines.push(`let j${a} = ${u(base[a])} + ((i / ${u(os[a])}) % ${u(d)}) * ${u(K[a])};`));
  lines.push(`if (${out.map((_, a) => `I[j${a}] < 0i`).join(' || ')}) { Y[i] = T_Y(${f(extrapolation)}); return; }`);
  lines.push('var acc = 0.0;');
  const open = out.map((_, a) => `for (var t${a} = 0u; t${a} < ${u(K[a])}; t${a}++) {`).join(' ');
  const src = out.map((_, a) => `I[j${a} + t${a}]`).join(' + ');
  const w = out.map((_, a) => `W[j${a} + t${a}]`).join(' * ');
  lines.push(`${open} acc += ${w} * f32(X[u32(${src})]); ${out.map(() => '}').join('')}`);
  lines.push('Y[i] = T_Y(acc);');
  simple(e, node, [e.read('X', X), { name: 'I', buffer: I, dtype: 'i32', access: 'read' }, { name: 'W', buffer: W, dtype: 'f32', access: 'read' }, e.write('Y', Y)],
    sizeOf(out), lines.join('\n'));
}
