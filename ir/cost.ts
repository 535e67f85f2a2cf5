/** Cost of a node and of a graph: params, FLOPs (2·MACs), bytes moved. Ops supply what types cannot tell. */
import type { Graph, Node } from './graph.js';
import type { Cost } from './op.js';
import { getOp } from './ops/index.js';
import { isFloat, sizeOf, typeBytes } from './types.js';

export function nodeCost(g: Graph, node: Node): Cost {
  const info = g.nodeInfo(node);
  const outs = node.outputs.filter((o) => o !== '').map((o) => g.type(o));
  const given = getOp(node.op, node.name).cost?.(info, outs) ?? {};
  // Default params: the float constants the node reads (weights, biases).
  const params = info.inputs.reduce((s, x) => s + (x?.value && isFloat(x.type.dtype) ? sizeOf(x.type.shape) : 0), 0);
  return {
    params: given.params ?? params,
    flops: given.flops ?? 0,
    bytesRead: given.bytesRead ?? info.inputs.reduce((s, x) => s + (x ? typeBytes(x.type) : 0), 0),
    bytesWritten: given.bytesWritten ?? outs.reduce((s, t) => s + typeBytes(t), 0),
  };
}

export function graphCost(g: Graph): Cost {
  const total: Cost = { params: 0, flops: 0, bytesRead: 0, bytesWritten: 0 };
  for (const n of g.nodes) {
    const c = nodeCost(g, n);
    total.params += c.params;
    total.flops += c.flops;
    total.bytesRead += c.bytesRead;
    total.bytesWritten += c.bytesWritten;
  }
  return total;
}

/** Bytes of all constants in the graph (what an artifact ships as weights). */
export function weightBytes(g: Graph): number {
  let n = 0;
  for (const v of g.values.values()) if (v.const) n += typeBytes(v.type);
  return n;
}
