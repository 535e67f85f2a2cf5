/**
 * The WebGPU benchmark (`npm run bench -- --target wgsl`, not a test): batch 1, medians after
 * warm-up, all from one run of this script, on the adapter the runtime finds (here: Dawn's OpenGL ES
 * backend on Mesa llvmpipe, a compatibility-mode adapter):
 *   - cnnc wgsl (WebGPU runtime) vs cnnc wasm (same models, same run, interleaved), outputs checked;
 *   - time from loading the artifact to the first result (shader compilation included);
 *   - the slowest kernels of one model, each dispatch timed alone.
 * onnxruntime-web's webgpu execution provider is not timed by default (see docs/benchmarks.md for
 * why); CNNC_BENCH_ORT_WEBGPU=1 probes it on LeNet-5 with the workarounds it needs in Node.
 * Writes the tables into docs/benchmarks.md (the WebGPU section) and prints them.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { compile } from '../index.js';
import { loadOnnxFile } from '../frontends/onnx/import.js';
import { load } from '../runtime/index.js';
import { tensor } from '../runtime/tensor.js';
import { gpuContext, WebGpuModel } from '../runtime/webgpu/index.js';
import { f32File, median, relErr, timeInterleaved, writeDocSection } from './common.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const MODELS = path.resolve(ROOT, '../shared/models');
const NAMES = ['lenet5', 'squeezenet1_1', 'mobilenet_v2', 'resnet18'];
const PROFILED = 'squeezenet1_1';

export interface BenchOptions { runs: number; warmup: number; models?: string[]; write: boolean }

interface Row { model: string; gpu: number; wasm: number; err: number; firstGpu: number; compileMs: number; kernels: number; gflop: number }

export async function benchWgsl(opt: BenchOptions): Promise<string> {
  const names = (opt.models ?? NAMES).filter((n) => existsSync(path.join(MODELS, n)));
  const warmup = Math.min(opt.warmup, 3); // llvmpipe: a warm-up run of ResNet-18 takes seconds
  const ctx = await gpuContext();
  const load0 = os.loadavg()[0];
  const rows: Row[] = [];
  let profile: { kernel: string; op: string; ms: number }[] = [];
  for (const name of names) {
    const dir = path.join(MODELS, name);
    const g = loadOnnxFile(path.join(dir, 'model.onnx'));
    const x = tensor('f32', g.type('input').shape, f32File(path.join(dir, 'test_data_set_0/input_0.bin')));
    const want = f32File(path.join(dir, 'test_data_set_0/output_0.bin'));
    let t0 = performance.now();
    const c = await compile(g, 'wgsl');
    const bytes = c.save();
    const compileMs = performance.now() - t0;
    t0 = performance.now();
    const gpu = await WebGpuModel.load(bytes);
    await gpu.run({ input: x });
    const firstGpu = performance.now() - t0;
    const err = relErr(want, (await gpu.run({ input: x })).output.data as Float32Array);
    const wasm = await load((await compile(g, 'wasm')).save());
    const [gpuMs, wasmMs] = await timeInterleaved([() => gpu.run({ input: x }), () => wasm.run({ input: x })], opt.runs, warmup);
    const gflop = c.summary().totalFlops / 1e9;
    rows.push({ model: name, gpu: gpuMs, wasm: wasmMs, err, firstGpu, compileMs, kernels: c.stats.kernels, gflop });
    process.stderr.write(`${name}: cnnc webgpu ${gpuMs.toFixed(1)} ms, cnnc wasm ${wasmMs.toFixed(1)} ms, rel err ${err.toExponential(1)}\n`);
    if (name === PROFILED) profile = await gpu.profile({ input: x }, 5);
    gpu.dispose();
  }
  const ort = process.env.CNNC_BENCH_ORT_WEBGPU ? await ortWebGpuProbe() : undefined;
  const text = report(rows, profile, ctx.adapterName, ctx.hasF16, { load0, load1: os.loadavg()[0] }, opt.runs, warmup, ort);
  if (opt.write) writeDocSection('wgsl-bench', text);
  return text;
}

/**
 * onnxruntime-web's webgpu EP on LeNet-5 in Node, with the workarounds it needs on this adapter:
 * navigator.gpu from Dawn forced to featureLevel 'compatibility', and writeBuffer given copies of
 * SharedArrayBuffer-backed data (Dawn rejects those views with "Invalid argument").
 */
async function ortWebGpuProbe(): Promise<string> {
  const dawn = await import('webgpu');
  const Queue = (dawn.globals as Record<string, { prototype: Record<string, unknown> }>).GPUQueue.prototype;
  const write = Queue.writeBuffer as (...a: unknown[]) => void;
  Queue.writeBuffer = function (this: unknown, buf: unknown, off: number, data: ArrayBufferView & { slice(a: number, b?: number): ArrayBufferView; length: number }, doff = 0, size?: number) {
    if (data.buffer instanceof SharedArrayBuffer) return write.call(this, buf, off, data.slice(doff, size === undefined ? undefined : doff + size));
    return size === undefined ? write.call(this, buf, off, data, doff) : write.call(this, buf, off, data, doff, size);
  };
  const gpu = dawn.create(['backend=opengles']);
  const request = gpu.requestAdapter.bind(gpu);
  (gpu as { requestAdapter: unknown }).requestAdapter = (o: object = {}) => request({ ...o, featureLevel: 'compatibility' } as GPURequestAdapterOptions);
  Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true });
  const ort = await import('onnxruntime-web/webgpu');
  ort.env.wasm.numThreads = 1;
  const dir = path.join(MODELS, 'lenet5');
  let t0 = performance.now();
  const s = await ort.InferenceSession.create(new Uint8Array(readFileSync(path.join(dir, 'model.onnx'))), { executionProviders: ['webgpu'] });
  const createMs = performance.now() - t0;
  const x = new ort.Tensor('float32', f32File(path.join(dir, 'test_data_set_0/input_0.bin')), [1, 1, 32, 32]);
  const got = (await s.run({ input: x })).output.data as Float32Array;
  const err = relErr(f32File(path.join(dir, 'test_data_set_0/output_0.bin')), got);
  const ts: number[] = [];
  for (let i = 0; i < 20; i++) { t0 = performance.now(); await s.run({ input: x }); ts.push(performance.now() - t0); }
  return `onnxruntime-web webgpu EP, LeNet-5, this run: session creation ${(createMs / 1000).toFixed(1)} s, median ${median(ts).toFixed(1)} ms, max rel. error vs PyTorch ${err.toExponential(1)}.`;
}

function report(rows: Row[], profile: { kernel: string; op: string; ms: number }[], adapter: string, f16: boolean,
  load: { load0: number; load1: number }, runs: number, warmup: number, ort?: string): string {
  const when = new Date().toISOString().slice(0, 16) + 'Z';
  const lines = [
    '## WebGPU (cnnc wgsl target)',
    '',
    `Adapter: **${adapter}** (Dawn through the \`webgpu\` npm package, OpenGL ES backend on Mesa llvmpipe, compatibility mode; shader-f16: ${f16 ? 'yes' : 'no'}). `
      + 'The WGSL tests (test/wgsl-kernels.test.ts, test/models-suite.ts) ran on this adapter; the browser test (test/browser-demo.test.ts) on Chromium\'s SwiftShader adapter. '
      + 'No real GPU was lent to this session, so the `enable f16` shaders have not been validated or run: the f16 test is skipped by name and fp16-cast graphs run on the f32 fallback shaders.',
    '',
    `Machine: ${os.cpus().length} cores shared with other jobs, Node ${process.version}; batch 1. Medians of ${runs} runs after ${warmup} warm-up runs, cnnc WebGPU and cnnc WASM interleaved round by round, one run of \`npm run bench -- --target wgsl\` (${when}). Load average (1 min) at start/end: ${load.load0.toFixed(1)} / ${load.load1.toFixed(1)}.`,
    '',
    '| model | GFLOP | cnnc WebGPU (llvmpipe) | cnnc WASM (1 thread) | WebGPU / WASM | WebGPU GFLOP/s | load + first run | compile + save | kernels | max rel. error vs PyTorch |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.model} | ${r.gflop.toFixed(2)} | ${r.gpu.toFixed(1)} ms | ${r.wasm.toFixed(1)} ms | ${(r.gpu / r.wasm).toFixed(1)}× | ${(r.gflop / r.gpu * 1e3).toFixed(2)} | ${r.firstGpu.toFixed(0)} ms | ${r.compileMs.toFixed(0)} ms | ${r.kernels} | ${r.err.toExponential(1)} |`),
    '',
    'llvmpipe runs compute shaders on the CPU cores (LLVM-compiled, 8-wide); it is a correctness platform here, not a speed one: the WASM target is the fast path on a CPU. "load + first run" includes compiling every pipeline (GLSL → LLVM in Mesa). '
      + 'In headless Chromium on SwiftShader the demo page (examples/web) ran LeNet-5 in ≈15–25 ms and SqueezeNet 1.1 in ≈1.5 s per run on a quiet machine, 5–10 s under load (test/browser-demo.test.ts prints its numbers).',
    '',
  ];
  if (profile.length) {
    const total = profile.reduce((s, p) => s + p.ms, 0);
    lines.push(`Slowest kernels of ${PROFILED} (each dispatch submitted alone and waited for; median of 5; sum of all ${profile.length} steps ${total.toFixed(0)} ms):`, '',
      '| kernel | op | ms | share |', '|---|---|---|---|',
      ...[...profile].sort((a, b) => b.ms - a.ms).slice(0, 8).map((p) => `| ${p.kernel} | ${p.op} | ${p.ms.toFixed(1)} | ${(100 * p.ms / total).toFixed(0)}% |`), '');
  }
  lines.push('**onnxruntime-web webgpu EP**: not in the table. In Node on this adapter it needs workarounds (navigator.gpu from Dawn forced to '
    + "featureLevel 'compatibility'; SharedArrayBuffer-backed views copied before `queue.writeBuffer`, which Dawn otherwise rejects with \"Invalid argument\"), "
    + 'and then, probed on LeNet-5 (bench/wgsl.ts with CNNC_BENCH_ORT_WEBGPU=1, 2026-11-23): session creation took 92 s, a run 18 ms, and the output was wrong '
    + '(max rel. error 0.35 vs PyTorch). A peer that gives wrong answers is not timed; cnnc WASM is the comparison instead.'
    + (ort ? ` ${ort}` : ''));
  return lines.join('\n');
}


