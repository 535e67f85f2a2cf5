import { describe, expect, it } from 'vitest';
import { Graph } from '../../ir/graph.js';
import { eliminateDeadCode } from '../../passes/dce.js';
import { constant, expectSameOutputs, ops } from './helpers.js';

describe('dce', () => {
  it('drops nodes and constants no output depends on, keeps inputs', () => {
    const g = new Graph('t');
    const x = g.addInput('x', { dtype: 'f32', shape: [4] });
    g.addInput('unused', { dtype: 'f32', shape: [4] });
    const w = constant(g, 'w', [4], [1, 2, 3, 4]);
    const dead1 = g.add('Mul', [x, w], {}, { name: 'dead1' });
    g.add('Relu', [dead1], {}, { name: 'dead2' });
    constant(g, 'orphan', [2], [5, 6]);
    g.setOutputs([g.add('Neg', [x], {}, { name: 'y' })]);
    const h = eliminateDeadCode(g);
    expect(ops(g)).toEqual({ Mul: 1, Relu: 1, Neg: 1 });
    expect(ops(h)).toEqual({ Neg: 1 });
    expect(h.values.has('w') || h.values.has('orphan') || h.values.has('dead1')).toBe(false);
    expect(h.inputs).toEqual(['x', 'unused']);
    expectSameOutputs(g, h, 0);
  });
});
