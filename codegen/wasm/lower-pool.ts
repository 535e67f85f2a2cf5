/**
 * Lowerings of pooling: MaxPool/AveragePool (`maxpool3x3_s2`), GlobalAveragePool/GlobalMaxPool
 * (`globalavgpool`) and ReduceMean over H, W with keepdims (a global average pool).
 */
import type { Graph, Node } from '../../ir/graph.js';
import { windowGeometry } from '../../ir/ops/geometry.js';
import { addPartsDriver, emitWindow } from './conv.js';
import { emitGlobalPool, globalPoolUnits } from './kernels.js';
import { recordWindowRows } from './units.js';
import { kxk, pairTag, two, type OpLowering, type Storage } from './storage.js';

const geometry = (n: Node, g: Graph) => windowGeometry(n.op, n.attrs, g.type(n.inputs[0]).shape, undefined, { node: n.name, op: n.op });

const pool: OpLowering = {
  check(n, g) {
    if (n.outputs.length > 1 && n.outputs[1] !== '') return 'has no MaxPool indices output';
    const geo = geometry(n, g);
    return geo.inSize.length > 2 ? 'handles 1-D and 2-D pooling only' : undefined;
  },
  lower(s, n) {
    const xv = n.inputs[0];
    const geo = geometry(n, s.g);
    const x = s.spatialIn(n, xv);
    const [kh, kw] = two(geo.kernel, 1), [sh, sw] = two(geo.strides, 1), [dh, dw] = two(geo.dilations, 1);
    const [ph, pw] = two(geo.padBegin, 0), [peh, pew] = two(geo.padEnd, 0), [OH, OW] = two(geo.outSize, 1);
    const y = s.spatialOut(n, n.outputs[0], geo.C);
    const avg = n.op === 'AveragePool';
    const kernel = `${avg ? 'avg' : 'max'}pool${kxk(kh, kw)}${pairTag('s', sh, sw, 0)}${pairTag('d', dh, dw, 1)}`;
    const { N } = geo, imgX = x.H * x.W * x.l.ps * 4, imgY = OH * OW * y.ps * 4;
    s.step(n, kernel, '', N * geo.C * OH * OW * kh * kw, (m, a, fn) => {
      const images = Array.from({ length: N }, (_, i) => (N === 1 ? fn : `${fn}_n${i}`));
      images.forEach((f, i) => {
        emitWindow(m, {
          name: f, kind: avg ? 'avg' : 'max', X: a(x.l) + i * imgX, H: x.H, W: x.W, xps: x.l.ps, C: geo.C, Y: a(y) + i * imgY, OH, OW, yps: y.ps,
          kh, kw, sh, sw, dh, dw, ph, pw, V: 4, act: '', alpha: 0, beta: 0,
          countPad: avg && Number(n.attrs.count_include_pad) === 1, padEndH: peh, padEndW: pew,
        });
        recordWindowRows(m, f, OH, kh, sh, dh, ph, x.H);
      });
      // every image's rows, one after another: threads share them out like one image's
      if (N > 1) addPartsDriver(m, fn, images, OH);
    }, [x.l], [y]);
  },
};

/** A global pool; batch > 1 as one function per image (own scratch sums) under a parts driver, whose units threads share. */
function globalPoolInto(s: Storage, n: Node, kind: 'avg' | 'max'): void {
  const x = s.spatialIn(n, n.inputs[0]);
  const N = s.shape(n.inputs[0])[0], Cp = Math.ceil(x.C / 4) * 4;
  // [N, C, 1, 1]: NCHW and NHWC are the same bytes, image after image
  const y = s.dense(N * x.C, String(n.attrs.layout ?? 'NCHW') === 'NHWC' ? 'plain' : 'T', x.C);
  s.define(n.outputs[0], y);
  const scratch = s.dense(N * Cp, 'plain', 0);
  const imgX = x.H * x.W * x.l.ps * 4;
  s.step(n, `global${kind}pool`, '', N * x.H * x.W * x.C, (m, a, fn) => {
    const images = Array.from({ length: N }, (_, i) => (N === 1 ? fn : `${fn}_n${i}`));
    images.forEach((f, i) => emitGlobalPool(m, {
      name: f, kind, X: a(x.l) + i * imgX, pixels: x.H * x.W, xps: x.l.ps, C: x.C, Y: a(y) + i * x.C * 4, S: a(scratch) + i * Cp * 4, part: N > 1,
    }));
    if (N > 1) addPartsDriver(m, fn, images, globalPoolUnits(x.C));
  }, [x.l, scratch], [y]);
}

const globalPool: OpLowering = {
  check(n, g) {
    return g.type(n.inputs[0]).shape.length !== 4 ? 'handles 2-D global pooling only' : undefined;
  },
  lower: (s, n) => globalPoolInto(s, n, n.op === 'GlobalAveragePool' ? 'avg' : 'max'),
};

/** ReduceMean over the spatial axes of a 4-D value, kept: a global average pool. */
const reduceMean: OpLowering = {
  check(n, g) {
    const s = g.type(n.inputs[0]).shape;
    const axes = ((n.attrs.axes as number[]) ?? []).map((a) => (a + s.length) % s.length).sort();
    return s.length !== 4 || axes.join() !== '2,3' || Number(n.attrs.keepdims) !== 1 ? 'handles ReduceMean over axes [2,3] with keepdims only' : undefined;
  },
  lower: (s, n) => globalPoolInto(s, { ...n, attrs: { layout: 'NCHW' } }, 'avg'),
};

export const POOL_LOWERINGS: Record<string, OpLowering> = {
  MaxPool: pool, AveragePool: pool, GlobalAveragePool: globalPool, GlobalMaxPool: globalPool, ReduceMean: reduceMean,
};
