import { describe, expect, it } from 'vitest';
import { Graph } from '../../ir/graph.js';
import { allOps } from '../../ir/ops/index.js';
import { fuseResidualAfterAct } from '../../passes/fuse-residual-after-act.js';
import { fuseEpilogues } from '../../passes/fuse-epilogue.js';
import { constant, expectSameOutputs, ops, randomConstant, values } from './helpers.js';

function convGraph(): { g: Graph; x: string; y: string } {
  const g = new Graph('t');
  const x = g.addInput('x', { dtype: 'f32', shape: [1, 2, 4, 4] });
  const y = g.add('Conv', [x, randomConstant(g, 'w', [2, 2, 3, 3], 1)], { pads: [1, 1, 1, 1] }, { name: 'conv' });
  return { g, x, y };
}

describe('fuse-epilogue', () => {
  it('bias Add, residual Add and Relu become one Conv: act(conv + bias + R)', () => {
    const { g, x, y } = convGraph();
    const b = g.add('Add', [y, constant(g, 'bias', [2, 1, 1], [0.5, -0.25])]);
    const r = g.add('Add', [x, b]); // residual, operand order swapped
    g.setOutputs([g.add('Relu', [r], {}, { name: 'relu', outputs: ['out'] })]);
    const h = fuseEpilogues(g);
    expect(ops(h)).toEqual({ Conv: 1 });
    const c = h.nodes[0];
    expect(c.inputs[3]).toBe(x);
    expect(values(h, c.inputs[2])).toEqual([0.5, -0.25]);
    expect(c.attrs.activation).toBe('relu');
    expect(c.outputs).toEqual(['out']);
    expectSameOutputs(g, h, 1e-6);
  });

  it('a per-channel constant Mul scales the weights and bias (ConvNeXt layer scale), then the residual fuses', () => {
    const { g, x, y } = convGraph();
    const b = g.add('Add', [y, constant(g, 'bias', [2, 1, 1], [1, 2])]);
    const m = g.add('Mul', [constant(g, 'gamma', [2, 1, 1], [0.5, 3]), b]);
    g.setOutputs([g.add('Add', [m, x])]);
    const h = fuseEpilogues(g);
    expect(ops(h)).toEqual({ Conv: 1 });
    const c = h.nodes[0];
    expect(values(h, c.inputs[2])).toEqual([0.5, 6]);
    expect(values(h, c.inputs[1]).slice(0, 18)).toEqual(values(g, 'w').slice(0, 18).map((v) => Math.fround(v * 0.5)));
    expect(c.inputs[3]).toBe(x);
    expectSameOutputs(g, h, 1e-6);
  });

  it.each([
    ['Clip (ReLU6)', 'Clip', { min: 0, max: 6 }, 'clip', 0, 6],
    ['LeakyRelu', 'LeakyRelu', { alpha: 0.1 }, 'leaky_relu', 0.1, 0],
    ['Sigmoid', 'Sigmoid', {}, 'sigmoid', 0, 0],
    ['HardSwish', 'HardSwish', {}, 'hard_swish', 0, 0],
    ['Gelu', 'Gelu', {}, 'gelu', 0, 0],
    ['Tanh', 'Tanh', {}, 'tanh', 0, 0],
  ] as const)('fuses %s', (_n, op, attrs, act, alpha, beta) => {
    const { g, y } = convGraph();
    g.setOutputs([g.add(op, [y], attrs as Record<string, number>)]);
    const h = fuseEpilogues(g);
    expect(ops(h)).toEqual({ Conv: 1 });
    expect([h.nodes[0].attrs.activation, h.nodes[0].attrs.act_alpha, h.nodes[0].attrs.act_beta]).toEqual([act, alpha, beta]);
    expectSameOutputs(g, h, 1e-6);
  });

  // Activations defined once in ir/ops/activation.ts: they fuse through traits.asActivation, no pass change.
  const NEW_ACTIVATIONS = [
    ['Elu', { alpha: 0.8 }, 'elu', 0.8, 0],
    ['Celu', { alpha: 1.3 }, 'celu', 1.3, 0],
    ['Selu', {}, 'selu', 1.67326319217681884765625, 1.05070102214813232421875],
    ['ThresholdedRelu', { alpha: 0.3 }, 'thresholded_relu', 0.3, 0],
    ['Softplus', {}, 'softplus', 0, 0],
    ['Softsign', {}, 'softsign', 0, 0],
    ['Mish', {}, 'mish', 0, 0],
  ] as const;

  it.each(NEW_ACTIVATIONS)('fuses %s into a Conv epilogue, reference output unchanged', (op, attrs, act, alpha, beta) => {
    const { g, y } = convGraph();
    g.setOutputs([g.add(op, [y], attrs as Record<string, number>)]);
    const h = fuseEpilogues(g);
    expect(ops(h)).toEqual({ Conv: 1 });
    expect([h.nodes[0].attrs.activation, h.nodes[0].attrs.act_alpha, h.nodes[0].attrs.act_beta]).toEqual([act, alpha, beta]);
    expectSameOutputs(g, h, 1e-6);
  });

  it.each(NEW_ACTIVATIONS)('fuses %s into a Gemm epilogue after its bias, reference output unchanged', (op, attrs, act) => {
    const g = new Graph('t');
    const a = g.addInput('a', { dtype: 'f32', shape: [3, 5] });
    const mm = g.add('Gemm', [a, randomConstant(g, 'b', [5, 4], 3)]);
    const biased = g.add('Add', [mm, constant(g, 'c', [4], [0.5, -0.5, 1, -1])]);
    g.setOutputs([g.add(op, [biased], attrs as Record<string, number>)]);
    const h = fuseEpilogues(g);
    expect(ops(h)).toEqual({ Gemm: 1 });
    expect(h.nodes[0].attrs.activation).toBe(act);
    expectSameOutputs(g, h, 1e-6);
  });

  it('every registry op with an epilogue form fuses into a Conv as that form', () => {
    let fused = 0;
    for (const def of allOps()) {
      if (!def.traits.asActivation) continue;
      const { g, y } = convGraph();
      g.setOutputs([g.add(def.name, [y])]);
      const h = fuseEpilogues(g);
      expect(ops(h), def.name).toEqual({ Conv: 1 });
      expect(h.nodes[0].attrs.activation).toBe(def.traits.asActivation(g.nodes[1].attrs)!.activation);
      expectSameOutputs(g, h, 1e-6);
      fused++;
    }
    expect(fused).toBeGreaterThanOrEqual(15);
  });

  it('fuses the SiLU pattern x·sigmoid(x)', () => {
    const { g, y } = convGraph();
    g.setOutputs([g.add('Mul', [g.add('Sigmoid', [y]), y])]);
    const h = fuseEpilogues(g);
    expect(ops(h)).toEqual({ Conv: 1 });
    expect(h.nodes[0].attrs.activation).toBe('silu');
    expectSameOutputs(g, h, 1e-6);
  });

  it('fuses the HardSwish pattern x·hardsigmoid(x; 1/6, 1/2), not other HardSigmoid slopes', () => {
    for (const [alpha, fused] of [[1 / 6, true], [0.2, false]] as const) {
      const { g, y } = convGraph();
      g.setOutputs([g.add('Mul', [y, g.add('HardSigmoid', [y], { alpha, beta: 0.5 })])]);
      const h = fuseEpilogues(g);
      expect(ops(h)).toEqual(fused ? { Conv: 1 } : { Conv: 1, HardSigmoid: 1, Mul: 1 });
      if (fused) expect(h.nodes[0].attrs.activation).toBe('hard_swish');
      expectSameOutputs(g, h, 1e-6);
    }
  });

  it("fuses PyTorch's erf GELU: Mul(Mul(x, Add(Erf(Div(x, √2)), 1)), 0.5)", () => {
    const { g, y } = convGraph();
    const d = g.add('Div', [y, constant(g, 'sqrt2', [], [Math.SQRT2])]);
    const e = g.add('Add', [g.add('Erf', [d]), constant(g, 'one', [], [1])]);
    g.setOutputs([g.add('Mul', [g.add('Mul', [y, e]), constant(g, 'half', [], [0.5])])]);
    const h = fuseEpilogues(g);
    expect(ops(g)).toEqual({ Conv: 1, Div: 1, Erf: 1, Add: 1, Mul: 2 });
    expect(ops(h)).toEqual({ Conv: 1 });
    expect(h.nodes[0].attrs.activation).toBe('gelu');
    expectSameOutputs(g, h, 1e-6);
  });

  it('fuses into Gemm (bias joins C) and turns a 2-D MatMul into Gemm', () => {
    const g = new Graph('t');
    const x = g.addInput('x', { dtype: 'f32', shape: [3, 4] });
    const y = g.add('Gemm', [x, randomConstant(g, 'w', [4, 5], 2), randomConstant(g, 'c', [5], 3)], { beta: 2 });
    const z = g.add('Sigmoid', [g.add('Add', [y, randomConstant(g, 'd', [1, 5], 4)])]);
    const m = g.add('Relu', [g.add('MatMul', [x, randomConstant(g, 'w2', [4, 5], 5)])]);
    g.setOutputs([z, m]);
    const h = fuseEpilogues(g);
    expect(ops(h)).toEqual({ Gemm: 2 });
    expect(h.nodes.map((n) => n.attrs.activation)).toEqual(['sigmoid', 'relu']);
    expectSameOutputs(g, h, 1e-6);
  });

  it('does not fuse when the intermediate has another reader, nor a residual after an activation (fuse-residual-after-act does)', () => {
    const { g, x, y } = convGraph();
    const r = g.add('Relu', [y]);
    const other = g.add('Neg', [y]); // y read twice: Relu cannot move into the conv
    const z = g.add('Conv', [r, randomConstant(g, 'w2', [2, 2, 1, 1], 6)], {}, { name: 'conv2' });
    const a = g.add('Sigmoid', [z]);
    g.setOutputs([g.add('Add', [a, x]), other]);
    const h = fuseEpilogues(g);
    // conv2 takes the sigmoid; the Add after it stays (act(conv)+R ≠ act(conv+R))
    expect(ops(h)).toEqual({ Conv: 2, Relu: 1, Neg: 1, Add: 1 });
    expectSameOutputs(g, h, 1e-6);
    // the next pass makes it conv2's residual, added after the activation
    const k = fuseResidualAfterAct(h);
    expect(ops(k)).toEqual({ Conv: 2, Relu: 1, Neg: 1 });
    const conv2 = k.nodes.find((n) => n.op === 'Conv' && n.attrs.activation === 'sigmoid')!;
    expect(conv2.attrs.residual_after_act).toBe(1);
    expect(conv2.inputs[3]).toBe(x);
    expectSameOutputs(g, k, 1e-6);
  });
});
