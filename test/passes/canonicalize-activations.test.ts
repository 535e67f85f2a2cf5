import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Graph } from '../../ir/graph.js';
import { canonicalize, CANONICAL_RULES } from '../../passes/canonicalize.js';
import { scalar } from '../decomposed.js';
import { expectSameOutputs, ops, randomInputs } from './helpers.js';

/** One input x of `shape` and a spelled-out formula f(g, x) as the output; inputs scaled to ±scale. */
function spelled(f: (g: Graph, x: string) => string, shape = [2, 3, 4]): Graph {
  const g = new Graph('act');
  const x = g.addInput('x', { dtype: 'f32', shape });
  g.setOutputs([f(g, x)]);
  return g;
}

/** The product a·b in the given operand order. */
const mul = (g: Graph, a: string, b: string, swap: boolean) => g.add('Mul', swap ? [b, a] : [a, b]);

/** Checks the graph becomes exactly `expected` and matches the reference on inputs in ±scale. */
function expectCanonical(g: Graph, expected: Record<string, number>, scale = 4, rules = CANONICAL_RULES): Graph {
  const h = canonicalize(g, rules);
  expect(ops(h)).toEqual(expected);
  const inputs = randomInputs(g, 3);
  for (const t of Object.values(inputs)) (t.data as Float32Array).forEach((v, i, a) => { a[i] = v * scale; });
  expectSameOutputs(g, h, 1e-5, inputs);
  return h;
}

/** 0.5·x·(1 + erf(x/√2)) in one of 12 spellings (x/√2 as Div or Mul, 1 + erf in either order, three associations). */
function erfGelu(g: Graph, x: string, form: number): string {
  const scaled = form & 1 ? g.add('Mul', [x, scalar(g, Math.SQRT1_2)]) : g.add('Div', [x, scalar(g, Math.SQRT2)]);
  const e = g.add('Erf', [scaled]);
  const onePlus = g.add('Add', form & 2 ? [scalar(g, 1), e] : [e, scalar(g, 1)]);
  const half = scalar(g, 0.5);
  switch (form >> 2) {
    case 0: return g.add('Mul', [g.add('Mul', [x, onePlus]), half]); // PyTorch: (x · (1 + erf)) · 0.5
    case 1: return g.add('Mul', [onePlus, g.add('Mul', [half, x])]); // (1 + erf) · (0.5 · x)
    default: return g.add('Mul', [x, g.add('Mul', [half, onePlus])]); // x · (0.5 · (1 + erf))
  }
}

describe('canonicalize: activations', () => {
  it.each([...Array(12).keys()])('GELU erf form, spelling %i → Gelu', (form) => {
    const g = spelled((g, x) => erfGelu(g, x, form));
    const h = canonicalize(g);
    expect(h.nodes.map((n) => n.op)).toEqual(['Gelu']);
    expect(h.nodes[0].attrs.approximate).toBe('none');
    expectSameOutputs(g, h, 1e-5);
  });

  it.each([false, true])('GELU tanh form (x³ as Pow: %s) → Gelu(approximate=tanh)', (pow) => {
    const g = spelled((g, x) => {
      const cube = pow ? g.add('Pow', [x, scalar(g, 3)]) : g.add('Mul', [g.add('Mul', [x, x]), x]);
      const inner = g.add('Add', [x, g.add('Mul', [scalar(g, 0.044715), cube])]);
      const t = g.add('Tanh', [g.add('Mul', [inner, scalar(g, Math.sqrt(2 / Math.PI))])]);
      return g.add('Mul', [g.add('Mul', [x, scalar(g, 0.5)]), g.add('Add', [scalar(g, 1), t])]);
    });
    const h = expectCanonical(g, { Gelu: 1 });
    expect(h.nodes[0].attrs.approximate).toBe('tanh');
  });

  it('a 4-digit √2 is not GELU (the constants are checked)', () => {
    const g = spelled((g, x) => {
      const e = g.add('Erf', [g.add('Div', [x, scalar(g, 1.4142)])]);
      return g.add('Mul', [g.add('Mul', [x, g.add('Add', [e, scalar(g, 1)])]), scalar(g, 0.5)]);
    });
    expect(ops(canonicalize(g)).Gelu).toBeUndefined();
  });

  it.each([
    ['x·Relu6(x+3)/6', (g: Graph, x: string) => g.add('Div', [g.add('Mul', [x, g.add('Clip', [g.add('Add', [x, scalar(g, 3)])], { min: 0, max: 6 })]), scalar(g, 6)])],
    ['x·(Clip(3+x, 0, 6)·(1/6))', (g: Graph, x: string) => g.add('Mul', [x, g.add('Mul', [g.add('Clip', [g.add('Add', [scalar(g, 3), x])], { min: 0, max: 6 }), scalar(g, 1 / 6)])])],
    ['HardSigmoid(x; 1/6, 1/2)·x', (g: Graph, x: string) => g.add('Mul', [g.add('HardSigmoid', [x], { alpha: 1 / 6, beta: 0.5 }), x])],
    ['x·Clip(x/6 + 0.5, 0, 1)', (g: Graph, x: string) => g.add('Mul', [x, g.add('Clip', [g.add('Add', [g.add('Div', [x, scalar(g, 6)]), scalar(g, 0.5)])], { min: 0, max: 1 })])],
  ])('%s → HardSwish', (_l, f) => {
    expectCanonical(spelled(f), { HardSwish: 1 }, 5);
  });

  it.each([
    ['Relu6(x+3)/6', (g: Graph, x: string) => g.add('Div', [g.add('Clip', [g.add('Add', [x, scalar(g, 3)])], { min: 0, max: 6 }), scalar(g, 6)]), 1 / 6, 0.5],
    ['Clip(x/6 + 0.5, 0, 1)', (g: Graph, x: string) => g.add('Clip', [g.add('Add', [scalar(g, 0.5), g.add('Mul', [x, scalar(g, 1 / 6)])])], { min: 0, max: 1 }), 1 / 6, 0.5],
    ['Clip(0.2x + 0.5, 0, 1)', (g: Graph, x: string) => g.add('Clip', [g.add('Add', [g.add('Mul', [scalar(g, 0.2), x]), scalar(g, 0.5)])], { min: 0, max: 1 }), 0.2, 0.5],
  ])('%s → HardSigmoid', (_l, f, alpha, beta) => {
    const h = expectCanonical(spelled(f), { HardSigmoid: 1 }, 5);
    expect(Number(h.nodes[0].attrs.alpha)).toBeCloseTo(alpha, 6);
    expect(Number(h.nodes[0].attrs.beta)).toBeCloseTo(beta, 6);
  });

  it('Relu6(u + 3)/6 of a computed u (here x²) → HardSigmoid(u), u kept', () => {
    const g = spelled((g, x) => g.add('Div', [g.add('Clip', [g.add('Add', [g.add('Mul', [x, x]), scalar(g, 3)])], { min: 0, max: 6 }), scalar(g, 6)]));
    const h = expectCanonical(g, { Mul: 1, HardSigmoid: 1 }, 3);
    expect(h.nodes[1].inputs[0]).toBe(h.nodes[0].outputs[0]);
  });

  it('Relu6(x+3)/5 and Clip(x+3, 0, 6) alone stay as written', () => {
    const g = spelled((g, x) => g.add('Div', [g.add('Clip', [g.add('Add', [x, scalar(g, 3)])], { min: 0, max: 6 }), scalar(g, 5)]));
    expect(ops(canonicalize(g))).toEqual(ops(g));
    const c = spelled((g, x) => g.add('Clip', [g.add('Add', [x, scalar(g, 3)])], { min: 0, max: 6 }));
    expect(ops(canonicalize(c))).toEqual(ops(c));
  });

  it("x·sigmoid(x) (SiLU) stays: the registry has no SiLU op; fuse-epilogue takes it into a Conv/Gemm epilogue", () => {
    const g = spelled((g, x) => g.add('Mul', [x, g.add('Sigmoid', [x])]));
    expect(ops(canonicalize(g))).toEqual({ Mul: 1, Sigmoid: 1 });
  });

  it.each([
    ['x·tanh(softplus(x))', (g: Graph, x: string) => g.add('Mul', [x, g.add('Tanh', [g.add('Softplus', [x])])])],
    ['tanh(log(1 + exp(x)))·x', (g: Graph, x: string) => g.add('Mul', [g.add('Tanh', [g.add('Log', [g.add('Add', [scalar(g, 1), g.add('Exp', [x])])])]), x])],
  ])('%s → Mish', (_l, f) => {
    const g = spelled(f);
    expect(ops(canonicalize(g)).Mish).toBe(1);
    expectCanonical(g, { Mish: 1 }, 4);
  });

  it.each([
    ['exp(x − max)/Σexp over the last axis', -1, true, false],
    ['exp(x − max)/Σexp over axis 1', 1, true, false],
    ['exp(x)·Reciprocal(Σexp(x))', 2, false, true],
  ] as const)('%s → Softmax', (_l, axis, withMax, reciprocal) => {
    const g = spelled((g, x) => {
      const z = withMax ? g.add('Sub', [x, g.add('ReduceMax', [x], { axes: [axis], keepdims: 1 })]) : x;
      const e = g.add('Exp', [z]);
      const s = g.add('ReduceSum', [e], { axes: [axis], keepdims: 1 });
      return reciprocal ? g.add('Mul', [g.add('Reciprocal', [s]), e]) : g.add('Div', [e, s]);
    });
    const h = expectCanonical(g, { Softmax: 1 });
    expect(h.nodes[0].attrs.axis).toBe((axis + 3) % 3);
  });

  it('Softmax is not formed when exp(x) has another reader or the sum spans two axes', () => {
    let e = '';
    const shared = spelled((g, x) => {
      e = g.add('Exp', [x]);
      return g.add('Div', [e, g.add('ReduceSum', [e], { axes: [2], keepdims: 1 })]);
    });
    shared.setOutputs([...shared.outputs, e]);
    expect(ops(canonicalize(shared)).Softmax).toBeUndefined();
    const two = spelled((g, x) => {
      const e = g.add('Exp', [x]);
      return g.add('Div', [e, g.add('ReduceSum', [e], { axes: [1, 2], keepdims: 1 })]);
    });
    expect(ops(canonicalize(two)).Softmax).toBeUndefined();
  });

  it('a pattern whose inner value has another reader stays (HardSwish with the Clip also an output)', () => {
    const g = spelled((g, x) => {
      const clip = g.add('Clip', [g.add('Add', [x, scalar(g, 3)])], { min: 0, max: 6 });
      return g.add('Div', [g.add('Mul', [x, clip]), scalar(g, 6)]);
    });
    g.setOutputs([...g.outputs, g.nodes.find((n) => n.op === 'Clip')!.outputs[0]]);
    expect(ops(canonicalize(g)).HardSwish).toBeUndefined();
  });

  it('random shapes and GELU/HardSwish spellings match the reference (fast-check)', () => {
    const arb = fc.record({
      shape: fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 4 }),
      form: fc.integer({ min: 0, max: 11 }),
      hard: fc.boolean(),
      swap: fc.boolean(),
    });
    fc.assert(fc.property(arb, (c) => {
      const g = spelled((g, x) => {
        if (!c.hard) return erfGelu(g, x, c.form);
        const clip = g.add('Clip', [g.add('Add', c.swap ? [scalar(g, 3), x] : [x, scalar(g, 3)])], { min: 0, max: 6 });
        return g.add('Div', [mul(g, x, clip, c.swap), scalar(g, 6)]);
      }, c.shape);
      const h = canonicalize(g);
      expect(h.nodes.map((n) => n.op)).toEqual([c.hard ? 'HardSwish' : 'Gelu']);
      expectSameOutputs(g, h, 1e-5);
    }), { numRuns: 60, seed: 15 });
  });
});
