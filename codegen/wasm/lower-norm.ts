/**
 * Lowerings of the normalizations: BatchNormalization (folded into a per-channel scale and shift,
 * an elementwise kernel), Softmax and LayerNormalization (`softmax`, `layernorm`).
 */
import type { Graph, Node } from '../../ir/graph.js';
import { add, arg, c, div, mul, sqrt, sub } from '../../ir/scalar.js';
import { sizeOf } from '../../ir/types.js';
import { emitLayerNorm, emitSoftmax } from './kernels.js';
import { emitInstanceNorm, emitLrn } from './kernels-reduce.js';
import { elementwise } from './lower-elementwise.js';
import { stridesOf, type Loc, type OpLowering, type Storage } from './storage.js';

const batchNorm: OpLowering = {
  check: (n) => (n.outputs.slice(1).some((o) => o !== '') ? 'has no BatchNormalization training outputs' : undefined),
  lower(s, n) {
    if (n.inputs.slice(1).some((v) => !s.g.constValue(v))) { batchNormLive(s, n); return; }
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

/** BatchNormalization with parameters at run time: scale·(x − mean)/√(var + ε) + B per channel, one elementwise kernel. */
function batchNormLive(s: Storage, n: Node): void {
  const [xv, ...params] = n.inputs;
  const sh = s.shape(xv);
  const layout = String(n.attrs.layout ?? 'NCHW');
  const chShape = sh.map((d, i) => ((layout === 'NHWC' ? i === sh.length - 1 : i === 1) ? d : 1));
  const eps = Number(n.attrs.epsilon);
  const e = add(div(mul(arg(1), sub(arg(0), arg(3))), sqrt(add(arg(4), c(eps)))), arg(2));
  elementwise(s, n, [xv, ...params.map((value) => ({ value, shape: chShape }))], e, 'batchnorm_live');
}

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
    const sh = g.type(n.inputs[0]).shape, count = sizeOf(sh.slice((Number(n.attrs.axis) + sh.length) % sh.length));
    // a run-time scale or bias must cover the normalized shape (no broadcasting at run time)
    const v = n.inputs.slice(1).find((p) => p && !g.constValue(p) && sizeOf(g.type(p).shape) !== count);
    return v ? `needs '${v}' to be a constant or of the normalized shape` : undefined;
  },
  lower(s, n) {
    const [xv, sv, bv] = n.inputs;
    const sh = s.shape(xv);
    const axis = (Number(n.attrs.axis) + sh.length) % sh.length;
    const normShape = sh.slice(axis), count = sizeOf(normShape), rows = sizeOf(sh) / count;
    // constants are broadcast to the normalized shape now; run-time ones already have it (checked)
    const param = (v: string | undefined, fill: number): Loc => (v && !s.g.constValue(v) ? s.plain(n, v)
      : s.constLoc(fullParam(v ? s.constF32(n, v) : undefined, v ? s.shape(v) : [], normShape, fill)));
    const S = param(sv, 1), B = param(bv, 0);
    const x = s.plain(n, xv);
    const y = s.dense(sizeOf(sh), 'plain', 0);
    s.define(n.outputs[0], y);
    s.step(n, 'layernorm', '', 7 * sizeOf(sh), (m, a, fn) => emitLayerNorm(m, fn, a(x), a(y), rows, count, Number(n.attrs.epsilon), a(S), a(B)), [x, S, B], [y]);
  },
};

/** InstanceNormalization (NCHW, any rank): one row per (n, c) over the spatial positions; scale and bias constant or at run time. */
const instanceNorm: OpLowering = {
  lower(s, n) {
    const [xv, sv, bv] = n.inputs;
    const sh = s.shape(xv), C = sh[1], count = sizeOf(sh.slice(2)), size = sizeOf(sh);
    const y = s.dense(size, 'plain', 0);
    s.define(n.outputs[0], y);
    if (size === 0) return;
    const x = s.plain(n, xv), S = s.plain(n, sv), B = s.plain(n, bv);
    s.step(n, 'instancenorm', '', 7 * size, (m, a, fn) => emitInstanceNorm(m, fn, a(x), a(y), size / count, count, C, Number(n.attrs.epsilon), a(S), a(B)), [x, S, B], [y]);
  },
};

/** LRN across channels, either layout. */
const lrn: OpLowering = {
  lower(s, n) {
    const xv = n.inputs[0];
    const sh = s.shape(xv), nhwc = String(n.attrs.layout ?? 'NCHW') === 'NHWC';
    const C = nhwc ? sh[sh.length - 1] : sh[1], P = sizeOf(nhwc ? sh.slice(1, -1) : sh.slice(2)), size = sizeOf(sh);
    const y = s.dense(size, 'plain', 0);
    s.define(n.outputs[0], y);
    if (size === 0) return;
    const x = s.plain(n, xv);
    const win = Number(n.attrs.size);
    s.step(n, 'lrn', '', (2 * win + 4) * size, (m, a, fn) => emitLrn(m, {
      name: fn, X: a(x), Y: a(y), N: sh[0], C, P, nhwc, size: win, alpha: Number(n.attrs.alpha), beta: Number(n.attrs.beta), bias: Number(n.attrs.bias),
    }), [x], [y]);
  },
};

export const NORM_LOWERINGS: Record<string, OpLowering> = {
  BatchNormalization: batchNorm, Softmax: softmax, LayerNormalization: layerNorm, InstanceNormalization: instanceNorm, LRN: lrn,
};
