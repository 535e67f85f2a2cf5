/**
 * LiteRT.js peer for the WASM benchmark: Google's `@litertjs/core` (XNNPACK compiled to wasm) runs
 * ../shared/models/<name>/model.tflite — the same network and weights as model.onnx, NHWC input.
 *
 * LiteRT.js is written for browsers; in Node it needs (see ../shared/PLATFORM.md):
 *   - relaxed SIMD enabled (Node 20: the V8 flag, set here at run time before any wasm is
 *     compiled; without it the loader silently falls back to its SIMD128 `compat` build);
 *   - a global `self` and an `importScripts(url)` that `require()`s the Emscripten glue;
 *   - the package's wasm/ folder copied beside a `{"type":"commonjs"}` package.json (the package's
 *     own `"type":"module"` makes Node read the UMD glue as ESM);
 *   - for the threaded build (Emscripten pthreads, which its glue runs on worker_threads in Node), a
 *     `navigator.hardwareConcurrency` (Node 20 has no `navigator`): the glue sizes its pthread pool by it.
 * One thread runs the non-threaded build (relaxed or compat), more threads the threaded build. The
 * package holds one loaded wasm module per module instance (`loadLiteRt` refuses a second), so the
 * threaded build loads through a second instance of the package (its file imported under another URL):
 * both builds then run side by side in one process.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as v8 from 'node:v8';
import { CnncError } from '../runtime/errors.js';
import { relaxedSimdSupported } from '../runtime/wasm/features.js';

export const LITERT_MODELS: readonly string[] = ['mobilenet_v2', 'resnet18', 'squeezenet1_1'];

export interface LitertPeer {
  /** Runs one batch-1 image given in NCHW [1,C,H,W] (transposed to NHWC here); returns the logits. */
  run(inputNCHW: Float32Array): Promise<Float32Array>;
  dispose(): void;
  /**
   * Which LiteRT.js wasm build runs: 'relaxed' (f32x4.relaxed_madd), 'compat' (SIMD128) or
   * 'threaded' (relaxed SIMD + pthreads).
   */
  build: 'relaxed' | 'compat' | 'threaded';
  /** The thread count XNNPACK was compiled for (`cpuOptions.numThreads`). */
  threads: number;
}

const MODELS_DIR = path.resolve(import.meta.dirname, '../../shared/models');

type Litert = typeof import('@litertjs/core');
const ready = new Map<boolean, Promise<{ lt: Litert; build: LitertPeer['build'] }>>();
let wasmDir: string | undefined;

/** Turns on relaxed SIMD in this process (Node 20 keeps it behind a flag); true if now available. */
export function enableRelaxedSimd(): boolean {
  if (relaxedSimdSupported()) return true;
  v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  return relaxedSimdSupported();
}

/** A copy of the package's wasm/ folder (all builds but jspi) that Node reads as commonjs; once per process. */
function copyWasmDir(): string {
  if (wasmDir) return wasmDir;
  const require = createRequire(import.meta.url);
  const src = path.join(path.dirname(require.resolve('@litertjs/core')), '../wasm');
  const dst = path.join(os.tmpdir(), `cnnc-litert-wasm-${process.pid}`);
  fs.mkdirSync(dst, { recursive: true });
  for (const f of fs.readdirSync(src)) if (!f.includes('jspi')) fs.copyFileSync(path.join(src, f), path.join(dst, f));
  fs.writeFileSync(path.join(dst, 'package.json'), '{"type":"commonjs"}');
  process.once('exit', () => fs.rmSync(dst, { recursive: true, force: true }));
  return (wasmDir = dst + path.sep);
}

function init(threaded: boolean): Promise<{ lt: Litert; build: LitertPeer['build'] }> {
  let p = ready.get(threaded);
  if (!p) {
    p = (async () => {
      const relaxed = enableRelaxedSimd();
      const dir = copyWasmDir();
      const require = createRequire(import.meta.url);
      const g = globalThis as Record<string, unknown>;
      g.self ??= globalThis;
      g.importScripts = (url: string) => {
        g.ModuleFactory = require(url.startsWith('file:') ? new URL(url).pathname : url);
      };
      if (threaded) g.navigator ??= { hardwareConcurrency: os.availableParallelism() };
      // the threaded build in its own instance of the package (see the header)
      const lt: Litert = threaded
        ? await import(`${pathToFileURL(require.resolve('@litertjs/core')).href}?threaded`)
        : await import('@litertjs/core');
      // The loader logs a WebGPU warning (no navigator.gpu in Node) and INFO lines on stderr: harmless.
      // The threaded build refuses to load without relaxed SIMD ("Threads are only supported with relaxed SIMD").
      await lt.loadLiteRt(dir, { threads: threaded });
      return { lt, build: threaded ? 'threaded' as const : relaxed ? 'relaxed' as const : 'compat' as const };
    })();
    ready.set(threaded, p);
  }
  return p;
}

/** The LiteRT.js peer of ../shared/models/<name>/model.tflite, compiled for the wasm (XNNPACK) CPU path on `threads` threads. */
export async function litertPeer(name: string, threads = 1): Promise<LitertPeer> {
  const file = path.join(MODELS_DIR, name, 'model.tflite');
  if (!fs.existsSync(file)) throw new CnncError('BAD_INPUT', `no model.tflite for ${name}`, { value: file });
  if (!Number.isInteger(threads) || threads < 1) throw new CnncError('BAD_INPUT', `threads must be a positive integer, got ${threads}`, { value: 'threads' });
  const { lt, build } = await init(threads > 1);
  const model = await lt.loadAndCompile(new Uint8Array(fs.readFileSync(file)), { accelerator: 'wasm', cpuOptions: { numThreads: threads } });
  const [, h, w, c] = Array.from(model.getInputDetails()[0].shape);
  const nhwc = new Float32Array(h * w * c);
  let last: Float32Array | undefined; // the NCHW image nhwc holds: NHWC is the caller's layout, not timed
  return {
    build,
    threads,
    async run(x) {
      if (x.length !== nhwc.length) {
        throw new CnncError('BAD_INPUT', `expected ${nhwc.length} input values (1x${c}x${h}x${w}), got ${x.length}`, { value: 'input' });
      }
      if (x !== last) for (let ch = 0; ch < c; ch++) for (let i = 0; i < h * w; i++) nhwc[i * c + ch] = x[ch * h * w + i];
      last = x;
      const t = new lt.Tensor(nhwc, [1, h, w, c]);
      const outs = await model.run([t]);
      const y = new Float32Array(outs[0].toTypedArray() as Float32Array); // a copy: the view dies with the tensor
      t.delete();
      for (const o of outs) o.delete();
      return y;
    },
    dispose: () => model.delete(),
  };
}
