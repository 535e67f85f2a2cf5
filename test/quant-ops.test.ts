/**
 * The quantization ops (ir/ops/quant.ts) on hand-computed cases the ONNX node tests do not cover:
 * round half to even, saturation per dtype (u8/i8/u16/i16/u4/i4, 8-bit floats with and without
 * `saturate`), per-axis and blocked parameters, output_dtype, int32 dequantization, per-channel
 * integer conv/matmul; and hostile parameters giving typed errors that name the node.
 */
import { describe, expect, it } from 'vitest';
import { CnncError } from '../runtime/errors.js';
import { fromF64, tensor, toF64, type DType, type Tensor } from '../runtime/tensor.js';
import { importOnnx } from '../frontends/onnx/import.js';
import { onnx } from '../frontends/onnx/proto.js';
import { errorOf, runOp } from './op-harness.js';

const t = (dtype: DType, shape: number[], v: number[]): Tensor => fromF64(dtype, shape, v);
const vals = (x: Tensor) => Array.from(toF64(x));

describe('QuantizeLinear', () => {
  it('rounds x / scale half to even and saturates; u8 without a zero point', () => {
    const y = runOp('QuantizeLinear', [t('f32', [7], [0, 1, 2, 3, 5, -2, 600]), t('f32', [], [2])]);
    expect(y.dtype).toBe('u8');
    expect(vals(y)).toEqual([0, 0, 1, 2, 2, 0, 255]);
  });

  it('adds the zero point after rounding and saturates to i8', () => {
    const y = runOp('QuantizeLinear', [t('f32', [4], [-70, 0.25, 0.75, 63.9]), t('f32', [], [0.5]), t('i8', [], [-1])]);
    expect(vals(y)).toEqual([-128, -1, 1, 127]);
  });

  it('saturates to i16, u16, i4 and u4', () => {
    const q = (x: number[], dt: DType, zp: number) => vals(runOp('QuantizeLinear', [t('f32', [x.length], x), t('f32', [], [1]), t(dt, [], [zp])]));
    expect(q([40000, -1, -40000], 'i16', 0)).toEqual([32767, -1, -32768]);
    expect(q([-5, 70000, 7.5], 'u16', 0)).toEqual([0, 65535, 8]);
    expect(q([-10, -8.5, 3.5, 7.6, 100], 'i4', 0)).toEqual([-8, -8, 4, 7, 7]);
    expect(q([-3, 1.5, 20], 'u4', 2)).toEqual([0, 4, 15]);
  });

  it('takes per-axis scales and zero points', () => {
    const y = runOp('QuantizeLinear', [t('f32', [2, 2], [1, 2, 3, 4]), t('f32', [2], [1, 2]), t('u8', [2], [0, 10])], { axis: 0 });
    expect(vals(y)).toEqual([1, 2, 12, 12]);
    const z = runOp('QuantizeLinear', [t('f32', [2, 2], [1, 2, 3, 4]), t('f32', [2], [1, 2]), t('u8', [2], [0, 10])], { axis: -1 });
    expect(vals(z)).toEqual([1, 11, 3, 12]);
  });

  it('takes blocked scales (block_size along the axis, the last block shorter)', () => {
    const y = runOp('QuantizeLinear', [t('f32', [2, 4], [1, 2, 3, 4, 4, 8, 1, 1.25]), t('f32', [2, 2], [1, 2, 4, 0.5]), t('i8', [2, 2], [0, 0, 0, 0])], { axis: 1, block_size: 2 });
    expect(vals(y)).toEqual([1, 2, 2, 2, 1, 2, 2, 2]);
    const z = runOp('QuantizeLinear', [t('f32', [1, 5], [1, 2, 3, 4, 5]), t('f32', [1, 3], [1, 2, 5])], { axis: 1, block_size: 2 });
    expect(vals(z)).toEqual([1, 2, 2, 2, 1]);
  });

  it('casts to 8-bit floats with and without saturation', () => {
    const x = t('f32', [3], [1000, -1000, 1.0625]);
    const zp = t('f8e4m3fn', [], [0]);
    expect(vals(runOp('QuantizeLinear', [x, t('f32', [], [1]), zp]))).toEqual([448, -448, 1]);
    const raw = vals(runOp('QuantizeLinear', [x, t('f32', [], [1]), zp], { saturate: 0 }));
    expect(raw[0]).toBeNaN();
    expect(raw[1]).toBeNaN();
  });

  it('takes output_dtype instead of a zero point', () => {
    const y = runOp('QuantizeLinear', [t('f32', [2], [-300, 2.5]), t('f32', [], [1])], { output_dtype: 'i8' });
    expect(y.dtype).toBe('i8');
    expect(vals(y)).toEqual([-128, 2]);
  });

  it('divides in the scale’s precision (f32): a quotient just below .5 in float64 rounds as f32 does', () => {
    // 0.3 / 0.2 = 1.4999999999999998 in float64, exactly 1.5 in float32 → 2 (half to even).
    expect(vals(runOp('QuantizeLinear', [t('f32', [1], [0.3]), t('f32', [], [0.2])]))).toEqual([2]);
  });
});

describe('DequantizeLinear', () => {
  it('computes (x − zp) · scale per tensor, per axis and per block', () => {
    expect(vals(runOp('DequantizeLinear', [t('i8', [3], [-128, 127, -1]), t('f32', [], [0.5]), t('i8', [], [-1])]))).toEqual([-63.5, 64, 0]);
    expect(vals(runOp('DequantizeLinear', [t('u8', [2, 2], [1, 2, 12, 12]), t('f32', [2], [1, 2]), t('u8', [2], [0, 10])], { axis: 0 }))).toEqual([1, 2, 4, 4]);
    const blocked = runOp('DequantizeLinear', [t('i8', [1, 5], [1, 2, 2, 2, 1]), t('f32', [1, 3], [1, 2, 5])], { axis: 1, block_size: 2 });
    expect(vals(blocked)).toEqual([1, 2, 4, 4, 5]);
  });

  it('takes int32 (no zero point), 4-bit and 8-bit float inputs; output_dtype picks the float', () => {
    expect(vals(runOp('DequantizeLinear', [t('i32', [1], [1000001]), t('f32', [], [0.5])]))).toEqual([500000.5]);
    expect(vals(runOp('DequantizeLinear', [t('i4', [2], [-8, 7]), t('f32', [], [2]), t('i4', [], [1])]))).toEqual([-18, 12]);
    expect(vals(runOp('DequantizeLinear', [t('f8e4m3fn', [1], [448]), t('f32', [], [2])]))).toEqual([896]);
    const h = runOp('DequantizeLinear', [t('u8', [1], [3]), t('f32', [], [0.5])], { output_dtype: 'f16' });
    expect(h.dtype).toBe('f16');
    expect(vals(h)).toEqual([1.5]);
  });
});

describe('DynamicQuantizeLinear', () => {
  const dql = (x: number[]) => {
    const ins = [t('f32', [x.length], x)];
    // runOp returns the first output only; the op's three outputs are checked through its kernel.
    return { y: vals(runOp('DynamicQuantizeLinear', ins)) };
  };
  it('maps [min(0, x), max(0, x)] onto [0, 255]', () => {
    expect(dql([0, 255, 127.5]).y).toEqual([0, 255, 128]);
    expect(dql([-255, 0, -1]).y).toEqual([0, 255, 254]);
    expect(dql([0, 0]).y).toEqual([0, 0]);
  });
});

describe('integer conv and matmul', () => {
  it('QLinearConv: per-channel weight scales, int32 bias, requantized half to even', () => {
    const y = runOp('QLinearConv', [
      t('u8', [1, 1, 2, 2], [10, 20, 30, 40]), t('f32', [], [0.5]), t('u8', [], [10]),
      t('i8', [2, 1, 1, 1], [2, -3]), t('f32', [2], [1, 0.25]), t('i8', [2], [0, 0]),
      t('f32', [], [1]), t('u8', [], [100]), t('i32', [2], [4, 8]),
    ]);
    expect(y.shape).toEqual([1, 2, 2, 2]);
    expect(vals(y)).toEqual([102, 112, 122, 132, 101, 97, 94, 90]);
  });

  it('ConvInteger: per-channel weight zero points, padding counts as the zero point', () => {
    const y = runOp('ConvInteger', [t('u8', [1, 1, 1, 2], [3, 5]), t('u8', [2, 1, 1, 1], [4, 6]), t('u8', [], [1]), t('u8', [2], [2, 3])]);
    expect(y.dtype).toBe('i32');
    expect(vals(y)).toEqual([4, 8, 6, 12]);
    const p = runOp('ConvInteger', [t('u8', [1, 1, 1, 1], [3]), t('u8', [1, 1, 1, 2], [1, 1]), t('u8', [], [1])], { pads: [0, 1, 0, 0] });
    expect(vals(p)).toEqual([2]);
  });

  it('MatMulInteger: per-row zero points of A, per-column of B', () => {
    const y = runOp('MatMulInteger', [t('u8', [2, 2], [1, 2, 3, 4]), t('u8', [2, 2], [5, 1, 7, 1]), t('u8', [2], [1, 3]), t('u8', [2], [1, 0])]);
    expect(vals(y)).toEqual([6, 1, 6, 1]);
  });

  it('QLinearMatMul: i8 output with its zero point', () => {
    const y = runOp('QLinearMatMul', [
      t('i8', [1, 2], [2, 4]), t('f32', [], [0.5]), t('i8', [], [0]),
      t('i8', [2, 1], [3, 5]), t('f32', [], [0.5]), t('i8', [], [0]), t('f32', [], [0.25]), t('i8', [], [-128]),
    ]);
    expect(vals(y)).toEqual([-102]);
  });

  it('QLinearMatMul: per-row a_scale and per-column b_scale', () => {
    const y = runOp('QLinearMatMul', [
      t('u8', [2, 2], [2, 4, 6, 8]), t('f32', [2], [1, 2]), t('u8', [], [0]),
      t('u8', [2, 2], [1, 0, 0, 1]), t('f32', [2], [1, 0.5]), t('u8', [], [0]), t('f32', [], [1]), t('u8', [], [0]),
    ]);
    expect(vals(y)).toEqual([2, 2, 12, 8]);
  });

  it('QConv / QGemm: int32 sums, bias in x_scale·w_scale units, relu epilogue, requantized', () => {
    const q = { x_scale: 0.5, x_zero_point: 10, w_scale: [1, 0.25], w_zero_point: [0, 0], y_scale: 1, y_zero_point: 100, out_dtype: 'u8' };
    const y = runOp('QConv', [t('u8', [1, 1, 2, 2], [10, 20, 30, 40]), t('i8', [2, 1, 1, 1], [2, -3]), t('i32', [2], [4, 8])], q);
    expect(vals(y)).toEqual([102, 112, 122, 132, 101, 97, 94, 90]);
    const r = runOp('QConv', [t('u8', [1, 1, 2, 2], [10, 20, 30, 40]), t('i8', [2, 1, 1, 1], [2, -3]), t('i32', [2], [4, 8])], { ...q, activation: 'relu' });
    expect(vals(r)).toEqual([102, 112, 122, 132, 101, 100, 100, 100]);
    const g = runOp('QGemm', [t('u8', [2, 1], [10, 20]), t('i8', [1, 2], [2, -3]), t('i32', [2], [4, 8])], q);
    expect(vals(g)).toEqual([102, 101, 112, 97]);
  });

  it('QConv / QGemm with out_dtype f32: x_scale·w_scale[c]·(acc + bias) after the activation, not requantized', () => {
    const q = { x_scale: 0.5, x_zero_point: 10, w_scale: [1, 0.25], w_zero_point: [0, 0], y_scale: 1, y_zero_point: 0, out_dtype: 'f32' };
    const x = t('u8', [1, 1, 2, 2], [10, 21, 30, 40]), w = t('i8', [2, 1, 1, 1], [2, -3]), b = t('i32', [2], [4, 8]);
    // channel 0: 0.5·(2·(x − 10) + 4); channel 1: 0.125·(−3·(x − 10) + 8)
    const y = runOp('QConv', [x, w, b], q);
    expect(y.dtype).toBe('f32');
    expect(vals(y)).toEqual([2, 13, 22, 32, 1, -3.125, -6.5, -10.25]);
    expect(vals(runOp('QConv', [x, w, b], { ...q, activation: 'relu' }))).toEqual([2, 13, 22, 32, 1, 0, 0, 0]);
    const g = runOp('QGemm', [t('u8', [2, 1], [10, 21]), t('i8', [1, 2], [2, -3]), t('i32', [2], [4, 8])], q);
    expect(vals(g)).toEqual([2, 1, 13, -3.125]);
    expect(errorOf(() => runOp('QGemm', [t('u8', [2, 1], [10, 21]), t('i8', [1, 2], [2, -3])], { ...q, out_dtype: 'f16' })).code).toBe('BAD_ATTRIBUTE');
  });
});

describe('hostile quantization parameters give typed errors naming the node', () => {
  const x = t('f32', [2, 2], [1, 2, 3, 4]);
  const cases: [string, () => unknown, string][] = [
    ['zero scale', () => runOp('QuantizeLinear', [x, t('f32', [], [0])]), 'BAD_ATTRIBUTE'],
    ['negative scale', () => runOp('QuantizeLinear', [x, t('f32', [], [-1])]), 'BAD_ATTRIBUTE'],
    ['NaN scale (dequantize)', () => runOp('DequantizeLinear', [t('u8', [2], [1, 2]), t('f32', [], [NaN])]), 'BAD_ATTRIBUTE'],
    ['negative per-axis scale', () => runOp('DequantizeLinear', [t('u8', [2, 2], [1, 2, 3, 4]), t('f32', [2], [1, -2])], { axis: 0 }), 'BAD_ATTRIBUTE'],
    ['integer scale', () => runOp('QuantizeLinear', [x, t('i32', [], [1])]), 'DTYPE_MISMATCH'],
    ['zero point of a non-quantized dtype', () => runOp('QuantizeLinear', [x, t('f32', [], [1]), t('i32', [], [0])]), 'DTYPE_MISMATCH'],
    ['zero point dtype differs from output_dtype', () => runOp('QuantizeLinear', [x, t('f32', [], [1]), t('i8', [], [0])], { output_dtype: 'u8' }), 'DTYPE_MISMATCH'],
    ['zero point dtype differs from x (dequantize)', () => runOp('DequantizeLinear', [t('u8', [2], [1, 2]), t('f32', [], [1]), t('i8', [], [0])]), 'DTYPE_MISMATCH'],
    ['zero point out of range (u4 = 20)', () => runOp('QuantizeLinear', [x, t('f32', [], [1]), tensor('u4', [], Uint8Array.of(20))]), 'BAD_ATTRIBUTE'],
    ['int32 dequantize with a nonzero zero point', () => runOp('DequantizeLinear', [t('i32', [1], [5]), t('f32', [], [1]), t('i32', [], [3])]), 'BAD_ATTRIBUTE'],
    ['per-axis scale of the wrong length', () => runOp('QuantizeLinear', [x, t('f32', [3], [1, 2, 3])], { axis: 0 }), 'SHAPE_MISMATCH'],
    ['zero point shape differs from the scale', () => runOp('QuantizeLinear', [x, t('f32', [2], [1, 2]), t('u8', [], [0])], { axis: 0 }), 'SHAPE_MISMATCH'],
    ['axis out of range', () => runOp('QuantizeLinear', [x, t('f32', [2], [1, 2])], { axis: 2 }), 'BAD_ATTRIBUTE'],
    ['negative block_size', () => runOp('QuantizeLinear', [x, t('f32', [2, 1], [1, 2])], { block_size: -1 }), 'BAD_ATTRIBUTE'],
    ['blocked scale of the wrong shape', () => runOp('QuantizeLinear', [x, t('f32', [2, 2], [1, 2, 3, 4])], { axis: 1, block_size: 2 }), 'SHAPE_MISMATCH'],
    ['QLinearConv w_scale length ≠ output channels', () => runOp('QLinearConv', [
      t('u8', [1, 1, 2, 2], [1, 2, 3, 4]), t('f32', [], [1]), t('u8', [], [0]), t('i8', [2, 1, 1, 1], [1, 1]), t('f32', [3], [1, 1, 1]),
      t('i8', [], [0]), t('f32', [], [1]), t('u8', [], [0])]), 'SHAPE_MISMATCH'],
    ['QLinearConv zero y_scale', () => runOp('QLinearConv', [
      t('u8', [1, 1, 2, 2], [1, 2, 3, 4]), t('f32', [], [1]), t('u8', [], [0]), t('i8', [1, 1, 1, 1], [1]), t('f32', [], [1]),
      t('i8', [], [0]), t('f32', [], [0]), t('u8', [], [0])]), 'BAD_ATTRIBUTE'],
    ['QLinearConv x_zero_point of another dtype than x', () => runOp('QLinearConv', [
      t('u8', [1, 1, 2, 2], [1, 2, 3, 4]), t('f32', [], [1]), t('i8', [], [0]), t('i8', [1, 1, 1, 1], [1]), t('f32', [], [1]),
      t('i8', [], [0]), t('f32', [], [1]), t('u8', [], [0])]), 'DTYPE_MISMATCH'],
    ['QLinearConv f32 bias', () => runOp('QLinearConv', [
      t('u8', [1, 1, 2, 2], [1, 2, 3, 4]), t('f32', [], [1]), t('u8', [], [0]), t('i8', [1, 1, 1, 1], [1]), t('f32', [], [1]),
      t('i8', [], [0]), t('f32', [], [1]), t('u8', [], [0]), t('f32', [1], [0])]), 'SHAPE_MISMATCH'],
    ['QLinearMatMul b_scale of the wrong length', () => runOp('QLinearMatMul', [
      t('u8', [2, 2], [1, 2, 3, 4]), t('f32', [], [1]), t('u8', [], [0]), t('u8', [2, 2], [1, 0, 0, 1]), t('f32', [3], [1, 1, 1]),
      t('u8', [], [0]), t('f32', [], [1]), t('u8', [], [0])]), 'SHAPE_MISMATCH'],
    ['MatMulInteger a_zero_point of the wrong length', () => runOp('MatMulInteger', [t('u8', [2, 2], [1, 2, 3, 4]), t('u8', [2, 1], [1, 1]), t('u8', [3], [0, 0, 0])]), 'SHAPE_MISMATCH'],
    ['QConv zero point out of range', () => runOp('QConv', [t('u8', [1, 1, 1, 1], [1]), t('i8', [1, 1, 1, 1], [1])],
      { x_scale: 1, x_zero_point: 300, w_scale: [1], y_scale: 1, out_dtype: 'u8' }), 'BAD_ATTRIBUTE'],
    ['QGemm w_scale of the wrong length', () => runOp('QGemm', [t('u8', [1, 2], [1, 2]), t('i8', [2, 3], [1, 1, 1, 1, 1, 1])],
      { x_scale: 1, w_scale: [1, 1], y_scale: 1, out_dtype: 'u8' }), 'SHAPE_MISMATCH'],
  ];
  for (const [what, f, code] of cases) {
    it(`${what} → ${code}`, () => {
      const e = errorOf(f);
      expect(e.code).toBe(code);
      expect(e.node).toBe('n0');
    });
  }
});

describe('hostile quantization parameters in ONNX models', () => {
  const A = onnx.AttributeProto.AttributeType;
  const vi = (name: string, elemType: number, dims: number[]) => ({ name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } });
  const model = (op: string, inits: object[], attrs: object[] = [], opset = 13) => onnx.ModelProto.encode(onnx.ModelProto.create({
    irVersion: 8, opsetImport: [{ domain: '', version: opset }],
    graph: {
      name: 'g', node: [{ opType: op, name: 'q0', input: ['x', 's', 'z'], output: ['y'], attribute: attrs }],
      input: [vi('x', op === 'QuantizeLinear' ? 1 : 2, [2, 3])], output: [{ name: 'y' }], initializer: inits,
    },
  })).finish();
  const scale = (v: number[]) => ({ name: 's', dims: v.length === 1 ? [] : [v.length], dataType: 1, floatData: v });
  const zp = (v: number[], dataType = 2) => ({ name: 'z', dims: v.length === 1 ? [] : [v.length], dataType, int32Data: v });

  it('imports a valid per-axis model and quantizes like the spec', () => {
    const g = importOnnx(model('QuantizeLinear', [scale([1, 2, 4]), zp([0, 1, 2])], [{ name: 'axis', type: A.INT, i: 1 }]));
    expect(g.type(g.outputs[0]).dtype).toBe('u8');
  });

  const bad: [string, Uint8Array, string][] = [
    ['a negative scale', model('QuantizeLinear', [scale([-0.5]), zp([0])]), 'BAD_ATTRIBUTE'],
    ['a zero per-axis scale', model('DequantizeLinear', [scale([1, 0, 1]), zp([0, 0, 0])]), 'BAD_ATTRIBUTE'],
    ['a per-axis scale of the wrong length', model('QuantizeLinear', [scale([1, 2]), zp([0, 0])]), 'SHAPE_MISMATCH'],
    ['an axis out of range', model('QuantizeLinear', [scale([1, 2, 3]), zp([0, 0, 0])], [{ name: 'axis', type: A.INT, i: 7 }]), 'BAD_ATTRIBUTE'],
    ['a zero point of another dtype than x', model('DequantizeLinear', [scale([1]), zp([0], 3)]), 'DTYPE_MISMATCH'],
    ['output_dtype disagreeing with the zero point', model('QuantizeLinear', [scale([1]), zp([0])], [{ name: 'output_dtype', type: A.INT, i: 3 }], 21), 'DTYPE_MISMATCH'],
  ];
  for (const [what, bytes, code] of bad) {
    it(`${what} → ${code} naming node q0`, () => {
      const e = errorOf(() => importOnnx(bytes));
      expect(e).toBeInstanceOf(CnncError);
      expect(e.code).toBe(code);
      expect(e.node).toBe('q0');
    });
  }
});
