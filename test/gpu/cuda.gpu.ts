/**
 * CUDA golden tests on a real GPU (`npm run test:gpu`): every kernel kind over generated shapes
 * and every model against the reference interpreter, through both the Node runtime (runtime/cuda)
 * and the standalone program built with nvcc. f32: 1e-4 of max |y|; f16: 1e-2 and the same top-1.
 * Without a GPU (NO_DEVICE) or without nvcc the suites are skipped and say why.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { compileCuda } from '../../codegen/cuda/index.js';
import { findNvcc } from '../../codegen/cuda/nvcc.js';
import { standaloneCommand, writeStandalone } from '../../codegen/cuda/standalone.js';
import { loadOnnxFile } from '../../frontends/onnx/import.js';
import type { Graph } from '../../ir/graph.js';
import { interpret } from '../../ir/interpreter.js';
import { ZOO_NAMES, zoo } from '../../models/index.js';
import { runPipeline } from '../../passes/pipeline.js';
import { cudaDriver, type Driver } from '../../runtime/cuda/driver.js';
import { CnncError } from '../../runtime/errors.js';
import { tensor } from '../../runtime/tensor.js';
import { TOLERANCE, compareAll, graphInputs, kernelCaseGraph, relError, runStandalone, top1 } from './common.js';

let driver: Driver | undefined;
let noDevice = '';
try {
  driver = await cudaDriver();
} catch (e) {
  if (!(e instanceof CnncError) || e.code !== 'NO_DEVICE') throw e;
  noDevice = e.message;
}
const nvcc = findNvcc();
const skip = !driver || !nvcc;
const why = !driver ? ` SKIPPED: ${noDevice}` : !nvcc ? ' SKIPPED: nvcc not found (PTX and the standalone program need it)' : ` on ${driver.deviceName}`;
/** The device's sm_XY (CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR/MINOR = 75/76). */
const arch = driver ? driver.attribute(75) * 10 + driver.attribute(76) : 80;

const work = mkdtempSync(join(tmpdir(), 'cnnc-gpu-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const SHARED = join(import.meta.dirname, '..', '..', '..', 'shared', 'models');

/** Builds the standalone program for this GPU and runs it on `inputs`. */
function standalone(g: Graph, tag: string, inputs: Record<string, import('../../runtime/tensor.js').Tensor>) {
  const c = compileCuda(g);
  const dir = join(work, tag);
  writeStandalone(c.module, dir, [arch]);
  execSync(standaloneCommand([arch]).replace(/^nvcc/, nvcc!), { cwd: dir, stdio: 'pipe' });
  return runStandalone(join(dir, 'model'), dir, c.module.plan, inputs).outputs;
}

describe.skipIf(skip)(`CUDA kernels vs the reference over generated shapes${why}`, () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    for (const dtype of ['f32', 'f16'] as const) {
      it(`seed ${seed} ${dtype}: Node runtime and standalone program within ${TOLERANCE[dtype]}`, async () => {
        const g = kernelCaseGraph(seed, dtype);
        const inputs = graphInputs(g, seed);
        const ref = interpret(g, inputs);
        expect(compareAll(await compileCuda(g).run(inputs), ref, TOLERANCE[dtype]).bad).toEqual([]);
        expect(compareAll(standalone(g, `k${seed}${dtype}`, inputs), ref, TOLERANCE[dtype]).bad).toEqual([]);
      });
    }
  }
});

/** Zoo models checked on the GPU (CNNC_GPU_ALL_MODELS=1: all of them; the reference interpreter is slow on VGG/U-Net). */
const ZOO = process.env.CNNC_GPU_ALL_MODELS ? [...ZOO_NAMES]
  : ['lenet5', 'resnet18', 'resnet50', 'mobilenet_v2', 'mobilenet_v3_small', 'squeezenet1_1', 'efficientnet_b0', 'googlenet', 'convnext_tiny', 'unet_small', 'yolov5s'];
const CLASSIFIERS = new Set(ZOO_NAMES.filter((n) => !n.startsWith('unet') && !n.startsWith('yolo')));

describe.skipIf(skip)(`CUDA models vs the reference interpreter (f32 1e-4; f16 1e-2 + same top-1)${why}`, () => {
  for (const name of ZOO) {
    for (const fp16 of [false, true]) {
      it(`zoo:${name} ${fp16 ? 'f16' : 'f32'} (Node runtime${name === 'lenet5' || name === 'mobilenet_v2' ? ' + standalone' : ''})`, async () => {
        const g = runPipeline(zoo(name), 'cuda', { fp16 }).graph;
        const inputs = graphInputs(g, 7);
        const ref = interpret(g, inputs);
        const tol = fp16 ? TOLERANCE.f16 : TOLERANCE.f32;
        const outs = [await compileCuda(g).run(inputs)];
        if (name === 'lenet5' || name === 'mobilenet_v2') outs.push(standalone(g, `${name}${fp16}`, inputs));
        for (const got of outs) {
          expect(compareAll(got, ref, tol).bad).toEqual([]);
          if (CLASSIFIERS.has(name)) for (const o of g.outputs) expect(top1(got[o])).toEqual(top1(ref[o]));
        }
      });
    }
  }
  for (const name of ['lenet5', 'unet_small', 'squeezenet1_1', 'mobilenet_v2', 'efficientnet_b0', 'resnet18']) {
    it(`../shared/models/${name} f32 reproduces PyTorch's output_0 (1e-4)`, async () => {
      const dir = join(SHARED, name);
      if (!existsSync(dir)) return;
      const g = runPipeline(loadOnnxFile(join(dir, 'model.onnx')), 'cuda', {}).graph;
      const raw = (f: string) => { const b = readFileSync(join(dir, 'test_data_set_0', f)); return new Float32Array(b.buffer, b.byteOffset, b.length / 4).slice(); };
      const x = tensor('f32', g.type(g.inputs[0]).shape, raw('input_0.bin'));
      const y = (await compileCuda(g).run({ [g.inputs[0]]: x }))[g.outputs[0]];
      expect(relError(y, tensor('f32', y.shape, raw('output_0.bin')))).toBeLessThan(1e-4);
    });
  }
});
