import { describe, expect, it } from 'vitest';
import { Graph } from '../../ir/graph.js';
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
});
