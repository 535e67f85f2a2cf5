/**
 * passes/quantize-qdq.ts on a QDQ model written here as ONNX (Q/DQ around Conv+Relu, a Flatten,
 * and Gemm with transB, per-channel int8 weights, int32 biases, as onnxruntime's quantizer writes
 * them): the rewritten graph has QConv/QGemm instead of the float ops, and the reference gives the
 * same u8 outputs as before the pass: exactly with power-of-two scales (every float step exact),
 * within one quantization step with arbitrary scales.
 */
import { describe, expect, it } from 'vitest';
import { importOnnx } from '../frontends/onnx/import.js';
import { onnx } from '../frontends/onnx/proto.js';
import type { Graph } from '../ir/graph.js';
import { interpret } from '../ir/interpreter.js';
import { verify } from '../ir/verify.js';
import { quantizeQdq } from '../passes/quantize-qdq.js';
import { PASSES } from '../passes/pipeline.js';
import { tensor, toF64, type Tensor } from '../runtime/tensor.js';

const DT = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6 };
const A = onnx.AttributeProto.AttributeType;

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32; };
}

interface Scales { sx: number; sy: number; sw: number[]; s2: number; sw2: number[]; s3: number }

/** x f32 [1,3,6,6] → Q/DQ → Conv(3→4, 3×3, pad 1)+bias → Relu → Q (y1, u8) → DQ → Flatten → Q/DQ → Gemm(transB, 144→5)+bias → Q (y2, u8). */
/** floatOut: no QuantizeLinear after the Gemm (its f32 output g is the graph output). */
function qdqModel(sc: Scales, seed: number, gemmHost: 'Gemm' | 'MatMul' = 'Gemm', floatOut = false): Uint8Array {
  const r = rng(seed);
  const ints = (n: number, lo: number, hi: number) => Array.from({ length: n }, () => lo + Math.floor(r() * (hi - lo + 1)));
  const init = (name: string, dataType: number, dims: number[], v: number[]) =>
    (dataType === DT.FLOAT ? { name, dataType, dims, floatData: v } : { name, dataType, dims, int32Data: v });
  const f32 = Math.fround;
  const inits = [
    init('sx', DT.FLOAT, [], [sc.sx]), init('zx', DT.UINT8, [], [128]),
    init('w', DT.INT8, [4, 3, 3, 3], ints(108, -127, 127)), init('sw', DT.FLOAT, [4], sc.sw), init('zw', DT.INT8, [4], [0, 0, 0, 0]),
    init('b', DT.INT32, [4], ints(4, -2000, 2000)), init('sb', DT.FLOAT, [4], sc.sw.map((s) => f32(sc.sx * s))), init('zb', DT.INT32, [4], [0, 0, 0, 0]),
    init('sy', DT.FLOAT, [], [sc.sy]), init('zy', DT.UINT8, [], [0]),
    init('s2', DT.FLOAT, [], [sc.s2]), init('z2', DT.UINT8, [], [100]),
    gemmHost === 'Gemm'
      ? init('w2', DT.INT8, [5, 144], ints(720, -127, 127)) : init('w2', DT.INT8, [144, 5], ints(720, -127, 127)),
    init('sw2', DT.FLOAT, [5], sc.sw2), init('zw2', DT.INT8, [5], [0, 0, 0, 0, 0]),
    init('b2', DT.INT32, [5], ints(5, -5000, 5000)), init('sb2', DT.FLOAT, [5], sc.sw2.map((s) => f32(sc.s2 * s))), init('zb2', DT.INT32, [5], [0, 0, 0, 0, 0]),
    init('s3', DT.FLOAT, [], [sc.s3]), init('z3', DT.UINT8, [], [128]),
  ];
  const n = (opType: string, input: string[], output: string[], attribute: object[] = []) => ({ opType, input, output, attribute, name: output[0] + '_n' });
  const axis = (i: number) => ({ name: 'axis', type: A.INT, i });
  const nodes = [
    n('QuantizeLinear', ['x', 'sx', 'zx'], ['xq']), n('DequantizeLinear', ['xq', 'sx', 'zx'], ['xd']),
    n('DequantizeLinear', ['w', 'sw', 'zw'], ['wd'], [axis(0)]), n('DequantizeLinear', ['b', 'sb', 'zb'], ['bd'], [axis(0)]),
    n('Conv', ['xd', 'wd', 'bd'], ['c'], [{ name: 'pads', type: A.INTS, ints: [1, 1, 1, 1] }]), n('Relu', ['c'], ['r']),
    n('QuantizeLinear', ['r', 'sy', 'zy'], ['y1']), n('DequantizeLinear', ['y1', 'sy', 'zy'], ['y1d']),
    n('Flatten', ['y1d'], ['f']), n('QuantizeLinear', ['f', 's2', 'z2'], ['fq']), n('DequantizeLinear', ['fq', 's2', 'z2'], ['fd']),
    n('DequantizeLinear', ['w2', 'sw2', 'zw2'], ['w2d'], [axis(gemmHost === 'Gemm' ? 0 : 1)]), n('DequantizeLinear', ['b2', 'sb2', 'zb2'], ['b2d'], [axis(0)]),
    gemmHost === 'Gemm'
      ? n('Gemm', ['fd', 'w2d', 'b2d'], ['g'], [{ name: 'transB', type: A.INT, i: 1 }])
      : n('MatMul', ['fd', 'w2d'], ['g']),
    ...(floatOut ? [] : [n('QuantizeLinear', ['g', 's3', 'z3'], ['y2'])]),
  ];
  const vi = (name: string, elemType: number, dims: number[]) => ({ name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } });
  return onnx.ModelProto.encode(onnx.ModelProto.create({
    irVersion: 8, opsetImport: [{ domain: '', version: 13 }],
    graph: { name: 'qdq', node: nodes, input: [vi('x', DT.FLOAT, [1, 3, 6, 6])], output: [vi('y1', DT.UINT8, [1, 4, 6, 6]), floatOut ? vi('g', DT.FLOAT, [1, 5]) : vi('y2', DT.UINT8, [1, 5])], initializer: inits },
  })).finish();
}

function inputOf(seed: number): Tensor {
  const r = rng(seed);
  return tensor('f32', [1, 3, 6, 6], Float32Array.from({ length: 108 }, () => (r() * 2 - 1) * 1.5));
}

function runBoth(model: Uint8Array, x: Tensor): { before: Graph; after: Graph; a: Float64Array[]; b: Float64Array[] } {
  const before = importOnnx(model);
  verify(before);
  const after = quantizeQdq(before);
  verify(after);
  const outs = (g: Graph) => { const o = interpret(g, { x }); return g.outputs.map((name) => toF64(o[name])); };
  return { before, after, a: outs(before), b: outs(after) };
}

const ops = (g: Graph) => g.nodes.map((n) => n.op);

describe('quantize-qdq', () => {
  it('is registered as a pass', () => {
    expect(PASSES['quantize-qdq']).toBeDefined();
  });

  it('rewrites Conv+Relu and Gemm(transB) QDQ patterns into QConv/QGemm, same u8 outputs exactly (power-of-two scales)', () => {
    const sc: Scales = { sx: 2 ** -6, sy: 2 ** -3, sw: [2 ** -7, 2 ** -8, 2 ** -6, 2 ** -7], s2: 2 ** -3, sw2: [2 ** -9, 2 ** -8, 2 ** -9, 2 ** -10, 2 ** -8], s3: 2 ** -2 };
    for (const seed of [1, 2, 3]) {
      const { before, after, a, b } = runBoth(qdqModel(sc, seed), inputOf(seed + 10));
      expect(ops(before)).toContain('Conv');
      expect(ops(after).filter((o) => o === 'QConv' || o === 'QGemm')).toEqual(['QConv', 'QGemm']);
      expect(ops(after)).not.toContain('Conv');
      expect(ops(after)).not.toContain('Gemm');
      expect(after.type(after.outputs[0]).dtype).toBe('u8');
      // the outputs are not trivial (not all saturated or zero)
      expect(new Set(a[0]).size).toBeGreaterThan(10);
      expect(new Set(a[1]).size).toBeGreaterThan(2);
      expect(Array.from(b[0])).toEqual(Array.from(a[0]));
      expect(Array.from(b[1])).toEqual(Array.from(a[1]));
    }
  });

  it('with arbitrary f32 scales: within one quantization step, and nearly always equal', () => {
    let total = 0, equal = 0, worst = 0;
    for (const seed of [4, 5, 6, 7]) {
      const r = rng(seed * 7);
      const s = (lo: number) => Math.fround(lo * (1 + r()));
      const sc: Scales = { sx: s(0.01), sy: s(0.05), sw: [s(0.003), s(0.004), s(0.002), s(0.005)], s2: s(0.05), sw2: [0, 0, 0, 0, 0].map(() => s(0.002)), s3: s(0.1) };
      const { a, b } = runBoth(qdqModel(sc, seed), inputOf(seed + 10));
      for (let k = 0; k < 2; k++) {
        for (let i = 0; i < a[k].length; i++) {
          total++;
          if (a[k][i] === b[k][i]) equal++;
          worst = Math.max(worst, Math.abs(a[k][i] - b[k][i]));
        }
      }
    }
    expect(worst).toBeLessThanOrEqual(1);
    expect(equal / total).toBeGreaterThan(0.97);
  });

  it('rewrites MatMul with per-column weight scales into QGemm', () => {
    const sc: Scales = { sx: 2 ** -6, sy: 2 ** -3, sw: [2 ** -7, 2 ** -8, 2 ** -6, 2 ** -7], s2: 2 ** -3, sw2: [2 ** -9, 2 ** -8, 2 ** -9, 2 ** -10, 2 ** -8], s3: 2 ** -2 };
    const { after, a, b } = runBoth(qdqModel(sc, 9, 'MatMul'), inputOf(19));
    expect(ops(after)).toContain('QGemm');
    expect(ops(after)).not.toContain('MatMul');
    expect(Array.from(b[1])).toEqual(Array.from(a[1]));
  });

  it('a Gemm whose f32 output is not requantized (a graph output) becomes a QGemm with f32 output: same values (power-of-two scales)', () => {
    const sc: Scales = { sx: 2 ** -6, sy: 2 ** -3, sw: [2 ** -7, 2 ** -8, 2 ** -6, 2 ** -7], s2: 2 ** -3, sw2: [2 ** -9, 2 ** -8, 2 ** -9, 2 ** -10, 2 ** -8], s3: 2 ** -2 };
    for (const host of ['Gemm', 'MatMul'] as const) {
      const { after, a, b } = runBoth(qdqModel(sc, 3, host, true), inputOf(13));
      const q = after.nodes.find((n) => n.op === 'QGemm');
      expect(q?.attrs.out_dtype).toBe('f32');
      expect(ops(after)).not.toContain(host);
      expect(after.type('g').dtype).toBe('f32');
      expect(new Set(a[1]).size).toBe(5);
      expect(Array.from(b[1])).toEqual(Array.from(a[1]));
    }
  });

  it('leaves float convs alone (f32 weights, no QuantizeLinear after)', () => {
    const sc: Scales = { sx: 2 ** -6, sy: 2 ** -3, sw: [2 ** -7, 2 ** -8, 2 ** -6, 2 ** -7], s2: 2 ** -3, sw2: [2 ** -9, 2 ** -8, 2 ** -9, 2 ** -10, 2 ** -8], s3: 2 ** -2 };
    const g = importOnnx(qdqModel(sc, 1));
    // Turn the weight DequantizeLinear into a plain f32 constant: no int8 weights, no rewrite of the Conv.
    const folded = PASSES['fold-constants'].run(g, { target: 'reference', options: {} });
    const after = quantizeQdq(folded);
    expect(ops(after)).toContain('Conv');
    expect(ops(after)).not.toContain('QConv');
  });
});
