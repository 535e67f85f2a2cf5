/**
 * ChannelLayerNorm (passes/fold-transposed-layernorm.ts) on wgsl and cuda against the reference
 * interpreter run on the graph before the passes: torchvision's LayerNorm2d chain (Transpose, LN
 * over the last axis with γ and β, Transpose back) at batch 2 and an odd channel count, and its two
 * opset-13 spellings (test/decomposed.ts: the chain written out, and the channels-first LN over
 * axis 1 with γ/β [C,1,1]), which the canonicalize pass turns back into the chain first; plus a
 * chain without β and a one-element γ. wgsl on small shapes (Dawn on llvmpipe is slow); cuda runs
 * the standalone program on the CPU emulator (g++), skipped where it is unavailable.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compile } from '../index.js';
import { buildEmulatedProgram, emulationAvailable } from '../codegen/cuda/emu.js';
import { lowerCuda } from '../codegen/cuda/lower.js';
import { getTarget } from '../codegen/targets.js';
import { Graph } from '../ir/graph.js';
import { interpret } from '../ir/interpreter.js';
import { importOnnx } from '../frontends/onnx/import.js';
import { runPipeline } from '../passes/pipeline.js';
import type { Tensor } from '../runtime/tensor.js';
import { channelLnGraph } from './channel-ln-graph.js';
import { opset13Bytes } from './decomposed.js';
import { compareAll, randomTensor, rng, runStandalone } from './gpu/common.js';
import { ops } from './passes/helpers.js';

const CASES: [string, () => Graph][] = [
  ['LayerNormalization chain, batch 2, C = 5', () => channelLnGraph()],
  ['opset-13 export of the chain', () => importOnnx(opset13Bytes(channelLnGraph(), false))],
  ['opset-13 export, channels-first LN over axis 1', () => importOnnx(opset13Bytes(channelLnGraph(), true))],
  ['no β, one-element γ, C = 3', () => channelLnGraph({ shape: [2, 3, 5, 2], scale: [1], bias: false, seed: 4 })],
];

const inputsOf = (g: Graph, seed: number): Record<string, Tensor> => ({ [g.inputs[0]]: randomTensor('f32', g.type(g.inputs[0]).shape, rng(seed), 3) });

describe('ChannelLayerNorm on wgsl', () => {
  it.each(CASES.map(([label, make], i) => [label, make, i] as const))('%s: one kernel, no transposes, matches the reference of the unfused graph', async (_, make, i) => {
    const g = make(), inputs = inputsOf(g, i);
    const c = await compile(g, 'wgsl');
    expect(ops(c.graph).ChannelLayerNorm).toBe(1);
    expect(ops(c.graph).Transpose).toBeUndefined();
    expect(compareAll(await c.run(inputs), interpret(g, inputs), 1e-4).bad).toEqual([]);
    const unfolded = await compile(g, 'wgsl', { disable: ['fold-transposed-layernorm'] });
    expect(c.stats.kernels).toBe(unfolded.stats.kernels - 2);
  }, 300_000);
});

const emu = emulationAvailable();
describe.skipIf(!emu)(`ChannelLayerNorm on cuda (CPU emulator)${emu ? '' : ' SKIPPED: g++ or CUDA headers not found'}`, () => {
  const work = mkdtempSync(join(tmpdir(), 'cnnc-cln-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  it('every case in one program, f32, matches the reference of the unfused graph', async () => {
    // the cases side by side in one graph: one g++ build
    const parts = CASES.map(([, make]) => make());
    const g = new Graph('cln_all');
    const inputs: Record<string, Tensor> = {};
    parts.forEach((p, i) => {
      const rename = (v: string) => `${v}_${i}`;
      const x = g.addInput(rename(p.inputs[0]), p.type(p.inputs[0]));
      inputs[x] = inputsOf(p, i)[p.inputs[0]];
      for (const [name, v] of p.values) if (v.const) g.addConstant(rename(name), v.const);
      for (const n of p.nodes) g.addNode(n.op, n.inputs.map((v) => (v ? rename(v) : v)), n.attrs, { name: rename(n.name), outputs: n.outputs.map(rename) });
    });
    g.setOutputs(parts.map((p, i) => `${p.outputs[0]}_${i}`));
    const h = runPipeline(g, await getTarget('cuda'), {}).graph;
    expect(ops(h).ChannelLayerNorm).toBe(CASES.length);
    expect(ops(h).Transpose).toBeUndefined();
    const mod = lowerCuda(h);
    const bin = buildEmulatedProgram(mod, join(work, 'cln'));
    const got = runStandalone(bin, join(work, 'cln'), mod.plan, inputs).outputs;
    expect(compareAll(got, interpret(g, inputs), 1e-4).bad).toEqual([]);
  }, 600_000);
});
