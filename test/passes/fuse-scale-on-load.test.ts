import { describe, expect, it } from 'vitest';
import { formatFusions, graphFusions } from '../../codegen/fusion-report.js';
import { exportOnnx } from '../../frontends/onnx/export.js';
import { importOnnx } from '../../frontends/onnx/import.js';
import { Graph, type Node } from '../../ir/graph.js';
import { interpret } from '../../ir/interpreter.js';
import { zoo } from '../../models/index.js';
import { runPipeline } from '../../passes/pipeline.js';
import { CnncError } from '../../runtime/errors.js';
import { compareAll, randomTensor, rng } from '../gpu/common.js';
import { SCALE_CASES, scaleGraph } from '../se-graph.js';

const scaledConvs = (g: Graph) => g.nodes.filter((n) => n.op === 'Conv' && (n.inputs[4] ?? '') !== '');
const inputs = (g: Graph, seed: number) => ({ [g.inputs[0]]: randomTensor('f32', g.type(g.inputs[0]).shape, rng(seed), 2) });

/** x (2, 5, 4, 3) · s → 1×1 conv, s a graph input of shape `sShape`; `extra` adds another reader of the product. */
function mulConv(sShape: number[], extra?: 'add' | 'output'): Graph {
  const g = new Graph('mul_conv');
  const r = rng(1);
  const x = g.addInput('x', { dtype: 'f32', shape: [2, 5, 4, 3] });
  const s = g.addInput('s', { dtype: 'f32', shape: sShape });
  const [m] = g.addNode('Mul', [x, s]);
  const [y] = g.addNode('Conv', [m, g.addConstant('w', randomTensor('f32', [3, 5, 1, 1], r))]);
  if (extra === 'add') g.setOutputs([y, g.addNode('Add', [m, x])[0]]);
  else g.setOutputs(extra === 'output' ? [y, m] : [y]);
  return g;
}

describe('fuse-scale-on-load', () => {
  for (const [layout, target] of [['NCHW', 'cuda'], ['NHWC', 'wasm']] as const) {
    it.each(SCALE_CASES.map((k, i) => [k.label, k, i] as const))(`%s (${layout}): the convs take the gate as input scale, the Mul goes, same values as before the passes`, (_, k, i) => {
      const g = scaleGraph(k, 20 + i);
      const h = runPipeline(g, target, { layout, verify: true }).graph;
      const convs = scaledConvs(h);
      expect(convs).toHaveLength(k.readers);
      const gate = h.nodes.find((n) => n.op === 'SqueezeExcitationGate')!;
      for (const c of convs) expect(c.inputs[4]).toBe(gate.outputs[0]);
      expect(h.nodes.filter((n) => n.op === 'Mul')).toEqual([]);
      if (k.residual) expect(convs[0].inputs[3]).toBe(h.inputs[0] === convs[0].inputs[3] ? h.inputs[0] : convs[0].inputs[3]);
      const x = inputs(g, i);
      expect(compareAll(interpret(h, x), interpret(g, x), 1e-6).bad).toEqual([]);
      // and against the same pipeline without the pass (the reference before vs after it)
      const before = runPipeline(g, target, { layout, disable: ['fuse-scale-on-load'] }).graph;
      expect(scaledConvs(before)).toEqual([]);
      expect(compareAll(interpret(h, x), interpret(before, x), 1e-6).bad).toEqual([]);
    });
  }

  it('the residual epilogue stays on the scaled projection conv', () => {
    const h = runPipeline(scaleGraph(SCALE_CASES[0], 30), 'wasm', {}).graph;
    const [c] = scaledConvs(h);
    expect(c.inputs[3]).toBe(h.inputs[0]);
  });

  it('batch 2: the scale is per (batch item, channel), the two images get their own gates', () => {
    const g = mulConv([2, 5, 1, 1]);
    const h = runPipeline(g, 'cuda', { verify: true }).graph;
    expect(scaledConvs(h)).toHaveLength(1);
    const feeds = { x: randomTensor('f32', [2, 5, 4, 3], rng(2), 2), s: randomTensor('f32', [2, 5, 1, 1], rng(3), 2) };
    expect(compareAll(interpret(h, feeds), interpret(g, feeds), 1e-6).bad).toEqual([]);
  });

  it.each([
    ['the scale is one value per channel for both images', [1, 5, 1, 1], undefined],
    ['the scale is one value per image', [2, 1, 1, 1], undefined],
    ['the scale varies over the rows', [2, 5, 4, 1], undefined],
    ['the product has a reader that is not a conv', [2, 5, 1, 1], 'add'],
    ['the product is a graph output', [2, 5, 1, 1], 'output'],
  ] as const)('leaves the Mul when %s', (_, shape, extra) => {
    const h = runPipeline(mulConv([...shape], extra), 'cuda', { passes: ['fuse-scale-on-load'] }).graph;
    expect(scaledConvs(h)).toEqual([]);
    expect(h.nodes.filter((n) => n.op === 'Mul')).toHaveLength(1);
  });

  it('the fusion report lists each scaled conv (with its residual epilogue alongside)', () => {
    const h = runPipeline(scaleGraph(SCALE_CASES[0], 35), 'cuda', {}).graph;
    const fusions = graphFusions(h);
    const [conv] = scaledConvs(h);
    expect(fusions.filter((f) => f.kind === 'scale-on-load')).toEqual([{ kind: 'scale-on-load', node: conv.name, ops: ['Mul (input scale)', 'Conv'] }]);
    expect(fusions.some((f) => f.kind === 'epilogue' && f.node === conv.name && f.ops.includes('Add (residual)'))).toBe(true);
    expect(formatFusions(fusions).join('\n')).toMatch(/1 scale-on-load/);
  });

  it('leaves the Mul where the target refuses the scaled conv', () => {
    const g = scaleGraph(SCALE_CASES[0], 31);
    const supports = (n: Node) => (n.op === 'Conv' && n.inputs[4] ? 'no' : undefined);
    const h = runPipeline(g, { name: 'no-scale', defaults: { opt: 'O3', layout: 'NCHW', fp16: false, fp16Mode: 'compute' }, supports }, {}).graph;
    expect(scaledConvs(h)).toEqual([]);
  });

  it('under fp16 the scaled conv computes in f16 like the Mul and conv it replaced (within 1e-2)', () => {
    const g = scaleGraph(SCALE_CASES[0], 32);
    const h = runPipeline(g, 'cuda', { fp16: true, fp16Policy: { keepFirst: false, keepLast: false }, verify: true }).graph;
    const [c] = scaledConvs(h);
    expect([c.inputs[0], c.inputs[4]].map((v) => h.type(v).dtype)).toEqual(['f16', 'f16']);
    const x = inputs(g, 32);
    expect(compareAll(interpret(h, x), interpret(g, x), 1e-2).bad).toEqual([]);
  });

  it('an input scale of the wrong shape is a typed error naming the value', () => {
    const g = new Graph('bad');
    const x = g.addInput('x', { dtype: 'f32', shape: [2, 5, 4, 3] });
    const s = g.addInput('s', { dtype: 'f32', shape: [2, 4, 1, 1] });
    const w = g.addConstant('w', randomTensor('f32', [3, 5, 1, 1], rng(1)));
    let err: unknown;
    try { g.addNode('Conv', [x, w, '', '', s]); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(CnncError);
    expect((err as CnncError).code).toBe('SHAPE_MISMATCH');
    expect((err as CnncError).message).toMatch(/input scale/);
    expect((err as CnncError).value).toBe('s');
  });

  it.each(['NCHW', 'NHWC'] as const)('exports to ONNX as Reshape + Mul before the conv (%s)', (layout) => {
    const g = scaleGraph(SCALE_CASES[1], 33);
    const h = runPipeline(g, layout === 'NHWC' ? 'wasm' : 'cuda', { layout }).graph;
    expect(scaledConvs(h)).toHaveLength(1);
    const back = importOnnx(exportOnnx(h));
    expect(scaledConvs(back)).toEqual([]);
    const x = inputs(g, 33);
    expect(compareAll(interpret(back, { [back.inputs[0]]: x[g.inputs[0]] }), interpret(g, x), 1e-6).bad).toEqual([]);
  });

  it.each([['efficientnet_b0', 16], ['mobilenet_v3_small', 9]] as const)('zoo:%s: every SE block\'s Mul is scaled on load by its projection conv, same values as before the pass', (name, count) => {
    // 64×64: the last stage keeps 2×2 maps (at 32×32 an NHWC one-pixel map is Reshaped around the Mul, which stays)
    const g = zoo(name, { size: 64 });
    const x = inputs(g, 34);
    for (const layout of ['NCHW', 'NHWC'] as const) {
      const h = runPipeline(g, layout === 'NHWC' ? 'wasm' : 'cuda', { layout }).graph;
      const gates = h.nodes.filter((n) => n.op === 'SqueezeExcitationGate').map((n) => n.outputs[0]);
      expect(gates).toHaveLength(count);
      expect(scaledConvs(h)).toHaveLength(count);
      // each gate is read by a scaled conv only (on a one-pixel map, as its data input or its scale: the product is the same)
      for (const v of gates) expect(h.consumers().get(v)!.every((c) => c.op === 'Conv' && [c.inputs[0], c.inputs[4]].includes(v) && c.inputs[4])).toBe(true);
      expect(h.nodes.filter((n) => n.op === 'Mul' && n.inputs.some((v) => gates.includes(v)))).toEqual([]);
      if (layout === 'NHWC') {
        const before = runPipeline(g, 'wasm', { disable: ['fuse-scale-on-load'] }).graph;
        expect(compareAll(interpret(h, x), interpret(before, x), 1e-5).bad).toEqual([]);
      }
    }
  }, 120_000);
});
