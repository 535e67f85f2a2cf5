import { describe, expect, it } from 'vitest';
import { Graph } from '../../ir/graph.js';
import { simplify } from '../../passes/simplify.js';
import { expectSameOutputs, ops } from './helpers.js';

describe('simplify', () => {
  it('removes Identity, same-dtype Cast, identity Transpose and shape-keeping Reshape', () => {
    const g = new Graph('t');
    let v = g.addInput('x', { dtype: 'f32', shape: [1, 2, 3] });
    v = g.add('Identity', [v]);
    v = g.add('Cast', [v], { to: 'f32' });
    v = g.add('Transpose', [v], { perm: [0, 1, 2] });
    v = g.add('Reshape', [v], { shape: [1, 2, 3] });
    v = g.add('Relu', [v]);
    g.setOutputs([g.add('Identity', [v], {}, { name: 'y', outputs: ['y'] })]);
    const h = simplify(g);
    expect(ops(h)).toEqual({ Relu: 1 });
    // the output keeps its name: the Relu now defines 'y'
    expect(h.nodes[0].outputs).toEqual(['y']);
    expectSameOutputs(g, h, 0);
  });

  it('turns Flatten/Unsqueeze chains into one static Reshape', () => {
    const g = new Graph('t');
    const x = g.addInput('x', { dtype: 'f32', shape: [2, 3, 4] });
    const r = g.add('Relu', [x]);
    const f = g.add('Flatten', [r], { axis: 1 });
    const u = g.add('Unsqueeze', [f], { axes: [0] });
    g.setOutputs([g.add('Neg', [u], {}, { name: 'y' })]);
    const h = simplify(g);
    expect(ops(h)).toEqual({ Relu: 1, Reshape: 1, Neg: 1 });
    const reshape = h.nodes.find((n) => n.op === 'Reshape')!;
    expect(reshape.inputs).toEqual([r]);
    expect(reshape.attrs.shape).toEqual([1, 2, 12]);
    expectSameOutputs(g, h, 0);
  });

  it('turns a transpose that only moves size-1 axes into a Reshape', () => {
    const g = new Graph('t');
    const x = g.addInput('x', { dtype: 'f32', shape: [1, 1, 1, 8] });
    const t = g.add('Transpose', [x], { perm: [0, 3, 1, 2] });
    g.setOutputs([g.add('Relu', [t], {}, { name: 'y' })]);
    const h = simplify(g);
    expect(ops(h)).toEqual({ Reshape: 1, Relu: 1 });
    expectSameOutputs(g, h, 0);
  });

  it('keeps an Identity from a graph input to a graph output (the output name must stay)', () => {
    const g = new Graph('t');
    const x = g.addInput('x', { dtype: 'f32', shape: [2] });
    g.setOutputs([g.add('Identity', [x], {}, { name: 'y' })]);
    expect(ops(simplify(g))).toEqual({ Identity: 1 });
  });
});
