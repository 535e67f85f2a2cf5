/** What the golden model tests share: the error measure, deterministic inputs, raw f32 files. */
import { expect } from 'vitest';
import type { Graph } from '../ir/graph.js';
import { tensor, type Tensor } from '../runtime/tensor.js';

export { f32File } from '../bench/common.js';

/** f32 tolerance of every golden test: max |ref − got| ≤ 1e-4 · max |ref|. */
export const F32_TOL = 1e-4;

/** max |ref − got| / max |ref| (lengths must agree). */
export function relErr(ref: ArrayLike<number>, got: ArrayLike<number>): number {
  expect(got.length).toBe(ref.length);
  let mx = 0, err = 0;
  for (let i = 0; i < ref.length; i++) { mx = Math.max(mx, Math.abs(ref[i])); err = Math.max(err, Math.abs(ref[i] - got[i])); }
  return err / mx;
}

/** A smooth deterministic input for the graph's first input: sin(0.37·i + seed)·1.5. */
export function sineInput(g: Graph, seed = 0): Tensor {
  const shape = g.type(g.inputs[0]).shape;
  const n = shape.reduce((a, b) => a * b, 1);
  return tensor('f32', shape, Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + seed) * 1.5));
}
