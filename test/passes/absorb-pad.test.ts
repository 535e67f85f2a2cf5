import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Graph } from '../../ir/graph.js';
import type { Attrs } from '../../ir/op.js';
import { absorbPads } from '../../passes/absorb-pad.js';
import { runPipeline } from '../../passes/pipeline.js';
import { expectSameOutputs, ops, randomConstant, randomInputs } from './helpers.js';

/** x [1, 3, 6, 7] → Pad(pads, value, mode) → op (Conv with 3×3 weights, or a pool). */
function padded(pads: number[], op: string, attrs: Attrs = {}, pad: Attrs = {}): Graph {
  const g = new Graph('pad');
  const x = g.addInput('x', { dtype: 'f32', shape: [1, 3, 6, 7] });
  const p = g.add('Pad', [x], { pads, ...pad });
  const w = op === 'Conv' ? [randomConstant(g, 'w', [4, 3, 3, 3], 2)] : [];
  g.setOutputs([g.add(op, [p, ...w], op === 'Conv' ? attrs : { kernel_shape: [3, 3], ...attrs }, { outputs: ['y'] })]);
  return g;
}

const spatial = (hb: number, wb: number, he: number, we: number) => [0, 0, hb, wb, 0, 0, he, we];

describe('absorb-pad', () => {
  it('a zero Pad before a Conv adds to its pads (asymmetric, on top of its own)', () => {
    const g = padded(spatial(0, 1, 2, 0), 'Conv', { pads: [1, 1, 1, 1], strides: [2, 1] });
    const h = absorbPads(g);
    expect(ops(h)).toEqual({ Conv: 1 });
    expect(h.nodes[0].inputs[0]).toBe('x');
    expect(h.nodes[0].attrs.pads).toEqual([1, 2, 3, 1]);
    expectSameOutputs(g, h, 1e-6);
  });

  it('a zero Pad before AveragePool(count_include_pad=1) becomes its pads', () => {
    const g = padded(spatial(1, 1, 1, 2), 'AveragePool', { count_include_pad: 1, strides: [2, 2] });
    const h = absorbPads(g);
    expect(ops(h)).toEqual({ AveragePool: 1 });
    expect(h.nodes[0].attrs.pads).toEqual([1, 1, 1, 2]);
    expectSameOutputs(g, h, 1e-6);
  });

  it('a −∞ Pad before MaxPool becomes its pads', () => {
    const g = padded(spatial(1, 0, 1, 1), 'MaxPool', {}, { value: -Infinity });
    const h = absorbPads(g);
    expect(ops(h)).toEqual({ MaxPool: 1 });
    expect(h.nodes[0].attrs.pads).toEqual([1, 0, 1, 1]);
    expectSameOutputs(g, h, 1e-6);
  });

  it.each([
    ['AveragePool without count_include_pad (padding not counted)', padded(spatial(1, 1, 1, 1), 'AveragePool')],
    ['MaxPool after a zero Pad (0 can beat negative inputs)', padded(spatial(1, 1, 1, 1), 'MaxPool')],
    ['Conv after a Pad of 1', padded(spatial(1, 1, 1, 1), 'Conv', {}, { value: 1 })],
    ['a Pad over the channel axis', padded([0, 1, 1, 1, 0, 0, 1, 1], 'MaxPool', {}, { value: -Infinity })],
    ['a reflect Pad', padded(spatial(1, 1, 1, 1), 'Conv', {}, { mode: 'reflect' })],
    ['a cropping (negative) Pad', padded(spatial(-1, 1, 1, 1), 'Conv')],
    ['a pool pad as wide as its window', padded(spatial(3, 0, 0, 0), 'MaxPool', {}, { value: -Infinity })],
    ['a Conv with auto_pad', padded(spatial(1, 1, 1, 1), 'Conv', { auto_pad: 'SAME_UPPER' })],
  ])('keeps %s', (_l, g) => {
    expect(ops(absorbPads(g))).toEqual(ops(g));
  });

  it('keeps a Pad that has another reader', () => {
    const g = padded(spatial(1, 1, 1, 1), 'Conv');
    g.setOutputs([...g.outputs, g.nodes[0].outputs[0]]);
    expect(ops(absorbPads(g))).toEqual(ops(g));
  });

  it('runs in the -O3 pipelines: no Pad left, outputs kept (wasm NHWC and wgsl NCHW)', () => {
    const g = padded(spatial(1, 1, 1, 1), 'Conv');
    for (const [target, layout] of [['wasm', 'NHWC'], ['wgsl', 'NCHW']] as const) {
      const h = runPipeline(g, target, { opt: 'O3', layout, verify: true }).graph;
      expect(ops(h).Pad).toBeUndefined();
      expectSameOutputs(g, h, 1e-6);
    }
  });

  it('random pads, windows and strides match the reference (fast-check)', () => {
    const arb = fc.record({
      pads: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 4, maxLength: 4 }),
      op: fc.constantFrom('Conv', 'AveragePool', 'MaxPool'),
      stride: fc.integer({ min: 1, max: 2 }),
      own: fc.integer({ min: 0, max: 1 }),
    });
    fc.assert(fc.property(arb, (c) => {
      const [hb, wb, he, we] = c.pads;
      const attrs: Attrs = { strides: [c.stride, c.stride], pads: [c.own, c.own, c.own, c.own] };
      if (c.op === 'AveragePool') attrs.count_include_pad = 1;
      const g = padded(spatial(hb, wb, he, we), c.op, attrs, { value: c.op === 'MaxPool' ? -Infinity : 0 });
      const h = absorbPads(g);
      const fits = c.op === 'Conv' || c.pads.every((v) => v + c.own < 3); // pool pads stay below the 3×3 window
      expect(ops(h)).toEqual(fits ? { [c.op]: 1 } : { Pad: 1, [c.op]: 1 });
      if (!fits) return; // unchanged (and some windows there see −∞ only)
      const inputs = randomInputs(g, c.pads.reduce((a, b) => 3 * a + b, 1));
      expectSameOutputs(g, h, 1e-6, inputs);
    }), { numRuns: 60, seed: 15 });
  });
});
