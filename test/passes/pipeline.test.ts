import { describe, expect, it } from 'vitest';
import { Graph } from '../../ir/graph.js';
import { compile } from '../../index.js';
import { CnncError } from '../../runtime/errors.js';
import { describePipeline, PASSES, pipelineFor, runPipeline, type Pass } from '../../passes/pipeline.js';
import { TARGETS } from '../../codegen/targets.js';
import { constant, expectSameOutputs, ops, randomConstant, randomInputs, relError } from './helpers.js';
import { interpret } from '../../ir/interpreter.js';

function net(): Graph {
  const g = new Graph('t');
  const x = g.addInput('input', { dtype: 'f32', shape: [1, 3, 6, 6] });
  let v = g.add('Conv', [x, randomConstant(g, 'w1', [4, 3, 3, 3], 1)], { pads: [1, 1, 1, 1] });
  const p = ['s', 'b', 'm'].map((n, i) => randomConstant(g, n, [4], 10 + i));
  v = g.add('BatchNormalization', [v, ...p, constant(g, 'var', [4], [1, 2, 0.5, 1])]);
  v = g.add('Relu', [g.add('Identity', [v])]);
  g.setOutputs([g.add('Conv', [v, randomConstant(g, 'w2', [2, 4, 1, 1], 2)], {}, { outputs: ['output'] })]);
  return g;
}

describe('pipeline', () => {
  it('levels are plain lists: O0 is empty, layout/fp16 passes only when asked, disable removes', () => {
    expect(pipelineFor(TARGETS.reference)).toEqual([]);
    expect(pipelineFor(TARGETS.wasm)).toContain('layout-nhwc'); // the target's defaults, handed in
    expect(pipelineFor('wasm')).not.toContain('layout-nhwc'); // a bare name gets DEFAULTS (NCHW)
    expect(pipelineFor('wasm', { opt: 'O1' })).toEqual(['fold-constants', 'simplify', 'dce']);
    expect(pipelineFor('wasm', { opt: 'O3', layout: 'NCHW' })).not.toContain('layout-nhwc');
    expect(pipelineFor('wasm', { opt: 'O3', layout: 'NHWC', fp16: true })).toContain('fp16');
    expect(pipelineFor('wasm', { opt: 'O3', disable: ['cse'] })).not.toContain('cse');
    expect(pipelineFor('wasm', { passes: ['dce', 'dce'] })).toEqual(['dce', 'dce']);
    expect(() => pipelineFor('wasm', { passes: ['nope'] })).toThrow(CnncError);
    expect(describePipeline('wasm')).toMatch(/fold-batchnorm/);
    for (const t of Object.values(TARGETS)) for (const p of pipelineFor(t)) expect(PASSES[p]).toBeDefined();
  });

  it('O3 runs every pass with verification, reports node counts and times, and calls printAfter', () => {
    const g = net();
    const seen: string[] = [];
    const { graph: h, report } = runPipeline(g, 'wasm', { opt: 'O3', layout: 'NHWC', verify: true, printAfter: (name) => seen.push(name) });
    expect(report.map((r) => r.name)).toEqual(pipelineFor('wasm', { opt: 'O3', layout: 'NHWC' }));
    expect(seen).toEqual(report.map((r) => r.name));
    expect(report[0].nodesBefore).toBe(5);
    expect(report.at(-1)!.nodesAfter).toBe(h.nodes.length);
    for (const r of report) expect(r.ms).toBeGreaterThanOrEqual(0);
    expect(ops(h)).toEqual({ Transpose: 2, Conv: 2 });
    expect(g.nodes.length).toBe(5); // the input graph is not mutated
    expectSameOutputs(g, h, 1e-5);
  });

  it('a pass that breaks the graph is named by the verifier', () => {
    const broken: Pass = { name: 'broken', doc: '', run: (g) => { const h = g.clone(); h.nodes.reverse(); return h; } };
    (PASSES as Record<string, Pass>).broken = broken;
    try {
      expect(() => runPipeline(net(), 'wasm', { passes: ['broken'], verify: true })).toThrow(/after pass 'broken'/);
    } finally {
      delete (PASSES as Record<string, Pass>).broken;
    }
  });

  it("compile(graph, target, { opt: 'O3', layout: 'NHWC' }) runs the pipeline", async () => {
    const g = net();
    const m = await compile(g, 'reference', { opt: 'O3', layout: 'NHWC' });
    expect(m.passes.length).toBe(pipelineFor(TARGETS.reference, { opt: 'O3', layout: 'NHWC' }).length);
    expect(ops(m.graph).BatchNormalization).toBeUndefined();
    const x = randomInputs(g);
    expect(relError(interpret(g, x), await m.run(x))).toBeLessThan(1e-5);
  });
});
