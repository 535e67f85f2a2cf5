/**
 * Dead-code elimination: drops nodes whose outputs reach no graph output, then constants
 * nobody reads. Graph inputs stay (they are the model's interface) even when unused.
 */
import type { Graph } from '../ir/graph.js';
import { commit, removeDead, removeUnusedConstants, type Pass } from './pass.js';

export function eliminateDeadCode(graph: Graph): Graph {
  const g = graph.clone();
  commit(g, removeDead(g, g.nodes));
  removeUnusedConstants(g);
  return g;
}

export const dcePass: Pass = {
  name: 'dce',
  doc: 'removes nodes and constants that no graph output depends on',
  run: (g) => eliminateDeadCode(g),
};
