/**
 * The worker entry of the threaded wasm runtime (runtime/wasm/threads.ts), as source text: it runs
 * in a worker_threads Worker (Node, `eval: true`) or a Web Worker (browsers, from a Blob URL), so
 * that no bundler or loader has to find a second file. Plain JS, no imports.
 *
 * The worker gets { module, memory, ctl, spinMs, phases, tid, threads } once (phases: the parallel
 * phases, each its range function, its chunk cuts and where each thread's share of them starts), instantiates the module on the shared memory, says 'ready',
 * then loops: take chunks of the phase thread 0 has published until none is left (`drain`: its own
 * share first, then what is left of the others'), then wait for the next publication (a spin of
 * spinMs on ctl[PHASE], then Atomics.wait). A chunk is claimed by a compare-exchange on its share's word,
 * so a worker that was descheduled, or woke late, finds its chunks taken by the others; each
 * finished chunk counts in ctl[DONE], which thread 0 waits on. Control words (Int32Array on a
 * SharedArrayBuffer): DONE, PHASE, ERR (a thread trapped: the rest is skipped), STOP (exit), and
 * one claim word per thread (shareWord).
 */
export const WORKER_SOURCE = String.raw`
'use strict';
const PHASE = 2, STOP = 4;
const drain = (${String(drain)});
async function start(d, post) {
  const inst = await WebAssembly.instantiate(d.module, { env: { memory: d.memory } });
  const ctl = d.ctl;
  const fns = d.phases.map((p) => inst.exports[p.fn + '_range']);
  post('ready');
  for (;;) {
    const seen = Atomics.load(ctl, PHASE); // read before draining: a publication after this changes it
    if (Atomics.load(ctl, STOP)) return;
    try { drain(ctl, d.phases, fns, d.tid, d.threads); } catch (e) { /* counted and flagged in drain */ }
    const until = performance.now() + d.spinMs;
    for (let i = 1; Atomics.load(ctl, PHASE) === seen; i++) if ((i & 255) === 0 && performance.now() > until) break;
    while (Atomics.load(ctl, PHASE) === seen) Atomics.wait(ctl, PHASE, seen);
  }
}
if (typeof self === 'undefined' || typeof self.postMessage !== 'function' || typeof require === 'function') {
  const { parentPort, workerData } = require('node:worker_threads');
  start(workerData, (m) => parentPort.postMessage(m)).then(() => process.exit(0));
} else {
  self.onmessage = (e) => { self.onmessage = null; start(e.data, (m) => self.postMessage(m)).then(() => self.close()); };
}
`;

/** The first control word of thread t's share (one 64-byte line each, so that claims on different shares do not contend). */
export const shareWord = (t: number) => 16 + 16 * t;

/**
 * Claims and runs chunks of the published phase until none is left; returns the first error a
 * chunk threw (ERR set), or undefined. Each thread t owns a share of the phase's chunks (the units
 * it would get under a static split, cut into a few chunks), whose claim word at shareWord(t) is
 * phase << 8 | front << 4 | back (chunks front…back − 1 of the share are left). A thread takes its
 * own share's chunks from the front, in order, then those still left in the other shares from the
 * back: so each thread works on the rows it worked on in the layer before (they are in its core's
 * cache: taking chunks from one shared queue in arrival order was measured 1.2× slower on
 * MobileNetV2 on 2 threads), and a descheduled thread's share is still taken by the others.
 * Thread 0 calls it and WORKER_SOURCE embeds its text, so both claim alike: it must refer to
 * nothing outside itself (hence the literal word indices: 1 DONE, 3 ERR, 16 + 16·t share t). A
 * stale read of a claim word is harmless: the compare-exchange succeeds only on the current word,
 * and a word names its work completely (every run cuts phase k into the same chunks).
 */
export function drain(ctl: Int32Array, phases: readonly { cuts: readonly number[]; shares: readonly number[] }[], fns: readonly ((a: number, b: number) => void)[], tid: number, threads: number): unknown {
  let error: unknown;
  for (let j = 0; j < threads; j++) {
    const t = (tid + j) % threads, at = 16 + 16 * t, own = j === 0;
    for (;;) {
      const v = Atomics.load(ctl, at);
      const p = phases[v >>> 8], front = (v >>> 4) & 15, back = v & 15;
      if (p === undefined || front >= back) break;
      if (Atomics.compareExchange(ctl, at, v, own ? v + 16 : v - 1) !== v) continue;
      const c = p.shares[t] + (own ? front : back - 1);
      try {
        if (!Atomics.load(ctl, 3)) fns[v >>> 8](p.cuts[c], p.cuts[c + 1]);
      } catch (e) {
        if (error === undefined) error = e;
        Atomics.store(ctl, 3, 1);
      }
      if (Atomics.add(ctl, 1, 1) + 1 === p.cuts.length - 1) Atomics.notify(ctl, 1);
    }
  }
  return error;
}
