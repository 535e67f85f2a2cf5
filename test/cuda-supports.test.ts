/**
 * codegen/cuda/supports.ts against the lowering: for nodes the cuda target refuses, `supports`
 * gives a reason and lowering throws a typed error saying the same; for nodes it accepts, both
 * agree too (lowering succeeds). No GPU, nvcc or g++ needed: lowerCuda only generates source.
 */
import { describe, expect, it } from 'vitest';
import { lowerCuda } from '../codegen/cuda/lower.js';
import { supports, supportsOp } from '../codegen/cuda/supports.js';
import type { Graph } from '../ir/graph.js';
import { CnncError } from '../runtime/errors.js';
import { fromF64, tensor } from '../runtime/tensor.js';
import { oneNode, randT } from './wgsl-harness.js';

const node = (g: Graph) => g.nodes[g.nodes.length - 1];
const errorOf = (f: () => unknown): CnncError => {
  try { f(); } catch (e) { return e as CnncError; }
  throw new Error('expected lowering to throw');
};

const x4 = () => randT([1, 2, 4, 4], 1);
const REFUSED: [string, () => Graph][] = [
  ['Abs of bf16 (no C type)', () => oneNode('Abs', [fromF64('bf16', [3], [1, -2, 3])], {}, [0]).g],
  ["Resize mode 'linear' of u8", () => oneNode('Resize', [tensor('u8', [1, 1, 2, 2], new Uint8Array([1, 2, 3, 4]))], { scales: [1, 1, 2, 2], mode: 'linear' }).g],
  ['Cast from i32 to f8e4m3fn (no table for a 32-bit source, and it would round twice through f32)', () => oneNode('Cast', [tensor('i32', [3], new Int32Array([1, -2, 3]))], { to: 'f8e4m3fn' }).g],
];

const ACCEPTED: [string, () => Graph][] = [
  ['Conv with a Mish epilogue', () => oneNode('Conv', [x4(), randT([3, 2, 3, 3], 2)], { pads: [1, 1, 1, 1], activation: 'mish' }).g],
  ['Celu', () => oneNode('Celu', [x4()], { alpha: 2 }).g],
  ['Cast from f32 to f8e4m3fn (per element on the bits)', () => oneNode('Cast', [randT([3], 1)], { to: 'f8e4m3fn' }).g],
  ['Add of f16', () => oneNode('Add', [fromF64('f16', [4], [1, 2, 3, 4]), fromF64('f16', [4], [1, 1, 1, 1])], {}, [0, 1]).g],
  ['Equal (bool output)', () => oneNode('Equal', [randT([2, 3], 1), randT([2, 3], 2)], {}, [0, 1]).g],
  ['Where (bool condition)', () => oneNode('Where', [tensor('bool', [3], new Uint8Array([1, 0, 1])), randT([3], 1), randT([3], 2)], {}, [0, 1, 2]).g],
  ['Add of i32', () => oneNode('Add', [tensor('i32', [3], new Int32Array([1, 2, 3])), tensor('i32', [3], new Int32Array([4, 5, 6]))], {}, [0, 1]).g],
  ["Resize mode 'linear'", () => oneNode('Resize', [x4()], { scales: [1, 1, 2, 2], mode: 'linear' }).g],
  ['Concat of bf16 (bits moved)', () => oneNode('Concat', [fromF64('bf16', [2], [1, 2]), fromF64('bf16', [2], [3, 4])], { axis: 0 }, [0, 1]).g],
  ['Cast from f16 to f8e4m3fn (a table)', () => oneNode('Cast', [fromF64('f16', [3], [1, -2, 300])], { to: 'f8e4m3fn' }).g],
  ['Concat of f64', () => oneNode('Concat', [fromF64('f64', [2], [1, 2]), fromF64('f64', [2], [3, 4])], { axis: 0 }, [0, 1]).g],
  ['BatchNormalization with a non-constant mean', () => oneNode('BatchNormalization', [x4(), randT([2], 2), randT([2], 3), randT([2], 4), tensor('f32', [2], [1, 2])], {}, [0, 3]).g],
  ['Gather with non-constant indices', () => oneNode('Gather', [randT([4, 3], 1), tensor('i64', [2], new BigInt64Array([0n, 2n]))], { axis: 0 }, [0, 1]).g],
  ['Gather with constant indices', () => oneNode('Gather', [randT([4, 3], 1), tensor('i64', [2], new BigInt64Array([0n, 2n]))], { axis: 0 }).g],
];

describe('cuda supports() agrees with the lowering', () => {
  for (const [title, make] of REFUSED) {
    it(`refuses ${title} with the reason lowering throws`, () => {
      const g = make();
      const reason = supports(node(g), g);
      expect(reason).toBeTypeOf('string');
      const err = errorOf(() => lowerCuda(g));
      expect(err).toBeInstanceOf(CnncError);
      expect(err.message).toContain(reason);
    });
  }

  it('refuses an op without a kernel (Shape), as lowering does', () => {
    const { g } = oneNode('Shape', [x4()], {});
    const reason = supports(node(g), g);
    expect(reason).toBe(supportsOp('Shape'));
    expect(errorOf(() => lowerCuda(g)).message).toContain(reason);
  });

  it('supportsOp accepts the integer/bool ops (Equal, Not, Where) and the new activations; refuses an op without a kernel', () => {
    for (const op of ['Equal', 'Not', 'Where', 'And', 'Less']) expect(supportsOp(op)).toBeUndefined();
    expect(supportsOp('CastLike')).toContain('no CUDA kernel');
    for (const op of ['QuantizeLinear', 'DequantizeLinear', 'QLinearConv', 'QGemm']) expect(supportsOp(op)).toBeUndefined();
    for (const op of ['Elu', 'Celu', 'Selu', 'ThresholdedRelu', 'Softplus', 'Softsign', 'Mish']) expect(supportsOp(op)).toBeUndefined();
  });

  for (const [title, make] of ACCEPTED) {
    it(`accepts ${title}, and lowering succeeds`, () => {
      const g = make();
      expect(supports(node(g), g)).toBeUndefined();
      expect(lowerCuda(g).plan.steps.length).toBeGreaterThan(0);
    });
  }
});
