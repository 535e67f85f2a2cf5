import { describe, expect, it } from 'vitest';
import { tensor, toF64, type Tensor } from '../runtime/tensor.js';
import { errorOf, runOp } from './op-harness.js';

/** Runs one node: input 0 is a graph input, the others constants ('' or undefined = absent). */

const f32 = (shape: number[], v: ArrayLike<number>) => tensor('f32', shape, Float32Array.from(v));
const values = (t: Tensor) => Array.from(toF64(t));
const close = (got: number[], want: number[], tol: number) => {
  expect(got.length).toBe(want.length);
  got.forEach((v, i) => expect(Math.abs(v - want[i])).toBeLessThanOrEqual(tol));
};

describe('BatchNormalization (inference)', () => {
  const scale = f32([2], [2, 1]), bias = f32([2], [0, 1]), mean = f32([2], [2, 15]), variance = f32([2], [1, 25]);

  it('scale·(x − mean)/√(var + ε) + B per channel, NCHW and NHWC', () => {
    // ch0: 2·(x − 2)/1 + 0; ch1: (x − 15)/5 + 1
    const x = f32([1, 2, 1, 2], [1, 3, 10, 20]);
    expect(values(runOp('BatchNormalization', [x, scale, bias, mean, variance], { epsilon: 0 }))).toEqual([-2, 2, 0, 2]);
    const nhwc = f32([1, 1, 2, 2], [1, 10, 3, 20]);
    expect(values(runOp('BatchNormalization', [nhwc, scale, bias, mean, variance], { epsilon: 0, layout: 'NHWC' }))).toEqual([-2, 0, 2, 2]);
    // rank 2 (N, C), as after a Flatten; momentum is accepted and ignored
    expect(values(runOp('BatchNormalization', [f32([1, 2], [3, 20]), scale, bias, mean, variance], { epsilon: 0, momentum: 0.5 }))).toEqual([2, 2]);
  });

  it('epsilon is added to the variance (f32 tolerance 1e-6)', () => {
    const y = runOp('BatchNormalization', [f32([1, 1, 1], [2]), f32([1], [1]), f32([1], [0]), f32([1], [0]), f32([1], [0.75])], { epsilon: 0.25 });
    close(values(y), [2], 1e-6);
  });

  it('training_mode=1 is UNSUPPORTED, wrong parameter length is SHAPE_MISMATCH, naming the node', () => {
    const x = f32([1, 2, 1, 2], [1, 3, 10, 20]);
    const e = errorOf(() => runOp('BatchNormalization', [x, scale, bias, mean, variance], { training_mode: 1 }));
    expect([e.code, e.node, e.op]).toEqual(['UNSUPPORTED', 'n0', 'BatchNormalization']);
    const bad = errorOf(() => runOp('BatchNormalization', [x, scale, bias, f32([3], [0, 0, 0]), variance]));
    expect([bad.code, bad.node, bad.value]).toEqual(['SHAPE_MISMATCH', 'n0', 'c2']);
  });
});

describe('InstanceNormalization', () => {
  it('normalizes each (n, c) plane', () => {
    // ch0 [1, 3]: mean 2, var 1 → [−1, 1]; ch1 [0, 4]: mean 2, var 4 → [−1, 1]·2 + 1
    const y = runOp('InstanceNormalization', [f32([1, 2, 2], [1, 3, 0, 4]), f32([2], [1, 2]), f32([2], [0, 1])], { epsilon: 0 });
    expect(values(y)).toEqual([-1, 1, -1, 3]);
  });
});

describe('LayerNormalization', () => {
  it('normalizes the last axis, then scale and bias', () => {
    // rows [1, 3] (mean 2, var 1) and [2, 6] (mean 4, var 4) → [−1, 1] each; ·[2, 3] + [1, 0]
    const y = runOp('LayerNormalization', [f32([2, 2], [1, 3, 2, 6]), f32([2], [2, 3]), f32([2], [1, 0])], { epsilon: 0 });
    expect(values(y)).toEqual([-1, 3, -1, 3]);
  });

  it('axis 0 normalizes everything; B is optional; Scale may broadcast', () => {
    // all of [1, 3, 2, 6]: mean 3, var (4 + 0 + 1 + 9)/4 = 3.5
    const y = runOp('LayerNormalization', [f32([2, 2], [1, 3, 2, 6]), f32([1], [2])], { axis: 0, epsilon: 0 });
    close(values(y), [1, 3, 2, 6].map((v) => (2 * (v - 3)) / Math.sqrt(3.5)), 1e-6);
    const z = runOp('LayerNormalization', [f32([1, 2, 2], [1, 3, 2, 6]), f32([2, 1], [1, 10])], { axis: -2, epsilon: 0 });
    // axis −2 on [1, 2, 2] normalizes the same four values; Scale [2, 1] scales row 0 by 1, row 1 by 10
    const n = (v: number) => (v - 3) / Math.sqrt(3.5);
    close(values(z), [n(1), n(3), 10 * n(2), 10 * n(6)], 1e-5);
  });

  it('bad axis and non-broadcasting Scale are typed errors', () => {
    const x = f32([2, 2], [1, 3, 2, 6]);
    expect(errorOf(() => runOp('LayerNormalization', [x, f32([2], [1, 1])], { axis: 2 })).code).toBe('BAD_ATTRIBUTE');
    const e = errorOf(() => runOp('LayerNormalization', [x, f32([3], [1, 1, 1])]));
    expect([e.code, e.node]).toEqual(['SHAPE_MISMATCH', 'n0']);
  });
});

describe('LRN', () => {
  it('x / (bias + alpha/size · Σ x² over neighbouring channels)^beta', () => {
    // size 3, alpha/size = 1, beta 1, bias 1: sums 1+4, 1+4+9, 4+9
    const x = f32([1, 3, 1, 1], [1, 2, 3]);
    close(values(runOp('LRN', [x], { size: 3, alpha: 3, beta: 1, bias: 1 })), [1 / 6, 2 / 15, 3 / 14], 1e-7);
    // size 2 looks at channel c and c+1 (ceil((size−1)/2) above, floor below), beta 0.5
    close(values(runOp('LRN', [x], { size: 2, alpha: 2, beta: 0.5, bias: 0 })), [1 / Math.sqrt(5), 2 / Math.sqrt(13), 3 / 3], 1e-7);
    const nhwc = runOp('LRN', [f32([1, 1, 1, 3], [1, 2, 3])], { size: 3, alpha: 3, beta: 1, bias: 1, layout: 'NHWC' });
    close(values(nhwc), [1 / 6, 2 / 15, 3 / 14], 1e-7);
  });

  it('size is required and must be positive', () => {
    const x = f32([1, 3, 1, 1], [1, 2, 3]);
    expect(errorOf(() => runOp('LRN', [x])).code).toBe('BAD_ATTRIBUTE');
    expect(errorOf(() => runOp('LRN', [x], { size: 0 })).code).toBe('BAD_ATTRIBUTE');
  });
});
