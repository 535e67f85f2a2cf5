/**
 * Every WGSL kernel against the reference kernel (the interpreter on a one-node graph), over
 * property-generated shapes, run on the WebGPU runtime (in CI: Dawn's OpenGL ES backend on
 * Mesa llvmpipe). Each case compiles at -O0 (the node as written, NCHW) and, for the layout-aware
 * ops, with layout NHWC as well (the NHWC index paths). f32 tolerance: 1e-4 relative to max |ref|.
 * Sizes are modest: llvmpipe runs shaders on the CPU and compiles each new shader.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compile } from '../index.js';
import { tensor } from '../runtime/tensor.js';
import { Graph } from '../ir/graph.js';
import { CnncError } from '../runtime/errors.js';
import { expectMatches, oneNode, randT } from './wgsl-harness.js';

const RUNS = 6;
const ACTS = ['', 'relu', 'clip', 'sigmoid', 'hard_swish', 'leaky_relu', 'gelu', 'tanh', 'silu'] as const;
const both = [{ opt: 'O0' as const }, { opt: 'O2' as const, layout: 'NHWC' as const }];
const prop = (p: fc.IAsyncProperty<unknown[]>) => fc.assert(p, { numRuns: RUNS, seed: 42 });

describe('wgsl kernels vs reference', () => {
  it('Conv: implicit GEMM over strides, pads, dilations, groups, bias, residual, activation', () => prop(fc.asyncProperty(
    fc.record({ n: fc.integer({ min: 1, max: 2 }), g: fc.constantFrom(1, 1, 2, 3), cg: fc.integer({ min: 1, max: 5 }), mg: fc.integer({ min: 1, max: 9 }),
      h: fc.integer({ min: 3, max: 11 }), w: fc.integer({ min: 3, max: 11 }), k: fc.constantFrom(1, 2, 3, 5), s: fc.integer({ min: 1, max: 2 }),
      d: fc.integer({ min: 1, max: 2 }), p: fc.integer({ min: 0, max: 2 }), bias: fc.boolean(), res: fc.boolean(), act: fc.constantFrom(...ACTS), seed: fc.nat() }),
    async (c) => {
      const C = c.g * c.cg, M = c.g * c.mg;
      const k = Math.min(c.k, c.h, c.w), d = (k - 1) * c.d + 1 > Math.min(c.h, c.w) + 2 * c.p ? 1 : c.d;
      const oh = Math.floor((c.h + 2 * c.p - (d * (k - 1) + 1)) / c.s) + 1, ow = Math.floor((c.w + 2 * c.p - (d * (k - 1) + 1)) / c.s) + 1;
      const ins = [randT([c.n, C, c.h, c.w], c.seed), randT([M, c.cg, k, k], c.seed + 1), c.bias ? randT([M], c.seed + 2) : undefined, c.res ? randT([c.n, M, oh, ow], c.seed + 3) : undefined];
      const { g, feeds } = oneNode('Conv', ins, { group: c.g, strides: [c.s, c.s], dilations: [d, d], pads: [c.p, c.p, c.p, c.p], activation: c.act, act_alpha: c.act === 'clip' ? 0 : 0.1, act_beta: 6 }, [0, 3]);
      await expectMatches(g, feeds, both);
    })));

  it('Conv: 1×1 pointwise, 1-D, asymmetric pads, and GEMMs for every tile shape', async () => {
    for (const [x, w, attrs] of [
      [[1, 40, 9, 10], [70, 40, 1, 1], {}],
      [[1, 6, 17], [5, 6, 3], { pads: [2, 0], strides: [2] }],
      [[1, 3, 12, 12], [33, 3, 3, 3], { pads: [0, 1, 2, 1], strides: [2, 1] }],
      [[1, 20, 12, 12], [70, 20, 3, 3], { pads: [1, 1, 1, 1] }], // 64×128 tiles, partial in both
      [[1, 9, 10, 13], [40, 9, 1, 1], {}], // 32×128 tiles
      [[2, 8, 16, 16], [128, 8, 1, 1], {}], // whole 64×128 tiles
    ] as [number[], number[], Record<string, number[]>][]) {
      const { g, feeds } = oneNode('Conv', [randT(x, 1), randT(w, 2), randT([w[0]], 3)], attrs);
      await expectMatches(g, feeds, both);
    }
  });

  it('Conv: depthwise with channel multiplier', () => prop(fc.asyncProperty(
    fc.record({ c: fc.integer({ min: 1, max: 8 }), mult: fc.integer({ min: 1, max: 2 }), h: fc.integer({ min: 3, max: 12 }), k: fc.constantFrom(3, 5), s: fc.integer({ min: 1, max: 2 }), seed: fc.nat() }),
    async (c) => {
      const p = (c.k - 1) / 2;
      const { g, feeds } = oneNode('Conv', [randT([1, c.c, c.h, c.h + 1], c.seed), randT([c.c * c.mult, 1, c.k, c.k], c.seed + 1), randT([c.c * c.mult], c.seed + 2)],
        { group: c.c, strides: [c.s, c.s], pads: [p, p, p, p], activation: 'clip', act_alpha: 0, act_beta: 6 });
      await expectMatches(g, feeds, both);
    })));

  it('ConvTranspose: strides, pads, output_padding, groups', () => prop(fc.asyncProperty(
    fc.record({ g: fc.constantFrom(1, 2), cg: fc.integer({ min: 1, max: 4 }), mg: fc.integer({ min: 1, max: 4 }), h: fc.integer({ min: 2, max: 7 }), k: fc.constantFrom(1, 2, 3), s: fc.integer({ min: 1, max: 3 }), p: fc.integer({ min: 0, max: 1 }), seed: fc.nat() }),
    async (c) => {
      const p = Math.min(c.p, c.k - 1), op = c.s > 1 ? 1 : 0;
      const { g, feeds } = oneNode('ConvTranspose', [randT([1, c.g * c.cg, c.h, c.h + 1], c.seed), randT([c.g * c.cg, c.mg, c.k, c.k], c.seed + 1), randT([c.g * c.mg], c.seed + 2)],
        { group: c.g, strides: [c.s, c.s], pads: [p, p, p, p], output_padding: [op, 0], activation: 'relu' });
      await expectMatches(g, feeds, both);
    })));

  it('FusedDwPw: depthwise + pointwise in one GEMM, with both activations and a residual', () => prop(fc.asyncProperty(
    fc.record({ c: fc.integer({ min: 1, max: 12 }), m: fc.integer({ min: 1, max: 90 }), h: fc.integer({ min: 3, max: 10 }), s: fc.integer({ min: 1, max: 2 }), res: fc.boolean(), seed: fc.nat() }),
    async (c) => {
      const oh = Math.floor((c.h - 1) / c.s) + 1;
      const ins = [randT([1, c.c, c.h, c.h], c.seed), randT([c.c, 1, 3, 3], c.seed + 1), randT([c.c], c.seed + 2), randT([c.m, c.c, 1, 1], c.seed + 3), randT([c.m], c.seed + 4),
        c.res ? randT([1, c.m, oh, oh], c.seed + 5) : undefined];
      const { g, feeds } = oneNode('FusedDwPw', ins, { strides: [c.s, c.s], pads: [1, 1, 1, 1], dw_activation: 'clip', dw_alpha: 0, dw_beta: 6, activation: c.res ? '' : 'relu' }, [0, 5]);
      await expectMatches(g, feeds, both);
    })));

  it('FusedDwPw: tall tiles (≥ 64 output channels) and a stride-2, 5×5 depthwise', async () => {
    for (const [c, m, h, k, st] of [[7, 70, 9, 3, 1], [16, 130, 11, 5, 2]]) {
      const p = (k - 1) / 2;
      const { g, feeds } = oneNode('FusedDwPw', [randT([1, c, h, h], 1), randT([c, 1, k, k], 2), randT([c], 3), randT([m, c, 1, 1], 4), randT([m], 5)],
        { strides: [st, st], pads: [p, p, p, p], dw_activation: 'relu', activation: 'hard_swish' });
      await expectMatches(g, feeds, both);
    }
  });

  it('Gemm: transposes, alpha/beta, bias broadcast, GEMV and tiled forms, epilogue', () => prop(fc.asyncProperty(
    fc.record({ m: fc.constantFrom(1, 2, 5, 33), k: fc.integer({ min: 1, max: 70 }), n: fc.integer({ min: 1, max: 70 }), ta: fc.boolean(), tb: fc.boolean(),
      bias: fc.constantFrom('none', 'row', 'full'), res: fc.boolean(), seed: fc.nat() }),
    async (c) => {
      const a = randT(c.ta ? [c.k, c.m] : [c.m, c.k], c.seed), b = randT(c.tb ? [c.n, c.k] : [c.k, c.n], c.seed + 1);
      const bias = c.bias === 'row' ? randT([c.n], c.seed + 2) : c.bias === 'full' ? randT([c.m, c.n], c.seed + 2) : undefined;
      const { g, feeds } = oneNode('Gemm', [a, b, bias, c.res ? randT([c.m, c.n], c.seed + 3) : undefined],
        { transA: c.ta ? 1 : 0, transB: c.tb ? 1 : 0, alpha: 0.5, beta: 2, activation: 'tanh' }, [0, 3]);
      await expectMatches(g, feeds);
    })));

  it('Gemm: a constant weight over the binding limit is split into column blocks', async () => {
    for (const tb of [0, 1]) {
      const { g, feeds } = oneNode('Gemm', [randT([3, 20], 1), randT(tb ? [30, 20] : [20, 30], 2), randT([30], 3)], { transB: tb, activation: 'relu' });
      const opts = { opt: 'O0' as const, wgsl: { limits: { maxStorageBufferBindingSize: 1024 } } };
      expect((await compile(g, 'wgsl', opts as never)).stats.kernels).toBeGreaterThan(2);
      await expectMatches(g, feeds, [opts as never]);
    }
  });

  it('MatMul: batched with broadcasting and 1-D operands', async () => {
    for (const [a, b] of [[[2, 3, 5, 7], [7, 4]], [[5], [3, 5, 6]], [[2, 1, 4, 3], [1, 3, 3, 2]], [[40, 20], [20, 3]]]) {
      const { g, feeds } = oneNode('MatMul', [randT(a, 1), randT(b, 2)], {}, [0, 1]);
      await expectMatches(g, feeds);
    }
  });

  it('MaxPool / AveragePool: pads, strides, dilations, ceil_mode, count_include_pad', () => prop(fc.asyncProperty(
    fc.record({ max: fc.boolean(), c: fc.integer({ min: 1, max: 5 }), h: fc.integer({ min: 3, max: 12 }), k: fc.integer({ min: 1, max: 3 }), s: fc.integer({ min: 1, max: 3 }),
      p: fc.integer({ min: 0, max: 1 }), ceil: fc.integer({ min: 0, max: 1 }), inc: fc.integer({ min: 0, max: 1 }), seed: fc.nat() }),
    async (c) => {
      const p = Math.min(c.p, Math.floor(c.k / 2));
      const attrs: Record<string, number | number[]> = { kernel_shape: [c.k, c.k], strides: [c.s, c.s], pads: [p, p, p, p], ceil_mode: c.ceil };
      if (!c.max) attrs.count_include_pad = c.inc;
      const { g, feeds } = oneNode(c.max ? 'MaxPool' : 'AveragePool', [randT([1, c.c, c.h, c.h + 2], c.seed)], attrs);
      await expectMatches(g, feeds, both);
    })));

  it('GlobalAveragePool / GlobalMaxPool / ReduceMean', async () => {
    for (const op of ['GlobalAveragePool', 'GlobalMaxPool']) {
      const { g, feeds } = oneNode(op, [randT([2, 7, 13, 11], 5)], {});
      await expectMatches(g, feeds, both);
    }
    for (const [axes, keepdims] of [[[2, 3], 1], [[1], 0], [[0, 2], 1], [[], 0]] as [number[], number][]) {
      const { g, feeds } = oneNode('ReduceMean', [randT([2, 5, 6, 7], 6)], { axes, keepdims });
      await expectMatches(g, feeds);
    }
  });

  it('elementwise: broadcast binary ops and unary activations', () => prop(fc.asyncProperty(
    fc.record({ op: fc.constantFrom('Add', 'Sub', 'Mul', 'Div', 'Max', 'PRelu'), shape: fc.constantFrom<number[]>([2, 3, 4, 5], [1, 8, 3, 3], [6, 7]),
      bmask: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }), drop: fc.integer({ min: 0, max: 2 }), seed: fc.nat() }),
    async (c) => {
      let bshape = c.shape.map((d, i) => (c.bmask[i] ? 1 : d)).slice(c.op === 'PRelu' ? 0 : Math.min(c.drop, c.shape.length - 1));
      if (c.op === 'PRelu') bshape = bshape.slice(1);
      let b = randT(bshape, c.seed + 1);
      if (c.op === 'Div') b = tensor('f32', bshape, (b.data as Float32Array).map((v) => v + (v >= 0 ? 0.5 : -0.5)));
      const { g, feeds } = oneNode(c.op, [randT(c.shape, c.seed), b], {}, [0, 1]);
      await expectMatches(g, feeds);
    })));

  it('unary ops: every activation and math op', async () => {
    const x = tensor('f32', [3, 50], Float32Array.from({ length: 150 }, (_, i) => (i - 75) / 7));
    const ops: [string, Record<string, number | string>][] = [['Relu', {}], ['Sigmoid', {}], ['Tanh', {}], ['LeakyRelu', { alpha: 0.2 }], ['Clip', { min: -1, max: 2 }],
      ['HardSigmoid', {}], ['HardSwish', {}], ['Gelu', {}], ['Gelu', { approximate: 'tanh' }], ['Erf', {}], ['Neg', {}], ['Abs', {}], ['Exp', {}], ['Floor', {}], ['Round', {}]];
    for (const [op, attrs] of ops) {
      const { g, feeds } = oneNode(op, [x], attrs);
      await expectMatches(g, feeds);
    }
  });

  it('BatchNormalization, Softmax, LayerNormalization, LRN', async () => {
    const C = 6;
    const bn = oneNode('BatchNormalization', [randT([2, C, 5, 4], 1), randT([C], 2), randT([C], 3), randT([C], 4), tensor('f32', [C], Float32Array.from({ length: C }, (_, i) => 0.5 + i))], { epsilon: 1e-3 });
    await expectMatches(bn.g, bn.feeds, both);
    for (const axis of [-1, 1]) {
      const sm = oneNode('Softmax', [randT([3, 10, 4], 5)], { axis });
      await expectMatches(sm.g, sm.feeds);
    }
    const ln = oneNode('LayerNormalization', [randT([2, 5, 12], 6), randT([12], 7), randT([12], 8)], { axis: -1 });
    await expectMatches(ln.g, ln.feeds);
    const lrn = oneNode('LRN', [randT([1, 9, 4, 5], 9)], { size: 5, alpha: 1e-2, beta: 0.75, bias: 2 });
    await expectMatches(lrn.g, lrn.feeds, both);
  });

  it('movement: Concat, Split, Slice, Transpose, Pad (3 modes), Gather, Expand, Flatten, Resize (nearest)', async () => {
    const x = randT([2, 3, 4, 5], 1);
    const cases: [string, (ReturnType<typeof randT> | undefined)[], Record<string, number | string | number[]>, number[]][] = [
      ['Concat', [x, randT([2, 2, 4, 5], 2), randT([2, 1, 4, 5], 3)], { axis: 1 }, [0, 1, 2]],
      ['Concat', [x, randT([2, 3, 4, 2], 2)], { axis: -1 }, [0, 1]],
      ['Split', [x], { axis: 3, split: [2, 3] }, [0]],
      ['Slice', [x], { starts: [1, -1, 4], ends: [3, -100, 0], axes: [1, 2, 3], steps: [1, -2, -1] }, [0]],
      ['Transpose', [x], { perm: [0, 2, 3, 1] }, [0]],
      ['Pad', [x], { pads: [0, 1, 2, 0, 0, 0, 1, 3], mode: 'constant', value: 1.5 }, [0]],
      ['Pad', [x], { pads: [0, 0, 2, 3, 0, 0, 1, 2], mode: 'reflect' }, [0]],
      ['Pad', [x], { pads: [0, 0, 2, 3, 0, 0, 1, 2], mode: 'edge' }, [0]],
      ['Gather', [x, tensor('i64', [2, 2], BigInt64Array.from([0n, -1n, 2n, 1n]))], { axis: 2 }, [0]],
      ['Expand', [randT([3, 1, 5], 4)], { shape: [2, 3, 4, 5] }, [0]],
      ['Flatten', [x], { axis: 1 }, [0]],
      ['Resize', [x], { scales: [1, 1, 2, 1.5], mode: 'nearest' }, [0]],
      ['Resize', [x], { sizes: [2, 3, 7, 3], mode: 'nearest', coordinate_transformation_mode: 'align_corners', nearest_mode: 'round_prefer_ceil' }, [0]],
      ['Resize', [x], { scales: [1, 1, 3, 2], mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' }, [0]],
    ];
    for (const [op, ins, attrs, live] of cases) {
      const { g, feeds } = oneNode(op, ins, attrs, live);
      await expectMatches(g, feeds);
    }
  });
});

describe('wgsl limits', () => {
  it("the adapter's own limits (GPUSupportedLimits) can be passed to compile, and the shaders follow them", async () => {
    const { gpuContext } = await import('../runtime/webgpu/index.js');
    const { adapter } = await gpuContext();
    // a conv with a residual, then a pool and a softmax: GEMM, one-thread-per-element and row kernels
    const g = new Graph('limits');
    const x = g.addInput('x', { dtype: 'f32', shape: [1, 8, 12, 12] });
    const r = g.addInput('r', { dtype: 'f32', shape: [1, 70, 12, 12] });
    const y = g.add('Conv', [x, g.addConstant('w', randT([70, 8, 3, 3], 2)), '', r], { pads: [1, 1, 1, 1], activation: 'relu' });
    const p = g.add('MaxPool', [y], { kernel_shape: [2, 2], strides: [2, 2] });
    g.setOutputs([g.add('Softmax', [g.add('GlobalAveragePool', [p])], { axis: 1 })]);
    const feeds = { x: randT([1, 8, 12, 12], 1), r: randT([1, 70, 12, 12], 3) };
    const narrow = { maxComputeInvocationsPerWorkgroup: 32, maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize };
    for (const limits of [adapter.limits, narrow]) {
      const c = await compile(g, 'wgsl', { opt: 'O0', wgsl: { limits } } as never);
      const { decodeArtifact } = await import('../runtime/artifact.js');
      const plan = decodeArtifact(c.save()).header.plan as { limits: { maxComputeInvocationsPerWorkgroup: number } };
      expect(plan.limits.maxComputeInvocationsPerWorkgroup).toBeLessThanOrEqual(limits.maxComputeInvocationsPerWorkgroup);
      await expectMatches(g, feeds, [{ opt: 'O0', wgsl: { limits } } as never]);
    }
  });
});

describe('wgsl errors', () => {
  it('a node without a WGSL kernel (QuantizeLinear in f16 precision) is UNSUPPORTED, naming the node', async () => {
    const { g } = oneNode('QuantizeLinear', [randT([1, 2, 3, 3], 1), tensor('f32', [], [0.1])], { precision: 'f16' });
    await expect(compile(g, 'wgsl', { opt: 'O0' })).rejects.toMatchObject({ code: 'UNSUPPORTED', node: 'n0' });
  });

  it('a kernel over the limits it is generated for is TOO_LARGE, naming the kernel', async () => {
    const { g } = oneNode('Conv', [randT([1, 4, 8, 8], 1), randT([8, 4, 3, 3], 2)], {});
    const err = await compile(g, 'wgsl', { opt: 'O0', wgsl: { limits: { maxComputeWorkgroupStorageSize: 1024 } } } as never).catch((e) => e);
    expect(err).toBeInstanceOf(CnncError);
    expect(err.code).toBe('TOO_LARGE');
    expect(err.message).toContain('n0');
  });
});
