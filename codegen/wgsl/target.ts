/** The wgsl target's Backend (codegen/target.ts): its supports.ts and emitWgsl. */
import { weightBytes } from '../../ir/cost.js';
import { decodeArtifact } from '../../runtime/artifact.js';
import type { WgslPlan } from '../../runtime/webgpu/plan.js';
import type { Backend } from '../target.js';
import { emitWgsl } from './index.js';
import { wgslWritesSlice } from './emit.js';
import { planConcats } from '../concat-plan.js';
import { concatsInPlace } from '../fusion-report.js';
import { supports, supportsOp } from './supports.js';

export const wgslBackend: Backend = {
  supportsOp,
  supports,
  async compile(graph, options) {
    const bytes = emitWgsl(graph, options.wgsl);
    const plan = decodeArtifact(bytes).header.plan as WgslPlan;
    const arenaBytes = plan.buffers.reduce((s, b) => s + (b.weight ? 0 : b.elems * (b.dtype === 'f16' ? 2 : 4)), 0);
    const concats = concatsInPlace(planConcats(graph, wgslWritesSlice));
    return { bytes: () => bytes, stats: { arenaBytes, weightBytes: weightBytes(graph), kernels: plan.steps.length, concats } };
  },
};
