import { describe, expect, it } from 'vitest';
import { Graph } from '../../ir/graph.js';
import { weightBytes } from '../../ir/cost.js';
import { castToFp16 } from '../../passes/fp16.js';
import { expectSameOutputs, ops, randomConstant } from './helpers.js';

/** conv1 → conv2 (relu) → GlobalAveragePool → Flatten → Gemm: first and last weighted layers at the ends. */
function net(): Graph {
  const g = new Graph('t');
  const x = g.addInput('x', { dtype: 'f32', shape: [1, 3, 6, 6] });
  let v = g.add('Conv', [x, randomConstant(g, 'w1', [8, 3, 3, 3], 1), randomConstant(g, 'b1', [8], 2)], { pads: [1, 1, 1, 1], activation: 'relu' }, { name: 'conv1' });
  v = g.add('Conv', [v, randomConstant(g, 'w2', [8, 8, 3, 3], 3), randomConstant(g, 'b2', [8], 4)], { pads: [1, 1, 1, 1] }, { name: 'conv2' });
  v = g.add('Relu', [v], {}, { name: 'relu' });
  v = g.add('Conv', [v, randomConstant(g, 'w3', [8, 8, 1, 1], 5)], {}, { name: 'conv3' });
  v = g.add('GlobalAveragePool', [v], {}, { name: 'gap' });
  v = g.add('Flatten', [v], { axis: 1 }, { name: 'flatten' });
  g.setOutputs([g.add('Gemm', [v, randomConstant(g, 'fc', [4, 8], 6)], { transB: 1 }, { name: 'fc', outputs: ['out'] })]);
  return g;
}

const node = (g: Graph, name: string) => g.nodes.find((n) => n.name === name)!;

describe('fp16', () => {
  it('middle layers run in f16 with f16 weights; first/last layer and the pool stay f32; casts at the seams', () => {
    const g = net();
    const h = castToFp16(g);
    for (const name of ['conv2', 'relu', 'conv3']) {
      const n = node(h, name);
      for (const i of n.inputs) if (i) expect(h.type(i).dtype, `${name} input ${i}`).toBe('f16');
      expect(h.type(n.outputs[0]).dtype).toBe('f16');
    }
    for (const name of ['conv1', 'gap', 'flatten', 'fc']) {
      const n = node(h, name);
      for (const i of n.inputs) if (i) expect(h.type(i).dtype, `${name} input ${i}`).toBe('f32');
    }
    expect(ops(h).Cast).toBe(2); // conv1 → conv2 and conv3 → gap
    expect(h.type('out').dtype).toBe('f32');
    expectSameOutputs(g, h, 1e-2);
  });

  it('with no f32 pins every weighted layer is f16 and weight bytes halve exactly; the f16 output is cast back', () => {
    const g = net();
    const h = castToFp16(g, { keepFirst: false, keepLast: false, f16Ops: ['Conv', 'Gemm', 'Relu', 'GlobalAveragePool'] });
    expect(weightBytes(h) * 2).toBe(weightBytes(g));
    expect(h.nodes.at(-1)!.op).toBe('Cast');
    expect(h.type('out').dtype).toBe('f32');
    expectSameOutputs(g, h, 1e-2);
  });
});
