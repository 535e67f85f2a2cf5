import { describe, expect, it } from 'vitest';
import { Graph } from '../../ir/graph.js';
import { foldConstants } from '../../passes/fold-constants.js';
import { constant, expectSameOutputs, ops, values } from './helpers.js';

describe('fold-constants', () => {
  it('evaluates a constant subgraph once and keeps the rest', () => {
    const g = new Graph('t');
    const x = g.addInput('x', { dtype: 'f32', shape: [1, 3] });
    const a = constant(g, 'a', [3], [1, 2, 3]);
    const b = constant(g, 'b', [3], [10, 20, 30]);
    const s = g.add('Add', [a, b], {}, { name: 'sum' });
    const m = g.add('Mul', [s, s], {}, { name: 'sq' });
    g.setOutputs([g.add('Mul', [x, m], {}, { name: 'y' })]);
    const h = foldConstants(g);
    expect(ops(g)).toEqual({ Add: 1, Mul: 2 });
    expect(ops(h)).toEqual({ Mul: 1 });
    expect(values(h, 'sq')).toEqual([121, 484, 1089]);
    // the intermediates and their sources are gone
    expect(h.values.has('sum') || h.values.has('a') || h.values.has('b')).toBe(false);
    expect(g.nodes.length).toBe(3); // the input graph is untouched
    expectSameOutputs(g, h, 0);
  });

  it('folds Shape of a non-constant value (shapes are static)', () => {
    const g = new Graph('t');
    const x = g.addInput('x', { dtype: 'f32', shape: [2, 5, 3] });
    const s = g.add('Shape', [x], {}, { name: 'shape' });
    const c = g.add('Cast', [s], { to: 'f32' }, { name: 'cast' });
    g.setOutputs([g.add('Add', [x, c], {}, { name: 'y' })]);
    const h = foldConstants(g);
    expect(ops(h)).toEqual({ Add: 1 });
    expect(values(h, 'cast')).toEqual([2, 5, 3]);
    expectSameOutputs(g, h, 0);
  });

  it('leaves a node that defines a graph output', () => {
    const g = new Graph('t');
    g.addInput('x', { dtype: 'f32', shape: [1] });
    const a = constant(g, 'a', [1], [2]);
    g.setOutputs([g.add('Neg', [a], {}, { name: 'y' })]);
    expect(ops(foldConstants(g))).toEqual({ Neg: 1 });
  });
});
