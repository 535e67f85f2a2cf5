import { describe, expect, it } from 'vitest';
import { Graph } from '../ir/graph.js';
import { interpret } from '../ir/interpreter.js';
import type { AttrValue } from '../ir/op.js';
import { CnncError } from '../runtime/errors.js';
import { tensor, toF64, type Tensor } from '../runtime/tensor.js';

function run(op: string, x: Tensor, attrs: Record<string, AttrValue>): Tensor {
  const g = new Graph('t');
  g.addInput('x', { dtype: x.dtype, shape: x.shape });
  g.setOutputs([g.add(op, ['x'], attrs, { name: 'n' })]);
  return interpret(g, { x })[g.outputs[0]];
}
const vals = (t: Tensor) => Array.from(toF64(t));
const f32 = (shape: number[], v: number[]) => tensor('f32', shape, v);
/** Values compared at f32 precision (the kernels compute in float64 and round once to f32). */
const close = (got: number[], want: number[]) => {
  expect(got.length).toBe(want.length);
  got.forEach((g, i) => expect(g).toBeCloseTo(want[i], 6));
};

function inferError(op: string, shape: number[], attrs: Record<string, AttrValue>): CnncError {
  const g = new Graph('t');
  g.addInput('x', { dtype: 'f32', shape });
  try { g.add(op, ['x'], attrs, { name: 'bad' }); } catch (e) {
    expect(e).toBeInstanceOf(CnncError);
    expect((e as CnncError).node).toBe('bad');
    return e as CnncError;
  }
  throw new Error('expected a CnncError');
}

describe('Pad (hand-computed on [1,2,3])', () => {
  const x = f32([3], [1, 2, 3]);
  it('constant with a value, edge, reflect, wrap', () => {
    expect(vals(run('Pad', x, { pads: [2, 1], value: 9 }))).toEqual([9, 9, 1, 2, 3, 9]);
    expect(vals(run('Pad', x, { pads: [2, 1], mode: 'edge' }))).toEqual([1, 1, 1, 2, 3, 3]);
    expect(vals(run('Pad', x, { pads: [2, 2], mode: 'reflect' }))).toEqual([3, 2, 1, 2, 3, 2, 1]);
    expect(vals(run('Pad', x, { pads: [2, 1], mode: 'wrap' }))).toEqual([2, 3, 1, 2, 3, 1]);
  });
  it('reflect beyond the input size folds again, like numpy.pad', () => {
    expect(vals(run('Pad', x, { pads: [4, 0], mode: 'reflect' }))).toEqual([1, 2, 3, 2, 1, 2, 3]);
  });
  it('negative pads crop', () => {
    expect(vals(run('Pad', x, { pads: [-1, 1] }))).toEqual([2, 3, 0]);
    expect(vals(run('Pad', x, { pads: [-1, -2] }))).toEqual([]);
  });
  it('2-D: pads layout [x1_begin, x2_begin, x1_end, x2_end]', () => {
    const y = run('Pad', f32([2, 2], [1, 2, 3, 4]), { pads: [1, 0, 0, 1], mode: 'edge' });
    expect(y.shape).toEqual([3, 3]);
    expect(vals(y)).toEqual([1, 2, 2, 1, 2, 2, 3, 4, 4]);
    const z = run('Pad', tensor('i32', [1, 2], [5, 6]), { pads: [0, 1, 0, 0], value: -1 });
    expect([z.dtype, vals(z)]).toEqual(['i32', [-1, 5, 6]]);
  });
  it('errors: pads of the wrong length, crop below zero, unknown mode', () => {
    expect(inferError('Pad', [2, 2], { pads: [1, 1] }).code).toBe('BAD_ATTRIBUTE');
    expect(inferError('Pad', [2], { pads: [-2, -1] }).code).toBe('SHAPE_MISMATCH');
    expect(inferError('Pad', [2], { pads: [1, 1], mode: 'symmetric' }).code).toBe('UNSUPPORTED');
  });
});

describe('Resize 2×2 → 4×4 (hand-computed on [[1,2],[3,4]])', () => {
  const x = f32([1, 1, 2, 2], [1, 2, 3, 4]);
  const up = { scales: [1, 1, 2, 2] };
  /** The 4×4 grid whose row r, column c holds f(r, c). */
  const grid = (f: (r: number, c: number) => number) => Array.from({ length: 16 }, (_, i) => f(Math.floor(i / 4), i % 4));
  /** Value of x at fractional input coordinates: 1 + col + 2·row is bilinear-exact. */
  const plane = (r: number, c: number) => 1 + c + 2 * r;

  it('nearest: half_pixel/round_prefer_floor repeats each pixel twice', () => {
    const y = run('Resize', x, up);
    expect(y.shape).toEqual([1, 1, 4, 4]);
    expect(vals(y)).toEqual(grid((r, c) => plane([0, 0, 1, 1][r], [0, 0, 1, 1][c])));
  });
  it('nearest modes where they differ: asymmetric x = 0, .5, 1, 1.5', () => {
    const pick = (nearest_mode: string) => vals(run('Resize', x, { ...up, coordinate_transformation_mode: 'asymmetric', nearest_mode }));
    expect(pick('round_prefer_floor')).toEqual(grid((r, c) => plane([0, 0, 1, 1][r], [0, 0, 1, 1][c])));
    expect(pick('round_prefer_ceil')).toEqual(grid((r, c) => plane([0, 1, 1, 1][r], [0, 1, 1, 1][c])));
    expect(pick('floor')).toEqual(grid((r, c) => plane([0, 0, 1, 1][r], [0, 0, 1, 1][c])));
    expect(pick('ceil')).toEqual(grid((r, c) => plane([0, 1, 1, 1][r], [0, 1, 1, 1][c])));
    // tf_half_pixel_for_nearest: x = .25, .75, 1.25, 1.75 → 0, 1, 1, 1 (clamped).
    const tf = vals(run('Resize', x, { ...up, coordinate_transformation_mode: 'tf_half_pixel_for_nearest' }));
    expect(tf).toEqual(grid((r, c) => plane([0, 1, 1, 1][r], [0, 1, 1, 1][c])));
  });
  it('linear half_pixel (= pytorch_half_pixel here): x = −.25, .25, .75, 1.25 clamped to [0, 1]', () => {
    const t = [0, 0.25, 0.75, 1];
    const want = grid((r, c) => plane(t[r], t[c]));
    close(vals(run('Resize', x, { ...up, mode: 'linear' })), want);
    close(vals(run('Resize', x, { ...up, mode: 'linear', coordinate_transformation_mode: 'pytorch_half_pixel' })), want);
    expect(want.slice(0, 4)).toEqual([1, 1.25, 1.75, 2]);
  });
  it('linear align_corners: x = 0, 1/3, 2/3, 1; asymmetric: x = 0, .5, 1, 1.5→1', () => {
    const ac = [0, 1 / 3, 2 / 3, 1];
    close(vals(run('Resize', x, { ...up, mode: 'linear', coordinate_transformation_mode: 'align_corners' })), grid((r, c) => plane(ac[r], ac[c])));
    const as = [0, 0.5, 1, 1];
    close(vals(run('Resize', x, { ...up, mode: 'linear', coordinate_transformation_mode: 'asymmetric' })), grid((r, c) => plane(as[r], as[c])));
  });
  it('sizes give the same result as the equivalent scales', () => {
    expect(vals(run('Resize', x, { sizes: [1, 1, 4, 4], mode: 'linear' }))).toEqual(vals(run('Resize', x, { ...up, mode: 'linear' })));
  });
  it('NHWC layout: scales stay in NCHW order, result equals the NCHW result transposed', () => {
    const nchw = f32([1, 2, 2, 2], [1, 2, 3, 4, 10, 20, 30, 40]);
    const nhwc = f32([1, 2, 2, 2], [1, 10, 2, 20, 3, 30, 4, 40]);
    const a = run('Resize', nchw, { ...up, mode: 'linear' });
    const b = run('Resize', nhwc, { ...up, mode: 'linear', layout: 'NHWC' });
    expect(b.shape).toEqual([1, 4, 4, 2]);
    const va = vals(a), vb = vals(b);
    for (let h = 0; h < 4; h++) for (let w = 0; w < 4; w++) for (let c = 0; c < 2; c++) {
      expect(vb[(h * 4 + w) * 2 + c]).toBe(va[c * 16 + h * 4 + w]);
    }
  });
  it('downsampling 4 → 2 with nearest and scales 0.5; integer tensors are copied exactly', () => {
    const y = run('Resize', tensor('i32', [1, 4], [10, 11, 12, 13]), { scales: [1, 0.5] });
    // half_pixel: x = (i + .5)·2 − .5 = .5, 2.5 → round_prefer_floor → 0, 2.
    expect([y.dtype, vals(y)]).toEqual(['i32', [10, 12]]);
  });
});

describe('Resize cubic (1-D, hand-computed on squares [0, 1, 4, 9], asymmetric, scale 2)', () => {
  const x = f32([4], [0, 1, 4, 9]);
  const cubic = (extra: Record<string, AttrValue>) =>
    vals(run('Resize', x, { scales: [2], mode: 'cubic', coordinate_transformation_mode: 'asymmetric', ...extra }));
  it('at x = 1.5 the taps weigh [a/8, 1/2 − a/8, 1/2 − a/8, a/8]: 2.5 + a/2', () => {
    expect(cubic({})[3]).toBeCloseTo(2.5 - 0.75 / 2, 6);
    // Keys' a = −0.5 reproduces quadratics: 1.5² = 2.25.
    expect(cubic({ cubic_coeff_a: -0.5 })[3]).toBeCloseTo(2.25, 6);
    // Integer coordinates reproduce the samples.
    expect([0, 2, 4, 6].map((i) => cubic({})[i])).toEqual([0, 1, 4, 9]);
  });
  it('exclude_outside drops the tap at −1 and renormalizes (0.2 instead of 0.21875 at x = 0.5)', () => {
    expect(cubic({})[1]).toBeCloseTo(0.21875, 6);
    expect(cubic({ exclude_outside: 1 })[1]).toBeCloseTo(0.2, 6);
  });
});

describe('Resize crop and antialias (1-D, hand-computed)', () => {
  it('tf_crop_and_resize: x = roi0·(in−1) + i·(roi1−roi0)(in−1)/(out−1); outside points take extrapolation_value', () => {
    // roi [0.25, 1.25] over 4 samples: x = 0.75, 2.25, 3.75 (beyond 3: extrapolated).
    const y = run('Resize', f32([4], [0, 10, 20, 30]), {
      sizes: [3], mode: 'linear', coordinate_transformation_mode: 'tf_crop_and_resize', roi: [0.25, 1.25], extrapolation_value: 99,
    });
    close(vals(y), [7.5, 22.5, 99]);
  });
  it('antialias stretches the linear kernel by 1/scale when downsampling (4 taps with weights 1,3,3,1 / 8)', () => {
    const x = f32([8], [0, 0, 0, 12, 0, 0, 0, 0]);
    expect(vals(run('Resize', x, { scales: [0.5], mode: 'linear', antialias: 1 }))).toEqual([0, 4.5, 1.5, 0]);
    expect(vals(run('Resize', x, { scales: [0.5], mode: 'linear' }))).toEqual([0, 6, 0, 0]);
  });
});

describe('Resize errors', () => {
  it('scales and sizes: exactly one, one entry per axis; unsupported modes are UNSUPPORTED', () => {
    expect(inferError('Resize', [1, 1, 2, 2], {}).code).toBe('BAD_ATTRIBUTE');
    expect(inferError('Resize', [1, 1, 2, 2], { scales: [1, 1, 2, 2], sizes: [1, 1, 4, 4] }).code).toBe('BAD_ATTRIBUTE');
    const e = inferError('Resize', [1, 1, 2, 2], { scales: [2, 2] });
    expect([e.code, e.value]).toEqual(['SHAPE_MISMATCH', 'x']);
    expect(inferError('Resize', [2, 2], { scales: [2, 2], coordinate_transformation_mode: 'tf_crop_and_resize' }).code).toBe('BAD_ATTRIBUTE');
    expect(inferError('Resize', [2, 2], { scales: [2, 2], coordinate_transformation_mode: 'tf_crop_and_resize_v2' }).code).toBe('UNSUPPORTED');
    expect(inferError('Resize', [2, 2], { sizes: [4, 4], keep_aspect_ratio_policy: 'not_larger' }).code).toBe('UNSUPPORTED');
    expect(inferError('Resize', [2, 2], { scales: [2, 2], mode: 'area' }).code).toBe('UNSUPPORTED');
  });
});
