import { describe, expect, it } from 'vitest';
import { getTarget } from '../../codegen/targets.js';
import type { Graph } from '../../ir/graph.js';
import { exportOnnx } from '../../frontends/onnx/export.js';
import { importOnnx } from '../../frontends/onnx/import.js';
import { foldTransposedLayerNorm } from '../../passes/fold-transposed-layernorm.js';
import { runPipeline, type PassContext } from '../../passes/pipeline.js';
import { channelLnGraph } from '../channel-ln-graph.js';
import { expectSameOutputs, ops } from './helpers.js';

const ctx: PassContext = { target: 'wgsl', options: {}, verify: true };
const fold = (g: Graph, c: PassContext = ctx) => foldTransposedLayerNorm(g, c);

describe('fold-transposed-layernorm', () => {
  it('Transpose → LN over the last axis (γ, β) → inverse Transpose becomes one ChannelLayerNorm over axis 1 (batch 2, C = 5)', () => {
    const g = channelLnGraph();
    const h = fold(g);
    expect(ops(h)).toEqual({ Neg: 1, ChannelLayerNorm: 1, Relu: 1 });
    const cln = h.nodes.find((n) => n.op === 'ChannelLayerNorm')!;
    expect(cln.attrs.axis).toBe(1);
    expect(cln.inputs.map((v) => h.type(v).shape)).toEqual([[2, 5, 3, 4], [5], [5]]);
    expectSameOutputs(g, h, 1e-12);
  });

  it('a one-element γ and no β: γ expanded to C values', () => {
    const g = channelLnGraph({ scale: [1], bias: false, shape: [1, 7, 2, 3] });
    const h = fold(g);
    const cln = h.nodes.find((n) => n.op === 'ChannelLayerNorm')!;
    expect(cln.inputs.map((v) => h.type(v).shape)).toEqual([[1, 7, 2, 3], [7]]);
    expectSameOutputs(g, h, 1e-12);
  });

  it('transposes that are not inverse (others merged into them): ChannelLayerNorm, then one Transpose of the composed perm', () => {
    const g = channelLnGraph({ back: [0, 3, 2, 1] });
    const h = fold(g);
    expect(ops(h)).toEqual({ Neg: 1, ChannelLayerNorm: 1, Transpose: 1, Relu: 1 });
    expect(h.nodes.find((n) => n.op === 'Transpose')!.attrs.perm).toEqual([0, 1, 3, 2]);
    expectSameOutputs(g, h, 1e-12);
  });

  it('exports to ONNX as Transpose → LayerNormalization → Transpose (here then the composed Transpose), with the same values', () => {
    const h = fold(channelLnGraph({ back: [0, 3, 2, 1] }));
    expect(ops(h).ChannelLayerNorm).toBe(1);
    const back = importOnnx(exportOnnx(h));
    expect(ops(back)).toMatchObject({ Transpose: 3, LayerNormalization: 1 });
    expectSameOutputs(h, back, 1e-6);
  });

  it('leaves the chain when the LN is not over the last axis alone, a value has another reader, or the target refuses the op', () => {
    const twoAxes = channelLnGraph();
    // over the last two axes (γ and β of C broadcast onto them)
    twoAxes.nodes.find((n) => n.op === 'LayerNormalization')!.attrs.axis = -2;
    expect(ops(fold(twoAxes)).ChannelLayerNorm).toBeUndefined();

    const shared = channelLnGraph();
    const t = shared.nodes.find((n) => n.op === 'Transpose')!.outputs[0];
    shared.setOutputs([...shared.outputs, shared.add('Abs', [t])]);
    expect(ops(fold(shared)).ChannelLayerNorm).toBeUndefined();

    const refused = fold(channelLnGraph(), { ...ctx, supports: (n) => (n.op === 'ChannelLayerNorm' ? 'no kernel' : undefined) });
    expect(ops(refused)).toEqual({ Neg: 1, Transpose: 2, LayerNormalization: 1, Relu: 1 });
    expect([...refused.values.keys()].some((v) => v.includes('channels'))).toBe(false);
  });

  it('in the pipelines: folded on wgsl and cuda; on wasm (no kernel: its NHWC layout cancels the transposes instead) not', async () => {
    const g = channelLnGraph();
    for (const name of ['wgsl', 'cuda', 'wasm'] as const) {
      const target = await getTarget(name);
      const h = runPipeline(g, target, { verify: true }).graph;
      expect(ops(h).ChannelLayerNorm ?? 0, name).toBe(name === 'wasm' ? 0 : 1);
      // wasm keeps a Transpose at the input and the output (its NHWC layout at the graph's boundary)
      expect(ops(h).Transpose ?? 0, name).toBe(name === 'wasm' ? 2 : 0);
      // NCHW wasm: the target refuses the op, the chain stays
      if (name === 'wasm') expect(ops(runPipeline(g, target, { layout: 'NCHW' }).graph)).toEqual({ Neg: 1, Transpose: 2, LayerNormalization: 1, Relu: 1 });
      expectSameOutputs(g, h, 1e-12);
    }
  });
});
