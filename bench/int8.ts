/**
 * The int8 benchmark (`npm run bench -- --target int8`): post-training quantization with
 * `cnnc quantize` (cli/quantize.ts) of MobileNetV2 and ResNet-18 from ../shared/models, then in one
 * run, batch 1, one thread, interleaved, medians:
 *   - cnnc int8 wasm vs cnnc's own f32 wasm on the f32 model;
 *   - vs onnxruntime-web (wasm, 1 thread) running the same QDQ file;
 *   - the artifacts' weight bytes (int8 / f32);
 *   - top-1 agreement of int8 with f32 (cnnc wasm both) over held-back seeded inputs.
 * Data: the models have random weights (no accuracy to measure), so agreement with f32 is the
 * measure. Calibration: 32 seeded standard-normal inputs (randomCalibration: seeds 1000 + 31k),
 * min-max and mse (the per-tensor clipping with the least squared error), both through cnnc's f32 wasm build;
 * held-back: 200 seeded standard-normal inputs (seeds 500000 + k), none of them in the calibration.
 * Writes its table into docs/benchmarks.md (the int8 section).
 */
import { existsSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ortWeb from 'onnxruntime-web';
import { quantizeOnnx, randomCalibration } from '../cli/quantize.js';
import { randomInput } from '../cli/util.js';
import { compile } from '../index.js';
import { load } from '../runtime/index.js';
import type { Tensor } from '../runtime/tensor.js';
import { enableRelaxedSimd } from './litert.js';
import { timeInterleaved, writeDocSection } from './common.js';
import { CHROMIUM, benchInt8Browser, type Int8BrowserModel } from './int8-browser.js';
import type { Int8PageResult } from './int8-page.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const MODELS = path.resolve(ROOT, '../shared/models');
const NAMES = ['mobilenet_v2', 'resnet18'];
const CALIBRATION = 32, HELD_BACK = 200;

export interface Int8BenchOptions { runs: number; warmup: number; models?: string[]; write: boolean }

interface Row {
  model: string; f32: number; int8: number; web: number; f32x2: number; int8x2: number; weightRatio: number; agree: number; agreeMse: number; agreeFirst: number; quantizeS: number; int8Kernels: string;
}

const argmax = (a: ArrayLike<number>) => { let k = 0; for (let i = 1; i < a.length; i++) if (a[i] > a[k]) k = i; return k; };

async function benchModel(name: string, opt: Int8BenchOptions, forBrowser: Int8BrowserModel[]): Promise<Row> {
  const f32Bytes = readFileSync(path.join(MODELS, name, 'model.onnx'));
  let t0 = performance.now();
  const calibration = randomCalibration(f32Bytes, CALIBRATION);
  const q = await quantizeOnnx(f32Bytes, { calibration });
  const quantizeS = (performance.now() - t0) / 1000;
  const qp = await quantizeOnnx(f32Bytes, { calibration, method: { kind: 'mse' } });
  const qf = await quantizeOnnx(f32Bytes, { calibration, keepFloat: ['first'] });
  process.stderr.write(`${name}: quantized in ${quantizeS.toFixed(0)} s\n`);
  const cf = await compile(f32Bytes, 'wasm'), cq = await compile(q, 'wasm'), cp = await compile(qp, 'wasm'), cfirst = await compile(qf, 'wasm');
  const ops = cq.graph.nodes.map((n) => n.op);
  const int8Kernels = `${ops.filter((o) => o === 'QConv').length} QConv, ${ops.filter((o) => o === 'QGemm').length} QGemm, ${ops.filter((o) => o === 'Conv' || o === 'Gemm').length} f32 Conv/Gemm`;
  const sf = await load(cf.save(), { threads: 1 }), sq = await load(cq.save(), { threads: 1 }), sp = await load(cp.save(), { threads: 1 });
  const sfirst = await load(cfirst.save(), { threads: 1 });
  forBrowser.push({ name, shape: [...cf.inputs[0].shape], f32: cf.save(), int8: cq.save(), qdq: q });
  const input = cf.inputs[0];
  const x = randomInput('f32', input.shape, 424242);
  const web = await ortWeb.InferenceSession.create(new Uint8Array(q), { executionProviders: ['wasm'] });
  const feedsWeb = { [web.inputNames[0]]: new ortWeb.Tensor('float32', x.data as Float32Array, [...input.shape]) };
  const run = (s: typeof sf, t: Tensor) => s.run({ [input.name]: t });
  const [f32, int8, webMs] = await timeInterleaved([() => run(sf, x), () => run(sq, x), () => web.run(feedsWeb)], opt.runs, opt.warmup);
  // the same two artifacts on 2 threads each (the int8 convs split by units like the f32 ones)
  const sf2 = await load(cf.save(), { threads: 2 }), sq2 = await load(cq.save(), { threads: 2 });
  const [f32x2, int8x2] = await timeInterleaved([() => run(sf2, x), () => run(sq2, x)], opt.runs, opt.warmup);
  sf2.dispose();
  sq2.dispose();
  let agree = 0, agreeMse = 0, agreeFirst = 0;
  const top1 = async (s: typeof sf, h: Tensor) => argmax(Object.values(await run(s, h))[0].data as Float32Array);
  for (let k = 0; k < HELD_BACK; k++) {
    const h = randomInput('f32', input.shape, 500000 + k);
    const a = await top1(sf, h);
    if (a === await top1(sq, h)) agree++;
    if (a === await top1(sp, h)) agreeMse++;
    if (a === await top1(sfirst, h)) agreeFirst++;
  }
  return {
    model: name, f32, int8, web: webMs, f32x2, int8x2, weightRatio: cq.stats.weightBytes / cf.stats.weightBytes, agree: agree / HELD_BACK, agreeMse: agreeMse / HELD_BACK, agreeFirst: agreeFirst / HELD_BACK, quantizeS, int8Kernels,
  };
}

function table(rows: Row[], load0: number, load1: number): string {
  const lines = [
    `\`npm run bench -- --target int8\` (bench/int8.ts). Measured ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}, load average ${load0.toFixed(1)} → ${load1.toFixed(1)} (a shared machine: the ratios, from one interleaved run, are what compares). Batch 1, one thread, medians over ${rows.length ? 'the timed runs' : '-'}; cnnc runs its relaxed-SIMD build where the engine has it, onnxruntime-web its wasm backend with 1 thread on the same QDQ file.`,
    '',
    `Models: ../shared/models (random weights). \`cnnc quantize\` with ${CALIBRATION} seeded standard-normal calibration inputs (seeds 1000 + 31k), calibrated through cnnc's f32 wasm build, min-max (timed), \`--calibration mse\` and min-max with \`--keep-f32 first\`; layer outputs that no int8 layer reads (the logits, convs feeding residual Adds) are not requantized (int8 layers with f32 output); top-1 agreement of int8 with f32 (both cnnc wasm) over ${HELD_BACK} held-back seeded standard-normal inputs (seeds 500000 + k). "2 threads": the same artifacts loaded with \`threads: 2\`, timed interleaved after the one-thread columns.`,
    '',
    '| model | f32 wasm ms | int8 wasm ms | int8 / f32 | onnxruntime-web int8 ms | cnnc int8 / ort-web | weights int8 / f32 | top-1 agreement (min-max) | (mse) | (min-max, first layer f32) | quantize s | int8 kernels | f32, 2 threads ms | int8, 2 threads ms | int8 / f32, 2 threads |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|',
    ...rows.map((r) => `| ${r.model} | ${r.f32.toFixed(1)} | ${r.int8.toFixed(1)} | ${(r.int8 / r.f32).toFixed(2)}× | ${r.web.toFixed(1)} | ${(r.int8 / r.web).toFixed(2)}× | ${r.weightRatio.toFixed(3)}× | ${(100 * r.agree).toFixed(1)}% | ${(100 * r.agreeMse).toFixed(1)}% | ${(100 * r.agreeFirst).toFixed(1)}% | ${r.quantizeS.toFixed(1)} | ${r.int8Kernels} | ${r.f32x2.toFixed(1)} | ${r.int8x2.toFixed(1)} | ${(r.int8x2 / r.f32x2).toFixed(2)}× |`),
  ];
  return lines.join('\n');
}

/** The Chromium leg's table: the same artifacts and QDQ files, timed in the browser. */
function browserTable(r: Int8PageResult | undefined, load0: number, load1: number): string {
  if (!r) return `In headless Chromium: not run (no ${CHROMIUM}).`;
  const chrome = /Chrome\/([\d.]+)/.exec(r.ua)?.[1] ?? r.ua;
  return [
    `The same artifacts and QDQ files in headless Chromium ${chrome} (bench/int8-browser.ts; page cross-origin isolated: ${r.isolated ? 'yes' : 'NO'}; load average ${load0.toFixed(1)} → ${load1.toFixed(1)}), one thread each, interleaved, medians; cnnc runs its relaxed-SIMD build there, whose dense int8 convs use \`i32x4.relaxed_dot_i8x16_i7x16_add_s\` where the engine multiplies u8 exactly (codegen/wasm/kernels-quant-relaxed.ts). "vs ort-web": max |cnnc int8 − onnxruntime-web| / max |onnxruntime-web| on one input.`,
    '',
    '| model | f32 wasm ms | int8 wasm ms | int8 / f32 | onnxruntime-web int8 ms | cnnc int8 / ort-web | int8 vs ort-web | same top-1 |',
    '|---|---:|---:|---:|---:|---:|---:|---|',
    ...r.rows.map((m) => `| ${m.name} | ${m.f32.toFixed(1)} | ${m.int8.toFixed(1)} | ${(m.int8 / m.f32).toFixed(2)}× | ${m.ort.toFixed(1)} | ${(m.int8 / m.ort).toFixed(2)}× | ${m.diff.toExponential(1)} | ${m.top1Same ? 'yes' : 'no'} |`),
  ].join('\n');
}

export async function benchInt8(opt: Int8BenchOptions): Promise<string> {
  const load0 = os.loadavg()[0];
  enableRelaxedSimd();
  ortWeb.env.wasm.numThreads = 1;
  const rows: Row[] = [], forBrowser: Int8BrowserModel[] = [];
  for (const name of opt.models ?? NAMES) rows.push(await benchModel(name, opt, forBrowser));
  const load1 = os.loadavg()[0];
  const web = existsSync(CHROMIUM) ? await benchInt8Browser(forBrowser, opt.runs, opt.warmup) : undefined;
  const text = `${table(rows, load0, load1)}\n\n${browserTable(web, load1, os.loadavg()[0])}`;
  if (opt.write) writeDocSection('int8-bench', `## int8 on WebAssembly (cnnc quantize → wasm)\n\n${text}`);
  return text;
}
