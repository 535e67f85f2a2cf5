/** `cnnc bench`: median latency of the compiled artifact, and of onnxruntime-node on the same model. */
import { readFileSync } from 'node:fs';
import { compile, type TargetName } from '../index.js';
import { load } from '../runtime/index.js';
import type { Tensor } from '../runtime/tensor.js';
import { exportOnnx } from '../frontends/onnx/export.js';
import { loadModel } from '../index.js';
import { randomInput, timeRuns } from './util.js';


/** onnxruntime-node's median on the same model and input, or undefined where it is not installed. */
async function ortMedian(onnx: Uint8Array, inputs: Record<string, Tensor>, runs: number, warmup: number, threads: number): Promise<number | undefined> {
  let ort: typeof import('onnxruntime-node');
  try { ort = await import('onnxruntime-node'); } catch { return undefined; }
  const session = await ort.InferenceSession.create(onnx, { intraOpNumThreads: threads, interOpNumThreads: 1 });
  const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {};
  for (const [name, t] of Object.entries(inputs)) feeds[name] = new ort.Tensor('float32', t.data as Float32Array, [...t.shape]);
  return timeRuns(() => session.run(feeds), runs, warmup);
}

export async function benchModel(model: string, target: TargetName, runs: number, warmup: number, threads = 1): Promise<string> {
  const g = loadModel(model);
  const cm = await compile(g, target);
  const session = await load(cm.save(), { threads });
  const inputs: Record<string, Tensor> = {};
  for (const spec of cm.inputs) inputs[spec.name] = randomInput(spec.dtype, spec.shape);
  const ours = await timeRuns(() => session.run(inputs), runs, warmup);
  const onnx = model.endsWith('.onnx') ? readFileSync(model) : exportOnnx(g);
  const theirs = await ortMedian(onnx, inputs, runs, warmup, threads);
  session.dispose();
  const ran = session.backend === 'wasm' ? session.threads : 1;
  const note = session.threadsNote ? ` (cnnc: ${session.threadsNote})` : '';
  const lines = [
    `model ${model}, batch 1, ${ran} thread${ran === 1 ? '' : 's'}${note}, median of ${runs} runs after ${warmup} warm-up`,
    `cnnc ${target.padEnd(6)}      ${ours.toPrecision(4).padStart(9)} ms`,
  ];
  if (theirs !== undefined) {
    lines.push(`onnxruntime-node   ${theirs.toPrecision(4).padStart(9)} ms`);
    lines.push(`ratio cnnc / ort-node: ${(ours / theirs).toPrecision(3)}`);
  } else {
    lines.push('onnxruntime-node: not installed (npm i onnxruntime-node to compare)');
  }
  return lines.join('\n');
}
