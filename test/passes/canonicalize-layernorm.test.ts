import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compile } from '../../index.js';
import { Graph } from '../../ir/graph.js';
import { interpret } from '../../ir/interpreter.js';
import { canonicalize, CANONICAL_RULES, PENDING_RULES } from '../../passes/canonicalize.js';
import { scalar, writeLayerNorm, type LnSpelling } from '../decomposed.js';
import { expectSameOutputs, ops, randomConstant, randomInputs, relError } from './helpers.js';

const SPELLINGS: LnSpelling[] = (['pow', 'mul'] as const).flatMap((square) => (['div', 'reciprocal'] as const)
  .flatMap((divide) => [false, true].map((swap) => ({ square, divide, swap }))));

/** x of `shape` normalized over `axes`, γ/β of the given shapes when given. */
function lnGraph(shape: number[], axes: number[], o: { gamma?: number[]; beta?: number[]; eps?: number; spelling?: LnSpelling } = {}): Graph {
  const g = new Graph('ln');
  const x = g.addInput('x', { dtype: 'f32', shape });
  const gamma = o.gamma && randomConstant(g, 'gamma', o.gamma, 7, 2);
  const beta = o.beta && randomConstant(g, 'beta', o.beta, 8, 1);
  g.setOutputs([writeLayerNorm(g, x, axes, o.eps ?? 1e-5, gamma, beta, o.spelling)]);
  return g;
}

describe('canonicalize: LayerNormalization', () => {
  it.each(SPELLINGS)('the opset-13 form over the last axis, spelled %o, with γ and β → one LayerNormalization', (spelling) => {
    const g = lnGraph([2, 3, 8], [-1], { gamma: [8], beta: [8], eps: 1e-6, spelling });
    const h = canonicalize(g);
    expect(ops(h)).toEqual({ LayerNormalization: 1 });
    const ln = h.nodes[0];
    expect(ln.inputs[0]).toBe('x');
    expect(ln.inputs).toHaveLength(3);
    expect(ln.attrs).toMatchObject({ axis: -1, epsilon: Math.fround(1e-6) }); // the f32 constant's value
    expect(ln.outputs).toEqual(g.outputs);
    expectSameOutputs(g, h, 1e-5);
  });

  it.each([
    ['no affine', {}],
    ['γ only', { gamma: [1, 8] }],
    ['β only', { beta: [8] }],
    ['scalar γ', { gamma: [1] }],
  ] as const)('%s', (_l, o) => {
    const g = lnGraph([4, 8], [1], o as { gamma?: number[]; beta?: number[] });
    const h = canonicalize(g);
    expect(ops(h)).toEqual({ LayerNormalization: 1 });
    expect(h.nodes[0].inputs).toHaveLength('beta' in o ? 3 : 2);
    expectSameOutputs(g, h, 1e-5);
  });

  it('several trailing axes → LayerNormalization(axis = first of them)', () => {
    const g = lnGraph([2, 3, 4, 5], [2, 3], { gamma: [4, 5], beta: [1, 5] });
    const h = canonicalize(g);
    expect(ops(h)).toEqual({ LayerNormalization: 1 });
    expect(h.nodes[0].attrs.axis).toBe(-2);
    expectSameOutputs(g, h, 1e-5);
  });

  it("channels-first (ConvNeXt's LN over axis 1 of NCHW, γ/β [C,1,1]) → Transpose, LayerNormalization, Transpose", () => {
    const g = lnGraph([2, 6, 3, 4], [1], { gamma: [6, 1, 1], beta: [6, 1, 1], eps: 1e-6 });
    const h = canonicalize(g);
    expect(h.nodes.map((n) => n.op)).toEqual(['Transpose', 'LayerNormalization', 'Transpose']);
    expect(h.nodes[0].attrs.perm).toEqual([0, 2, 3, 1]);
    expect(h.nodes[2].attrs.perm).toEqual([0, 3, 1, 2]);
    expect(h.type(h.nodes[1].inputs[1]).shape).toEqual([6]);
    expectSameOutputs(g, h, 1e-5);
  });

  it('over the spatial axes with per-channel γ/β: LayerNormalization over H, W and the affine kept (InstanceNorm only with the pending rule)', () => {
    const g = lnGraph([2, 3, 4, 4], [2, 3], { gamma: [3, 1, 1], beta: [3, 1, 1] });
    const h = canonicalize(g);
    expect(ops(h)).toEqual({ LayerNormalization: 1, Mul: 1, Add: 1 });
    expectSameOutputs(g, h, 1e-5);
    const all = canonicalize(g, [...CANONICAL_RULES, ...PENDING_RULES]);
    expect(ops(all)).toEqual({ InstanceNormalization: 1 });
    expect(all.nodes[0].attrs.epsilon).toBe(Math.fround(1e-5));
    expectSameOutputs(g, all, 1e-5);
  });

  it('what it writes compiles and matches the reference on wasm (channels-first, spatial, trailing)', async () => {
    for (const g of [
      lnGraph([1, 6, 3, 4], [1], { gamma: [6, 1, 1], beta: [6, 1, 1] }),
      lnGraph([1, 3, 4, 4], [2, 3], { gamma: [3, 1, 1], beta: [3, 1, 1] }),
      lnGraph([2, 5, 8], [-1], { gamma: [8], beta: [8], spelling: { square: 'mul', divide: 'reciprocal' } }),
    ]) {
      const c = await compile(g, 'wasm');
      expect(ops(c.graph).ReduceMean).toBeUndefined();
      const inputs = randomInputs(g, 4);
      expect(relError(interpret(g, inputs), await c.run(inputs))).toBeLessThanOrEqual(1e-5);
    }
  });

  it('GroupNorm (Reshape to [N, G, −1], normalize, Reshape back, per-channel affine): the core becomes a LayerNormalization', () => {
    const g = new Graph('gn');
    const x = g.addInput('x', { dtype: 'f32', shape: [2, 6, 3, 3] });
    const grouped = g.add('Reshape', [x], { shape: [2, 3, -1] });
    const y = g.add('Reshape', [writeLayerNorm(g, grouped, [2], 1e-5)], { shape: [2, 6, 3, 3] });
    g.setOutputs([g.add('Add', [g.add('Mul', [y, randomConstant(g, 'gamma', [6, 1, 1], 3, 2)]), randomConstant(g, 'beta', [6, 1, 1], 4)])]);
    const h = canonicalize(g);
    expect(ops(h)).toEqual({ Reshape: 2, LayerNormalization: 1, Mul: 1, Add: 1 });
    expectSameOutputs(g, h, 1e-5);
  });

  describe('leaves it alone when', () => {
    const unchanged = (g: Graph) => expect(ops(canonicalize(g))).toEqual(ops(g));
    it('an intermediate is read outside the pattern (the mean is also an output)', () => {
      const g = lnGraph([2, 8], [-1]);
      const mean = g.nodes.find((n) => n.op === 'ReduceMean')!.outputs[0];
      g.setOutputs([...g.outputs, mean]);
      unchanged(g);
    });
    it('d = x − mean has a third reader', () => {
      const g = lnGraph([2, 8], [-1]);
      const d = g.nodes.find((n) => n.op === 'Sub')!.outputs[0];
      g.setOutputs([...g.outputs, g.add('Relu', [d])]);
      unchanged(g);
    });
    it('the exponent is not 2', () => {
      const g = lnGraph([2, 8], [-1]);
      const pow = g.nodes.find((n) => n.op === 'Pow')!;
      (pow.inputs as string[])[1] = scalar(g, 3);
      unchanged(g);
    });
    it('epsilon is not a constant', () => {
      const g = new Graph('eps-input');
      const x = g.addInput('x', { dtype: 'f32', shape: [2, 8] });
      const eps = g.addInput('eps', { dtype: 'f32', shape: [] });
      const mean = g.add('ReduceMean', [x], { axes: [1] });
      const d = g.add('Sub', [x, mean]);
      const v = g.add('ReduceMean', [g.add('Mul', [d, d])], { axes: [1] });
      g.setOutputs([g.add('Div', [d, g.add('Sqrt', [g.add('Add', [v, eps])])])]);
      unchanged(g);
    });
    it('the two means reduce different axes', () => {
      const g = lnGraph([2, 3, 8], [-1]);
      const second = g.nodes.filter((n) => n.op === 'ReduceMean')[1];
      (second.attrs as Record<string, unknown>).axes = [1, 2];
      unchanged(g);
    });
  });

  it('γ varying along a non-normalized axis stays a Mul after the LayerNormalization', () => {
    const g = lnGraph([3, 8], [-1], { gamma: [3, 1] });
    const h = canonicalize(g);
    expect(ops(h)).toEqual({ LayerNormalization: 1, Mul: 1 });
    expectSameOutputs(g, h, 1e-5);
  });

  it('random shapes, axes, spellings and affines match the reference (fast-check)', () => {
    const arb = fc.record({
      shape: fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 2, maxLength: 4 }),
      trailing: fc.integer({ min: 1, max: 3 }),
      leading: fc.boolean(),
      spelling: fc.constantFrom(...SPELLINGS),
      gamma: fc.boolean(),
      beta: fc.boolean(),
      eps: fc.constantFrom(1e-5, 1e-6, 1e-3),
    });
    fc.assert(fc.property(arb, (c) => {
      const r = c.shape.length;
      const axes = c.leading ? [1] : Array.from({ length: Math.min(c.trailing, r) }, (_, i) => r - Math.min(c.trailing, r) + i);
      const param = c.shape.map((d, i) => (axes.includes(i) ? d : 1));
      const g = lnGraph(c.shape, axes, { gamma: c.gamma ? param : undefined, beta: c.beta ? param : undefined, eps: c.eps, spelling: c.spelling });
      const h = canonicalize(g);
      expect(ops(h).LayerNormalization).toBe(1);
      expect(ops(h).ReduceMean).toBeUndefined();
      expectSameOutputs(g, h, 1e-5);
    }), { numRuns: 60, seed: 15 });
  });
});
