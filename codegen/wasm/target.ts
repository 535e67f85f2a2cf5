/** The wasm target's Backend (codegen/target.ts): its supports.ts and compileWasm. */
import type { Backend } from '../target.js';
import { compileWasm } from './index.js';
import { planConcats } from '../concat-plan.js';
import { concatsInPlace } from '../fusion-report.js';
import { wasmWritesSlice } from './lower.js';
import { supports, supportsOp } from './supports.js';

export const wasmBackend: Backend = {
  supportsOp,
  supports,
  async compile(graph, options) {
    const c = compileWasm(graph, options.wasm, options.onProgress);
    const concats = concatsInPlace(planConcats(graph, wasmWritesSlice));
    return { bytes: () => c.bytes, stats: { arenaBytes: c.arenaBytes, weightBytes: c.weightBytes, kernels: c.kernels, concats } };
  },
};
