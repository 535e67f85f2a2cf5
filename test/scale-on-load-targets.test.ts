/**
 * Scale on load (passes/fuse-scale-on-load.ts: the SE block's closing Mul becomes Conv input 4) on
 * every target against the reference interpreter run on the graph before the passes: MBConv-like
 * blocks with batch 2 and odd channels (a 1×1 projection with a residual epilogue, a padded 3×3
 * consumer, two convs reading the scaled map), one kernel fewer than with the pass disabled. wasm
 * refuses the scaled conv (codegen/wasm/lower-conv.ts says why) and keeps the Mul. cuda runs the standalone program on the CPU emulator (g++), skipped
 * where it is unavailable.
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
import { supports as wasmSupports } from '../codegen/wasm/supports.js';
import type { Tensor } from '../runtime/tensor.js';
import { compareAll, randomTensor, rng, runStandalone } from './gpu/common.js';
import { SCALE_CASES as CASES, scaleGraph } from './se-graph.js';

const inputsOf = (g: Graph, seed: number): Record<string, Tensor> => ({ x: randomTensor('f32', g.type('x').shape, rng(seed + 100), 2) });
const scaled = (g: Graph) => g.nodes.filter((n) => n.op === 'Conv' && (n.inputs[4] ?? '') !== '').length;
const muls = (g: Graph) => g.nodes.filter((n) => n.op === 'Mul').length;

for (const target of ['wgsl'] as TargetName[]) {
  describe(`scale on load on ${target}`, () => {
    it.each(CASES.map((k, i) => [k.label, k, i] as const))('%s: matches the reference of the unfused graph, one kernel fewer', async (_, k, i) => {
      const g = scaleGraph(k, 60 + i), inputs = inputsOf(g, i);
      const c = await compile(g, target);
      expect(scaled(c.graph)).toBe(k.readers);
      expect(muls(c.graph)).toBe(0);
      expect(compareAll(await c.run(inputs), interpret(g, inputs), 1e-4).bad).toEqual([]);
      const unfused = await compile(g, target, { disable: ['fuse-scale-on-load'] });
      expect(scaled(unfused.graph)).toBe(0);
      expect(c.stats.kernels).toBe(unfused.stats.kernels - 1);
    }, 300_000);
  });
}

describe('scale on load on wasm: refused (the separate Mul is cheaper there), the Mul stays', () => {
  it.each(CASES.map((k, i) => [k.label, k, i] as const))('%s: supports() names the reason, the compiled block keeps its Mul and matches the reference', async (_, k, i) => {
    const g = scaleGraph(k, 70 + i), inputs = inputsOf(g, i);
    const c = await compile(g, 'wasm');
    expect(scaled(c.graph)).toBe(0);
    expect(c.graph.nodes.filter((n) => n.op === 'Mul' || n.op === 'FusedElementwise')).toHaveLength(1);
    // the pipeline without a target (no supports) scales on load; the wasm target says why it will not lower that conv
    const h = runPipeline(g, 'wasm', {}).graph;
    const conv = h.nodes.find((n) => n.op === 'Conv' && n.inputs[4])!;
    expect(wasmSupports(conv, h)).toMatch(/does not scale conv inputs on load/);
    expect(compareAll(await c.run(inputs), interpret(g, inputs), 1e-4).bad).toEqual([]);
  }, 300_000);
});

const emu = emulationAvailable();
describe.skipIf(!emu)(`scale on load on cuda (CPU emulator)${emu ? '' : ' SKIPPED: g++ or CUDA headers not found'}`, () => {
  const work = mkdtempSync(join(tmpdir(), 'cnnc-scale-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  it('every case in one graph, f32 and f16, matches the reference of the unfused graph', () => {
    // the blocks side by side in one program: one g++ build
    const parts = CASES.map((k, i) => scaleGraph(k, 60 + i));
    const g = new Graph('scale_all');
    const inputs: Record<string, Tensor> = {};
    parts.forEach((p, i) => {
      const x = g.addInput(`x${i}`, p.type('x'));
      inputs[x] = inputsOf(p, i).x;
      const rename = (v: string) => (v === 'x' ? x : `${v}_${i}`);
      for (const [name, v] of p.values) if (v.const) g.addConstant(rename(name), v.const);
      for (const n of p.nodes) g.addNode(n.op, n.inputs.map(rename), n.attrs, { name: `${n.name}_${i}`, outputs: n.outputs.map(rename) });
    });
    g.setOutputs(parts.flatMap((p, i) => p.outputs.map((o) => `${o}_${i}`)));
    const ref = interpret(g, inputs);
    for (const fp16 of [false, true]) {
      const h = runPipeline(g, 'cuda', { fp16 }).graph;
      expect(scaled(h)).toBe(CASES.reduce((s, k) => s + k.readers, 0));
      const mod = lowerCuda(h);
      const bin = buildEmulatedProgram(mod, join(work, `scale${fp16}`));
      const got = runStandalone(bin, join(work, `scale${fp16}`), mod.plan, inputs).outputs;
      expect(compareAll(got, ref, fp16 ? 1e-2 : 1e-4).bad, fp16 ? 'f16' : 'f32').toEqual([]);
    }
  }, 600_000);
});
