/**
 * cnnc/runtime: loads a `.cnnc` artifact and runs it, without the compiler.
 *
 *   const session = await load(bytes);            // like onnxruntime's InferenceSession.create
 *   const { output } = await session.run({ input: tensor('f32', [1, 3, 224, 224], data) });
 *
 * The artifact's header names its target; each target's runtime lives in its own folder.
 */
import { decodeArtifact, type Artifact, type IOSpec } from './artifact.js';
import { CnncError } from './errors.js';
import type { Tensor } from './tensor.js';
import { WasmSession } from './wasm/index.js';
import { cores } from './wasm/threads.js';
import { WebGpuModel } from './webgpu/index.js';

export interface Session {
  readonly target: string;
  readonly inputs: IOSpec[];
  readonly outputs: IOSpec[];
  run(inputs: Record<string, Tensor>): Promise<Record<string, Tensor>>;
  /** wasm: threads sharing each layer, and why fewer than asked for run (e.g. no SharedArrayBuffer). */
  readonly threads?: number;
  readonly threadsNote?: string;
}

export interface LoadOptions {
  /** Which backend runs the artifact; defaults to the artifact's target. */
  backend?: string;
  /** wasm: threads (the caller plus workers) per layer; default min(cores, 4); 1 where SharedArrayBuffer is unavailable. */
  threads?: number;
}

/** Decodes (magic, version, checksum) and instantiates an artifact for its target. */
export async function load(bytes: Uint8Array, options: LoadOptions = {}): Promise<Session> {
  const a: Artifact = decodeArtifact(bytes);
  const backend = options.backend ?? a.header.target;
  if (backend !== a.header.target) {
    throw new CnncError('UNSUPPORTED', `this artifact was compiled for '${a.header.target}', it cannot run on backend '${backend}'`);
  }
  const base = { target: a.header.target, inputs: a.header.inputs, outputs: a.header.outputs };
  switch (a.header.target) {
    case 'wasm': {
      const s = await WasmSession.create(a, { threads: options.threads ?? Math.min(await cores(), 4) });
      return { ...base, threads: s.threads, threadsNote: s.threadsNote, run: (inputs) => s.run(inputs) };
    }
    case 'cuda': {
      const { CudaSession } = await import('./cuda/index.js'); // Node only (driver API through koffi)
      const s = await CudaSession.create(a);
      return { ...base, run: (inputs) => s.run(inputs) };
    }
    case 'wgsl': {
      const m = await WebGpuModel.load(a);
      return { ...base, run: (inputs) => m.run(inputs) };
    }
    default:
      throw new CnncError('BAD_ARTIFACT', `artifact target '${a.header.target}' has no runtime here (runtimes: wasm)`);
  }
}

export { CnncError } from './errors.js';
export type { ErrorCode } from './errors.js';
export { tensor } from './tensor.js';
export type { Tensor, DType } from './tensor.js';
