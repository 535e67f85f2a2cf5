/**
 * The CUDA sources cnnc generates compile with nvcc for sm_80 and sm_90 with no warnings
 * (-Werror all-warnings), device code only (--fatbin), f32 and f16 kernels of each model:
 *   - the kernel-coverage graph (every kernel kind) from compute_80 and compute_90 PTX (both front ends);
 *   - the models' kernels as the artifact ships them: compute_80 PTX (compilePtx), assembled by ptxas
 *     for sm_80 and sm_90, as the driver does on those GPUs (one cicc pass instead of two: cicc is
 *     two thirds of nvcc's time here). A kernel is named by its source's hash, so a kernel that
 *     several models share compiles once: the first model that has it compiles it, the others wait
 *     for that build, and each model's test passes only when all of its kernels compiled.
 * Also the standalone host program builds. No GPU needed; without nvcc the tests are skipped and say
 * so in their names.
 */
import { execSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compile } from '../index.js';
import { lowerCuda, translationUnit } from '../codegen/cuda/lower.js';
import { checkCompilesAsync, findNvcc, STRICT_FLAGS } from '../codegen/cuda/nvcc.js';
import { standaloneCommand, writeStandalone } from '../codegen/cuda/standalone.js';
import { loadOnnxFile } from '../frontends/onnx/import.js';
import type { Graph } from '../ir/graph.js';
import { ZOO_NAMES, zoo } from '../models/index.js';
import { runPipeline } from '../passes/pipeline.js';
import { kernelCaseGraph } from './gpu/common.js';

const nvcc = findNvcc();
const SHARED = join(import.meta.dirname, '..', '..', 'shared', 'models');
const sharedModels = ['lenet5', 'unet_small', 'squeezenet1_1', 'mobilenet_v2', 'efficientnet_b0', 'resnet18']
  .filter((m) => existsSync(join(SHARED, m, 'model.onnx')));
/**
 * Representative zoo set (every op family and block kind; the others repeat these layers with
 * other sizes). CNNC_CUDA_ALL_MODELS=1 compiles every zoo model.
 */
const REPRESENTATIVE = ['lenet5', 'resnet50', 'mobilenet_v3_small', 'efficientnet_b0', 'googlenet', 'convnext_tiny', 'unet', 'yolov5s', 'alexnet'];
const zooModels = process.env.CNNC_CUDA_ALL_MODELS ? [...ZOO_NAMES] : REPRESENTATIVE.filter((m) => ZOO_NAMES.includes(m));

/** At most two nvcc processes at a time (CI has 2 cores); generous timeouts for a loaded machine. */
let running = 0;
const waiting: (() => void)[] = [];
async function nvccSlot<T>(f: () => Promise<T>): Promise<T> {
  if (running >= 2) await new Promise<void>((r) => waiting.push(r));
  running++;
  try { return await f(); } finally { running--; waiting.shift()?.(); }
}
const TIMEOUT = 900_000;

/** f32 and f16 kernels of one graph (built once: the passes leave their input graph unchanged). */
function kernelsOf(graph: Graph): Map<string, string> {
  const kernels = new Map<string, string>();
  for (const fp16 of [false, true]) {
    const m = lowerCuda(runPipeline(graph, 'cuda', { fp16 }).graph);
    for (const [k, v] of m.kernels) kernels.set(k, v);
  }
  return kernels;
}

/** Kernel name → the build that compiles it (first come: the model test that lowered it first). */
const builds = new Map<string, Promise<void>>();

/** Compiles the kernels of `name` that no earlier model had (compute_80 PTX → sm_80 + sm_90), then waits for all of its kernels' builds. */
async function modelCompiles(name: string, graph: () => Graph): Promise<void> {
  const kernels = kernelsOf(graph());
  const fresh = [...kernels].filter(([k]) => !builds.has(k));
  if (fresh.length > 0) {
    const build = nvccSlot(() => checkCompilesAsync(translationUnit(`${name} f32+f16 (${fresh.length} of its ${kernels.size} kernels; the rest come from earlier models)`, fresh), [80, 90], 80));
    for (const [k] of fresh) builds.set(k, build);
  }
  await Promise.all([...kernels.keys()].map((k) => builds.get(k)));
}

const title = nvcc
  ? `nvcc sm_80 + sm_90 -Werror all-warnings: zoo ${process.env.CNNC_CUDA_ALL_MODELS ? '(all models)' : `(representative set: ${zooModels.join(', ')})`} and ../shared/models, f32 + f16`
  : 'CUDA compile tests SKIPPED: nvcc not found (set CNNC_NVCC or install the CUDA toolkit)';

describe.skipIf(!nvcc)(title, { concurrent: true }, () => {
  it('the kernel-coverage graph (every CUDA kernel kind, f32 + f16) from compute_80 and compute_90 PTX', async () => {
    const kernels = new Map<string, string>();
    for (const dt of ['f32', 'f16'] as const) for (const [k, v] of lowerCuda(kernelCaseGraph(1, dt)).kernels) kernels.set(k, v);
    await expect(nvccSlot(() => checkCompilesAsync(translationUnit('kernel cases', kernels)))).resolves.toBeUndefined();
  }, TIMEOUT);
  for (const name of zooModels) {
    it(`zoo:${name} (compute_80 PTX for sm_80 + sm_90)`, async () => {
      await expect(modelCompiles(name, () => zoo(name))).resolves.toBeUndefined();
    }, TIMEOUT);
  }
  for (const name of sharedModels) {
    it(`../shared/models/${name} (compute_80 PTX for sm_80 + sm_90)`, async () => {
      await expect(modelCompiles(name, () => loadOnnxFile(join(SHARED, name, 'model.onnx')))).resolves.toBeUndefined();
    }, TIMEOUT);
  }
});

describe.skipIf(!nvcc)(nvcc ? 'standalone program (host + device) builds with its BUILD.txt nvcc command' : 'standalone build SKIPPED: nvcc not found', () => {
  it('writeStandalone(compile(zoo:lenet5, "cuda")): main.cu + kernels.cu link into an executable, no warnings', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cnnc-standalone-'));
    try {
      const files = writeStandalone(await compile(zoo('lenet5'), 'cuda'), dir);
      expect(files.nvcc).toBe(standaloneCommand());
      const cmd = files.nvcc.replace('nvcc ', `${nvcc} ${STRICT_FLAGS.join(' ')} `);
      const out = execSync(`${cmd} 2>&1`, { cwd: dir, encoding: 'utf8' });
      expect(out.trim()).toBe('');
      expect(existsSync(join(dir, 'model'))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, TIMEOUT);
});
