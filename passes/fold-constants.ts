/**
 * Constant folding: a node whose inputs are all constants is evaluated once, at compile time,
 * by its reference kernel; its outputs become constants. Shape(x) is folded for any x, since
 * shapes are static. Nodes that define a graph output are left alone (an output stays computed).
 */
import type { Tensor } from '../runtime/tensor.js';
import type { Graph } from '../ir/graph.js';
import { runNode } from '../ir/interpreter.js';
import { sizeOf } from '../ir/types.js';
import { commit, removeUnusedConstants, type Pass } from './pass.js';

/** Folding is skipped for outputs larger than this many elements (e.g. a huge Expand of a scalar). */
export const MAX_FOLD_ELEMENTS = 1 << 24;

export function foldConstants(graph: Graph): Graph {
  const g = graph.clone();
  const kept = [];
  for (const n of g.nodes) {
    if (!foldable(g, n)) { kept.push(n); continue; }
    const outs = runNode(g, n, n.op === 'Shape' ? shapeOnly(g, n.inputs[0]) : new Map());
    n.outputs.forEach((o, i) => {
      if (o === '') return;
      g.removeValue(o);
      g.define({ name: o, type: { dtype: outs[i].dtype, shape: [...outs[i].shape] }, const: outs[i] });
    });
  }
  commit(g, kept);
  removeUnusedConstants(g);
  return g;
}

function foldable(g: Graph, n: Graph['nodes'][number]): boolean {
  if (n.outputs.some((o) => g.outputs.includes(o))) return false;
  if (n.outputs.some((o) => o !== '' && sizeOf(g.type(o).shape) > MAX_FOLD_ELEMENTS)) return false;
  if (n.op === 'Shape') return true;
  const present = n.inputs.filter((i) => i !== '');
  return present.length > 0 && present.every((i) => g.constValue(i) !== undefined);
}

/** Shape's kernel reads only the shape: give it an empty tensor of the right type. */
function shapeOnly(g: Graph, v: string): Map<string, Tensor> {
  const t = g.type(v);
  return new Map([[v, { dtype: t.dtype, shape: t.shape, data: new Float32Array(0) }]]);
}

export const foldConstantsPass: Pass = {
  name: 'fold-constants',
  doc: 'evaluates nodes whose inputs are all constants (and Shape of any value) at compile time',
  run: (g) => foldConstants(g),
};
