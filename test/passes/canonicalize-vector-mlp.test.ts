/**
 * canonicalize-vector-mlp.ts: the squeeze-excitation gate written with Gemm or MatMul + Add on the
 * flattened pooled vector becomes 1×1 Convs on the pooled map (then one SqueezeExcitationGate at -O3),
 * against the reference interpreter on the graph before; guards for what must stay.
 */
import { describe, expect, it } from 'vitest';
import { Graph } from '../../ir/graph.js';
import { canonicalize } from '../../passes/canonicalize.js';
import { runPipeline } from '../../passes/pipeline.js';
import { SE_CASES, seGemmGraph } from '../se-graph.js';
import { expectSameOutputs, ops, randomConstant } from './helpers.js';

describe('canonicalize: Gemm MLP on a pooled vector → 1×1 Convs', () => {
  it.each(SE_CASES.flatMap((k) => [[k.label, k, false], [k.label, k, true]] as const))('%s (MatMul: %s): no Gemm, MatMul or reshape left in the gate', (_, k, matmul) => {
    const g = seGemmGraph(k, 3, matmul);
    const h = canonicalize(g);
    const o = ops(h);
    expect([o.Gemm, o.MatMul, o.Flatten, o.Reshape, o.Unsqueeze]).toEqual([undefined, undefined, undefined, undefined, undefined]);
    expect(o.Conv).toBe(ops(g).Conv + 2);
    expectSameOutputs(g, h, 1e-6);
    // and the -O3 pipeline makes the same one gate as for the conv spelling
    const p = runPipeline(g, 'wgsl', { verify: true }).graph;
    expect(ops(p).SqueezeExcitationGate).toBe(1);
    expectSameOutputs(g, p, 1e-5);
  });

  /** p [1, 6, 1, 1] → Flatten → Gemm(attrs) → Reshape back. */
  function gemmOnPixel(attrs: Record<string, number>, pixel = [1, 1], reader = false): Graph {
    const g = new Graph('mlp');
    const x = g.addInput('x', { dtype: 'f32', shape: [1, 6, ...pixel] });
    const f = g.add('Flatten', [x], { axis: 1 });
    const y = g.add('Gemm', [f, randomConstant(g, 'w', [6, 6 * pixel[0] * pixel[1]], 1), randomConstant(g, 'b', [6], 2)], { transB: 1, ...attrs });
    const outs = [g.add('Reshape', [y], { shape: [1, 6, 1, 1] })];
    if (reader) outs.push(g.add('Relu', [y]));
    g.setOutputs(outs);
    return g;
  }

  it('a plain Gemm becomes one Conv reading the map', () => {
    const g = gemmOnPixel({});
    const h = canonicalize(g);
    expect(ops(h)).toEqual({ Conv: 1 });
    expect(h.nodes[0].inputs[0]).toBe('x');
    expectSameOutputs(g, h, 1e-6);
  });

  it('stays: alpha ≠ 1, a map with more than one pixel, a vector with another reader', () => {
    expect(ops(canonicalize(gemmOnPixel({ alpha: 0.5 })))).toEqual({ Flatten: 1, Gemm: 1, Reshape: 1 });
    expect(ops(canonicalize(gemmOnPixel({}, [2, 1])))).toEqual({ Flatten: 1, Gemm: 1, Reshape: 1 });
    expect(ops(canonicalize(gemmOnPixel({}, [1, 1], true)))).toEqual({ Flatten: 1, Gemm: 1, Reshape: 1, Relu: 1 });
  });
});
