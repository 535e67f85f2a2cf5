import { describe, expect, it } from 'vitest';
import { Graph } from '../../ir/graph.js';
import { fromF64, toF64 } from '../../runtime/tensor.js';
import { foldBatchNorm } from '../../passes/fold-batchnorm.js';
import { constant, expectSameOutputs, ops, randomConstant, values } from './helpers.js';

/** BN parameters for C channels, seeded, with var > 0. */
function bn(g: Graph, x: string, C: number, seed: number, attrs: Record<string, number | string> = {}): string {
  const p = [
    randomConstant(g, `s${seed}`, [C], seed, 1),
    randomConstant(g, `b${seed}`, [C], seed + 1),
    randomConstant(g, `m${seed}`, [C], seed + 2),
    g.addConstant(`v${seed}`, { dtype: 'f32', shape: [C], data: Float32Array.from({ length: C }, (_, i) => 0.5 + i / C) }),
  ];
  return g.add('BatchNormalization', [x, ...p], attrs, { name: `bn${seed}` });
}

describe('fold-batchnorm', () => {
  it('folds into a Conv: W·s per output channel, (B − mean)·s + beta (hand-computed)', () => {
    const g = new Graph('t');
    const x = g.addInput('x', { dtype: 'f32', shape: [1, 1, 2, 2] });
    const w = constant(g, 'w', [2, 1, 1, 1], [2, 3]);
    const b = constant(g, 'b', [2], [1, -1]);
    const y = g.add('Conv', [x, w, b], {}, { name: 'conv' });
    // s = scale/√(var+ε) = [1/√4, 2/√1] = [0.5, 2]; t = beta − mean·s = [0.5 − 1·0.5, 0 − 0] = [0, 0]
    const p = [constant(g, 'scale', [2], [1, 2]), constant(g, 'beta', [2], [0.5, 0]), constant(g, 'mean', [2], [1, 0]), constant(g, 'var', [2], [3, 0])];
    g.setOutputs([g.add('BatchNormalization', [y, ...p], { epsilon: 1 }, { name: 'bn', outputs: ['out'] })]);
    const h = foldBatchNorm(g);
    expect(ops(h)).toEqual({ Conv: 1 });
    const conv = h.nodes[0];
    expect(conv.outputs).toEqual(['out']);
    expect(values(h, conv.inputs[1])).toEqual([1, 6]);
    expect(values(h, conv.inputs[2])).toEqual([0.5, -2]);
    expect(h.values.has('scale') || h.values.has('w')).toBe(false);
    expectSameOutputs(g, h, 1e-6);
  });

  it('folds into a grouped ConvTranspose (W is (C, M/group, k, k))', () => {
    const g = new Graph('t');
    const x = g.addInput('x', { dtype: 'f32', shape: [1, 4, 3, 3] });
    const w = randomConstant(g, 'w', [4, 3, 2, 2], 1);
    const y = g.add('ConvTranspose', [x, w], { group: 2, strides: [2, 2] });
    g.setOutputs([bn(g, y, 6, 10)]);
    const h = foldBatchNorm(g);
    expect(ops(h)).toEqual({ ConvTranspose: 1 });
    expectSameOutputs(g, h, 1e-5);
  });

  it('folds into Gemm (transB, bias, beta) and turns a 2-D MatMul + BN into one Gemm', () => {
    const g = new Graph('t');
    const x = g.addInput('x', { dtype: 'f32', shape: [3, 5] });
    const gm = g.add('Gemm', [x, randomConstant(g, 'w', [4, 5], 2), randomConstant(g, 'c', [4], 3)], { transB: 1, beta: 0.5, alpha: 2 });
    const mm = g.add('MatMul', [x, randomConstant(g, 'w2', [5, 4], 4)]);
    g.setOutputs([bn(g, gm, 4, 20), bn(g, mm, 4, 30)]);
    const h = foldBatchNorm(g);
    expect(ops(h)).toEqual({ Gemm: 2 });
    expectSameOutputs(g, h, 1e-5);
  });

  it('a BN with nothing to fold into becomes a 1×1 depthwise Conv (rank 4) or Mul + Add', () => {
    const g = new Graph('t');
    const x = g.addInput('x', { dtype: 'f32', shape: [1, 3, 2, 2] });
    const v = g.addInput('v', { dtype: 'f32', shape: [2, 3] });
    const r = g.add('Relu', [x]);
    g.setOutputs([bn(g, r, 3, 40), bn(g, v, 3, 50)]);
    const h = foldBatchNorm(g);
    expect(ops(h)).toEqual({ Relu: 1, Conv: 1, Mul: 1, Add: 1 });
    const dw = h.nodes.find((n) => n.op === 'Conv')!;
    expect(dw.attrs.group).toBe(3);
    expect(h.type(dw.inputs[1]).shape).toEqual([3, 1, 1, 1]);
    expectSameOutputs(g, h, 1e-5);
  });

  it('does not fold into a conv whose output has another reader', () => {
    const g = new Graph('t');
    const x = g.addInput('x', { dtype: 'f32', shape: [1, 2, 3, 3] });
    const y = g.add('Conv', [x, randomConstant(g, 'w', [2, 2, 1, 1], 5)]);
    g.setOutputs([g.add('Add', [bn(g, y, 2, 60), y])]);
    const h = foldBatchNorm(g);
    expect(ops(h)).toEqual({ Conv: 2, Add: 1 }); // the original conv plus the BN as a depthwise conv
    expectSameOutputs(g, h, 1e-5);
  });

  it('folded weights are bit for bit W·s computed in float64 and rounded once (Conv, grouped ConvTranspose, Gemm, f16)', () => {
    // s per output channel from the BN constants, in float64 as the pass documents
    const sOf = (g: Graph, seed: number, C: number) => Array.from({ length: C }, (_, c) => values(g, `s${seed}`)[c] / Math.sqrt(values(g, `v${seed}`)[c] + 1e-5));
    const expectScaled = (g: Graph, h: Graph, w: string, channelOf: (i: number) => number, seed: number, C: number) => {
      const W = g.constValue(w)!, s = sOf(g, seed, C);
      const want = fromF64(W.dtype, W.shape, toF64(W).map((v, i) => v * s[channelOf(i)]));
      const got = h.constValue(h.nodes.find((n) => n.inputs[1]?.startsWith(w))!.inputs[1])!;
      expect(got.dtype).toBe(W.dtype);
      expect(Array.from(got.data as ArrayLike<number>)).toEqual(Array.from(want.data as ArrayLike<number>));
    };
    const g = new Graph('t');
    const x = g.addInput('x', { dtype: 'f32', shape: [1, 4, 3, 3] });
    const conv = g.add('Conv', [x, randomConstant(g, 'wc', [6, 2, 3, 3], 7)], { group: 2, pads: [1, 1, 1, 1] });
    const deconv = g.add('ConvTranspose', [x, randomConstant(g, 'wt', [4, 3, 2, 2], 8)], { group: 2, strides: [2, 2] });
    const v = g.addInput('v', { dtype: 'f32', shape: [3, 5] });
    const gemm = g.add('Gemm', [v, randomConstant(g, 'wg', [5, 4], 9)], {});
    const gemmT = g.add('Gemm', [v, randomConstant(g, 'wgt', [4, 5], 10)], { transB: 1 });
    g.setOutputs([bn(g, conv, 6, 70), bn(g, deconv, 6, 80), bn(g, gemm, 4, 90), bn(g, gemmT, 4, 100)]);
    const h = foldBatchNorm(g);
    expect(ops(h)).toEqual({ Conv: 1, ConvTranspose: 1, Gemm: 2 });
    expectScaled(g, h, 'wc', (i) => Math.floor(i / 18), 70, 6);
    // ConvTranspose (C=4, M/group=3, 2, 2), group 2: input channel c of group ⌊c/2⌋, column j → channel 3·⌊c/2⌋ + j
    expectScaled(g, h, 'wt', (i) => 3 * Math.floor(Math.floor(i / 12) / 2) + (Math.floor(i / 4) % 3), 80, 6);
    expectScaled(g, h, 'wg', (i) => i % 4, 90, 4);
    expectScaled(g, h, 'wgt', (i) => Math.floor(i / 5), 100, 4);

    const g16 = new Graph('t16');
    const x16 = g16.addInput('x', { dtype: 'f16', shape: [1, 2, 3, 3] });
    const W16 = fromF64('f16', [3, 2, 1, 1], [0.5, -1.25, 2, 0.1, 3.3, -0.7]);
    const c16 = g16.add('Conv', [x16, g16.addConstant('w16', W16)]);
    const p16 = ['s', 'b', 'm', 'v'].map((k, j) => g16.addConstant(`${k}111`, fromF64('f16', [3], [[1.5, 0.3, -2], [0, 1, 2], [0.1, 0.2, 0.3], [1, 2, 0.5]][j])));
    g16.setOutputs([g16.add('BatchNormalization', [c16, ...p16], {}, { name: 'bn16' })]);
    expectScaled(g16, foldBatchNorm(g16), 'w16', (i) => Math.floor(i / 2), 111, 3);
  });
});

