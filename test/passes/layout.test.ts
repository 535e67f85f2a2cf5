import { describe, expect, it } from 'vitest';
import { Graph } from '../../ir/graph.js';
import { toNHWC, transposeCount } from '../../passes/layout.js';
import { constant, expectSameOutputs, ops, randomConstant } from './helpers.js';

const layouts = (g: Graph) => g.nodes.filter((n) => 'layout' in n.attrs).map((n) => n.attrs.layout);

describe('layout-nhwc', () => {
  it('a conv/pool chain keeps one transpose at the input and one at the output', () => {
    const g = new Graph('t');
    const x = g.addInput('x', { dtype: 'f32', shape: [1, 3, 8, 8] });
    let v = g.add('Conv', [x, randomConstant(g, 'w1', [4, 3, 3, 3], 1)], { pads: [1, 1, 1, 1], activation: 'relu' });
    v = g.add('Mul', [v, constant(g, 'k', [4, 1, 1], [1, 2, 3, 4])]); // per-channel constant: re-laid out
    v = g.add('MaxPool', [v], { kernel_shape: [2, 2], strides: [2, 2] });
    const a = g.add('Conv', [v, randomConstant(g, 'w2', [2, 4, 1, 1], 2)]);
    const b = g.add('Conv', [v, randomConstant(g, 'w3', [3, 4, 1, 1], 3)]);
    v = g.add('Concat', [a, b], { axis: 1 });
    v = g.add('Pad', [v], { pads: [0, 0, 1, 0, 0, 0, 0, 2] });
    v = g.add('Conv', [v, randomConstant(g, 'w4', [2, 5, 3, 3], 4)], {}, { outputs: ['out'] });
    g.setOutputs([v]);
    const h = toNHWC(g);
    expect(transposeCount(h)).toBe(2);
    expect(layouts(h).every((l) => l === 'NHWC')).toBe(true);
    const concat = h.nodes.find((n) => n.op === 'Concat')!;
    expect(concat.attrs.axis).toBe(3);
    expect(h.nodes.find((n) => n.op === 'Pad')!.attrs.pads).toEqual([0, 1, 0, 0, 0, 0, 2, 0]);
    expect(h.type('out').shape).toEqual([1, 2, 3, 4]); // the graph output keeps NCHW
    expectSameOutputs(g, h, 1e-6);
  });

  it('a residual input and a global pool before Flatten + Gemm leave only the input transpose', () => {
    const g = new Graph('t');
    const x = g.addInput('x', { dtype: 'f32', shape: [1, 4, 5, 5] });
    const c = g.add('Conv', [x, randomConstant(g, 'w1', [4, 4, 3, 3], 1)], { pads: [1, 1, 1, 1] });
    const r = g.add('Conv', [c, randomConstant(g, 'w2', [4, 4, 3, 3], 2), '', x], { pads: [1, 1, 1, 1], activation: 'relu' });
    const p = g.add('GlobalAveragePool', [r]);
    const f = g.add('Flatten', [p], { axis: 1 });
    g.setOutputs([g.add('Gemm', [f, randomConstant(g, 'fc', [3, 4], 3)], { transB: 1 })]);
    const h = toNHWC(g);
    expect(transposeCount(h)).toBe(1);
    expect(h.nodes[0].op).toBe('Transpose');
    expectSameOutputs(g, h, 1e-6);
  });

  it('absorbs an NHWC→NCHW transpose before Flatten + Gemm into re-packed weight rows (5×5 spatial)', () => {
    for (const transB of [0, 1]) {
      const g = new Graph('t');
      const x = g.addInput('x', { dtype: 'f32', shape: [1, 3, 7, 7] });
      const c = g.add('Conv', [x, randomConstant(g, 'w1', [4, 3, 3, 3], 1)], { activation: 'tanh' });
      const f = g.add('Flatten', [c], { axis: 1 });
      const w = randomConstant(g, 'fc', transB ? [6, 100] : [100, 6], 2);
      g.setOutputs([g.add('Gemm', [f, w], { transB })]);
      const h = toNHWC(g);
      expect(transposeCount(h)).toBe(1); // the input's
      expect(ops(h)).toEqual({ Transpose: 1, Conv: 1, Reshape: 1, Gemm: 1 });
      expectSameOutputs(g, h, 1e-6);
    }
  });

  it('leaves layout-unaware consumers (Softmax over channels) behind a transpose', () => {
    const g = new Graph('t');
    const x = g.addInput('x', { dtype: 'f32', shape: [1, 3, 4, 4] });
    const c = g.add('Conv', [x, randomConstant(g, 'w', [3, 3, 1, 1], 1)]);
    const s = g.add('Softmax', [c], { axis: 1 });
    g.setOutputs([g.add('Reshape', [s], { shape: [3, 16] })]);
    const h = toNHWC(g);
    expect(ops(h).Softmax).toBe(1);
    expect(h.nodes.find((n) => n.op === 'Softmax')!.attrs.axis).toBe(3);
    expectSameOutputs(g, h, 1e-6);
  });
});
