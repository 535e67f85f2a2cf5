/** Random small CNN graphs for the pass property tests. */
import { Graph } from '../../ir/graph.js';
import { randomTensor, rng } from './helpers.js';

/** A random CNN from a seed: each step applies one op to values already built. */
export function randomCnn(seed: number, steps: number): Graph {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const g = new Graph(`random_${seed}`);
  const s = pick([4, 6, 8]);
  const vals: string[] = [g.addInput('x', { dtype: 'f32', shape: [1, pick([1, 2, 3, 4]), s, s] })];
  let k = 0;
  const w = (shape: number[], scale = 0.5) => g.addConstant(`c${k++}`, randomTensor(shape, seed * 100 + k, scale));
  const chan = (v: string) => g.type(v).shape[1];
  for (let i = 0; i < steps; i++) {
    const v = pick(vals.slice(-3));
    const C = chan(v);
    const [, , H] = g.type(v).shape;
    const kind = pick(['conv', 'conv', 'dw', 'pw', 'bn', 'act', 'act', 'add', 'mul', 'concat', 'pool', 'silu', 'se', 'convT', 'pad', 'softmax', 'strided']);
    let out: string | undefined;
    if (kind === 'conv' || kind === 'pw') {
      const kk = kind === 'pw' ? 1 : pick([1, 3]);
      const M = pick([2, 3, 4, 6]);
      const bias = r() < 0.5 ? [w([M], 0.2)] : [];
      out = g.add('Conv', [v, w([M, C, kk, kk]), ...bias], { pads: kk === 3 ? [1, 1, 1, 1] : [0, 0, 0, 0] });
    } else if (kind === 'dw') {
      out = g.add('Conv', [v, w([C, 1, 3, 3])], { group: C, pads: [1, 1, 1, 1] });
    } else if (kind === 'bn') {
      const vr = g.addConstant(`c${k++}`, { dtype: 'f32', shape: [C], data: Float32Array.from({ length: C }, () => 0.5 + r()) });
      out = g.add('BatchNormalization', [v, w([C], 1), w([C]), w([C]), vr]);
    } else if (kind === 'act') {
      const [op, attrs] = pick([['Relu', {}], ['Clip', { min: 0, max: 6 }], ['Sigmoid', {}], ['LeakyRelu', { alpha: 0.1 }], ['HardSwish', {}], ['Tanh', {}]] as const);
      out = g.add(op, [v], attrs);
    } else if (kind === 'add') {
      const other = vals.find((u) => u !== v && g.type(u).shape.join() === g.type(v).shape.join());
      out = other ? g.add('Add', [v, other]) : undefined;
    } else if (kind === 'mul') {
      out = g.add('Mul', [v, w([C, 1, 1], 1)]);
    } else if (kind === 'concat') {
      const other = vals.find((u) => u !== v && g.type(u).shape.slice(2).join() === g.type(v).shape.slice(2).join());
      out = other ? g.add('Concat', [v, other], { axis: 1 }) : undefined;
    } else if (kind === 'silu') {
      out = g.add('Mul', [v, g.add('Sigmoid', [v])]);
    } else if (kind === 'se') {
      const z = g.add('Conv', [g.add('GlobalAveragePool', [v]), w([C, C, 1, 1]), w([C], 0.2)]);
      out = g.add('Mul', [v, g.add('Sigmoid', [z])]);
    } else if (kind === 'convT' && H <= 8) {
      const M = pick([2, 4]);
      out = g.add('ConvTranspose', [v, w([C, M, 2, 2]), ...(r() < 0.5 ? [w([M], 0.2)] : [])], { strides: [2, 2] });
    } else if (kind === 'pad') {
      out = g.add('Pad', [v], { pads: [0, 0, 1, 0, 0, 0, 0, 1] });
    } else if (kind === 'softmax') {
      out = g.add('Softmax', [v], { axis: 1 });
    } else if (kind === 'strided' && H >= 4) {
      out = g.add('Conv', [v, w([pick([2, 4]), C, 3, 3])], { pads: [1, 1, 1, 1], strides: [2, 2] });
    } else if (kind === 'pool' && H >= 4) {
      out = g.add(pick(['MaxPool', 'AveragePool']), [v], { kernel_shape: [2, 2], strides: [2, 2] });
    }
    if (out) vals.push(out);
  }
  const last = vals[vals.length - 1];
  const outs = [last];
  if (r() < 0.5) {
    const p = r() < 0.5 ? g.add('GlobalAveragePool', [last]) : last;
    const f = g.add('Flatten', [p], { axis: 1 });
    outs[0] = g.add('Gemm', [f, w([g.type(f).shape[1], 5])]);
  }
  if (vals.length > 2 && r() < 0.5) outs.push(vals[1]);
  g.setOutputs([...new Set(outs)]);
  return g;
}
