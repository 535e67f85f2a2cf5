/**
 * Lowerings of the normalizations: BatchNormalization (folded into a per-channel scale and shift,
 * an elementwise kernel), Softmax and LayerNormalization (`softmax`, `layernorm`).
 */
import type { Graph, Node } from '../../ir/graph.js';
import { add, arg, mul } from '../../ir/scalar.js';
import { sizeOf } from '../../ir/types.js';
import { emitLayerNorm, emitSoftmax } from './kernels.js';
import { elementwise } from './lower-elementwise.js';
import { needsConstants, stridesOf, type OpLowering } from './storage.js';

const batchNorm: OpLowering = {
  check: (n, g) => needsConstants(g, n.inputs.slice(1)),
  lower(s, n) {
    const [xv, sv, bv, mv, vv] = n.inputs;
    const eps = Number(n.attrs.epsilon);
    const [sc, b, mean, v] = [sv, bv, mv, vv].map((x) => s.constF32(n, x));
    const scale = new Float32Array(sc.length), shift = new Float32Array(sc.length);
    for (let c = 0; c < sc.length; c++) {
      scale[c] = sc[c] / Math.sqrt(v[c] + eps);
      shift[c] = b[c] - mean[c] * scale[c];
    }
    const sh = s.shape(xv);
    const layout = String(n.attrs.layout ?? 'NCHW');
    const chShape = sh.map((d, i) => ((layout === 'NHWC' ? i === sh.length - 1 : i === 1) ? d : 1));
    elementwise(s, n, [xv, { data: scale, shape: chShape }, { data: shift, shape: chShape }], add(mul(arg(0), arg(1)), arg(2)), 'batchnorm');
  },
};

const softmax: OpLowering = {
  lower(s, n) {
    const sh = s.shape(n.inputs[0]);
    const axis = (Number(n.attrs.axis) + sh.length) % sh.length;
    const x = s.plain(n, n.inputs[0]);
    const y = s.dense(sizeOf(sh), 'plain', 0);
    s.define(n.outputs[0], y);
    s.step(n, 'softmax', '', 5 * sizeOf(sh), (m, a, fn) => emitSoftmax(m, fn, a(x), a(y), sizeOf(sh.slice(0, axis)), sh[axis], sizeOf(sh.slice(axis + 1))), [x], [y]);
  },
};

/** LayerNormalization's scale or bias broadcast to the normalized shape (1 or 0 when absent). */
function fullParam(src: Float32Array | undefined, ps: readonly number[], normShape: readonly number[], fill: number): Float32Array {
  const count = sizeOf(normShape);
  const out = new Float32Array(count).fill(fill);
  if (!src) return out;
  const aligned = [...new Array(normShape.length - ps.length).fill(1), ...ps], st = stridesOf(aligned), ns = stridesOf(normShape);
  for (let k = 0; k < count; k++) {
    let j = 0;
    for (let d = 0; d < normShape.length; d++) if (aligned[d] !== 1) j += (Math.floor(k / ns[d]) % normShape[d]) * st[d];
    out[k] = src[j];
  }
  return out;
}

const layerNorm: OpLowering = {
  check(n: Node, g: Graph) {
    if (n.outputs.slice(1).some((o) => o !== '')) return 'has no LayerNormalization statistics outputs';
    return needsConstants(g, n.inputs.slice(1));
  },
  lower(s, n) {
    const [xv, sv, bv] = n.inputs;
    const sh = s.shape(xv);
    const axis = (Number(n.attrs.axis) + sh.length) % sh.length;
    const normShape = sh.slice(axis), count = sizeOf(normShape), rows = sizeOf(sh) / count;
    const param = (v: string | undefined, fill: number) => fullParam(v ? s.constF32(n, v) : undefined, v ? s.shape(v) : [], normShape, fill);
    const S = s.weight(param(sv, 1)), B = s.weight(param(bv, 0));
    const x = s.plain(n, xv);
    const y = s.dense(sizeOf(sh), 'plain', 0);
    s.define(n.outputs[0], y);
    s.step(n, 'layernorm', '', 7 * sizeOf(sh), (m, a, fn) => emitLayerNorm(m, fn, a(x), a(y), rows, count, Number(n.attrs.epsilon), S, B), [x], [y]);
  },
};

export const NORM_LOWERINGS: Record<string, OpLowering> = {
  BatchNormalization: batchNorm, Softmax: softmax, LayerNormalization: layerNorm,
};
