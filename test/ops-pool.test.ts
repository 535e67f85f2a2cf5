import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tensor, toF64, type Tensor } from '../runtime/tensor.js';
import { errorOf, runOp } from './op-harness.js';

/** Runs one node: input 0 is a graph input, the others constants ('' or undefined = absent). */

const f32 = (shape: number[], v: ArrayLike<number>) => tensor('f32', shape, Float32Array.from(v));
const iota = (n: number) => Array.from({ length: n }, (_, i) => i);
const values = (t: Tensor) => Array.from(toF64(t));
const seeded = (n: number, seed: number) => Array.from({ length: n }, (_, i) => Math.fround(Math.sin(seed * 7.3 + i * 1.7) * 2));

/** [N, C, H, W] → [N, H, W, C] */
function nchwToNhwc(t: Tensor): Tensor {
  const [N, C, H, W] = t.shape, v = toF64(t), out = new Float32Array(v.length);
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) {
    out[((n * H + h) * W + w) * C + c] = v[((n * C + c) * H + h) * W + w];
  }
  return tensor('f32', [N, H, W, C], out);
}

describe('MaxPool (hand-computed)', () => {
  it('2×2 stride 2 on a 4×4 ramp keeps each block’s bottom-right', () => {
    const y = runOp('MaxPool', [f32([1, 1, 4, 4], iota(16))], { kernel_shape: [2, 2], strides: [2, 2] });
    expect(y.shape).toEqual([1, 1, 2, 2]);
    expect(values(y)).toEqual([5, 7, 13, 15]);
  });

  it('dilation and padding (padding never wins, even over negatives)', () => {
    const x = f32([1, 1, 5], [1, 5, 2, 4, 3]);
    expect(values(runOp('MaxPool', [x], { kernel_shape: [2], dilations: [2] }))).toEqual([2, 5, 3]);
    expect(values(runOp('MaxPool', [x], { kernel_shape: [3], pads: [1, 1] }))).toEqual([5, 5, 5, 4, 4]);
    const neg = f32([1, 1, 3], [-3, -1, -2]);
    expect(values(runOp('MaxPool', [neg], { kernel_shape: [3], pads: [1, 1] }))).toEqual([-1, -1, -1]);
  });

  it('ceil_mode keeps a partial last window; auto_pad SAME_UPPER/LOWER', () => {
    const x = f32([1, 1, 5], [1, 2, 3, 4, 5]);
    expect(values(runOp('MaxPool', [x], { kernel_shape: [2], strides: [2] }))).toEqual([2, 4]);
    expect(values(runOp('MaxPool', [x], { kernel_shape: [2], strides: [2], ceil_mode: 1 }))).toEqual([2, 4, 5]);
    const z = f32([1, 1, 4], [1, 3, 2, 4]);
    expect(values(runOp('MaxPool', [z], { kernel_shape: [2], auto_pad: 'SAME_UPPER' }))).toEqual([3, 3, 4, 4]);
    expect(values(runOp('MaxPool', [z], { kernel_shape: [2], auto_pad: 'SAME_LOWER' }))).toEqual([1, 3, 3, 4]);
  });

  it('ceil_mode drops a last window that would start in the end padding', () => {
    // in 2, k 3, s 3, pads 1: ceil((2+2−3)/3)+1 = 2, but window 2 starts at 3−1 = 2 ≥ in → 1 output
    const y = runOp('MaxPool', [f32([1, 1, 2, 2], [1, 2, 3, 4])], { kernel_shape: [3, 3], strides: [3, 3], pads: [1, 1, 1, 1], ceil_mode: 1 });
    expect(y.shape).toEqual([1, 1, 1, 1]);
    expect(values(y)).toEqual([4]);
  });

  it('3-D windows, u8 inputs, NHWC', () => {
    const y = runOp('MaxPool', [f32([1, 1, 2, 2, 2], [8, 1, 2, 3, 4, 5, 6, 7])], { kernel_shape: [2, 1, 2] });
    expect(values(y)).toEqual([8, 7]);
    const u = runOp('MaxPool', [tensor('u8', [1, 1, 1, 4], [9, 200, 3, 250])], { kernel_shape: [1, 2], strides: [1, 2] });
    expect([u.dtype, ...values(u)]).toEqual(['u8', 200, 250]);
    const x = f32([2, 3, 5, 4], seeded(120, 1));
    const attrs = { kernel_shape: [3, 2], strides: [2, 1], pads: [1, 0, 1, 1], dilations: [1, 2] };
    expect(values(runOp('MaxPool', [nchwToNhwc(x)], { ...attrs, layout: 'NHWC' }))).toEqual(values(nchwToNhwc(runOp('MaxPool', [x], attrs))));
  });
});

describe('AveragePool (hand-computed)', () => {
  it('count_include_pad: padding counts in the divisor only when asked', () => {
    const x = f32([1, 1, 3], [1, 2, 3]);
    expect(values(runOp('AveragePool', [x], { kernel_shape: [3], pads: [1, 1] }))).toEqual([1.5, 2, 2.5]);
    expect(values(runOp('AveragePool', [x], { kernel_shape: [3], pads: [1, 1], count_include_pad: 1 })))
      .toEqual([1, 2, 5 / 3].map(Math.fround));
  });

  it('ceil_mode: the overhang past the end pad is never counted', () => {
    // windows [-1..1], [1..3], [3..5] over [1,2,3,4] padded by 1: the last reaches position 5 (past the pad)
    const x = f32([1, 1, 4], [1, 2, 3, 4]);
    const attrs = { kernel_shape: [3], strides: [2], pads: [1, 1], ceil_mode: 1 };
    expect(values(runOp('AveragePool', [x], { ...attrs, count_include_pad: 1 }))).toEqual([1, 3, 2]);
    expect(values(runOp('AveragePool', [x], attrs))).toEqual([1.5, 3, 4]);
    const y = f32([1, 1, 5], [1, 2, 3, 4, 5]);
    expect(values(runOp('AveragePool', [y], { kernel_shape: [2], strides: [2], ceil_mode: 1 }))).toEqual([1.5, 3.5, 5]);
  });

  it('2-D with strides and dilations; NHWC', () => {
    // 4×4 ramp, 2×2 dilated by 2: mean of x[i][j], x[i][j+2], x[i+2][j], x[i+2][j+2] = 4i + j + 5
    const y = runOp('AveragePool', [f32([1, 1, 4, 4], iota(16))], { kernel_shape: [2, 2], dilations: [2, 2] });
    expect(values(y)).toEqual([5, 6, 9, 10]);
    const x = f32([1, 2, 5, 5], seeded(50, 2));
    const attrs = { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], count_include_pad: 1, ceil_mode: 1 };
    expect(values(runOp('AveragePool', [nchwToNhwc(x)], { ...attrs, layout: 'NHWC' }))).toEqual(values(nchwToNhwc(runOp('AveragePool', [x], attrs))));
  });

  it('with count_include_pad equals a depthwise conv with a 1/k² kernel (fast-check)', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 1 }), fc.integer({ min: 0, max: 1 }), fc.integer({ min: 0, max: 100 }),
      (C, H, W, K, S, pb, pe, seed) => {
        fc.pre(H + pb + pe >= K && W + pb + pe >= K && pb < K && pe < K);
        const x = f32([1, C, H, W], seeded(C * H * W, seed));
        const pads = [pb, pb, pe, pe];
        const avg = runOp('AveragePool', [x], { kernel_shape: [K, K], strides: [S, S], pads, count_include_pad: 1 });
        const conv = runOp('Conv', [x, f32([C, 1, K, K], new Array(C * K * K).fill(1 / (K * K)))], { group: C, strides: [S, S], pads });
        expect(avg.shape).toEqual(conv.shape);
        values(avg).forEach((v, i) => expect(Math.abs(v - values(conv)[i])).toBeLessThanOrEqual(1e-6));
      }), { numRuns: 100 });
  });
});

describe('global pools', () => {
  it('mean and max over all positions, in both layouts', () => {
    const x = f32([1, 2, 2, 2], [1, 2, 3, 4, -1, -2, -3, -8]);
    const avg = runOp('GlobalAveragePool', [x]);
    expect(avg.shape).toEqual([1, 2, 1, 1]);
    expect(values(avg)).toEqual([2.5, -3.5]);
    expect(values(runOp('GlobalMaxPool', [x]))).toEqual([4, -1]);
    const nhwc = runOp('GlobalAveragePool', [nchwToNhwc(x)], { layout: 'NHWC' });
    expect(nhwc.shape).toEqual([1, 1, 1, 2]);
    expect(values(nhwc)).toEqual([2.5, -3.5]);
    const y1 = runOp('GlobalMaxPool', [f32([2, 1, 3], [1, 9, 2, 7, 3, 5])]);
    expect([y1.shape, values(y1)]).toEqual([[2, 1, 1], [9, 7]]);
  });
});

describe('pool errors name the node', () => {
  it('kernel larger than the input, a missing kernel_shape, integer averages', () => {
    const e = errorOf(() => runOp('MaxPool', [f32([1, 1, 2, 2], iota(4))], { kernel_shape: [3, 3] }));
    expect([e.code, e.node, e.op]).toEqual(['SHAPE_MISMATCH', 'n0', 'MaxPool']);
    expect(errorOf(() => runOp('MaxPool', [f32([1, 1, 2, 2], iota(4))])).code).toBe('BAD_ATTRIBUTE');
    expect(errorOf(() => runOp('MaxPool', [f32([1, 1, 2, 2], iota(4))], { kernel_shape: [2] })).code).toBe('BAD_ATTRIBUTE');
    expect(errorOf(() => runOp('AveragePool', [tensor('u8', [1, 1, 2, 2], iota(4))], { kernel_shape: [2, 2] })).code).toBe('DTYPE_MISMATCH');
    expect(errorOf(() => runOp('GlobalAveragePool', [f32([2, 3], iota(6))])).code).toBe('SHAPE_MISMATCH');
    expect(errorOf(() => runOp('MaxPool', [f32([1, 4], iota(4))], { kernel_shape: [2] })).code).toBe('UNSUPPORTED');
    // a window that could lie wholly in the padding
    expect(errorOf(() => runOp('AveragePool', [f32([1, 1, 4], iota(4))], { kernel_shape: [2], pads: [2, 0] })).code).toBe('BAD_ATTRIBUTE');
  });
});
