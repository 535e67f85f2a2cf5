/**
 * The WASM benchmark (`npm run bench`, not a test): batch 1, one thread, medians over ≥ 20 runs
 * after warm-up, all from one run of this script:
 *   - cnnc wasm vs onnxruntime-web (wasm, 1 thread) vs onnxruntime-node (CPU, 1 intra-op thread),
 *     TensorFlow.js wasm (XNNPACK) for MobileNetV2 and ResNet-18, and LiteRT.js (XNNPACK, the
 *     .tflite copies; bench/litert.ts) for MobileNetV2, ResNet-18 and SqueezeNet 1.1, each output checked;
 *   - the wasm SIMD peak measured here (a binaryen-built kernel of independent f32x4 mul+add chains);
 *   - ResNet-18 per conv layer: GFLOP/s and share of that peak;
 *   - time from loading the artifact to the first result vs onnxruntime-web session + first run;
 *   - the runtime's bundled, minified size (esbuild).
 * Writes the tables into docs/benchmarks.md (the WASM section) and prints them.
 */
import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import binaryen from 'binaryen';
import * as esbuild from 'esbuild';
import * as ortWeb from 'onnxruntime-web';
import * as ortNode from 'onnxruntime-node';
import { compile } from '../index.js';
import { loadOnnxFile } from '../frontends/onnx/import.js';
import { decodeArtifact } from '../runtime/artifact.js';
import { load } from '../runtime/index.js';
import { tensor } from '../runtime/tensor.js';
import { WasmSession } from '../runtime/wasm/index.js';
import { FnBuilder, newModule } from '../codegen/wasm/builder.js';
import { tfjsPeer, type TfjsModelName } from './tfjs.js';
import { LITERT_MODELS, enableRelaxedSimd, litertPeer } from './litert.js';
import { f32File, median, relErr, timeInterleaved, writeDocSection } from './common.js';
import { benchCompileLoad, compileLoadTable } from './compile-load.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const MODELS = path.resolve(ROOT, '../shared/models');
const NAMES = ['mobilenet_v2', 'resnet18', 'squeezenet1_1', 'efficientnet_b0'];
const TFJS: readonly string[] = ['mobilenet_v2', 'resnet18'];

export interface BenchOptions { runs: number; warmup: number; models?: string[]; write: boolean }

/**
 * The wasm SIMD peak on this machine: `acc_k = acc_k·b + a` over K independent f32x4 chains (no FMA
 * in wasm SIMD: a mul and an add, 8 flops per chain per step), warmed up into TurboFan; best of K.
 */
export async function measurePeak(): Promise<{ gflops: number; accumulators: number }> {
  let best = { gflops: 0, accumulators: 0 };
  for (const K of [8, 10, 12]) {
    const m = newModule();
    m.setMemory(1, 1, 'memory');
    const fb = new FnBuilder(m, 1);
    const acc = Array.from({ length: K }, () => fb.local(binaryen.v128));
    const a = fb.local(binaryen.v128), b = fb.local(binaryen.v128), i = fb.local(binaryen.i32);
    const UNROLL = 4;
    const step = Array.from({ length: UNROLL }, () => acc.map((x) => fb.set(x, m.f32x4.add(m.f32x4.mul(fb.getv(x), fb.getv(b)), fb.getv(a))))).flat();
    let sum = fb.getv(acc[0]);
    for (const x of acc.slice(1)) sum = m.f32x4.add(sum, fb.getv(x));
    const loopL = fb.label('P');
    m.addFunction('peak', binaryen.i32, binaryen.none, fb.vars, m.block(null, [
      fb.set(a, m.f32x4.splat(m.f32.const(0.001))),
      fb.set(b, m.f32x4.splat(m.f32.const(0.999))),
      ...acc.map((x, k) => fb.set(x, m.f32x4.splat(m.f32.const(k)))),
      fb.set(i, m.i32.const(0)),
      m.loop(loopL, m.block(null, [...step, fb.set(i, m.i32.add(fb.geti(i), m.i32.const(1))), m.br(loopL, m.i32.lt_s(fb.geti(i), m.local.get(0, binaryen.i32)))])),
      m.v128.store(0, 16, m.i32.const(0), sum),
    ]));
    m.addFunctionExport('peak', 'peak');
    const bytes = m.emitBinary();
    m.dispose();
    const inst = await WebAssembly.instantiate(await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>), {});
    const peak = inst.exports.peak as (n: number) => void;
    const iters = 200_000;
    for (let w = 0; w < 30; w++) peak(iters); // tier up to TurboFan
    let bestMs = Infinity;
    for (let r = 0; r < 20; r++) {
      const t0 = performance.now();
      peak(iters);
      bestMs = Math.min(bestMs, performance.now() - t0);
    }
    const gflops = (iters * UNROLL * K * 8) / bestMs / 1e6;
    if (gflops > best.gflops) best = { gflops, accumulators: K };
  }
  return best;
}

/**
 * Bytes of what a browser app of the wasm target bundles (artifact decoding + runtime/wasm, the
 * wasm branch of runtime/index.ts), minified with esbuild, and gzipped.
 */
async function runtimeSize(): Promise<{ min: number; gz: number }> {
  const entry = "export { decodeArtifact } from './runtime/artifact.ts'; export { WasmSession } from './runtime/wasm/index.ts';";
  const r = await esbuild.build({ stdin: { contents: entry, resolveDir: ROOT, loader: 'ts' }, bundle: true, minify: true, format: 'esm', platform: 'browser', write: false });
  const code = r.outputFiles[0].contents;
  return { min: code.length, gz: gzipSync(code).length };
}

function cpuModel(): string {
  try {
    const m = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1].trim();
  } catch { /* not Linux */ }
  return os.cpus()[0]?.model ?? 'unknown';
}

interface Layer { node: string; op: string; ms: number; best: number; gflops: number; bestGflops: number }

interface Row {
  model: string; cnnc: number; simd128?: number; web: number; node: number; tfjs?: number; litert?: number;
  err: number; tfjsErr?: number; litertErr?: number; litertBuild?: string; firstCnnc: number; firstWeb: number; compileMs: number; artifactMB: number;
}

export async function benchWasm(opt: BenchOptions): Promise<string> {
  const names = opt.models ?? NAMES;
  const load0 = os.loadavg()[0];
  const relaxed = enableRelaxedSimd(); // before any module compiles: cnnc and LiteRT.js both run their relaxed-SIMD builds
  ortWeb.env.wasm.numThreads = 1;
  const peak = await measurePeak();
  process.stderr.write(`wasm SIMD peak: ${peak.gflops.toFixed(1)} GFLOP/s (${peak.accumulators} accumulators)\n`);
  const rows: Row[] = [];
  let layers: Layer[] = [];
  for (const name of names) {
    const dir = path.join(MODELS, name);
    const onnxBytes = readFileSync(path.join(dir, 'model.onnx'));
    const xData = f32File(path.join(dir, 'test_data_set_0/input_0.bin'));
    const want = f32File(path.join(dir, 'test_data_set_0/output_0.bin'));
    // cnnc: compile, save, then load → first result, then steady state
    let t0 = performance.now();
    const compiled = await compile(loadOnnxFile(path.join(dir, 'model.onnx')), 'wasm');
    const bytes = compiled.save();
    const compileMs = performance.now() - t0;
    const x = tensor('f32', compiled.inputs[0].shape, xData);
    t0 = performance.now();
    const session = await load(bytes, { threads: 1 }); // one thread, like every peer here (bench --target wasm-threads times threads)
    let y = (await session.run({ input: x })).output.data as Float32Array;
    const firstCnnc = performance.now() - t0;
    y = (await session.run({ input: x })).output.data as Float32Array;
    const err = relErr(want, y);
    // the same artifact's SIMD128 build (a mul and an add per lane), for the relaxed-SIMD speed-up
    const plain = relaxed ? await WasmSession.create(decodeArtifact(bytes), { simd: 'simd128' }) : undefined;
    // onnxruntime-web (wasm, 1 thread): session creation + first run, like cnnc's load + first run
    t0 = performance.now();
    const web = await ortWeb.InferenceSession.create(new Uint8Array(onnxBytes), { executionProviders: ['wasm'] });
    const feedsWeb = { input: new ortWeb.Tensor('float32', xData, compiled.inputs[0].shape) };
    await web.run(feedsWeb);
    const firstWeb = performance.now() - t0;
    // onnxruntime-node (CPU, 1 thread)
    const nodeSess = await ortNode.InferenceSession.create(path.join(dir, 'model.onnx'), { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' });
    const feedsNode = { input: new ortNode.Tensor('float32', xData, compiled.inputs[0].shape) };
    // TensorFlow.js wasm (XNNPACK), same weights
    const peer = TFJS.includes(name) ? await tfjsPeer(name as TfjsModelName) : undefined;
    const tfjsErr = peer ? relErr(want, await peer.run(xData)) : undefined;
    // LiteRT.js (XNNPACK wasm) on the model's .tflite copy, same weights
    const lite = LITERT_MODELS.includes(name) ? await litertPeer(name) : undefined;
    const litertErr = lite ? relErr(want, await lite.run(xData)) : undefined;
    // Runs interleaved (one of each per round), so that the shared machine's load falls on all alike.
    const [cnnc, webMs, nodeMs, ...more] = await timeInterleaved([
      () => session.run({ input: x }), () => web.run(feedsWeb), () => nodeSess.run(feedsNode),
      ...(plain ? [() => plain.run({ input: x })] : []), ...(peer ? [() => peer.run(xData)] : []), ...(lite ? [() => lite.run(xData)] : []),
    ], opt.runs, opt.warmup);
    const simd128Ms = plain ? more.shift() : undefined, tfjsMs = peer ? more.shift() : undefined, litertMs = lite ? more.shift() : undefined;
    lite?.dispose();
    await web.release();
    await nodeSess.release();
    peer?.dispose();
    rows.push({ model: name, cnnc, simd128: simd128Ms, web: webMs, node: nodeMs, tfjs: tfjsMs, litert: litertMs, litertErr, litertBuild: lite?.build, err, tfjsErr, firstCnnc, firstWeb, compileMs, artifactMB: bytes.length / 1e6 });
    process.stderr.write(`${name}: cnnc ${cnnc.toFixed(2)} ms${simd128Ms ? ` (SIMD128 build ${simd128Ms.toFixed(2)} ms)` : ''}, ort-web ${webMs.toFixed(2)} ms, ort-node ${nodeMs.toFixed(2)} ms${tfjsMs ? `, tfjs ${tfjsMs.toFixed(2)} ms` : ''}${litertMs ? `, litert ${litertMs.toFixed(2)} ms` : ''}\n`);
    if (name === 'resnet18') layers = await perLayer(bytes, x, opt);
  }
  const size = await runtimeSize();
  const tools = compileLoadTable(await benchCompileLoad());
  const load1 = os.loadavg()[0];
  const text = `${report(rows, layers, peak, size, { load0, load1 }, opt)}\n\n${tools}`;
  if (opt.write) writeDocSection('wasm-bench', `## WebAssembly SIMD (cnnc wasm target)\n\n${text}`);
  return text;
}

/** Times every step of the wasm module alone (its inputs in place from a full run). */
async function perLayer(bytes: Uint8Array, x: ReturnType<typeof tensor>, opt: BenchOptions) {
  const s = await WasmSession.create(decodeArtifact(bytes));
  s.runSync({ input: x });
  for (let i = 0; i < opt.warmup; i++) s.runSync({ input: x });
  return s.plan.steps.map((st) => {
    const fn = s.exports[st.fn] as () => void;
    const ts: number[] = [];
    for (let i = 0; i < Math.max(opt.runs, 20); i++) {
      const t0 = performance.now();
      fn();
      ts.push(performance.now() - t0);
    }
    const ms = median(ts), best = Math.min(...ts);
    return { node: st.node, op: st.op, ms, best, gflops: st.flops / ms / 1e6, bestGflops: st.flops / best / 1e6 };
  });
}

function report(rows: Row[], layers: Layer[], peak: { gflops: number; accumulators: number },
  size: { min: number; gz: number }, load: { load0: number; load1: number }, opt: BenchOptions): string {
  const f = (x: number, d = 2) => x.toFixed(d);
  const out: string[] = [];
  out.push(`Machine: ${cpuModel()}, ${os.cpus().length} cores, Node ${process.version}; one thread everywhere, batch 1; relaxed SIMD ${rows.some((r) => r.simd128 !== undefined) ? 'on (V8 flag set at start: cnnc and LiteRT.js run their relaxed-SIMD builds)' : 'unavailable'}.`);
  out.push(`Medians of ${opt.runs} runs after ${opt.warmup} warm-up runs (the runtimes interleaved round by round), all from one run of \`npm run bench\` (${new Date().toISOString().slice(0, 16)}Z).`);
  out.push(`Load average (1 min) at start/end: ${f(load.load0, 1)} / ${f(load.load1, 1)} (the machine is shared: numbers move with it).`);
  out.push('');
  out.push('| model | cnnc wasm | onnxruntime-web wasm | ratio | onnxruntime-node CPU | ratio | TF.js wasm (XNNPACK) | ratio | LiteRT.js wasm (XNNPACK) | ratio | cnnc max rel. error |');
  out.push('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const peer = (ms: number | undefined, none: string) => (ms !== undefined ? `${f(ms)} ms | ${f(r.cnnc / ms)}×` : `${none} | –`);
    out.push(`| ${r.model} | ${f(r.cnnc)} ms | ${f(r.web)} ms | ${f(r.cnnc / r.web)}× | ${f(r.node)} ms | ${f(r.cnnc / r.node)}× | ${peer(r.tfjs, 'not built')} | ${peer(r.litert, 'no .tflite')} | ${r.err.toExponential(1)} |`);
  }
  out.push('');
  out.push('Ratio = cnnc latency / peer latency (below 1: cnnc is faster). Outputs checked against PyTorch\'s (test set 0); TF.js max rel. error: ' +
    rows.filter((r) => r.tfjsErr !== undefined).map((r) => `${r.model} ${r.tfjsErr!.toExponential(1)}`).join(', ') + '; LiteRT.js (`@litertjs/core`, ' +
    `${rows.find((r) => r.litertBuild)?.litertBuild ?? '–'} build, model.tflite, NHWC input): ` +
    rows.filter((r) => r.litertErr !== undefined).map((r) => `${r.model} ${r.litertErr!.toExponential(1)}`).join(', ') + '.');
  if (rows.some((r) => r.simd128 !== undefined)) {
    out.push('');
    out.push('cnnc\'s relaxed-SIMD build (`f32x4.relaxed_madd`, the one that runs above) vs the same artifact\'s SIMD128 build (a mul and an add), same rounds: ' +
      rows.filter((r) => r.simd128 !== undefined).map((r) => `${r.model} ${f(r.simd128!)} → ${f(r.cnnc)} ms (${f(r.simd128! / r.cnnc)}× faster)`).join('; ') + '.');
  }
  out.push('');
  out.push('Time to first result (cold, in this warm Node process):');
  out.push('');
  out.push('| model | cnnc: load artifact + first run | onnxruntime-web: session create + first run | cnnc compile + save | artifact |');
  out.push('|---|---|---|---|---|');
  for (const r of rows) out.push(`| ${r.model} | ${f(r.firstCnnc, 0)} ms | ${f(r.firstWeb, 0)} ms | ${f(r.compileMs, 0)} ms | ${f(r.artifactMB, 1)} MB |`);
  out.push('');
  out.push(`WebAssembly SIMD peak measured here: **${f(peak.gflops, 1)} GFLOP/s** (${peak.accumulators} independent f32x4 mul+add chains, TurboFan).`);
  out.push(`Runtime bundle (artifact decoding + runtime/wasm, esbuild --bundle --minify): ${(size.min / 1024).toFixed(1)} KiB, ${(size.gz / 1024).toFixed(1)} KiB gzipped.`);
  if (layers.length) {
    out.push('');
    out.push(`ResNet-18 per step, each step function timed alone over ${Math.max(opt.runs, 20)} calls: median, and best (the`);
    out.push('estimate least disturbed by the shared machine, measured like the peak, which is a best of 20):');
    out.push('');
    out.push('| node | kernel | median ms | GFLOP/s (median) | best ms | GFLOP/s (best) | share of peak (best) |');
    out.push('|---|---|---|---|---|---|---|');
    for (const l of layers) {
      const fl = l.gflops > 0 && /^Conv|^Gemm/.test(l.op);
      const d = (x: string) => (fl ? x : '–');
      out.push(`| ${l.node} | ${l.op} | ${f(l.ms, 3)} | ${d(f(l.gflops, 1))} | ${f(l.best, 3)} | ${d(f(l.bestGflops, 1))} | ${d(`${f((100 * l.bestGflops) / peak.gflops, 0)}%`)} |`);
    }
    const conv3 = layers.filter((l) => /^Conv/.test(l.op) && l.gflops > 0);
    const total = layers.reduce((s, l) => s + l.ms, 0);
    out.push('');
    const flops3 = layers.filter((l) => /^Conv/.test(l.op) && !/downsample|^\/conv1\//.test(l.node));
    const share = (g: (l: Layer) => number) => (100 * flops3.reduce((s, l) => s + l.gflops * l.ms, 0) / flops3.reduce((s, l) => s + g(l), 0)) / peak.gflops;
    out.push(`Sum of step medians: ${f(total)} ms (convolutions ${f(conv3.reduce((s, l) => s + l.ms, 0))} ms). The 16 3×3 convs of layer1–4 together: ` +
      `${f(share((l) => l.ms), 0)}% of peak by medians, ${f(share((l) => l.best), 0)}% by best times.`);
  }
  return out.join('\n');
}

