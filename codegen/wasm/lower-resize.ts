/**
 * Resize in linear and cubic modes (every coordinate transform, exclude_outside, antialias): one
 * `resample_axis` step per axis whose length or sampling changes, with the reference's taps.
 * Nearest stays with the separable gather (lower-movement.ts); tf_crop_and_resize samples outside
 * the crop box are filled with extrapolation_value afterwards, axis by axis (any outside coordinate).
 */
import type { Graph, Node } from '../../ir/graph.js';
import { resizeTaps, type Taps } from '../../ir/ops/resize.js';
import { sizeOf } from '../../ir/types.js';
import { emitFillRows, emitResampleAxis } from './kernels-resize.js';
import { MOVEMENT_LOWERINGS } from './lower-movement.js';
import type { OpLowering } from './storage.js';

const tapsOf = (n: Node, g: Graph) => resizeTaps({ name: n.name, op: n.op, attrs: n.attrs, inputs: [{ name: n.inputs[0], type: g.type(n.inputs[0]) }] });

/** The axis is the identity: each output index takes its own input element with weight 1. */
const identity = (inLen: number, taps: Taps[]) => taps.length === inLen && taps.every((t, i) => t.w.every((w, k) => (t.idx[k] === i ? w === 1 : w === 0)));

/** Per output index: K indices (i32 bits) then K weights, as words for the weights region. */
function table(taps: Taps[], K: number): Float32Array {
  const words = new Float32Array(taps.length * 2 * K), ints = new Int32Array(words.buffer);
  taps.forEach((t, i) => t.idx.forEach((x, k) => { ints[i * 2 * K + k] = x; words[i * 2 * K + K + k] = t.w[k]; }));
  return words;
}

/** The [begin, end) runs of output indices whose tap is outside the crop box. */
function outsideRanges(taps: Taps[]): [number, number][] {
  const r: [number, number][] = [];
  taps.forEach((t, i) => {
    if (!t.outside) return;
    if (r.length && r[r.length - 1][1] === i) r[r.length - 1][1] = i + 1;
    else r.push([i, i + 1]);
  });
  return r;
}

const interpolate: OpLowering = {
  lower(s, n) {
    let cur = s.plain(n, n.inputs[0]);
    const shape = [...s.shape(n.inputs[0])];
    const axes = tapsOf(n, s.g);
    if (sizeOf(s.shape(n.outputs[0])) === 0) { s.define(n.outputs[0], s.constLoc(new Float32Array(0))); return; }
    axes.forEach(({ inLen, taps }, ax) => {
      if (identity(inLen, taps)) return;
      const K = Math.max(...taps.map((t) => t.idx.length));
      const padded = taps.map((t) => ({ idx: [...t.idx, ...new Array(K - t.idx.length).fill(0)], w: [...t.w, ...new Array(K - t.w.length).fill(0)] }));
      const T = s.constLoc(table(padded, K));
      const outer = sizeOf(shape.slice(0, ax)), inner = sizeOf(shape.slice(ax + 1));
      shape[ax] = taps.length;
      const y = s.dense(sizeOf(shape), 'plain', 0);
      const x = cur;
      s.step(n, 'resample_axis', String(n.attrs.mode), 2 * K * sizeOf(shape), (m, a, fn) => emitResampleAxis(m, {
        name: fn, X: a(x), Y: a(y), outer, inLen, outLen: taps.length, inner, K, T: a(T),
      }), [x], [y]);
      cur = y;
    });
    // an axis with outside taps was resampled (not the identity), so `cur` is this node's own buffer
    const out = cur, value = Number(n.attrs.extrapolation_value ?? 0);
    axes.forEach(({ taps }, ax) => {
      const ranges = outsideRanges(taps);
      if (!ranges.length) return;
      s.step(n, 'fill_rows', 'extrapolation', 0, (m, a, fn) => emitFillRows(m, {
        name: fn, Y: a(out), outer: sizeOf(shape.slice(0, ax)), len: shape[ax], inner: sizeOf(shape.slice(ax + 1)), ranges, value,
      }), [out], [out]);
    });
    s.define(n.outputs[0], cur);
  },
};

/** Resize: nearest as a gather, linear and cubic by resampling axis by axis. */
export const RESIZE_LOWERING: OpLowering = {
  check: (n, g) => (String(n.attrs.mode) === 'nearest' ? MOVEMENT_LOWERINGS.Resize.check?.(n, g) : undefined),
  lower: (s, n) => (String(n.attrs.mode) === 'nearest' ? MOVEMENT_LOWERINGS.Resize.lower(s, n) : interpolate.lower(s, n)),
};
