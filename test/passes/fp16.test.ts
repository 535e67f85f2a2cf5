import { describe, expect, it } from 'vitest';
import { Graph } from '../../ir/graph.js';
import { weightBytes } from '../../ir/cost.js';
import { castToFp16, roundWeightsToFp16 } from '../../passes/fp16.js';
import { describePipeline, runPipeline } from '../../passes/pipeline.js';
import { roundF16 } from '../../runtime/tensor.js';
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

  const weightsOf = (g: Graph, name: string) => node(g, name).inputs.slice(1).filter((i) => g.constValue(i)).map((i) => g.constValue(i)!.data as Float32Array);
  const f16Exact = (d: Float32Array) => d.every((x) => roundF16(x) === x);

  it("'storage' mode: every weighted layer's constants rounded to f16 values, every dtype f32, no Casts", () => {
    const g = net();
    const h = roundWeightsToFp16(g);
    expect(ops(h).Cast).toBeUndefined();
    expect(h.nodes.map((n) => n.op)).toEqual(g.nodes.map((n) => n.op));
    for (const v of h.values.values()) expect(v.type.dtype, v.name).toBe('f32');
    for (const name of ['conv1', 'conv2', 'conv3', 'fc']) {
      const ws = weightsOf(h, name);
      expect(ws.length).toBeGreaterThan(0);
      for (const w of ws) expect(f16Exact(w), name).toBe(true);
    }
    expect(f16Exact(weightsOf(g, 'conv2')[0])).toBe(false); // they were not before
    expect(weightBytes(h)).toBe(weightBytes(g)); // still f32 in the graph: the code generator stores them in half
    expectSameOutputs(g, h, 1e-2);
  });

  it("'storage' mode: pins only when the policy asks; a constant beyond f16's range stays as it was", () => {
    const g = net();
    const pinned = roundWeightsToFp16(g, { keepFirst: true, keepLast: true });
    expect(weightsOf(pinned, 'conv1').every(f16Exact)).toBe(false);
    expect(weightsOf(pinned, 'fc').every(f16Exact)).toBe(false);
    expect(weightsOf(pinned, 'conv2').every(f16Exact)).toBe(true);
    const big = new Graph('big');
    const x = big.addInput('x', { dtype: 'f32', shape: [1, 2] });
    const w = big.addConstant('w', { dtype: 'f32', shape: [2, 2], data: Float32Array.from([1e5, 0.1, 0.2, 0.3]) });
    big.setOutputs([big.add('Gemm', [x, w], {}, { name: 'fc', outputs: ['y'] })]);
    expect([...weightsOf(roundWeightsToFp16(big), 'fc')[0]]).toEqual([...Float32Array.from([1e5, 0.1, 0.2, 0.3])]);
  });

  it("the wasm target's pipeline runs fp16 in 'storage' mode; a bare target name (and cuda, wgsl) in 'compute' mode", () => {
    const wasm = { name: 'wasm', defaults: { opt: 'O3', layout: 'NHWC', fp16: false, fp16Mode: 'storage' } } as const;
    expect(describePipeline(wasm, { fp16: true })).toMatch(/^pipeline for wasm \(-O3, NHWC, fp16 weights\):/);
    const g = net();
    expect(ops(runPipeline(g, wasm, { fp16: true }).graph).Cast).toBeUndefined();
    expect(ops(runPipeline(g, wasm, { fp16: true, fp16Mode: 'compute' }).graph).Cast).toBeGreaterThan(0);
    expect(ops(runPipeline(g, 'wasm', { fp16: true }).graph).Cast).toBeGreaterThan(0);
  });
});
