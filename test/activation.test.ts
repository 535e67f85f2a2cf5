import { describe, expect, it } from 'vitest';
import { Graph } from '../ir/graph.js';
import { interpret } from '../ir/interpreter.js';
import { erf } from '../ir/ops/activation.js';
import { tensor, toF64 } from '../runtime/tensor.js';
import { CnncError } from '../runtime/errors.js';

function runUnary(op: string, xs: number[], attrs: Record<string, number | string> = {}): number[] {
  const g = new Graph('t');
  const x = g.addInput('x', { dtype: 'f32', shape: [xs.length] });
  g.setOutputs([g.add(op, [x], attrs)]);
  return Array.from(toF64(interpret(g, { x: tensor('f32', [xs.length], xs) })[g.outputs[0]]));
}

describe('activation ops (hand-computed)', () => {
  it('Relu, LeakyRelu, Clip as ReLU6', () => {
    expect(runUnary('Relu', [-2, 0, 3])).toEqual([0, 0, 3]);
    expect(runUnary('LeakyRelu', [-2, 0, 3], { alpha: 0.5 })).toEqual([-1, 0, 3]);
    expect(runUnary('Clip', [-1, 3, 7], { min: 0, max: 6 })).toEqual([0, 3, 6]);
  });
  it('Sigmoid, HardSigmoid, HardSwish, Tanh', () => {
    expect(runUnary('Sigmoid', [0])[0]).toBe(0.5);
    expect(runUnary('HardSigmoid', [-5, 0, 1])).toEqual([0, 0.5, Math.fround(0.7)]);
    expect(runUnary('HardSwish', [-4, 0, 1, 4])).toEqual([-0, 0, Math.fround(1 * (1 / 6 + 0.5)), 4]);
    expect(runUnary('Tanh', [0])[0]).toBe(0);
  });
  it('Erf and Gelu match tabulated values', () => {
    // erf(0.5) = 0.5204998778130465, erf(1) = 0.8427007929497149, erf(3) = 0.9999779095030014
    expect(erf(0.5)).toBeCloseTo(0.5204998778130465, 14);
    expect(erf(1)).toBeCloseTo(0.8427007929497149, 14);
    expect(erf(3)).toBeCloseTo(0.9999779095030014, 14);
    expect(erf(-1)).toBeCloseTo(-0.8427007929497149, 14);
    // gelu(1) = 0.5·(1 + erf(1/√2)) = 0.8413447460685429
    expect(runUnary('Gelu', [1])[0]).toBeCloseTo(0.8413447460685429, 6);
    expect(runUnary('Gelu', [1], { approximate: 'tanh' })[0]).toBeCloseTo(0.8411919906082768, 6);
  });
  it('Elu, Celu, Selu, ThresholdedRelu, Softplus, Softsign, Mish', () => {
    expect(runUnary('Elu', [-1, 2], { alpha: 2 })).toEqual([Math.fround(2 * (Math.exp(-1) - 1)), 2]);
    expect(runUnary('Celu', [-1, 2], { alpha: 2 })).toEqual([Math.fround(2 * (Math.exp(-0.5) - 1)), 2]);
    expect(runUnary('Selu', [-1, 2])).toEqual([Math.fround(1.0507009873554805 * 1.6732632423543772 * (Math.exp(-1) - 1)), Math.fround(2 * 1.0507009873554805)]);
    expect(runUnary('ThresholdedRelu', [0.5, 1, 1.5])).toEqual([0, 0, 1.5]);
    expect(runUnary('Softplus', [0])[0]).toBe(Math.fround(Math.LN2));
    expect(runUnary('Softsign', [-3])[0]).toBe(-0.75);
    expect(runUnary('Mish', [1])[0]).toBe(Math.fround(Math.tanh(Math.log(1 + Math.E))));
  });
  it('rejects integer inputs with a typed error naming the node', () => {
    const g = new Graph('t');
    const x = g.addInput('x', { dtype: 'i32', shape: [2] });
    expect(() => g.add('Relu', [x], {}, { name: 'r0' })).toThrow(CnncError);
    try { g.add('Relu', [x], {}, { name: 'r1' }); } catch (e) {
      expect((e as CnncError).code).toBe('DTYPE_MISMATCH');
      expect((e as CnncError).node).toBe('r1');
    }
  });
});
