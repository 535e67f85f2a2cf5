/** The CUDA artifact's plan (header.plan): what codegen/cuda writes and runtime/cuda walks. */
import type { DType } from '../tensor.js';

/** A pointer a kernel receives: an offset into the activation arena or into the weights. */
export interface BufRef { region: 'arena' | 'weights'; offset: number }

export interface CudaStep {
  node: string;
  kernel: string;
  grid: [number, number, number];
  block: number;
  args: BufRef[];
}

export interface CudaIO { name: string; dtype: DType; shape: number[]; offset: number; bytes: number }

export interface CudaPlan {
  arenaBytes: number;
  weightsBytes: number;
  /** Kernel names in the module, in source order. */
  kernels: string[];
  /** Kernel name → its parameter types ('const float*', ...), for host code that declares them. */
  signatures: Record<string, string[]>;
  steps: CudaStep[];
  inputs: CudaIO[];
  outputs: CudaIO[];
  model: string;
}

/** Artifact sections of a CUDA artifact. */
export const CUDA_SECTIONS = { weights: 'weights', ptx: 'ptx', source: 'cuda_source' } as const;
