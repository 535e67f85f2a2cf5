/**
 * Property test: random small CNN graphs (convs incl. depthwise and 1×1, BN, activations, residual
 * Adds, per-channel Muls, Concat, pools, a Flatten + Gemm head) give the same outputs as the
 * reference after every pipeline (f32: 1e-4 relative to max |output|; fp16: 3e-2, looser than the
 * models' 1e-2 because random graphs include cancellation-heavy outputs such as the mean of
 * uniform noise through one Gemm, where f16 rounding of the inputs alone reaches 1.6e-2), with transposes
 * only at the boundaries in NHWC and a valid memory plan.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { interpret } from '../../ir/interpreter.js';
import { planMemory } from '../../codegen/memory-plan.js';
import { runPipeline } from '../../passes/pipeline.js';
import { transposeCount } from '../../passes/layout.js';
import { checkPlan, randomInputs, relError } from './helpers.js';
import { randomCnn } from './random-cnn.js';

const FP16_TOL = 3e-2;

describe('random CNNs through the pipelines', () => {
  it('keep their outputs, boundary-only transposes and valid plans', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 1_000_000 }), fc.integer({ min: 3, max: 12 }), (seed, steps) => {
      const g = randomCnn(seed, steps);
      const inputs = randomInputs(g, seed);
      const ref = interpret(g, inputs);
      for (const opts of [{ layout: 'NCHW' }, { layout: 'NHWC' }, { layout: 'NHWC', fp16: true }] as const) {
        const h = runPipeline(g, 'wasm', { opt: 'O3', ...opts, verify: true }).graph;
        const err = relError(ref, interpret(h, inputs));
        expect(err, JSON.stringify(opts)).toBeLessThanOrEqual('fp16' in opts ? FP16_TOL : 1e-4);
        if (opts.layout === 'NHWC') expect(transposeCount(h)).toBeLessThanOrEqual(g.inputs.length + g.outputs.length);
        checkPlan(h, planMemory(h));
      }
    }), { numRuns: 150, seed: 42 });
  });
});
