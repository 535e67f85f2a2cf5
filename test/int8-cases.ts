/**
 * The int8 conv/gemm cases the wasm kernel tests run (test/wasm-int8.test.ts in Node, and
 * test/wasm-int8-chromium.test.ts in Chromium, where the relaxed build's u8-dot body runs): one
 * QConv/QGemm node each over seeded random 8-bit inputs, shapes chosen for the kernels' tiles and tails.
 */
import { Graph } from '../ir/graph.js';
import type { Attrs } from '../ir/op.js';
import { tensor, type Tensor } from '../runtime/tensor.js';

export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32; };
}

export const ints = (r: () => number, n: number, lo: number, hi: number) => Array.from({ length: n }, () => lo + Math.floor(r() * (hi - lo + 1)));
export const int8 = (dtype: 'u8' | 'i8', shape: number[], v: number[]): Tensor => tensor(dtype, shape, dtype === 'u8' ? Uint8Array.from(v) : Int8Array.from(v));

export interface Case {
  name: string;
  op: 'QConv' | 'QGemm';
  x: number[]; w: number[]; xd: 'u8' | 'i8'; out: 'u8' | 'i8' | 'f32';
  conv?: Attrs;
  act?: Attrs;
  perChannel?: boolean;
  /** The input's zero point (default 131 for u8, −3 for i8). */
  xz?: number;
  /** Biases beyond ±2^24: the epilogue's f64 path (an f32 multiply is exact only below that). */
  bigBias?: boolean;
}

/** One QConv/QGemm node over a random 8-bit input, with scales that make the outputs spread over the range. */
export function build(c: Case, seed: number): { g: Graph; x: Tensor } {
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
    x_scale: xs, x_zero_point: c.xz ?? (c.xd === 'u8' ? 131 : -3), w_scale: ws, w_zero_point: [],
    y_scale: c.out === 'f32' ? 1 : ys, y_zero_point: c.out === 'u8' ? 120 : c.out === 'i8' ? 5 : 0, out_dtype: c.out,
  };
  g.setOutputs([g.add(c.op, ['x', w, b], attrs)]);
  const n = c.x.reduce((a, v) => a * v, 1);
  return { g, x: int8(c.xd, c.x, ints(r, n, c.xd === 'u8' ? 0 : -128, c.xd === 'u8' ? 255 : 127)) };
}

export const CASES: Case[] = [
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
  // zero points whose u8 form is 0 (a ReLU's u8 output; i8 at −128): the relaxed u8-dot body then needs no z·Σw
  { name: 'conv3x3_xz0_tile_tails', op: 'QConv', x: [1, 24, 7, 8], w: [36, 24, 3, 3], xd: 'u8', out: 'u8', xz: 0, conv: { pads: [1, 1, 1, 1] }, act: { activation: 'relu' } },
  { name: 'conv1x1_i8_xz_minus128', op: 'QConv', x: [1, 40, 5, 5], w: [20, 40, 1, 1], xd: 'i8', out: 'i8', xz: -128 },
  { name: 'gemm', op: 'QGemm', x: [6, 20], w: [20, 10], xd: 'u8', out: 'u8', act: { activation: 'relu' } },
  { name: 'gemm_wide', op: 'QGemm', x: [1, 64], w: [64, 1000], xd: 'u8', out: 'i8' },
  // rows in 3 units of 12 (threads split them), the last one short
  { name: 'gemm_30_rows', op: 'QGemm', x: [30, 24], w: [24, 12], xd: 'i8', out: 'u8', act: { activation: 'relu' } },
  // f32 output straight from the accumulator (no requantization): partial channel blocks, activations, the f64 path
  { name: 'gemm_f32_out', op: 'QGemm', x: [3, 40], w: [40, 1001], xd: 'u8', out: 'f32' },
  { name: 'conv3x3_f32_out_relu_oddM', op: 'QConv', x: [1, 8, 7, 6], w: [7, 8, 3, 3], xd: 'u8', out: 'f32', conv: { pads: [1, 1, 1, 1] }, act: { activation: 'relu' } },
  { name: 'conv1x1_f32_out_batch2', op: 'QConv', x: [2, 16, 3, 3], w: [20, 16, 1, 1], xd: 'i8', out: 'f32', perChannel: false },
  { name: 'dw3x3_f32_out_clip_oddC', op: 'QConv', x: [1, 12, 9, 9], w: [12, 1, 3, 3], xd: 'u8', out: 'f32', conv: { pads: [1, 1, 1, 1], strides: [2, 2], group: 12 }, act: { activation: 'clip', act_alpha: -0.5, act_beta: 0.75 } },
  { name: 'conv1x1_f32_out_big_sums', op: 'QConv', x: [1, 16, 4, 4], w: [32, 16, 1, 1], xd: 'u8', out: 'f32', perChannel: false, bigBias: true },
];
