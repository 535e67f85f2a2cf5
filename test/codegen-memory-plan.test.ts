import { describe, expect, it } from 'vitest';
/**
 * The shared memory planner (codegen/memory-plan.ts): graph-level plans (cuda), the interval placer
 * (wasm's own buffers) and typed buffer sharing (wgsl). Model-level figures (arena ≤ 1.1 × the
 * liveness bound) are in test/passes/model-suite.ts.
 */
import { Graph } from '../ir/graph.js';
import { liveBuffers, livenessBound, placeIntervals, planMemory, shareObjects, type Interval } from '../codegen/memory-plan.js';
import { checkPlan, randomConstant } from './passes/helpers.js';

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

  it('views join their input\'s buffer whether or not it dies there; in place off leaves every other value its own', () => {
    const g = new Graph('t');
    const x = g.addInput('x', { dtype: 'f32', shape: [2, 8] });
    const a = g.add('Neg', [x]);
    const r = g.add('Reshape', [a], { shape: [16] });
    const b = g.add('Exp', [a]); // a is still read after the view
    const c = g.add('Abs', [r]);
    g.setOutputs([b, c]);
    const live = liveBuffers(g, { inPlace: false, views: (n) => n.op === 'Reshape' });
    const bufOf = (v: string) => live.buffers.findIndex((bf) => bf.values.includes(v));
    expect(bufOf(r)).toBe(bufOf(a));
    expect(live.viewOf.get(r)).toBe(a);
    expect(new Set([x, a, b, c].map(bufOf)).size).toBe(4);
    expect(live.buffers[bufOf(a)]).toMatchObject({ start: 1, end: 4 }); // until Abs reads the view
  });
});

/** Random intervals (some open-ended like wasm's graph inputs and outputs) of 64-byte multiples. */
function randomIntervals(n: number, seed: number): Interval[] {
  let s = seed;
  const r = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  return Array.from({ length: n }, (_, i) => {
    const start = i === 0 ? -1 : Math.floor(r() * 40);
    const end = i === n - 1 ? Infinity : start + Math.floor(r() * 8);
    return { start, end, bytes: 64 * (1 + Math.floor(r() * 32)), offset: -1 };
  });
}

describe('interval placement (wasm) and typed buffer sharing (wgsl)', () => {
  it.each([1, 2, 3, 4])('placeIntervals: aligned, no two live intervals overlap, within 10%% of the liveness bound (seed %i)', (seed) => {
    const items = randomIntervals(60, seed);
    const size = placeIntervals(items, 64);
    for (const a of items) {
      expect(a.offset % 64).toBe(0);
      expect(a.offset + a.bytes).toBeLessThanOrEqual(size);
    }
    for (let i = 0; i < items.length; i++) {
      for (let j = i + 1; j < items.length; j++) {
        const [a, b] = [items[i], items[j]];
        if (a.end < b.start || b.end < a.start) continue;
        expect(a.offset + a.bytes <= b.offset || b.offset + b.bytes <= a.offset, `${i} and ${j} overlap`).toBe(true);
      }
    }
    expect(size).toBeGreaterThanOrEqual(livenessBound(items));
    expect(size).toBeLessThanOrEqual(1.1 * livenessBound(items));
  });

  it('placeIntervals: hand-computed arena for a chain (two buffers ping-pong)', () => {
    const items: Interval[] = [
      { start: 0, end: 1, bytes: 100, offset: -1 },
      { start: 1, end: 2, bytes: 60, offset: -1 },
      { start: 2, end: 3, bytes: 100, offset: -1 },
    ];
    expect(placeIntervals(items, 64)).toBe(192); // 128 + 64: the third reuses the first's bytes
    expect(items[0].offset).toBe(items[2].offset);
    expect(placeIntervals([], 64)).toBe(0);
  });

  it('shareObjects: items of one kind never live together share an object as large as the largest; kinds never mix', () => {
    const items = [
      { start: 0, end: 1, size: 100, kind: 'f32' },
      { start: 1, end: 2, size: 50, kind: 'f32' },
      { start: 2, end: 3, size: 120, kind: 'f32' }, // can reuse the first (dead at 2)
      { start: 0, end: 3, size: 10, kind: 'i32' },
    ];
    const { object, objects } = shareObjects(items);
    expect(objects.map((o) => o.kind).sort()).toEqual(['f32', 'f32', 'i32']);
    expect(object[0]).toBe(object[2]);
    expect(objects[object[0]].size).toBe(120);
    expect(objects[object[1]].size).toBe(50);
    expect(objects[object[3]]).toEqual({ kind: 'i32', size: 10 });
    items.forEach((it, i) => items.forEach((jt, j) => {
      if (i < j && object[i] === object[j]) expect(it.end < jt.start || jt.end < it.start).toBe(true);
    }));
  });
});
