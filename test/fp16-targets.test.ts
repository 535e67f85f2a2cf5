/**
 * `--fp16` on every target, against the f32 reference (the float64 interpreter on the model as imported):
 * - wasm: the weights of weighted layers rounded to f16 and stored as f16 in the artifact, widened to f32
 *   at load; compute in f32 ('storage' mode). LeNet-5 and SqueezeNet 1.1 from ../shared/models.
 * - cuda: f16 compute (half/half2, f32 accumulation), the standalone program on the CPU emulator.
 *   LeNet-5 (SqueezeNet 1.1 emulates for 2-4 min on a 2-core machine: run it with CNNC_FP16_ALL=1).
 * - wgsl: f16 shaders where the adapter has shader-f16, else the f32 shaders over f16-stored weights
 *   (the OpenGL ES adapter: CNNC_DAWN_FLAGS=backend=opengles). LeNet-5 here; SqueezeNet 1.1 with fp16 on
 *   wgsl is test/models-suite.ts ('wgsl: fp16-cast graphs', against PyTorch's output).
 * Tolerance on every target: max |ref − got| ≤ FP16_TOL · max |ref|, FP16_TOL = 1e-2, and the same top-1
 * (unless the reference's top two are closer than the tolerance band). wasm weight bytes: 0.49–0.51× f32's.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compile } from '../index.js';
import { buildEmulatedProgram, emulationAvailable } from '../codegen/cuda/emu.js';
import { lowerCuda } from '../codegen/cuda/lower.js';
import { loadOnnxFile } from '../frontends/onnx/import.js';
import type { Graph } from '../ir/graph.js';
import { interpret } from '../ir/interpreter.js';
import { runPipeline } from '../passes/pipeline.js';
import { decodeArtifact } from '../runtime/artifact.js';
import { load } from '../runtime/index.js';
import { tensor, type Tensor } from '../runtime/tensor.js';
import { weightsRegionBytes } from '../runtime/wasm/weights.js';
import { gpuContext, WebGpuModel } from '../runtime/webgpu/index.js';
import { f32File } from './golden.js';
import { runStandalone } from './gpu/common.js';

const FP16_TOL = 1e-2;
const MODELS = join(import.meta.dirname, '..', '..', 'shared', 'models');
const work = mkdtempSync(join(tmpdir(), 'cnnc-fp16-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Case { g: Graph; x: Tensor; ref: Float32Array }
const cases = new Map<string, Case>();

/** The model, test set 0's input and the reference's output (once per model). */
function model(name: string): Case {
  let c = cases.get(name);
  if (!c) {
    const dir = join(MODELS, name);
    const g = loadOnnxFile(join(dir, 'model.onnx'));
    const x = tensor('f32', g.type(g.inputs[0]).shape, f32File(join(dir, 'test_data_set_0', 'input_0.bin')));
    c = { g, x, ref: Float32Array.from(interpret(g, { [g.inputs[0]]: x })[g.outputs[0]].data as Float32Array) };
    cases.set(name, c);
  }
  return c;
}

/** Checks `got` against the reference (tolerance and top-1) and prints the figures. */
function expectClose(what: string, ref: Float32Array, got: Float32Array): void {
  expect(got.length).toBe(ref.length);
  let mx = 0, abs = 0;
  for (let i = 0; i < ref.length; i++) { mx = Math.max(mx, Math.abs(ref[i])); abs = Math.max(abs, Math.abs(ref[i] - got[i])); }
  console.log(`${what}: max abs error ${abs.toExponential(2)}, max |ref| ${mx.toExponential(2)}, relative ${(abs / mx).toExponential(2)} (tolerance ${FP16_TOL})`);
  expect(abs / mx).toBeLessThanOrEqual(FP16_TOL);
  expect(abs).toBeGreaterThan(0); // f16 really is in play: an exact match would mean the weights were not rounded
  const top = ref.indexOf(Math.max(...ref)), mine = got.indexOf(Math.max(...got));
  const margin = ref[top] - Math.max(...ref.filter((_, i) => i !== top));
  if (margin > 2 * FP16_TOL * mx) expect(mine).toBe(top);
  else expect(ref[top] - ref[mine]).toBeLessThanOrEqual(2 * FP16_TOL * mx);
}

const NAMES = ['lenet5', 'squeezenet1_1'].filter((n) => existsSync(join(MODELS, n)));

describe('wasm --fp16: f16 weights in the artifact, f32 compute', () => {
  for (const name of NAMES) {
    it(`${name}: within ${FP16_TOL} of the f32 reference, same top-1; weight bytes ≈ 0.5× the f32 artifact's`, async () => {
      const { g, x, ref } = model(name);
      const f32 = await compile(g, 'wasm');
      const f16 = await compile(g, 'wasm', { fp16: true });
      for (const o of f16.outputs) expect(o.dtype).toBe(g.type(o.name).dtype); // outputs keep the model's dtype
      expect(f16.graph.values.size).toBe(f32.graph.values.size); // no Casts, no extra values: only the weights changed
      const ratio = f16.stats.weightBytes / f32.stats.weightBytes;
      const a16 = decodeArtifact(f16.save()), a32 = decodeArtifact(f32.save());
      expect(a16.sections.weights.length).toBe(f16.stats.weightBytes);
      console.log(`${name} wasm: weights ${f32.stats.weightBytes} → ${f16.stats.weightBytes} bytes (${ratio.toFixed(4)}×), artifact ${f32.save().length} → ${f16.save().length} bytes`);
      expect(ratio).toBeGreaterThanOrEqual(0.49);
      expect(ratio).toBeLessThanOrEqual(0.51);
      expect((a16.header.plan as { weightsHalf?: unknown[] }).weightsHalf?.length).toBeGreaterThan(0);
      // f32 compile: lossless runs only (zero biases, say), a small share of the region
      const region32 = weightsRegionBytes(a32.sections.weights.length, (a32.header.plan as { weightsHalf?: unknown }).weightsHalf);
      expect(a32.sections.weights.length).toBeGreaterThan(0.95 * region32);
      // the path an app takes: the saved artifact through cnnc/runtime
      const session = await load(f16.save());
      expectClose(`${name} wasm fp16`, ref, (await session.run({ [g.inputs[0]]: x }))[g.outputs[0]].data as Float32Array);
    }, 300_000);
  }
});

describe("wasm with fp16Mode 'compute' (f16 kernels, which wasm has not)", () => {
  it.skipIf(!NAMES.includes('lenet5'))('is refused by compile() with one UNSUPPORTED error naming the f16 nodes, not an internal failure', async () => {
    const err = await compile(model('lenet5').g, 'wasm', { fp16: true, fp16Mode: 'compute' }).catch((e) => e);
    expect(err.code).toBe('UNSUPPORTED');
    expect(err.message).toMatch(/the wasm target cannot lower these \d+ nodes: .*is f16/);
  });
});

const emu = emulationAvailable();
describe.skipIf(!emu)(`cuda --fp16 (f16 compute) on the CPU emulator${emu ? '' : ' SKIPPED: g++ or CUDA headers (cuda_fp16.h) not found'}`, () => {
  for (const name of process.env.CNNC_FP16_ALL ? NAMES : NAMES.filter((n) => n === 'lenet5')) {
    it(`${name}: within ${FP16_TOL} of the f32 reference, same top-1`, () => {
      const { g, x, ref } = model(name);
      const h = runPipeline(g, 'cuda', { fp16: true }).graph;
      expect(h.nodes.some((n) => n.op === 'Conv' && h.type(n.outputs[0]).dtype === 'f16')).toBe(true);
      const mod = lowerCuda(h);
      const dir = join(work, `cuda_${name}`);
      const out = runStandalone(buildEmulatedProgram(mod, dir), dir, mod.plan, { [h.inputs[0]]: x }).outputs[h.outputs[0]];
      expect(out.dtype).toBe('f32');
      expectClose(`${name} cuda fp16 (emulated)`, ref, out.data as Float32Array);
    }, 900_000);
  }
});

const gpu = await gpuContext().catch(() => undefined);
describe.skipIf(!gpu || !NAMES.includes('lenet5'))(`wgsl --fp16 on ${gpu?.adapterName ?? 'no adapter'} (shader-f16: ${gpu?.hasF16})`, () => {
  it(`lenet5: runs (f16 shaders with shader-f16, else f32 shaders over f16 weights), within ${FP16_TOL} of the f32 reference, same top-1`, async () => {
    const { g, x, ref } = model('lenet5');
    const c = await compile(g, 'wgsl', { fp16: true });
    const m = await WebGpuModel.load(c.save());
    expect(m.precision).toBe(gpu!.hasF16 ? 'f16' : 'f32');
    expectClose(`lenet5 wgsl fp16 (${m.precision} shaders)`, ref, (await m.run({ [g.inputs[0]]: x }))[g.outputs[0]].data as Float32Array);
  }, 300_000);
});
