/**
 * runtime/cuda end to end without a GPU: the real Node runtime (koffi → driver API) against a
 * fake libcuda.so.1 whose cuLaunchKernel runs the same kernels compiled for the CPU emulator
 * (codegen/cuda/emu). This checks the host side a GPU run depends on: PTX in the artifact,
 * weights upload, arena offsets, kernel parameter marshalling, launch order, output copies.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compile } from '../index.js';
import { buildFakeDriver, emulationAvailable } from '../codegen/cuda/emu.js';
import { compileCuda } from '../codegen/cuda/index.js';
import { findNvcc } from '../codegen/cuda/nvcc.js';
import { interpret } from '../ir/interpreter.js';
import { zoo } from '../models/index.js';
import { runPipeline } from '../passes/pipeline.js';
import { CnncError } from '../runtime/errors.js';
import { load } from '../runtime/index.js';
import { tensor } from '../runtime/tensor.js';
import { TOLERANCE, compareAll, graphInputs, kernelCaseGraph } from './gpu/common.js';

const ok = emulationAvailable() && !!findNvcc();
const work = mkdtempSync(join(tmpdir(), 'cnnc-cuda-fake-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const title = ok ? 'runtime/cuda through koffi on a fake libcuda (kernels emulated on the CPU)'
  : 'runtime/cuda fake-driver tests SKIPPED: needs nvcc (PTX) and g++ with CUDA headers';

describe.skipIf(!ok)(title, () => {
  // one fake driver serving the kernels of both models (the driver is opened once per process)
  const lenet = zoo('lenet5');
  const cases = kernelCaseGraph(3, 'f32');
  const lenetC = ok ? compileCuda(runPipeline(lenet, 'cuda', {}).graph) : undefined;
  const casesC = ok ? compileCuda(runPipeline(cases, 'cuda', {}).graph) : undefined;
  if (ok) Object.assign(process.env, buildFakeDriver([lenetC!.module, casesC!.module], work));

  it('compile(zoo:lenet5, "cuda").run equals the reference (f32 1e-4)', async () => {
    const m = await compile(lenet, 'cuda');
    const x = graphInputs(lenet, 11);
    const { bad } = compareAll(await m.run(x), interpret(lenet, x), TOLERANCE.f32);
    expect(bad).toEqual([]);
  });

  it('runtime load(save()) of the kernel-coverage graph: every output equals the reference (f32 1e-4)', async () => {
    const session = await load(casesC!.save());
    const x = graphInputs(cases, 12);
    const got = await session.run(x);
    expect(Object.keys(got).length).toBe(cases.outputs.length);
    const { bad } = compareAll(got, interpret(cases, x), TOLERANCE.f32);
    expect(bad).toEqual([]);
  });

  it('bad inputs are typed BAD_INPUT errors naming the value', async () => {
    const session = await load(lenetC!.save());
    const err = await session.run({ input: tensor('f32', [1, 1, 8, 8]) }).catch((e) => e);
    expect(err).toBeInstanceOf(CnncError);
    expect(err.code).toBe('BAD_INPUT');
    expect(err.value).toBe('input');
    const missing = await session.run({}).catch((e) => e);
    expect(missing.code).toBe('BAD_INPUT');
  });
});
