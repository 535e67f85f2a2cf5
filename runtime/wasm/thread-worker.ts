/**
 * The worker entry of the threaded wasm runtime (runtime/wasm/threads.ts), as source text: it runs
 * in a worker_threads Worker (Node, `eval: true`) or a Web Worker (browsers, from a Blob URL), so
 * that no bundler or loader has to find a second file. Plain JS, no imports.
 *
 * The worker gets { module, memory, ctl, tid, threads, spin, phases } once, instantiates the module on
 * the shared memory, says 'ready', then per run: waits for ctl[GEN] to change, runs its share of
 * each phase (its units [a, b) of a parallel step, cut by runtime/wasm/threads.ts splitBounds;
 * none in serial phases, which run on thread 0),
 * and meets the others at the barrier after each phase. Control words (Int32Array on a
 * SharedArrayBuffer): GEN (run counter), COUNT and PHASE (the barrier), ERR (a worker trapped),
 * STOP (exit).
 */
export const WORKER_SOURCE = String.raw`
'use strict';
const GEN = 0, COUNT = 1, PHASE = 2, ERR = 3, STOP = 4;
function barrier(ctl, threads, spin) {
  const phase = Atomics.load(ctl, PHASE);
  if (Atomics.add(ctl, COUNT, 1) === threads - 1) {
    Atomics.store(ctl, COUNT, 0);
    Atomics.add(ctl, PHASE, 1);
    Atomics.notify(ctl, PHASE);
  } else {
    // the others usually arrive within microseconds: poll first, block (a futex round trip) only then
    for (let i = 0; i < spin && Atomics.load(ctl, PHASE) === phase; i++);
    while (Atomics.load(ctl, PHASE) === phase) Atomics.wait(ctl, PHASE, phase);
  }
}
async function start(d, post) {
  const inst = await WebAssembly.instantiate(d.module, { env: { memory: d.memory } });
  const ex = inst.exports, ctl = d.ctl;
  let gen = Atomics.load(ctl, GEN); // before 'ready': the first run bumps GEN only after it
  post('ready');
  for (;;) {
    Atomics.wait(ctl, GEN, gen);
    gen = Atomics.load(ctl, GEN);
    if (Atomics.load(ctl, STOP)) return;
    for (const p of d.phases) {
      if (!Atomics.load(ctl, ERR)) {
        try {
          if (p.b > p.a) ex[p.fn + '_range'](p.a, p.b);
        } catch (e) {
          Atomics.store(ctl, ERR, 1);
        }
      }
      barrier(ctl, d.threads, d.spin);
    }
  }
}
if (typeof self === 'undefined' || typeof self.postMessage !== 'function' || typeof require === 'function') {
  const { parentPort, workerData } = require('node:worker_threads');
  start(workerData, (m) => parentPort.postMessage(m)).then(() => process.exit(0));
} else {
  self.onmessage = (e) => { self.onmessage = null; start(e.data, (m) => self.postMessage(m)).then(() => self.close()); };
}
`;
