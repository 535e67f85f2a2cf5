/**
 * Golden tests of the CUDA kernels without a GPU: the standalone program (kernels.cu + main.cu,
 * unchanged) built with g++ against codegen/cuda/emu/cuda_emu.h, which runs every CUDA thread
 * as a coroutine (barriers included), compared with the reference interpreter.
 * Tolerances: f32 1e-4, f16 1e-2 of the output's max magnitude (and the same top-1 for classifiers).
 * The same comparisons on a real GPU are in test/gpu (npm run test:gpu).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildEmulatedProgram, emulationAvailable } from '../codegen/cuda/emu.js';
import { lowerCuda } from '../codegen/cuda/lower.js';
import { loadOnnxFile } from '../frontends/onnx/import.js';
import type { Graph } from '../ir/graph.js';
import { interpret } from '../ir/interpreter.js';
import { zoo } from '../models/index.js';
import { runPipeline } from '../passes/pipeline.js';
import { tensor } from '../runtime/tensor.js';
import { TOLERANCE, compareAll, graphInputs, kernelCaseGraph, relError, runStandalone, top1 } from './gpu/common.js';

const ok = emulationAvailable();
const work = mkdtempSync(join(tmpdir(), 'cnnc-cuda-emu-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Builds and runs the emulated standalone program for `g` on seeded inputs. */
function emulate(g: Graph, tag: string, seed = 3) {
  const mod = lowerCuda(g);
  const dir = join(work, tag);
  const bin = buildEmulatedProgram(mod, dir);
  const inputs = graphInputs(g, seed);
  return { mod, inputs, got: runStandalone(bin, dir, mod.plan, inputs).outputs, ref: interpret(g, inputs) };
}

const why = ok ? '' : ' SKIPPED: g++ or CUDA headers (cuda_fp16.h) not found';

describe.skipIf(!ok)(`CUDA kernels on the CPU emulator vs the reference, generated shapes${why}`, () => {
  for (const seed of [1, 2]) {
    for (const dtype of ['f32', 'f16'] as const) {
      it(`seed ${seed}, ${dtype}: every kernel kind within ${TOLERANCE[dtype]}`, () => {
        const g = kernelCaseGraph(seed, dtype);
        const { got, ref } = emulate(g, `kernels_${seed}_${dtype}`, seed);
        expect(Object.keys(got).length).toBeGreaterThan(50);
        const { bad } = compareAll(got, ref, TOLERANCE[dtype]);
        expect(bad).toEqual([]);
      });
    }
  }
});

describe.skipIf(!ok)(`CUDA GEMM tiles forced through CNNC_CUDA_TILE (every SIMT GEMM in one tile shape)${why}`, () => {
  for (const tile of ['large', 'small']) {
    it(`${tile} tiles: every kernel kind within 1e-4 (f32, seed 4)`, () => {
      process.env.CNNC_CUDA_TILE = tile;
      try {
        const g = kernelCaseGraph(4, 'f32');
        const { got, ref, mod } = emulate(g, `tile_${tile}`, 4);
        expect(mod.source).toContain(tile === 'large' ? 'tile 128×128×8' : 'tile 32×32×16');
        expect(compareAll(got, ref, TOLERANCE.f32).bad).toEqual([]);
      } finally {
        delete process.env.CNNC_CUDA_TILE;
      }
    });
  }
});

describe.skipIf(!ok)(`CUDA standalone program on the CPU emulator: models vs the reference interpreter${why}`, () => {
  it('lenet5 from ../shared/models reproduces PyTorch (1e-4 of max |y|)', () => {
    const dir = join(import.meta.dirname, '..', '..', 'shared', 'models', 'lenet5');
    const g = runPipeline(loadOnnxFile(join(dir, 'model.onnx')), 'cuda', {}).graph;
    const mod = lowerCuda(g);
    const bin = buildEmulatedProgram(mod, join(work, 'lenet5_onnx'));
    const raw = (f: string) => { const b = readFileSync(join(dir, 'test_data_set_0', f)); return new Float32Array(b.buffer, b.byteOffset, b.length / 4).slice(); };
    const x = tensor('f32', g.type(g.inputs[0]).shape, raw('input_0.bin'));
    const y = runStandalone(bin, join(work, 'lenet5_onnx'), mod.plan, { [g.inputs[0]]: x }).outputs[g.outputs[0]];
    expect(relError(y, tensor('f32', y.shape, raw('output_0.bin')))).toBeLessThan(1e-4);
  });
  const cases: [string, number, boolean][] = [
    ['resnet18', 32, false], ['resnet18', 32, true], ['mobilenet_v2', 32, false], ['mobilenet_v2', 32, true],
    ['efficientnet_b0', 32, false], ['mobilenet_v3_small', 32, false], ['convnext_tiny', 32, false],
    ['unet_small', 32, false], ['yolov5s', 64, false],
  ];
  for (const [name, size, fp16] of cases) {
    const tol = fp16 ? TOLERANCE.f16 : TOLERANCE.f32;
    const classifier = !['unet_small', 'yolov5s'].includes(name);
    it(`zoo:${name} at ${size}×${size}, ${fp16 ? 'f16' : 'f32'} (-O3 pipeline): within ${tol}${classifier ? ', same top-1' : ''}`, () => {
      const g = runPipeline(zoo(name, { size }), 'cuda', { fp16 }).graph;
      const { got, ref } = emulate(g, `${name}_${size}_${fp16}`);
      const { bad } = compareAll(got, ref, tol);
      expect(bad).toEqual([]);
      if (classifier) for (const o of g.outputs) expect(top1(got[o])).toEqual(top1(ref[o]));
    }, 600_000);
  }
});
