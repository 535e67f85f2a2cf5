import { describe, expect, it } from 'vitest';
import { Graph } from '../../ir/graph.js';
import { fuseDwPw } from '../../passes/fuse-dwpw.js';
import { expectSameOutputs, ops, randomConstant } from './helpers.js';

function dwpw(opts: { stride?: number; extraReader?: boolean } = {}): Graph {
  const g = new Graph('t');
  const s = opts.stride ?? 1;
  const x = g.addInput('x', { dtype: 'f32', shape: [1, 4, 6, 6] });
  const r = g.addInput('r', { dtype: 'f32', shape: [1, 5, 6 / s, 6 / s] });
  const d = g.add('Conv', [x, randomConstant(g, 'wdw', [4, 1, 3, 3], 1), randomConstant(g, 'bdw', [4], 2)],
    { group: 4, pads: [1, 1, 1, 1], strides: [s, s], activation: 'clip', act_alpha: 0, act_beta: 6 }, { name: 'dw' });
  const p = g.add('Conv', [d, randomConstant(g, 'wpw', [5, 4, 1, 1], 3), '', r], { activation: 'relu' }, { name: 'pw' });
  g.setOutputs(opts.extraReader ? [p, d] : [p]);
  return g;
}

describe('fuse-dwpw', () => {
  it('a depthwise conv with its epilogue and the 1×1 conv reading it become one FusedDwPw', () => {
    for (const stride of [1, 2]) {
      const g = dwpw({ stride });
      const h = fuseDwPw(g);
      expect(ops(h)).toEqual({ FusedDwPw: 1 });
      const f = h.nodes[0];
      expect(f.inputs).toEqual(['x', 'wdw', 'bdw', 'wpw', '', 'r']);
      expect([f.attrs.dw_activation, f.attrs.dw_beta, f.attrs.activation]).toEqual(['clip', 6, 'relu']);
      expect(f.attrs.strides).toEqual([stride, stride]);
      expect(f.outputs).toEqual(g.outputs);
      expectSameOutputs(g, h, 1e-6);
    }
  });

  it('keeps the pair when the depthwise output has another reader', () => {
    const g = dwpw({ extraReader: true });
    expect(ops(fuseDwPw(g))).toEqual({ Conv: 2 });
  });

  it('does not fuse a grouped (non-depthwise) conv or a 3×3 second conv', () => {
    const g = new Graph('t');
    const x = g.addInput('x', { dtype: 'f32', shape: [1, 4, 6, 6] });
    const a = g.add('Conv', [x, randomConstant(g, 'w1', [4, 2, 3, 3], 1)], { group: 2, pads: [1, 1, 1, 1] });
    const b = g.add('Conv', [a, randomConstant(g, 'w2', [4, 4, 1, 1], 2)]);
    const c = g.add('Conv', [x, randomConstant(g, 'w3', [4, 1, 3, 3], 3)], { group: 4 });
    const d = g.add('Conv', [c, randomConstant(g, 'w4', [4, 4, 3, 3], 4)]);
    g.setOutputs([b, d]);
    expect(ops(fuseDwPw(g))).toEqual({ Conv: 4 });
  });
});
