/**
 * cnnc/runtime: loads a `.cnnc` artifact and runs it, without the compiler.
 *
 *   const session = await load(bytes);            // like onnxruntime's InferenceSession.create
 *   const { output } = await session.run({ input: tensor('f32', [1, 3, 224, 224], data) });
 *
 * The artifact's header names its target; each target's runtime lives in its own folder.
 */
import { decodeArtifact, type Artifact } from './artifact.js';
import { CnncError } from './errors.js';
import { makeSession, type Backend, type Session } from './session.js';
import { WasmSession } from './wasm/index.js';
import { WebGpuModel } from './webgpu/index.js';

export type { Session } from './session.js';

export interface LoadOptions {
  /** Which backend runs the artifact; defaults to the artifact's target. */
  backend?: string;
  /** Most memory the artifact may claim (inputs, outputs, wasm memory), checked before allocating: TOO_LARGE above. Default 2 GiB. */
  maxMemoryBytes?: number;
}

/** Decodes (magic, version, checksum, header schema) and instantiates an artifact for its target. */
export async function load(bytes: Uint8Array, options: LoadOptions = {}): Promise<Session> {
  const a: Artifact = decodeArtifact(bytes, { maxMemoryBytes: options.maxMemoryBytes });
  const backend = options.backend ?? a.header.target;
  if (backend !== a.header.target) {
    throw new CnncError('UNSUPPORTED', `this artifact was compiled for '${a.header.target}', it cannot run on backend '${backend}'`);
  }
  const session = (b: Backend) => makeSession(a.header.target, a.header.inputs, a.header.outputs, b);
  switch (a.header.target) {
    case 'wasm':
      return session(await WasmSession.create(a, { maxMemoryBytes: options.maxMemoryBytes }));
    case 'cuda': {
      const { CudaSession } = await import('./cuda/index.js'); // Node only (driver API through koffi)
      return session(await CudaSession.create(a));
    }
    case 'wgsl':
      return session(await WebGpuModel.load(a));
    default:
      throw new CnncError('BAD_ARTIFACT', `artifact target '${a.header.target}' has no runtime here (runtimes: wasm)`);
  }
}

export { CnncError } from './errors.js';
export type { ErrorCode } from './errors.js';
export { tensor } from './tensor.js';
export type { Tensor, DType } from './tensor.js';
