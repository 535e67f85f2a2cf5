/**
 * The target registry: the one list of targets that compile() (index.ts), the pipeline defaults,
 * the CLI's `--target` choices and help, the ops table (scripts/ops-table.ts) and the docs read.
 * Each entry holds the facts known without loading code (TargetInfo) and a loader for its Backend,
 * so `cnnc --help` or a reference compile never load binaryen. To add a target, see
 * docs/adding-a-target.md.
 */
import { CnncError } from '../runtime/errors.js';
import type { Backend, Target, TargetInfo } from './target.js';

export type TargetName = 'reference' | 'wasm' | 'wgsl' | 'cuda';

/** A registry entry: the facts, and the loader of the code generator. */
export interface TargetEntry extends TargetInfo {
  readonly name: TargetName;
  load(): Promise<Backend>;
}

export const TARGETS: Readonly<Record<TargetName, TargetEntry>> = {
  reference: {
    name: 'reference',
    doc: 'the float64 reference interpreter (no artifact; the golden model)',
    defaults: { opt: 'O0', layout: 'NCHW', fp16: false, fp16Mode: 'compute' },
    load: async () => (await import('./reference/target.js')).referenceBackend,
  },
  wasm: {
    name: 'wasm',
    doc: 'WebAssembly SIMD, one module (Node and browsers)',
    defaults: { opt: 'O3', layout: 'NHWC', fp16: false, fp16Mode: 'storage' },
    load: async () => (await import('./wasm/target.js')).wasmBackend,
  },
  wgsl: {
    name: 'wgsl',
    doc: 'WebGPU compute shaders (WGSL)',
    // one storage buffer per operand of a fused elementwise kernel: 8 per shader stage on the
    // compatibility (OpenGL ES) adapters, as the elementwise kernel binds at most 7 inputs + 1 output
    defaults: { opt: 'O3', layout: 'NCHW', fp16: false, fp16Mode: 'compute', maxKernelBuffers: 8 },
    load: async () => (await import('./wgsl/target.js')).wgslBackend,
  },
  cuda: {
    name: 'cuda',
    doc: 'CUDA kernels, PTX built with nvcc (NVIDIA GPUs)',
    defaults: { opt: 'O3', layout: 'NCHW', fp16: false, fp16Mode: 'compute' },
    load: async () => (await import('./cuda/target.js')).cudaBackend,
  },
};

/** Every target name, in table order. */
export const TARGET_NAMES = Object.keys(TARGETS) as readonly TargetName[];

/** The targets that emit an artifact (everything but the reference interpreter). */
export const ARTIFACT_TARGETS: readonly TargetName[] = TARGET_NAMES.filter((t) => t !== 'reference');

export function isTargetName(name: string): name is TargetName {
  return Object.hasOwn(TARGETS, name);
}

/** The registry entry of a target, or UNSUPPORTED naming the targets there are. */
export function targetInfo(name: string): TargetEntry {
  if (!isTargetName(name)) throw new CnncError('UNSUPPORTED', `no target '${name}' (targets: ${TARGET_NAMES.join(', ')})`);
  return TARGETS[name];
}

const loaded = new Map<TargetName, Promise<Target>>();

/** A target with its code generator loaded (once). */
export async function getTarget(name: string): Promise<Target> {
  const info = targetInfo(name);
  let t = loaded.get(info.name);
  if (!t) {
    t = info.load().then((backend) => ({ name: info.name, doc: info.doc, defaults: info.defaults, ...backend }));
    loaded.set(info.name, t);
  }
  return t;
}
