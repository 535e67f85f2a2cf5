import { describe, expect, it } from 'vitest';
import { graphCost, nodeCost } from '../ir/cost.js';
import { Graph } from '../ir/graph.js';
import { tensor } from '../runtime/tensor.js';

const zeros = (shape: number[]) => tensor('f32', shape);

/** MACs of a graph: FLOPs are 2 per multiply-accumulate in the cost model. */
const macs = (g: Graph) => graphCost(g).flops / 2;

function standardConv(Cin: number, Cout: number, K: number, H: number, S: number): Graph {
  const g = new Graph('std');
  const x = g.addInput('x', { dtype: 'f32', shape: [1, Cin, H, H] });
  g.setOutputs([g.add('Conv', [x, g.addConstant('w', zeros([Cout, Cin, K, K]))], { strides: [S, S], pads: Array(4).fill(K >> 1) })]);
  return g;
}

function separableConv(Cin: number, Cout: number, K: number, H: number, S: number, fused: boolean): Graph {
  const g = new Graph('ds');
  const x = g.addInput('x', { dtype: 'f32', shape: [1, Cin, H, H] });
  const wdw = g.addConstant('wdw', zeros([Cin, 1, K, K])), wpw = g.addConstant('wpw', zeros([Cout, Cin, 1, 1]));
  const geo = { strides: [S, S], pads: Array(4).fill(K >> 1) };
  const y = fused
    ? g.add('FusedDwPw', [x, wdw, '', wpw], geo)
    : g.add('Conv', [g.add('Conv', [x, wdw], { ...geo, group: Cin }), wpw]);
  g.setOutputs([y]);
  return g;
}

describe('cost model', () => {
  const shapes: [number, number, number, number, number][] = [[32, 64, 3, 56, 1], [16, 24, 5, 28, 2], [3, 8, 7, 10, 1], [96, 160, 3, 7, 2]];
  for (const [Cin, Cout, K, H, S] of shapes) {
    it(`depthwise-separable / standard MACs = 1/Cout + 1/K² exactly (Cin ${Cin}, Cout ${Cout}, K ${K}, H ${H}, stride ${S})`, () => {
      const std = macs(standardConv(Cin, Cout, K, H, S));
      for (const fused of [false, true]) {
        const ds = macs(separableConv(Cin, Cout, K, H, S, fused));
        // ds/std = 1/Cout + 1/K²  ⇔  ds·Cout·K² = std·(K² + Cout), in exact integers
        expect(ds * Cout * K * K).toBe(std * (K * K + Cout));
      }
    });
  }

  it('conv MACs = N·M·OH·OW·(C/group)·kH·kW; params = weights + bias', () => {
    const g = new Graph('c');
    const x = g.addInput('x', { dtype: 'f32', shape: [2, 8, 9, 11] });
    // group 4, 12 outputs, 3×2 kernel, stride 2×3, pads 1: OH = floor((9+2−3)/2)+1 = 5, OW = floor((11+2−2)/3)+1 = 4
    const y = g.add('Conv', [x, g.addConstant('w', zeros([12, 2, 3, 2])), g.addConstant('b', zeros([12]))], { group: 4, strides: [2, 3], pads: [1, 1, 1, 1] });
    g.setOutputs([y]);
    expect(g.type(y).shape).toEqual([2, 12, 5, 4]);
    const c = nodeCost(g, g.nodes[0]);
    expect(c.flops).toBe(2 * (2 * 12 * 5 * 4 * 2 * 3 * 2));
    expect(c.params).toBe(12 * 2 * 3 * 2 + 12);
  });

  it('ConvTranspose MACs = N·C·H·W·(M/group)·k; BatchNorm params = 2·C; pools have none', () => {
    const g = new Graph('t');
    const x = g.addInput('x', { dtype: 'f32', shape: [1, 4, 5, 5] });
    const t = g.add('ConvTranspose', [x, g.addConstant('w', zeros([4, 3, 2, 2]))], { strides: [2, 2], group: 2 });
    const bn = g.add('BatchNormalization', [t, ...[0, 1, 2, 3].map((i) => g.addConstant(`p${i}`, zeros([6])))]);
    const mp = g.add('MaxPool', [bn], { kernel_shape: [2, 2], strides: [2, 2] });
    g.setOutputs([g.add('GlobalAveragePool', [mp])]);
    const [ct, b, p, gap] = g.nodes.map((n) => nodeCost(g, n));
    expect(ct.flops).toBe(2 * (1 * 4 * 25 * 3 * 4));
    expect(ct.params).toBe(4 * 3 * 4);
    expect(b.params).toBe(12);
    expect([p.params, p.flops]).toEqual([0, 6 * 25 * 4]);
    expect([gap.params, gap.flops]).toEqual([0, 6 * 25]);
  });
});
