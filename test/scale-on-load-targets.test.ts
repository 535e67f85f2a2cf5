/**
 * Scale on load (passes/fuse-scale-on-load.ts: the SE block's closing Mul becomes Conv input 4) on
 * every target against the reference interpreter run on the graph before the passes: MBConv-like
 * blocks with batch 2 and odd channels (a 1×1 projection with a residual epilogue, a padded 3×3
 * consumer, two convs reading the scaled map), one kernel fewer than with the pass disabled. wasm
 * scales a copy of the conv's weights per image instead (its Mul kernel becomes a weight-scaling step
 * over fewer values, the map is read once), or keeps the Mul where the weights outnumber the map;
 * special values (NaN, ±Inf, huge, denormal, gates of exactly 0 and 1) and threads there too. cuda
 * runs the standalone program on the CPU emulator (g++), skipped where it is unavailable.
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
import { decodeArtifact } from '../runtime/artifact.js';
import type { Tensor } from '../runtime/tensor.js';
import { WasmSession } from '../runtime/wasm/index.js';
import { compareAll, randomTensor, rng, runStandalone, specialMismatch } from './gpu/common.js';
import { SCALE_CASES as CASES, scaleGraph, type ScaleCase } from './se-graph.js';

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

/** The wasm cases: a 3×3 consumer whose weights outnumber its 6×5 map keeps the Mul (said why); on a 12×10 map it scales. */
const WASM_CASES: ScaleCase[] = [...CASES, { label: '3×3 padded consumer on a 12×10 map, C 5, expanded 9', C: 5, E: 9, kernel: 3, residual: false, readers: 1, H: 12, W: 10 }];

describe('scale on load on wasm: each image\'s conv weights scaled by the gate (codegen/wasm/scale-weights.ts)', () => {
  it.each(WASM_CASES.map((k, i) => [k.label, k, i] as const))('%s: matches the reference of the unfused graph', async (_, k, i) => {
    const g = scaleGraph(k, 70 + i), inputs = inputsOf(g, i);
    const c = await compile(g, 'wasm');
    // the pipeline without a target (no supports) always scales on load; wasm takes it unless the weights outnumber the map
    const h = runPipeline(g, 'wasm', {}).graph;
    const why = h.nodes.filter((n) => n.op === 'Conv' && n.inputs[4]).map((n) => wasmSupports(n, h));
    const takes = (k.H ?? 6) * (k.W ?? 5) >= k.C * k.kernel * k.kernel;
    expect(why.every((w) => (takes ? w === undefined : /costs more than the 270-value map/.test(w ?? ''))), String(why)).toBe(true);
    expect(scaled(c.graph)).toBe(takes ? k.readers : 0);
    expect(muls(c.graph) + c.graph.nodes.filter((n) => n.op === 'FusedElementwise').length).toBe(takes ? 0 : 1);
    const steps = (decodeArtifact(c.save()).header.plan as { steps: { fn: string; op: string }[] }).steps;
    expect(steps.filter((st) => st.op.includes('scale weights on load'))).toHaveLength(takes ? k.readers : 0);
    expect(compareAll(await c.run(inputs), interpret(g, inputs), 1e-4).bad).toEqual([]);
  }, 300_000);

  /** x (2, C, H, W) and gate logits z (2, C, 1, 1) → Conv(x · Sigmoid(z)) with `group` groups, bias and ReLU. */
  function gatedConv(C: number, M: number, kernel: number, group: number, seed: number): Graph {
    const r = rng(seed), g = new Graph(`gated_${seed}`);
    const x = g.addInput('x', { dtype: 'f32', shape: [2, C, 12, 12] });
    const [s] = g.addNode('Sigmoid', [g.addInput('z', { dtype: 'f32', shape: [2, C, 1, 1] })]);
    const w = g.addConstant('w', randomTensor('f32', [M, C / group, kernel, kernel], r, 0.5));
    const b = g.addConstant('b', randomTensor('f32', [M], r, 0.5));
    const pad = (kernel - 1) / 2;
    g.setOutputs(g.addNode('Conv', [g.add('Mul', [x, s]), w, b], { group, pads: [pad, pad, pad, pad], activation: 'relu' }));
    return g;
  }

  it.each([[1, 1], [3, 1], [1, 2], [3, 3]])('%i×%i-kernel groups: special values in the map and the gate land where the reference puts them, alike on 1, 2 and 3 threads', async (kernel, group) => {
    const g = gatedConv(6, 12, kernel, group, 90 + kernel + group);
    const x = randomTensor('f32', [2, 6, 12, 12], rng(7), 2), z = randomTensor('f32', [2, 6, 1, 1], rng(8), 3);
    const xd = x.data as Float32Array, zd = z.data as Float32Array;
    [NaN, Infinity, -Infinity, 3e38, -3e38, -0, 1e-40].forEach((v, i) => { xd[(i * 97 + 11) % xd.length] = v; });
    xd[5] = Infinity; // image 0, channel 0, where the gate is 0: Inf · 0 = NaN
    [zd[0], zd[1], zd[6 + 2], zd[6 + 3], zd[6 + 4]] = [-Infinity, Infinity, NaN, -100, 100]; // gates 0, 1, NaN, 3.7e-44 (denormal), 1
    const feeds = { x, z }, want = interpret(g, feeds);
    const c = await compile(g, 'wasm');
    expect(scaled(c.graph)).toBe(1);
    const a = decodeArtifact(c.save());
    for (const threads of [1, 2, 3]) {
      const sess = await WasmSession.create(a, { threads, minParallelFlops: 0 });
      const got = await sess.run(feeds);
      sess.stopThreads();
      const name = g.outputs[0];
      expect(specialMismatch(got[name], want[name], 1e-4), `threads ${threads}`).toBeUndefined();
    }
  }, 120_000);
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
