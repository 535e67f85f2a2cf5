/**
 * codegen/minifloat.ts: the integer algorithm every target renders for Cast to bf16, the 8-bit
 * floats and f4e2m1 gives the reference's codes, on special values and on a sweep of f32 bit patterns.
 */
import { describe, expect, it } from 'vitest';
import { BIT_FLOATS, e8m0Encoding, encodeBits, encodeE8M0Bits, encoding, f32Bits, f32FromBits, referenceCodes } from '../codegen/minifloat.js';
import { getOp } from '../ir/ops/index.js';
import { tensor } from '../runtime/tensor.js';

/** Special values and a stride through all 2^32 f32 bit patterns (both signs, denormals, NaNs). */
function samples(): number[] {
  const out: number[] = [0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00001, 0x7f800001, 1, 0x80000001, 0x007fffff];
  for (let u = 0; u < 2 ** 32; u += 65521) out.push(u);
  // every value near each format's codes: below, at, above a midpoint of f32s around powers of two
  for (let e = -140; e < 20; e++) for (const m of [1, 1.0625, 1.125, 1.25, 1.5, 1.75, 1.875]) {
    for (const s of [1, -1]) {
      const b = f32Bits(s * m * 2 ** e);
      out.push(b - 1, b, b + 1);
    }
  }
  return out.map((u) => u >>> 0);
}

describe('minifloat encoding', () => {
  const us = samples();
  const values = us.map(f32FromBits);
  for (const d of BIT_FLOATS.filter((b) => b !== 'f8e8m0')) {
    for (const sat of [true, false]) {
      it(`${d} saturate=${sat}: the algorithm gives the reference's codes`, () => {
        const e = encoding(d, sat);
        const ref = referenceCodes(d, sat, values);
        const bad = us.map((u, i) => [u, encodeBits(e, u), ref[i]]).filter(([, a, b]) => a !== b);
        expect(bad.slice(0, 5).map(([u, a, b]) => `0x${u.toString(16)} (${f32FromBits(u)}): ${a} vs ${b}`)).toEqual([]);
      });
    }
  }
  for (const mode of ['up', 'down', 'nearest'] as const) {
    for (const sat of [true, false]) {
      it(`f8e8m0 round_mode=${mode} saturate=${sat}: the rule gives the reference's codes`, () => {
        const e = e8m0Encoding(sat, mode);
        // denormals near 2^-127 and 1.5·2^-127, where the modes differ
        const extra = [0x400000, 0x400001, 0x5fffff, 0x600000, 0x600001, 0x7fffff, 0x3fffff].flatMap((m) => [m, m + 0x80000000]);
        const all = [...us, ...extra].map((u) => u >>> 0);
        const x = tensor('f32', [all.length], Float32Array.from(all.map(f32FromBits)));
        const ref = getOp('Cast').reference([x], { to: 'f8e8m0', saturate: sat ? 1 : 0, round_mode: mode }, [{ dtype: 'f8e8m0', shape: [all.length] }])[0].data as Uint8Array;
        const bad = all.map((u, i) => [u, encodeE8M0Bits(e, u), ref[i]]).filter(([, a, b]) => a !== b);
        expect(bad.slice(0, 5).map(([u, a, b]) => `0x${u.toString(16)}: ${a} vs ${b}`)).toEqual([]);
      });
    }
  }
  it('finds the overflow thresholds the formats define', () => {
    // 448 + half an ulp (16) is a tie that goes to even 448: overflow starts at the next f32
    expect(f32FromBits(encoding('f8e4m3fn', false).over)).toBe(464 + 2 ** -15);
    expect(f32FromBits(encoding('f8e5m2', false).over)).toBe(61440); // 57344 + 4096, ties up to inf (0x7b is odd)
    expect(encoding('f8e4m3fnuz', false).overNeg).toBe(0x80);
    expect(encoding('bf16', true).overPos).toBe(0x7f80);
  });
});
