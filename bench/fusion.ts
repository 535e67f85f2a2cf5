/**
 * The effect of cnnc's fusion passes on latency (`npm run bench -- --target fusion`, issue 15):
 * each model compiled for wasm twice — the default pipeline, and with the fusion passes that
 * find their own patterns disabled (FUSION_PASSES) — and timed interleaved with onnxruntime-web
 * (wasm, 1 thread) on the same ONNX bytes; batch 1, one thread everywhere, medians. Outputs are
 * checked against onnxruntime-web's. Models: those whose kernels the passes change (EfficientNet-B0's
 * squeeze-excitation blocks, ConvNeXt-Tiny exported at opset 13 with its LayerNorms and GELUs
 * written out, YOLOv5s's bottleneck Adds after SiLU) and two controls the passes leave alone.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ortWeb from 'onnxruntime-web';
import { randomInput } from '../cli/util.js';
import { compile } from '../index.js';
import { exportOnnx } from '../frontends/onnx/export.js';
import { importOnnx } from '../frontends/onnx/import.js';
import { PASSES } from '../passes/pipeline.js';
import { zoo } from '../models/index.js';
import { load } from '../runtime/index.js';
import { opset13Bytes } from '../test/decomposed.js';
import { enableRelaxedSimd } from './litert.js';
import { relErr, timeInterleaved, writeDocSection } from './common.js';
import type { BenchOptions } from './wasm.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const MODELS = path.resolve(ROOT, '../shared/models');

/** The passes issue 15 added: trait-based elementwise groups, squeeze-excitation fusion (gate, scale on load), residuals after activations. */
const FUSION_PASSES = ['fuse-elementwise', 'fuse-squeeze-excitation', 'fuse-scale-on-load', 'fuse-residual-after-act', 'canonicalize'].filter((p) => PASSES[p]);

const SOURCES: Record<string, () => Uint8Array> = {
  efficientnet_b0: () => readFileSync(path.join(MODELS, 'efficientnet_b0/model.onnx')),
  'convnext_tiny (opset-13 export, 224×224)': () => opset13Bytes(zoo('convnext_tiny', { size: 224 })),
  mobilenet_v2: () => readFileSync(path.join(MODELS, 'mobilenet_v2/model.onnx')),
  squeezenet1_1: () => readFileSync(path.join(MODELS, 'squeezenet1_1/model.onnx')),
  'yolov5s (zoo, 320×320)': () => exportOnnx(zoo('yolov5s', { size: 320 })),
};
/** Rows built here rather than read from ../shared/models. */
const BUILT = (model: string) => model.startsWith('convnext') || model.startsWith('yolov5s');

interface Row { model: string; kBefore: number; kAfter: number; before: number; after: number; web: number; errBefore: number; errAfter: number }

export async function benchFusion(opt: BenchOptions): Promise<string> {
  enableRelaxedSimd();
  ortWeb.env.wasm.numThreads = 1;
  const load0 = os.loadavg()[0];
  const rows: Row[] = [];
  for (const [model, source] of Object.entries(SOURCES)) {
    if (opt.models && !opt.models.some((m) => model.startsWith(m))) continue;
    if (!BUILT(model) && !existsSync(path.join(MODELS, model, 'model.onnx'))) continue; // ../shared/models absent
    const bytes = source();
    const after = await compile(importOnnx(bytes), 'wasm');
    const before = await compile(importOnnx(bytes), 'wasm', { disable: FUSION_PASSES });
    const spec = after.inputs[0];
    const x = randomInput('f32', spec.shape, 7);
    const xs = x.data as Float32Array;
    const sA = await load(after.save(), { threads: 1 }), sB = await load(before.save(), { threads: 1 });
    const web = await ortWeb.InferenceSession.create(new Uint8Array(bytes), { executionProviders: ['wasm'] });
    const feeds = { [spec.name]: new ortWeb.Tensor('float32', xs, spec.shape) };
    const want = (await web.run(feeds))[web.outputNames[0]].data as Float32Array;
    const out = async (s: typeof sA) => Object.values(await s.run({ [spec.name]: x }))[0].data as Float32Array;
    const errAfter = relErr(want, await out(sA)), errBefore = relErr(want, await out(sB));
    const [tA, tB, tW] = await timeInterleaved([() => sA.run({ [spec.name]: x }), () => sB.run({ [spec.name]: x }), () => web.run(feeds)], opt.runs, opt.warmup);
    await web.release();
    rows.push({ model, kBefore: before.stats.kernels, kAfter: after.stats.kernels, before: tB, after: tA, web: tW, errBefore, errAfter });
    process.stderr.write(`${model}: fused ${tA.toFixed(2)} ms (${after.stats.kernels} kernels), unfused ${tB.toFixed(2)} ms (${before.stats.kernels}), ort-web ${tW.toFixed(2)} ms\n`);
  }
  const f = (v: number, d = 2) => v.toFixed(d);
  const out = [
    `\`npm run bench -- --target fusion\` (bench/fusion.ts), ${new Date().toISOString().slice(0, 16)}Z, Node ${process.version}, ${os.cpus().length} cores, load average ${f(load0, 1)} → ${f(os.loadavg()[0], 1)}.`,
    `wasm, batch 1, one thread everywhere, relaxed SIMD where available; medians of ${opt.runs} interleaved rounds after ${opt.warmup} warm-up runs. "Unfused": the default pipeline with ${FUSION_PASSES.map((p) => `\`${p}\``).join(', ')} disabled. Errors: max |cnnc − onnxruntime-web| / max |onnxruntime-web| on one seeded standard-normal input.`,
    '',
    '| model | kernels unfused → fused | unfused ms | fused ms | fused / unfused | onnxruntime-web ms | unfused / ort-web | fused / ort-web | max rel. error unfused / fused |',
    '|---|---|---:|---:|---:|---:|---:|---:|---|',
    ...rows.map((r) => `| ${r.model} | ${r.kBefore} → ${r.kAfter} | ${f(r.before)} | ${f(r.after)} | ${f(r.after / r.before)}× | ${f(r.web)} | ${f(r.before / r.web)}× | ${f(r.after / r.web)}× | ${r.errBefore.toExponential(1)} / ${r.errAfter.toExponential(1)} |`),
  ].join('\n');
  if (opt.write) writeDocSection('fusion-bench', `## Fusion and latency (wasm)\n\n${out}`);
  return out;
}

