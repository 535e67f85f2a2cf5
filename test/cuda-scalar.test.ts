/**
 * The CUDA rendering of every scalar formula (codegen/c-like.ts with the CUDA dialect) on special
 * values, run through the CPU emulation of the standalone program (codegen/cuda/emu): every op with
 * a `traits.scalar`, on every tuple of ±0, ±∞, NaN, ±1e30, ±1e-40, ±1, ±3.5, 88, −88, 100 (and 2,
 * 3, 0.5, −2 for pow), against the reference: NaN where it is NaN, equal infinities, else within
 * rtol 1e-4 + atol 1e-5. All cases are one kernel in one program (one g++ build).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CRenderer } from '../codegen/c-like.js';
import { buildEmulatedProgram, emulationAvailable } from '../codegen/cuda/emu.js';
import { Code } from '../codegen/cuda/emit.js';
import { kernelSource, type Launch } from '../codegen/cuda/kernel.js';
import { translationUnit, type CudaModule } from '../codegen/cuda/lower.js';
import { checkCompilesAsync, findNvcc } from '../codegen/cuda/nvcc.js';
import { CUDA } from '../codegen/cuda/scalar.js';
import { tensor, toF64 } from '../runtime/tensor.js';
import { runStandalone } from './gpu/common.js';
import { ATOL, RTOL, mismatches, referenceOf, scalarCases, tuples, type ScalarCase } from './wgsl-scalar-cases.js';

const ok = emulationAvailable();
const why = ok ? '' : ' SKIPPED: g++ or CUDA headers (cuda_fp16.h) not found';
const work = mkdtempSync(join(tmpdir(), 'cnnc-cuda-scalar-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Layout { c: ScalarCase; args: Float32Array[]; xOff: number; yOff: number; n: number }

/** One module of one kernel evaluating every case: thread i computes element i of each case that has one. */
function specialModule(cases: ScalarCase[]) {
  const r = new CRenderer(CUDA);
  const layout: Layout[] = [];
  let xs = 0, ys = 0;
  for (const c of cases) {
    const args = tuples(c.arity);
    layout.push({ c, args, xOff: xs, yOff: ys, n: args[0].length });
    xs += args.length * args[0].length;
    ys += args[0].length;
  }
  const code = new Code();
  code.line('const int i = blockIdx.x * blockDim.x + threadIdx.x;');
  for (const { c, args, xOff, yOff, n } of layout) {
    code.block(`if (i < ${n})`, () => {
      code.line(`// ${c.name}`);
      args.forEach((_, k) => code.line(`const float a${k} = x[${xOff + k * n} + i];`));
      code.line(`y[${yOff} + i] = ${r.render(c.expr, args.map((_, k) => `a${k}`))};`);
    });
  }
  const rows = Math.max(...layout.map((l) => l.n));
  const launch: Launch = {
    kind: 'special', threads: 128, grid: [Math.ceil(rows / 128), 1, 1], body: code.toString(),
    args: [{ param: 'x', value: 'x', dtype: 'f32' }, { param: 'y', value: 'y', dtype: 'f32', out: true }],
  };
  const name = 'cnnc_special_values';
  const kernels = new Map([[name, kernelSource(name, launch)]]);
  const yOff = Math.ceil((xs * 4) / 256) * 256;
  const mod: CudaModule = {
    plan: {
      arenaBytes: yOff + ys * 4, weightsBytes: 16, kernels: [name], signatures: { [name]: ['const float*', 'float*'] },
      steps: [{ node: 'special_values', kernel: name, grid: launch.grid, block: launch.threads, args: [{ region: 'arena', offset: 0 }, { region: 'arena', offset: yOff }] }],
      inputs: [{ name: 'x', dtype: 'f32', shape: [xs], offset: 0, bytes: xs * 4 }],
      outputs: [{ name: 'y', dtype: 'f32', shape: [ys], offset: yOff, bytes: ys * 4 }],
      model: 'special_values',
    },
    source: translationUnit('special values', kernels), kernels, weights: new Uint8Array(16),
  };
  const x = new Float32Array(xs);
  for (const l of layout) l.args.forEach((a, k) => x.set(a, l.xOff + k * l.n));
  return { mod, layout, x };
}

describe.skipIf(!ok)(`cuda scalar formulas on special values vs the reference (emulated; rtol ${RTOL}, atol ${ATOL}, one kernel)${why}`, () => {
  const cases = scalarCases();
  const { mod, layout, x } = specialModule(cases);
  let got: Float64Array | undefined;
  const results = () => {
    if (!got) {
      const dir = join(work, 'special');
      const bin = buildEmulatedProgram(mod, dir);
      got = toF64(runStandalone(bin, dir, mod.plan, { x: tensor('f32', [x.length], x) }).outputs.y);
    }
    return got;
  };

  it.skipIf(!findNvcc())(`the same kernel compiles with nvcc -Werror all-warnings for sm_80 + sm_90${findNvcc() ? '' : ' (SKIPPED: nvcc not found)'}`, async () => {
    await expect(checkCompilesAsync(mod.source)).resolves.toBeUndefined();
  }, 600_000);

  for (const l of layout) {
    it(`${l.c.name} on ${l.n} tuples`, () => {
      const y = results();
      expect(mismatches(l.c, l.args, referenceOf(l.c, l.args), y.subarray(l.yOff, l.yOff + l.n))).toEqual([]);
    });
  }
});
