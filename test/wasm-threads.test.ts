/**
 * The threaded wasm runtime (runtime/wasm/threads.ts): conv, gemm and depthwise layers split by
 * output rows (or output-channel blocks), fused dw+pw blocks by bands of rows (each band its own
 * scratch row), elementwise kernels by rows or element chunks, pools by rows, global pools by
 * channel groups, grouped and batched convs by (part, row), int8 convs by runs of 12 pixels or by
 * rows (integer sums: equal to the reference bit for bit) — across 1, 2 and 3 threads on one
 * shared memory, each step cut into chunks that the threads claim as they come free. A split does
 * not change any sum's order, so threaded outputs must equal single-threaded ones bit for bit;
 * against the references: f32 tolerance 1e-4 relative to the largest |reference|. 3 threads make
 * uneven splits (units not a multiple of 3, steps with fewer units than threads). Kernel tests
 * split every splittable step (minParallelFlops 0) and check that the kinds under test did run split.
 */
import { existsSync } from 'node:fs';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { compile } from '../index.js';
import { loadOnnxFile } from '../frontends/onnx/import.js';
import { Graph } from '../ir/graph.js';
import { interpret } from '../ir/interpreter.js';
import { decodeArtifact, type Artifact } from '../runtime/artifact.js';
import { load } from '../runtime/index.js';
import { tensor, type Tensor } from '../runtime/tensor.js';
import { WasmSession } from '../runtime/wasm/index.js';
import { CHUNKS_PER_THREAD, chunksOf, MIN_PARALLEL_FLOPS, phasesOf, splitBounds } from '../runtime/wasm/threads.js';
import { drain, shareWord } from '../runtime/wasm/thread-worker.js';
import { f32File, relErr } from './golden.js';
import { CASES, build } from './int8-cases.js';

const F32_TOL = 1e-4;
const MODELS = '../shared/models';

const sessions: WasmSession[] = [];
afterEach(() => { for (const s of sessions.splice(0)) s.stopThreads(); });

async function session(a: Artifact, threads: number, minParallelFlops?: number): Promise<WasmSession> {
  const s = await WasmSession.create(a, { threads, minParallelFlops });
  sessions.push(s);
  expect(s.threads).toBe(threads);
  return s;
}

/** Runs `a` on 1, 2 and 3 threads: every output equal bit for bit; returns the 1-thread outputs (the first one's data). */
async function sameOnThreads(a: Artifact, feeds: Record<string, Tensor>, minParallelFlops?: number): Promise<Float32Array> {
  return (await allSameOnThreads(a, feeds, minParallelFlops))[a.header.outputs[0].name];
}

async function allSameOnThreads(a: Artifact, feeds: Record<string, Tensor>, minParallelFlops?: number): Promise<Record<string, Float32Array>> {
  const outs: Record<string, Tensor>[] = [];
  for (const t of [1, 2, 3]) outs.push(await (await session(a, t, minParallelFlops)).run(feeds));
  for (const name of Object.keys(outs[0])) {
    expect(Array.from(outs[1][name].data as Float32Array)).toEqual(Array.from(outs[0][name].data as Float32Array));
    expect(Array.from(outs[2][name].data as Float32Array)).toEqual(Array.from(outs[0][name].data as Float32Array));
  }
  return Object.fromEntries(Object.entries(outs[0]).map(([k, v]) => [k, v.data as Float32Array]));
}

/** The plan ops (`Conv (group 2)`, `Mul`...) of the steps that run split on `s`'s threads with minParallelFlops `min`. */
function splitOps(s: WasmSession, min: number): string[] {
  const op = new Map(s.plan.steps.map((st) => [st.fn, st.op]));
  return phasesOf(s.plan.steps, s.exports, min).filter((p) => !p.serial).map((p) => op.get(p.fn)!);
}

/**
 * Compiles `g`, runs it on 1, 2 and 3 threads with every splittable step split (outputs equal bit
 * for bit, and within tolerance of the reference), and checks that a step of each op in `split` ran split.
 */
async function checkSplit(g: Graph, feeds: Record<string, Tensor>, split: string[]): Promise<void> {
  const ref = interpret(g, feeds);
  const outs = await allSameOnThreads(decodeArtifact((await compile(g, 'wasm')).save()), feeds, 0);
  for (const name of g.outputs) expect(relErr(ref[name].data as Float32Array, outs[name]), name).toBeLessThan(F32_TOL);
  const ops = splitOps(sessions[sessions.length - 1], 0);
  for (const op of split) expect(ops, `a ${op} step runs split`).toContain(op);
}

function values(n: number, seed: number): Float32Array {
  let s = seed * 2654435761 >>> 0;
  return Float32Array.from({ length: n }, () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 31 - 1; });
}
const randT = (shape: number[], seed: number) => tensor('f32', shape, values(shape.reduce((p, q) => p * q, 1), seed));

describe('wasm threads: models', () => {
  for (const name of ['squeezenet1_1', 'mobilenet_v2', 'unet_small', 'efficientnet_b0']) {
    it.skipIf(!existsSync(`${MODELS}/${name}`))(`${name} runs alike on 1, 2 and 3 threads and matches PyTorch`, async () => {
      const c = await compile(loadOnnxFile(`${MODELS}/${name}/model.onnx`), 'wasm');
      const x = tensor('f32', c.inputs[0].shape, f32File(`${MODELS}/${name}/test_data_set_0/input_0.bin`));
      const y = await sameOnThreads(decodeArtifact(c.save()), { input: x });
      expect(relErr(f32File(`${MODELS}/${name}/test_data_set_0/output_0.bin`), y)).toBeLessThan(F32_TOL);
    });
  }

  it('load(bytes, { threads }) says how many threads run, and runs the layers on them', async () => {
    const c = await compile(loadOnnxFile(`${MODELS}/squeezenet1_1/model.onnx`), 'wasm');
    const bytes = Buffer.from(c.save()); // as readFileSync gives it: a Buffer, whose slice() is a view
    const s = await load(bytes, { threads: 2 });
    expect(s.threads).toBe(2);
    expect(bytes.equals(Buffer.from(c.save()))).toBe(true); // loading threaded leaves the caller's bytes alone
    expect(s.threadsNote).toBeUndefined();
    const x = tensor('f32', c.inputs[0].shape, f32File(`${MODELS}/squeezenet1_1/test_data_set_0/input_0.bin`));
    const y = (await s.run({ input: x })).output.data as Float32Array;
    expect(relErr(f32File(`${MODELS}/squeezenet1_1/test_data_set_0/output_0.bin`), y)).toBeLessThan(F32_TOL);
  });

  it('more threads than a session may hold is BAD_INPUT, not a thousand workers', async () => {
    const g = new Graph('t');
    g.addInput('x', { dtype: 'f32', shape: [1, 2] });
    g.setOutputs([g.add('Relu', ['x'])]);
    await expect(load((await compile(g, 'wasm')).save(), { threads: 1000 })).rejects.toThrow(/threads: 1000 asked for, at most 256/);
  });

  it('without SharedArrayBuffer: one thread, and the session says why', async () => {
    vi.stubGlobal('SharedArrayBuffer', undefined);
    try {
      const g = new Graph('t');
      g.addInput('x', { dtype: 'f32', shape: [1, 3, 6, 6] });
      g.setOutputs([g.add('Conv', ['x', g.addConstant('w', randT([5, 3, 3, 3], 1))], { pads: [1, 1, 1, 1] })]);
      const s = await load((await compile(g, 'wasm')).save(), { threads: 3 });
      expect(s.threads).toBe(1);
      expect(s.threadsNote).toMatch(/SharedArrayBuffer/);
      const x = randT([1, 3, 6, 6], 2);
      expect(relErr(interpret(g, { x })[g.outputs[0]].data as Float32Array, (await s.run({ x }))[g.outputs[0]].data as Float32Array)).toBeLessThan(F32_TOL);
    } finally {
      vi.unstubAllGlobals();
    }
  });
});

describe('wasm threads: kernels vs reference on 1, 2 and 3 threads', () => {
  it('dense, grouped and depthwise convs (row-split and weight-stationary), with epilogues', async () => {
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 40 }), fc.constantFrom(1, 3), fc.integer({ min: 1, max: 2 }),
      fc.integer({ min: 1, max: 11 }), fc.constantFrom(1, 2, 0), fc.integer({ min: 1, max: 999 }),
      async (C, M, k, s, h, groups, seed) => {
        const g = new Graph('t');
        g.addInput('x', { dtype: 'f32', shape: [1, C, h, h + 2] });
        const dw = groups === 0, group = dw ? C : groups === 2 && C % 2 === 0 && M % 2 === 0 ? 2 : 1, Mo = dw ? C : M;
        const w = g.addConstant('w', randT([Mo, C / group, k, k], seed));
        const p = (k - 1) / 2;
        g.setOutputs([g.add('Conv', ['x', w, g.addConstant('b', randT([Mo], seed + 1))], { group, strides: [s, s], pads: [p, p, p, p], activation: 'relu' })]);
        const x = randT([1, C, h, h + 2], seed + 2);
        const ref = interpret(g, { x })[g.outputs[0]].data as Float32Array;
        const y = await sameOnThreads(decodeArtifact((await compile(g, 'wasm')).save()), { x }, 0); // split even the smallest
        expect(relErr(ref, y)).toBeLessThan(F32_TOL);
        for (const st of sessions.splice(0)) st.stopThreads();
      }), { numRuns: 10, seed: 16 });
  });

  it('Gemm rows and a big weight-stationary conv (more channel blocks than threads, not a multiple of 3)', async () => {
    const g = new Graph('t');
    g.addInput('x', { dtype: 'f32', shape: [1, 64, 7, 7] });
    const y = g.add('Conv', ['x', g.addConstant('w', randT([200, 64, 3, 3], 3))], { pads: [1, 1, 1, 1] }); // 1.8 MB of weights: weight-stationary
    const f = g.add('Flatten', [g.add('GlobalAveragePool', [y])], { axis: 1 });
    g.setOutputs([g.add('Gemm', [f, g.addConstant('fc', randT([10, 200], 4)), g.addConstant('fb', randT([10], 5))], { transB: 1 })]);
    const x = randT([1, 64, 7, 7], 6);
    const ref = interpret(g, { x })[g.outputs[0]].data as Float32Array;
    expect(relErr(ref, await sameOnThreads(decodeArtifact((await compile(g, 'wasm')).save()), { x }, 0))).toBeLessThan(F32_TOL);
  });
});

describe('wasm threads: the newly split kinds vs reference on 1, 2 and 3 threads', () => {
  const conv = (g: Graph, x: string, C: number, M: number, seed: number, attrs = {}) =>
    g.add('Conv', [x, g.addConstant(`w${seed}`, randT([M, C, 3, 3], seed)), g.addConstant(`b${seed}`, randT([M], seed + 1))], { pads: [1, 1, 1, 1], ...attrs });

  it('FusedDwPw by bands of rows, each band its own scratch row (stride 1 and 2, residual, bands of 1-3 rows, a short last band, channel parts, batch 2)', async () => {
    // 100 rows: bands of 3 rows, a short last one; 7 rows and 150 channels: each band in 2 channel parts
    for (const [C, M, H, W, s, resid, N = 1] of [[6, 9, 5, 7, 1, false], [8, 20, 40, 9, 1, true], [5, 13, 40, 6, 2, false], [4, 4, 17, 3, 1, true], [7, 5, 1, 12, 1, false],
      [3, 6, 100, 3, 1, false], [5, 150, 7, 7, 1, true], [6, 150, 13, 5, 2, false], [5, 150, 7, 7, 1, true, 2], [5, 13, 40, 6, 2, false, 2]] as const) {
      const g = new Graph('t');
      g.addInput('x', { dtype: 'f32', shape: [N, C, H, W] });
      const OH = Math.floor((H - 1) / s) + 1, OW = Math.floor((W - 1) / s) + 1;
      const ins = [g.addConstant('wd', randT([C, 1, 3, 3], C)), g.addConstant('bd', randT([C], 2)), g.addConstant('wp', randT([M, C, 1, 1], M)), g.addConstant('bp', randT([M], 4))];
      if (resid) g.addInput('r', { dtype: 'f32', shape: [N, M, OH, OW] });
      g.setOutputs([g.add('FusedDwPw', ['x', ...ins, ...(resid ? ['r'] : [])], { pads: [1, 1, 1, 1], strides: [s, s], dw_activation: 'relu', activation: 'clip', act_alpha: -1, act_beta: 1 })]);
      const feeds: Record<string, Tensor> = { x: randT([N, C, H, W], H), ...(resid ? { r: randT([N, M, OH, OW], 5) } : {}) };
      await checkSplit(g, feeds, OH > 1 ? ['FusedDwPw (row by row)'] : []);
      for (const st of sessions.splice(0)) st.stopThreads();
    }
  });

  it('elementwise: broadcast rows (an SE-style Mul), flat chunks with a SIMD tail, a fused chain with two outputs', async () => {
    const g = new Graph('t');
    g.addInput('x', { dtype: 'f32', shape: [1, 3, 37, 41] }); // 4551 elements: 3 chunks, a 3-lane tail
    g.addInput('z', { dtype: 'f32', shape: [1, 16, 23, 29] });
    const c = conv(g, 'z', 16, 16, 7);
    const se = g.add('Sigmoid', [g.add('GlobalAveragePool', [c])]);
    const mul = g.add('Mul', [c, se]); // [1,16,23,29] · [1,16,1,1], channels-last: 667 rows of 16
    const sig = g.add('Sigmoid', ['x']);
    const t = g.add('Tanh', [g.add('Add', ['x', sig])]);
    g.setOutputs([mul, sig, g.add('Relu', [t]), t]);
    await checkSplit(g, { x: randT([1, 3, 37, 41], 8), z: randT([1, 16, 23, 29], 9) }, ['Mul', 'FusedElementwise']);
  });

  it('pools by rows, global pools by channel groups (channels not a multiple of 4 or 16; batch 2)', async () => {
    for (const C of [37, 70, 16]) {
      const g = new Graph('t');
      g.addInput('x', { dtype: 'f32', shape: [1, C, 19, 23] });
      const m = g.add('MaxPool', ['x'], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });
      const a = g.add('AveragePool', ['x'], { kernel_shape: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1], count_include_pad: 1 });
      g.setOutputs([m, a, g.add('GlobalAveragePool', [a]), g.add('GlobalMaxPool', ['x'])]);
      // 16 channels are one group of 16: a global pool over them has one unit and stays serial
      await checkSplit(g, { x: randT([1, C, 19, 23], C) }, ['MaxPool', 'AveragePool', ...(C > 16 ? ['GlobalAveragePool', 'GlobalMaxPool'] : [])]);
      for (const st of sessions.splice(0)) st.stopThreads();
    }
    // batch 2: each image's channel groups are units of one step (16 channels: one group per image, two units)
    for (const C of [16, 37]) {
      const g = new Graph('t');
      g.addInput('x', { dtype: 'f32', shape: [2, C, 9, 11] });
      g.setOutputs([g.add('GlobalAveragePool', ['x']), g.add('GlobalMaxPool', ['x'])]);
      await checkSplit(g, { x: randT([2, C, 9, 11], C + 1) }, ['GlobalAveragePool', 'GlobalMaxPool']);
      for (const st of sessions.splice(0)) st.stopThreads();
    }
  });

  it('grouped convs, batched depthwise convs, pointwise convs and Gemm re-cut into rows (a short last row, residual)', async () => {
    const g = new Graph('t');
    g.addInput('x', { dtype: 'f32', shape: [2, 8, 13, 13] });
    g.addInput('y', { dtype: 'f32', shape: [1, 12, 13, 13] });
    g.addInput('a', { dtype: 'f32', shape: [37, 20] });
    const g2 = conv(g, 'x', 4, 6, 10, { group: 2 });
    const dw = g.add('Conv', ['x', g.addConstant('wdw', randT([8, 1, 3, 3], 12))], { group: 8, pads: [1, 1, 1, 1] });
    const g4 = g.add('Conv', ['y', g.addConstant('w4', randT([8, 3, 1, 1], 13))], { group: 4 });
    const pw = g.add('Conv', ['y', g.addConstant('wpw', randT([12, 12, 1, 1], 14)), g.addConstant('bpw', randT([12], 15)), 'y'], { activation: 'relu' });
    // 169 pixels: 42 rows of one 4-pixel tile and a 1-pixel row, each in 3 ranges of the 21 channels' blocks (the last partial)
    const pwParts = g.add('Conv', ['y', g.addConstant('wpp', randT([21, 12, 1, 1], 21)), g.addConstant('bpp', randT([21], 22))]);
    const gemm = g.add('Gemm', ['a', g.addConstant('wg', randT([20, 30], 16)), g.addConstant('bg', randT([30], 17))]);
    g.setOutputs([g2, dw, g4, pw, pwParts, gemm]);
    const feeds = { x: randT([2, 8, 13, 13], 18), y: randT([1, 12, 13, 13], 19), a: randT([37, 20], 20) };
    await checkSplit(g, feeds, ['Conv (group 2)', 'Conv (group 4)', 'Conv (depthwise)', 'Conv', 'Gemm']);
  });
});

describe('wasm threads: int8 convs', () => {
  it('QConv (dense, depthwise) and QGemm split by units: bit-identical to the reference on 1, 2 and 3 threads; the widening step stays serial', async () => {
    const split = new Set<string>();
    for (const c of CASES) {
      const { g, x } = build(c, c.name.length * 31 + 7);
      const want = Array.from(interpret(g, { x })[g.outputs[0]].data as ArrayLike<number>);
      const got = await sameOnThreads(decodeArtifact((await compile(g, 'wasm')).save()), { x }, 0);
      expect(Array.from(got), c.name).toEqual(want);
      const s = sessions[sessions.length - 1];
      for (const op of splitOps(s, 0)) split.add(op);
      // batch 1: a serial widening step, then the conv; a batch: both per image in one unsplit step
      const steps = s.plan.steps.filter((st) => st.op.startsWith(c.op));
      expect(steps.length, c.name).toBe(c.x[0] === 1 || c.op === 'QGemm' ? 2 : 1);
    }
    expect([...split].sort()).toEqual(['QConv (int8 depthwise)', 'QConv (int8)', 'QGemm (int8)']);
  });
});

describe('wasm threads: splits', () => {
  const shares = (b: number[], w: number[]) => b.slice(1).map((e, t) => w.slice(b[t], e).reduce((x, y) => x + y, 0));

  it('splitBounds covers every unit once, in order, and cuts where the work (not the unit count) halves', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 1, maxLength: 60 }), fc.integer({ min: 1, max: 5 }), (w, T) => {
      for (const b of [splitBounds(w.length, T, w), splitBounds(w.length, T)]) {
        expect(b.length).toBe(T + 1);
        expect(b[0]).toBe(0);
        expect(b[T]).toBe(w.length);
        for (let t = 0; t < T; t++) expect(b[t + 1]).toBeGreaterThanOrEqual(b[t]);
      }
    }));
    // 12 rows of 4 pixels and a 1-pixel row on 3 threads: 16, 16, 17 pixels (by unit count: 5·4 = 20 on one)
    const w = [...new Array(12).fill(4), 1];
    expect(shares(splitBounds(13, 3, w), w)).toEqual([16, 16, 17]);
    expect(splitBounds(7, 2)).toEqual([0, 4, 7]);
    expect(splitBounds(96, 3)).toEqual([0, 32, 64, 96]);
  });

  it('a plan whose unit weights do not match the step is BAD_ARTIFACT', () => {
    const exports = { a_range: () => undefined, a_rows: new WebAssembly.Global({ value: 'i32', mutable: false }, 4) };
    expect(() => phasesOf([{ fn: 'a', unitWork: [1, 2, 3] }], exports)).toThrow(/3 unit weights for step 'a', which has 4 units/);
    expect(phasesOf([{ fn: 'a', unitWork: [1, 2, 3, 4] }], exports)).toEqual([{ fn: 'a', rows: 4, work: [1, 2, 3, 4] }]);
  });
});

describe('wasm threads: chunks', () => {
  it('chunksOf covers every unit once, in order, each thread\'s share the static split by work, cut into at most CHUNKS_PER_THREAD chunks, none empty', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 1, maxLength: 80 }), fc.integer({ min: 1, max: 5 }), fc.boolean(), (w, T, weighted) => {
      const p = { fn: 'f', rows: w.length, ...(weighted ? { work: w } : {}) };
      const { cuts, shares } = chunksOf(p, T);
      expect(cuts[0]).toBe(0);
      expect(cuts[cuts.length - 1]).toBe(w.length);
      for (let i = 1; i < cuts.length; i++) expect(cuts[i]).toBeGreaterThan(cuts[i - 1]);
      expect(shares).toHaveLength(T + 1);
      expect(shares[0]).toBe(0);
      expect(shares[T]).toBe(cuts.length - 1);
      const b = splitBounds(w.length, T, p.work);
      for (let t = 0; t < T; t++) {
        expect(shares[t + 1] - shares[t]).toBeLessThanOrEqual(CHUNKS_PER_THREAD);
        // a non-empty share starts and ends where the static split puts thread t
        if (shares[t + 1] > shares[t]) expect([cuts[shares[t]], cuts[shares[t + 1]]]).toEqual([b[t], b[t + 1]]);
      }
    }));
    expect(chunksOf({ fn: 'f', rows: 16 }, 2)).toEqual({ cuts: [0, 2, 4, 6, 8, 10, 12, 14, 16], shares: [0, 4, 8] });
    expect(chunksOf({ fn: 'f', rows: 3 }, 2)).toEqual({ cuts: [0, 1, 2, 3], shares: [0, 2, 3] });
  });

  /** A control block as the pool makes it: Int32 words, thread t's claim word (phase << 8 | front << 4 | back) at shareWord(t). */
  function control(phase: number, counts: number[]): Int32Array {
    const ctl = new Int32Array(new SharedArrayBuffer(shareWord(counts.length) * 4));
    counts.forEach((n, t) => { ctl[shareWord(t)] = (phase << 8) | n; });
    return ctl;
  }

  it('drain takes its own share from the front, then what is left of the others\' from the back, each chunk once, counts it done', () => {
    const ran: string[] = [];
    // phase 1: 5 chunks, thread 0's share chunks 0–2, thread 1's chunks 3–4
    const phases = [{ cuts: [0, 3, 5], shares: [0, 1, 2] }, { cuts: [0, 2, 4, 7, 8, 9], shares: [0, 3, 5] }];
    const fns = [(a: number, b: number) => ran.push(`p0 ${a}-${b}`), (a: number, b: number) => ran.push(`p1 ${a}-${b}`)];
    const ctl = control(1, [3, 2]);
    ctl[shareWord(0)] += 1 << 4; // thread 0 already took its first chunk (still under way)
    expect(drain(ctl, phases, fns, 1, 2)).toBeUndefined(); // thread 1
    expect(ran).toEqual(['p1 7-8', 'p1 8-9', 'p1 4-7', 'p1 2-4']);
    expect(ctl[1]).toBe(4); // DONE
    expect(ctl[shareWord(0)] & 0xff).toBe((1 << 4) | 1); // thread 0's share: front 1 = back 1, nothing left
    expect(drain(ctl, phases, fns, 0, 2)).toBeUndefined(); // exhausted: nothing more runs
    expect(ran.length).toBe(4);
    expect(drain(control(0x7fffff, [0, 0]), phases, fns, 0, 2)).toBeUndefined(); // before any phase is published
    expect(ran.length).toBe(4);
  });

  it('drain: a chunk that traps flags ERR and is returned; the chunks after it are claimed and counted but not run', () => {
    const ran: number[] = [];
    const boom = new Error('unreachable');
    const fns = [(a: number) => { ran.push(a); if (a === 1) throw boom; }];
    const ctl = control(0, [4]);
    expect(drain(ctl, [{ cuts: [0, 1, 2, 3, 4], shares: [0, 4] }], fns, 0, 1)).toBe(boom);
    expect(ran).toEqual([0, 1]);
    expect(ctl[3]).toBe(1); // ERR
    expect(ctl[1]).toBe(4); // every chunk counted: thread 0 does not wait forever
  });
});

describe('wasm threads: phases', () => {
  it('steps below the work threshold, or with one unit or no range, run serially and merge into one phase', () => {
    const rows = (n: number) => new WebAssembly.Global({ value: 'i32', mutable: false }, n);
    const range = () => undefined;
    const exports = { a_range: range, a_rows: rows(8), b_range: range, b_rows: rows(8), c_range: range, c_rows: rows(1), d: range, e_range: range, e_rows: rows(5) };
    const steps = [{ fn: 'a', flops: MIN_PARALLEL_FLOPS }, { fn: 'b', flops: MIN_PARALLEL_FLOPS - 1 }, { fn: 'c', flops: 1e9 }, { fn: 'd', flops: 1e9 }, { fn: 'e', flops: 1e9 }];
    expect(phasesOf(steps, exports)).toEqual([{ fn: 'a', rows: 8 }, { fn: 'b', serial: ['b', 'c', 'd'] }, { fn: 'e', rows: 5 }]);
    expect(phasesOf(steps, exports, 0).map((p) => p.fn)).toEqual(['a', 'b', 'c', 'e']);
  });
});
