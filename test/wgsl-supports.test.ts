/**
 * codegen/wgsl/supports.ts against the lowering: for nodes the wgsl target refuses, `supports`
 * gives a reason and lowering throws a typed error saying the same; for nodes it accepts, both
 * agree too (lowering succeeds). No GPU needed: lowerWgsl only generates shaders.
 */
import { describe, expect, it } from 'vitest';
import { lowerWgsl } from '../codegen/wgsl/index.js';
import { supports, supportsOp } from '../codegen/wgsl/supports.js';
import { Graph } from '../ir/graph.js';
import { CnncError } from '../runtime/errors.js';
import { tensor } from '../runtime/tensor.js';
import { oneNode, randT } from './wgsl-harness.js';

const node = (g: Graph) => g.nodes[g.nodes.length - 1];
const errorOf = (f: () => unknown): CnncError => {
  try { f(); } catch (e) { return e as CnncError; }
  throw new Error('expected lowering to throw');
};

const x4 = () => randT([1, 2, 4, 4], 1);
const i64s = (...v: number[]) => tensor('i64', [v.length], BigInt64Array.from(v, BigInt));
const REFUSED: [string, () => Graph][] = [
  ['Add on f64 (f64 is carried in f32: only ops whose result is an input value take it)', () => oneNode('Add', [tensor('f64', [2], [1, 2]), tensor('f64', [2], [3, 4])], {}, [0, 1]).g],
  ['Cast from f64 to i32 (the f32 carrier could round across an integer)', () => oneNode('Cast', [tensor('f64', [2], [1, 2])], { to: 'i32' }).g],
  ['Sub on u64 (it can wrap beyond the u32 carrier)', () => oneNode('Sub', [tensor('u64', [2], BigUint64Array.of(1n, 2n)), tensor('u64', [2], BigUint64Array.of(3n, 1n))], {}, [0, 1]).g],
  ['Cast from i32 to u64 (negative values wrap beyond the u32 carrier)', () => oneNode('Cast', [tensor('i32', [2], [1, -2])], { to: 'u64' }).g],
  ['Cast from u32 to i64 (2^31 and more do not fit the i32 carrier)', () => oneNode('Cast', [tensor('u32', [2], [1, 2])], { to: 'i64' }).g],
  ['Max with a u64 constant of 2^32', () => oneNode('Max', [tensor('u64', [2], BigUint64Array.of(1n, 2n)), tensor('u64', [2], BigUint64Array.of(1n, 1n << 32n))], {}).g],
  ['Resize linear on i32 (float tensors only)', () => oneNode('Resize', [tensor('i32', [1, 1, 2, 2], [1, 2, 3, 4])], { scales: [1, 1, 2, 2], mode: 'linear' }).g],
  ['Add of an i64 constant outside i32', () => oneNode('Add', [tensor('i64', [2], BigInt64Array.of(1n, 2n)), tensor('i64', [2], BigInt64Array.of(1n, 1n << 40n))], {}).g],
  ['FusedDwPw over three spatial axes', () => oneNode('FusedDwPw', [randT([1, 2, 3, 4, 5], 1), randT([2, 1, 1, 1, 1], 2), undefined, randT([3, 2, 1, 1, 1], 3)], {}).g],
  ['ReduceSum on i64 (it would accumulate in f32, exact only below 2^24)', () => oneNode('ReduceSum', [i64s(1, 2)], { keepdims: 0 }).g],
  ['ReduceMax on i32 (f32 holds integers exactly only below 2^24)', () => oneNode('ReduceMax', [tensor('i32', [2], [16777217, 3])], { keepdims: 0 }).g],
  ['ReduceSum on u8 (it would sum in f32)', () => oneNode('ReduceSum', [tensor('u8', [3], [1, 2, 3])], { keepdims: 0 }).g],
  ['MatMul on i64 (it would accumulate in f32)', () => oneNode('MatMul', [i64s(1, 2), tensor('i64', [2, 1], BigInt64Array.of(3n, 4n))], {}).g],
  ['Sum of 7 i64 inputs (the range-check status buffer takes the eighth binding)', () => oneNode('Sum', Array.from({ length: 7 }, () => i64s(1, 2)), {}, [0, 1, 2, 3, 4, 5, 6]).g],
  ['Sum of 8 inputs (more than the elementwise kernel binds)', () => oneNode('Sum', Array.from({ length: 8 }, (_, k) => randT([3], k)), {}, [0, 1, 2, 3, 4, 5, 6, 7]).g],
];

const ACCEPTED: [string, () => Graph][] = [
  ['Conv with a Mish epilogue', () => oneNode('Conv', [x4(), randT([3, 2, 3, 3], 2)], { pads: [1, 1, 1, 1], activation: 'mish' }).g],
  ['Elu', () => oneNode('Elu', [x4()], { alpha: 0.5 }).g],
  ["Pad mode 'reflect'", () => oneNode('Pad', [x4()], { pads: [0, 0, 1, 1, 0, 0, 1, 1], mode: 'reflect' }).g],
  ['Sum of 3 inputs', () => oneNode('Sum', [randT([3], 1), randT([3], 2), randT([3], 3)], {}, [0, 1, 2]).g],
  ['BatchNormalization with a non-constant mean', () => oneNode('BatchNormalization', [x4(), randT([2], 2), randT([2], 3), randT([2], 4), tensor('f32', [2], [1, 2])], {}, [0, 3]).g],
  ["Pad mode 'wrap'", () => oneNode('Pad', [x4()], { pads: [0, 0, 1, 1, 0, 0, 1, 1], mode: 'wrap' }).g],
  ['Conv over three spatial axes', () => oneNode('Conv', [randT([1, 2, 3, 4, 5], 1), randT([2, 2, 1, 1, 1], 2)], {}).g],
  ['InstanceNormalization', () => oneNode('InstanceNormalization', [x4(), randT([2], 2), randT([2], 3)], {}).g],
  ['Cast f32 to i32', () => oneNode('Cast', [randT([2, 3], 1)], { to: 'i32' }).g],
  ['Cast to f64 (f64 carried in f32 buffers)', () => oneNode('Cast', [randT([2, 3], 1)], { to: 'f64' }).g],
  ['Max on f64', () => oneNode('Max', [tensor('f64', [2], [1, 2]), tensor('f64', [2], [3, 4])], {}, [0, 1]).g],
  ['Add on u32 (native u32 buffers)', () => oneNode('Add', [tensor('u32', [2], [1, 2]), tensor('u32', [2], [3, 4])], {}, [0, 1]).g],
  ['Div on u64 (carried in u32: a quotient fits)', () => oneNode('Div', [tensor('u64', [2], BigUint64Array.of(1n, 2n)), tensor('u64', [2], BigUint64Array.of(3n, 1n))], {}, [0, 1]).g],
  ['Cast to bool (bool carried in i32 buffers)', () => oneNode('Cast', [randT([2, 3], 1)], { to: 'bool' }).g],
  ['Equal (bool output)', () => oneNode('Equal', [randT([2, 3], 1), randT([2, 3], 2)], {}, [0, 1]).g],
  ["Resize mode 'linear'", () => oneNode('Resize', [x4()], { scales: [1, 1, 2, 2], mode: 'linear' }).g],
  ['ReduceMax on u8 (a max of 8-bit values is exact in f32)', () => oneNode('ReduceMax', [tensor('u8', [3], [1, 200, 3])], { keepdims: 0 }).g],
  ['Sum of 6 i64 inputs (range-checked at run time)', () => oneNode('Sum', Array.from({ length: 6 }, () => i64s(1, 2)), {}, [0, 1, 2, 3, 4, 5]).g],
];

describe('wgsl supports() agrees with the lowering', () => {
  for (const [title, make] of REFUSED) {
    it(`refuses ${title} with the reason lowering throws`, () => {
      const g = make();
      const reason = supports(node(g), g);
      expect(reason).toBeTypeOf('string');
      const err = errorOf(() => lowerWgsl(g));
      expect(err).toBeInstanceOf(CnncError);
      expect(err.message).toContain(reason);
    });
  }

  it('refuses a node without a kernel (QuantizeLinear in f16 precision), as lowering does, naming it', () => {
    const { g } = oneNode('QuantizeLinear', [x4(), tensor('f32', [], [0.1])], { precision: 'f16' });
    expect(supports(node(g), g)).toContain('QuantizeLinear');
    expect(supportsOp('NoSuchOp')).toContain('NoSuchOp');
    const err = errorOf(() => lowerWgsl(g));
    expect(err).toMatchObject({ code: 'UNSUPPORTED', node: 'n0' });
    expect(err.message).toContain('QuantizeLinear');
  });

  it('supportsOp accepts the bool ops (Equal, And, Where: bool carried in i32 buffers) and the new activations', () => {
    for (const op of ['Equal', 'And', 'Where']) expect(supportsOp(op)).toBeUndefined();
    for (const op of ['Elu', 'Celu', 'Selu', 'ThresholdedRelu', 'Softplus', 'Softsign', 'Mish']) expect(supportsOp(op)).toBeUndefined();
  });

  it('range-checks i64 results that can grow (Add, Cast from f32), and only those: other plans carry no status buffer', () => {
    const checked = (g: Graph) => lowerWgsl(g).plan.rangeChecks?.checks;
    const add = oneNode('Add', [i64s(1, 2), i64s(3, 4)], {}, [0, 1]).g, cast = oneNode('Cast', [randT([2], 1)], { to: 'i64' }).g;
    expect(checked(add)).toEqual([{ node: 'n0', op: 'Add', value: add.outputs[0] }]);
    expect(checked(cast)).toEqual([{ node: 'n0', op: 'Cast', value: cast.outputs[0] }]);
    expect(checked(oneNode('Equal', [i64s(1, 2), i64s(3, 4)], {}, [0, 1]).g)).toBeUndefined();
    expect(checked(oneNode('Max', [i64s(1, 2), i64s(3, 4)], {}, [0, 1]).g)).toBeUndefined();
    expect(checked(oneNode('Add', [tensor('i32', [2], [1, 2]), tensor('i32', [2], [3, 4])], {}, [0, 1]).g)).toBeUndefined();
    expect(checked(oneNode('Add', [randT([2], 1), randT([2], 2)], {}, [0, 1]).g)).toBeUndefined();
  });

  for (const [title, make] of ACCEPTED) {
    it(`accepts ${title}, and lowering succeeds`, () => {
      const g = make();
      expect(supports(node(g), g)).toBeUndefined();
      expect(lowerWgsl(g).shaders.f32.length).toBeGreaterThan(0);
    });
  }
});
