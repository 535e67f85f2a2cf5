import { describe, expect, it } from 'vitest';
import { Graph } from '../../ir/graph.js';
import { eliminateCommonSubexpressions } from '../../passes/cse.js';
import { constant, expectSameOutputs, ops } from './helpers.js';

describe('cse', () => {
  it('merges equal constants, then the nodes that become equal through them', () => {
    const g = new Graph('t');
    const x = g.addInput('x', { dtype: 'f32', shape: [3] });
    const c1 = constant(g, 'c1', [3], [1, 2, 3]);
    const c2 = constant(g, 'c2', [3], [1, 2, 3]);
    const c3 = constant(g, 'c3', [3], [1, 2, 4]);
    const a = g.add('Add', [x, c1]);
    const b = g.add('Add', [x, c2]); // same as a once c2 = c1
    const c = g.add('Add', [x, c3]); // different constant: stays
    const r1 = g.add('Relu', [a]);
    const r2 = g.add('Relu', [b]); // same as r1 once b = a
    const s = g.add('Sum', [r1, r2, c]);
    g.setOutputs([s]);
    const h = eliminateCommonSubexpressions(g);
    expect(ops(g)).toEqual({ Add: 3, Relu: 2, Sum: 1 });
    expect(ops(h)).toEqual({ Add: 2, Relu: 1, Sum: 1 });
    expect(h.values.has('c2')).toBe(false);
    expect(h.nodes.find((n) => n.op === 'Sum')!.inputs).toEqual([r1, r1, c]);
    expectSameOutputs(g, h, 0);
  });

  it('does not merge nodes whose attributes differ (Clip bounds ±Infinity included)', () => {
    const g = new Graph('t');
    const x = g.addInput('x', { dtype: 'f32', shape: [3] });
    const a = g.add('Clip', [x], { min: -Infinity, max: 1 });
    const b = g.add('Clip', [x], { min: Infinity, max: 1 });
    const c = g.add('Clip', [x], { min: 0, max: 1 });
    g.setOutputs([g.add('Sum', [a, b, c])]);
    expect(ops(eliminateCommonSubexpressions(g))).toEqual({ Clip: 3, Sum: 1 });
  });
});
