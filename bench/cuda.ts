/**
 * `npm run bench -- --target cuda`: ResNet-50 and MobileNetV2 (zoo, seeded weights) at batch 1 and
 * 32, f32 and f16, through runtime/cuda on the GPU: median time per inference (kernels only, the
 * input already in the arena, synchronised per run), achieved TFLOP/s (FLOPs = 2·MACs from the
 * cost model) and the share of the GPU's peak: FP32 FMA peak and, for f16 rows (GEMM-shaped layers
 * on tensor cores via WMMA, the rest in f32 registers), the dense f16 tensor-core peak. In the same run,
 * onnxruntime-node's CUDA execution provider on the same models exported to ONNX, where it loads.
 * Writes the table into docs/benchmarks.md (the CUDA section).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { compileCuda } from '../codegen/cuda/index.js';
import { exportOnnx } from '../frontends/onnx/export.js';
import { graphCost } from '../ir/cost.js';
import { zoo } from '../models/index.js';
import { runPipeline } from '../passes/pipeline.js';
import { decodeArtifact } from '../runtime/artifact.js';
import { CudaSession } from '../runtime/cuda/index.js';
import { cudaDriver, type Driver } from '../runtime/cuda/driver.js';
import { fromF64 } from '../runtime/tensor.js';
import { timeRuns } from '../cli/util.js';

export interface BenchOptions { runs: number; warmup: number; models?: string[]; write: boolean }

const ROOT = path.join(import.meta.dirname, '..');

/** Peak FLOP/s from the device: SMs × clock × (FP32 lanes, f16 tensor FLOP per clock per SM). */
export function peaks(d: Driver): { cc: number; fp32: number; tensorF16: number; sms: number; ghz: number } {
  const cc = d.attribute(75) * 10 + d.attribute(76);   // COMPUTE_CAPABILITY_MAJOR / MINOR
  const sms = d.attribute(16);                          // MULTIPROCESSOR_COUNT
  let ghz = 0;
  try { ghz = d.attribute(13) / 1e6; } catch { /* CLOCK_RATE is deprecated in newer drivers */ }
  if (!(ghz > 0.3)) ghz = /H100|H200|GH200/.test(d.deviceName) ? 1.98 : /A100/.test(d.deviceName) ? 1.41 : 1.5; // boost clocks
  const lanes = cc === 80 || cc < 80 ? 64 : 128;        // FP32 FMA lanes per SM (A100: 64; sm_86+: 128)
  const tensor = ({ 80: 2048, 86: 1024, 87: 1024, 89: 1024, 90: 4096 } as Record<number, number>)[cc] ?? (cc >= 100 ? 8192 : 1024);
  return { cc, sms, ghz, fp32: sms * lanes * 2 * ghz * 1e9, tensorF16: sms * tensor * ghz * 1e9 };
}

interface Row { model: string; batch: number; dtype: string; ms: number; gflop: number; tflops: number; ofFp32: number; ofTensor?: number; ortMs?: number; ortNote?: string }


/** onnxruntime-node with the CUDA execution provider, or why it does not run here. */
async function ortCuda(onnx: Uint8Array, input: Float32Array, shape: number[], runs: number, warmup: number): Promise<{ ms?: number; note?: string }> {
  try {
    const ort = await import('onnxruntime-node');
    const s = await ort.InferenceSession.create(onnx, { executionProviders: ['cuda'] });
    const feeds = { [s.inputNames[0]]: new ort.Tensor('float32', input, shape) };
    return { ms: await timeRuns(() => s.run(feeds), runs, warmup) };
  } catch (e) {
    return { note: `unavailable: ${String((e as Error).message ?? e).split('\n')[0].slice(0, 80)}` };
  }
}

export async function benchCuda(opt: BenchOptions): Promise<string> {
  const drv = await cudaDriver();   // NO_DEVICE here when there is no GPU
  const p = peaks(drv);
  process.stderr.write(`${drv.deviceName}: sm_${p.cc}, ${p.sms} SMs at ${p.ghz.toFixed(2)} GHz; FP32 peak ${(p.fp32 / 1e12).toFixed(1)} TFLOP/s, f16 tensor peak ${(p.tensorF16 / 1e12).toFixed(0)} TFLOP/s\n`);
  const rows: Row[] = [];
  for (const name of opt.models ?? ['resnet50', 'mobilenet_v2']) {
    for (const batch of [1, 32]) {
      const g0 = zoo(name, { batch });
      const flops = graphCost(g0).flops;
      const shape = [...g0.type(g0.inputs[0]).shape];
      const n = shape.reduce((a, b) => a * b, 1);
      const x64 = Float64Array.from({ length: n }, (_, i) => Math.sin(i * 0.37));
      const ort = await ortCuda(exportOnnx(g0), Float32Array.from(x64), shape, opt.runs, opt.warmup);
      for (const fp16 of [false, true]) {
        const g = runPipeline(g0, 'cuda', { fp16 }).graph;
        const c = compileCuda(g);
        const session = await CudaSession.create(decodeArtifact(c.save()));
        const input = g.inputs[0];
        await session.run({ [input]: fromF64(g.type(input).dtype, shape, x64) });   // inputs now sit in the arena
        const ms = await timeRuns(() => session.launchAll(true), opt.runs, opt.warmup);
        session.dispose();
        const tflops = flops / (ms / 1e3) / 1e12;
        rows.push({
          model: name, batch, dtype: fp16 ? 'f16' : 'f32', ms, gflop: flops / 1e9 / batch, tflops,
          ofFp32: (tflops * 1e12) / p.fp32, ofTensor: fp16 ? (tflops * 1e12) / p.tensorF16 : undefined,
          ...(fp16 ? {} : { ortMs: ort.ms, ortNote: ort.note }),
        });
        process.stderr.write(`${name} b${batch} ${fp16 ? 'f16' : 'f32'}: ${ms.toFixed(3)} ms\n`);
      }
    }
  }
  const pct = (v?: number) => (v === undefined ? '' : `${(v * 100).toFixed(1)}%`);
  const table = [
    `GPU: ${drv.deviceName} (sm_${p.cc}, ${p.sms} SMs, ${p.ghz.toFixed(2)} GHz); peaks from the device: FP32 FMA ${(p.fp32 / 1e12).toFixed(1)} TFLOP/s, dense f16 tensor ${(p.tensorF16 / 1e12).toFixed(0)} TFLOP/s. Medians of ${opt.runs} runs after ${opt.warmup} warm-up runs.`,
    '',
    '| model | batch | dtype | cnnc median ms | TFLOP/s | % FP32 peak | % f16 tensor peak | onnxruntime-node CUDA EP (f32) ms |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.model} | ${r.batch} | ${r.dtype} | ${r.ms.toFixed(3)} | ${r.tflops.toFixed(2)} | ${pct(r.ofFp32)} | ${pct(r.ofTensor)} | ${r.ortMs !== undefined ? r.ortMs.toFixed(3) : r.ortNote ?? ''} |`),
  ].join('\n');
  if (opt.write) writeSection(table);
  return table;
}

const START = '<!-- cuda-bench:start -->', END = '<!-- cuda-bench:end -->';

/** Replaces the CUDA benchmark block of docs/benchmarks.md (other sections are left alone). */
function writeSection(text: string): void {
  const file = path.join(ROOT, 'docs/benchmarks.md');
  let doc = '';
  try { doc = readFileSync(file, 'utf8'); } catch { doc = '# Benchmarks\n'; }
  const block = `${START}\n${text}\n${END}`;
  const a = doc.indexOf(START), b = doc.indexOf(END);
  doc = a >= 0 && b > a ? doc.slice(0, a) + block + doc.slice(b + END.length) : `${doc.trimEnd()}\n\n## CUDA (cnnc cuda target)\n\n${block}\n`;
  // the status paragraph above the block speaks of no measurement: mark it superseded
  doc = doc.replace('**Status: not yet measured on a GPU.**', '**Measured on a GPU (table below); the CPU-side checks:**');
  writeFileSync(file, doc);
}
