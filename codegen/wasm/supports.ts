/**
 * What the wasm target can lower: `supportsOp` per op (for the ops × targets table) and `supports`
 * per node (modes, dtypes, shapes). Each answers undefined when it can, else the reason it cannot,
 * which compile() reports for every node at fault before any code is emitted. Both read the
 * lowering table (lower.ts), and lowering refuses exactly the nodes `supports` gives a reason for.
 */
import type { Graph, Node } from '../../ir/graph.js';
import { getOp, hasOp } from '../../ir/ops/index.js';
import { loweringOf, whyNot } from './lower.js';

/** Why the wasm target has no kernel for op `op` at all, or undefined when it lowers the op (in some modes). */
export function supportsOp(op: string): string | undefined {
  if (loweringOf(op)) return undefined;
  return hasOp(op) && getOp(op).traits.scalar ? `computes in f32 only, and ${op} has no f32 form (bool inputs or outputs)` : `has no kernel for ${op}`;
}

/** Why the wasm target cannot lower `node` of `graph`, or undefined when it can. */
export function supports(node: Node, graph: Graph): string | undefined {
  return whyNot(node, graph);
}
