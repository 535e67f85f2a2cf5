/**
 * Test helper: torchvision's LayerNorm2d as a graph, Transpose(0,2,3,1) → LayerNormalization over
 * the last axis (γ, β) → Transpose(0,3,1,2), between two elementwise ops, for
 * passes/fold-transposed-layernorm.ts and the ChannelLayerNorm kernels.
 */
import { Graph } from '../ir/graph.js';
import { randomConstant } from './passes/helpers.js';

export interface ChainOptions {
  shape?: number[];
  /** The closing Transpose's perm (default the inverse of the opening one). */
  back?: number[];
  /** Scale shape ([C] by default; [1] for a broadcast one) and whether B is there. */
  scale?: number[];
  bias?: boolean;
  seed?: number;
}

export function channelLnGraph(o: ChainOptions = {}): Graph {
  const shape = o.shape ?? [2, 5, 3, 4], C = shape[1], seed = o.seed ?? 1;
  const g = new Graph('channel_ln');
  const x = g.addInput('x', { dtype: 'f32', shape });
  const t = g.add('Transpose', [g.add('Neg', [x])], { perm: [0, 2, 3, 1] });
  const gamma = randomConstant(g, 'gamma', o.scale ?? [C], seed, 1);
  const beta = o.bias === false ? '' : randomConstant(g, 'beta', [C], seed + 1, 1);
  const y = g.add('LayerNormalization', beta ? [t, gamma, beta] : [t, gamma], { axis: -1, epsilon: 1e-5 });
  const back = g.add('Transpose', [y], { perm: o.back ?? [0, 3, 1, 2] });
  g.setOutputs([g.add('Relu', [back])]);
  return g;
}
