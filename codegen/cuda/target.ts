/** The cuda target's Backend (codegen/target.ts): its supports.ts and compileCuda. */
import { weightBytes } from '../../ir/cost.js';
import type { Backend } from '../target.js';
import { compileCuda } from './index.js';
import { cudaWritesSlice } from './lower.js';
import { planConcats } from '../concat-plan.js';
import { concatsInPlace } from '../fusion-report.js';
import { supports, supportsOp } from './supports.js';

export const cudaBackend: Backend = {
  supportsOp,
  supports,
  async compile(graph) {
    const c = compileCuda(graph); // PTX is built by nvcc when the artifact is first asked for
    const concats = concatsInPlace(planConcats(graph, cudaWritesSlice));
    return { bytes: c.save, run: c.run, stats: { arenaBytes: c.module.plan.arenaBytes, weightBytes: weightBytes(graph), kernels: c.module.plan.steps.length, concats } };
  },
};
