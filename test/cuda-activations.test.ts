/**
 * Golden tests of the seven activations that came to cuda by their definition alone (a scalar
 * formula in ir/ops/activation.ts rendered by codegen/c-like.ts): Elu, Celu, Selu, ThresholdedRelu,
 * Softplus, Softsign, Mish, each standalone and as the fused epilogue of a Conv, through the CPU
 * emulation of the standalone program (codegen/cuda/emu) vs the reference interpreter. Per
 * element |got − ref| ≤ atol + rtol·|ref|: f32 rtol 1e-4, atol 1e-5; f16 (half2 elementwise path,
 * f16 storage, f32 math) rtol 1e-2, atol 1e-3. One graph and one g++ build per dtype.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildEmulatedProgram, emulationAvailable } from '../codegen/cuda/emu.js';
import { lowerCuda, translationUnit } from '../codegen/cuda/lower.js';
import { checkCompilesAsync, findNvcc } from '../codegen/cuda/nvcc.js';
import { interpret } from '../ir/interpreter.js';
import { fromF64, toF64, type Tensor } from '../runtime/tensor.js';
import { runStandalone } from './gpu/common.js';
import { SEVEN, outside, sevenActivationsGraph } from './wgsl-scalar-cases.js';

const ok = emulationAvailable();
const why = ok ? '' : ' SKIPPED: g++ or CUDA headers (cuda_fp16.h) not found';
const work = mkdtempSync(join(tmpdir(), 'cnnc-cuda-act-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const TOL = { f32: { rtol: 1e-4, atol: 1e-5 }, f16: { rtol: 1e-2, atol: 1e-3 } } as const;

for (const dtype of ['f32', 'f16'] as const) {
  const { rtol, atol } = TOL[dtype];
  describe.skipIf(!ok)(`cuda (emulated): the seven activations standalone and as Conv epilogues vs the reference (${dtype}, rtol ${rtol}, atol ${atol})${why}`, () => {
    const { g, x } = sevenActivationsGraph(dtype);
    const feeds = { x: fromF64(dtype, [1, 4, 7, 7], x) };
    const ref = interpret(g, feeds);
    let got: Record<string, Tensor> | undefined;
    const run = () => {
      if (!got) {
        const mod = lowerCuda(g);
        const dir = join(work, dtype);
        got = runStandalone(buildEmulatedProgram(mod, dir), dir, mod.plan, feeds).outputs;
      }
      return got;
    };

    it(dtype === 'f16' ? 'the standalone activations take the half2 path' : 'the standalone activations take the f32 elementwise kernel', () => {
      const src = lowerCuda(g).source;
      expect(src).toContain(dtype === 'f16' ? '__half22float2' : 'cnnc_eltwise');
    });

    for (const [op] of SEVEN) {
      for (const name of [op, `conv_${op}`]) {
        it(name === op ? `${op} standalone` : `Conv + ${op} epilogue`, () => {
          const y = run()[name];
          expect(y.shape).toEqual(ref[name].shape);
          expect(outside(name, toF64(ref[name]), toF64(y), rtol, atol)).toEqual([]);
        });
      }
    }
  });
}

const nvcc = findNvcc();
describe.skipIf(!nvcc)(`cuda: the seven activations' kernels (f32 + f16) compile with nvcc -Werror all-warnings for sm_80 + sm_90${nvcc ? '' : ' SKIPPED: nvcc not found'}`, () => {
  it('one translation unit of both graphs', async () => {
    const kernels = new Map<string, string>();
    for (const dtype of ['f32', 'f16'] as const) for (const [k, v] of lowerCuda(sevenActivationsGraph(dtype).g).kernels) kernels.set(k, v);
    await expect(checkCompilesAsync(translationUnit('seven activations', kernels))).resolves.toBeUndefined();
  }, 600_000);
});
