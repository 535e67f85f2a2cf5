/**
 * Cast to and from bf16, the 8-bit floats, f4e2m1 and the 4-bit integers on every target against
 * the reference interpreter, bit for bit: f32 special values (NaN, ±Inf, ±0, each format's max and
 * just over it, denormals of the format and of f32, ties) to every format with saturate 1 and 0
 * (f8e8m0 with each round_mode), and
 * every code of each format back to f32. One graph per target (one compile, one build).
 * wgsl runs on Dawn (CNNC_DAWN_FLAGS=backend=opengles for the OpenGL ES path); cuda on its CPU emulation.
 */
import { describe, expect, it } from 'vitest';
import { compile } from '../index.js';
import { Graph } from '../ir/graph.js';
import { interpret } from '../ir/interpreter.js';
import { BIT_FLOATS } from '../codegen/minifloat.js';
import { tensor, type DType, type Tensor } from '../runtime/tensor.js';
import { CUDA_EMU_MISSING, execute, type ConfTarget } from './conformance/targets.js';

const F8: DType[] = ['f8e4m3fn', 'f8e4m3fnuz', 'f8e5m2', 'f8e5m2fnuz', 'f8e8m0'];
const OUTS: DType[] = [...BIT_FLOATS, 'i4', 'u4'];

/** f32 inputs at the edges of every format. */
function specials(): number[] {
  const v = [NaN, Infinity, -Infinity, 0, -0, 1, -1, 2 ** -149, -(2 ** -149), 2 ** -126, 1e-39, 3.4028234663852886e38];
  // each 8-bit format's max, the ties above it, the next f32s, and the bf16 max's neighbourhood
  for (const m of [448, 240, 57344, 6, 464, 480, 248, 61440, 65536, 7, 3.3895313892515355e38]) {
    v.push(m, -m, Math.fround(m * (1 + 2 ** -23)), Math.fround(m * (1 - 2 ** -24)));
  }
  // denormals of each format: the smallest, half of it (a tie to 0), 1.5 of it (a tie to even), 2.5 of it
  for (const e of [-9, -10, -16, -17, -1, -133]) for (const k of [0.5, 1, 1.5, 2.5, 3, 7.5]) v.push(k * 2 ** e, -k * 2 ** e);
  // ties between normal codes (3 and 2 mantissa bits, 1 bit, 7 bits) and their neighbours
  for (const x of [1.0625, 1.1875, 1.125, 1.375, 2.5, 3.5, 1 + 2 ** -8, 1 + 3 * 2 ** -8]) v.push(x, -x, Math.fround(x * (1 + 2 ** -23)));
  // f8e8m0: powers of two, between them (1.5·2^k rounds up with 'nearest'), around 2^-127 and 2^127
  for (const k of [-127, -126, -3, 0, 5, 126, 127]) for (const f of [1, 1.25, 1.5, 1.75]) v.push(f * 2 ** k, -f * 2 ** k);
  // the 4-bit integers: truncation and wrapping
  v.push(7.9, -8.5, 15.5, 16, 17.3, -9, 2 ** 31, 3e9, 1e10, -0.7, 1e30, -1e30);
  return v.map(Math.fround);
}

function castGraph(): { g: Graph; feeds: Record<string, Tensor> } {
  const g = new Graph('cast_special');
  const xs = specials();
  const x = g.addInput('x', { dtype: 'f32', shape: [xs.length] });
  const outs: string[] = [];
  for (const d of OUTS) {
    const modes = d === 'f8e8m0' ? ['up', 'down', 'nearest'] : ['up'];
    for (const sat of F8.includes(d) ? [1, 0] : [1]) {
      for (const mode of modes) outs.push(...g.addNode('Cast', [x], { to: d, saturate: sat, round_mode: mode }, { name: `to_${d}_sat${sat}_${mode}` }));
    }
  }
  const feeds: Record<string, Tensor> = { x: tensor('f32', [xs.length], Float32Array.from(xs)) };
  for (const d of BIT_FLOATS.filter((b) => b !== 'bf16')) {
    const n = d === 'f4e2m1' ? 16 : 256;
    const c = g.addInput(`codes_${d}`, { dtype: d, shape: [n] });
    feeds[c] = tensor(d, [n], Uint8Array.from({ length: n }, (_, k) => k));
    outs.push(...g.addNode('Cast', [c], { to: 'f32' }, { name: `from_${d}` }));
  }
  // bf16: a stride through the 2^16 codes (every exponent, NaNs, infinities, denormals)
  const b = g.addInput('codes_bf16', { dtype: 'bf16', shape: [4096] });
  feeds[b] = tensor('bf16', [4096], Uint16Array.from({ length: 4096 }, (_, k) => k * 16 + (k % 16)));
  outs.push(...g.addNode('Cast', [b], { to: 'f32' }, { name: 'from_bf16' }));
  g.setOutputs(outs);
  return { g, feeds };
}

/** The elements that differ (bits of the codes; f32 values with NaN equal to NaN and −0 ≠ +0), at most 6. */
function differences(want: Tensor, got: Tensor): string[] {
  const out: string[] = [];
  const a = want.data as ArrayLike<number>, b = got.data as ArrayLike<number>;
  for (let i = 0; i < a.length && out.length < 6; i++) if (!Object.is(a[i], b[i]) && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) out.push(`[${i}] want ${a[i]}, got ${b[i]}`);
  return out;
}

describe('Cast over special values, bit for bit with the reference', () => {
  const { g, feeds } = castGraph();
  const ref = interpret(g, feeds);
  const targets: ConfTarget[] = ['wasm', 'wgsl', 'cuda'];
  for (const target of targets) {
    it.skipIf(target === 'cuda' && CUDA_EMU_MISSING !== '')(`${target}`, async () => {
      const got = await execute(await compile(g, target), feeds);
      for (const name of g.outputs) {
        expect(got[name].dtype, name).toBe(ref[name].dtype);
        expect(differences(ref[name], got[name]), `${target} ${name}`).toEqual([]);
      }
    });
  }
});
