/**
 * What the wgsl target can lower: `supportsOp` per op (for the ops × targets table) and `supports`
 * per node (modes, dtypes, shapes). Each answers undefined when it can, else the reason it cannot,
 * which compile() reports for every node at fault before any code is emitted.
 */
import type { Graph, Node } from '../../ir/graph.js';
import { WGSL_OPS } from './index.js';

/** Why the wgsl target has no kernel for op `op` at all, or undefined when it lowers the op (in some modes). */
export function supportsOp(op: string): string | undefined {
  return WGSL_OPS.has(op) ? undefined : 'no wgsl kernel';
}

/** Why the wgsl target cannot lower `node` of `graph`, or undefined when it can. */
export function supports(node: Node, _graph: Graph): string | undefined {
  return supportsOp(node.op);
}
