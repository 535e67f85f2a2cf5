/**
 * The page side of `npm run bench -- --target browser` (bench/browser.ts builds, serves and drives
 * it in headless Chromium). For one thread count (`?threads=N`) it loads, per model, cnnc's wasm
 * artifact (the runtime's public `load`), onnxruntime-web (wasm EP) on model.onnx and LiteRT.js
 * (XNNPACK; its threaded build when N > 1) on model.tflite, checks each output against PyTorch's,
 * then times the three interleaved (one run of each per round) and reports medians in
 * `window.benchResult`. Thread counts are per page: onnxruntime-web fixes its thread pool at its
 * first session and LiteRT.js picks its wasm build at load.
 */
import { load } from '../runtime/index.js';
import { Tensor as LtTensor, loadAndCompile, loadLiteRt } from '@litertjs/core';
import { fetchBytes, timeInterleaved } from './page-timing.js';

interface ModelFiles { name: string; shape: number[] }
export interface EngineResult { ms: number; err: number; note?: string }
export interface PageResult {
  threads: number; isolated: boolean; cores: number;
  models: { name: string; cnnc: EngineResult; ort: EngineResult; litert: EngineResult }[];
}

const q = new URLSearchParams(location.search);
const threads = Number(q.get('threads') ?? 1), runs = Number(q.get('runs') ?? 20), warmup = Number(q.get('warmup') ?? 5);

const bytes = fetchBytes;
const f32 = async (url: string) => new Float32Array((await bytes(url)).buffer);

function relErr(want: Float32Array, got: ArrayLike<number>): number {
  let mx = 0, err = 0;
  for (let i = 0; i < want.length; i++) { mx = Math.max(mx, Math.abs(want[i])); err = Math.max(err, Math.abs(want[i] - got[i])); }
  return err / mx;
}

async function main(): Promise<void> {
  const models = (await (await fetch('./models.json')).json()) as ModelFiles[];
  const ortUrl = '/ort/ort.wasm.min.mjs'; // a variable: the bundler leaves this import to the browser
  const ort = await import(/* @vite-ignore */ ortUrl) as typeof import('onnxruntime-web');
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.wasmPaths = '/ort/';
  await loadLiteRt('/litert/', { threads: threads > 1 });
  const out: PageResult = { threads, isolated: globalThis.crossOriginIsolated, cores: navigator.hardwareConcurrency, models: [] };
  for (const m of models) {
    const dir = `./models/${m.name}`;
    const x = await f32(`${dir}/input.bin`);
    const want = await f32(`${dir}/expected.bin`);
    const [, c, h, w] = m.shape;
    const nhwc = new Float32Array(x.length); // LiteRT.js takes NHWC: transposed once, not timed
    for (let ch = 0; ch < c; ch++) for (let i = 0; i < h * w; i++) nhwc[i * c + ch] = x[ch * h * w + i];

    const session = await load(await bytes(`${dir}/model.cnnc`), { threads });
    const cnncRun = async () => (await session.run({ input: { data: x, shape: m.shape } })).output.data as Float32Array;
    const web = await ort.InferenceSession.create(await bytes(`${dir}/model.onnx`), { executionProviders: ['wasm'] });
    const feed = { [web.inputNames[0]]: new ort.Tensor('float32', x, m.shape) };
    const ortRun = async () => (await web.run(feed))[web.outputNames[0]].data as Float32Array;
    const lt = await loadAndCompile(await bytes(`${dir}/model.tflite`), { accelerator: 'wasm', cpuOptions: { numThreads: threads } });
    const ltRun = async () => {
      const t = new LtTensor(nhwc, [1, h, w, c]);
      const outs = await lt.run([t]);
      const y = new Float32Array(outs[0].toTypedArray() as Float32Array);
      t.delete();
      for (const o of outs) o.delete();
      return y;
    };
    const errs = [relErr(want, await cnncRun()), relErr(want, await ortRun()), relErr(want, await ltRun())];
    const [a, b, l] = await timeInterleaved([cnncRun, ortRun, ltRun], runs, warmup, threads > 1 ? 30 : 0);
    out.models.push({
      name: m.name,
      cnnc: { ms: a, err: errs[0], note: session.threadsNote ?? `${session.threads} thread(s)` },
      ort: { ms: b, err: errs[1] },
      litert: { ms: l, err: errs[2] },
    });
    session.dispose();
    await web.release();
    lt.delete();
  }
  (window as unknown as { benchResult: PageResult }).benchResult = out;
}

main().catch((e) => {
  (window as unknown as { benchError: string }).benchError = String((e as Error)?.stack ?? e);
});
