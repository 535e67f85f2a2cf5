/**
 * The wasm artifact's weights section: the packed weights region (32-bit words: f32 values, and the raw
 * bits of integer constants) with every long run of words that f16 holds exactly stored as f16, in half
 * the bytes. `--fp16` on wasm rounds the weights of weighted layers to f16 values (passes/fp16.ts,
 * 'storage' mode), so nearly the whole region is such a run; an f32 model keeps its section as it was,
 * apart from runs of zeros. The encoding is lossless: the runtime rebuilds the region bit for bit.
 *
 *   section = the region's words in order, a word inside a half run as 2 bytes (f16 bits), else 4 bytes
 *   plan.weightsHalf = the half runs as [start, end) word indices, ascending, not overlapping
 *
 * The encoder lives here, next to its decoder, as encodeArtifact does in runtime/artifact.ts.
 */
import { CnncError } from '../errors.js';

/** Half runs shorter than this many words stay f32 (a few padding zeros are not worth a plan entry). */
export const MIN_HALF_RUN = 64;

/** The f16 bits of the f32 with bits `x` when f16 holds it exactly (±0, ±Inf, normal or subnormal), else -1. NaN stays f32 (its payload). */
function f16Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const e = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (e === 0) return mant === 0 ? sign : -1; // ±0; f32 subnormals are below f16's range
  if (e === 0xff) return mant === 0 ? sign | 0x7c00 : -1;
  const exp = e - 127;
  if (exp > 15 || exp < -24) return -1;
  if (exp >= -14) return (mant & 0x1fff) === 0 ? sign | ((exp + 15) << 10) | (mant >>> 13) : -1;
  const shift = -1 - exp; // f16 subnormal: (1.mant · 2^exp) / 2^-24 must be an integer below 1024
  const full = 0x800000 | mant;
  return (full & ((1 << shift) - 1)) === 0 ? sign | (full >>> shift) : -1;
}

let F16_TO_F32: Uint32Array | undefined;

/** f32 bits of every f16 bit pattern (256 KiB, built once). */
function f16Table(): Uint32Array {
  if (F16_TO_F32) return F16_TO_F32;
  const t = new Uint32Array(65536);
  const f = new Float32Array(t.buffer);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    f[h] = exp === 0 ? sign * mant * 2 ** -24 : exp === 0x1f ? (mant ? NaN : sign * Infinity) : sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  return (F16_TO_F32 = t);
}

export interface PackedWeights {
  section: Uint8Array;
  /** [start, end) word ranges stored as f16; empty when none. */
  half: [number, number][];
}

/** The weights section of a region of 32-bit words (its length a multiple of 4): runs of f16-exact 4-word groups in half the bytes. */
export function packWeights(region: Float32Array): PackedWeights {
  const bits = new Uint32Array(region.buffer, region.byteOffset, region.length);
  const h16 = new Uint16Array(bits.length); // f16 bits of the words in exact groups, filled while scanning
  const exact = (g: number) => {
    for (let i = 4 * g; i < 4 * g + 4; i++) {
      const h = f16Bits(bits[i]);
      if (h < 0) return false;
      h16[i] = h;
    }
    return true;
  };
  const half: [number, number][] = [];
  const groups = Math.floor(bits.length / 4);
  for (let g = 0; g < groups;) {
    if (!exact(g)) { g++; continue; }
    let end = g + 1;
    while (end < groups && exact(end)) end++;
    if ((end - g) * 4 >= MIN_HALF_RUN) half.push([4 * g, 4 * end]);
    g = end;
  }
  const asBytes = (a: Uint32Array | Uint16Array, from: number, to: number) => new Uint8Array(a.buffer, a.byteOffset + from * a.BYTES_PER_ELEMENT, (to - from) * a.BYTES_PER_ELEMENT);
  if (!half.length) return { section: asBytes(bits, 0, bits.length), half };
  const halfWords = half.reduce((a, [s, e]) => a + e - s, 0);
  const section = new Uint8Array(4 * bits.length - 2 * halfWords);
  let at = 0, w = 0;
  const put = (b: Uint8Array) => { section.set(b, at); at += b.length; };
  for (const [s, e] of half) {
    put(asBytes(bits, w, s));
    put(asBytes(h16, s, e)); // host byte order: little-endian wherever wasm runs, as the f32 words already assume
    w = e;
  }
  put(asBytes(bits, w, bits.length));
  return { section, half };
}

function bad(msg: string): never {
  throw new CnncError('BAD_ARTIFACT', msg);
}

/**
 * Bytes the weights region takes in memory, from the section's length and the plan's half runs, after
 * checking the runs (integers, ascending, not overlapping, inside the region): BAD_ARTIFACT otherwise.
 */
export function weightsRegionBytes(sectionBytes: number, half: unknown): number {
  if (half === undefined) return sectionBytes;
  if (!Array.isArray(half)) bad('the plan\'s weightsHalf is not a list');
  let halfWords = 0, prev = 0;
  for (const [i, r] of half.entries()) {
    const ok = Array.isArray(r) && r.length === 2 && r.every((x) => Number.isSafeInteger(x) && x >= 0) && r[0] >= prev && r[1] > r[0];
    if (!ok) bad(`the plan's weightsHalf[${i}] is not a [start, end) word range after the previous one: ${JSON.stringify(r)}`);
    halfWords += r[1] - r[0];
    prev = r[1];
  }
  const words = (sectionBytes + 2 * halfWords) / 4;
  if (!Number.isSafeInteger(words) || prev > words) bad(`the weights section (${sectionBytes} bytes) does not hold the ${halfWords} f16 words the plan's weightsHalf lists`);
  return 4 * words;
}

/** Writes the weights region (decoded from its section) into `memory` at `offset`; the plan was checked by weightsRegionBytes. */
export function unpackWeights(section: Uint8Array, half: readonly [number, number][] | undefined, memory: ArrayBuffer, offset: number): void {
  const out = new Uint8Array(memory, offset);
  if (!half?.length) { out.set(section); return; }
  const words = new Uint32Array(memory, offset, weightsRegionBytes(section.length, half) / 4);
  const table = f16Table();
  let at = 0, w = 0;
  for (const [s, e] of half) {
    out.set(section.subarray(at, at + 4 * (s - w)), 4 * w);
    at += 4 * (s - w);
    const src = section.byteOffset % 2 === 0 ? new Uint16Array(section.buffer, section.byteOffset + at, e - s) : new Uint16Array(section.slice(at, at + 2 * (e - s)).buffer);
    for (let i = 0; i < src.length; i++) words[s + i] = table[src[i]];
    at += 2 * (e - s);
    w = e;
  }
  out.set(section.subarray(at), 4 * w);
}
