/**
 * The runtime with the WebAssembly backend only (package entry '@cnnc/runtime/wasm'): a browser
 * bundle of this file holds no WebGPU or CUDA code. Same `load` and Session as the main entry.
 */
import type { Artifact } from './artifact.js';
import { CnncError } from './errors.js';
import { loadWith, medianMs, type ArtifactSources, type KernelTime, type LoadOptions, type Opener, type Session } from './loader.js';
import type { ArtifactSource } from './source.js';
import { WasmSession } from './wasm/index.js';
import { cores } from './wasm/threads.js';

/** Opens a wasm artifact; `profile` times each exported step function alone. */
export const openWasm: Opener = async (a: Artifact, options) => {
  const s = await WasmSession.create(a, { threads: options.threads ?? Math.min(await cores(), 4), simd: options.simd, maxMemoryBytes: options.maxMemoryBytes });
  return {
    threads: s.threads,
    threadsNote: s.threadsNote,
    run: (inputs) => s.run(inputs),
    dispose: () => s.dispose(),
    async profile(inputs, reps): Promise<KernelTime[]> {
      s.runSync(inputs); // every buffer holds real data before the steps are timed one by one
      const out: KernelTime[] = [];
      for (const step of s.plan.steps) {
        const fn = s.exports[step.fn];
        if (typeof fn !== 'function') throw new CnncError('BAD_ARTIFACT', `the wasm module does not export step '${step.fn}'`);
        out.push({ kernel: step.fn, node: step.node, op: step.op, ms: await medianMs(fn as () => void, reps) });
      }
      return out;
    },
  };
};

/** Loads a wasm artifact (see the main entry's `load` for sources and options). */
export function load(source: ArtifactSource | ArtifactSources, options: LoadOptions = {}): Promise<Session> {
  return loadWith({ wasm: openWasm }, source, options);
}

export { CnncError } from './errors.js';
export type { ErrorCode } from './errors.js';
export { tensor } from './tensor.js';
export type { Tensor, DType, TensorData } from './tensor.js';
export type { IOSpec } from './artifact.js';
export type { ArtifactSource } from './source.js';
export type { Feed, OrtLikeTensor, ShapedArray } from './feeds.js';
export type { ArtifactSources, Backend, KernelTime, LoadEvent, LoadOptions, Session } from './loader.js';
