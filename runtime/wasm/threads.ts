/**
 * Threaded execution of a wasm-target module: N − 1 workers plus the calling thread, one
 * `WebAssembly.Memory({ shared: true })`, each parallel step split across threads by independent
 * units: output rows, output-channel blocks (weight-stationary convs), bands of rows with their own
 * scratch row (fused dw+pw blocks), element or row ranges (elementwise), channel ranges (global
 * pools); codegen exports `<fn>_range(start, end)` and `<fn>_rows` (the unit count) for each.
 * Steps without a range, and steps with less work than `minParallelFlops` (the barrier would cost
 * more than the split saves), run on the calling thread; consecutive ones form one serial phase.
 * Threads meet at a barrier after each phase: Atomics on a SharedArrayBuffer (a short spin, then
 * Atomics.wait), no message per layer. Needs SharedArrayBuffer (browsers: a cross-origin-isolated page).
 */
import { CnncError } from '../errors.js';
import { WORKER_SOURCE } from './thread-worker.js';

/** A run of the plan: one parallel step (`rows` units, of `work` each where they differ) or serial steps on thread 0. */
export interface Phase { fn: string; rows?: number; work?: number[]; serial?: string[] }

const GEN = 0, COUNT = 1, PHASE = 2, ERR = 3, STOP = 4;
/** Barrier polls before blocking: a few microseconds, less than a futex wake-up costs. */
export const SPIN = 4000;
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

export class ThreadPool {
  private constructor(
    readonly threads: number,
    private readonly ctl: Int32Array,
    private readonly workers: AnyWorker[],
    private readonly phases: Phase[],
    /** Per phase, thread 0's units [0, end) (0 for serial phases, which thread 0 runs whole). */
    private readonly ends: number[],
    private readonly exports: Record<string, unknown>,
  ) {}

  /** Starts `threads − 1` workers on `module` and `memory` (shared); the caller is thread 0 with `exports`. */
  static async start(threads: number, module: WebAssembly.Module, memory: WebAssembly.Memory, exports: Record<string, unknown>, steps: readonly PoolStep[], minFlops?: number): Promise<ThreadPool> {
    const ctl = new Int32Array(new SharedArrayBuffer(64));
    const phases = phasesOf(steps, exports, minFlops);
    const bounds = phases.map((p) => (p.rows === undefined ? undefined : splitBounds(p.rows, threads, p.work)));
    const workers: AnyWorker[] = [];
    const ready: Promise<void>[] = [];
    for (let tid = 1; tid < threads; tid++) {
      // each worker gets its own units [a, b) of every parallel phase (b = a: none), and nothing to do in serial ones
      const data = { module, memory, ctl, tid, spin: SPIN, threads, phases: phases.map((p, i) => ({ fn: p.fn, a: bounds[i]?.[tid] ?? 0, b: bounds[i]?.[tid + 1] ?? 0 })) };
      const { worker, started } = await spawn(data);
      workers.push(worker);
      ready.push(started);
    }
    try {
      await Promise.all(ready);
    } catch (e) {
      for (const w of workers) w.terminate();
      throw new CnncError('KERNEL_ERROR', `a wasm worker thread failed to start: ${(e as Error).message}`);
    }
    return new ThreadPool(threads, ctl, workers, phases, bounds.map((b) => b?.[1] ?? 0), exports);
  }

  /** One run of every step: wakes the workers, runs thread 0's share, meets them at each barrier. */
  run(): void {
    const ctl = this.ctl;
    Atomics.store(ctl, ERR, 0);
    Atomics.add(ctl, GEN, 1);
    Atomics.notify(ctl, GEN);
    let error: unknown;
    for (let i = 0; i < this.phases.length; i++) {
      const p = this.phases[i];
      if (error === undefined && !Atomics.load(ctl, ERR)) {
        try {
          if (p.serial) for (const fn of p.serial) (this.exports[fn] as () => void)();
          else if (this.ends[i] > 0) (this.exports[`${p.fn}_range`] as (a: number, b: number) => void)(0, this.ends[i]);
        } catch (e) {
          error = e;
          Atomics.store(ctl, ERR, 1);
        }
      }
      this.barrier();
    }
    if (error !== undefined || Atomics.load(ctl, ERR)) {
      throw new CnncError('KERNEL_ERROR', `the wasm module trapped${error ? `: ${(error as Error).message}` : ' in a worker thread'}`);
    }
  }

  /** Thread 0's side of the barrier: a short spin, then Atomics.wait where the engine allows it (not a browser's main thread), else a spin. */
  private barrier(): void {
    const ctl = this.ctl, phase = Atomics.load(ctl, PHASE);
    if (Atomics.add(ctl, COUNT, 1) === this.threads - 1) {
      Atomics.store(ctl, COUNT, 0);
      Atomics.add(ctl, PHASE, 1);
      Atomics.notify(ctl, PHASE);
      return;
    }
    for (let i = 0; i < SPIN && Atomics.load(ctl, PHASE) === phase; i++);
    while (Atomics.load(ctl, PHASE) === phase) {
      if (canWait) Atomics.wait(ctl, PHASE, phase, 1000);
    }
  }

  /** Stops the workers (they exit at their next wake-up; terminate makes sure). */
  dispose(): void {
    Atomics.store(this.ctl, STOP, 1);
    Atomics.add(this.ctl, GEN, 1);
    Atomics.notify(this.ctl, GEN);
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
