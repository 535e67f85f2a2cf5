/**
 * Every pass, on small models, leaves the reference interpreter's output unchanged: each pass alone
 * on the imported graph, and each prefix of the full -O3 NHWC fp16 pipeline (so every pass also sees
 * the graphs earlier passes make). f32 passes: 1e-4 relative to max |output|; after fp16: 1e-2.
 * The 'mini' model is built to trigger every pass: BN after Conv/ConvTranspose/Concat, dw+pw,
 * residual, SE block with SiLU, GELU, global and windowed pools, Flatten + Gemm.
 */
import { existsSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Model } from '../../frontends/dsl/model.js';
import { loadOnnxFile } from '../../frontends/onnx/import.js';
import { Graph } from '../../ir/graph.js';
import { interpret, type TensorMap } from '../../ir/interpreter.js';
import { verify } from '../../ir/verify.js';
import { zoo } from '../../models/index.js';
import { PASSES, pipelineFor, runPipeline, type PassContext } from '../../passes/pipeline.js';
import { planMemory } from '../../codegen/memory-plan.js';
import { checkPlan, ops, randomInputs, randomTensor, relError } from './helpers.js';

function mini(): Graph {
  const m = new Model('mini', { seed: 3 });
  let x = m.input([1, 3, 16, 16]);
  x = m.relu(m.batchNorm2d(m.conv2d(x, 8, 3, { padding: 1, bias: false })));
  const skip = x;
  let y = m.relu6(m.batchNorm2d(m.conv2d(x, 8, 3, { padding: 1, groups: 8, bias: false })));
  y = m.batchNorm2d(m.conv2d(y, 8, 1, { bias: false }));
  x = m.add(skip, y);
  const se = m.sigmoid(m.conv2d(m.silu(m.conv2d(m.adaptiveAvgPool2d(x, 1), 4, 1)), 8, 1));
  x = m.mul(x, se);
  const up = m.relu(m.batchNorm2d(m.convTranspose2d(x, 4, 2, { stride: 2 })));
  x = m.batchNorm2d(m.cat([x, m.maxPool2d(up, 2)], 1));
  x = m.gelu(m.conv2d(x, 6, 3, { stride: 2, padding: 1 }));
  x = m.linear(m.flatten(m.avgPool2d(x, 2)), 10);
  m.output(x);
  return m.build();
}

const SHARED = new URL('../../../shared/models/', import.meta.url).pathname;
const MODELS: [string, () => Graph][] = [
  ['mini', mini],
  ['zoo:lenet5', () => zoo('lenet5')],
  ...(existsSync(`${SHARED}lenet5/model.onnx`) ? [['onnx:lenet5', () => loadOnnxFile(`${SHARED}lenet5/model.onnx`)] as [string, () => Graph]] : []),
];
const OPTS = { opt: 'O3', layout: 'NHWC', fp16: true } as const;
const PIPELINE = pipelineFor('wasm', OPTS);
const ctx: PassContext = { target: 'wasm', options: OPTS, verify: true };
const tol = (pass: string, afterFp16: boolean) => (pass === 'fp16' || afterFp16 ? 1e-2 : 1e-4);

describe.each(MODELS)('%s: every pass keeps the outputs', (_label, load) => {
  let g: Graph, inputs: TensorMap, ref: TensorMap;
  beforeAll(() => {
    g = load();
    inputs = randomInputs(g, 5);
    ref = interpret(g, inputs);
  });

  it.each(Object.keys(PASSES))('%s alone', (name) => {
    const h = PASSES[name].run(g, ctx);
    verify(h);
    expect(relError(ref, interpret(h, inputs))).toBeLessThanOrEqual(tol(name, false));
  });

  it('each prefix of the -O3 NHWC fp16 pipeline', () => {
    let h = g;
    let fp16 = false;
    for (const name of PIPELINE) {
      h = PASSES[name].run(h, ctx);
      verify(h);
      fp16 ||= name === 'fp16';
      const err = relError(ref, interpret(h, inputs));
      expect(err, `after ${name}`).toBeLessThanOrEqual(tol(name, fp16));
    }
  });
});

describe('mini at -O3 NHWC: every rewrite fired', () => {
  it('BN folded or converted, dw+pw fused, SE gate fused, SiLU/GELU/ReLU6 in epilogues, transposes only at the input', () => {
    let h = mini();
    for (const name of pipelineFor('wasm', { opt: 'O3', layout: 'NHWC' })) h = PASSES[name].run(h, ctx);
    const o = ops(h);
    expect(o.BatchNormalization).toBeUndefined();
    expect(o.FusedDwPw).toBe(1);
    expect(o.Transpose).toBe(1);
    expect(o.SqueezeExcitationGate).toBe(1);
    // the SE block's SiLU and Sigmoid: the gate node's activation and gate_activation
    const acts = h.nodes.flatMap((n) => [n.attrs.activation, n.attrs.gate_activation]).filter(Boolean).sort();
    expect(acts).toEqual(['gelu', 'relu', 'relu', 'sigmoid', 'silu']);
    expect(h.nodes.find((n) => n.op === 'FusedDwPw')!.attrs.dw_activation).toBe('clip');
    expect(h.nodes.find((n) => n.op === 'FusedDwPw')!.inputs[5]).toBeTruthy(); // the residual
  });
});

describe('mini: every level, layout and precision matches the reference', () => {
  const g = mini();
  const inputs = randomInputs(g, 9);
  const ref = interpret(g, inputs);
  const combos = (['O0', 'O1', 'O2', 'O3'] as const).flatMap((opt) =>
    (['NCHW', 'NHWC'] as const).flatMap((layout) => [false, true].map((fp16) => ({ opt, layout, fp16 }))));
  it.each(combos)('-$opt $layout fp16=$fp16', (o) => {
    const h = runPipeline(g, 'wasm', { ...o, verify: true }).graph;
    expect(relError(ref, interpret(h, inputs))).toBeLessThanOrEqual(o.fp16 && o.opt !== 'O0' && o.opt !== 'O1' ? 1e-2 : 1e-4);
  });
});

describe('edge cases keep graph outputs intact', () => {
  it('an output that is a graph input, an output read by another node, the same value output twice', () => {
    const g = new Graph('edges');
    const x = g.addInput('x', { dtype: 'f32', shape: [1, 2, 3, 3] });
    const id = g.add('Identity', [x], {}, { outputs: ['passthrough'] });
    const c = g.add('Conv', [x, g.addConstant('w', randomTensor([2, 2, 1, 1], 1))], {}, { outputs: ['conv'] });
    const r = g.add('Relu', [c], {}, { outputs: ['relu'] });
    g.setOutputs([id, c, r, r]);
    const inputs = randomInputs(g, 2);
    const ref = interpret(g, inputs);
    for (const opts of [{ opt: 'O3', layout: 'NHWC' }, { opt: 'O3', layout: 'NHWC', fp16: true }] as const) {
      const h = runPipeline(g, 'wasm', { ...opts, verify: true }).graph;
      expect(h.outputs).toEqual(g.outputs);
      for (const o of g.outputs) expect(h.type(o)).toEqual(g.type(o));
      expect(relError(ref, interpret(h, inputs))).toBeLessThanOrEqual(opts.fp16 ? 1e-2 : 1e-6);
      const plan = planMemory(h);
      checkPlan(h, plan);
    }
  });
});
