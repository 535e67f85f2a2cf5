/** Shared helpers of the pass tests: seeded inputs, output comparison, op histograms. */
import { expect } from 'vitest';
import { fromF64, toF64, tensor, type Tensor } from '../../runtime/tensor.js';
import { Graph } from '../../ir/graph.js';
import { interpret, type TensorMap } from '../../ir/interpreter.js';
import { verify } from '../../ir/verify.js';
import { sizeOf, typeBytes } from '../../ir/types.js';
import type { MemoryPlan } from '../../codegen/memory-plan.js';

/** mulberry32: a small seeded PRNG, so failures reproduce. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Values uniform in [-1, 1) (times `scale`), as f32. */
export function randomTensor(shape: readonly number[], seed: number, scale = 1): Tensor {
  const r = rng(seed);
  return fromF64('f32', shape, Float64Array.from({ length: sizeOf(shape) }, () => (r() * 2 - 1) * scale));
}

export function randomInputs(g: Graph, seed = 1): TensorMap {
  return Object.fromEntries(g.inputs.map((name, i) => [name, randomTensor(g.type(name).shape, seed + i)]));
}

/** max |a − b| / max |a| over all outputs (a: the reference). */
export function relError(a: TensorMap, b: TensorMap): number {
  let err = 0, mag = 0;
  for (const k of Object.keys(a)) {
    const x = toF64(a[k]), y = toF64(b[k]);
    expect(y.length, `output ${k} size`).toBe(x.length);
    for (let i = 0; i < x.length; i++) {
      mag = Math.max(mag, Math.abs(x[i]));
      err = Math.max(err, Math.abs(x[i] - y[i]));
    }
  }
  return mag === 0 ? err : err / mag;
}

/** Runs both graphs on the same seeded inputs and checks the outputs agree within `tol` (relative to max |output|). */
export function expectSameOutputs(before: Graph, after: Graph, tol = 1e-5, inputs = randomInputs(before)): number {
  verify(after);
  expect(after.outputs).toEqual(before.outputs);
  const err = relError(interpret(before, inputs), interpret(after, inputs));
  expect(err).toBeLessThanOrEqual(tol);
  return err;
}

/** Node count per op. */
export function ops(g: Graph): Record<string, number> {
  const m: Record<string, number> = {};
  for (const n of g.nodes) m[n.op] = (m[n.op] ?? 0) + 1;
  return m;
}

export function constant(g: Graph, name: string, shape: readonly number[], values: readonly number[]): string {
  return g.addConstant(name, tensor('f32', shape, values));
}

export function randomConstant(g: Graph, name: string, shape: readonly number[], seed: number, scale = 0.5): string {
  return g.addConstant(name, randomTensor(shape, seed, scale));
}

export function values(g: Graph, name: string): number[] {
  return Array.from(toF64(g.constValue(name)!));
}

/** Every two values live at the same time occupy disjoint byte ranges (or are an in-place pair chain). */
export function checkPlan(g: Graph, plan: MemoryPlan): void {
  const vs = [...plan.offsets.keys()];
  const root = (v: string): string => (plan.inPlace.has(v) ? root(plan.inPlace.get(v)!) : v);
  for (let i = 0; i < vs.length; i++) {
    for (let j = i + 1; j < vs.length; j++) {
      const [a, b] = [vs[i], vs[j]];
      if (root(a) === root(b)) continue;
      const [la, lb] = [plan.lifetimes.get(a)!, plan.lifetimes.get(b)!];
      if (la[1] < lb[0] || lb[1] < la[0]) continue;
      const [oa, ob] = [plan.offsets.get(a)!, plan.offsets.get(b)!];
      const disjoint = oa + typeBytes(g.type(a)) <= ob || ob + typeBytes(g.type(b)) <= oa;
      expect(disjoint, `${a} [${oa}] and ${b} [${ob}] overlap while both live`).toBe(true);
    }
  }
  for (const [v, o] of plan.offsets) expect(o + typeBytes(g.type(v))).toBeLessThanOrEqual(plan.arenaBytes);
}

