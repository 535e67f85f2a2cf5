/**
 * Small ShuffleNetV2-style graphs for the channel-shuffle tests, written as torchvision exports them
 * (opset 11–13) and round-tripped through the ONNX writer: stride-2 units (two branches, Concat,
 * shuffle), a stride-1 unit whose chunk is a Split, one whose chunk is two Slices, and a 1×1 conv head.
 * The shuffle is Reshape [N, g, C/g, H, W] → Transpose [0, 2, 1, 3, 4] → Reshape [N, C, H, W], or
 * with `spelling: '4d'` Reshape [N, g, C/g, H·W] → Transpose [0, 2, 1, 3] → Reshape.
 */
import { Graph } from '../ir/graph.js';
import { exportOnnx } from '../frontends/onnx/export.js';
import { importOnnx } from '../frontends/onnx/import.js';
import { randomTensor, rng } from './gpu/common.js';

export interface ShuffleOptions {
  /** Shuffle groups (2 in ShuffleNetV2; channel counts are multiples of it). */
  groups?: number;
  spelling?: '5d' | '4d';
  /** The Transpose perm in the 5-D spelling; anything but [0, 2, 1, 3, 4] is not a shuffle. */
  perm?: number[];
  batch?: number;
}

/** Reshape → Transpose → Reshape: the channel shuffle of `x` (or the chain with another perm). */
export function writeShuffle(g: Graph, x: string, o: ShuffleOptions = {}): string {
  const groups = o.groups ?? 2;
  const [N, C, H, W] = g.type(x).shape;
  const five = o.spelling !== '4d';
  const split = five ? [N, groups, C / groups, H, W] : [N, groups, C / groups, H * W];
  const perm = o.perm ?? (five ? [0, 2, 1, 3, 4] : [0, 2, 1, 3]);
  const r = g.add('Reshape', [x], { shape: split });
  const t = g.add('Transpose', [r], { perm });
  return g.add('Reshape', [t], { shape: [N, -1, H, W] });
}

/** x (N, 4, 16, 16) → stem → stride-2 unit → stride-1 unit (Split) → stride-2 unit → stride-1 unit (Slices) → 1×1 head; ONNX round trip. */
export function shuffleNetGraph(seed: number, o: ShuffleOptions = {}): Graph {
  const r = rng(seed);
  const g = new Graph(`shufflenet_${seed}`);
  const w = (shape: number[]) => g.addConstant('w', randomTensor('f32', shape, r, 0.8));
  const conv = (x: string, cout: number, k: number, opts: { stride?: number; dw?: boolean; relu?: boolean } = {}) => {
    const cin = g.type(x).shape[1];
    const group = opts.dw ? cin : 1;
    const p = (k - 1) / 2;
    const y = g.add('Conv', [x, w([cout, cin / group, k, k]), w([cout])], { group, pads: [p, p, p, p], strides: [opts.stride ?? 1, opts.stride ?? 1] });
    return opts.relu ? g.add('Relu', [y]) : y;
  };
  const C = 4 * (o.groups ?? 2);
  const half = C / 2;
  const x = g.addInput('x', { dtype: 'f32', shape: [o.batch ?? 1, 4, 16, 16] });
  const branch = (v: string, stride = 1) => conv(conv(conv(v, half, 1, { relu: true }), half, 3, { stride, dw: true }), half, 1, { relu: true });
  // stride 2: both branches read the whole input (the first branch: dw 3×3 → 1×1)
  const down = (v: string) => {
    const b1 = conv(conv(v, g.type(v).shape[1], 3, { stride: 2, dw: true }), half, 1, { relu: true });
    return writeShuffle(g, g.add('Concat', [b1, branch(v, 2)], { axis: 1 }), o);
  };
  // stride 1, chunk as a Split or as two Slices; the second half runs the branch
  const unit = (v: string, chunk: 'split' | 'slice') => {
    const [s1, s2] = chunk === 'split' ? g.addNode('Split', [v], { axis: 1, split: [half, half] })
      : [g.add('Slice', [v], { starts: [0], ends: [half], axes: [1] }), g.add('Slice', [v], { starts: [half], ends: [C], axes: [1] })];
    return writeShuffle(g, g.add('Concat', [s1, branch(s2)], { axis: 1 }), o);
  };
  const y = unit(down(unit(down(conv(x, half, 3, { relu: true })), 'split')), 'slice');
  g.setOutputs([conv(y, 6, 1)]);
  return importOnnx(exportOnnx(g));
}
