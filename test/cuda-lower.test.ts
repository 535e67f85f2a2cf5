/**
 * The CUDA lowering's plan, without nvcc: typed errors for what it cannot run, kernels shared by
 * identical layers, every pointer inside its region and aligned, source text specialised to shapes.
 */
import { describe, expect, it } from 'vitest';
import { lowerCuda } from '../codegen/cuda/lower.js';
import { Graph } from '../ir/graph.js';
import { zoo } from '../models/index.js';
import { runPipeline } from '../passes/pipeline.js';
import { CnncError } from '../runtime/errors.js';
import { typeBytes } from '../ir/types.js';
import { tensor } from '../runtime/tensor.js';

describe('CUDA lowering', () => {
  it('an op without a CUDA kernel is UNSUPPORTED naming the node and op', () => {
    const g = new Graph('t');
    const a = g.addInput('a', { dtype: 'f32', shape: [4] });
    const s = g.add('Shape', [a], {}, { name: 'q0' });
    g.setOutputs([s]);
    const err = (() => { try { lowerCuda(g); } catch (e) { return e; } })() as CnncError;
    expect(err).toBeInstanceOf(CnncError);
    expect([err.code, err.node, err.op]).toEqual(['UNSUPPORTED', 'q0', 'Shape']);
  });

  it('resnet18 at -O3: identical layers share kernels; every pointer lies inside its region, aligned', () => {
    const g = runPipeline(zoo('resnet18'), 'cuda', {}).graph;
    const { plan, weights, source } = lowerCuda(g);
    expect(plan.kernels.length).toBeLessThan(plan.steps.length);
    // one launch per node, except copies the memory planner put in place (Flatten, Reshape)
    const copies = g.nodes.filter((n) => ['Reshape', 'Flatten', 'Identity', 'Squeeze', 'Unsqueeze'].includes(n.op)).length;
    expect(plan.steps.length).toBeLessThanOrEqual(g.nodes.length);
    expect(plan.steps.length).toBeGreaterThanOrEqual(g.nodes.length - copies);
    expect(weights.length).toBe(plan.weightsBytes);
    for (const s of plan.steps) {
      expect(plan.kernels).toContain(s.kernel);
      expect(plan.signatures[s.kernel].length).toBe(s.args.length);
      for (const a of s.args) {
        expect(a.offset % (a.region === 'arena' ? 256 : 16)).toBe(0);
        expect(a.offset).toBeLessThan(a.region === 'arena' ? plan.arenaBytes : plan.weightsBytes);
      }
    }
    for (const io of [...plan.inputs, ...plan.outputs]) {
      expect(io.bytes).toBe(typeBytes(g.type(io.name)));
      expect(io.offset + io.bytes).toBeLessThanOrEqual(plan.arenaBytes);
    }
    // shapes are baked in: the stem conv's GEMM sizes (64 × 112·112 outputs, K = 3·7·7) appear as constants
    expect(source).toContain('C[64][12544] = A[64][147]');
    expect(source).not.toMatch(/\b(int|float)\s+\w+\s*=\s*[^;]*\bshape\b/);
  });
});
