/// <reference types="@webgpu/types" />
/**
 * The browser demo: for each model in models.json, loads its cnnc artifact and runs it on WebGPU
 * (the 'wgsl' artifact) or, where navigator.gpu gives no adapter, on WebAssembly (the 'wasm'
 * artifact); shows the backend, the top-5 classes and the median time per run. Results also go to
 * `window.cnncResults` and the console, for the headless-browser test.
 * Bundled by examples/web/build.ts (esbuild) from the runtime alone: no compiler code.
 */
import { decodeArtifact } from '../../runtime/artifact.js';
import { tensor, type Tensor } from '../../runtime/tensor.js';
import { WebGpuModel } from '../../runtime/webgpu/index.js';
import { WasmSession } from '../../runtime/wasm/index.js';

interface ModelEntry { name: string; wgsl: string; wasm: string; input: string; shape: number[] }
interface Result { name: string; backend: string; adapter?: string; output: number[]; top5: [number, number][]; msPerRun: number }

const $ = (id: string) => document.getElementById(id)!;

async function bytes(url: string): Promise<Uint8Array> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

interface Runner { backend: string; adapter?: string; run(x: Tensor): Promise<Tensor> }

/** WebGPU where an adapter exists, else WebAssembly; says which. */
async function runner(m: ModelEntry): Promise<Runner> {
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (gpu && await gpu.requestAdapter().catch(() => null)) {
    const model = await WebGpuModel.load(await bytes(m.wgsl));
    return { backend: `WebGPU (${model.precision})`, adapter: model.adapterName, run: async (x) => (await model.run({ input: x })).output };
  }
  const wasm = await WasmSession.create(decodeArtifact(await bytes(m.wasm)));
  return { backend: 'WebAssembly (no WebGPU adapter)', run: async (x) => (await wasm.run({ input: x })).output };
}

async function runModel(m: ModelEntry): Promise<Result> {
  const r = await runner(m);
  const x = tensor('f32', m.shape, new Float32Array((await bytes(m.input)).buffer));
  let y = await r.run(x); // first run: pipelines compile
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    y = await r.run(x);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const out = Array.from(y.data as Float32Array);
  const top5 = out.map((v, i) => [i, v] as [number, number]).sort((a, b) => b[1] - a[1]).slice(0, 5);
  return { name: m.name, backend: r.backend, adapter: r.adapter, output: out, top5, msPerRun: times[1] };
}

function show(res: Result): void {
  const s = document.createElement('section');
  s.innerHTML = `<h2>${res.name}</h2>
    <p>ran on <span class="backend">${res.backend}</span>${res.adapter ? ` — adapter: ${res.adapter}` : ''}; ${res.msPerRun.toFixed(1)} ms per run (median of 3)</p>
    <table><tr><th>class</th><th>score</th></tr>${res.top5.map(([i, v]) => `<tr><td>${i}</td><td>${v.toFixed(4)}</td></tr>`).join('')}</table>`;
  $('models').append(s);
}

async function main(): Promise<void> {
  const models = (await (await fetch('./models.json')).json()) as ModelEntry[];
  const results: Result[] = [];
  for (const m of models) {
    $('status').textContent = `running ${m.name}…`;
    const res = await runModel(m);
    results.push(res);
    show(res);
  }
  $('status').textContent = 'done';
  (window as unknown as { cnncResults: Result[] }).cnncResults = results;
  console.log(`cnnc-results ${JSON.stringify(results.map(({ name, backend, top5, msPerRun }) => ({ name, backend, top5, msPerRun })))}`);
}

main().catch((e) => {
  $('status').textContent = `error: ${(e as Error).message}`;
  (window as unknown as { cnncError: string }).cnncError = String((e as Error).message);
  console.error(e);
});
