/**
 * Timing and fetching inside the browser benchmarks' pages (bench/browser-page.ts,
 * bench/int8-page.ts): browser-safe, unlike bench/common.ts (Node's fs).
 */

export const fetchBytes = async (url: string) => new Uint8Array(await (await fetch(url)).arrayBuffer());

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/**
 * Median ms of each function, warmed up, then timed in rounds that run each once, the order
 * rotating every round. `pauseMs` (with threads) waits before each timed run: the runtimes' worker
 * pools spin for a while after a run (XNNPACK's pthreadpool, emscripten's pthreads, cnnc's
 * barrier), and on a 2-core machine a peer still spinning would take a core from the runtime timed next.
 */
export async function timeInterleaved(fns: (() => Promise<unknown>)[], runs: number, warmup: number, pauseMs = 0): Promise<number[]> {
  for (const f of fns) for (let i = 0; i < warmup; i++) await f();
  const ts: number[][] = fns.map(() => []);
  for (let r = 0; r < runs; r++) {
    for (let j = 0; j < fns.length; j++) {
      const k = (r + j) % fns.length;
      if (pauseMs) await new Promise((done) => setTimeout(done, pauseMs));
      const t0 = performance.now();
      await fns[k]();
      ts[k].push(performance.now() - t0);
    }
  }
  return ts.map(median);
}
