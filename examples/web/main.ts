/**
 * The browser demo: for each model in models.json, loads its cnnc artifacts through the runtime's
 * public API (`load` with one artifact per target and the preference webgpu → wasm: WebGPU where
 * navigator.gpu gives an adapter, else WebAssembly), shows the backend, the top-5 classes and the
 * median time per run. Results also go to `window.cnncResults` and the console, for the
 * headless-browser test. Bundled by examples/web/build.ts (esbuild) from the runtime alone.
 * In an app the import is `from '@cnnc/runtime'`.
 */
import { load, type LoadEvent, type Session, type Tensor } from '../../runtime/index.js';

interface ModelEntry { name: string; wgsl: string; wasm: string; input: string; shape: number[] }
interface Result { name: string; backend: string; threads: number; adapter?: string; output: number[]; top5: [number, number][]; msPerRun: number }

const $ = (id: string) => document.getElementById(id)!;

/**
 * What ran, in words: the backend, its precision, why WebGPU did not run where it did not, and on
 * WebAssembly how many threads share each layer (one where the page is not cross-origin isolated:
 * no SharedArrayBuffer; the runtime says why in `threadsNote`).
 */
function backendLabel(s: Session): string {
  if (s.backend === 'webgpu') return `WebGPU (${s.precision})`;
  const why = s.fallbacks.some((f) => f.backend === 'webgpu') ? 'no WebGPU adapter; ' : '';
  const threads = `${s.threads} thread${s.threads === 1 ? '' : 's'}`;
  return `WebAssembly (${why}${threads}${s.threadsNote ? `: ${s.threadsNote}` : ''})`;
}

function progressText(name: string, e: LoadEvent): string {
  if (e.phase === 'pipelines') return `${name}: building WebGPU pipelines ${e.done}/${e.total}`;
  if (e.phase === 'read' && e.total) return `${name}: downloading ${Math.round((100 * (e.done ?? 0)) / e.total)}%`;
  return `${name}: ${e.phase}${e.backend ? ` (${e.backend})` : ''}`;
}

async function runModel(m: ModelEntry): Promise<Result> {
  const session = await load({ wgsl: m.wgsl, wasm: m.wasm }, {
    backends: ['webgpu', 'wasm'],
    onProgress: (e) => { $('status').textContent = progressText(m.name, e); },
  });
  const data = new Float32Array(await (await fetch(m.input)).arrayBuffer());
  const run = async (): Promise<Tensor> => (await session.run({ input: { data, shape: m.shape } })).output;
  let y = await run(); // first run: the GPU driver may finish compiling here
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    y = await run();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const out = Array.from(y.data as Float32Array);
  const top5 = out.map((v, i) => [i, v] as [number, number]).sort((a, b) => b[1] - a[1]).slice(0, 5);
  return { name: m.name, backend: backendLabel(session), threads: session.threads, adapter: session.device, output: out, top5, msPerRun: times[1] };
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
  $('status').textContent = `done (page ${globalThis.crossOriginIsolated ? 'is' : 'is not'} cross-origin isolated)`;
  (window as unknown as { cnncResults: Result[] }).cnncResults = results;
  console.log(`cnnc-results ${JSON.stringify(results.map(({ name, backend, threads, top5, msPerRun }) => ({ name, backend, threads, top5, msPerRun })))}`);
}

main().catch((e) => {
  $('status').textContent = `error: ${(e as Error).message}`;
  (window as unknown as { cnncError: string }).cnncError = String((e as Error).message);
  console.error(e);
});
