/**
 * Channel shuffles: canonicalize-shuffle.ts (Reshape → Transpose → Reshape → Gather) and
 * fold-channel-gather.ts (gathers through Split/Slice, into conv weights, past depthwise convs),
 * each against the reference interpreter on the graph before, and guards that leave other chains alone.
 */
import { describe, expect, it } from 'vitest';
import { Graph } from '../../ir/graph.js';
import { toF64 } from '../../runtime/tensor.js';
import { canonicalize } from '../../passes/canonicalize.js';
import { oneAxisGather } from '../../passes/canonicalize-shuffle.js';
import { foldChannelGathers, WIDEN_LIMIT } from '../../passes/fold-channel-gather.js';
import { runPipeline } from '../../passes/pipeline.js';
import { shuffleNetGraph, writeShuffle } from '../shuffle-graph.js';
import { expectSameOutputs, ops, randomConstant } from './helpers.js';

/** x [2, C, 3, 5] → the chain → y. */
function chain(C: number, o: Parameters<typeof writeShuffle>[2] = {}, shape = [2, C, 3, 5]): Graph {
  const g = new Graph('shuffle');
  const x = g.addInput('x', { dtype: 'f32', shape });
  g.setOutputs([writeShuffle(g, x, o)]);
  return g;
}

const indicesOf = (g: Graph) => Array.from(toF64(g.constValue(g.nodes.find((n) => n.op === 'Gather')!.inputs[1])!));
/** ShuffleNet's shuffle: output channel j·g + i is input channel i·(C/g) + j. */
const shuffled = (C: number, groups: number) => Array.from({ length: C }, (_, c) => (c % groups) * (C / groups) + Math.floor(c / groups));

describe('canonicalize: channel shuffle → Gather', () => {
  it.each([[2, '5d'], [3, '5d'], [4, '5d'], [2, '4d'], [3, '4d']] as const)('groups %i, %s spelling: one Gather on axis 1 with the shuffle indices, exact', (groups, spelling) => {
    const C = groups * 4;
    const g = chain(C, { groups, spelling });
    const h = canonicalize(g);
    expect(ops(h)).toEqual({ Gather: 1 });
    expect(h.nodes[0].attrs.axis).toBe(1);
    expect(indicesOf(h)).toEqual(shuffled(C, groups));
    expect(expectSameOutputs(g, h, 0)).toBe(0);
  });

  it('the NHWC spelling (channels last) becomes a Gather on the last axis', () => {
    const g = new Graph('nhwc');
    const x = g.addInput('x', { dtype: 'f32', shape: [1, 3, 5, 6] });
    const r = g.add('Reshape', [x], { shape: [1, 3, 5, 3, 2] });
    const t = g.add('Transpose', [r], { perm: [0, 1, 2, 4, 3] });
    g.setOutputs([g.add('Reshape', [t], { shape: [1, 3, 5, 6] })]);
    const h = canonicalize(g);
    expect(ops(h)).toEqual({ Gather: 1 });
    expect(h.nodes[0].attrs.axis).toBe(3);
    expect(indicesOf(h)).toEqual(shuffled(6, 3));
    expect(expectSameOutputs(g, h, 0)).toBe(0);
  });

  it('a chain that is not a one-axis permutation stays: H and W swapped (H = W), or a reshape to another shape', () => {
    const swap = chain(4, { perm: [0, 1, 2, 4, 3] }, [1, 4, 3, 3]);
    expect(ops(canonicalize(swap))).toEqual({ Reshape: 2, Transpose: 1 });
    const g = new Graph('other');
    const x = g.addInput('x', { dtype: 'f32', shape: [1, 4, 3, 3] });
    const t = g.add('Transpose', [g.add('Reshape', [x], { shape: [1, 2, 2, 3, 3] })], { perm: [0, 2, 1, 3, 4] });
    g.setOutputs([g.add('Reshape', [t], { shape: [1, 4, 9] })]);
    expect(ops(canonicalize(g))).toEqual({ Reshape: 2, Transpose: 1 });
  });

  it('a chain whose transposed value has another reader stays', () => {
    const g = new Graph('shared');
    const x = g.addInput('x', { dtype: 'f32', shape: [1, 4, 3, 3] });
    const t = g.add('Transpose', [g.add('Reshape', [x], { shape: [1, 2, 2, 3, 3] })], { perm: [0, 2, 1, 3, 4] });
    g.setOutputs([g.add('Reshape', [t], { shape: [1, 4, 3, 3] }), g.add('Relu', [t])]);
    expect(ops(canonicalize(g))).toEqual({ Reshape: 2, Transpose: 1, Relu: 1 });
  });

  it('oneAxisGather: the identity and a two-axis map are no gathers', () => {
    expect(oneAxisGather([0, 1, 2, 3], [2, 2])).toBeUndefined();
    expect(oneAxisGather([0, 2, 1, 3], [2, 2])).toBeUndefined();
    expect(oneAxisGather([2, 3, 0, 1], [2, 2])).toEqual({ axis: 0, indices: [1, 0] });
  });
});

/** x [1, 8, 4, 4] → shuffle (Gather after canonicalize) → `tail`. */
function shuffledInto(tail: (g: Graph, y: string) => string[]): Graph {
  const g = new Graph('fold');
  const x = g.addInput('x', { dtype: 'f32', shape: [1, 8, 4, 4] });
  g.setOutputs(tail(g, writeShuffle(g, x)));
  return canonicalize(g);
}
let seed = 1;
const constant = (g: Graph, shape: number[]) => randomConstant(g, 'w', shape, seed++);
/** A 1×1 group-1 Conv with bias. */
const conv = (g: Graph, v: string, cout: number) => g.add('Conv', [v, constant(g, [cout, g.type(v).shape[1], 1, 1]), constant(g, [cout])]);

describe('fold-channel-gather', () => {
  it('a group-1 Conv reading the shuffle reads its input, weights re-ordered', () => {
    const g = shuffledInto((h, y) => [conv(h, y, 5)]);
    const h = foldChannelGathers(g);
    expect(ops(h)).toEqual({ Conv: 1 });
    expect(h.nodes[0].inputs[0]).toBe('x');
    expectSameOutputs(g, h, 1e-6);
  });

  it('Split and Slices of the shuffle become Gathers of the selected channels; a half read by a Conv folds into it (zero weight columns)', () => {
    const g = shuffledInto((h, y) => {
      const [a, b] = h.addNode('Split', [y], { axis: 1, split: [3, 5] });
      const s = h.add('Slice', [y], { starts: [7], ends: [0], axes: [1], steps: [-2] });
      return [a, conv(h, b, 2), s];
    });
    const h = foldChannelGathers(g);
    expect(ops(h)).toEqual({ Gather: 2, Conv: 1 });
    expect(h.nodes.find((n) => n.op === 'Conv')!.inputs[0]).toBe('x');
    expectSameOutputs(g, h, 1e-6);
  });

  it(`a gather of fewer than 1/${WIDEN_LIMIT} of the channels stays a Gather before the Conv`, () => {
    const g = shuffledInto((h, y) => [conv(h, h.add('Slice', [y], { starts: [0], ends: [3], axes: [1] }), 2)]);
    const h = foldChannelGathers(g);
    expect(ops(h)).toEqual({ Gather: 1, Conv: 1 });
    expectSameOutputs(g, h, 1e-6);
  });

  it('a Slice that also cuts another axis stays a Slice', () => {
    const g = shuffledInto((h, y) => [h.add('Slice', [y], { starts: [0, 1], ends: [4, 3], axes: [1, 2] })]);
    expect(ops(foldChannelGathers(g))).toEqual({ Gather: 1, Slice: 1 });
  });

  it('a depthwise Conv read only by 1×1 Convs: the permutation moves past it and folds into them', () => {
    const g = shuffledInto((h, y) => {
      const d = h.add('Conv', [y, constant(h, [8, 1, 3, 3]), constant(h, [8])], { group: 8, pads: [1, 1, 1, 1] });
      return [conv(h, d, 3), conv(h, d, 2)];
    });
    const h = foldChannelGathers(g);
    expect(ops(h)).toEqual({ Conv: 3 });
    expectSameOutputs(g, h, 1e-6);
  });

  it('a depthwise Conv with another reader keeps the Gather before it', () => {
    const g = shuffledInto((h, y) => {
      const d = h.add('Conv', [y, constant(h, [8, 1, 3, 3])], { group: 8, pads: [1, 1, 1, 1] });
      return [conv(h, d, 3), h.add('Relu', [d])];
    });
    const h = foldChannelGathers(g);
    expect(ops(h)).toEqual({ Gather: 1, Conv: 2, Relu: 1 });
    expectSameOutputs(g, h, 1e-6);
  });
});

describe('the ShuffleNetV2-style graph through the -O3 pipelines', () => {
  const g = shuffleNetGraph(7);
  it.each(['wasm', 'wgsl', 'cuda'])('%s layout: no Reshape, Transpose (but the layout boundary), Split or Slice is left; two Gathers (the pass-through halves)', (target) => {
    const h = runPipeline(g, target, { verify: true, layout: target === 'wasm' ? 'NHWC' : 'NCHW' }).graph;
    const o = ops(h);
    expect([o.Reshape, o.Split, o.Slice]).toEqual([undefined, undefined, undefined]);
    expect(o.Transpose ?? 0).toBe(target === 'wasm' ? 2 : 0);
    expect(o.Gather).toBe(2);
    expectSameOutputs(g, h, 1e-6);
  });
});
