/**
 * The threaded wasm runtime (runtime/wasm/threads.ts): conv, gemm and depthwise layers split by
 * output rows (or output-channel blocks) across 1, 2 and 3 threads on one shared memory. A row
 * split does not change any sum's order, so threaded outputs must equal single-threaded ones bit
 * for bit; against the references: f32 tolerance 1e-4 relative to the largest |reference|.
 * 3 threads make uneven splits (rows not a multiple of 3, layers with fewer rows than threads).
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
import { f32File, relErr } from './golden.js';

const F32_TOL = 1e-4;
const MODELS = '../shared/models';

const sessions: WasmSession[] = [];
afterEach(() => { for (const s of sessions.splice(0)) s.stopThreads(); });

async function session(a: Artifact, threads: number): Promise<WasmSession> {
  const s = await WasmSession.create(a, { threads });
  sessions.push(s);
  expect(s.threads).toBe(threads);
  return s;
}

/** Runs `a` on 1, 2 and 3 threads: outputs equal bit for bit; returns the 1-thread output. */
async function sameOnThreads(a: Artifact, feeds: Record<string, Tensor>): Promise<Float32Array> {
  const outs: Float32Array[] = [];
  for (const t of [1, 2, 3]) {
    const out = await (await session(a, t)).run(feeds);
    outs.push(out[Object.keys(out)[0]].data as Float32Array);
  }
  expect(Array.from(outs[1])).toEqual(Array.from(outs[0]));
  expect(Array.from(outs[2])).toEqual(Array.from(outs[0]));
  return outs[0];
}

function values(n: number, seed: number): Float32Array {
  let s = seed * 2654435761 >>> 0;
  return Float32Array.from({ length: n }, () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 31 - 1; });
}
const randT = (shape: number[], seed: number) => tensor('f32', shape, values(shape.reduce((p, q) => p * q, 1), seed));

describe('wasm threads: models', () => {
  for (const name of ['squeezenet1_1', 'mobilenet_v2', 'unet_small']) {
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
        const y = await sameOnThreads(decodeArtifact((await compile(g, 'wasm')).save()), { x });
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
    expect(relErr(ref, await sameOnThreads(decodeArtifact((await compile(g, 'wasm')).save()), { x }))).toBeLessThan(F32_TOL);
  });
});
