/**
 * What every CUDA kernel generator returns: one launch of one `__global__` function.
 * A kernel's source is specialised to its layer (shapes baked in) but takes its tensors
 * as pointer arguments, so that identical layers share one kernel (named by a hash of its text).
 */
import type { DType } from '../../runtime/tensor.js';
import { ctype } from './emit.js';
import { CUDA_HELPERS } from './scalar.js';
import { TYPED_HELPERS } from './typed.js';

/** One pointer argument: the graph value (activation or constant) it points at. */
export interface Arg {
  /** Parameter name inside the kernel. */
  param: string;
  /** Graph value name, or a constant the generator added (see LowerCtx.addConstant). */
  value: string;
  dtype: DType;
  /** The kernel writes through it (no const). */
  out?: boolean;
}

export interface Launch {
  /** Name prefix, e.g. 'conv_igemm' (the lowering appends a hash). */
  kind: string;
  args: Arg[];
  /** Statements of the function body. */
  body: string;
  /** Threads per block (1-D blocks). */
  threads: number;
  grid: [number, number, number];
}

export function paramList(args: readonly Arg[]): string {
  return args.map((a) => `${a.out ? '' : 'const '}${ctype(a.dtype)}* __restrict__ ${a.param}`).join(', ');
}

/** The complete function text for a launch under a given name. */
export function kernelSource(name: string, l: Launch): string {
  const body = l.body.split('\n').map((s) => (s ? `  ${s}` : s)).join('\n');
  return `extern "C" __global__ void __launch_bounds__(${l.threads}) ${name}(${paramList(l.args)}) {\n${body}}\n`;
}

/** Blocks of `threads` that cover `n` items. */
export function blocksFor(n: number, threads: number): number {
  return Math.max(1, Math.ceil(n / threads));
}

/**
 * What every translation unit starts with: the headers and the device helpers the rendered scalar
 * formulas call (codegen/cuda/scalar.ts: NaN-propagating max/min, sigmoid, sign, pow).
 */
export const PRELUDE = `#include <cuda_fp16.h>
#include <math.h>
#include <string.h>
#ifndef CNNC_EMU
#include <mma.h>
#endif


${CUDA_HELPERS}
${TYPED_HELPERS}
`;

import type { Graph, Node } from '../../ir/graph.js';
import type { Tensor } from '../../runtime/tensor.js';

/** What an op's generator sees: the node, the graph's types and constants, and a way to add constants. */
export interface LowerCtx {
  readonly graph: Graph;
  readonly node: Node;
  /** Adds a derived constant (folded BN scale, ...) to the weights; returns its value name. */
  addConstant(base: string, t: Tensor): string;
  /**
   * Where output `value` stores its dense flat index `idx` (a C int expression): `idx`, or, for a
   * Concat part written in place (codegen/concat-plan.ts), its place past the pointer, which
   * already points at the part's first element.
   */
  outIndex(value: string, idx: string): string;
  /** Whether `value` is a Concat part its producer writes in place (the Concat copies it no more). */
  inPlace(value: string): boolean;
}
