/**
 * The worker entry of the threaded wasm runtime (runtime/wasm/threads.ts), as source text: it runs
 * in a worker_threads Worker (Node, `eval: true`) or a Web Worker (browsers, from a Blob URL), so
 * that no bundler or loader has to find a second file. Plain JS, no imports.
 *
 * The worker gets { module, memory, ctl, spin, phases } once (phases: the parallel phases, each its
 * range function and its chunk cuts), instantiates the module on the shared memory, says 'ready',
 * then loops: take chunks of the phase thread 0 has published until none is left (`drain`), then
 * wait for the next publication (a short spin on ctl[PHASE], then Atomics.wait). A chunk is claimed
 * by a compare-exchange on one word (phase, next chunk), so a worker that was descheduled, or woke
 * late, finds the chunks already taken; each finished chunk counts in ctl[DONE], which thread 0
 * waits on. Control words (Int32Array on a SharedArrayBuffer): DONE, PHASE, ERR (a thread trapped:
 * the rest is skipped), STOP (exit), CLAIM.
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
    try { drain(ctl, d.phases, fns); } catch (e) { /* counted and flagged in drain */ }
    for (let i = 0; i < d.spin && Atomics.load(ctl, PHASE) === seen; i++);
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

/**
 * Claims and runs chunks of the published phase until none is left; returns the first error a
 * chunk threw (ERR set), or undefined. Thread 0 calls it and WORKER_SOURCE embeds its text, so
 * both claim alike: it must refer to nothing outside itself (hence the literal word indices:
 * 1 DONE, 3 ERR, 5 CLAIM = phase << 16 | next chunk). A stale read of the claim word is harmless:
 * the compare-exchange succeeds only on the current word, and a word names its work completely
 * (every run cuts phase k into the same chunks).
 */
export function drain(ctl: Int32Array, phases: readonly { cuts: readonly number[] }[], fns: readonly ((a: number, b: number) => void)[]): unknown {
  let error: unknown;
  for (;;) {
    const v = Atomics.load(ctl, 5);
    const i = v >>> 16, next = v & 0xffff;
    const cuts = phases[i]?.cuts;
    if (cuts === undefined || next >= cuts.length - 1) return error;
    if (Atomics.compareExchange(ctl, 5, v, v + 1) !== v) continue;
    try {
      if (!Atomics.load(ctl, 3)) fns[i](cuts[next], cuts[next + 1]);
    } catch (e) {
      if (error === undefined) error = e;
      Atomics.store(ctl, 3, 1);
    }
    if (Atomics.add(ctl, 1, 1) + 1 === cuts.length - 1) Atomics.notify(ctl, 1);
  }
}
