/**
 * The dtypes beyond f32/f16/i32/i64/u8/i8/bool: conversions from float64 (round to nearest
 * even, the ONNX Cast saturate rules for the 8-bit floats, wrapping for the small integers),
 * decoding, the ONNX encodings (packed 4/2-bit, int32_data, uint64_data) and Cast's attributes.
 * Every expected value is worked out by hand from the format's definition (bits in comments).
 */
import { describe, expect, it } from 'vitest';
import { tensorFromProto, tensorToProto, onnx, type ITensorProto } from '../frontends/onnx/proto.js';
import { readNpy, writeNpy } from '../cli/npy.js';
import { Graph } from '../ir/graph.js';
import { interpret } from '../ir/interpreter.js';
import type { AttrValue } from '../ir/op.js';
import { isFloat } from '../ir/types.js';
import { CnncError } from '../runtime/errors.js';
import {
  DTYPES, MINIFLOATS, decodeFloat, encodeE8M0, encodeFloat, fromF64, maxFinite, tensor, toF64,
  type DType, type FloatFormat, type Tensor,
} from '../runtime/tensor.js';

const fmt = (d: DType): FloatFormat => MINIFLOATS[d]!;
const enc = (d: DType, v: number, saturate = true) => encodeFloat(fmt(d), v, saturate);
const bits = (d: DType, v: number[], saturate = true) => Array.from(fromF64(d, [v.length], v, { saturate }).data as Uint8Array);
const vals = (t: Tensor) => Array.from(toF64(t));

describe('8-bit floats (ONNX Cast tables)', () => {
  it('largest finite values: e4m3fn 448, e4m3fnuz 240, e5m2 57344, e5m2fnuz 57344, f4e2m1 6', () => {
    expect(['f8e4m3fn', 'f8e4m3fnuz', 'f8e5m2', 'f8e5m2fnuz', 'f4e2m1'].map((d) => maxFinite(fmt(d as DType)))).toEqual([448, 240, 57344, 57344, 6]);
  });

  it('e4m3fn: 448 exact, 464 ties to even 448, 500 and ±inf saturate to ±448 or become NaN with saturate=0', () => {
    expect(enc('f8e4m3fn', 448)).toBe(0x7e); // 0 1111 110 = 1.75·2^8
    expect(enc('f8e4m3fn', 464)).toBe(0x7e); // halfway 448..480: mantissa 110 is even
    expect(enc('f8e4m3fn', 500)).toBe(0x7e);
    expect(enc('f8e4m3fn', -Infinity)).toBe(0xfe);
    expect(enc('f8e4m3fn', 500, false)).toBe(0x7f); // S.1111.111 is NaN
    expect(enc('f8e4m3fn', Infinity, false)).toBe(0x7f);
    expect(enc('f8e4m3fn', -Infinity, false)).toBe(0xff);
    expect(enc('f8e4m3fn', NaN)).toBe(0x7f);
    expect(enc('f8e4m3fn', 1)).toBe(0x38); // exponent 7 = bias
    expect(enc('f8e4m3fn', -0)).toBe(0x80);
    expect(enc('f8e4m3fn', 2 ** -9)).toBe(0x01); // smallest subnormal: 1/8 · 2^-6
    expect(enc('f8e4m3fn', 2 ** -10)).toBe(0x00); // halfway 0..2^-9: to even 0
    expect(enc('f8e4m3fn', 1.5 * 2 ** -10)).toBe(0x01);
    expect(decodeFloat(fmt('f8e4m3fn'), 0x7e)).toBe(448);
    expect(decodeFloat(fmt('f8e4m3fn'), 0x01)).toBe(2 ** -9);
    expect(decodeFloat(fmt('f8e4m3fn'), 0x7f)).toBeNaN();
    expect(decodeFloat(fmt('f8e4m3fn'), 0xff)).toBeNaN();
    expect(decodeFloat(fmt('f8e4m3fn'), 0xc4)).toBe(-3); // 1 1000 100 = -1.5·2
  });

  it('fnuz types: one NaN (0x80), no −0, bias 8/16; out of range is NaN without saturate', () => {
    expect(enc('f8e4m3fnuz', 1)).toBe(0x40);
    expect(enc('f8e4m3fnuz', -0)).toBe(0x00);
    expect(enc('f8e4m3fnuz', NaN)).toBe(0x80);
    expect(enc('f8e4m3fnuz', 1000)).toBe(0x7f); // 240
    expect(enc('f8e4m3fnuz', -1000, false)).toBe(0x80);
    expect(enc('f8e4m3fnuz', -Infinity, false)).toBe(0x80);
    expect(decodeFloat(fmt('f8e4m3fnuz'), 0x80)).toBeNaN();
    expect(decodeFloat(fmt('f8e4m3fnuz'), 0xff)).toBe(-240);
    expect(enc('f8e5m2fnuz', 1)).toBe(0x40);
    expect(enc('f8e5m2fnuz', Infinity)).toBe(0x7f); // 57344
    expect(enc('f8e5m2fnuz', Infinity, false)).toBe(0x80);
  });

  it('e5m2 keeps inf: overflow is inf without saturate, ±57344 with it', () => {
    expect(enc('f8e5m2', 1)).toBe(0x3c);
    expect(enc('f8e5m2', 1e6)).toBe(0x7b);
    expect(enc('f8e5m2', 1e6, false)).toBe(0x7c);
    expect(enc('f8e5m2', -Infinity)).toBe(0xfb);
    expect(enc('f8e5m2', -Infinity, false)).toBe(0xfc);
    expect(decodeFloat(fmt('f8e5m2'), 0x7c)).toBe(Infinity);
    expect(decodeFloat(fmt('f8e5m2'), 0x7e)).toBeNaN();
    expect(enc('f8e5m2', 1.125)).toBe(0x3c); // halfway 1..1.25: to even
    expect(enc('f8e5m2', 1.375)).toBe(0x3e); // halfway 1.25..1.5: to even 1.5
  });

  it('every code of every 8-bit format decodes and encodes back to itself (NaNs to the canonical NaN)', () => {
    for (const d of ['f8e4m3fn', 'f8e4m3fnuz', 'f8e5m2', 'f8e5m2fnuz'] as DType[]) {
      for (let b = 0; b < 256; b++) {
        const v = decodeFloat(fmt(d), b);
        expect(enc(d, v, false), `${d} 0x${b.toString(16)}`).toBe(Number.isNaN(v) ? fmt(d).nan : b);
      }
    }
  });

  it('f8e8m0: powers of two 2^(e−127), round_mode up/down/nearest, 0 to 2^-127, NaN 0xff', () => {
    expect(encodeE8M0(1)).toBe(0x7f);
    expect(encodeE8M0(0.124, true, 'up')).toBe(0x7c); // 2^-3
    expect(encodeE8M0(0.124, true, 'down')).toBe(0x7b); // 2^-4
    expect(encodeE8M0(0.124, true, 'nearest')).toBe(0x7c); // above 1.5·2^-4
    expect(encodeE8M0(0.08, true, 'nearest')).toBe(0x7b);
    expect(encodeE8M0(0)).toBe(0x00);
    expect(encodeE8M0(NaN)).toBe(0xff);
    expect(encodeE8M0(Infinity)).toBe(0xfe);
    expect(encodeE8M0(Infinity, false)).toBe(0xff);
    expect(vals(tensor('f8e8m0', [3], Uint8Array.of(0, 0x80, 0xff)))).toEqual([2 ** -127, 2, NaN]);
  });
});

describe('bf16, f16 and f4e2m1 rounding', () => {
  it('bf16 rounds to nearest even: 1.00390625 (halfway) → 1, 1.01171875 → 1.015625', () => {
    expect(enc('bf16', 1.00390625)).toBe(0x3f80);
    expect(enc('bf16', 1.01171875)).toBe(0x3f82);
    expect(enc('bf16', 1e39)).toBe(0x7f80); // beyond 3.39e38: inf (saturate is for the 8-bit floats only)
    expect(vals(fromF64('bf16', [3], [1.00390625, -2, 0.1]))).toEqual([1, -2, 0.10009765625]);
  });

  it('f16 from float64 rounds once (no double rounding through f32)', () => {
    // 1 + 2^-11 + 2^-40 is just above the f16 halfway point 1 + 2^-11; through f32 it would be the tie and go to 1.
    expect(vals(fromF64('f16', [1], [1 + 2 ** -11 + 2 ** -40]))).toEqual([1 + 2 ** -10]);
  });

  it('f4e2m1 codes 0..7 are 0, 0.5, 1, 1.5, 2, 3, 4, 6; ties to even; saturates; NaN becomes the −0 code', () => {
    const v = [0, 0.5, 1, 1.5, 2, 3, 4, 6];
    expect(bits('f4e2m1', v)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(vals(tensor('f4e2m1', [16], Uint8Array.from({ length: 16 }, (_, i) => i)))).toEqual([...v, ...v.map((x) => -x)]);
    expect(bits('f4e2m1', [0.25, 0.75, 2.5, 5, 7, -100, Infinity, NaN, -3.5], false)).toEqual([0, 2, 4, 6, 7, 15, 7, 8, 14]);
  });
});

describe('small and wide integers', () => {
  it('truncate toward zero and wrap modulo 2^bits (as ONNX Cast to INT4/UINT2 and C casts)', () => {
    expect(vals(fromF64('i4', [6], [-9, 7, 8, -8, 16.7, -0.5]))).toEqual([7, 7, -8, -8, 0, 0]);
    expect(vals(fromF64('u4', [3], [-1, 16, 17]))).toEqual([15, 0, 1]);
    expect(vals(fromF64('u2', [4], [-3, -2, 3, 4]))).toEqual([1, 2, 3, 0]);
    expect(vals(fromF64('i2', [4], [-3, -2, 1, 2]))).toEqual([1, -2, 1, -2]);
    expect(vals(fromF64('i16', [2], [32768, -1.9]))).toEqual([-32768, -1]);
    expect(vals(fromF64('u16', [1], [65537]))).toEqual([1]);
    expect(vals(fromF64('u32', [1], [-1]))).toEqual([4294967295]);
    expect(fromF64('u64', [1], [-1]).data).toEqual(BigUint64Array.of(2n ** 64n - 1n));
    expect(fromF64('f64', [1], [0.1]).data).toEqual(Float64Array.of(0.1));
  });

  it('every dtype has storage, a byte size and round-trips its own values; the floats are isFloat', () => {
    for (const d of DTYPES) {
      const v = d === 'f8e8m0' ? [1, 0.5] : [1, 0]; // e8m0 has no zero
      expect(vals(fromF64(d, [2], v)), d).toEqual(v);
      expect(isFloat(d), d).toBe(d.startsWith('f') || d === 'bf16');
    }
  });
});

describe('ONNX encodings of the new dtypes', () => {
  const read = (p: ITensorProto) => tensorFromProto(onnx.TensorProto.create(p), { maxTensorBytes: 1 << 20 });
  const DT = { UINT16: 4, INT16: 5, UINT32: 12, UINT64: 13, BFLOAT16: 16, FLOAT8E4M3FN: 17, UINT4: 21, INT4: 22, FLOAT4E2M1: 23, UINT2: 25, INT2: 26 };

  it('unpacks 4-bit and 2-bit data low bits first, sign-extending the signed types (raw_data and int32_data)', () => {
    const i4 = read({ dims: [3], dataType: DT.INT4, rawData: Uint8Array.of(0x87, 0x0f) });
    expect([i4.dtype, ...vals(i4)]).toEqual(['i4', 7, -8, -1]);
    expect(vals(read({ dims: [2], dataType: DT.UINT4, int32Data: [0x21] }))).toEqual([1, 2]);
    expect(vals(read({ dims: [2], dataType: DT.FLOAT4E2M1, rawData: Uint8Array.of(0x7f) }))).toEqual([-6, 6]);
    expect(vals(read({ dims: [4], dataType: DT.UINT2, rawData: Uint8Array.of(0x39) }))).toEqual([1, 2, 3, 0]);
    expect(vals(read({ dims: [4], dataType: DT.INT2, rawData: Uint8Array.of(0x39) }))).toEqual([1, -2, -1, 0]);
  });

  it('reads 16-bit types and 8-bit float bits from int32_data and 32/64-bit unsigned from uint64_data', () => {
    expect(vals(read({ dims: [2], dataType: DT.BFLOAT16, int32Data: [0x3f80, 0xc000] }))).toEqual([1, -2]);
    expect(vals(read({ dims: [2], dataType: DT.INT16, int32Data: [-300, 7] }))).toEqual([-300, 7]);
    expect(vals(read({ dims: [1], dataType: DT.UINT16, int32Data: [65535] }))).toEqual([65535]);
    expect(vals(read({ dims: [1], dataType: DT.FLOAT8E4M3FN, int32Data: [0x7e] }))).toEqual([448]);
    expect(vals(read({ dims: [1], dataType: DT.UINT32, uint64Data: [4294967295] }))).toEqual([4294967295]);
    expect(read({ dims: [1], dataType: DT.UINT64, uint64Data: [12] }).data).toEqual(BigUint64Array.of(12n));
    expect(vals(read({ dims: [2], dataType: DT.INT16, rawData: Uint8Array.of(0xd4, 0xfe, 7, 0) }))).toEqual([-300, 7]);
  });

  it('rejects packed data of the wrong length and writes what it reads (odd 4-bit counts padded)', () => {
    expect(() => read({ dims: [3], dataType: DT.INT4, rawData: Uint8Array.of(0x87) })).toThrow(CnncError);
    for (const t of [tensor('i4', [3], Int8Array.of(7, -8, -1)), tensor('u2', [5], Uint8Array.of(1, 2, 3, 0, 2)),
      fromF64('bf16', [2], [1.5, -3]), fromF64('u64', [2], [5, 2 ** 40]), fromF64('f8e5m2', [2], [0.5, -448])]) {
      const p = tensorToProto(t, 'x');
      expect(read(p)).toEqual(t);
    }
    expect(Array.from(tensorToProto(tensor('i4', [3], Int8Array.of(7, -8, -1)), 'x').rawData!)).toEqual([0x87, 0x0f]);
  });
});

describe('Cast attributes saturate and round_mode', () => {
  function cast(x: Tensor, attrs: Record<string, AttrValue>): Tensor {
    const g = new Graph('t');
    g.setOutputs(g.addNode('Cast', [g.addInput('x', { dtype: x.dtype, shape: x.shape })], attrs, { name: 'c' }));
    return interpret(g, { x })[g.outputs[0]];
  }
  const x = tensor('f32', [3], [500, -Infinity, 1]);

  it('saturates 8-bit floats by default and not with saturate=0', () => {
    expect(Array.from(cast(x, { to: 'f8e4m3fn' }).data as Uint8Array)).toEqual([0x7e, 0xfe, 0x38]);
    expect(Array.from(cast(x, { to: 'f8e4m3fn', saturate: 0 }).data as Uint8Array)).toEqual([0x7f, 0xff, 0x38]);
    expect(Array.from(cast(x, { to: 'f8e5m2', saturate: 0 }).data as Uint8Array)).toEqual([0x60, 0xfc, 0x3c]); // 500 → 512 = 1.0·2^9: exponent 9 + 15 = 24
  });

  it('f8e8m0 rounds by round_mode; NaN and ±inf are true as bool; 64-bit integers cast exactly', () => {
    expect(Array.from(cast(tensor('f32', [1], [0.124]), { to: 'f8e8m0', round_mode: 'down' }).data as Uint8Array)).toEqual([0x7b]);
    expect(vals(cast(tensor('f32', [3], [NaN, -Infinity, 0]), { to: 'bool' }))).toEqual([1, 1, 0]);
    expect(cast(tensor('i64', [1], BigInt64Array.of(-1n)), { to: 'u64' }).data).toEqual(BigUint64Array.of(2n ** 64n - 1n));
    expect(() => cast(x, { to: 'f8e8m0', round_mode: 'sideways' })).toThrow(/round_mode/);
  });
});

describe('integer arithmetic is exact BigInt and wraps', () => {
  function op(name: string, a: Tensor, b: Tensor): Tensor {
    const g = new Graph('t');
    const ins = [g.addInput('a', { dtype: a.dtype, shape: a.shape }), g.addInput('b', { dtype: b.dtype, shape: b.shape })];
    g.setOutputs(g.addNode(name, ins, {}, { name: 'n' }));
    return interpret(g, { a, b })[g.outputs[0]];
  }
  const i64 = (...v: bigint[]) => tensor('i64', [v.length], BigInt64Array.from(v));
  const u64 = (...v: bigint[]) => tensor('u64', [v.length], BigUint64Array.from(v));

  it('u64 6 + (2^64 − 3) = 3, i64 2^53 + 1 stays exact, 2^62 · 4 wraps to 0, −7 / 2 = −3, x / 0 = 0', () => {
    expect(op('Add', u64(6n), u64(2n ** 64n - 3n)).data).toEqual(BigUint64Array.of(3n));
    expect(op('Sub', u64(1n), u64(2n)).data).toEqual(BigUint64Array.of(2n ** 64n - 1n));
    expect(op('Add', i64(2n ** 53n, -5n), i64(1n)).data).toEqual(BigInt64Array.of(2n ** 53n + 1n, -4n));
    expect(op('Mul', i64(2n ** 62n), i64(4n)).data).toEqual(BigInt64Array.of(0n));
    expect(op('Div', i64(-7n, 5n), i64(2n, 0n)).data).toEqual(BigInt64Array.of(-3n, 0n));
  });

  it('i32 and u32 Mul wrap exactly beyond 2^53 (a float64 product would lose the low bits), u8 Add wraps, INT_MIN / −1 wraps', () => {
    const u32 = (...v: number[]) => tensor('u32', [v.length], v), i32 = (...v: number[]) => tensor('i32', [v.length], v);
    // (2^31 + 5)(2^31 + 4) = 2^62 + 9·2^31 + 20 ≡ 2^31 + 20 (mod 2^32)
    expect(op('Mul', u32(2 ** 31 + 5), u32(2 ** 31 + 4)).data).toEqual(Uint32Array.of(2 ** 31 + 20));
    // 123456789 · 987654321 = 121932631112635269 ≡ −67153019 (mod 2^32, signed)
    expect(op('Mul', i32(123456789, 2 ** 30), i32(987654321, 3)).data).toEqual(Int32Array.of(-67153019, -(2 ** 30)));
    expect(op('Add', tensor('u8', [1], [200]), tensor('u8', [1], [100])).data).toEqual(Uint8Array.of(44));
    expect(op('Div', i32(-(2 ** 31), 7), i32(-1, 0)).data).toEqual(Int32Array.of(-(2 ** 31), 0));
  });
});

describe('.npy files of the new dtypes', () => {
  it('round-trips f64, i16, u16, u32 and u64; bf16 and the 8/4-bit types are UNSUPPORTED', () => {
    for (const d of ['f64', 'i16', 'u16', 'u32', 'u64'] as DType[]) {
      const t = fromF64(d, [2, 2], [1, 2, 3, 65535]);
      expect(readNpy(writeNpy(t)), d).toEqual(t);
    }
    for (const d of ['bf16', 'f8e4m3fn', 'i4'] as DType[]) {
      expect(() => writeNpy(fromF64(d, [1], [1]))).toThrow(expect.objectContaining({ code: 'UNSUPPORTED' }));
    }
  });
});

describe('which ops take the new dtypes', () => {
  function run1(op: string, x: Tensor): Tensor {
    const g = new Graph('t');
    g.setOutputs(g.addNode(op, [g.addInput('x', { dtype: x.dtype, shape: x.shape })], {}, { name: 'n' }));
    return interpret(g, { x })[g.outputs[0]];
  }
  it('float ops compute in f64 and bf16 (rounding the result), and reject the 8/4-bit storage floats with DTYPE_MISMATCH', () => {
    expect(run1('Relu', fromF64('f64', [3], [-1, 0.1, 2])).data).toEqual(Float64Array.of(0, 0.1, 2));
    expect(vals(run1('Sqrt', fromF64('bf16', [2], [2, 4])))).toEqual([1.4140625, 2]); // √2 = 1.41421…: bf16 steps of 2^-7
    for (const d of ['f8e4m3fn', 'f4e2m1'] as DType[]) {
      expect(() => run1('Relu', fromF64(d, [1], [1]))).toThrow(expect.objectContaining({ code: 'DTYPE_MISMATCH' }));
      expect(() => run1('Sqrt', fromF64(d, [1], [1]))).toThrow(expect.objectContaining({ code: 'DTYPE_MISMATCH' }));
      expect(Array.from(run1('Identity', fromF64(d, [1], [1])).data as Uint8Array)).toEqual(Array.from(fromF64(d, [1], [1]).data as Uint8Array));
    }
  });
});
