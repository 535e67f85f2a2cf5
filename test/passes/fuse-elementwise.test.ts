/**
 * Elementwise group fusion (passes/fuse-elementwise.ts): exact rewrites on small graphs, and the
 * differential property on random elementwise graphs: the reference interpreter gives the same
 * outputs, bit for bit (NaN for NaN), before and after the pass, because FusedElementwise rounds
 * every step to f32 as the unfused ops store their outputs.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Graph } from '../../ir/graph.js';
import { interpret } from '../../ir/interpreter.js';
import { verify } from '../../ir/verify.js';
import { printGraph } from '../../ir/print.js';
import { formatFused } from '../../ir/ops/fused-elementwise.js';
import { parseScalar, formatScalar } from '../../ir/scalar.js';
import { toF64 } from '../../runtime/tensor.js';
import { elementwiseGroups, fuseElementwise, MAX_STEPS } from '../../passes/fuse-elementwise.js';
import { runPipeline } from '../../passes/pipeline.js';
import { constant, ops, randomConstant } from './helpers.js';
import { randomElementwise, specialInputs } from '../random-elementwise.js';

/** Same values bit for bit (NaN matches NaN) on every output. */
function expectIdentical(a: Graph, b: Graph, seed: number): void {
  const inputs = specialInputs(a, seed);
  const x = interpret(a, inputs), y = interpret(b, inputs);
  for (const k of a.outputs) expect(Array.from(toF64(y[k])), k).toEqual(Array.from(toF64(x[k])));
}

describe('fuse-elementwise', () => {
  it('turns x·σ(x) + per-channel bias, then Relu, into one node with a broadcast input', () => {
    const g = new Graph('silu');
    const x = g.addInput('x', { dtype: 'f32', shape: [1, 3, 2, 2] });
    const b = randomConstant(g, 'b', [3, 1, 1], 1);
    const y = g.add('Relu', [g.add('Add', [g.add('Mul', [x, g.add('Sigmoid', [x])]), b])]);
    g.setOutputs([y]);
    const h = fuseElementwise(g);
    verify(h);
    expect(ops(h)).toEqual({ FusedElementwise: 1 });
    const n = h.nodes[0];
    expect(n.inputs).toEqual([x, b]);
    expect(n.outputs).toEqual([y]);
    expect(formatFused(n.attrs, 2)).toBe('t0 = sigmoid(x0); t1 = mul(x0, t0); t2 = add(t1, x1); t3 = max(t2, 0) → y0');
    expectIdentical(g, h, 1);
  });

  it('keeps an intermediate read outside the group as a second output, and folds one-element constants', () => {
    const g = new Graph('two');
    const x = g.addInput('x', { dtype: 'f32', shape: [2, 5] });
    const a = g.add('Mul', [x, constant(g, 'k', [], [0.5])]);
    const t = g.add('Tanh', [a]);
    const s = g.add('Softmax', [a]); // reads the intermediate outside the group
    g.setOutputs([t, s]);
    const h = fuseElementwise(g);
    const f = h.nodes.find((n) => n.op === 'FusedElementwise')!;
    expect(f.inputs).toEqual([x]);
    expect(f.outputs).toEqual([t, a].sort((p, q) => (p === a ? -1 : q === a ? 1 : 0)));
    expect(ops(h)).toEqual({ FusedElementwise: 1, Softmax: 1 });
    expectIdentical(g, h, 2);
  });

  it('never forms a group that would depend on itself (a path out of it and back)', () => {
    const g = new Graph('cycle');
    const x = g.addInput('x', { dtype: 'f32', shape: [1, 4] });
    const a = g.add('Relu', [x]);
    const s = g.add('Softmax', [a]);
    const y = g.add('Add', [a, s]);
    g.setOutputs([y]);
    expect(elementwiseGroups(g)).toEqual([]);
    expect(ops(fuseElementwise(g))).toEqual(ops(g));
  });

  it('leaves other dtypes, groups of one and different shapes alone', () => {
    const g = new Graph('mixed');
    const x = g.addInput('x', { dtype: 'f32', shape: [2, 3] });
    const v = g.addInput('v', { dtype: 'f32', shape: [3] });
    const i = g.addInput('i', { dtype: 'i32', shape: [2, 3] });
    const small = g.add('Exp', [g.add('Neg', [v])]); // [3]: its own group
    const y = g.add('Add', [x, small]); // [2,3]: alone
    const j = g.add('Abs', [g.add('Neg', [i])]); // i32: not fused
    g.setOutputs([y, j]);
    expect(elementwiseGroups(g).map((x) => x.length)).toEqual([2]);
    expect(ops(fuseElementwise(g))).toEqual({ FusedElementwise: 1, Add: 1, Neg: 1, Abs: 1 });
  });

  it('respects the buffer limit a target sets, and the step limit', () => {
    const g = new Graph('wide');
    let acc = g.addInput('x0', { dtype: 'f32', shape: [4] });
    for (let k = 1; k < 10; k++) acc = g.add('Add', [acc, g.addInput(`x${k}`, { dtype: 'f32', shape: [4] })]);
    g.setOutputs([acc]);
    for (const grp of elementwiseGroups(g, 8)) expect(grp.length).toBeLessThanOrEqual(6); // ≤ 7 inputs + 1 output
    expect(elementwiseGroups(g).map((x) => x.length)).toEqual([9]);
    const chain = new Graph('chain');
    let c = chain.addInput('x', { dtype: 'f32', shape: [4] });
    for (let k = 0; k < 150; k++) c = chain.add('Relu', [c]);
    chain.setOutputs([c]);
    expect(elementwiseGroups(chain).map((x) => x.length)).toEqual([MAX_STEPS, MAX_STEPS, 150 - 2 * MAX_STEPS]);
  });

  it('writes formulas that parse back to themselves (printable, serialisable attributes)', () => {
    for (const text of ['max(x0, 0)', 'select(gt(x1, -0), NaN, -Infinity)', 'pow(x0, 1e-7)', 'add(sigmoid(x2), 0.5)']) {
      expect(formatScalar(parseScalar(text))).toBe(text);
    }
    expect(() => parseScalar('foo(x0)')).toThrow(/no function foo/);
    const g = new Graph('p');
    const x = g.addInput('x', { dtype: 'f32', shape: [3] });
    g.setOutputs([g.add('Exp', [g.add('Neg', [x])])]);
    expect(printGraph(fuseElementwise(g), { constants: false })).toContain('neg(x0)');
  });

  it('random elementwise graphs: the same outputs bit for bit, special values included', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 1_000_000 }), fc.integer({ min: 2, max: 14 }), (seed, steps) => {
      const g = randomElementwise(seed, steps);
      const h = fuseElementwise(g, seed % 2 ? 8 : Infinity);
      verify(h);
      expect(h.nodes.length).toBeLessThanOrEqual(g.nodes.length);
      expectIdentical(g, h, seed);
    }), { numRuns: 300, seed: 15 });
  });

  it('runs in the O2 and O3 pipelines and fuses the random graphs there too', () => {
    let fused = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const g = randomElementwise(seed, 10);
      for (const opt of ['O2', 'O3'] as const) {
        const h = runPipeline(g, 'wasm', { opt, verify: true }).graph;
        fused += h.nodes.filter((n) => n.op === 'FusedElementwise').length;
        const inputs = specialInputs(g, seed);
        const x = interpret(g, inputs), y = interpret(h, inputs);
        for (const k of g.outputs) {
          const a = toF64(x[k]), b = toF64(y[k]);
          a.forEach((v, i) => {
            if (Number.isNaN(v)) expect(b[i], `${k}[${i}]`).toBeNaN();
            else if (b[i] !== v) expect(Math.abs(b[i] - v), `${k}[${i}]: ${b[i]} vs ${v}`).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(v)));
          });
        }
      }
    }
    expect(fused).toBeGreaterThan(10);
  });
});
