/**
 * Runs generated CUDA on the CPU (tests and debugging on machines without a GPU):
 *   buildEmulatedProgram: the standalone program compiled with g++ and emu/cuda_emu.h;
 *   buildFakeDriver: a fake libcuda.so.1 plus the kernels as a shared library, so runtime/cuda
 *   runs unchanged through koffi (CNNC_LIBCUDA / CNNC_FAKE_KERNELS select them).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CnncError } from '../../runtime/errors.js';
import { translationUnit, type CudaModule } from './lower.js';
import { writeStandalone } from './standalone.js';

const EMU_DIR = join(dirname(fileURLToPath(import.meta.url)), 'emu');
export const EMU_HEADER = join(EMU_DIR, 'cuda_emu.h');

/** CUDA's include folder (for cuda_fp16.h's host half type), or undefined. */
export function cudaInclude(): string | undefined {
  for (const d of [process.env.CUDA_HOME && join(process.env.CUDA_HOME, 'include'), '/usr/local/cuda/include', '/usr/local/cuda-13.0/include']) {
    if (d && spawnSync('test', ['-f', join(d, 'cuda_fp16.h')]).status === 0) return d;
  }
  return undefined;
}

/** Whether the emulation can be built here (g++ and CUDA's headers). */
export function emulationAvailable(): boolean {
  return spawnSync('g++', ['--version']).status === 0 && cudaInclude() !== undefined;
}

function gxx(args: string[], cwd: string): void {
  const r = spawnSync('g++', args, { cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new CnncError('KERNEL_ERROR', `g++ ${args.join(' ')} failed:\n${(r.stderr ?? '').slice(0, 4000)}`);
}

/** g++ flags of every emulated build, with `header` as the emulation header (-include). */
export const emuFlags = (header = EMU_HEADER) => ['-std=c++17', '-O1', '-w', '-DCNNC_EMU', '-include', header, `-I${cudaInclude()}`];

/**
 * The emulation header precompiled once per machine (g++ uses `cuda_emu.h.gch` beside the
 * `-include`d copy; it saves about a second of every build: cuda_fp16.h and the C++ headers).
 * Kept in $CNNC_CUDA_EMU_CACHE (default $TMPDIR/cnnc-cuda-emu-cache) under the header's hash, so an
 * edited header is rebuilt; written to a temporary name and renamed, so parallel builds are safe.
 */
export function precompiledHeader(): string {
  const src = readFileSync(EMU_HEADER);
  const cache = process.env.CNNC_CUDA_EMU_CACHE ?? join(tmpdir(), 'cnnc-cuda-emu-cache');
  const dir = join(cache, `pch-${createHash('sha256').update(src).update(emuFlags('').join(' ')).digest('hex').slice(0, 12)}`);
  const header = join(dir, 'cuda_emu.h');
  if (!existsSync(`${header}.gch`)) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(header, src);
    const tmp = `${header}.gch.${process.pid}`;
    gxx([...emuFlags(header).filter((f) => f !== '-include' && f !== header), '-x', 'c++-header', header, '-o', tmp], dir);
    renameSync(tmp, `${header}.gch`);
  }
  return header;
}

/** Writes the standalone program into `dir` and builds it for the CPU as `dir/model_emu`. */
export function buildEmulatedProgram(mod: CudaModule, dir: string): string {
  writeStandalone(mod, dir);
  gxx([...emuFlags(precompiledHeader()), '-x', 'c++', 'main.cu', '-o', 'model_emu'], dir);
  return join(dir, 'model_emu');
}

/**
 * Builds `dir/libcuda.so.1` (the fake driver) and `dir/kernels_emu.so` (the modules' kernels, each
 * behind `emu_<name>(gx, gy, gz, block, void** params)`); returns the environment that selects them.
 */
export function buildFakeDriver(mods: readonly CudaModule[], dir: string): Record<string, string> {
  const kernels = new Map(mods.flatMap((m) => [...m.kernels]));
  const signatures = Object.assign({}, ...mods.map((m) => m.plan.signatures)) as Record<string, string[]>;
  writeFileSync(join(dir, 'kernels.cu'), translationUnit('kernels for the fake driver', kernels));
  const launchers = [...kernels.keys()].map((k) => {
    const args = signatures[k].map((t, i) => `*(${t}*)p[${i}]`).join(', ');
    return `extern "C" void emu_${k}(unsigned gx, unsigned gy, unsigned gz, unsigned b, void** p) { CNNC_LAUNCH(${k}, gx, gy, gz, b, ${args}); }`;
  });
  writeFileSync(join(dir, 'kernels_emu.cpp'), `#include "kernels.cu"\n${launchers.join('\n')}\n`);
  gxx([...emuFlags(), '-shared', '-fPIC', '-x', 'c++', 'kernels_emu.cpp', '-o', 'kernels_emu.so'], dir);
  gxx(['-std=c++17', '-O1', '-shared', '-fPIC', join(EMU_DIR, 'fake_libcuda.cpp'), '-o', 'libcuda.so.1', '-ldl'], dir);
  return { CNNC_LIBCUDA: join(dir, 'libcuda.so.1'), CNNC_FAKE_KERNELS: join(dir, 'kernels_emu.so') };
}
