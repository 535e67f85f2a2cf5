/**
 * Threaded execution of a wasm-target module: N − 1 workers plus the calling thread, one
 * `WebAssembly.Memory({ shared: true })`, each parallel step split into chunks of independent
 * units: output rows, output-channel blocks (weight-stationary convs), bands of rows with their own
 * scratch row (fused dw+pw blocks), element or row ranges (elementwise), channel ranges (global
 * pools), runs of 12 output pixels or rows (int8 convs, after their serial widening step); codegen
 * exports `<fn>_range(start, end)` and `<fn>_rows` (the unit count) for each.
 * Steps without a range, and steps with less work than `minParallelFlops` (the split would cost
 * more than it saves), run on the calling thread (thread 0) alone.
 *
 * Chunks are taken, not assigned: thread 0 publishes a step, every thread (itself included) claims
 * the chunks of its own share (the same rows in every layer, so what it reads is in its core's
 * cache), then what is left of the others', and thread 0 waits only for chunks under way. So a
 * worker that the machine deschedules (a loaded machine, a phone's small cores) costs the time of
 * the chunk it holds, not of its whole share; with static shares thread 0 would idle at every
 * barrier until it ran. Atomics on a SharedArrayBuffer (a short spin, then Atomics.wait), no message per layer.
 * Needs SharedArrayBuffer (browsers: a cross-origin-isolated page).
 */
import { CnncError } from '../errors.js';
import { drain, shareWord, WORKER_SOURCE } from './thread-worker.js';

/** A run of the plan: one parallel step (`rows` units, of `work` each where they differ) or serial steps on thread 0. */
export interface Phase { fn: string; rows?: number; work?: number[]; serial?: string[] }

const DONE = 1, PHASE = 2, ERR = 3, STOP = 4;
/** The claim words' phase when none is published (phases are numbered below it; 23 bits). */
const NO_PHASE = 0x7fffff;
/** The most threads a session may ask for: workers are whole engine threads, each with a claim word of its own. */
export const MAX_THREADS = 256;
/** Chunks per thread and step (at most 15: a share's claim word counts them in 4 bits): enough for a late thread's share to be taken by the others, few enough that claims cost nothing. */
export const CHUNKS_PER_THREAD = 4;
/**
 * Waits poll this long (ms) before blocking. A thread that blocks between two layers wakes up late
 * (a futex wake-up, and in a browser the scheduling of a Web Worker): 4000 polls (~10–20 µs) made
 * 2 threads in headless Chromium only 1.02–1.11× faster than 1 on SqueezeNet and MobileNetV2, whose
 * layers are short and have serial steps between them; polling 0.2 ms, 1.32–1.61× and 1.15–1.43× (four runs each).
 */
export const SPIN_MS = 0.2;
/** Steps below this many flops (plan `flops`: 2·MACs, or elements) stay serial: tens of microseconds of work at most. */
export const MIN_PARALLEL_FLOPS = 1 << 16;

/** A step as the pool sees it: its function, its work, and its units' relative work where they differ. */
export interface PoolStep { fn: string; flops?: number; unitWork?: number[] }

/**
 * Where `threads` threads cut `rows` units (of `work` each; default 1): thread t runs units
 * [b[t], b[t + 1]). Each cut is the unit boundary nearest to t/threads of the total work, so a
 * shorter last row or a partial channel block does not count as a whole one.
 */
export function splitBounds(rows: number, threads: number, work?: readonly number[]): number[] {
  const b = [0];
  if (!work) {
    for (let t = 1; t < threads; t++) b.push(Math.round(t * rows / threads));
  } else {
    const cum = [0];
    for (const w of work) cum.push(cum[cum.length - 1] + w);
    const total = cum[rows];
    let i = 0;
    for (let t = 1; t < threads; t++) {
      const target = t * total / threads;
      while (i < rows && Math.abs(cum[i + 1] - target) < Math.abs(cum[i] - target)) i++;
      b.push(i);
    }
  }
  b.push(rows);
  return b;
}

/** Why threads cannot run here, or undefined where they can. */
export function threadsUnavailable(): string | undefined {
  const g = globalThis as { crossOriginIsolated?: boolean; document?: unknown };
  if (g.document !== undefined && g.crossOriginIsolated === false) return 'the page is not cross-origin isolated (serve it with COOP/COEP headers)';
  if (typeof SharedArrayBuffer === 'undefined') return 'SharedArrayBuffer is unavailable here';
  return undefined;
}

/** The number of cores this engine reports (navigator.hardwareConcurrency, or Node's os). */
export async function cores(): Promise<number> {
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  if (nav?.hardwareConcurrency) return nav.hardwareConcurrency;
  try {
    const os = await nodeImport<typeof import('node:os')>('node:os');
    return os.availableParallelism?.() ?? os.cpus().length;
  } catch {
    return 1;
  }
}

/**
 * Groups steps into phases: each step with an exported range, more than one unit and at least
 * `minFlops` of work is its own parallel phase; runs of other steps form one serial phase (thread 0
 * runs them back to back, one barrier after).
 */
export function phasesOf(steps: readonly PoolStep[], exports: Record<string, unknown>, minFlops = MIN_PARALLEL_FLOPS): Phase[] {
  const phases: Phase[] = [];
  for (const { fn, flops, unitWork } of steps) {
    const rows = exports[`${fn}_rows`] as WebAssembly.Global | undefined;
    const big = flops === undefined || flops >= minFlops;
    if (big && typeof exports[`${fn}_range`] === 'function' && rows instanceof WebAssembly.Global && (rows.value as number) > 1) {
      const n = rows.value as number;
      if (unitWork && unitWork.length !== n) throw new CnncError('BAD_ARTIFACT', `the plan gives ${unitWork.length} unit weights for step '${fn}', which has ${n} units`);
      phases.push({ fn, rows: n, ...(unitWork ? { work: unitWork } : {}) });
    } else {
      const last = phases[phases.length - 1];
      if (last?.serial) last.serial.push(fn);
      else phases.push({ fn, serial: [fn] });
    }
  }
  return phases;
}

interface AnyWorker { terminate(): unknown; postMessage?(m: unknown): void }

/**
 * A parallel phase's chunks: each thread's share of the units (the split by work of splitBounds,
 * the same for every run and every layer, so a thread keeps to the same rows), cut into at most
 * CHUNKS_PER_THREAD chunks of equal work. Chunk c covers units cuts[c]…cuts[c + 1] − 1; thread t's
 * share is chunks shares[t]…shares[t + 1] − 1. No chunk is empty (a share may be).
 */
export function chunksOf(p: Phase, threads: number): { cuts: number[]; shares: number[] } {
  const b = splitBounds(p.rows!, threads, p.work);
  const cuts = [0], shares = [0];
  for (let t = 0; t < threads; t++) {
    const lo = b[t], hi = b[t + 1];
    if (hi > lo) {
      const sub = splitBounds(hi - lo, Math.min(hi - lo, CHUNKS_PER_THREAD), p.work?.slice(lo, hi));
      for (const c of sub.slice(1)) if (lo + c > cuts[cuts.length - 1]) cuts.push(lo + c);
    }
    shares.push(cuts.length - 1);
  }
  return { cuts, shares };
}

export class ThreadPool {
  private constructor(
    readonly threads: number,
    private readonly ctl: Int32Array,
    private readonly workers: AnyWorker[],
    private readonly phases: Phase[],
    /** The parallel phases, in order, as every thread claims them: chunk cuts and each thread's share of them. */
    private readonly parallel: { cuts: number[]; shares: number[] }[],
    private readonly fns: ((a: number, b: number) => void)[],
    private readonly exports: Record<string, unknown>,
  ) {}

  /** Starts `threads − 1` workers on `module` and `memory` (shared); the caller is thread 0 with `exports`. */
  static async start(threads: number, module: WebAssembly.Module, memory: WebAssembly.Memory, exports: Record<string, unknown>, steps: readonly PoolStep[], minFlops?: number): Promise<ThreadPool> {
    const ctl = new Int32Array(new SharedArrayBuffer(shareWord(threads) * 4));
    for (let t = 0; t < threads; t++) Atomics.store(ctl, shareWord(t), NO_PHASE << 8); // nothing to claim yet
    const phases = phasesOf(steps, exports, minFlops);
    const parallel = phases.filter((p) => !p.serial).map((p) => ({ fn: p.fn, ...chunksOf(p, threads) }));
    if (parallel.length >= NO_PHASE) throw new CnncError('BAD_ARTIFACT', `the plan has ${parallel.length} parallel steps, over the ${NO_PHASE - 1} the thread pool numbers`);
    const workers: AnyWorker[] = [];
    const ready: Promise<void>[] = [];
    for (let tid = 1; tid < threads; tid++) {
      const { worker, started } = await spawn({ module, memory, ctl, spinMs: SPIN_MS, phases: parallel, tid, threads });
      workers.push(worker);
      ready.push(started);
    }
    try {
      await Promise.all(ready);
    } catch (e) {
      for (const w of workers) w.terminate();
      throw new CnncError('KERNEL_ERROR', `a wasm worker thread failed to start: ${(e as Error).message}`);
    }
    const fns = parallel.map((p) => exports[`${p.fn}_range`] as (a: number, b: number) => void);
    return new ThreadPool(threads, ctl, workers, phases, parallel, fns, exports);
  }

  /** One run of every step: serial phases on this thread, parallel ones published and shared out chunk by chunk. */
  run(): void {
    const ctl = this.ctl;
    Atomics.store(ctl, ERR, 0);
    let error: unknown, k = 0;
    for (const p of this.phases) {
      if (p.serial) {
        if (error !== undefined || Atomics.load(ctl, ERR)) continue;
        try {
          for (const fn of p.serial) (this.exports[fn] as () => void)();
        } catch (e) {
          error = e;
          Atomics.store(ctl, ERR, 1);
        }
        continue;
      }
      // DONE first, then the claim words, then PHASE: a worker that sees the new PHASE finds the new claims
      const { cuts, shares } = this.parallel[k];
      Atomics.store(ctl, DONE, 0);
      for (let t = 0; t < this.threads; t++) Atomics.store(ctl, shareWord(t), (k << 8) | (shares[t + 1] - shares[t]));
      Atomics.add(ctl, PHASE, 1);
      Atomics.notify(ctl, PHASE);
      error ??= drain(ctl, this.parallel, this.fns, 0, this.threads);
      this.await(cuts.length - 1);
      k++;
    }
    if (error !== undefined || Atomics.load(ctl, ERR)) {
      throw new CnncError('KERNEL_ERROR', `the wasm module trapped${error ? `: ${(error as Error).message}` : ' in a worker thread'}`);
    }
  }

  /** Thread 0 waits until `chunks` chunks are done: a short spin, then Atomics.wait where the engine allows it (not a browser's main thread). */
  private await(chunks: number): void {
    const ctl = this.ctl;
    const until = performance.now() + SPIN_MS;
    for (let i = 1; Atomics.load(ctl, DONE) !== chunks; i++) if ((i & 255) === 0 && performance.now() > until) break;
    for (let d = Atomics.load(ctl, DONE); d !== chunks; d = Atomics.load(ctl, DONE)) {
      if (canWait) Atomics.wait(ctl, DONE, d, 1000);
    }
  }

  /** Stops the workers (they exit at their next wake-up; terminate makes sure). */
  dispose(): void {
    Atomics.store(this.ctl, STOP, 1);
    Atomics.add(this.ctl, PHASE, 1);
    Atomics.notify(this.ctl, PHASE);
    for (const w of this.workers) w.terminate();
    this.workers.length = 0;
  }
}

/** Atomics.wait throws on a browser's main thread; Node's main thread and workers may block. */
const canWait = typeof (globalThis as { document?: unknown }).document === 'undefined';
/** A Node built-in, imported through a variable so that browser bundlers leave it alone. */
const nodeImport = <T>(name: string): Promise<T> => import(/* @vite-ignore */ name) as Promise<T>;
const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';

/**
 * The module's bytes with its imported memory declared shared: the limits flag of the memory import
 * goes from 0x01 (min, max) to 0x03 (min, max, shared). Same length, nothing else changes, so one
 * build serves both modes (a module declaring a shared memory accepts only a shared one).
 */
export function shareMemory(bytes: Uint8Array): Uint8Array {
  const b = new Uint8Array(bytes); // a copy (Buffer.prototype.slice would be a view)
  let p = 8;
  const leb = () => { let r = 0, s = 0, x; do { x = b[p++]; r |= (x & 0x7f) << s; s += 7; } while (x & 0x80); return r >>> 0; };
  while (p < b.length) {
    const id = b[p++], size = leb(), end = p + size;
    if (id === 2) {
      for (let n = leb(); n > 0; n--) {
        for (let k = 0; k < 2; k++) { const len = leb(); p += len; } // module and field names
        const kind = b[p++];
        if (kind === 2) {
          if (b[p] !== 0x01) throw new CnncError('BAD_ARTIFACT', 'the wasm module\'s memory import has no maximum: it cannot be shared');
          b[p] = 0x03;
          return b;
        }
        if (kind === 0) leb();
        else if (kind === 1) { p++; if (b[p++] & 1) { leb(); } leb(); }
        else if (kind === 3) p += 2;
        else leb();
      }
    }
    p = end;
  }
  throw new CnncError('BAD_ARTIFACT', 'the wasm module imports no memory: it cannot run threaded');
}

/** One worker running WORKER_SOURCE: worker_threads in Node, a Web Worker from a Blob URL in browsers. */
async function spawn(data: unknown): Promise<{ worker: AnyWorker; started: Promise<void> }> {
  const WebWorker = (globalThis as { Worker?: new (url: string) => Worker }).Worker;
  if (WebWorker && !isNode) {
    const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'text/javascript' }));
    const w = new WebWorker(url);
    const started = new Promise<void>((resolve, reject) => {
      w.onmessage = () => { URL.revokeObjectURL(url); resolve(); };
      w.onerror = (e) => reject(new Error(e.message));
    });
    w.postMessage(data);
    return { worker: w, started };
  }
  const { Worker: NodeWorker } = await nodeImport<typeof import('node:worker_threads')>('node:worker_threads');
  const w = new NodeWorker(WORKER_SOURCE, { eval: true, workerData: data });
  w.unref(); // an idle pool does not keep Node alive
  const started = new Promise<void>((resolve, reject) => {
    w.once('message', () => resolve());
    w.once('error', reject);
    w.once('exit', (code) => reject(new Error(`worker exited with code ${code}`)));
  });
  return { worker: w, started };
}
