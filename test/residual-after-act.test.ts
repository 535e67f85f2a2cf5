/**
 * A skip connection around an activated conv — x + act(conv(x)), YOLO's bottleneck — fuses into
 * the conv as its residual with residual_after_act = 1 (passes/fuse-residual-after-act.ts; ir/ops/conv.ts
 * defines act(conv + B) + R). On every target against the reference interpreter run on the graph
 * before the passes: dense 3×3, 1×1, depthwise, strided and grouped convs, SiLU written out as
 * x·sigmoid(x), Clip (ReLU6), LeakyRelu, batch 2, odd channels, a part of a Concat (written in
 * place), and special values (NaN, ±Inf, huge, denormal) in the input. f32 tolerance 1e-4 relative
 * to the largest |reference|; special values must land where the reference puts them.
 * cuda runs the standalone program on the CPU emulator (g++), skipped where it is unavailable.
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
import { specialMismatch as mismatch, randomTensor, rng, runStandalone } from './gpu/common.js';

interface Case { label: string; N: number; C: number; H: number; W: number; act: 'silu' | 'relu6' | 'leaky'; kind: 'dense3' | 'pw' | 'dw' | 'strided' | 'grouped' | 'concat' }
const CASES: Case[] = [
  { label: 'bottleneck 1×1 → 3×3, SiLU as x·sigmoid(x)', N: 1, C: 8, H: 9, W: 7, act: 'silu', kind: 'dense3' },
  { label: '1×1 conv, ReLU6 (Clip), batch 2, 5 channels', N: 2, C: 5, H: 6, W: 5, act: 'relu6', kind: 'pw' },
  { label: 'depthwise 3×3, LeakyRelu, 6 channels', N: 1, C: 6, H: 7, W: 8, act: 'leaky', kind: 'dw' },
  { label: 'strided 3×3 with a residual from a max-pool branch, SiLU, batch 2', N: 2, C: 4, H: 8, W: 9, act: 'silu', kind: 'strided' },
  { label: 'grouped 3×3 (2 groups), ReLU6', N: 1, C: 6, H: 5, W: 5, act: 'relu6', kind: 'grouped' },
  { label: 'the sum as a Concat part (C3 block), SiLU', N: 1, C: 8, H: 6, W: 6, act: 'silu', kind: 'concat' },
];

function weights(g: Graph, name: string, shape: number[], seed: number): string {
  return g.addConstant(name, randomTensor('f32', shape, rng(seed), 0.5));
}

/** act(v) spelled as an exporter writes it. */
function activate(g: Graph, v: string, act: Case['act']): string {
  if (act === 'silu') return g.add('Mul', [v, g.add('Sigmoid', [v])]);
  if (act === 'relu6') return g.add('Clip', [v], { min: 0, max: 6 });
  return g.add('LeakyRelu', [v], { alpha: 0.1 });
}

function conv(g: Graph, x: string, Cin: number, Cout: number, k: number, seed: number, attrs: Record<string, unknown> = {}): string {
  const group = Number(attrs.group ?? 1), p = (k - 1) / 2;
  return g.add('Conv', [x, weights(g, `w${seed}`, [Cout, Cin / group, k, k], seed), weights(g, `b${seed}`, [Cout], seed + 1)], { pads: [p, p, p, p], ...attrs } as never);
}

function build(k: Case, seed: number): Graph {
  const g = new Graph(`residual_after_${k.kind}`);
  const x = g.addInput('x', { dtype: 'f32', shape: [k.N, k.C, k.H, k.W] });
  const C = k.C;
  let out: string;
  if (k.kind === 'dense3' || k.kind === 'concat') {
    const y1 = activate(g, conv(g, x, C, C / 2, 1, seed), k.act);
    const sum = g.add('Add', [x, activate(g, conv(g, y1, C / 2, C, 3, seed + 10), k.act)]);
    out = k.kind === 'concat' ? g.add('Concat', [sum, activate(g, conv(g, x, C, C / 2, 1, seed + 20), k.act)], { axis: 1 }) : sum;
  } else if (k.kind === 'pw') {
    out = g.add('Add', [activate(g, conv(g, x, C, C, 1, seed), k.act), x]);
  } else if (k.kind === 'dw') {
    out = g.add('Add', [x, activate(g, conv(g, x, C, C, 3, seed, { group: C }), k.act)]);
  } else if (k.kind === 'grouped') {
    out = g.add('Add', [x, activate(g, conv(g, x, C, C, 3, seed, { group: 2 }), k.act)]);
  } else {
    const a = activate(g, conv(g, x, C, C, 3, seed, { strides: [2, 2] }), k.act);
    const b = g.add('MaxPool', [x], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });
    out = g.add('Add', [b, a]);
  }
  g.setOutputs([out]);
  return g;
}

const fused = (g: Graph) => g.nodes.filter((n) => n.op === 'Conv' && Number(n.attrs.residual_after_act) === 1).length;
const adds = (g: Graph) => g.nodes.filter((n) => n.op === 'Add' || n.op === 'FusedElementwise').length;

function inputs(k: Case, seed: number, special: boolean): Record<string, Tensor> {
  const x = randomTensor('f32', [k.N, k.C, k.H, k.W], rng(seed + 100), 2);
  if (special) {
    const d = x.data as Float32Array;
    [NaN, Infinity, -Infinity, 3e38, -0, 1e-40].forEach((v, i) => { d[(i * 37 + 5) % d.length] = v; });
  }
  return { x };
}

for (const target of ['wasm', 'wgsl'] as TargetName[]) {
  describe(`residual after the activation on ${target}`, () => {
    it.each(CASES.map((k, i) => [k.label, k, i] as const))('%s: one conv kernel per skip connection, matches the reference of the unfused graph', async (_, k, i) => {
      const g = build(k, 10 * i + 1);
      const c = await compile(g, target);
      expect(fused(c.graph)).toBeGreaterThanOrEqual(1);
      expect(adds(c.graph)).toBe(0);
      // each fused Add was a kernel of its own without the pass
      const unfused = await compile(g, target, { disable: ['fuse-residual-after-act'] });
      expect(fused(unfused.graph)).toBe(0);
      expect(c.stats.kernels).toBeLessThanOrEqual(unfused.stats.kernels - fused(c.graph));
      for (const special of [false, true]) {
        const feeds = inputs(k, i, special);
        const want = interpret(g, feeds)[g.outputs[0]], got = (await c.run(feeds))[g.outputs[0]];
        expect(mismatch(got, want, 1e-4), special ? 'special values' : 'finite').toBeUndefined();
      }
    }, 300_000);
  });
}

describe('residual after the activation: the pass', () => {
  it('fuses only an Add after an activated conv read once; a conv read twice, or with a residual already, keeps the Add', () => {
    const g = new Graph('t');
    const x = g.addInput('x', { dtype: 'f32', shape: [1, 4, 5, 5] });
    const y = g.add('Relu', [conv(g, x, 4, 4, 3, 1)]);
    const twice = g.add('Add', [x, y]);
    g.setOutputs([twice, y]); // y is also an output: it must stay materialized
    const h = runPipeline(g, 'reference', {}).graph;
    expect(fused(h)).toBe(0);
    expect(adds(h)).toBe(1);

    const g2 = new Graph('t2');
    const x2 = g2.addInput('x', { dtype: 'f32', shape: [1, 4, 5, 5] });
    g2.setOutputs([g2.add('Add', [x2, g2.add('Relu', [conv(g2, x2, 4, 4, 3, 1)])])]);
    const h2 = runPipeline(g2, 'reference', {}).graph;
    expect(fused(h2)).toBe(1);
    expect(h2.nodes.map((n) => n.op)).toEqual(['Conv']);
    const feeds = { x: randomTensor('f32', [1, 4, 5, 5], rng(3), 2) };
    expect(mismatch(interpret(h2, feeds)[h2.outputs[0]], interpret(g2, feeds)[g2.outputs[0]], 1e-6)).toBeUndefined(); // f32 rounding: the unfused graph rounds the conv before the Add
  });

  it('residual_after_act other than 0 or 1 is BAD_ATTRIBUTE naming the node', () => {
    const g = new Graph('t');
    const x = g.addInput('x', { dtype: 'f32', shape: [1, 2, 3, 3] });
    expect(() => g.add('Conv', [x, weights(g, 'w', [2, 2, 1, 1], 1)], { residual_after_act: 2 } as never, { name: 'c1' })).toThrow(/residual_after_act must be 0 or 1, got 2 \(node 'c1', op Conv\)/);
  });

  it('a depthwise + pointwise pair whose pointwise adds its residual after the activation is not made a FusedDwPw (which adds it before)', async () => {
    const g = new Graph('t');
    const x = g.addInput('x', { dtype: 'f32', shape: [1, 4, 6, 6] });
    const dw = g.add('Relu', [conv(g, x, 4, 4, 3, 1, { group: 4 })]);
    g.setOutputs([g.add('Add', [x, g.add('Relu', [conv(g, dw, 4, 4, 1, 5)])])]);
    const c = await compile(g, 'wasm', { opt: 'O3' });
    expect(c.graph.nodes.some((n) => n.op === 'FusedDwPw')).toBe(false);
    expect(fused(c.graph)).toBe(1);
    const feeds = { x: randomTensor('f32', [1, 4, 6, 6], rng(9), 2) };
    expect(mismatch((await c.run(feeds))[g.outputs[0]], interpret(g, feeds)[g.outputs[0]], 1e-4)).toBeUndefined();
  });
});

const emu = emulationAvailable();
describe.skipIf(!emu)(`residual after the activation on cuda (CPU emulator)${emu ? '' : ' SKIPPED: g++ or CUDA headers not found'}`, () => {
  const work = mkdtempSync(join(tmpdir(), 'cnnc-resafter-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  it('every case in one graph, f32 (special values included) and f16 (finite inputs), matches the reference of the unfused graph', () => {
    const parts = CASES.map((k, i) => build(k, 10 * i + 1));
    const g = new Graph('resafter_all');
    const feeds: Record<string, Tensor>[] = [{}, {}];
    parts.forEach((p, i) => {
      const x = g.addInput(`x${i}`, p.type('x'));
      feeds[0][x] = inputs(CASES[i], i, true).x;
      feeds[1][x] = inputs(CASES[i], i, false).x;
      const rename = (v: string) => (v === 'x' ? x : `${v}_${i}`);
      for (const [name, v] of p.values) if (v.const) g.addConstant(rename(name), v.const);
      for (const n of p.nodes) g.addNode(n.op, n.inputs.map(rename), n.attrs, { name: `${n.name}_${i}`, outputs: n.outputs.map(rename) });
    });
    g.setOutputs(parts.flatMap((p, i) => p.outputs.map((o) => `${o}_${i}`)));
    for (const fp16 of [false, true]) {
      const f = feeds[fp16 ? 1 : 0], ref = interpret(g, f);
      const h = runPipeline(g, 'cuda', { fp16 }).graph;
      expect(fused(h)).toBeGreaterThanOrEqual(CASES.length);
      const mod = lowerCuda(h);
      const bin = buildEmulatedProgram(mod, join(work, `ra${fp16}`));
      const got = runStandalone(bin, join(work, `ra${fp16}`), mod.plan, f).outputs;
      for (const o of g.outputs) expect(mismatch(got[o], ref[o], fp16 ? 1e-2 : 1e-4), `${o} ${fp16 ? 'f16' : 'f32'}`).toBeUndefined();
    }
  }, 600_000);
});
