/**
 * The wasm target's int8 kernels (codegen/wasm/kernels-quant.ts) against the reference
 * interpreter (ir/ops/quant.ts): QConv (dense 3×3 with padding and stride, 1×1, depthwise, odd
 * channel counts) and QGemm, u8 and i8, relu/clip epilogues, per-channel scales, int32 biases.
 * Integer sums are exact and the epilogue rounds as the reference does, so the outputs must be
 * bit-identical on both module builds (simd128 and relaxed SIMD). Also: the pipeline rewrites QDQ
 * patterns only for a target whose supports() takes the QConv/QGemm.
 */
import * as v8 from 'node:v8';
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { quantizeOnnx, randomCalibration } from '../cli/quantize.js';
import { compile, getTarget } from '../index.js';
import { Graph } from '../ir/graph.js';
import { interpret } from '../ir/interpreter.js';
import type { Attrs } from '../ir/op.js';
import { decodeArtifact } from '../runtime/artifact.js';
import { tensor, type Tensor } from '../runtime/tensor.js';
import { relaxedSimdSupported } from '../runtime/wasm/features.js';
import { WasmSession } from '../runtime/wasm/index.js';

if (!relaxedSimdSupported()) v8.setFlagsFromString('--experimental-wasm-relaxed-simd');

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32; };
}

const ints = (r: () => number, n: number, lo: number, hi: number) => Array.from({ length: n }, () => lo + Math.floor(r() * (hi - lo + 1)));
const int8 = (dtype: 'u8' | 'i8', shape: number[], v: number[]): Tensor => tensor(dtype, shape, dtype === 'u8' ? Uint8Array.from(v) : Int8Array.from(v));

interface Case {
  name: string;
  op: 'QConv' | 'QGemm';
  x: number[]; w: number[]; xd: 'u8' | 'i8'; out: 'u8' | 'i8' | 'f32';
  conv?: Attrs;
  act?: Attrs;
  perChannel?: boolean;
  /** Biases beyond ±2^24: the epilogue's f64 path (an f32 multiply is exact only below that). */
  bigBias?: boolean;
}

/** One QConv/QGemm node over a random 8-bit input, with scales that make the outputs spread over the range. */
function build(c: Case, seed: number): { g: Graph; x: Tensor } {
  const r = rng(seed);
  const g = new Graph(c.name);
  g.addInput('x', { dtype: c.xd, shape: c.x });
  const M = c.op === 'QConv' ? c.w[0] : c.w[1];
  const K = c.w.reduce((a, b) => a * b, 1) / M;
  const w = g.addConstant('w', int8('i8', c.w, ints(r, c.w.reduce((a, b) => a * b, 1), -127, 127)));
  const bias = c.bigBias ? ints(r, M, 2 ** 24 + 1, 2 ** 26).map((v, i) => (i % 2 ? -v : v)) : ints(r, M, -3000, 3000);
  const b = g.addConstant('b', tensor('i32', [M], Int32Array.from(bias)));
  const ws = Array.from({ length: c.perChannel === false ? 1 : M }, () => Math.fround(0.002 + 0.004 * r()));
  const xs = Math.fround(0.02 + 0.01 * r());
  // y_scale near the spread of the sums: a few saturate, most do not
  const ys = Math.fround(xs * ws[0] * (c.bigBias ? 2 ** 26 / 100 : 130 * Math.sqrt(K)));
  const attrs: Attrs = {
    ...(c.conv ?? {}), ...(c.act ?? {}),
    x_scale: xs, x_zero_point: c.xd === 'u8' ? 131 : -3, w_scale: ws, w_zero_point: [],
    y_scale: c.out === 'f32' ? 1 : ys, y_zero_point: c.out === 'u8' ? 120 : c.out === 'i8' ? 5 : 0, out_dtype: c.out,
  };
  g.setOutputs([g.add(c.op, ['x', w, b], attrs)]);
  const n = c.x.reduce((a, v) => a * v, 1);
  return { g, x: int8(c.xd, c.x, ints(r, n, c.xd === 'u8' ? 0 : -128, c.xd === 'u8' ? 255 : 127)) };
}

const CASES: Case[] = [
  { name: 'conv3x3_pad1', op: 'QConv', x: [1, 8, 9, 7], w: [12, 8, 3, 3], xd: 'u8', out: 'u8', conv: { pads: [1, 1, 1, 1] }, act: { activation: 'relu' } },
  { name: 'conv3x3_s2_oddC', op: 'QConv', x: [1, 3, 11, 10], w: [6, 3, 3, 3], xd: 'u8', out: 'u8', conv: { pads: [1, 1, 1, 1], strides: [2, 2] }, act: { activation: 'clip', act_alpha: 0, act_beta: 6 } },
  { name: 'conv1x1', op: 'QConv', x: [1, 16, 5, 6], w: [24, 16, 1, 1], xd: 'i8', out: 'i8' },
  { name: 'conv1x1_batch2', op: 'QConv', x: [2, 16, 3, 3], w: [20, 16, 1, 1], xd: 'u8', out: 'u8', perChannel: false },
  { name: 'conv7x7_s2_pad3', op: 'QConv', x: [1, 3, 16, 16], w: [8, 3, 7, 7], xd: 'u8', out: 'u8', conv: { pads: [3, 3, 3, 3], strides: [2, 2] }, act: { activation: 'relu' } },
  { name: 'dw3x3', op: 'QConv', x: [1, 16, 8, 8], w: [16, 1, 3, 3], xd: 'u8', out: 'u8', conv: { pads: [1, 1, 1, 1], group: 16 }, act: { activation: 'clip', act_alpha: 0, act_beta: 6 } },
  { name: 'dw3x3_s2_oddC', op: 'QConv', x: [1, 12, 9, 9], w: [12, 1, 3, 3], xd: 'i8', out: 'i8', conv: { pads: [1, 1, 1, 1], strides: [2, 2], group: 12 } },
  { name: 'conv1x1_big_sums', op: 'QConv', x: [1, 16, 4, 4], w: [32, 16, 1, 1], xd: 'u8', out: 'i8', perChannel: false, bigBias: true },
  // bounds inside the output range: the epilogue's integer clamps for clip/relu (kernels-quant.ts activationBounds)
  { name: 'conv1x1_clip_inside_i8', op: 'QConv', x: [1, 16, 5, 6], w: [16, 16, 1, 1], xd: 'u8', out: 'i8', act: { activation: 'clip', act_alpha: -1, act_beta: 1.5 } },
  { name: 'conv3x3_relu_i8', op: 'QConv', x: [1, 8, 6, 6], w: [8, 8, 3, 3], xd: 'i8', out: 'i8', conv: { pads: [1, 1, 1, 1] }, act: { activation: 'relu' } },
  // the 2-pixel × 16-channel tile (C, M ≥ 16) at stride 2 and dilated, rows a whole number of tiles
  { name: 'conv3x3_s2_rows_of_tiles', op: 'QConv', x: [1, 16, 12, 12], w: [20, 16, 3, 3], xd: 'u8', out: 'u8', conv: { pads: [1, 1, 1, 1], strides: [2, 2] } },
  { name: 'conv3x3_dilated_rows_of_tiles', op: 'QConv', x: [1, 18, 10, 12], w: [16, 18, 3, 3], xd: 'i8', out: 'u8', conv: { pads: [2, 2, 2, 2], dilations: [2, 2] }, act: { activation: 'relu' } },
  // depthwise taps go in pairs (an odd last tap pairs with a zero weight), P pixels per tile with a tail
  { name: 'dw5x5_pad2_C20_tail', op: 'QConv', x: [1, 20, 9, 7], w: [20, 1, 5, 5], xd: 'u8', out: 'u8', conv: { pads: [2, 2, 2, 2], group: 20 }, act: { activation: 'relu' } },
  { name: 'dw2x2_even_taps', op: 'QConv', x: [1, 8, 6, 11], w: [8, 1, 2, 2], xd: 'i8', out: 'u8', conv: { group: 8 } },
  { name: 'dw3x3_dilated2_s2', op: 'QConv', x: [1, 16, 11, 13], w: [16, 1, 3, 3], xd: 'u8', out: 'i8', conv: { pads: [2, 2, 2, 2], dilations: [2, 2], strides: [2, 2], group: 16 } },
  // dense: a dilated window row (kx loop), a 1×3 row without the ky loop, asymmetric padding, 5 channels
  { name: 'conv3x3_dilated2_C5', op: 'QConv', x: [1, 5, 10, 9], w: [7, 5, 3, 3], xd: 'u8', out: 'u8', conv: { pads: [2, 2, 2, 2], dilations: [2, 2] }, act: { activation: 'relu' } },
  { name: 'conv1x3_s2_pads', op: 'QConv', x: [1, 6, 5, 12], w: [9, 6, 1, 3], xd: 'i8', out: 'i8', conv: { pads: [0, 1, 0, 0], strides: [1, 2] } },
  // planar 3/4-channel inputs are widened 8 pixels at a time, the rest of a row pixel by pixel
  { name: 'conv3x3_planar_C4_i8', op: 'QConv', x: [1, 4, 5, 19], w: [6, 4, 3, 3], xd: 'i8', out: 'u8', conv: { pads: [1, 1, 1, 1] } },
  // ≥ 16 channels in and out: 2-pixel × 16-channel tiles, a block tail (22 = 16 + 4 + 2) and a pixel tail
  { name: 'conv3x3_tile2x16_M22', op: 'QConv', x: [1, 18, 7, 5], w: [22, 18, 3, 3], xd: 'u8', out: 'u8', conv: { pads: [1, 1, 1, 1] }, act: { activation: 'relu' } },
  { name: 'conv3x3_C1', op: 'QConv', x: [1, 1, 7, 7], w: [5, 1, 3, 3], xd: 'u8', out: 'u8', conv: { pads: [1, 1, 1, 1] } },
  { name: 'gemm', op: 'QGemm', x: [6, 20], w: [20, 10], xd: 'u8', out: 'u8', act: { activation: 'relu' } },
  { name: 'gemm_wide', op: 'QGemm', x: [1, 64], w: [64, 1000], xd: 'u8', out: 'i8' },
  // f32 output straight from the accumulator (no requantization): partial channel blocks, activations, the f64 path
  { name: 'gemm_f32_out', op: 'QGemm', x: [3, 40], w: [40, 1001], xd: 'u8', out: 'f32' },
  { name: 'conv3x3_f32_out_relu_oddM', op: 'QConv', x: [1, 8, 7, 6], w: [7, 8, 3, 3], xd: 'u8', out: 'f32', conv: { pads: [1, 1, 1, 1] }, act: { activation: 'relu' } },
  { name: 'conv1x1_f32_out_batch2', op: 'QConv', x: [2, 16, 3, 3], w: [20, 16, 1, 1], xd: 'i8', out: 'f32', perChannel: false },
  { name: 'dw3x3_f32_out_clip_oddC', op: 'QConv', x: [1, 12, 9, 9], w: [12, 1, 3, 3], xd: 'u8', out: 'f32', conv: { pads: [1, 1, 1, 1], strides: [2, 2], group: 12 }, act: { activation: 'clip', act_alpha: -0.5, act_beta: 0.75 } },
  { name: 'conv1x1_f32_out_big_sums', op: 'QConv', x: [1, 16, 4, 4], w: [32, 16, 1, 1], xd: 'u8', out: 'f32', perChannel: false, bigBias: true },
];

/**
 * Runs the build twice, the arena filled with junk bytes in between (the kernels' scratch must
 * zero its own padding, not rely on fresh memory); the second run's output, checked equal to the first.
 */
async function runBuild(bytes: Uint8Array, simd: 'simd128' | 'relaxed', x: Tensor): Promise<Tensor> {
  const s = await WasmSession.create(decodeArtifact(bytes), { simd });
  const first = Object.values(await s.run({ x }))[0];
  const memory = (s as unknown as { memory: WebAssembly.Memory }).memory;
  new Uint8Array(memory.buffer, s.plan.arenaOffset, s.plan.arenaBytes).fill(0xa5);
  const second = Object.values(await s.run({ x }))[0];
  expect(Array.from(second.data as ArrayLike<number>)).toEqual(Array.from(first.data as ArrayLike<number>));
  return second;
}

describe('wasm int8 kernels', () => {
  for (const c of CASES) {
    it(`${c.op} ${c.name}: bit-identical to the reference on both builds`, async () => {
      const { g, x } = build(c, c.name.length * 31 + 7);
      const want = Array.from(interpret(g, { x })[g.outputs[0]].data as ArrayLike<number>);
      // not trivial: the outputs spread over many levels, and few saturate
      expect(new Set(want).size).toBeGreaterThan(Math.min(20, want.length / 4));
      const lo = c.out === 'u8' ? 0 : c.out === 'i8' ? -128 : c.act ? Number(c.act.act_alpha ?? 0) : -Infinity;
      const hi = c.out === 'u8' ? 255 : c.out === 'i8' ? 127 : c.act?.activation === 'clip' ? Number(c.act.act_beta) : Infinity;
      expect(want.filter((v) => v === lo || v === hi).length / want.length).toBeLessThan(c.out === 'f32' && c.act ? 0.7 : 0.3);
      const compiled = await compile(g, 'wasm');
      expect(compiled.graph.nodes.map((n) => n.op)).toEqual([c.op]);
      for (const simd of ['simd128', 'relaxed'] as const) {
        const got = await runBuild(compiled.save(), simd, x);
        expect(got.dtype).toBe(c.out);
        expect(Array.from(got.data as ArrayLike<number>)).toEqual(want);
      }
    });
  }

  it('QuantizeLinear per tensor (4 lanes a step, a scalar tail): bit-identical to the reference on both builds, ties, NaN, ±Inf, saturation', async () => {
    const r = rng(99);
    const special = [0.5, 1.5, 2.5, -0.5, -1.5, 254.5, 255.5, -128.5, 127.5, NaN, Infinity, -Infinity, 1e30, -1e30, 2 ** 22 + 1, -0];
    for (const [dtype, zp, n] of [['u8', 7, 4 * 37 + 3], ['i8', -5, 4 * 37], ['u8', 0, 3]] as const) {
      const v = Array.from({ length: n }, (_, i) => (i < special.length && i < n ? special[i] : (r() - 0.5) * 700));
      const g = new Graph('q');
      g.addInput('x', { dtype: 'f32', shape: [1, n] });
      const sc = g.addConstant('s', tensor('f32', [], Float32Array.of(1.25)));
      const z = g.addConstant('z', int8(dtype, [], [zp]));
      g.setOutputs([g.add('QuantizeLinear', ['x', sc, z], {})]);
      const x = tensor('f32', [1, n], Float32Array.from(v.map((e) => e * 1.25)));
      const want = Array.from(interpret(g, { x })[g.outputs[0]].data as ArrayLike<number>);
      const c = await compile(g, 'wasm');
      for (const simd of ['simd128', 'relaxed'] as const) expect(Array.from((await runBuild(c.save(), simd, x)).data as ArrayLike<number>)).toEqual(want);
    }
  });

  it('DequantizeLinear per tensor (4 lanes a step, a scalar tail): bit-identical to the reference on both builds', async () => {
    const r = rng(98);
    for (const [dtype, zp, n] of [['u8', 131, 4 * 29 + 3], ['i8', -7, 4 * 29], ['u8', 0, 2]] as const) {
      const v = ints(r, n, dtype === 'u8' ? 0 : -128, dtype === 'u8' ? 255 : 127);
      v[0] = dtype === 'u8' ? 255 : -128;
      const g = new Graph('dq');
      g.addInput('x', { dtype, shape: [1, n] });
      const sc = g.addConstant('s', tensor('f32', [], Float32Array.of(Math.fround(0.0123456))));
      const z = g.addConstant('z', int8(dtype, [], [zp]));
      g.setOutputs([g.add('DequantizeLinear', ['x', sc, z], {})]);
      const x = int8(dtype, [1, n], v);
      const want = Array.from(interpret(g, { x })[g.outputs[0]].data as ArrayLike<number>);
      expect(new Set(want).size).toBeGreaterThan(Math.min(50, n / 2));
      const c = await compile(g, 'wasm');
      for (const simd of ['simd128', 'relaxed'] as const) expect(Array.from((await runBuild(c.save(), simd, x)).data as ArrayLike<number>)).toEqual(want);
    }
  });

  it('stores the int8 weights as int8: the artifact weighs about a quarter of the f32 conv’s', async () => {
    const c = CASES[0];
    const { g } = build({ ...c, w: [64, 64, 3, 3], x: [1, 64, 4, 4] }, 1);
    const q = await compile(g, 'wasm');
    // varied weights: with every weight 0.5 the f32 artifact measured half the bytes (83 kB, not 166 kB)
    const f = new Graph('f32');
    f.addInput('x', { dtype: 'f32', shape: [1, 64, 4, 4] });
    // weights f16 does not hold exactly: the f32 artifact keeps them as f32 (f16-exact runs are stored as f16)
    const w = f.addConstant('w', tensor('f32', [64, 64, 3, 3], Float32Array.from({ length: 64 * 64 * 9 }, (_, i) => Math.sin(i) * 0.1)));
    f.setOutputs([f.add('Conv', ['x', w], { pads: [1, 1, 1, 1] })]);
    const fc = await compile(f, 'wasm');
    expect(q.stats.weightBytes / fc.stats.weightBytes).toBeLessThan(0.27);
  });

  it('the pipeline makes QConv/QGemm only where the target supports them; the rest of the QDQ graph stays f32', async () => {
    const f32 = readFileSync(join(resolve(__dirname, '..'), '../shared/models/lenet5/model.onnx'));
    const q = await quantizeOnnx(f32, { calibration: randomCalibration(f32, 1) });
    const wasm = await getTarget('wasm');
    const x = tensor('f32', [1, 1, 32, 32], Float32Array.from({ length: 1024 }, (_, i) => Math.sin(i)));
    const a = await compile(q, 'wasm');
    const quantized = a.graph.nodes.filter((n) => n.op === 'QConv' || n.op === 'QGemm');
    expect(quantized.length).toBeGreaterThan(0);
    // tanh has no exact int8 epilogue on wasm: those groups were left as DequantizeLinear → Conv → Tanh → QuantizeLinear
    expect(quantized.every((n) => ['', 'relu', 'clip'].includes(String(n.attrs.activation)))).toBe(true);
    const refusing = { ...wasm, supports: (n: Parameters<typeof wasm.supports>[0], g: Parameters<typeof wasm.supports>[1]) => (n.op === 'QConv' || n.op === 'QGemm' ? 'refused here' : wasm.supports(n, g)) };
    const b = await compile(q, refusing);
    expect(b.graph.nodes.some((n) => n.op === 'QConv' || n.op === 'QGemm')).toBe(false);
    const ya = Object.values(await a.run({ [a.inputs[0].name]: x }))[0].data as Float32Array;
    const yb = Object.values(await b.run({ [b.inputs[0].name]: x }))[0].data as Float32Array;
    expect(ya.length).toBe(yb.length);
    for (let i = 0; i < ya.length; i++) expect(Math.abs(ya[i] - yb[i])).toBeLessThan(0.5);
  });
});
