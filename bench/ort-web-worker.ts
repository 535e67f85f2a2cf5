/**
 * onnxruntime-web (wasm backend) as a peer at a chosen thread count, in Node, each instance in its own
 * worker_thread. Why a worker: onnxruntime-web fixes `env.wasm.numThreads` when its wasm backend first
 * initializes, once per JS realm, so 1 and 2 threads cannot share one; a second copy of its Node build
 * cannot load beside the first (it registers its backend in onnxruntime-common's shared registry:
 * "cannot register backend "cpu" using priority 10"), and its self-contained build
 * (ort.wasm.min.mjs) fetches its threaded glue to make a blob: URL, which fails in Node ("TypeError:
 * fetch failed"). A worker is its own realm: each gets onnxruntime-web's ordinary Node entry, whose
 * threaded build runs its pool on worker_threads of that worker.
 *
 * The model and input are sent once; a timed run is one message each way carrying the output
 * (`ping` measures that round trip, which the caller reports beside the timings).
 */
import { Worker } from 'node:worker_threads';
import { CnncError } from '../runtime/errors.js';

export interface OrtWebPeer {
  /** Runs the model on the input it was given; returns the first output. */
  run(): Promise<Float32Array>;
  /** One empty message each way: the overhead a `run` carries beside the inference. */
  ping(): Promise<void>;
  /** `env.wasm.numThreads` after the backend initialized (it falls back to 1 where threads are unavailable). */
  threads: number;
  dispose(): Promise<void>;
}

/** The worker's code (commonjs, evaluated): loads onnxruntime-web, creates the session, answers run/ping. */
const WORKER = `
const { parentPort, workerData: d } = require('node:worker_threads');
const fail = (e) => parentPort.postMessage({ error: String((e && e.stack) || e) });
(async () => {
  const ort = await import(d.ortUrl);
  ort.env.wasm.numThreads = d.threads;
  const s = await ort.InferenceSession.create(d.model, { executionProviders: ['wasm'] });
  const feed = { [s.inputNames[0]]: new ort.Tensor('float32', d.input, d.shape) };
  parentPort.on('message', (m) => {
    if (m === 'ping') return parentPort.postMessage({});
    if (m === 'release') return s.release().then(() => parentPort.postMessage({}), fail);
    s.run(feed).then((out) => parentPort.postMessage({ y: out[s.outputNames[0]].data }), fail);
  });
  parentPort.postMessage({ threads: ort.env.wasm.numThreads });
})().catch(fail);
`;

interface Reply { error?: string; y?: Float32Array; threads?: number }

/** onnxruntime-web on `model` (ONNX bytes) with `input` of `shape`, on `threads` threads, in a worker. */
export async function ortWebPeer(model: Uint8Array, input: Float32Array, shape: readonly number[], threads: number): Promise<OrtWebPeer> {
  if (!Number.isInteger(threads) || threads < 1) throw new CnncError('BAD_INPUT', `threads must be a positive integer, got ${threads}`, { value: 'threads' });
  const ortUrl = import.meta.resolve('onnxruntime-web');
  const worker = new Worker(WORKER, { eval: true, workerData: { ortUrl, threads, model, input, shape: [...shape] } });
  // one request at a time: each message the worker sends answers the oldest open one
  const open: { resolve: (r: Reply) => void; reject: (e: Error) => void }[] = [];
  const failAll = (e: Error) => { for (const o of open.splice(0)) o.reject(e); };
  worker.on('message', (r: Reply) => {
    const o = open.shift();
    if (!o) return;
    if (r.error) o.reject(new Error(`onnxruntime-web worker (${threads} thread(s)): ${r.error}`));
    else o.resolve(r);
  });
  worker.on('error', failAll);
  worker.on('exit', (code) => failAll(new Error(`onnxruntime-web worker exited (code ${code})`)));
  const ask = (msg?: string) => new Promise<Reply>((resolve, reject) => {
    open.push({ resolve, reject });
    if (msg) worker.postMessage(msg);
  });
  const ready = await ask(); // the worker's first message: session created (or its error)
  return {
    threads: ready.threads!,
    run: async () => (await ask('run')).y!,
    ping: async () => { await ask('ping'); },
    dispose: async () => {
      await ask('release');
      await worker.terminate();
    },
  };
}
