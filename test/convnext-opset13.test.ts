/**
 * ConvNeXt-Tiny as PyTorch exports it at opset 13 (every LayerNorm as ReduceMean, Sub, Pow,
 * ReduceMean, Add, Sqrt, Div, Mul, Add; GELU as its erf formula) compiles to at most 1.1× the
 * kernels of the same network built with LayerNormalization nodes, on wasm and wgsl, and matches
 * the reference interpreter. 32×32 input: kernel counts do not depend on the size. The counts are
 * printed (before the canonicalize pass the wasm target cannot lower the decomposed form at all).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { compile, type Target } from '../index.js';
import type { Graph } from '../ir/graph.js';
import { interpret } from '../ir/interpreter.js';
import { zoo } from '../models/index.js';
import { toF64, type Tensor } from '../runtime/tensor.js';
import { opset13Export } from './decomposed.js';
import { F32_TOL, relErr, sineInput } from './golden.js';
import { ops } from './passes/helpers.js';

describe('ConvNeXt-Tiny exported at opset 13 (LayerNorms written out)', () => {
  let withLn: Graph, opset13: Graph, x: Tensor, want: Float64Array;
  beforeAll(() => {
    withLn = zoo('convnext_tiny', { size: 32 });
    opset13 = opset13Export(withLn);
    x = sineInput(opset13);
    want = toF64(interpret(opset13, { input: x }).output);
  }, 600_000);

  it('is the decomposed form: no LayerNormalization, one Pow per LayerNorm of the original', () => {
    const o = ops(opset13);
    expect(o.LayerNormalization).toBeUndefined();
    expect(o.Pow).toBe(ops(withLn).LayerNormalization);
    expect(o.ReduceMean).toBe(2 * ops(withLn).LayerNormalization);
  });

  for (const target of ['wasm', 'wgsl'] as Target[]) {
    it(`${target}: at most 1.1× the kernels of the LayerNormalization build, and matches the reference`, async () => {
      const c = await compile(opset13, target);
      const ln = await compile(withLn, target);
      console.log(`convnext_tiny ${target}: opset-13 export ${c.stats.kernels} kernels (${opset13.nodes.length} nodes imported), LayerNormalization build ${ln.stats.kernels}`);
      expect(ops(c.graph).LayerNormalization).toBe(ops(withLn).LayerNormalization);
      expect(c.stats.kernels).toBeLessThanOrEqual(1.1 * ln.stats.kernels);
      expect(relErr(want, toF64((await c.run({ input: x })).output))).toBeLessThan(F32_TOL);
    }, 600_000);
  }
});
