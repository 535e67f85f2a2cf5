/**
 * Shared by the WGSL tests: seeded tensors, one-node graphs, and the comparison against the
 * reference interpreter (f32: max |ref − got| ≤ 1e-4 · max |ref|).
 */
import { expect } from 'vitest';
import { compile, type CompileOptions } from '../index.js';
import { Graph } from '../ir/graph.js';
import { interpret } from '../ir/interpreter.js';
import type { AttrValue } from '../ir/op.js';
import { tensor, toF64, type Tensor } from '../runtime/tensor.js';
import { F32_TOL } from './golden.js';

export { F32_TOL };

export function values(n: number, seed: number): Float32Array {
  let s = (seed * 2654435761) >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

export const randT = (shape: number[], seed: number): Tensor => tensor('f32', shape, values(shape.reduce((a, b) => a * b, 1), seed));

/** Max |ref − got| / max |ref| over all outputs (shapes must agree). */
export function relErr(ref: Record<string, Tensor>, got: Record<string, Tensor>): number {
  let mx = 0, err = 0;
  for (const k of Object.keys(ref)) {
    expect(got[k].shape).toEqual(ref[k].shape);
    const a = toF64(ref[k]), b = toF64(got[k]);
    for (let i = 0; i < a.length; i++) { mx = Math.max(mx, Math.abs(a[i])); err = Math.max(err, Math.abs(a[i] - b[i])); }
  }
  return mx === 0 ? err : err / mx;
}

/** One node: the tensors at indices in `live` are graph inputs, the rest constants. */
export function oneNode(op: string, ins: (Tensor | undefined)[], attrs: Record<string, AttrValue>, live = [0]): { g: Graph; feeds: Record<string, Tensor> } {
  const g = new Graph('t');
  const feeds: Record<string, Tensor> = {};
  const names = ins.map((t, i) => {
    if (!t) return '';
    if (live.includes(i)) { feeds[`x${i}`] = t; return g.addInput(`x${i}`, { dtype: t.dtype, shape: t.shape }); }
    return g.addConstant(`c${i}`, t);
  });
  g.setOutputs(g.addNode(op, names, attrs, { name: 'n0' }).filter(Boolean));
  return { g, feeds };
}

/** Compiles for wgsl with each option set and checks the outputs against the interpreter. */
export async function expectMatches(g: Graph, feeds: Record<string, Tensor>, optionSets: CompileOptions[] = [{ opt: 'O0' }]): Promise<void> {
  const ref = interpret(g, feeds);
  for (const opts of optionSets) {
    const c = await compile(g, 'wgsl', opts);
    const err = relErr(ref, await c.run(feeds));
    expect(err, `relative error with ${JSON.stringify(opts)}`).toBeLessThan(F32_TOL);
  }
}
