/**
 * The page side of the int8 bench's Chromium leg (bench/int8-browser.ts builds, serves and drives
 * it): per model, cnnc's f32 and int8 wasm artifacts (the runtime's public `load`, one thread, the
 * build the runtime picks: relaxed SIMD here) and onnxruntime-web (wasm EP, 1 thread) on the same
 * QDQ file, int8 outputs compared with onnxruntime-web's, then the three timed interleaved (the
 * order rotating per round), medians in `window.benchResult`.
 */
import { load } from '../runtime/index.js';
import { fetchBytes, timeInterleaved } from './page-timing.js';

interface ModelFiles { name: string; shape: number[] }
export interface Int8PageRow { name: string; f32: number; int8: number; ort: number; diff: number; top1Same: boolean }
export interface Int8PageResult { isolated: boolean; ua: string; rows: Int8PageRow[] }

const q = new URLSearchParams(location.search);
const runs = Number(q.get('runs') ?? 20), warmup = Number(q.get('warmup') ?? 5);
const bytes = fetchBytes;
const argmax = (a: ArrayLike<number>) => { let k = 0; for (let i = 1; i < a.length; i++) if (a[i] > a[k]) k = i; return k; };

async function main(): Promise<void> {
  const models = (await (await fetch('./models.json')).json()) as ModelFiles[];
  const ortUrl = '/ort/ort.wasm.min.mjs'; // a variable: the bundler leaves this import to the browser
  const ort = await import(/* @vite-ignore */ ortUrl) as typeof import('onnxruntime-web');
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.wasmPaths = '/ort/';
  const out: Int8PageResult = { isolated: globalThis.crossOriginIsolated, ua: navigator.userAgent, rows: [] };
  for (const m of models) {
    const dir = `./models/${m.name}`;
    const n = m.shape.reduce((a, b) => a * b, 1);
    const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * 1.5);
    const sf = await load(await bytes(`${dir}/f32.cnnc`), { backend: 'wasm', threads: 1 });
    const sq = await load(await bytes(`${dir}/int8.cnnc`), { backend: 'wasm', threads: 1 });
    const web = await ort.InferenceSession.create(await bytes(`${dir}/model.int8.onnx`), { executionProviders: ['wasm'] });
    const feed = { [web.inputNames[0]]: new ort.Tensor('float32', x, m.shape) };
    const name = sf.inputs[0].name;
    const f32Run = async () => Object.values(await sf.run({ [name]: { data: x, shape: m.shape } }))[0].data as Float32Array;
    const int8Run = async () => Object.values(await sq.run({ [name]: { data: x, shape: m.shape } }))[0].data as Float32Array;
    const ortRun = async () => (await web.run(feed))[web.outputNames[0]].data as Float32Array;
    const a = await int8Run(), b = await ortRun();
    let diff = 0, mx = 0;
    for (let i = 0; i < a.length; i++) { diff = Math.max(diff, Math.abs(a[i] - b[i])); mx = Math.max(mx, Math.abs(b[i])); }
    const [tf, tq, to] = await timeInterleaved([f32Run, int8Run, ortRun], runs, warmup);
    out.rows.push({ name: m.name, f32: tf, int8: tq, ort: to, diff: diff / mx, top1Same: argmax(a) === argmax(b) });
    sf.dispose(); sq.dispose();
    await web.release();
  }
  (window as unknown as { benchResult: Int8PageResult }).benchResult = out;
}

main().catch((e) => {
  (window as unknown as { benchError: string }).benchError = String((e as Error)?.stack ?? e);
});
