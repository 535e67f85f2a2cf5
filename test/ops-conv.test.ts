import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Graph } from '../ir/graph.js';
import { interpret } from '../ir/interpreter.js';
import { windowGeometry } from '../ir/ops/geometry.js';
import { tensor, toF64, type Tensor } from '../runtime/tensor.js';
import { errorOf, runOp } from './op-harness.js';

/** Runs one node: input 0 is a graph input, the others constants ('' or undefined = absent). */

const f32 = (shape: number[], v: ArrayLike<number>) => tensor('f32', shape, Float32Array.from(v));
const iota = (n: number) => Array.from({ length: n }, (_, i) => i);
const values = (t: Tensor) => Array.from(toF64(t));
const seeded = (n: number, seed: number) => Array.from({ length: n }, (_, i) => Math.sin(seed * 7.3 + i * 1.7) * 2);

/** [N, C, H, W] → [N, H, W, C] */
function nchwToNhwc(t: Tensor): Tensor {
  const [N, C, H, W] = t.shape, v = toF64(t), out = new Float32Array(v.length);
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) {
    out[((n * H + h) * W + w) * C + c] = v[((n * C + c) * H + h) * W + w];
  }
  return tensor('f32', [N, H, W, C], out);
}

/** The error a thunk throws, for checking its code and node. */
describe('Conv (hand-computed)', () => {
  it('the seed example: 5×5 ⊛ 3×3 → 4 3 4 / 2 4 3 / 2 3 4', () => {
    const x = f32([1, 1, 5, 5], [1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0]);
    const w = f32([1, 1, 3, 3], [1, 0, 1, 0, 1, 0, 1, 0, 1]);
    const y = runOp('Conv', [x, w]);
    expect(y.shape).toEqual([1, 1, 3, 3]);
    expect(values(y)).toEqual([4, 3, 4, 2, 4, 3, 2, 3, 4]);
  });

  it('stride larger than the kernel skips pixels', () => {
    // x[i][j] = 5i + j; 2×2 ones at stride 3 sums the blocks at (0,0), (0,3), (3,0), (3,3)
    const y = runOp('Conv', [f32([1, 1, 5, 5], iota(25)), f32([1, 1, 2, 2], [1, 1, 1, 1])], { strides: [3, 3] });
    expect(y.shape).toEqual([1, 1, 2, 2]);
    expect(values(y)).toEqual([0 + 1 + 5 + 6, 3 + 4 + 8 + 9, 15 + 16 + 20 + 21, 18 + 19 + 23 + 24]);
  });

  it('dilation spreads the taps', () => {
    // 2×2 ones dilated by 2: x[i][j] + x[i][j+2] + x[i+2][j] + x[i+2][j+2] = 20i + 4j + 24
    const y = runOp('Conv', [f32([1, 1, 5, 5], iota(25)), f32([1, 1, 2, 2], [1, 1, 1, 1])], { dilations: [2, 2] });
    expect(y.shape).toEqual([1, 1, 3, 3]);
    expect(values(y)).toEqual([0, 1, 2].flatMap((i) => [0, 1, 2].map((j) => 20 * i + 4 * j + 24)));
  });

  it('groups: depthwise and a channel multiplier', () => {
    const x = f32([1, 2, 1, 2], [1, 2, 10, 20]);
    // depthwise (group = C): channel c is scaled by its own weight
    expect(values(runOp('Conv', [x, f32([2, 1, 1, 1], [2, 3])], { group: 2 }))).toEqual([2, 4, 30, 60]);
    // group 2 with 4 outputs: outputs 0,1 read channel 0, outputs 2,3 read channel 1
    expect(values(runOp('Conv', [x, f32([4, 1, 1, 1], [1, -1, 2, 3])], { group: 2 }))).toEqual([1, 2, -1, -2, 20, 40, 30, 60]);
    // group 1 sums both channels
    expect(values(runOp('Conv', [x, f32([1, 2, 1, 1], [1, 1])]))).toEqual([11, 22]);
  });

  it('asymmetric pads (top 1, left 0, bottom 0, right 2)', () => {
    const y = runOp('Conv', [f32([1, 1, 3, 3], iota(9).map((i) => i + 1)), f32([1, 1, 1, 1], [1])], { pads: [1, 0, 0, 2] });
    expect(y.shape).toEqual([1, 1, 4, 5]);
    expect(values(y)).toEqual([0, 0, 0, 0, 0, 1, 2, 3, 0, 0, 4, 5, 6, 0, 0, 7, 8, 9, 0, 0]);
  });

  it('auto_pad SAME_UPPER pads the end, SAME_LOWER the start; VALID pads nothing', () => {
    const x = f32([1, 1, 4], [1, 2, 3, 4]), w = f32([1, 1, 2], [1, 10]);
    expect(values(runOp('Conv', [x, w], { auto_pad: 'SAME_UPPER' }))).toEqual([21, 32, 43, 4]);
    expect(values(runOp('Conv', [x, w], { auto_pad: 'SAME_LOWER' }))).toEqual([10, 21, 32, 43]);
    expect(values(runOp('Conv', [x, w], { auto_pad: 'VALID', pads: [3, 3] }))).toEqual([21, 32, 43]);
    // stride 2 on 5: out = ceil(5/2) = 3, total pad = (3−1)·2 + 3 − 5 = 2 → 1 each side
    const g = windowGeometry('Conv', { auto_pad: 'SAME_UPPER', strides: [2, 2] }, [1, 1, 5, 6], [1, 1, 3, 3]);
    expect([g.outSize, g.padBegin, g.padEnd]).toEqual([[3, 3], [1, 0], [1, 1]]);
    const lower = windowGeometry('Conv', { auto_pad: 'SAME_LOWER', strides: [2, 2] }, [1, 1, 5, 6], [1, 1, 3, 3]);
    expect([lower.padBegin, lower.padEnd]).toEqual([[1, 1], [1, 0]]);
  });

  it('3-D convolution sums the cube', () => {
    const y = runOp('Conv', [f32([1, 1, 2, 2, 3], iota(12)), f32([1, 1, 2, 2, 2], new Array(8).fill(1))]);
    expect(y.shape).toEqual([1, 1, 1, 1, 2]);
    // cube at w=0..1: (0+1+3+4+6+7+9+10) = 40; shifted by one: 48
    expect(values(y)).toEqual([40, 48]);
  });

  it('epilogue: relu(conv + bias + residual)', () => {
    const x = f32([1, 1, 2, 2], [1, 2, 3, 4]), w = f32([2, 1, 1, 1], [1, -1]), b = f32([2], [0.5, 1]);
    const r = f32([1, 2, 2, 2], [0, 0, -5, 0, 0, 0, 0, 10]);
    const y = runOp('Conv', [x, w, b, r], { activation: 'relu' });
    // ch0: x + 0.5 + r = [1.5, 2.5, -1.5→0, 4.5]; ch1: −x + 1 + r = [0, −1→0, −2→0, 7]
    expect(values(y)).toEqual([1.5, 2.5, 0, 4.5, 0, 0, 0, 7]);
    // clip epilogue (relu6) with alpha = min, beta = max
    expect(values(runOp('Conv', [x, f32([1, 1, 1, 1], [3])], { activation: 'clip', act_alpha: 0, act_beta: 6 }))).toEqual([3, 6, 6, 6]);
    // an absent bias ('') with a residual
    expect(values(runOp('Conv', [x, f32([1, 1, 1, 1], [1]), undefined, f32([1, 1, 2, 2], [1, 1, 1, 1])]))).toEqual([2, 3, 4, 5]);
  });

  it('NHWC gives the NCHW result transposed', () => {
    const x = f32([2, 3, 5, 6], seeded(180, 1)), w = f32([4, 3, 3, 2], seeded(72, 2)), b = f32([4], [1, 2, 3, 4]);
    const attrs = { strides: [2, 1], pads: [1, 0, 0, 1], dilations: [1, 2] };
    const nchw = runOp('Conv', [x, w, b], attrs);
    const nhwc = runOp('Conv', [nchwToNhwc(x), w, b], { ...attrs, layout: 'NHWC' });
    expect(nhwc.shape).toEqual(nchwToNhwc(nchw).shape);
    expect(values(nhwc)).toEqual(values(nchwToNhwc(nchw)));
  });

  it('f16 in, f16 out (weights f16 too)', () => {
    const x = tensor('f16', [1, 1, 1, 2], [1, 2]), w = tensor('f16', [1, 1, 1, 1], [0.5]);
    const y = runOp('Conv', [x, w]);
    expect(y.dtype).toBe('f16');
    expect(values(y)).toEqual([0.5, 1]);
  });
});

describe('Conv errors name the node', () => {
  it('weight channels ≠ C/group → SHAPE_MISMATCH', () => {
    const e = errorOf(() => runOp('Conv', [f32([1, 4, 3, 3], iota(36)), f32([2, 3, 1, 1], iota(6))], { group: 2 }));
    expect(e.code).toBe('SHAPE_MISMATCH');
    expect(e.node).toBe('n0');
    expect(e.op).toBe('Conv');
  });
  it('bias of the wrong length, kernel larger than the input, bad attributes', () => {
    const x = f32([1, 1, 3, 3], iota(9));
    expect(errorOf(() => runOp('Conv', [x, f32([2, 1, 1, 1], [1, 1]), f32([3], [0, 0, 0])])).code).toBe('SHAPE_MISMATCH');
    expect(errorOf(() => runOp('Conv', [x, f32([1, 1, 4, 4], iota(16))])).code).toBe('SHAPE_MISMATCH');
    expect(errorOf(() => runOp('Conv', [x, f32([1, 1, 1, 1], [1])], { strides: [0, 1] })).code).toBe('BAD_ATTRIBUTE');
    expect(errorOf(() => runOp('Conv', [x, f32([1, 1, 1, 1], [1])], { pads: [1, 1] })).code).toBe('BAD_ATTRIBUTE');
    expect(errorOf(() => runOp('Conv', [x, f32([1, 1, 1, 1], [1])], { auto_pad: 'SAME' })).code).toBe('BAD_ATTRIBUTE');
    expect(errorOf(() => runOp('Conv', [x, f32([1, 1, 1, 1], [1])], { activation: 'swish' })).code).toBe('BAD_ATTRIBUTE');
    expect(errorOf(() => runOp('Conv', [x, f32([1, 1, 2, 2], iota(4))], { kernel_shape: [3, 3] })).code).toBe('SHAPE_MISMATCH');
    expect(errorOf(() => runOp('Conv', [x, tensor('f16', [1, 1, 1, 1], [1])])).code).toBe('DTYPE_MISMATCH');
    expect(errorOf(() => runOp('Conv', [tensor('i32', [1, 1, 3, 3], iota(9)), tensor('i32', [1, 1, 1, 1], [1])])).code).toBe('DTYPE_MISMATCH');
  });
});

/** Direct 2-D convolution, NCHW, written independently of ir/ops: the obvious six loops. */
function naiveConv2d(x: number[], xs: number[], w: number[], ws: number[], group: number, s: number[], p: number[], d: number[]) {
  const [N, C, H, W] = xs, [M, Cg, KH, KW] = ws;
  const OH = Math.floor((H + p[0] + p[2] - d[0] * (KH - 1) - 1) / s[0]) + 1;
  const OW = Math.floor((W + p[1] + p[3] - d[1] * (KW - 1) - 1) / s[1]) + 1;
  const out: number[] = [];
  for (let n = 0; n < N; n++) for (let m = 0; m < M; m++) for (let oh = 0; oh < OH; oh++) for (let ow = 0; ow < OW; ow++) {
    const g = Math.floor(m / (M / group));
    let acc = 0;
    for (let cg = 0; cg < Cg; cg++) for (let kh = 0; kh < KH; kh++) for (let kw = 0; kw < KW; kw++) {
      const ih = oh * s[0] - p[0] + kh * d[0], iw = ow * s[1] - p[1] + kw * d[1];
      if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
      acc += x[((n * C + g * Cg + cg) * H + ih) * W + iw] * w[((m * Cg + cg) * KH + kh) * KW + kw];
    }
    out.push(acc);
  }
  return { shape: [N, M, OH, OW], out };
}

describe('Conv properties (fast-check)', () => {
  it('output size = floor((H + padB + padE − D·(K−1) − 1)/S) + 1', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 4 }),
      fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 4 }),
      (H, K, S, D, pb, pe) => {
        const span = H + pb + pe - D * (K - 1) - 1;
        fc.pre(span >= 0);
        const g = windowGeometry('Conv', { strides: [S], dilations: [D], pads: [pb, pe] }, [1, 1, H], [1, 1, K]);
        expect(g.outSize[0]).toBe(Math.floor(span / S) + 1);
      }), { numRuns: 300 });
  });

  it('conv-transpose size = (H−1)·S − padB − padE + D·(K−1) + output_padding + 1', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 4 }),
      fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 3 }),
      (H, K, S, D, pb, pe, op) => {
        fc.pre(op < Math.max(S, D));
        const size = (H - 1) * S - pb - pe + D * (K - 1) + op + 1;
        fc.pre(size >= 1);
        const g = windowGeometry('ConvTranspose', { strides: [S], dilations: [D], pads: [pb, pe], output_padding: [op] }, [1, 1, H], [1, 1, K]);
        expect(g.outSize[0]).toBe(size);
      }), { numRuns: 300 });
  });

  it('matches a naive direct 2-D convolution on small random shapes', () => {
    const shapes = fc.record({
      N: fc.integer({ min: 1, max: 2 }), G: fc.integer({ min: 1, max: 3 }), Cg: fc.integer({ min: 1, max: 3 }),
      Mg: fc.integer({ min: 1, max: 5 }), H: fc.integer({ min: 1, max: 7 }), W: fc.integer({ min: 1, max: 7 }),
      KH: fc.integer({ min: 1, max: 3 }), KW: fc.integer({ min: 1, max: 3 }),
      s: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
      d: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
      p: fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })),
      seed: fc.integer({ min: 0, max: 1000 }),
      nhwc: fc.boolean(),
    });
    fc.assert(fc.property(shapes, ({ N, G, Cg, Mg, H, W, KH, KW, s, d, p, seed, nhwc }) => {
      fc.pre(H + p[0] + p[2] >= d[0] * (KH - 1) + 1 && W + p[1] + p[3] >= d[1] * (KW - 1) + 1);
      const C = G * Cg, M = G * Mg;
      const xv = seeded(N * C * H * W, seed).map(Math.fround), wv = seeded(M * Cg * KH * KW, seed + 1).map(Math.fround);
      const want = naiveConv2d(xv, [N, C, H, W], wv, [M, Cg, KH, KW], G, s, p, d);
      const x = f32([N, C, H, W], xv);
      const attrs = { group: G, strides: s, dilations: d, pads: p };
      const got = nhwc
        ? runOp('Conv', [nchwToNhwc(x), f32([M, Cg, KH, KW], wv)], { ...attrs, layout: 'NHWC' })
        : runOp('Conv', [x, f32([M, Cg, KH, KW], wv)], attrs);
      const expected = nhwc ? nchwToNhwc(f32(want.shape, want.out)) : f32(want.shape, want.out);
      expect(got.shape).toEqual(expected.shape);
      // f32 outputs of float64 sums taken in a different order: within an f32 rounding step
      values(got).forEach((v, i) => expect(Math.abs(v - values(expected)[i])).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(v))));
    }), { numRuns: 150 });
  });
});

describe('ConvTranspose properties (fast-check)', () => {
  it('is the adjoint of Conv with the same weights: <conv(x), y> = <x, convT(y)>', () => {
    const cases = fc.record({
      G: fc.integer({ min: 1, max: 2 }), Cg: fc.integer({ min: 1, max: 3 }), Mg: fc.integer({ min: 1, max: 3 }),
      H: fc.integer({ min: 1, max: 7 }), W: fc.integer({ min: 1, max: 7 }), K: fc.integer({ min: 1, max: 3 }),
      s: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
      d: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
      p: fc.tuple(fc.integer({ min: 0, max: 1 }), fc.integer({ min: 0, max: 1 }), fc.integer({ min: 0, max: 1 }), fc.integer({ min: 0, max: 1 })),
      seed: fc.integer({ min: 0, max: 1000 }),
    });
    fc.assert(fc.property(cases, ({ G, Cg, Mg, H, W, K, s, d, p, seed }) => {
      fc.pre(H + p[0] + p[2] >= d[0] * (K - 1) + 1 && W + p[1] + p[3] >= d[1] * (K - 1) + 1);
      const C = G * Cg, M = G * Mg;
      const x = f32([1, C, H, W], seeded(C * H * W, seed)), w = f32([M, Cg, K, K], seeded(M * Cg * K * K, seed + 1));
      const cx = runOp('Conv', [x, w], { group: G, strides: s, dilations: d, pads: p });
      const [OH, OW] = cx.shape.slice(2);
      const y = f32([1, M, OH, OW], seeded(M * OH * OW, seed + 2));
      // output_padding restores the rows the conv's floor dropped, so convT(y) has x's shape
      const op = [H, W].map((n, a) => n - ((([OH, OW][a]) - 1) * s[a] - p[a] - p[a + 2] + d[a] * (K - 1) + 1));
      const ty = runOp('ConvTranspose', [y, w], { group: G, strides: s, dilations: d, pads: p, output_padding: op });
      expect(ty.shape).toEqual(x.shape);
      const dot = (a: Tensor, b: Tensor) => { const bv = values(b); return values(a).reduce((acc, v, i) => acc + v * bv[i], 0); };
      const lhs = dot(cx, y), rhs = dot(x, ty);
      expect(Math.abs(lhs - rhs)).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(lhs)));
    }), { numRuns: 100 });
  });
});

describe('ConvTranspose (hand-computed)', () => {
  it('stride 2 with output_padding 1 and groups', () => {
    // ch0 weight [1, 1], ch1 weight [1, −1]; each input scatters into two outputs, the last is output padding
    const x = f32([1, 2, 2], [1, 2, 3, 4]), w = f32([2, 1, 2], [1, 1, 1, -1]);
    const y = runOp('ConvTranspose', [x, w], { strides: [2], output_padding: [1], group: 2 });
    expect(y.shape).toEqual([1, 2, 5]);
    expect(values(y)).toEqual([1, 1, 2, 2, 0, 3, -3, 4, -4, 0]);
    // with bias, pads trimming one at each end, and a leaky_relu epilogue
    const z = runOp('ConvTranspose', [x, w, f32([2], [1, -1])], { strides: [2], pads: [1, 1], group: 2, activation: 'leaky_relu', act_alpha: 0.5 });
    expect(z.shape).toEqual([1, 2, 2]);
    // natural outputs ch0 [1,1,2,2], ch1 [3,−3,4,−4]; trimmed [1,2], [−3,4]; + bias; leaky halves −4
    expect(values(z)).toEqual([2, 3, -2, 3]);
  });

  it('overlapping taps add up; group 1 sums channels into each output', () => {
    // stride 1, kernel [1, 2, 3]: y = x0·w + shifted x1·w
    const y = runOp('ConvTranspose', [f32([1, 1, 2], [1, 10]), f32([1, 1, 3], [1, 2, 3])]);
    expect(values(y)).toEqual([1, 12, 23, 30]);
    // two input channels, two output channels (W is C × M)
    const z = runOp('ConvTranspose', [f32([1, 2, 1], [1, 2]), f32([2, 2, 1], [1, 2, 3, 4])]);
    expect(values(z)).toEqual([1 * 1 + 2 * 3, 1 * 2 + 2 * 4]);
  });

  it('output_shape sets the pads (SAME_UPPER puts the extra at the end) and may extend past the natural size', () => {
    const g = windowGeometry('ConvTranspose', { strides: [2, 2], output_shape: [6, 6], auto_pad: 'SAME_UPPER' }, [1, 1, 3, 3], [1, 1, 3, 3]);
    expect([g.outSize, g.padBegin, g.padEnd]).toEqual([[6, 6], [0, 0], [1, 1]]);
    const big = windowGeometry('ConvTranspose', { strides: [3, 2], output_shape: [10, 8] }, [1, 1, 3, 3], [1, 2, 3, 3]);
    expect([big.outSize, big.padBegin, big.padEnd, big.M]).toEqual([[10, 8], [0, 0], [-1, -1], 2]);
    const y = runOp('ConvTranspose', [f32([1, 1, 2], [1, 2]), f32([1, 1, 1], [1])], { strides: [2], output_shape: [5] });
    // natural size 3, total pad 3 − 5 = −2 → begin −1, end −1: the outputs shift right by one
    expect(values(y)).toEqual([0, 1, 0, 2, 0]);
  });

  it('NHWC gives the NCHW result transposed', () => {
    const x = f32([1, 4, 3, 2], seeded(24, 3)), w = f32([4, 3, 2, 3], seeded(72, 4));
    const attrs = { strides: [2, 3], pads: [0, 1, 1, 0], group: 2, output_padding: [1, 0] };
    const nchw = runOp('ConvTranspose', [x, w], attrs);
    const nhwc = runOp('ConvTranspose', [nchwToNhwc(x), w], { ...attrs, layout: 'NHWC' });
    expect(values(nhwc)).toEqual(values(nchwToNhwc(nchw)));
  });

  it('weight input channels ≠ C → SHAPE_MISMATCH naming the node', () => {
    const e = errorOf(() => runOp('ConvTranspose', [f32([1, 2, 2], iota(4)), f32([3, 1, 2], iota(6))]));
    expect([e.code, e.node]).toEqual(['SHAPE_MISMATCH', 'n0']);
  });
});

/** Runs a small graph given as a builder over the graph input 'x'. */
function runGraph(x: Tensor, build: (g: Graph, x: string) => string): Tensor {
  const g = new Graph('t');
  const xi = g.addInput('x', { dtype: x.dtype, shape: x.shape });
  g.setOutputs([build(g, xi)]);
  return interpret(g, { x })[g.outputs[0]];
}

describe('FusedDwPw', () => {
  it('hand-computed: relu(depthwise + Bdw), then 1×1 conv + Bpw', () => {
    // dw: ch0·1 + 0 → relu [1, 0]; ch1·(−1) + 1 → relu [0, 0]; pw: 2·ch0 + 5·ch1 + 1
    const x = f32([1, 2, 1, 2], [1, -2, 3, 4]);
    const y = runOp('FusedDwPw', [x, f32([2, 1, 1, 1], [1, -1]), f32([2], [0, 1]), f32([1, 2, 1, 1], [2, 5]), f32([1], [1])], { dw_activation: 'relu' });
    expect(y.shape).toEqual([1, 1, 1, 2]);
    expect(values(y)).toEqual([3, 1]);
  });

  for (const layout of ['NCHW', 'NHWC'] as const) {
    it(`equals the unfused Conv pair (${layout}, strides, pads, dilations, both epilogues, residual)`, () => {
      const [N, C, H, W, M] = [2, 3, 7, 6, 5];
      const xc = f32([N, C, H, W], seeded(N * C * H * W, 5));
      const x = layout === 'NHWC' ? nchwToNhwc(xc) : xc;
      const wdw = f32([C, 1, 3, 3], seeded(C * 9, 6)), bdw = f32([C], [0.1, -0.2, 0.3]);
      const wpw = f32([M, C, 1, 1], seeded(M * C, 7)), bpw = f32([M], seeded(M, 8));
      const geo = { strides: [2, 1], pads: [1, 0, 1, 2], dilations: [1, 2] };
      const dwAct = { dw_activation: 'clip', dw_alpha: 0, dw_beta: 6 };
      const act = { activation: 'hard_swish', act_alpha: 0, act_beta: 0 };
      const unfused = runGraph(x, (g, xi) => {
        const d = g.add('Conv', [xi, g.addConstant('wdw', wdw), g.addConstant('bdw', bdw)], { ...geo, group: C, layout, activation: 'clip', act_alpha: 0, act_beta: 6 });
        const rShape = g.type(d).shape.map((s, i) => (i === (layout === 'NHWC' ? 3 : 1) ? M : s));
        const r = g.addConstant('r', f32(rShape, seeded(rShape.reduce((a, b) => a * b), 9)));
        return g.add('Conv', [d, g.addConstant('wpw', wpw), g.addConstant('bpw', bpw), r], { layout, ...act });
      });
      const fused = runGraph(x, (g, xi) => {
        const rShape = [...unfused.shape];
        const r = g.addConstant('r', f32(rShape, seeded(rShape.reduce((a, b) => a * b), 9)));
        return g.add('FusedDwPw', [xi, g.addConstant('wdw', wdw), g.addConstant('bdw', bdw), g.addConstant('wpw', wpw), g.addConstant('bpw', bpw), r], { ...geo, ...dwAct, ...act, layout });
      });
      expect(fused.shape).toEqual(unfused.shape);
      // the fused kernel keeps the intermediate in float64 while the pair rounds it to f32: 1e-5
      values(fused).forEach((v, i) => expect(Math.abs(v - values(unfused)[i])).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(v))));
    });
  }

  it('a pointwise weight that is not 1×1, or a dw weight that is not depthwise, is SHAPE_MISMATCH naming the node', () => {
    const x = f32([1, 2, 3, 3], iota(18));
    const e = errorOf(() => runOp('FusedDwPw', [x, f32([2, 1, 3, 3], iota(18)), undefined, f32([4, 2, 3, 3], iota(72))]));
    expect([e.code, e.node, e.op]).toEqual(['SHAPE_MISMATCH', 'n0', 'FusedDwPw']);
    expect(errorOf(() => runOp('FusedDwPw', [x, f32([2, 2, 1, 1], iota(4)), undefined, f32([4, 2, 1, 1], iota(8))])).code).toBe('SHAPE_MISMATCH');
    expect(errorOf(() => runOp('FusedDwPw', [x, f32([2, 1, 1, 1], iota(2)), f32([3], [0, 0, 0]), f32([4, 2, 1, 1], iota(8))])).code).toBe('SHAPE_MISMATCH');
  });
});
