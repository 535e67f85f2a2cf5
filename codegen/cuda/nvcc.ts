/**
 * nvcc at compile time: locate it, compile a translation unit to PTX (what runtime/cuda loads),
 * or check that it compiles for given GPU architectures with no warnings.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CnncError } from '../../runtime/errors.js';

/** The nvcc to use: $CNNC_NVCC, then PATH, then the usual install places; undefined when none. */
export function findNvcc(): string | undefined {
  const candidates = [process.env.CNNC_NVCC, 'nvcc', '/usr/local/cuda/bin/nvcc', '/usr/local/bin/nvcc'].filter((x): x is string => !!x);
  for (const c of candidates) {
    if (c !== 'nvcc' && !existsSync(c)) continue;
    const r = spawnSync(c, ['--version'], { encoding: 'utf8' });
    if (r.status === 0) return c;
  }
  return undefined;
}

/** The flags every cnnc build uses (the same in BUILD.txt of the standalone program). */
export const NVCC_FLAGS = ['-O3', '-std=c++17'];
/** What cnnc's own checks add: any warning fails the build. */
export const STRICT_FLAGS = ['-Werror', 'all-warnings'];

/**
 * -gencode flags: each arch from its own PTX (compute_a → sm_a); with `ptxArch`, one compute_<ptxArch>
 * PTX assembled for every arch — what a GPU does with the artifact's PTX (compilePtx, compute_80).
 */
export function gencode(archs: readonly number[], ptxArch?: number): string[] {
  if (ptxArch !== undefined) return ['-gencode', `arch=compute_${ptxArch},code=[${archs.map((a) => `sm_${a}`).join(',')}]`];
  return archs.flatMap((a) => ['-gencode', `arch=compute_${a},code=sm_${a}`]);
}

function requireNvcc(): string {
  const nvcc = findNvcc();
  if (!nvcc) throw new CnncError('KERNEL_ERROR', 'nvcc was not found (set CNNC_NVCC or put CUDA on PATH): the CUDA target needs it to build PTX');
  return nvcc;
}

function inTemp<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'cnnc-cuda-'));
  try { return fn(dir); } finally { rmSync(dir, { recursive: true, force: true }); }
}

/** Runs nvcc; a failure or any diagnostic output is a KERNEL_ERROR carrying nvcc's text. */
function run(nvcc: string, args: string[]): void {
  const r = spawnSync(nvcc, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  const diag = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  if (r.status !== 0 || diag) throw new CnncError('KERNEL_ERROR', `nvcc ${args.join(' ')} failed:\n${diag.slice(0, 4000)}`);
}

/** PTX for a virtual architecture (the driver JIT-compiles it for the actual GPU). */
export function compilePtx(source: string, arch = 80): string {
  const nvcc = requireNvcc();
  return inTemp((dir) => {
    writeFileSync(join(dir, 'k.cu'), source);
    run(nvcc, [...NVCC_FLAGS, ...STRICT_FLAGS, `-arch=compute_${arch}`, '--ptx', join(dir, 'k.cu'), '-o', join(dir, 'k.ptx')]);
    return readFileSync(join(dir, 'k.ptx'), 'utf8');
  });
}

/** Compiles the device code for every arch in one nvcc call (--fatbin: no host pass); any warning throws with nvcc's output. */
export function checkCompiles(source: string, archs: readonly number[] = [80, 90]): void {
  const nvcc = requireNvcc();
  inTemp((dir) => {
    writeFileSync(join(dir, 'k.cu'), source);
    run(nvcc, [...NVCC_FLAGS, ...STRICT_FLAGS, ...gencode(archs), '--fatbin', join(dir, 'k.cu'), '-o', join(dir, 'k.fatbin')]);
  });
}


/** checkCompiles without blocking: several units can compile side by side. `ptxArch`: see gencode. */
export async function checkCompilesAsync(source: string, archs: readonly number[] = [80, 90], ptxArch?: number): Promise<void> {
  const nvcc = requireNvcc();
  const dir = await mkdtemp(join(tmpdir(), 'cnnc-cuda-'));
  try {
    await writeFile(join(dir, 'k.cu'), source);
    const args = [...NVCC_FLAGS, ...STRICT_FLAGS, ...gencode(archs, ptxArch), '--fatbin', join(dir, 'k.cu'), '-o', join(dir, 'k.fatbin')];
    const { status, out } = await new Promise<{ status: number | null; out: string }>((resolve, reject) => {
      const p = spawn(nvcc, args);
      let out = '';
      p.stdout.on('data', (d) => { out += d; });
      p.stderr.on('data', (d) => { out += d; });
      p.on('error', reject);
      p.on('close', (status) => resolve({ status, out }));
    });
    if (status !== 0 || out.trim()) throw new CnncError('KERNEL_ERROR', `nvcc ${args.join(' ')} failed:\n${out.trim().slice(0, 4000)}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
