/**
 * The wasm weights section (runtime/wasm/weights.ts): runs of f16-exact words stored as f16 and
 * rebuilt bit for bit at load; words f16 cannot hold exactly (NaN payloads, f32 subnormals, values
 * off the f16 grid or beyond its range, integer bits) stay f32.
 */
import { describe, expect, it } from 'vitest';
import { MIN_HALF_RUN, packWeights, unpackWeights, weightsRegionBytes } from '../runtime/wasm/weights.js';
import { roundF16 } from '../runtime/tensor.js';

/** A region: [f32 noise | f16-exact run | integer bits | f16 specials run | f32 noise | short f16 run | f32 specials and noise]. */
function region(): { words: Float32Array; runs: [number, number][] } {
  const parts: number[][] = [];
  const noise = (n: number, seed: number) => Array.from({ length: n }, (_, i) => Math.fround(Math.sin(i * 1.7 + seed) * 3.1));
  parts.push(noise(20, 1));
  parts.push(Array.from({ length: 200 }, (_, i) => roundF16(Math.cos(i) * 10 ** ((i % 9) - 5)))); // normals and f16 subnormals
  const ints = new Float32Array(new Int32Array([1, 2, 3, -7, 65536, 123456789, 42, 9]).buffer);
  parts.push([...ints]);
  parts.push(Array.from({ length: 64 }, (_, i) => [0, -0, Infinity, -Infinity, 65504, -65504, 2 ** -24, -(2 ** -14)][i % 8]));
  parts.push(noise(8, 3));
  parts.push(Array.from({ length: 32 }, () => 0.5)); // shorter than MIN_HALF_RUN: stays f32
  parts.push([NaN, 2 ** -140, 65520, 1 + 2 ** -11, ...noise(12, 2)]); // NaN, an f32 subnormal, beyond f16, off the grid
  const flat = parts.flat();
  const words = new Float32Array(flat.length);
  words.set(flat);
  new Int32Array(words.buffer, 4 * 220, 8).set([1, 2, 3, -7, 65536, 123456789, 42, 9]);
  return { words, runs: [[20, 220], [228, 292]] };
}

describe('wasm weights section: f16 runs', () => {
  it('finds the f16-exact runs of MIN_HALF_RUN words or more and rebuilds the region bit for bit', () => {
    expect(MIN_HALF_RUN).toBe(64);
    const { words, runs } = region();
    const { section, half } = packWeights(words);
    expect(half).toEqual(runs);
    const halfWords = runs.reduce((a, [s, e]) => a + e - s, 0);
    expect(section.length).toBe(4 * words.length - 2 * halfWords);
    expect(weightsRegionBytes(section.length, half)).toBe(4 * words.length);
    for (const offset of [0, 64]) {
      const mem = new ArrayBuffer(offset + 4 * words.length + 16);
      unpackWeights(section, half, mem, offset);
      expect([...new Uint32Array(mem, offset, words.length)]).toEqual([...new Uint32Array(words.buffer)]);
    }
    // an odd byte offset of the section (a file read into a shared buffer) decodes the same
    const odd = new Uint8Array(section.length + 1).subarray(1);
    odd.set(section);
    const mem = new ArrayBuffer(4 * words.length);
    unpackWeights(odd, half, mem, 0);
    expect([...new Uint32Array(mem)]).toEqual([...new Uint32Array(words.buffer)]);
  });

  it('a region with no f16-exact run is the section as is, with no runs', () => {
    const words = Float32Array.from({ length: 256 }, (_, i) => Math.sin(i) / 3);
    const { section, half } = packWeights(words);
    expect(half).toEqual([]);
    expect([...section]).toEqual([...new Uint8Array(words.buffer)]);
  });

  it('every f16 value survives the round trip (all 63,488 finite bit patterns and ±Inf)', () => {
    const vals: number[] = [];
    for (let h = 0; h < 65536; h++) {
      const v = roundF16(h & 0x8000 ? -decode(h & 0x7fff) : decode(h));
      if (!Number.isNaN(v)) vals.push(v);
    }
    const words = new Float32Array(Math.ceil(vals.length / 4) * 4);
    words.set(vals);
    const { section, half } = packWeights(words);
    expect(half).toEqual([[0, words.length]]);
    const mem = new ArrayBuffer(4 * words.length);
    unpackWeights(section, half, mem, 0);
    expect(new Float32Array(mem)).toEqual(words);
  });
});

/** The value of a non-negative f16 bit pattern (independent of the code under test). */
function decode(h: number): number {
  const e = h >> 10, m = h & 0x3ff;
  return e === 0 ? m * 2 ** -24 : e === 31 ? (m ? NaN : Infinity) : (1 + m / 1024) * 2 ** (e - 15);
}
