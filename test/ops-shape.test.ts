import { describe, expect, it } from 'vitest';
import { Graph } from '../ir/graph.js';
import { interpret } from '../ir/interpreter.js';
import type { AttrValue } from '../ir/op.js';
import { CnncError } from '../runtime/errors.js';
import { tensor, toF64, type Tensor } from '../runtime/tensor.js';

function runAll(op: string, xs: Tensor[], attrs: Record<string, AttrValue> = {}): Tensor[] {
  const g = new Graph('t');
  const names = xs.map((x, i) => g.addInput(`x${i}`, { dtype: x.dtype, shape: x.shape }));
  g.setOutputs(g.addNode(op, names, attrs, { name: 'n' }));
  const res = interpret(g, Object.fromEntries(xs.map((x, i) => [`x${i}`, x])));
  return g.outputs.map((o) => res[o]);
}
const run = (op: string, xs: Tensor[], attrs: Record<string, AttrValue> = {}) => runAll(op, xs, attrs)[0];
const vals = (t: Tensor) => Array.from(toF64(t));
/** 0, 1, 2, ... as f32 of the given shape. */
const iota = (shape: number[]) => tensor('f32', shape, Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i));

/** The typed error `op` raises while being added to a graph with an input of `shape`. */
function inferError(op: string, shape: number[], attrs: Record<string, AttrValue>): CnncError {
  const g = new Graph('t');
  const x = g.addInput('x', { dtype: 'f32', shape });
  try { g.add(op, [x], attrs, { name: 'bad' }); } catch (e) {
    expect(e).toBeInstanceOf(CnncError);
    expect((e as CnncError).node).toBe('bad');
    return e as CnncError;
  }
  throw new Error('expected a CnncError');
}

describe('Reshape, Flatten, Squeeze, Unsqueeze', () => {
  it('Reshape: 0 copies a dimension, -1 is inferred, allowzero keeps a literal 0', () => {
    const y = run('Reshape', [iota([2, 3, 4])], { shape: [0, -1] });
    expect(y.shape).toEqual([2, 12]);
    expect(vals(y)).toEqual(vals(iota([24])));
    expect(run('Reshape', [iota([2, 3, 4])], { shape: [-1, 0, 2] }).shape).toEqual([4, 3, 2]);
    expect(run('Reshape', [iota([0, 3])], { shape: [3, 0], allowzero: 1 }).shape).toEqual([3, 0]);
  });
  it('Reshape errors: wrong size, two -1, 0 beyond the input rank', () => {
    const e = inferError('Reshape', [2, 3], { shape: [4, 2] });
    expect([e.code, e.value]).toEqual(['SHAPE_MISMATCH', 'x']);
    expect(inferError('Reshape', [2, 3], { shape: [-1, -1] }).code).toBe('BAD_ATTRIBUTE');
    expect(inferError('Reshape', [6], { shape: [3, 0] }).code).toBe('SHAPE_MISMATCH');
    expect(inferError('Reshape', [2, 3], { shape: [-1, 4] }).code).toBe('SHAPE_MISMATCH');
  });
  it('Flatten at axis 0, 1, a negative axis and the rank', () => {
    expect(run('Flatten', [iota([2, 3, 4])], { axis: 0 }).shape).toEqual([1, 24]);
    expect(run('Flatten', [iota([2, 3, 4])]).shape).toEqual([2, 12]);
    expect(run('Flatten', [iota([2, 3, 4])], { axis: -1 }).shape).toEqual([6, 4]);
    expect(run('Flatten', [iota([2, 3, 4])], { axis: 3 }).shape).toEqual([24, 1]);
    expect(inferError('Flatten', [2, 3], { axis: 3 }).code).toBe('BAD_ATTRIBUTE');
  });
  it('Squeeze (given axes, negative axes, all 1s) and Unsqueeze (negative axes, several)', () => {
    expect(run('Squeeze', [iota([1, 3, 1, 2])], { axes: [-2] }).shape).toEqual([1, 3, 2]);
    expect(run('Squeeze', [iota([1, 3, 1, 2])]).shape).toEqual([3, 2]);
    expect(inferError('Squeeze', [1, 3], { axes: [1] }).code).toBe('SHAPE_MISMATCH');
    expect(run('Unsqueeze', [iota([3, 2])], { axes: [0, -1] }).shape).toEqual([1, 3, 2, 1]);
    expect(run('Unsqueeze', [iota([3, 2])], { axes: [1, 3] }).shape).toEqual([3, 1, 2, 1]);
    expect(vals(run('Unsqueeze', [iota([3])], { axes: [0] }))).toEqual([0, 1, 2]);
  });
});

describe('Transpose', () => {
  it('default reverses the axes; a perm moves elements', () => {
    const x = iota([2, 3]); // [[0,1,2],[3,4,5]]
    const y = run('Transpose', [x]);
    expect(y.shape).toEqual([3, 2]);
    expect(vals(y)).toEqual([0, 3, 1, 4, 2, 5]);
    // NCHW [1,2,2,2] → NHWC: channel values interleave.
    const z = run('Transpose', [iota([1, 2, 2, 2])], { perm: [0, 2, 3, 1] });
    expect(z.shape).toEqual([1, 2, 2, 2]);
    expect(vals(z)).toEqual([0, 4, 1, 5, 2, 6, 3, 7]);
    expect(inferError('Transpose', [2, 3], { perm: [0, 0] }).code).toBe('BAD_ATTRIBUTE');
  });
  it('keeps i64 values beyond 2^53 exact', () => {
    const big = 2n ** 60n + 1n;
    const y = run('Transpose', [tensor('i64', [2, 1], BigInt64Array.from([big, -big]))]);
    expect(y.data).toEqual(BigInt64Array.from([big, -big]));
  });
});

describe('Concat and Split', () => {
  it('Concat along a negative axis', () => {
    const y = run('Concat', [iota([2, 1]), tensor('f32', [2, 2], [10, 11, 12, 13])], { axis: -1 });
    expect(y.shape).toEqual([2, 3]);
    expect(vals(y)).toEqual([0, 10, 11, 1, 12, 13]);
    const z = run('Concat', [iota([1, 2]), iota([2, 2]), iota([0, 2])], { axis: 0 });
    expect(vals(z)).toEqual([0, 1, 0, 1, 2, 3]);
  });
  it('Concat rejects other dimensions that differ, naming the input', () => {
    const g = new Graph('t');
    const a = g.addInput('a', { dtype: 'f32', shape: [2, 3] });
    const b = g.addInput('b', { dtype: 'f32', shape: [3, 3] });
    try {
      g.add('Concat', [a, b], { axis: 1 }, { name: 'cat' });
      throw new Error('no error');
    } catch (e) {
      expect(e).toBeInstanceOf(CnncError);
      expect((e as CnncError).code).toBe('SHAPE_MISMATCH');
      expect([(e as CnncError).node, (e as CnncError).value]).toEqual(['cat', 'b']);
    }
  });
  it('Split by sizes and by num_outputs (ONNX 18: ceil-sized parts, the last smaller)', () => {
    const [a, b] = runAll('Split', [iota([2, 3])], { axis: 1, split: [1, 2] });
    expect([a.shape, vals(a)]).toEqual([[2, 1], [0, 3]]);
    expect([b.shape, vals(b)]).toEqual([[2, 2], [1, 2, 4, 5]]);
    const parts = runAll('Split', [iota([5])], { num_outputs: 3 });
    expect(parts.map(vals)).toEqual([[0, 1], [2, 3], [4]]);
    expect(inferError('Split', [5], { split: [2, 2] }).code).toBe('SHAPE_MISMATCH');
    expect(inferError('Split', [5], {}).code).toBe('BAD_ATTRIBUTE');
  });
});

describe('Slice', () => {
  const x = iota([10]);
  it('positive and negative starts/ends, steps', () => {
    expect(vals(run('Slice', [x], { starts: [2], ends: [5] }))).toEqual([2, 3, 4]);
    expect(vals(run('Slice', [x], { starts: [-3], ends: [-1] }))).toEqual([7, 8]);
    expect(vals(run('Slice', [x], { starts: [1], ends: [8], steps: [3] }))).toEqual([1, 4, 7]);
  });
  it('negative steps walk backwards; ends of -INT64_MAX reach the first element', () => {
    expect(vals(run('Slice', [x], { starts: [-1], ends: [-9223372036854775807], steps: [-1] }))).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    expect(vals(run('Slice', [x], { starts: [8], ends: [1], steps: [-3] }))).toEqual([8, 5, 2]);
    expect(vals(run('Slice', [x], { starts: [20], ends: [5], steps: [-2] }))).toEqual([9, 7]);
  });
  it('out-of-range starts/ends are clamped; empty results have length 0', () => {
    expect(vals(run('Slice', [x], { starts: [-100], ends: [9223372036854775807] }))).toEqual(vals(x));
    expect(run('Slice', [x], { starts: [7], ends: [3] }).shape).toEqual([0]);
    expect(run('Slice', [x], { starts: [100], ends: [200] }).shape).toEqual([0]);
  });
  it('axes select dimensions (negative too) of a 2-D input', () => {
    const m = iota([3, 4]);
    const y = run('Slice', [m], { starts: [1, 3], ends: [3, 0], axes: [0, -1], steps: [1, -2] });
    expect(y.shape).toEqual([2, 2]);
    expect(vals(y)).toEqual([7, 5, 11, 9]);
    expect(inferError('Slice', [3, 4], { starts: [0], ends: [1], steps: [0] }).code).toBe('BAD_ATTRIBUTE');
  });
});

describe('Shape, Gather, Expand', () => {
  it('Shape with start/end (negative, clamped)', () => {
    const y = run('Shape', [iota([2, 3, 4])]);
    expect([y.dtype, y.data]).toEqual(['i64', BigInt64Array.from([2n, 3n, 4n])]);
    expect(vals(run('Shape', [iota([2, 3, 4])], { start: -2 }))).toEqual([3, 4]);
    expect(vals(run('Shape', [iota([2, 3, 4])], { start: 1, end: 100 }))).toEqual([3, 4]);
    expect(run('Shape', [iota([2, 3, 4])], { start: 2, end: 1 }).shape).toEqual([0]);
  });
  it('Gather along axis 0 and 1, negative indices, 2-D indices', () => {
    const d = iota([3, 2]); // [[0,1],[2,3],[4,5]]
    expect(vals(run('Gather', [d, tensor('i64', [2], [2, -3])]))).toEqual([4, 5, 0, 1]);
    const y = run('Gather', [d, tensor('i32', [2, 2], [1, 0, -1, 1])], { axis: 1 });
    expect(y.shape).toEqual([3, 2, 2]);
    expect(vals(y)).toEqual([1, 0, 1, 1, 3, 2, 3, 3, 5, 4, 5, 5]);
    // A scalar index removes the axis.
    expect(run('Gather', [d, tensor('i64', [], [1])]).shape).toEqual([2]);
  });
  it('Gather rejects out-of-range indices: at build time for constants, at run time for inputs', () => {
    const g = new Graph('t');
    const d = g.addInput('d', { dtype: 'f32', shape: [3] });
    const c = g.addConstant('idx', tensor('i64', [1], [3]));
    expect(() => g.add('Gather', [d, c])).toThrow(CnncError);
    expect(() => run('Gather', [iota([3]), tensor('i64', [1], [-4])])).toThrow(/out of range/);
  });
  it('Expand broadcasts both ways', () => {
    const y = run('Expand', [tensor('f32', [3, 1], [1, 2, 3])], { shape: [2, 1, 2] });
    expect(y.shape).toEqual([2, 3, 2]);
    expect(vals(y)).toEqual([1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3]);
    expect(run('Expand', [iota([2, 3])], { shape: [1, 1] }).shape).toEqual([2, 3]);
    expect(inferError('Expand', [2, 3], { shape: [4] }).code).toBe('SHAPE_MISMATCH');
  });
});

describe('Size, Tile, DepthToSpace, SpaceToDepth', () => {
  it('Size is an i64 scalar', () => {
    const y = run('Size', [iota([2, 3, 4])]);
    expect([y.dtype, y.shape, y.data]).toEqual(['i64', [], BigInt64Array.of(24n)]);
  });
  it('Tile repeats along each axis', () => {
    const y = run('Tile', [iota([2, 2])], { repeats: [1, 2] });
    expect([y.shape, vals(y)]).toEqual([[2, 4], [0, 1, 0, 1, 2, 3, 2, 3]]);
    expect(run('Tile', [iota([2])], { repeats: [0] }).shape).toEqual([0]);
    expect(inferError('Tile', [2, 2], { repeats: [2] }).code).toBe('BAD_ATTRIBUTE');
  });
  it('DepthToSpace DCR and CRD on 4 channels of 1×1 with blocksize 2, and SpaceToDepth inverts DCR', () => {
    // 4 channels of a 1×2 image: channel c holds [10c, 10c+1].
    const x = tensor('f32', [1, 4, 1, 2], [0, 1, 10, 11, 20, 21, 30, 31]);
    const dcr = run('DepthToSpace', [x], { blocksize: 2 });
    expect(dcr.shape).toEqual([1, 1, 2, 4]);
    // DCR: output (h·2+i, w·2+j) comes from channel i·2+j.
    expect(vals(dcr)).toEqual([0, 10, 1, 11, 20, 30, 21, 31]);
    // CRD with one output channel: the same block order c·4 + i·2 + j.
    expect(vals(run('DepthToSpace', [x], { blocksize: 2, mode: 'CRD' }))).toEqual([0, 10, 1, 11, 20, 30, 21, 31]);
    const back = run('SpaceToDepth', [dcr], { blocksize: 2 });
    expect([back.shape, vals(back)]).toEqual([[1, 4, 1, 2], vals(x)]);
  });
  it('DCR and CRD differ with two output channels', () => {
    const x = iota([1, 8, 1, 1]);
    // DCR: channel = (i·2 + j)·2 + c; CRD: channel = c·4 + i·2 + j.
    expect(vals(run('DepthToSpace', [x], { blocksize: 2 }))).toEqual([0, 2, 4, 6, 1, 3, 5, 7]);
    expect(vals(run('DepthToSpace', [x], { blocksize: 2, mode: 'CRD' }))).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(inferError('DepthToSpace', [1, 6, 1, 1], { blocksize: 2 }).code).toBe('SHAPE_MISMATCH');
    expect(inferError('SpaceToDepth', [1, 1, 3, 2], { blocksize: 2 }).code).toBe('SHAPE_MISMATCH');
  });
});
