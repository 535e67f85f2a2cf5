/**
 * Squeeze-and-excitation gates (passes/fuse-squeeze-excitation.ts → SqueezeExcitationGate) on every
 * target against the reference interpreter run on the graph before the passes: SE blocks with
 * sigmoid and hard-sigmoid gates, batch 2, odd channel counts, with and without a conv reading the
 * scaled map; and EfficientNet-B0 from ../shared/models on wasm against PyTorch. wasm and wgsl compile in process (wgsl on small shapes: Dawn on llvmpipe is slow);
 * cuda runs the standalone program on the CPU emulator (g++), skipped where it is unavailable.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compile, type TargetName } from '../index.js';
import { buildEmulatedProgram, emulationAvailable } from '../codegen/cuda/emu.js';
import { lowerCuda } from '../codegen/cuda/lower.js';
import { Graph } from '../ir/graph.js';
import { interpret } from '../ir/interpreter.js';
import { runPipeline } from '../passes/pipeline.js';
import { loadOnnxFile } from '../frontends/onnx/import.js';
import { tensor, type Tensor } from '../runtime/tensor.js';
import { F32_TOL, f32File, relErr } from './golden.js';
import { compareAll, randomTensor, rng, runStandalone, specialMismatch } from './gpu/common.js';
import { SE_CASES as CASES, seGraph } from './se-graph.js';

const inputsOf = (g: Graph, seed: number): Record<string, Tensor> => ({ x: randomTensor('f32', g.type('x').shape, rng(seed + 100), 2) });
const gates = (g: Graph) => g.nodes.filter((n) => n.op === 'SqueezeExcitationGate').length;

for (const target of ['wasm', 'wgsl'] as TargetName[]) {
  describe(`SqueezeExcitationGate on ${target}`, () => {
    it.each(CASES.map((k, i) => [k.label, k, i] as const))('%s: the compiled SE block matches the reference of the unfused graph', async (_, k, i) => {
      const g = seGraph(k, 40 + i), inputs = inputsOf(g, i);
      const c = await compile(g, target);
      expect(gates(c.graph)).toBe(1);
      const pooled = c.graph.nodes.find((n) => n.op === 'GlobalAveragePool')!.outputs[0];
      expect(c.graph.nodes.filter((n) => n.inputs.includes(pooled)).map((n) => n.op)).toEqual(['SqueezeExcitationGate']);
      const { bad } = compareAll(await c.run(inputs), interpret(g, inputs), 1e-4);
      expect(bad).toEqual([]);
      // one kernel fewer than the unfused gate (two convs)
      const unfused = await compile(g, target, { disable: ['fuse-squeeze-excitation'] });
      expect(c.stats.kernels).toBe(unfused.stats.kernels - 1);
    }, 300_000);
    if (target === 'wasm') {
      it('37 → 10 channels (SIMD blocks of 4 and their tails), special values in the pooled vector: ±Inf, huge, −0, denormal, NaN land where the reference puts them', async () => {
        // x → GlobalAveragePool → 1×1 conv → ReLU → 1×1 conv → Sigmoid → Mul(x, gate): the specials reach the gate unmixed
        const r = rng(49), g = new Graph('se_special');
        const w = (name: string, shape: number[]) => g.addConstant(name, randomTensor('f32', shape, r, 1));
        const x = g.addInput('x', { dtype: 'f32', shape: [2, 37, 2, 2] });
        const [h] = g.addNode('Relu', g.addNode('Conv', [g.add('GlobalAveragePool', [x]), w('w1', [10, 37, 1, 1]), w('b1', [10])]));
        const [gate] = g.addNode('Sigmoid', g.addNode('Conv', [h, w('w2', [37, 10, 1, 1]), w('b2', [37])]));
        g.setOutputs(g.addNode('Mul', [x, gate]));
        const xt = randomTensor('f32', [2, 37, 2, 2], rng(9), 2), d = xt.data as Float32Array, at = (n: number, c: number, i: number) => (n * 37 + c) * 4 + i;
        // image 0: finite specials (hidden units of ~1e37 saturate the gates); image 1: an infinity (NaN and ±Inf gates) and a NaN
        [[5, 0, 3e38], [11, 2, -3e38], [8, 0, -0], [9, 3, 1e-40]].forEach(([c, i, v]) => { d[at(0, c, i)] = v; });
        [[3, 2, Infinity], [36, 1, NaN]].forEach(([c, i, v]) => { d[at(1, c, i)] = v; });
        const c = await compile(g, target);
        expect(gates(c.graph)).toBe(1);
        const want = interpret(g, { x: xt }), got = (await c.run({ x: xt }))[g.outputs[0]];
        expect(specialMismatch(got, want[g.outputs[0]], 1e-4)).toBeUndefined();
        const finite = Array.from(got.data as Float32Array).slice(0, 37 * 4).filter(Number.isFinite).length;
        expect(finite, 'image 0 stays finite').toBe(37 * 4);
      }, 300_000);
    }
    if (target === 'wgsl') {
      it('fp16: the gate on f16 buffers matches within 1e-2', async () => {
        const g = seGraph(CASES[1], 41), inputs = inputsOf(g, 1);
        const c = await compile(g, target, { fp16: true, fp16Policy: { keepFirst: false, keepLast: false } });
        expect(c.graph.nodes.filter((n) => n.op === 'SqueezeExcitationGate').map((n) => c.graph.type(n.inputs[0]).dtype)).toEqual(['f16']);
        expect(compareAll(await c.run(inputs), interpret(g, inputs), 1e-2).bad).toEqual([]);
      }, 300_000);
    }
  });
}

const emu = emulationAvailable();
describe.skipIf(!emu)(`SqueezeExcitationGate on cuda (CPU emulator)${emu ? '' : ' SKIPPED: g++ or CUDA headers not found'}`, () => {
  const work = mkdtempSync(join(tmpdir(), 'cnnc-se-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  it('every case in one graph, f32 and f16, matches the reference of the unfused graph', () => {
    // the three blocks side by side in one program: one g++ build
    const parts = CASES.map((k, i) => seGraph(k, 40 + i));
    const g = new Graph('se_all');
    const inputs: Record<string, Tensor> = {};
    parts.forEach((p, i) => {
      const x = g.addInput(`x${i}`, p.type('x'));
      inputs[x] = inputsOf(p, i).x;
      const rename = (v: string) => (v === 'x' ? x : `${v}_${i}`);
      for (const [name, v] of p.values) if (v.const) g.addConstant(rename(name), v.const);
      for (const n of p.nodes) g.addNode(n.op, n.inputs.map(rename), n.attrs, { name: `${n.name}_${i}`, outputs: n.outputs.map(rename) });
    });
    g.setOutputs(parts.map((p, i) => `${p.outputs[0]}_${i}`));
    const ref = interpret(g, inputs);
    for (const fp16 of [false, true]) {
      const h = runPipeline(g, 'cuda', { fp16 }).graph;
      expect(gates(h)).toBe(3);
      const mod = lowerCuda(h);
      const bin = buildEmulatedProgram(mod, join(work, `se${fp16}`));
      const got = runStandalone(bin, join(work, `se${fp16}`), mod.plan, inputs).outputs;
      expect(compareAll(got, ref, fp16 ? 1e-2 : 1e-4).bad, fp16 ? 'f16' : 'f32').toEqual([]);
    }
  }, 600_000);
});

const EFFICIENTNET = join(import.meta.dirname, '..', '..', 'shared', 'models', 'efficientnet_b0');
describe.skipIf(!existsSync(EFFICIENTNET))('EfficientNet-B0 (../shared/models) on wasm with its SE gates and closing Muls fused', () => {
  it('has 16 SqueezeExcitationGate kernels, 11 convs scaling on load, and matches PyTorch within 1e-4', async () => {
    const c = await compile(loadOnnxFile(join(EFFICIENTNET, 'model.onnx')), 'wasm');
    expect(gates(c.graph)).toBe(16);
    // the closing Mul goes into the projection conv's weights (scaled per image) where they are fewer than
    // the map they spare a pass over: the 11 blocks down to 14×14; the 5 at 7×7 (129K–368K weights, 33K–56K values) keep it
    expect(c.graph.nodes.filter((n) => n.op === 'Conv' && (n.inputs[4] ?? '') !== '')).toHaveLength(11);
    const x = tensor('f32', c.inputs[0].shape, f32File(join(EFFICIENTNET, 'test_data_set_0', 'input_0.bin')));
    const want = f32File(join(EFFICIENTNET, 'test_data_set_0', 'output_0.bin'));
    expect(relErr(want, (await c.run({ [c.inputs[0].name]: x }))[c.outputs[0].name].data as Float32Array)).toBeLessThan(F32_TOL);
  }, 300_000);
});
