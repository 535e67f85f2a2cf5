/**
 * How long the tools take, next to onnxruntime-web's session creation for the same .onnx, in one run:
 * cnnc's ONNX import + compile + save, then the runtime's load (read, CRC-32 verify, instantiate, copy
 * weights) and first run; onnxruntime-web's InferenceSession.create and first run (wasm, 1 thread).
 * ResNet-18 and MobileNetV2 come from ../shared/models; ResNet-50 is zoo:resnet50 exported to ONNX by
 * cnnc's exporter in this run (seeded random weights). Compiles, loads and session creations: median of 3;
 * compiles also in CPU time (process.cpuUsage), which a loaded machine inflates less than wall time.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as ortWeb from 'onnxruntime-web';
import { compile } from '../index.js';
import { exportOnnx } from '../frontends/onnx/export.js';
import { importOnnx } from '../frontends/onnx/import.js';
import { zoo } from '../models/index.js';
import { load } from '../runtime/index.js';
import { randomInput } from '../cli/util.js';
import { median } from './common.js';

const MODELS = path.resolve(import.meta.dirname, '../../shared/models');

export interface CompileLoadRow {
  model: string; onnxMB: number; compileMs: number; compileCpuMs: number; artifactMB: number;
  loadMs: number; firstRunMs: number; webCreateMs: number; webFirstRunMs: number;
}

/** The model's ONNX bytes: ../shared/models/NAME/model.onnx, or zoo:NAME exported. */
function onnxOf(name: string): Uint8Array | undefined {
  const file = path.join(MODELS, name, 'model.onnx');
  if (existsSync(file)) return readFileSync(file);
  if (name === 'resnet50') return exportOnnx(zoo('resnet50'));
  return undefined;
}

async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await f();
  return [r, performance.now() - t0];
}

/** Median wall and CPU (user + system, all threads) milliseconds of 3 runs of `f`, and its last result. */
async function medianOf3WithCpu<T>(f: () => Promise<T>): Promise<{ value: T; wallMs: number; cpuMs: number }> {
  const walls: number[] = [], cpus: number[] = [];
  let value: T | undefined;
  for (let i = 0; i < 3; i++) {
    const c0 = process.cpuUsage();
    const [r, ms] = await timed(f);
    const c = process.cpuUsage(c0);
    walls.push(ms);
    cpus.push((c.user + c.system) / 1000);
    value = r;
  }
  return { value: value as T, wallMs: median(walls), cpuMs: median(cpus) };
}

async function medianOf3(f: () => Promise<unknown>): Promise<number> {
  const ts: number[] = [];
  for (let i = 0; i < 3; i++) ts.push((await timed(f))[1]);
  return median(ts);
}

export async function benchCompileLoad(names = ['resnet18', 'resnet50', 'mobilenet_v2']): Promise<CompileLoadRow[]> {
  ortWeb.env.wasm.numThreads = 1;
  const rows: CompileLoadRow[] = [];
  // Warm-up: binaryen's 14 MB module loads on the first compile; no row should carry that.
  (await compile(zoo('lenet5'), 'wasm')).save();
  for (const name of names) {
    const onnx = onnxOf(name);
    if (!onnx) { process.stderr.write(`compile/load: no ONNX for ${name}, skipped\n`); continue; }
    const { value: bytes, wallMs: compileMs, cpuMs: compileCpuMs } = await medianOf3WithCpu(async () => (await compile(importOnnx(onnx), 'wasm')).save());
    const loadMs = await medianOf3(() => load(bytes));
    const session = await load(bytes);
    const feeds = Object.fromEntries(session.inputs.map((s) => [s.name, randomInput(s.dtype, s.shape)]));
    const [, firstRunMs] = await timed(() => session.run(feeds));
    const webCreateMs = await medianOf3(async () => (await ortWeb.InferenceSession.create(onnx, { executionProviders: ['wasm'] })).release());
    const web = await ortWeb.InferenceSession.create(onnx, { executionProviders: ['wasm'] });
    const webFeeds = Object.fromEntries(session.inputs.map((s) => [s.name, new ortWeb.Tensor('float32', feeds[s.name].data as Float32Array, s.shape)]));
    const [, webFirstRunMs] = await timed(() => web.run(webFeeds));
    await web.release();
    rows.push({ model: name, onnxMB: onnx.length / 1e6, compileMs, compileCpuMs, artifactMB: bytes.length / 1e6, loadMs, firstRunMs, webCreateMs, webFirstRunMs });
    process.stderr.write(`${name}: compile ${compileMs.toFixed(0)} ms (CPU ${compileCpuMs.toFixed(0)} ms), load ${loadMs.toFixed(0)} ms, ort-web session ${webCreateMs.toFixed(0)} ms\n`);
  }
  return rows;
}

export function compileLoadTable(rows: CompileLoadRow[]): string {
  const f = (x: number, d = 0) => x.toFixed(d);
  return [
    'Compile and load (the tools themselves; measured after one warm-up compile of LeNet-5, so binaryen is loaded):',
    '',
    '| model | .onnx | cnnc import + compile + save (wasm, -O3) | its CPU time | artifact | cnnc load + verify | cnnc first run | onnxruntime-web session create | onnxruntime-web first run |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.model} | ${f(r.onnxMB, 1)} MB | ${f(r.compileMs)} ms | ${f(r.compileCpuMs)} ms | ${f(r.artifactMB, 1)} MB | ${f(r.loadMs)} ms | ${f(r.firstRunMs)} ms | ${f(r.webCreateMs)} ms | ${f(r.webFirstRunMs)} ms |`),
    '',
    'cnnc compile: median of 3, wall and CPU time (user + system of all threads; on a busy machine wall time also counts the waits for a core).',
    'cnnc load: the artifact already in memory, CRC-32 verified, WebAssembly.compile + instantiate, weights copied in; median of 3, as is the session creation.',
  ].join('\n');
}
