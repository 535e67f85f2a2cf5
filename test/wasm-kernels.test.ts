/**
 * Every wasm kernel against the reference kernel (the interpreter on a one-node graph), over
 * property-generated shapes: strides, pads, dilations, groups, channel counts that are not a
 * multiple of 4, 1×1 and 7×7 kernels, depthwise, FusedDwPw, pools, Gemm, elementwise with
 * broadcasting and fused epilogues. f32 tolerance: 1e-4 relative to the largest |reference|.
 * Each case runs three times: at -O0 (NCHW graph, kernels on channels-last copies), with the wasm
 * pipeline's defaults (NHWC layout pass, fusion), and with another conv tile and loop order; each
 * artifact on both of its module builds, SIMD128 and relaxed SIMD (`f32x4.relaxed_madd`: FMA only
 * changes rounding). Node 20 keeps relaxed SIMD behind a V8 flag, which this file sets at start.
 */
import * as v8 from 'node:v8';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compile } from '../index.js';
import { Graph } from '../ir/graph.js';
import { interpret } from '../ir/interpreter.js';
import type { AttrValue } from '../ir/op.js';
import { decodeArtifact } from '../runtime/artifact.js';
import { tensor, type Tensor } from '../runtime/tensor.js';
import { relaxedSimdSupported } from '../runtime/wasm/features.js';
import { WasmSession } from '../runtime/wasm/index.js';
import { specialMismatch } from './gpu/common.js';

// Node 20: relaxed SIMD behind --experimental-wasm-relaxed-simd (set before any module compiles)
if (!relaxedSimdSupported()) v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
const BUILDS = ['simd128', 'relaxed'] as const;

const F32_TOL = 1e-4;
const RUNS = 12;

function values(n: number, seed: number): Float32Array {
  let s = seed * 2654435761 >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}
const randT = (shape: number[], seed: number) => tensor('f32', shape, values(shape.reduce((a, b) => a * b, 1), seed));

/** Max |a − b| / max |a| over the outputs. */
function relErr(ref: Record<string, Tensor>, got: Record<string, Tensor>): number {
  let mx = 0, err = 0;
  for (const k of Object.keys(ref)) {
    const a = ref[k].data as Float32Array, b = got[k].data as Float32Array;
    expect(got[k].shape).toEqual(ref[k].shape);
    for (let i = 0; i < a.length; i++) { mx = Math.max(mx, Math.abs(a[i])); err = Math.max(err, Math.abs(a[i] - b[i])); }
  }
  return mx === 0 ? err : err / mx;
}

/** One node: graph inputs are the tensors named in `live`, the rest constants. */
function oneNode(op: string, ins: (Tensor | undefined)[], attrs: Record<string, AttrValue>, live = [0]): { g: Graph; feeds: Record<string, Tensor> } {
  const g = new Graph('t');
  const feeds: Record<string, Tensor> = {};
  const names = ins.map((t, i) => {
    if (!t) return '';
    if (live.includes(i)) { feeds[`x${i}`] = t; return g.addInput(`x${i}`, { dtype: 'f32', shape: t.shape }); }
    return g.addConstant(`c${i}`, t);
  });
  g.setOutputs([g.add(op, names, attrs, { name: 'n0' })]);
  return { g, feeds };
}

async function expectMatches(g: Graph, feeds: Record<string, Tensor>): Promise<void> {
  const ref = interpret(g, feeds);
  // -O0 (NCHW graph), the defaults (NHWC pipeline), and another conv tile with the weight-stationary order
  const other = { wasm: { tile: { P: 4, V: 3, order: 'weights' } } } as Parameters<typeof compile>[2];
  for (const opts of [{ opt: 'O0' as const }, {}, other]) {
    const a = decodeArtifact((await compile(g, 'wasm', opts)).save());
    for (const simd of BUILDS) {
      const s = await WasmSession.create(a, { simd });
      expect(s.build).toBe(simd);
      const err = relErr(ref, await s.run(feeds));
      expect(err, `relative error with ${JSON.stringify(opts)}, ${simd} build`).toBeLessThan(F32_TOL);
    }
  }
}

const ACTS = ['', 'relu', 'leaky_relu', 'clip', 'sigmoid', 'hard_sigmoid', 'hard_swish', 'silu', 'gelu', 'gelu_tanh', 'tanh'] as const;
const actAttrs = (a: string) => ({ activation: a, act_alpha: a === 'clip' ? -0.5 : a === 'hard_sigmoid' ? 0.2 : 0.1, act_beta: a === 'clip' ? 0.7 : a === 'hard_sigmoid' ? 0.5 : 0 });

/** Conv geometry whose output is at least 1×1. */
const convCase = fc.record({
  N: fc.integer({ min: 1, max: 2 }),
  group: fc.constantFrom(1, 1, 2, 3),
  cg: fc.integer({ min: 1, max: 7 }),
  mg: fc.integer({ min: 1, max: 27 }), // past 2 blocks of the 8- and 12-channel tiles, with a partial one
  k: fc.constantFrom(1, 2, 3, 5, 7),
  s: fc.integer({ min: 1, max: 3 }),
  d: fc.integer({ min: 1, max: 2 }),
  p: fc.integer({ min: 0, max: 3 }),
  h: fc.integer({ min: 1, max: 10 }),
  w: fc.integer({ min: 1, max: 13 }),
  bias: fc.boolean(),
  act: fc.constantFrom(...ACTS),
  seed: fc.integer({ min: 1, max: 1000 }),
}).filter((c) => c.p < c.k * c.d && c.h + 2 * c.p >= (c.k - 1) * c.d + 1 && c.w + 2 * c.p >= (c.k - 1) * c.d + 1);

describe('wasm Conv kernel vs reference', () => {
  it('dense and grouped convs: strides, pads, dilations, odd channel counts, 1×1 to 7×7, epilogues', async () => {
    await fc.assert(fc.asyncProperty(convCase, async (c) => {
      const C = c.cg * c.group, M = c.mg * c.group;
      const x = randT([c.N, C, c.h, c.w], c.seed), W = randT([M, c.cg, c.k, c.k], c.seed + 1);
      const b = c.bias ? randT([M], c.seed + 2) : undefined;
      const { g, feeds } = oneNode('Conv', [x, W, b], {
        group: c.group, strides: [c.s, c.s], dilations: [c.d, c.d], pads: [c.p, c.p, c.p, c.p], ...actAttrs(c.act),
      });
      await expectMatches(g, feeds);
    }), { numRuns: RUNS * 2, seed: 42 });
  });

  it('depthwise convs (channels vectorised, not a multiple of 4) with a residual', async () => {
    await fc.assert(fc.asyncProperty(convCase, fc.integer({ min: 1, max: 21 }), async (c, C) => {
      const x = randT([1, C, c.h, c.w], c.seed), W = randT([C, 1, c.k, c.k], c.seed + 1);
      const probe = oneNode('Conv', [x, W], { group: C, strides: [c.s, c.s], dilations: [c.d, c.d], pads: [c.p, c.p, c.p, c.p] });
      const outShape = [...probe.g.type(probe.g.outputs[0]).shape];
      const r = randT(outShape, c.seed + 3);
      const { g, feeds } = oneNode('Conv', [x, W, randT([C], c.seed + 2), r], {
        group: C, strides: [c.s, c.s], dilations: [c.d, c.d], pads: [c.p, c.p, c.p, c.p], ...actAttrs(c.act),
      }, [0, 3]);
      await expectMatches(g, feeds);
    }), { numRuns: RUNS, seed: 7 });
  });

  it('asymmetric pads and 1-D convs', async () => {
    const x = randT([1, 5, 8, 9], 3), W = randT([6, 5, 3, 2], 4);
    await expectMatches(...Object.values(oneNode('Conv', [x, W], { pads: [0, 1, 2, 0], strides: [2, 1] })) as [Graph, Record<string, Tensor>]);
    const x1 = randT([1, 3, 17], 5), W1 = randT([9, 3, 5], 6);
    await expectMatches(...Object.values(oneNode('Conv', [x1, W1], { pads: [2, 1], strides: [2] })) as [Graph, Record<string, Tensor>]);
  });
});

describe('wasm FusedDwPw kernel vs reference', () => {
  it('depthwise + epilogue + 1×1 + epilogue (+ residual), row by row, batch 1 to 3', async () => {
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 1, max: 19 }), fc.integer({ min: 1, max: 19 }), fc.constantFrom(3, 5), fc.integer({ min: 1, max: 2 }),
      fc.integer({ min: 3, max: 11 }), fc.constantFrom(...ACTS), fc.boolean(), fc.integer({ min: 1, max: 999 }), fc.integer({ min: 1, max: 3 }),
      async (C, M, k, s, h, act, withR, seed, N) => {
        const p = (k - 1) / 2;
        const attrs = { strides: [s, s], pads: [p, p, p, p], dw_activation: 'clip', dw_alpha: 0, dw_beta: 6, ...actAttrs(act), layout: 'NCHW' };
        const ins = [randT([N, C, h, h + 1], seed), randT([C, 1, k, k], seed + 1), randT([C], seed + 2), randT([M, C, 1, 1], seed + 3), randT([M], seed + 4)];
        const probe = oneNode('FusedDwPw', ins, attrs);
        const r = withR ? randT([...probe.g.type(probe.g.outputs[0]).shape], seed + 5) : undefined;
        const { g, feeds } = oneNode('FusedDwPw', [...ins, r], attrs, [0, 5]);
        await expectMatches(g, feeds);
      }), { numRuns: RUNS, seed: 11 });
  });
});

describe('wasm pooling kernels vs reference', () => {
  it('MaxPool / AveragePool: pads, strides, dilations, ceil_mode, count_include_pad, batch 1 and 2', async () => {
    await fc.assert(fc.asyncProperty(
      fc.constantFrom('MaxPool', 'AveragePool'), fc.integer({ min: 1, max: 13 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 0, max: 1 }), fc.integer({ min: 0, max: 1 }), fc.integer({ min: 0, max: 1 }), fc.integer({ min: 4, max: 12 }), fc.integer({ min: 1, max: 99 }),
      fc.integer({ min: 1, max: 2 }),
      async (op, C, k, s, p, ceil, cip, h, seed, N) => {
        const pad = Math.min(p, k - 1);
        const attrs: Record<string, AttrValue> = { kernel_shape: [k, k], strides: [s, s], pads: [pad, pad, pad, pad], ceil_mode: ceil };
        if (op === 'AveragePool') attrs.count_include_pad = cip;
        else if (k > 1 && 2 * (k - 1) + 1 <= h) attrs.dilations = [1 + cip, 1];
        const { g, feeds } = oneNode(op, [randT([N, C, h, h + 2], seed)], attrs);
        await expectMatches(g, feeds);
      }), { numRuns: RUNS * 2, seed: 5 });
  });

  it('GlobalAveragePool / GlobalMaxPool, batch 1–3, on the SIMD kernel (one function per image at batch > 1)', async () => {
    for (const op of ['GlobalAveragePool', 'GlobalMaxPool']) {
      for (const [N, C] of [[1, 1], [1, 6], [1, 13], [2, 6], [3, 37], [2, 1]]) {
        const { g, feeds } = oneNode(op, [randT([N, C, 5, 7], C + N)], {});
        await expectMatches(g, feeds);
        const plan = decodeArtifact((await compile(g, 'wasm')).save()).header.plan as { steps: { fn: string }[] };
        const fns = plan.steps.map((st) => st.fn);
        expect(fns.filter((f) => f.startsWith(`global${op === 'GlobalAveragePool' ? 'avg' : 'max'}pool`)), `${op} N=${N} C=${C}: ${fns}`).toHaveLength(1);
        expect(fns.filter((f) => f.startsWith('reduce')), `${op} N=${N} C=${C}: no reduce fallback`).toEqual([]);
      }
    }
  });
});

describe('wasm Gemm / MatMul kernels vs reference', () => {
  it('Gemm on one row (the vector × matrix kernel, gemv): K and N tails, every C kind incl. a live residual, special values, 1–3 threads', async () => {
    for (const [K, N, cKind, act] of [[1, 1, 'none', ''], [3, 5, 'vec', 'relu'], [4, 4, 'full', 'silu'], [37, 23, 'live', 'clip'], [512, 1000, 'vec', ''], [64, 7, 'row', 'sigmoid'], [20, 9, 'vec', 'relu'], [5, 12, 'none', '']] as const) {
      const B = randT([N, K], K + N), C = cKind === 'none' ? undefined : randT(cKind === 'vec' ? [N] : [1, N], K * N);
      const { g, feeds } = oneNode('Gemm', [randT([1, K], K), B, C], { transB: 1, alpha: 0.5, beta: cKind === 'live' ? 1 : 2, ...actAttrs(act) }, cKind === 'live' ? [0, 2] : [0]);
      await expectMatches(g, feeds);
      const x = feeds.x0.data as Float32Array;
      [NaN, Infinity, -3e38, -0, 1e-40].forEach((v, i) => { if (i < K) x[(i * 7) % K] = v; });
      const want = interpret(g, feeds).n0;
      const a = decodeArtifact((await compile(g, 'wasm')).save());
      const fns = (a.header.plan as { steps: { fn: string }[] }).steps.map((st) => st.fn);
      expect(fns.filter((f) => f.startsWith('gemv')), `K ${K} N ${N} C ${cKind}: ${fns}`).toHaveLength(1);
      for (const threads of [1, 2, 3]) {
        const sess = await WasmSession.create(a, { threads, minParallelFlops: 0 });
        const got = (await sess.run(feeds)).n0;
        sess.stopThreads();
        expect(specialMismatch(got, want, F32_TOL), `K ${K} N ${N} C ${cKind} threads ${threads}`).toBeUndefined();
      }
    }
  });

  it('Gemm: transB, alpha, beta, bias shapes, epilogues', async () => {
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 37 }), fc.integer({ min: 1, max: 23 }), fc.integer({ min: 0, max: 1 }),
      fc.constantFrom(1, 0.5), fc.constantFrom(1, 2), fc.constantFrom('none', 'vec', 'row', 'full'), fc.constantFrom(...ACTS), fc.integer({ min: 1, max: 99 }),
      async (rows, K, N, transB, alpha, beta, cKind, act, seed) => {
        const B = randT(transB ? [N, K] : [K, N], seed + 1);
        const C = cKind === 'none' ? undefined : randT(cKind === 'vec' ? [N] : cKind === 'row' ? [1, N] : [rows, N], seed + 2);
        const { g, feeds } = oneNode('Gemm', [randT([rows, K], seed), B, C], { transB, alpha, beta, ...actAttrs(act) });
        await expectMatches(g, feeds);
      }), { numRuns: RUNS, seed: 3 });
  });

  it('MatMul with a constant B', async () => {
    const { g, feeds } = oneNode('MatMul', [randT([3, 10], 1), randT([10, 7], 2)], {});
    await expectMatches(g, feeds);
  });
});

describe('wasm elementwise kernels vs reference', () => {
  const shapes = fc.constantFrom<number[][]>(
    [[1, 6, 5, 7], [1, 6, 5, 7]], [[1, 6, 5, 7], [1, 6, 1, 1]], [[1, 6, 5, 7], [6, 1, 1]], [[1, 6, 5, 7], [7]],
    [[1, 6, 5, 7], []], [[2, 3, 4], [3, 1]], [[1, 9], [1, 9]], [[1, 5, 1, 1], [1, 5, 3, 3]],
  );
  it('binary ops with broadcasting (both operands live or one constant)', async () => {
    await fc.assert(fc.asyncProperty(shapes, fc.constantFrom('Add', 'Sub', 'Mul', 'Div', 'Max', 'Min'), fc.boolean(), fc.integer({ min: 1, max: 99 }),
      async ([a, b], op, bothLive, seed) => {
        const B = randT(b, seed + 1);
        if (op === 'Div') (B.data as Float32Array).forEach((v, i, arr) => { arr[i] = v >= 0 ? v + 0.5 : v - 0.5; });
        const { g, feeds } = oneNode(op, [randT(a, seed), B], {}, bothLive ? [0, 1] : [0]);
        await expectMatches(g, feeds);
      }), { numRuns: RUNS * 2, seed: 9 });
  });

  it('unary activations and math', async () => {
    const cases: [string, Record<string, AttrValue>][] = [
      ['Relu', {}], ['Sigmoid', {}], ['Tanh', {}], ['LeakyRelu', { alpha: 0.2 }], ['Clip', { min: -0.3, max: 0.4 }], ['HardSigmoid', {}],
      ['HardSwish', {}], ['Gelu', {}], ['Erf', {}], ['Exp', {}], ['Neg', {}], ['Abs', {}], ['Floor', {}],
    ];
    for (const [op, attrs] of cases) {
      const x = randT([1, 5, 3, 7], op.length);
      (x.data as Float32Array).forEach((v, i, arr) => { arr[i] = v * 6; });
      const { g, feeds } = oneNode(op, [x], attrs);
      await expectMatches(g, feeds);
    }
  });

  it('BatchNormalization (standalone) and a conv → BN → relu chain', async () => {
    const C = 7;
    const pos = randT([C], 4); (pos.data as Float32Array).forEach((v, i, arr) => { arr[i] = Math.abs(v) + 0.5; });
    const { g, feeds } = oneNode('BatchNormalization', [randT([1, C, 4, 5], 1), randT([C], 2), randT([C], 3), randT([C], 5), pos], {});
    await expectMatches(g, feeds);
    const g2 = new Graph('chain');
    g2.addInput('x', { dtype: 'f32', shape: [1, 3, 9, 9] });
    const y = g2.add('Conv', ['x', g2.addConstant('w', randT([C, 3, 3, 3], 6))], { pads: [1, 1, 1, 1] });
    const bn = g2.add('BatchNormalization', [y, ...[randT([C], 7), randT([C], 8), randT([C], 9), pos].map((t, i) => g2.addConstant(`p${i}`, t))], {});
    g2.setOutputs([g2.add('Relu', [bn])]);
    await expectMatches(g2, { x: randT([1, 3, 9, 9], 10) });
  });
});

describe('wasm data movement kernels vs reference', () => {
  it('Concat of conv outputs (written in place) and of other values (copied)', async () => {
    const g = new Graph('cat');
    g.addInput('x', { dtype: 'f32', shape: [1, 5, 6, 6] });
    const a = g.add('Conv', ['x', g.addConstant('wa', randT([3, 5, 1, 1], 1))], { activation: 'relu' });
    const b = g.add('Conv', ['x', g.addConstant('wb', randT([6, 5, 3, 3], 2))], { pads: [1, 1, 1, 1] });
    const c = g.add('Sigmoid', ['x']);
    const cat1 = g.add('Concat', [a, b], { axis: 1 });
    const cat2 = g.add('Concat', [cat1, c], { axis: 1 });
    g.setOutputs([g.add('Concat', [cat2, cat2], { axis: 2 })]);
    await expectMatches(g, { x: randT([1, 5, 6, 6], 3) });
  });

  it('Transpose, Reshape, Flatten, Pad, Softmax', async () => {
    const g = new Graph('moves');
    g.addInput('x', { dtype: 'f32', shape: [1, 4, 3, 5] });
    const t = g.add('Transpose', ['x'], { perm: [0, 2, 3, 1] });
    const p = g.add('Pad', [t], { pads: [0, 1, 0, 2, 0, 0, 1, 0], value: 0.5 });
    const f = g.add('Flatten', [p], { axis: 1 });
    g.setOutputs([g.add('Softmax', [f], { axis: -1 })]);
    await expectMatches(g, { x: randT([1, 4, 3, 5], 1) });
  });

  it('Resize nearest (coordinate modes, rounding modes, up and down) and LayerNormalization', async () => {
    const modes: Record<string, AttrValue>[] = [
      { scales: [1, 1, 2, 2], coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' },
      { scales: [1, 1, 1.5, 0.5], coordinate_transformation_mode: 'half_pixel', nearest_mode: 'round_prefer_floor' },
      { sizes: [1, 3, 7, 3], coordinate_transformation_mode: 'align_corners', nearest_mode: 'ceil' },
    ];
    for (const attrs of modes) {
      const { g, feeds } = oneNode('Resize', [randT([1, 3, 4, 5], 2)], { mode: 'nearest', ...attrs });
      await expectMatches(g, feeds);
    }
    const ln = oneNode('LayerNormalization', [randT([2, 5, 7], 3), randT([7], 4), randT([7], 5)], { axis: -1, epsilon: 1e-5 });
    await expectMatches(ln.g, ln.feeds);
    const ln2 = oneNode('LayerNormalization', [randT([2, 5, 7], 6), randT([5, 1], 7)], { axis: 1 });
    await expectMatches(ln2.g, ln2.feeds);
  });

  it('Slice (negative indices, steps), Split, Expand, Tile', async () => {
    const x = randT([1, 6, 5, 7], 8);
    const cases: [string, Record<string, AttrValue>][] = [
      ['Slice', { starts: [1, -1, 0], ends: [5, -6, 100], axes: [1, 2, 3], steps: [2, -2, 3] }],
      ['Expand', { shape: [2, 1, 6, 5, 7] }],
      ['Tile', { repeats: [1, 2, 1, 2] }],
    ];
    for (const [op, attrs] of cases) {
      const { g, feeds } = oneNode(op, [x], attrs);
      await expectMatches(g, feeds);
    }
    const g = new Graph('split');
    g.addInput('x', { dtype: 'f32', shape: [1, 6, 5, 7] });
    const parts = g.addNode('Split', ['x'], { axis: 1, split: [1, 2, 3] });
    g.setOutputs(parts);
    await expectMatches(g, { x });
  });

  it('ConvTranspose with an epilogue', async () => {
    for (const [k, s, p] of [[2, 2, 0], [3, 2, 1], [3, 1, 1]]) {
      const { g, feeds } = oneNode('ConvTranspose', [randT([1, 5, 4, 5], k), randT([5, 6, k, k], s), randT([6], p)], { strides: [s, s], pads: [p, p, p, p], activation: 'relu' });
      await expectMatches(g, feeds);
    }
  });
});
