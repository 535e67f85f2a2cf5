/**
 * Concat in place (codegen/concat-plan.ts): producers write their slice of a Concat's output on
 * every target. Differential tests against the reference interpreter (f32, 1e-4 of the largest
 * |output|) on small graphs: inception-like branches with odd channel counts, batch 1 and 2, and the
 * cases that must keep a copy (a part that is a graph output, a constant, a graph input, a part with
 * other readers, a tensor concatenated with itself, a nested concat). wasm and wgsl run in process
 * (wgsl on Dawn: the graphs are tiny), cuda as the standalone program on the CPU emulator (g++).
 * Plus the plan itself and the kernel counts of SqueezeNet 1.1 and GoogLeNet per target.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compile, type TargetName } from '../index.js';
import { planConcats } from '../codegen/concat-plan.js';
import { liveBuffers, planMemory } from '../codegen/memory-plan.js';
import { buildEmulatedProgram, emulationAvailable } from '../codegen/cuda/emu.js';
import { cudaWritesSlice, lowerCuda } from '../codegen/cuda/lower.js';
import { wgslWritesSlice } from '../codegen/wgsl/emit.js';
import { lower, wasmWritesSlice } from '../codegen/wasm/lower.js';
import { Model } from '../frontends/dsl/model.js';
import { Graph } from '../ir/graph.js';
import { interpret } from '../ir/interpreter.js';
import { zoo } from '../models/index.js';
import { runPipeline } from '../passes/pipeline.js';
import { compareAll, graphInputs, randomTensor, rng, runStandalone } from './gpu/common.js';

const TOL = 1e-4;

/** Inception-like block: 1×1, 1×1→3×3, pool→1×1 and (with pools) a bare pool, odd channel counts, then a 1×1 conv. */
function inception(N: number, pools: boolean): Graph {
  const m = new Model(`inception_n${N}${pools ? '' : '_nopool'}`, { seed: 7 });
  const x = m.relu(m.conv2d(m.input([N, 3, 9, 7]), 5, 3, { padding: 1 }));
  const b1 = m.relu(m.conv2d(x, 3, 1));
  const b2 = m.relu(m.conv2d(m.relu(m.conv2d(x, 4, 1)), 7, 3, { padding: 1 }));
  const parts = [b1, b2];
  if (pools) {
    parts.push(m.conv2d(m.maxPool2d(x, 3, { stride: 1, padding: 1 }), 5, 1));
    parts.push(m.maxPool2d(m.relu(m.conv2d(x, 1, 1)), 3, { stride: 1, padding: 1 }));
  }
  m.output(m.conv2d(m.cat(parts), 6, 1));
  return m.build();
}

/** The cases that keep a copy, next to parts written in place. */
function copies(N: number): Graph {
  const m = new Model(`copies_n${N}`, { seed: 11 });
  const x = m.input([N, 3, 6, 5]);
  const a = m.conv2d(x, 3, 3, { padding: 1 });
  const b = m.conv2d(x, 5, 1);
  const c = m.conv2d(x, 2, 1);
  m.output(m.cat([a, m.conv2d(x, 5, 1), a]), 'self'); // a tensor concatenated with itself, next to a part in place
  m.output(b, 'part_is_output');
  m.output(m.cat([b, c]), 'with_output_part');
  const k = m.param('k', 'weight', [N, 4, 6, 5], { kind: 'normal', mean: 0, std: 1 });
  m.output(m.cat([m.conv2d(x, 3, 1), k]), 'with_constant');
  m.output(m.cat([x, m.conv2d(x, 4, 1)]), 'with_input');
  const e = m.conv2d(x, 3, 1);
  m.output(m.relu(e), 'other_reader');
  m.output(m.cat([e, m.conv2d(x, 2, 1)]), 'shared_part');
  const inner = m.cat([m.conv2d(x, 2, 1), m.conv2d(x, 3, 1)]);
  m.output(m.cat([inner, m.conv2d(x, 1, 1)]), 'nested');
  return m.build();
}

/**
 * Parts from every kind of producer the wasm target writes in place at batch 2 (convs, fused dw+pw,
 * max and average pools), next to a conv whose weights arrive at run time: the generic kernel wasm
 * runs it with writes a dense buffer, so that part must keep its copy, not leave its slice unwritten.
 */
function fallbackParts(N: number): Graph {
  const r = rng(13);
  const g = new Graph(`fallback_parts_n${N}`);
  const w = (shape: number[]) => g.addConstant('w', randomTensor('f32', shape, r, 0.5));
  const conv = (x: string, wt: string, group = 1, p = 0) => g.add('Conv', [x, wt], { group, pads: [p, p, p, p] });
  g.addInput('x', { dtype: 'f32', shape: [N, 4, 8, 7] });
  g.addInput('w_runtime', { dtype: 'f32', shape: [3, 6, 1, 1] });
  const x = g.add('Relu', [conv('x', w([6, 4, 3, 3]), 1, 1)]);
  const dwpw = g.add('Relu', [conv(g.add('Relu', [conv(x, w([6, 1, 3, 3]), 6, 1)]), w([5, 6, 1, 1]))]);
  const pool = g.add('MaxPool', [x], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
  const avg = g.add('AveragePool', [conv(x, w([3, 6, 1, 1]))], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
  const cat = g.add('Concat', [dwpw, conv(x, 'w_runtime'), pool, avg], { axis: 1 });
  g.setOutputs([conv(cat, w([4, 17, 1, 1]))]);
  return g;
}

async function expectMatches(g: Graph, target: TargetName): Promise<void> {
  const inputs = graphInputs(g, 5);
  const c = await compile(g, target);
  const { bad } = compareAll(await c.run(inputs), interpret(g, inputs), TOL);
  expect(bad).toEqual([]);
}

const kernelsOf = async (g: Graph, target: TargetName) => (await compile(g, target)).stats.kernels;
/** Nodes that run a kernel when no Concat does (views run none). */
const kernelNodes = (g: Graph) => g.nodes.filter((n) => !['Concat', 'Reshape', 'Flatten'].includes(n.op)).length;

describe('the shared concat plan', () => {
  it('writes parts in place only where no copy is needed', () => {
    const g = runPipeline(copies(2), 'cuda', {}).graph;
    const plan = planConcats(g, cudaWritesSlice);
    const prod = g.producers();
    const concatOf = (out: string) => prod.get(out)!;
    const inPlace = (out: string) => concatOf(out).inputs.map((v) => plan.slices.has(v));
    expect(inPlace('self')).toEqual([false, true, false]);
    expect(inPlace('with_output_part')).toEqual([false, true]);
    expect(inPlace('with_constant')).toEqual([true, false]);
    expect(inPlace('with_input')).toEqual([false, true]);
    expect(inPlace('shared_part')).toEqual([false, true]);
    expect(inPlace('nested')).toEqual([false, true]); // the inner Concat copies: no target writes a Concat in place
    const innerConcat = prod.get(concatOf('nested').inputs[0])!;
    expect(innerConcat.inputs.map((v) => plan.slices.has(v))).toEqual([true, true]);
    expect(plan.elided.has(innerConcat.name)).toBe(true);
    // slice geometry: part b of 'self' = channels 3..7 of 11, images of 6·5 pixels
    const s = plan.slices.get(concatOf('self').inputs[1])!;
    expect([s.axis, s.offset, s.base, s.block, s.stride, s.elems]).toEqual([1, 3, 90, 150, 330, 300]);
  });

  it('the memory planner gives the parts and the Concat one buffer, each part at its slice', () => {
    const g = runPipeline(inception(2, true), 'cuda', {}).graph;
    const plan = planConcats(g, cudaWritesSlice);
    const mem = planMemory(g, { align: 256, slices: plan.slices });
    const cat = g.nodes.find((n) => n.op === 'Concat')!;
    const whole = mem.offsets.get(cat.outputs[0])!;
    for (const v of cat.inputs) expect(mem.offsets.get(v)! - whole, v).toBe(plan.slices.get(v)!.base * 4);
    // the buffer lives from the first part's producer to the Concat's last reader: no other value may overlap it then
    const { buffers } = liveBuffers(g, { slices: plan.slices });
    const b = buffers.find((x) => x.values.includes(cat.outputs[0]))!;
    expect(b.values.sort()).toEqual([...cat.inputs, cat.outputs[0]].sort());
    expect(b.start).toBe(Math.min(...cat.inputs.map((v) => g.nodes.findIndex((n) => n.outputs.includes(v)) + 1)));
  });

  it('asks each target which producers can store at a slice (wasm: NHWC, as it compiles, and NCHW)', async () => {
    const cases = [['wasm', wasmWritesSlice], ['wgsl', wgslWritesSlice], ['cuda', cudaWritesSlice], ['nchw', wasmWritesSlice]] as const;
    for (const [target, writes] of cases) {
      const g = target === 'nchw' ? runPipeline(inception(1, true), 'wasm', {}).graph : (await compile(inception(1, true), target)).graph;
      const cat = g.nodes.find((n) => n.op === 'Concat')!;
      const plan = planConcats(g, writes);
      expect(Number(cat.attrs.axis), target).toBe(target === 'wasm' ? 3 : 1);
      expect(plan.elided.has(cat.name), target).toBe(true);
      expect(cat.inputs.every((v) => plan.slices.has(v)), target).toBe(true);
    }
  });
});

describe('concat in place on wasm', () => {
  it('inception block, batch 1: matches the reference, no concat kernel', async () => {
    const g = inception(1, true);
    await expectMatches(g, 'wasm');
    const c = await compile(g, 'wasm');
    expect(c.stats.kernels).toBe(kernelNodes(c.graph)); // the NHWC layout's transposes are nodes
  });
  it('inception block without pools, batch 2', () => expectMatches(inception(2, false), 'wasm'));
  it('inception block with pools, batch 2', () => expectMatches(inception(2, true), 'wasm'));
  it('batch 2: fused dw+pw and pools write in place, a conv with run-time weights (generic kernel) keeps its copy: matches the reference', async () => {
    const g = fallbackParts(2);
    await expectMatches(g, 'wasm');
    const c = await compile(g, 'wasm');
    const cat = c.graph.nodes.find((n) => n.op === 'Concat')!;
    const prod = c.graph.producers();
    const inPlace = cat.inputs.map((v) => planConcats(c.graph, wasmWritesSlice).slices.has(v));
    expect(cat.inputs.map((v) => prod.get(v)!.op)).toEqual(['FusedDwPw', 'Conv', 'MaxPool', 'AveragePool']);
    expect(inPlace).toEqual([true, false, true, true]);
    await expectMatches(fallbackParts(1), 'wasm');
  });
  it('the copy cases, batch 1', () => expectMatches(copies(1), 'wasm'));
  it('the inception block compiled NCHW (4-D values channels-last, the concat over axis 1)', async () => {
    const g = inception(1, true), inputs = graphInputs(g, 5);
    const c = await compile(g, 'wasm', { layout: 'NCHW' });
    expect(compareAll(await c.run(inputs), interpret(g, inputs), TOL).bad).toEqual([]);
    const steps = lower(c.graph).steps.filter((s) => !s.fn.startsWith('to_')); // not the layout conversions of input and output
    expect(steps.filter((s) => s.op.startsWith('Concat'))).toEqual([]);
    expect(steps.length).toBe(kernelNodes(c.graph));
  });
});

describe('concat in place on wgsl', () => {
  it('inception block, batch 2: matches the reference', () => expectMatches(inception(2, true), 'wgsl'));
  it('the copy cases, batch 2', () => expectMatches(copies(2), 'wgsl'));
  it('fused dw+pw, pools and a conv with run-time weights feeding a concat, batch 2', () => expectMatches(fallbackParts(2), 'wgsl'));
  it('no Concat kernel left for the inception block', async () => {
    const g = inception(2, true);
    expect(await kernelsOf(g, 'wgsl')).toBe(await kernelsOf(g, 'cuda'));
    const c = await compile(g, 'wgsl');
    expect(c.stats.kernels).toBe(kernelNodes(c.graph));
  });
});

const emu = emulationAvailable();
const work = mkdtempSync(join(tmpdir(), 'cnnc-concat-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.skipIf(!emu)(`concat in place on cuda (CPU emulator)${emu ? '' : ' SKIPPED: g++ or CUDA headers not found'}`, () => {
  for (const [tag, build] of [['inception_n2', () => inception(2, true)], ['inception_n1', () => inception(1, true)], ['copies_n2', () => copies(2)], ['fallback_parts_n2', () => fallbackParts(2)]] as const) {
    it(`${tag}: matches the reference`, () => {
      const g = runPipeline(build(), 'cuda', {}).graph;
      const mod = lowerCuda(g);
      const dir = join(work, tag);
      const bin = buildEmulatedProgram(mod, dir);
      const inputs = graphInputs(g, 5);
      const { bad } = compareAll(runStandalone(bin, dir, mod.plan, inputs).outputs, interpret(g, inputs), TOL);
      expect(bad).toEqual([]);
      if (tag.startsWith('inception')) expect(mod.plan.steps.some((s) => /concat/.test(s.kernel))).toBe(false);
    });
  }
  // YOLOv5s: SPPF's concat has one pool written in place and three parts copied (other readers), the head's several
  for (const name of ['squeezenet1_1', 'yolov5s']) {
    it(`zoo ${name} at 32×32: matches the reference`, () => {
      const g = runPipeline(zoo(name, { size: 32 }), 'cuda', {}).graph;
      const mod = lowerCuda(g);
      const dir = join(work, name);
      const inputs = graphInputs(g, 5);
      const { bad } = compareAll(runStandalone(buildEmulatedProgram(mod, dir), dir, mod.plan, inputs).outputs, interpret(g, inputs), TOL);
      expect(bad).toEqual([]);
    }, 300_000);
  }
});

describe('kernels per model: no Concat kernel where every part is written in place', () => {
  for (const name of ['squeezenet1_1', 'googlenet']) {
    it(`${name}: wgsl and cuda run the same kernels, wasm those and its layout transposes`, async () => {
      const g = zoo(name, { size: 64 });
      const [wasm, wgsl, cuda] = await Promise.all((['wasm', 'wgsl', 'cuda'] as const).map((t) => compile(g, t)));
      const kernelOps = (c: typeof cuda) => kernelNodes(c.graph);
      expect(wgsl.stats.kernels).toBe(kernelOps(wgsl));
      expect(cuda.stats.kernels).toBe(kernelOps(cuda));
      expect(wgsl.stats.kernels).toBe(cuda.stats.kernels);
      expect(wasm.stats.kernels).toBe(kernelOps(wasm));
      expect(wasm.graph.nodes.filter((n) => n.op === 'Concat').length).toBeGreaterThan(7);
    }, 120_000);
  }
});
