/**
 * runtime/cuda where there is no GPU: every entry point (compile().run, runtime load, the
 * session) says so with CnncError NO_DEVICE and nothing crashes; malformed artifacts are BAD_ARTIFACT.
 * On a machine with an NVIDIA driver these expectations do not hold: the test is skipped, saying so.
 */
import { execSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { compile } from '../index.js';
import { Graph } from '../ir/graph.js';
import { encodeArtifact, decodeArtifact } from '../runtime/artifact.js';
import { CudaSession } from '../runtime/cuda/index.js';
import { CUDA_SECTIONS } from '../runtime/cuda/plan.js';
import { CnncError } from '../runtime/errors.js';
import { load } from '../runtime/index.js';
import { tensor } from '../runtime/tensor.js';
import { lowerCuda } from '../codegen/cuda/lower.js';

const hasDriver = (() => {
  try { return /libcuda\.so\.1/.test(execSync('ldconfig -p', { encoding: 'utf8' })); } catch { return false; }
})();

function tiny(): Graph {
  const g = new Graph('tiny');
  const x = g.addInput('x', { dtype: 'f32', shape: [1, 4] });
  g.setOutputs([g.add('Relu', [x])]);
  return g;
}

/** A well-formed CUDA artifact for `tiny` with placeholder PTX (no nvcc needed: the device check comes first). */
function artifact(): Uint8Array {
  const mod = lowerCuda(tiny());
  return encodeArtifact({
    header: { version: 1, target: 'cuda', inputs: [{ name: 'x', dtype: 'f32', shape: [1, 4] }], outputs: [{ name: tiny().outputs[0], dtype: 'f32', shape: [1, 4] }], plan: mod.plan },
    sections: { [CUDA_SECTIONS.weights]: mod.weights, [CUDA_SECTIONS.ptx]: new TextEncoder().encode('// placeholder PTX') },
  });
}

async function code(p: Promise<unknown>): Promise<string> {
  try { await p; return 'resolved'; } catch (e) { return e instanceof CnncError ? e.code : `untyped: ${String(e)}`; }
}

describe.skipIf(hasDriver)(hasDriver ? 'CUDA NO_DEVICE tests SKIPPED: this machine has an NVIDIA driver (see test/gpu)' : 'runtime/cuda without a GPU: typed NO_DEVICE', () => {
  it('compile(graph, "cuda").run throws NO_DEVICE', async () => {
    const m = await compile(tiny(), 'cuda');
    expect(await code(m.run({ x: tensor('f32', [1, 4], [1, -2, 3, -4]) }))).toBe('NO_DEVICE');
  });
  it('runtime load() of a CUDA artifact throws NO_DEVICE', async () => {
    expect(await code(load(artifact()))).toBe('NO_DEVICE');
  });
  it('CNNC_LIBCUDA naming a missing file or a library without the driver API: NO_DEVICE', async () => {
    const saved = process.env.CNNC_LIBCUDA;
    try {
      process.env.CNNC_LIBCUDA = '/nonexistent/libcuda.so.1';
      expect(await code(CudaSession.create(decodeArtifact(artifact())))).toBe('NO_DEVICE');
      process.env.CNNC_LIBCUDA = 'libm.so.6';
      const err = await CudaSession.create(decodeArtifact(artifact())).catch((e) => e);
      expect(err).toBeInstanceOf(CnncError);
      expect(err.code).toBe('NO_DEVICE');
      expect(err.message).toMatch(/cuInit/);
    } finally {
      if (saved === undefined) delete process.env.CNNC_LIBCUDA; else process.env.CNNC_LIBCUDA = saved;
    }
  });
});

describe('CUDA artifacts: malformed ones are BAD_ARTIFACT before any device is touched', () => {
  it('missing plan, wrong weight size, wrong target', async () => {
    const a = decodeArtifact(artifact());
    expect(await code(CudaSession.create({ ...a, header: { ...a.header, plan: null } }))).toBe('BAD_ARTIFACT');
    expect(await code(CudaSession.create({ ...a, sections: { ...a.sections, [CUDA_SECTIONS.weights]: new Uint8Array(3) } }))).toBe('BAD_ARTIFACT');
    expect(await code(CudaSession.create({ ...a, header: { ...a.header, target: 'wasm' } }))).toBe('BAD_ARTIFACT');
  });
});
