/**
 * A YOLO-style detector: the YOLOv5s v6 architecture (Ultralytics), built from its published
 * config (depth 0.33, width 0.50): Conv = conv + BN (eps 0.001) + SiLU, C3 (CSP) blocks, SPPF,
 * an FPN/PAN neck (nearest upsample + concat top-down, strided conv + concat bottom-up) and
 * three 1×1 detection heads (3 anchors × (80 classes + 5)). The raw head maps are flattened
 * and concatenated: output (N, 255, 80·80 + 40·40 + 20·20) at 640×640; box decoding is left to the caller.
 */
import type { Graph } from '../ir/graph.js';
import { Model, type Value } from '../frontends/dsl/model.js';
import { inputShape, type ZooOptions } from './common.js';

/** Ultralytics' Conv: conv (padding k//2, no bias) + BN + SiLU. */
function conv(m: Model, x: Value, out: number, k: number, s: number, name: string, p = k >> 1): Value {
  return m.scope(name, () => m.silu(m.batchNorm2d(m.conv2d(x, out, k, { stride: s, padding: p, bias: false, name: 'conv' }), { eps: 0.001, name: 'bn' }), { name: 'act' }));
}

/** C3: two 1×1 branches, one through n bottlenecks (1×1, 3×3, optional residual), concatenated and fused by a 1×1. */
function c3(m: Model, x: Value, out: number, n: number, shortcut: boolean, name: string): Value {
  return m.scope(name, () => {
    const hidden = out >> 1;
    let a = conv(m, x, hidden, 1, 1, 'cv1');
    const b = conv(m, x, hidden, 1, 1, 'cv2');
    for (let i = 0; i < n; i++) {
      a = m.scope(`m.${i}`, () => {
        const y = conv(m, conv(m, a, hidden, 1, 1, 'cv1'), hidden, 3, 1, 'cv2');
        return shortcut ? m.add(a, y) : y;
      });
    }
    return conv(m, m.cat([a, b], 1), out, 1, 1, 'cv3');
  });
}

/** SPPF: three chained 5×5 max pools (stride 1) concatenated with their input. */
function sppf(m: Model, x: Value, out: number, name: string): Value {
  return m.scope(name, () => {
    const y0 = conv(m, x, m.channels(x) >> 1, 1, 1, 'cv1');
    const pool = (v: Value) => m.maxPool2d(v, 5, { stride: 1, padding: 2, name: 'm' });
    const y1 = pool(y0), y2 = pool(y1), y3 = pool(y2);
    return conv(m, m.cat([y0, y1, y2, y3], 1), out, 1, 1, 'cv2');
  });
}

export function yolov5s(opts: ZooOptions & { classes?: number } = {}): Graph {
  const m = new Model('yolov5s', opts);
  const outs = 3 * ((opts.classes ?? 80) + 5);
  let x = m.input(inputShape(opts, 3, 640));
  m.scope('model', () => {
    // backbone (CSPDarknet53 with SPPF)
    x = conv(m, x, 32, 6, 2, '0', 2);
    x = conv(m, x, 64, 3, 2, '1');
    x = c3(m, x, 64, 1, true, '2');
    x = conv(m, x, 128, 3, 2, '3');
    const p3 = c3(m, x, 128, 2, true, '4');
    x = conv(m, p3, 256, 3, 2, '5');
    const p4 = c3(m, x, 256, 3, true, '6');
    x = conv(m, p4, 512, 3, 2, '7');
    x = c3(m, x, 512, 1, true, '8');
    x = sppf(m, x, 512, '9');
    // neck: top-down
    const h10 = conv(m, x, 256, 1, 1, '10');
    x = c3(m, m.cat([m.upsample(h10, 2, { name: '11' }), p4], 1, { name: '12' }), 256, 1, false, '13');
    const h14 = conv(m, x, 128, 1, 1, '14');
    const o17 = c3(m, m.cat([m.upsample(h14, 2, { name: '15' }), p3], 1, { name: '16' }), 128, 1, false, '17');
    // neck: bottom-up
    x = conv(m, o17, 128, 3, 2, '18');
    const o20 = c3(m, m.cat([x, h14], 1, { name: '19' }), 256, 1, false, '20');
    x = conv(m, o20, 256, 3, 2, '21');
    const o23 = c3(m, m.cat([x, h10], 1, { name: '22' }), 512, 1, false, '23');
    // heads
    const heads = [o17, o20, o23].map((v, i) => m.scope('24', () => {
      const y = m.conv2d(v, outs, 1, { name: `m.${i}` });
      const [n, c, h, w] = m.shape(y);
      return m.reshape(y, [n, c, h * w], { name: `flatten.${i}` });
    }));
    x = m.cat(heads, 2, { name: '24.cat' });
  });
  m.output(x);
  return m.build();
}
