/**
 * cnnc/runtime: loads a `.cnnc` artifact and runs it, without the compiler.
 *
 *   const session = await load('model.wasm.cnnc');   // like onnxruntime's InferenceSession.create
 *   const { output } = await session.run({ input: tensor('f32', [1, 3, 224, 224], data) });
 *
 * Sources: bytes (Uint8Array, ArrayBuffer), a path (Node), a URL, a fetch Response or a stream; or
 * one artifact per target (`{ wgsl: url1, wasm: url2 }`) with a backend preference list that falls
 * back (webgpu → wasm) where a backend has no device. Each target's runtime lives in its own folder;
 * WebGPU and CUDA load on first use (a bundler splits them off; '@cnnc/runtime/wasm' leaves them out).
 */
import type { Artifact } from './artifact.js';
import { loadWith, type ArtifactSources, type LoadOptions, type Opener, type Session } from './loader.js';
import type { ArtifactSource } from './source.js';
import { openWasm } from './wasm-entry.js';

const openWebGpu: Opener = async (a: Artifact, options, emit) => {
  const { WebGpuModel } = await import('./webgpu/index.js');
  const m = await WebGpuModel.load(a, {
    ...options.webgpu,
    onPipeline: (done, total, kernel) => emit({ phase: 'pipelines', backend: 'webgpu', done, total, message: kernel }),
  });
  return { device: m.adapterName, precision: m.precision, run: (inputs) => m.run(inputs), profile: (inputs, reps) => m.profile(inputs, reps), dispose: () => m.dispose() };
};

const openCuda: Opener = async (a: Artifact) => {
  const { CudaSession } = await import('./cuda/index.js'); // Node only (driver API through koffi)
  const s = await CudaSession.create(a);
  return { device: s.device, run: (inputs) => s.run(inputs), profile: (inputs, reps) => s.profile(inputs, reps), dispose: () => s.dispose() };
};

/**
 * Reads and verifies (magic, version, CRC-32) an artifact, then opens it on the first backend of
 * `options.backends` that works; CnncError NO_DEVICE etc. when none does.
 */
export function load(source: ArtifactSource | ArtifactSources, options: LoadOptions = {}): Promise<Session> {
  return loadWith({ wasm: openWasm, webgpu: openWebGpu, cuda: openCuda }, source, options);
}

export { CnncError } from './errors.js';
export type { ErrorCode } from './errors.js';
export { tensor } from './tensor.js';
export type { Tensor, DType, TensorData } from './tensor.js';
export type { IOSpec } from './artifact.js';
export type { ArtifactSource } from './source.js';
export type { Feed, OrtLikeTensor, ShapedArray } from './feeds.js';
export type { ArtifactSources, Backend, KernelTime, LoadEvent, LoadOptions, Session } from './loader.js';
