/**
 * The wasm target's generic scalar kernels (kernels-generic.ts, kernels-reduce.ts) against the
 * reference interpreter: Reduce* over any axes with and without keepdims, LogSoftmax, Conv and
 * ConvTranspose of any rank, batch and group with weights fed at run time, batched MatMul and
 * Gemm with run-time operands, pooling of any rank and batch, BatchNormalization with run-time
 * parameters, InstanceNormalization, LRN and LayerNormalization with a run-time scale.
 * Tolerance (f32): |wasm − ref| ≤ 1e-5 + 1e-4·|ref|; NaN exactly where the reference has NaN, the
 * same infinities (test/wasm-golden.ts `mismatch`). Each case runs at -O0 and with the defaults.
 */
import { describe, expect, it } from 'vitest';
import { compile } from '../index.js';
import { Graph } from '../ir/graph.js';
import { interpret } from '../ir/interpreter.js';
import type { AttrValue } from '../ir/op.js';
import { tensor, type Tensor } from '../runtime/tensor.js';
import { mismatch } from './wasm-golden.js';
import { F32_TOL, relErr } from './golden.js';
import { zoo } from '../models/index.js';

function randT(shape: number[], seed: number, scale = 1): Tensor {
  let s = seed * 2654435761 >>> 0;
  const n = shape.reduce((a, b) => a * b, 1);
  return tensor('f32', shape, Float32Array.from({ length: n }, () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return (s / 2 ** 31 - 1) * scale;
  }));
}

/** randT with special values written over some elements (NaN, ±Inf, −0). */
function withSpecials(t: Tensor): Tensor {
  const d = Float32Array.from(t.data as Float32Array);
  [NaN, Infinity, -Infinity, -0].forEach((v, i) => { if (d.length > 7 * i + 3) d[7 * i + 3] = v; });
  return tensor('f32', t.shape, d);
}

/** One node over inputs: those in `live` are graph inputs (fed at run time), the rest constants. */
function oneNode(op: string, ins: Tensor[], attrs: Record<string, AttrValue>, live: number[]) {
  const g = new Graph('t');
  const feeds: Record<string, Tensor> = {};
  const names = ins.map((t, i) => {
    if (live.includes(i)) { feeds[`x${i}`] = t; return g.addInput(`x${i}`, { dtype: t.dtype, shape: t.shape }); }
    return g.addConstant(`c${i}`, t);
  });
  g.setOutputs([g.add(op, names, attrs, { name: 'n0' })]);
  return { g, feeds };
}

async function expectGolden(g: Graph, feeds: Record<string, Tensor>): Promise<void> {
  const ref = interpret(g, feeds);
  for (const opts of [{ opt: 'O0' as const }, {}]) {
    const got = await (await compile(g, 'wasm', opts)).run(feeds);
    for (const k of Object.keys(ref)) {
      expect(got[k].shape).toEqual(ref[k].shape);
      expect(mismatch(ref[k].data as Float32Array, got[k].data as Float32Array, (i) => `${k}[${i}] ${JSON.stringify(opts)}`)).toBeUndefined();
    }
  }
}

const CASES: [string, string, Tensor[], Record<string, AttrValue>, number[]][] = [
  ['ReduceSum over axis 1, not kept', 'ReduceSum', [randT([2, 3, 4, 5], 1)], { axes: [1], keepdims: 0 }, [0]],
  ['ReduceMean over axes [2, 3], not kept (torchvision x.mean([2, 3]))', 'ReduceMean', [randT([2, 8, 3, 3], 2)], { axes: [2, 3], keepdims: 0 }, [0]],
  ['ReduceMean over axes [0, 2], kept', 'ReduceMean', [randT([2, 3, 4], 3)], { axes: [0, 2], keepdims: 1 }, [0]],
  ['ReduceMax over every axis, with NaN and ±Inf', 'ReduceMax', [withSpecials(randT([3, 4, 5], 4))], { keepdims: 0 }, [0]],
  ['ReduceMax over the last axis, with NaN and ±Inf', 'ReduceMax', [withSpecials(randT([6, 5], 5))], { axes: [-1], keepdims: 1 }, [0]],
  ['ReduceMin over axis 0, with NaN and ±Inf', 'ReduceMin', [withSpecials(randT([5, 6], 6))], { axes: [0], keepdims: 0 }, [0]],
  ['ReduceSum with empty axes and noop_with_empty_axes', 'ReduceSum', [randT([2, 3], 7)], { noop_with_empty_axes: 1 }, [0]],
  ['LogSoftmax along axis 1, large values', 'LogSoftmax', [randT([2, 7, 3], 8, 100)], { axis: 1 }, [0]],
  ['Conv with run-time weights and bias, group 2, batch 2', 'Conv', [randT([2, 4, 6, 5], 9), randT([6, 2, 3, 3], 10), randT([6], 11)], { group: 2, pads: [1, 0, 1, 2], strides: [2, 1] }, [0, 1, 2]],
  ['1-D Conv, dilated', 'Conv', [randT([1, 3, 11], 12), randT([4, 3, 3], 13)], { dilations: [2], pads: [1, 1] }, [0]],
  ['3-D Conv, batch 2', 'Conv', [randT([2, 2, 4, 5, 3], 14), randT([3, 2, 2, 3, 2], 15), randT([3], 16)], { pads: [0, 1, 0, 1, 1, 1] }, [0, 1]],
  ['ConvTranspose with run-time weights, stride 2, group 2, batch 2', 'ConvTranspose', [randT([2, 4, 3, 3], 17), randT([4, 3, 3, 3], 18), randT([6], 19)], { group: 2, strides: [2, 2], pads: [1, 0, 0, 1], output_padding: [1, 1] }, [0, 1, 2]],
  ['1-D ConvTranspose', 'ConvTranspose', [randT([1, 2, 5], 20), randT([2, 3, 4], 21)], { strides: [3] }, [0, 1]],
  ['3-D ConvTranspose', 'ConvTranspose', [randT([1, 2, 3, 2, 3], 22), randT([2, 2, 2, 2, 2], 23)], { strides: [2, 1, 2] }, [0]],
  ['Gemm with run-time B and C, transA, transB, alpha, beta', 'Gemm', [randT([4, 3], 24), randT([5, 4], 25), randT([1, 5], 26)], { transA: 1, transB: 1, alpha: 0.5, beta: 2 }, [0, 1, 2]],
  ['MatMul batched and broadcast, run-time B', 'MatMul', [randT([2, 1, 3, 4], 27), randT([3, 4, 5], 28)], {}, [0, 1]],
  ['MatMul of a 1-D A and a 3-D B', 'MatMul', [randT([4], 29), randT([2, 4, 3], 30)], {}, [0, 1]],
  ['MatMul of a 3-D A and a 1-D B', 'MatMul', [randT([2, 3, 4], 31), randT([4], 32)], {}, [0, 1]],
  ['MaxPool on batch 2 with NaN and ±Inf', 'MaxPool', [withSpecials(randT([2, 3, 5, 5], 33))], { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 }, [0]],
  ['3-D AveragePool with count_include_pad', 'AveragePool', [randT([1, 2, 4, 5, 3], 34)], { kernel_shape: [2, 3, 2], pads: [1, 1, 0, 0, 1, 1], count_include_pad: 1 }, [0]],
  ['3-D AveragePool without count_include_pad', 'AveragePool', [randT([2, 2, 4, 5, 3], 35)], { kernel_shape: [2, 3, 2], pads: [1, 1, 0, 0, 1, 1] }, [0]],
  ['1-D MaxPool on batch 3, dilated', 'MaxPool', [randT([3, 2, 9], 36)], { kernel_shape: [3], dilations: [2] }, [0]],
  ['GlobalAveragePool on batch 2', 'GlobalAveragePool', [randT([2, 3, 4, 4], 37)], {}, [0]],
  ['GlobalMaxPool on batch 2, 3-D', 'GlobalMaxPool', [withSpecials(randT([2, 3, 2, 3, 2], 38))], {}, [0]],
  ['BatchNormalization with run-time parameters', 'BatchNormalization', [randT([2, 3, 4, 4], 39), randT([3], 40), randT([3], 41), randT([3], 42), tensor('f32', [3], [0.5, 1, 2])], {}, [0, 1, 2, 3, 4]],
  ['InstanceNormalization, run-time scale', 'InstanceNormalization', [randT([2, 3, 4, 5], 43), randT([3], 44), randT([3], 45)], { epsilon: 1e-3 }, [0, 1]],
  ['LRN', 'LRN', [randT([2, 5, 3, 3], 46, 3)], { size: 3, alpha: 0.01, beta: 0.75, bias: 1.5 }, [0]],
  ['LayerNormalization with run-time scale and bias', 'LayerNormalization', [randT([2, 3, 4], 47), randT([3, 4], 48), randT([3, 4], 49)], { axis: 1 }, [0, 1, 2]],
];

describe('wasm generic kernels vs the reference', () => {
  for (const [what, op, ins, attrs, live] of CASES) {
    it(what, async () => {
      const { g, feeds } = oneNode(op, ins, attrs, live);
      await expectGolden(g, feeds);
    });
  }

  it('a run-time-weight Conv followed by Relu fuses into the generic kernel and matches', async () => {
    const g = new Graph('fused');
    g.addInput('x', { dtype: 'f32', shape: [2, 3, 5, 5] });
    g.addInput('w', { dtype: 'f32', shape: [4, 3, 3, 3] });
    g.setOutputs([g.add('Relu', [g.add('Conv', ['x', 'w'], { pads: [1, 1, 1, 1] })])]);
    const feeds = { x: randT([2, 3, 5, 5], 50), w: randT([4, 3, 3, 3], 51) };
    await expectGolden(g, feeds);
    const c = await compile(g, 'wasm');
    // the epilogue took the Relu
    expect(c.graph.nodes.map((n) => n.op)).not.toContain('Relu');
    expect(c.graph.nodes.find((n) => n.op === 'Conv')?.attrs.activation).toBe('relu');
  });

  it('models at batch 2 (FusedDwPw, pools, convs through the generic kernels): mobilenet_v2 and squeezenet1_1 match the reference', async () => {
    for (const name of ['mobilenet_v2', 'squeezenet1_1']) {
      const g = zoo(name, { size: 32, batch: 2 });
      const x = randT([...g.type(g.inputs[0]).shape], 52);
      const ref = interpret(g, { [g.inputs[0]]: x })[g.outputs[0]].data as Float32Array;
      const c = await compile(g, 'wasm');
      const got = (await c.run({ [g.inputs[0]]: x }))[g.outputs[0]].data as Float32Array;
      // a whole network: the kernels' tolerance, max |ref − wasm| ≤ 1e-4 · max |ref|
      expect(relErr(ref, got), name).toBeLessThan(F32_TOL);
    }
  });
});
