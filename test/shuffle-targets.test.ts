/**
 * Channel shuffles (canonicalize-shuffle.ts + fold-channel-gather.ts) and Gemm-spelled
 * squeeze-excitation (canonicalize-vector-mlp.ts) on every target, against the reference interpreter
 * run on the graph before the passes: a ShuffleNetV2-style graph (stride-2 and stride-1 units, chunk
 * as Split and as Slices, batch 2) with its kernel counts before/after, and the SE blocks of
 * se-graph.ts with their gate written as Gemm and as MatMul + Add. wasm and wgsl compile in process
 * (Dawn on llvmpipe is slow: small shapes, few cases); cuda runs the standalone program on the CPU
 * emulator (g++), skipped where it is unavailable.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compile, type TargetName } from '../index.js';
import { buildEmulatedProgram, emulationAvailable } from '../codegen/cuda/emu.js';
import { lowerCuda } from '../codegen/cuda/lower.js';
import { Graph } from '../ir/graph.js';
import { interpret } from '../ir/interpreter.js';
import { runPipeline } from '../passes/pipeline.js';
import type { Tensor } from '../runtime/tensor.js';
import { compareAll, randomTensor, rng, runStandalone } from './gpu/common.js';
import { SE_CASES, seGemmGraph, seGraph } from './se-graph.js';
import { shuffleNetGraph } from './shuffle-graph.js';

const inputsOf = (g: Graph, seed: number): Record<string, Tensor> =>
  Object.fromEntries(g.inputs.map((x) => [x, randomTensor('f32', g.type(x).shape, rng(seed + 100), 2)]));
const count = (g: Graph, op: string) => g.nodes.filter((n) => n.op === op).length;
/** Without the shuffle rewrites: the Reshape → Transpose → Reshape chains as main compiled them. */
const UNFOLDED = { disable: ['canonicalize', 'fold-channel-gather'] };

for (const target of ['wasm', 'wgsl'] as TargetName[]) {
  describe(`channel shuffle and Gemm-spelled SE on ${target}`, () => {
    it('the ShuffleNetV2-style graph matches the reference, with fewer kernels and no transpose kernel inside', async () => {
      const g = shuffleNetGraph(11, { batch: 2 }), inputs = inputsOf(g, 1);
      const c = await compile(g, target);
      expect(compareAll(await c.run(inputs), interpret(g, inputs), 1e-4).bad).toEqual([]);
      const before = await compile(g, target, UNFOLDED);
      // three shuffles were a transpose kernel each, plus the Split and Slices; two gathers stay
      expect(count(c.graph, 'Gather')).toBe(2);
      expect(count(c.graph, 'Transpose')).toBe(target === 'wasm' ? 2 : 0);
      expect(c.stats.kernels).toBeLessThanOrEqual(before.stats.kernels - 6);
      console.log(`${target}: ShuffleNetV2-style graph ${before.stats.kernels} → ${c.stats.kernels} kernels`);
    }, 300_000);

    const cases = target === 'wasm' ? SE_CASES.flatMap((k) => [[k, false], [k, true]] as const) : [[SE_CASES[0], false], [SE_CASES[1], true]] as const;
    it.each(cases.map(([k, mm], i) => [k.label, mm ? 'MatMul + Add' : 'Gemm', k, mm, i] as const))('SE %s, gate as %s: one SqueezeExcitationGate, as many kernels as the conv spelling, matches the reference', async (_, __, k, matmul, i) => {
      const g = seGemmGraph(k, 50 + i, matmul), inputs = inputsOf(g, i);
      const c = await compile(g, target);
      expect(count(c.graph, 'SqueezeExcitationGate')).toBe(1);
      expect(compareAll(await c.run(inputs), interpret(g, inputs), 1e-4).bad).toEqual([]);
      expect(c.stats.kernels).toBe((await compile(seGraph(k, 50 + i), target)).stats.kernels);
    }, 300_000);
  });
}

const emu = emulationAvailable();
describe.skipIf(!emu)(`channel shuffle and Gemm-spelled SE on cuda (CPU emulator)${emu ? '' : ' SKIPPED: g++ or CUDA headers not found'}`, () => {
  const work = mkdtempSync(join(tmpdir(), 'cnnc-shuffle-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  it('the ShuffleNetV2-style graph and a Gemm and a MatMul SE block in one program match the reference', () => {
    // side by side in one program: one g++ build
    const parts = [shuffleNetGraph(12, { batch: 2 }), seGemmGraph(SE_CASES[0], 60), seGemmGraph(SE_CASES[1], 61, true)];
    const g = new Graph('shuffle_all');
    const inputs: Record<string, Tensor> = {};
    parts.forEach((p, i) => {
      const x = g.addInput(`x${i}`, p.type('x'));
      inputs[x] = inputsOf(p, i).x;
      const rename = (v: string) => (v === 'x' ? x : `${v}_${i}`);
      for (const [name, v] of p.values) if (v.const) g.addConstant(rename(name), v.const);
      for (const n of p.nodes) g.addNode(n.op, n.inputs.map(rename), n.attrs, { name: `${n.name}_${i}`, outputs: n.outputs.map(rename) });
    });
    g.setOutputs(parts.map((p, i) => `${p.outputs[0]}_${i}`));
    const h = runPipeline(g, 'cuda', {}).graph;
    expect([count(h, 'Gather'), count(h, 'Transpose'), count(h, 'SqueezeExcitationGate')]).toEqual([2, 0, 2]);
    const mod = lowerCuda(h);
    const bin = buildEmulatedProgram(mod, join(work, 'all'));
    const got = runStandalone(bin, join(work, 'all'), mod.plan, inputs).outputs;
    expect(compareAll(got, interpret(g, inputs), 1e-4).bad).toEqual([]);
  }, 600_000);
});
