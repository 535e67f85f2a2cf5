/**
 * The relaxed-SIMD build of the wasm target: every artifact carries a second module whose kernels'
 * multiply-adds are `f32x4.relaxed_madd`, and the runtime picks it where the engine validates
 * relaxed SIMD (Node 20: behind --experimental-wasm-relaxed-simd, set here at start; Node 22 and
 * Chromium: on). The kernel shapes run on both builds in wasm-kernels.test.ts; here: the builds
 * differ exactly in those ops, the choice at load, the opt-out, and whole models on the relaxed
 * build against PyTorch (f32 tolerance 1e-4 relative to the largest |reference|).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as v8 from 'node:v8';
import binaryen from 'binaryen';
import { describe, expect, it } from 'vitest';
import { compile } from '../index.js';
import { loadOnnxFile } from '../frontends/onnx/import.js';
import { Graph } from '../ir/graph.js';
import { decodeArtifact } from '../runtime/artifact.js';
import { CnncError } from '../runtime/errors.js';
import { tensor } from '../runtime/tensor.js';
import { relaxedSimdSupported } from '../runtime/wasm/features.js';
import { WasmSession } from '../runtime/wasm/index.js';
import { f32File, relErr } from './golden.js';

if (!relaxedSimdSupported()) v8.setFlagsFromString('--experimental-wasm-relaxed-simd');

const F32_TOL = 1e-4;
const MODELS = '../shared/models';

/** A conv + gemm graph: both kinds of kernels that multiply-add. */
function small(): Graph {
  const g = new Graph('small');
  g.addInput('x', { dtype: 'f32', shape: [1, 5, 9, 9] });
  const w = g.addConstant('w', tensor('f32', [8, 5, 3, 3], Float32Array.from({ length: 360 }, (_, i) => Math.sin(i))));
  const y = g.add('Conv', ['x', w], { pads: [1, 1, 1, 1], activation: 'relu' });
  const f = g.add('Flatten', [y], { axis: 1 });
  const b = g.addConstant('b', tensor('f32', [648, 3], Float32Array.from({ length: 1944 }, (_, i) => Math.cos(i) / 20)));
  g.setOutputs([g.add('MatMul', [f, b])]);
  return g;
}

/** The module's text as binaryen prints it. */
function wat(bytes: Uint8Array): string {
  const m = binaryen.readBinary(bytes);
  try { return m.emitText(); } finally { m.dispose(); }
}

describe('wasm relaxed-SIMD build', () => {
  it('is a second module in the artifact that differs in its multiply-adds only', async () => {
    const a = decodeArtifact((await compile(small(), 'wasm')).save());
    expect(Object.keys(a.sections)).toEqual(expect.arrayContaining(['module', 'module_relaxed', 'weights']));
    const plain = wat(a.sections.module), relaxed = wat(a.sections.module_relaxed);
    expect(plain).not.toContain('relaxed_madd');
    const n = relaxed.split('f32x4.relaxed_madd').length - 1;
    expect(n).toBeGreaterThan(0);
    // each relaxed_madd replaces one f32x4.mul and one f32x4.add
    const count = (t: string, op: string) => t.split(op).length - 1;
    expect(count(plain, 'f32x4.mul') - count(relaxed, 'f32x4.mul')).toBe(n);
    expect(count(plain, 'f32x4.add') - count(relaxed, 'f32x4.add')).toBe(n);
  });

  it('is chosen at load where the engine has relaxed SIMD, and matches the SIMD128 build', async () => {
    expect(relaxedSimdSupported()).toBe(true);
    const a = decodeArtifact((await compile(small(), 'wasm')).save());
    const auto = await WasmSession.create(a);
    expect(auto.build).toBe('relaxed');
    const x = tensor('f32', [1, 5, 9, 9], Float32Array.from({ length: 405 }, (_, i) => Math.sin(i * 0.7)));
    const want = (await (await WasmSession.create(a, { simd: 'simd128' })).run({ x }));
    const got = await auto.run({ x });
    const k = Object.keys(want)[0];
    expect(relErr(want[k].data as Float32Array, got[k].data as Float32Array)).toBeLessThan(F32_TOL);
  });

  it('can be left out (relaxedSimd: false): then SIMD128 runs, and asking for relaxed is UNSUPPORTED', async () => {
    const g = small();
    const a = decodeArtifact((await compile(g, 'wasm', { wasm: { relaxedSimd: false } })).save());
    expect(a.sections.module_relaxed).toBeUndefined();
    expect((await WasmSession.create(a)).build).toBe('simd128');
    await expect(WasmSession.create(a, { simd: 'relaxed' })).rejects.toThrow(CnncError);
  });

  it('falls back to SIMD128 in a Node 20 process without the flag', () => {
    const major = Number(process.versions.node.split('.')[0]);
    const script = "import { relaxedSimdSupported } from './runtime/wasm/features.ts'; console.log(relaxedSimdSupported() ? 'relaxed' : 'simd128');";
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' }).trim();
    expect(out).toBe(major >= 22 ? 'relaxed' : 'simd128');
  });

  for (const name of ['squeezenet1_1', 'mobilenet_v2', 'resnet18']) {
    it.skipIf(!existsSync(`${MODELS}/${name}`))(`${name} on the relaxed build matches PyTorch within 1e-4`, async () => {
      const c = await compile(loadOnnxFile(`${MODELS}/${name}/model.onnx`), 'wasm');
      const s = await WasmSession.create(decodeArtifact(c.save()), { simd: 'relaxed' });
      const x = tensor('f32', c.inputs[0].shape, f32File(`${MODELS}/${name}/test_data_set_0/input_0.bin`));
      const got = (await s.run({ input: x })).output.data as Float32Array;
      expect(relErr(f32File(`${MODELS}/${name}/test_data_set_0/output_0.bin`), got)).toBeLessThan(F32_TOL);
    });
  }
});
