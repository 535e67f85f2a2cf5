/**
 * The reference target: no code generation, the graph runs in the float64 reference interpreter
 * (ir/interpreter.ts), which has a kernel for every registered op. It has no artifact.
 */
import { weightBytes } from '../../ir/cost.js';
import { interpret } from '../../ir/interpreter.js';
import { hasOp } from '../../ir/ops/index.js';
import { CnncError } from '../../runtime/errors.js';
import type { Backend } from '../target.js';

export const referenceBackend: Backend = {
  supportsOp: (op) => (hasOp(op) ? undefined : `'${op}' is not a registered op`),
  supports: (node) => (hasOp(node.op) ? undefined : `'${node.op}' is not a registered op`),
  async compile(graph) {
    return {
      bytes: () => { throw new CnncError('UNSUPPORTED', "the 'reference' target has no artifact; compile for wasm, wgsl or cuda"); },
      run: async (inputs) => interpret(graph, inputs),
      stats: { arenaBytes: 0, weightBytes: weightBytes(graph), kernels: 0 },
    };
  },
};
