/**
 * Per-target conformance: a test that passes on the reference target is run again through the
 * public API, compile(model, target), with the same data sets and the same per-dtype tolerances
 * (runner.ts's compare(), which also requires every output's dtype to equal the expected one).
 *
 *   wasm, wgsl: compile(g, target), then the artifact loaded by cnnc/runtime (what compile().run
 *     does; wgsl sessions are disposed after each test, all on the one shared Dawn device).
 *   cuda: compile(g, 'cuda') decides refusals; the lowered module then runs as the standalone
 *     program built with g++ against codegen/cuda/emu (every CUDA thread on the CPU). Builds are
 *     cached by the hash of their sources (CNNC_CUDA_EMU_CACHE, default $TMPDIR/cnnc-cuda-emu-cache),
 *     so data sets and tests with the same kernels and shapes share one binary; the emulation
 *     header is precompiled once.
 *
 * Outcomes: pass; refused (compile() threw CnncError UNSUPPORTED: the reason is recorded);
 * wrong (it compiled and ran, and an output differs or has another dtype: a bug);
 * error (anything else thrown at compile or run time: also a bug).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { compile } from '../../index.js';
import { emuFlags, emulationAvailable, precompiledHeader } from '../../codegen/cuda/emu.js';
import { writeStandalone } from '../../codegen/cuda/standalone.js';
import { lowerCuda } from '../../codegen/cuda/lower.js';
import { decodeModel, importOnnx } from '../../frontends/onnx/import.js';
import type { Graph } from '../../ir/graph.js';
import { CnncError } from '../../runtime/errors.js';
import { load } from '../../runtime/index.js';
import type { CudaPlan } from '../../runtime/cuda/plan.js';
import { fromF64, tensor, toF64, type Tensor } from '../../runtime/tensor.js';
import { compare, readDataSet, type ConformanceTest } from './runner.js';

export const TARGETS = ['wasm', 'wgsl', 'cuda'] as const;
export type ConfTarget = (typeof TARGETS)[number];
export type TargetStatus = 'pass' | 'refused' | 'wrong' | 'error';

export interface TargetResult {
  readonly test: ConformanceTest;
  readonly target: ConfTarget;
  readonly status: TargetStatus;
  readonly reason: string;
  /** Wall time of this test on this target, ms. */
  readonly ms: number;
}

/** Why the CUDA emulation cannot run here ('' when it can). */
export const CUDA_EMU_MISSING = emulationAvailable() ? '' : 'g++ or CUDA headers (cuda_fp16.h) not found';

const CACHE = process.env.CNNC_CUDA_EMU_CACHE ?? path.join(os.tmpdir(), 'cnnc-cuda-emu-cache');

/** One line, at most 400 characters (reasons go into a TSV file and test names). */
const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim().slice(0, 400);

class Refused extends Error {}

/** compile(); an UNSUPPORTED CnncError becomes Refused (the only honest compile-time outcome besides success). */
async function compileFor(g: Graph, target: ConfTarget) {
  try {
    return await compile(g, target);
  } catch (e) {
    if (e instanceof CnncError && e.code === 'UNSUPPORTED') throw new Refused(e.message.replace(/^UNSUPPORTED: /, ''));
    throw e;
  }
}

function gxx(args: string[], cwd: string): void {
  const r = spawnSync('g++', args, { cwd, encoding: 'utf8', maxBuffer: 64 << 20, timeout: 300_000 });
  if (r.status !== 0) throw new CnncError('KERNEL_ERROR', `g++ failed: ${(r.stderr || String(r.error ?? '')).slice(0, 2000)}`);
}

/** The emulated standalone program for the pipelined graph: built once per distinct source (cached). */
function emulatedBinary(g: Graph): { bin: string; dir: string; plan: CudaPlan } {
  const mod = lowerCuda(g);
  fs.mkdirSync(CACHE, { recursive: true });
  const dir = fs.mkdtempSync(path.join(CACHE, 'run-'));
  try {
    writeStandalone(mod, dir);
    const main = fs.readFileSync(path.join(dir, 'main.cu'));
    const kernels = fs.readFileSync(path.join(dir, 'kernels.cu'));
    const key = createHash('sha256').update(main).update(kernels).digest('hex').slice(0, 24);
    const bin = path.join(CACHE, `${key}.bin`);
    if (!fs.existsSync(bin)) {
      gxx([...emuFlags(precompiledHeader()), '-x', 'c++', 'main.cu', '-o', 'model_emu'], dir);
      fs.renameSync(path.join(dir, 'model_emu'), bin);
    }
    return { bin, dir, plan: mod.plan }; // dir holds weights.bin (writeStandalone)
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

/** Runs the emulated CUDA program on `feed` (inputs converted to the plan's dtypes where they differ). */
function runCudaEmu(g: Graph, feed: Record<string, Tensor>): Record<string, Tensor> {
  const { bin, dir, plan } = emulatedBinary(g);
  try {
    fs.writeFileSync(path.join(dir, 'input.bin'), Buffer.concat(plan.inputs.map((io) => {
      const t0 = feed[io.name];
      const t = t0.dtype === io.dtype ? t0 : fromF64(io.dtype, io.shape, toF64(t0));
      return Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    })));
    execFileSync(bin, ['weights.bin', 'input.bin', 'output.bin'], { cwd: dir, encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'pipe'] });
    const raw = fs.readFileSync(path.join(dir, 'output.bin'));
    const outputs: Record<string, Tensor> = {};
    let off = 0;
    for (const o of plan.outputs) {
      const t = tensor(o.dtype, o.shape);
      new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength).set(raw.subarray(off, off + o.bytes));
      off += o.bytes;
      outputs[o.name] = t;
    }
    return outputs;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs a compiled model on `feed`: its artifact through cnnc/runtime, or CUDA's emulated program (cast-special.test.ts too). */
export async function execute(c: Awaited<ReturnType<typeof compile>>, feed: Record<string, Tensor>): Promise<Record<string, Tensor>> {
  if (c.target === 'cuda') return runCudaEmu(c.graph, feed);
  const session = await load(c.save());
  try {
    return await session.run(feed);
  } finally {
    (session as { dispose?: () => void }).dispose?.();
  }
}

/** Runs one reference-passing test on one target over all its data sets. */
export async function runTestOn(test: ConformanceTest, target: ConfTarget): Promise<TargetResult> {
  const t0 = performance.now();
  const done = (status: TargetStatus, reason = ''): TargetResult => ({ test, target, status, reason: oneLine(reason), ms: Math.round(performance.now() - t0) });
  if (target === 'cuda' && CUDA_EMU_MISSING) return done('error', `CUDA emulation unavailable: ${CUDA_EMU_MISSING}`);
  let stage = 'compile';
  try {
    const bytes = fs.readFileSync(path.join(test.dir, 'model.onnx'));
    const inputNames = (decodeModel(bytes).graph?.input ?? []).map((v) => v.name ?? '');
    const sets = fs.readdirSync(test.dir).filter((d) => d.startsWith('test_data_set_')).sort();
    for (const set of sets) {
      const { given, outputs } = readDataSet(path.join(test.dir, set), inputNames);
      stage = 'compile';
      const g = importOnnx(bytes, { modelDir: test.dir, inputValues: given });
      const feed: Record<string, Tensor> = {};
      for (const name of g.inputs) feed[name] = asBf16(given[name], g.type(name).dtype);
      const c = await compileFor(g, target);
      stage = 'run';
      const outs = await execute(c, feed);
      for (const [k, want] of outputs.entries()) {
        const name = g.outputs[k];
        if (name === undefined || !outs[name]) return done('wrong', `${set}: output ${k} missing`);
        const diff = compare(outs[name], asBf16(want, outs[name].dtype));
        if (diff) return done('wrong', `${set} output ${k}: ${diff}`);
      }
    }
    return done('pass');
  } catch (e) {
    if (e instanceof Refused) return done('refused', e.message);
    const err = e as Error;
    const what = e instanceof CnncError ? err.message : `untyped ${err?.name}: ${err?.message}`;
    return done('error', `${stage}: ${what}`);
  }
}

/** As in runner.ts: ONNX 1.12 wrote bf16 test data as UINT16 tensors of the bits. */
function asBf16(t: Tensor, want: string): Tensor {
  return t && t.dtype === 'u16' && want === 'bf16' ? { ...t, dtype: 'bf16' } : t;
}

/**
 * A fixed, stratified share: of each op's (or pytorch source's) reference-passing tests, sorted by
 * id, every `k`-th starting with the first, so every op family is represented.
 */
export function stratified<T extends ConformanceTest>(tests: readonly T[], k: number): T[] {
  const groups = new Map<string, T[]>();
  for (const t of [...tests].sort((a, b) => a.id.localeCompare(b.id))) {
    const key = t.op || t.source;
    groups.set(key, [...(groups.get(key) ?? []), t]);
  }
  return [...groups.values()].flatMap((g) => g.filter((_, i) => i % k === 0));
}
