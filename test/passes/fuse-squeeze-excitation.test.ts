import { describe, expect, it } from 'vitest';
import { exportOnnx } from '../../frontends/onnx/export.js';
import { importOnnx } from '../../frontends/onnx/import.js';
import { Graph } from '../../ir/graph.js';
import { interpret } from '../../ir/interpreter.js';
import { zoo } from '../../models/index.js';
import { runPipeline } from '../../passes/pipeline.js';
import { compareAll, randomTensor, rng } from '../gpu/common.js';
import { SE_CASES, seGraph } from '../se-graph.js';

const gatesOf = (g: Graph) => g.nodes.filter((n) => n.op === 'SqueezeExcitationGate');
const inputs = (g: Graph, seed: number) => ({ [g.inputs[0]]: randomTensor('f32', g.type(g.inputs[0]).shape, rng(seed), 2) });

describe('fuse-squeeze-excitation', () => {
  const layouts = [['NCHW', 'cuda'], ['NHWC', 'wasm']] as const;
  for (const [layout, target] of layouts) {
    it.each(SE_CASES.map((k, i) => [k.label, k, i] as const))(`%s (${layout}): one gate node carrying both activations, same values as before the passes`, (_, k, i) => {
      const g = seGraph(k, 10 + i);
      const h = runPipeline(g, target, { layout, verify: true }).graph;
      const [gate, ...more] = gatesOf(h);
      expect(more).toEqual([]);
      expect(gate.attrs.activation).toBe({ Relu: 'relu', SiLU: 'silu', none: '' }[k.hidden]);
      expect(gate.attrs.gate_activation).toBe(k.gate === 'Sigmoid' ? 'sigmoid' : 'hard_sigmoid');
      if (k.gate === 'HardSigmoid') expect([gate.attrs.gate_alpha, gate.attrs.gate_beta]).toEqual([1 / 6, 0.5]);
      // no 1×1 conv left on the pooled map
      const pooled = h.nodes.find((n) => n.op === 'GlobalAveragePool')!.outputs[0];
      expect(gate.inputs[0]).toBe(pooled);
      const x = inputs(g, i);
      expect(compareAll(interpret(h, x), interpret(g, x), 1e-6).bad).toEqual([]);
    });
  }

  it('leaves the convs alone when the hidden value has another reader, or the second conv has other than C outputs', () => {
    const g = seGraph(SE_CASES[1], 3);
    // a second reader of the hidden value (the Relu output)
    const relu = g.nodes.find((n) => n.op === 'Relu')!;
    const [extra] = g.addNode('Neg', [relu.outputs[0]]);
    g.setOutputs([...g.outputs, extra]);
    expect(gatesOf(runPipeline(g, 'cuda', {}).graph)).toEqual([]);
    // two 1×1 convs on a one-pixel map that are no gate: 13 → 5 → 4 channels
    const h = new Graph('narrow');
    const r = rng(4);
    const x = h.addInput('x', { dtype: 'f32', shape: [2, 13, 3, 3] });
    const [p] = h.addNode('GlobalAveragePool', [x]);
    const [a] = h.addNode('Conv', [p, h.addConstant('w1', randomTensor('f32', [5, 13, 1, 1], r))]);
    const [b] = h.addNode('Conv', [a, h.addConstant('w2', randomTensor('f32', [4, 5, 1, 1], r))]);
    h.setOutputs([b]);
    expect(gatesOf(runPipeline(h, 'cuda', {}).graph)).toEqual([]);
  });

  it('is skipped where the target refuses the node (the two convs stay)', () => {
    const g = seGraph(SE_CASES[0], 5);
    const h = runPipeline(g, { name: 'no-se', defaults: { opt: 'O3', layout: 'NCHW', fp16: false, fp16Mode: 'compute' }, supports: (n) => (n.op === 'SqueezeExcitationGate' ? 'no' : undefined) }, {}).graph;
    expect(gatesOf(h)).toEqual([]);
  });

  it('under fp16 the gate computes like the convs it replaced: f16 operands and output, weights halved', () => {
    const g = seGraph(SE_CASES[0], 6);
    const h = runPipeline(g, 'cuda', { fp16: true, verify: true }).graph;
    const [gate] = gatesOf(h);
    expect([...gate.inputs, gate.outputs[0]].map((v) => h.type(v).dtype)).toEqual(['f16', 'f16', 'f16', 'f16', 'f16', 'f16']);
    const x = inputs(g, 6);
    expect(compareAll(interpret(h, x), interpret(g, x), 1e-2).bad).toEqual([]);
    // storage mode (wasm): the gate's weights rounded to f16 values, still f32
    const s = runPipeline(g, 'wasm', { fp16: true, fp16Mode: 'storage', fp16Policy: { keepFirst: false, keepLast: false } }).graph;
    const w1 = gatesOf(s)[0].inputs[1];
    expect(w1).toMatch(/_f16r$/);
    expect(compareAll(interpret(s, x), interpret(g, x), 1e-2).bad).toEqual([]);
  });

  it('exports to ONNX as its two 1×1 convs (NHWC graph: reshaped to a vector and back)', () => {
    const g = seGraph(SE_CASES[0], 7);
    const h = runPipeline(g, 'wasm', { layout: 'NHWC' }).graph;
    expect(gatesOf(h)).toHaveLength(1);
    const back = importOnnx(exportOnnx(h));
    expect(gatesOf(back)).toEqual([]);
    const x = inputs(g, 7);
    expect(compareAll(interpret(back, { [back.inputs[0]]: x[g.inputs[0]] }), interpret(g, x), 1e-6).bad).toEqual([]);
  });

  it.each([['efficientnet_b0', 16], ['mobilenet_v3_small', 9]] as const)('zoo:%s: every SE block\'s MLP is one gate node (-O3, both layouts)', (name, count) => {
    const g = zoo(name, { size: 64, weights: 'zeros' });
    for (const layout of ['NCHW', 'NHWC'] as const) {
      const h = runPipeline(g, 'cuda', { layout }).graph;
      expect(gatesOf(h)).toHaveLength(count);
    }
  });
});
