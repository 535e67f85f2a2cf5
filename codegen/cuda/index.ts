/**
 * The CUDA target: lower the optimized graph (lower.ts), build PTX with nvcc when an artifact is
 * needed (nvcc.ts), run through runtime/cuda, or write a standalone program (standalone.ts).
 */
import type { Graph } from '../../ir/graph.js';
import { encodeArtifact, decodeArtifact } from '../../runtime/artifact.js';
import { cudaDriver } from '../../runtime/cuda/driver.js';
import { CudaSession } from '../../runtime/cuda/index.js';
import { CUDA_SECTIONS } from '../../runtime/cuda/plan.js';
import type { Tensor } from '../../runtime/tensor.js';
import { lowerCuda, type CudaModule } from './lower.js';
import { compilePtx } from './nvcc.js';
import { supportsOp } from './supports.js';
import { allOps } from '../../ir/ops/index.js';

export { lowerCuda, translationUnit, type CudaModule } from './lower.js';

/** Every op the CUDA target lowers in some mode (the docs' ops table reads it): those supportsOp gives no reason for. */
export const CUDA_OPS: ReadonlySet<string> = new Set(allOps().map((op) => op.name).filter((op) => !supportsOp(op)));
export { writeStandalone, hostProgram, standaloneCommand } from './standalone.js';
export { findNvcc, compilePtx, checkCompiles, checkCompilesAsync } from './nvcc.js';

export interface CudaCompiled {
  module: CudaModule;
  /** The artifact (PTX built with nvcc on first call). */
  save(): Uint8Array;
  run(inputs: Record<string, Tensor>): Promise<Record<string, Tensor>>;
}

export function compileCuda(g: Graph, meta: Record<string, unknown> = {}): CudaCompiled {
  const module = lowerCuda(g);
  let bytes: Uint8Array | undefined;
  let session: Promise<CudaSession> | undefined;
  const save = (): Uint8Array => {
    bytes ??= encodeArtifact({
      header: {
        version: 1,
        target: 'cuda',
        inputs: module.plan.inputs.map(({ name, dtype, shape }) => ({ name, dtype, shape })),
        outputs: module.plan.outputs.map(({ name, dtype, shape }) => ({ name, dtype, shape })),
        plan: module.plan,
        meta: { model: g.name, ptxArch: 'compute_80', ...meta },
      },
      sections: {
        [CUDA_SECTIONS.weights]: module.weights,
        [CUDA_SECTIONS.ptx]: new TextEncoder().encode(compilePtx(module.source)),
        [CUDA_SECTIONS.source]: new TextEncoder().encode(module.source),
      },
    });
    return bytes;
  };
  return {
    module,
    save,
    run: async (inputs) => {
      await cudaDriver(); // NO_DEVICE before anything needs nvcc
      session ??= CudaSession.create(decodeArtifact(save()));
      return (await session).run(inputs);
    },
  };
}
