import { describe, expect, it } from 'vitest';
import { Graph } from '../../ir/graph.js';
import { planMemory } from '../../passes/memory-plan.js';
import { checkPlan, randomConstant } from './helpers.js';

describe('memory planning', () => {
  it('a chain reuses two buffers; elementwise ops work in place (hand-computed sizes)', () => {
    const g = new Graph('t');
    const x = g.addInput('x', { dtype: 'f32', shape: [1, 4, 4, 4] }); // 256 B
    const a = g.add('Conv', [x, randomConstant(g, 'w', [8, 4, 1, 1], 1)]); // 512 B
    const b = g.add('Relu', [a]); // in place over a
    const c = g.add('Conv', [b, randomConstant(g, 'w2', [2, 8, 1, 1], 2)]); // 128 B
    const y = g.add('Sigmoid', [c]); // a graph output may take over c's buffer too
    g.setOutputs([y]);
    const plan = planMemory(g, { align: 64 });
    expect(plan.inPlace.get(b)).toBe(a);
    expect(plan.inPlace.get(y)).toBe(c);
    expect(plan.offsets.get(b)).toBe(plan.offsets.get(a));
    // times: x [0,1], a [1,2] merged with b [2,3], c [3,4] merged with y [4,5]
    // live at 1: x + a = 768; at 3: a/b + c = 640; lower bound 768
    expect(plan.lowerBound).toBe(768);
    expect(plan.arenaBytes).toBe(768);
    expect(plan.unplannedBytes).toBe(256 + 512 + 512 + 128 + 128);
    checkPlan(g, plan);
    const noInPlace = planMemory(g, { inPlace: false });
    expect(noInPlace.inPlace.size).toBe(0);
    expect(noInPlace.lowerBound).toBe(256 + 512 + 512 - 256); // at time 2: a and b (x is dead) = 1024
    checkPlan(g, noInPlace);
  });

  it("io: 'separate' leaves graph inputs and outputs out of the arena", () => {
    const g = new Graph('t');
    const x = g.addInput('x', { dtype: 'f32', shape: [16] });
    const a = g.add('Neg', [x]);
    g.setOutputs([g.add('Exp', [a], {}, { outputs: ['y'] })]);
    const plan = planMemory(g, { io: 'separate', align: 16 });
    expect([...plan.offsets.keys()]).toEqual([a]);
    expect(plan.arenaBytes).toBe(64);
  });

  it('a residual block: planned arena within 10% of the liveness bound, no live overlap', () => {
    const g = new Graph('t');
    const x = g.addInput('x', { dtype: 'f32', shape: [1, 8, 8, 8] });
    let v = x;
    for (let i = 0; i < 4; i++) {
      const c1 = g.add('Conv', [v, randomConstant(g, `a${i}`, [8, 8, 3, 3], i)], { pads: [1, 1, 1, 1], activation: 'relu' });
      const c2 = g.add('Conv', [c1, randomConstant(g, `b${i}`, [8, 8, 3, 3], 10 + i), '', v], { pads: [1, 1, 1, 1], activation: 'relu' });
      const side = g.add('Conv', [v, randomConstant(g, `s${i}`, [16, 8, 1, 1], 20 + i)]);
      v = g.add('Add', [c2, g.add('ReduceMean', [side], { axes: [1], keepdims: 1 })]);
    }
    g.setOutputs([v]);
    const plan = planMemory(g);
    expect(plan.arenaBytes).toBeLessThanOrEqual(1.1 * plan.lowerBound);
    expect(plan.arenaBytes).toBeLessThan(plan.unplannedBytes);
    checkPlan(g, plan);
  });
});
