/**
 * `npm run bench -- --target wasm-peers-threads [--models a,b] [--runs N] [--no-write]`: the Node
 * counterpart of the Chromium table (bench/browser.ts). For each model with a model.tflite beside its
 * model.onnx (MobileNetV2, ResNet-18, SqueezeNet 1.1), six runtimes in one process:
 *   - cnnc (wasm artifact through the runtime's public `load`, `{ threads: 1 }` and `{ threads: 2 }`);
 *   - LiteRT.js (XNNPACK, relaxed SIMD) on model.tflite: its non-threaded build for 1 thread, its
 *     threaded build (pthreads on worker_threads) with `numThreads: 2` (bench/litert.ts);
 *   - onnxruntime-web (wasm backend) on model.onnx with `env.wasm.numThreads` 1 and 2, each in its own
 *     worker_thread (bench/ort-web-worker.ts says why; the message round trip is reported).
 * Every output is checked against PyTorch's (test_data_set_0) before timing. Then all six are timed
 * interleaved, one run of each per round, the order rotating, with a 30 ms pause before each timed run
 * (worker pools spin after a run; bench/common.ts timeInterleaved); medians. Then, where /proc exists,
 * each runtime's threads are counted while it runs alone (busyThreads).
 * Writes its table into docs/benchmarks.md (own section) unless --no-write.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { compile } from '../index.js';
import { loadOnnxFile } from '../frontends/onnx/import.js';
import { load } from '../runtime/index.js';
import { tensor } from '../runtime/tensor.js';
import { LITERT_MODELS, enableRelaxedSimd, litertPeer } from './litert.js';
import { ortWebPeer } from './ort-web-worker.js';
import { f32File, median, relErr, sleep, timeInterleaved, writeDocSection } from './common.js';
import type { BenchOptions } from './wasm.js';

const MODELS = path.resolve(import.meta.dirname, '../../shared/models');
const THREADS = [1, 2] as const;
const PAUSE_MS = 30;
/** An output further than this from PyTorch's (max |Δ| / max |y|) is a wrong answer, not a slower one: the bench stops. */
const MAX_ERR = 1e-3;
const ENGINES = ['cnnc', 'LiteRT.js', 'onnxruntime-web'] as const;
type Engine = (typeof ENGINES)[number];

interface Runner { engine: Engine; threads: number; run: () => Promise<Float32Array>; dispose: () => unknown; ping?: () => Promise<void> }
interface Cell { ms: number; err: number; busy?: number }
interface Row { model: string; cells: Map<string, Cell> }

const key = (engine: Engine, threads: number) => `${engine}/${threads}`;

/** CPU milliseconds of each thread of this process (worker_threads included), from /proc; undefined off Linux. */
export function threadCpuMs(): Map<string, number> | undefined {
  if (!existsSync('/proc/self/task')) return undefined;
  const out = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      out.set(tid, Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]) / 1e6);
    } catch { /* the thread ended meanwhile */ }
  }
  return out;
}

/**
 * How many threads run `fn` (awaited `runs` times, alone): threads whose CPU time over those runs is at
 * least a quarter of the busiest one's, not counting `ignore` (the threads the process had before any
 * runtime loaded: V8's and Node's own, which compile and collect in the background). A pool that spins
 * while it waits counts too: this checks that the threads exist and run, not how evenly the work is
 * split (the timings say that).
 */
export async function busyThreads(fn: () => Promise<unknown>, runs: number, ignore: ReadonlySet<string> = new Set()): Promise<number | undefined> {
  await sleep(PAUSE_MS);
  const before = threadCpuMs();
  if (!before) return undefined;
  for (let i = 0; i < runs; i++) await fn();
  const deltas = [...threadCpuMs()!].filter(([tid]) => !ignore.has(tid)).map(([tid, ms]) => ms - (before.get(tid) ?? 0));
  const top = Math.max(...deltas);
  return deltas.filter((d) => d >= top / 4).length;
}

/** The threads of this process that are not its main thread (tid = pid): V8's and Node's, before a runtime starts its own. */
export function platformThreads(): Set<string> {
  return new Set([...(threadCpuMs()?.keys() ?? [])].filter((tid) => tid !== String(process.pid)));
}

/** The six runtimes for one model, each checked against PyTorch's output. */
async function runners(name: string, onnx: string, x: Float32Array, shape: number[], cnncBytes: Uint8Array): Promise<Runner[]> {
  const out: Runner[] = [];
  const onnxBytes = new Uint8Array(readFileSync(onnx));
  for (const threads of THREADS) {
    const s = await load(cnncBytes, { threads });
    if (s.threads !== threads) throw new Error(`cnnc ran ${s.threads} thread(s), not ${threads}: ${s.threadsNote ?? ''}`);
    const input = tensor('f32', shape, x);
    out.push({ engine: 'cnnc', threads, run: async () => (await s.run({ input })).output.data as Float32Array, dispose: () => s.dispose() });
    const lt = await litertPeer(name, threads);
    out.push({ engine: 'LiteRT.js', threads, run: () => lt.run(x), dispose: () => lt.dispose() });
    const ort = await ortWebPeer(onnxBytes, x, shape, threads);
    if (ort.threads !== threads) throw new Error(`onnxruntime-web runs ${ort.threads} thread(s), not ${threads}`);
    out.push({ engine: 'onnxruntime-web', threads, run: () => ort.run(), dispose: () => ort.dispose(), ping: () => ort.ping() });
  }
  return out;
}

export async function benchWasmPeers(opt: BenchOptions): Promise<string> {
  const relaxed = enableRelaxedSimd(); // before any wasm compiles: cnnc and LiteRT.js run their relaxed-SIMD builds
  const names = (opt.models ?? [...LITERT_MODELS]).filter((n) => existsSync(path.join(MODELS, n, 'model.tflite')));
  const load0 = os.loadavg()[0];
  const platform = platformThreads();
  const rows: Row[] = [];
  const pings: number[] = [];
  for (const name of names) {
    const dir = path.join(MODELS, name);
    const onnx = path.join(dir, 'model.onnx');
    const compiled = await compile(loadOnnxFile(onnx), 'wasm');
    const shape = compiled.inputs[0].shape;
    const x = f32File(path.join(dir, 'test_data_set_0/input_0.bin'));
    const want = f32File(path.join(dir, 'test_data_set_0/output_0.bin'));
    const rs = await runners(name, onnx, x, shape, compiled.save());
    const row: Row = { model: name, cells: new Map() };
    for (const r of rs) {
      const err = relErr(want, await r.run());
      if (!(err <= MAX_ERR)) throw new Error(`${r.engine} (${r.threads} thread(s)) on ${name}: max rel. error ${err} vs PyTorch (> ${MAX_ERR}); not timed`);
      row.cells.set(key(r.engine, r.threads), { ms: NaN, err });
    }
    const ts = await timeInterleaved(rs.map((r) => r.run), opt.runs, opt.warmup, PAUSE_MS);
    // threads counted after the timed rounds: by then V8 has compiled the modules' hot code, which it does on its own threads
    for (const [i, r] of rs.entries()) Object.assign(row.cells.get(key(r.engine, r.threads))!, { ms: ts[i], busy: await busyThreads(r.run, 5, platform) });
    // the ort-web workers' message round trip (included in their times), measured like a run
    for (const r of rs) if (r.ping) pings.push(await pingMs(r.ping));
    for (const r of rs) await r.dispose();
    rows.push(row);
    process.stderr.write(`${name}: ${rs.map((r, i) => `${r.engine} ${r.threads}T ${ts[i].toFixed(1)} ms`).join(', ')}\n`);
  }
  const text = table(rows, opt, { load0, load1: os.loadavg()[0], relaxed, pingMs: pings.length ? median(pings) : NaN });
  if (opt.write) {
    writeDocSection('wasm-peers-threads-bench', '## WebAssembly in Node: cnnc vs LiteRT.js vs onnxruntime-web, 1 and 2 threads\n\n' +
      `\`npm run bench -- --target wasm-peers-threads\` (bench/wasm-peers.ts).\n\n${text}`, '<!-- browser-bench:end -->');
  }
  return text;
}

/** Median ms of an empty message round trip to an ort-web worker, each after the same pause as a timed run. */
async function pingMs(ping: () => Promise<void>): Promise<number> {
  const ts: number[] = [];
  for (let i = 0; i < 20; i++) {
    await sleep(PAUSE_MS);
    const t0 = performance.now();
    await ping();
    ts.push(performance.now() - t0);
  }
  return median(ts);
}

function table(rows: Row[], opt: BenchOptions, m: { load0: number; load1: number; relaxed: boolean; pingMs: number }): string {
  const f = (v: number, d = 1) => (Number.isFinite(v) ? v.toFixed(d) : '–');
  const cell = (r: Row, e: Engine, t: number) => r.cells.get(key(e, t))!;
  const ratio = (r: Row, peer: Engine, t: number) => cell(r, 'cnnc', t).ms / cell(r, peer, t).ms;
  const out = [
    `Node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'} × ${os.availableParallelism()}, relaxed SIMD ${m.relaxed ? 'on (V8 flag set at start)' : 'unavailable'}; batch 1; ` +
      `medians of ${opt.runs} interleaved rounds (all six runtimes, order rotating, ${PAUSE_MS} ms pause before each timed run) after ${opt.warmup} warm-up runs, ` +
      `${new Date().toISOString().slice(0, 16)}Z; load average (1 min) ${f(m.load0, 2)} → ${f(m.load1, 2)}. Ratio = cnnc / peer at the same thread count (below 1: cnnc is faster).`,
    '',
    '| model | cnnc 1T ms | LiteRT.js 1T ms | ort-web 1T ms | cnnc / LiteRT.js 1T | cnnc / ort-web 1T | cnnc 2T ms | LiteRT.js 2T ms | ort-web 2T ms | cnnc / LiteRT.js 2T | cnnc / ort-web 2T |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    out.push(`| ${r.model} | ${THREADS.map((t) => `${ENGINES.map((e) => f(cell(r, e, t).ms)).join(' | ')} | ${f(ratio(r, 'LiteRT.js', t), 2)}× | ${f(ratio(r, 'onnxruntime-web', t), 2)}×`).join(' | ')} |`);
  }
  out.push('', '| model | max rel. error vs PyTorch, 1T / 2T: cnnc; LiteRT.js; ort-web | threads busy, 1T / 2T: cnnc; LiteRT.js; ort-web | 2 threads over 1: cnnc; LiteRT.js; ort-web |', '|---|---|---|---|');
  for (const r of rows) {
    const per = (g: (c: Cell) => string) => ENGINES.map((e) => THREADS.map((t) => g(cell(r, e, t))).join(' / ')).join('; ');
    const speedup = ENGINES.map((e) => `${f(cell(r, e, 1).ms / cell(r, e, 2).ms, 2)}×`).join('; ');
    out.push(`| ${r.model} | ${per((c) => c.err.toExponential(1))} | ${per((c) => (c.busy === undefined ? '–' : String(c.busy)))} | ${speedup} |`);
  }
  const misses = rows.flatMap((r) => THREADS.flatMap((t) => ([['LiteRT.js', 0.85], ['onnxruntime-web', 0.75]] as const)
    .filter(([peer, bar]) => !(ratio(r, peer, t) <= bar)).map(([peer, bar]) => `${r.model} ${t}T vs ${peer} ${f(ratio(r, peer, t), 2)}× (bar ${bar}×)`)));
  out.push('',
    `Issue 16's bars (cnnc ≤ 0.85× LiteRT.js and ≤ 0.75× onnxruntime-web at the same thread count): met in ${rows.length * 4 - misses.length} of ${rows.length * 4}` +
      `${misses.length ? `; not met: ${misses.join(', ')}` : ''}.`,
    `Threads busy: threads of this process (V8's and Node's own left out) with CPU time ≥ ¼ of the busiest while that runtime ran 5 times alone, after the timed rounds (spinning pools count). ` +
      `onnxruntime-web runs in a worker_thread per thread count (one realm fixes its thread count); its times include a message round trip of ${f(m.pingMs, 3)} ms (median).`);
  return out.join('\n');
}
