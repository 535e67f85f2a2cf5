/**
 * The options a pipeline runs with. Their own file so that pass.ts (PassContext) and pipeline.ts
 * (which runs the passes) both read them without importing each other.
 */
import type { Graph, Node } from '../ir/graph.js';
import type { OnProgress } from '../ir/progress.js';

/** What the fp16 pass keeps in f32 (its defaults: DEFAULT_FP16_POLICY in passes/fp16.ts). */
export interface Fp16Policy {
  /** Ops that compute in f16. */
  f16Ops: readonly string[];
  /** Ops that take the dtype of their first float input (they only move data). */
  followOps: readonly string[];
  /** Keep the first weighted layer (Conv/Gemm/… in node order) in f32 (default: yes in 'compute' mode, no in 'storage' mode). */
  keepFirst: boolean;
  /** Keep the last weighted layer in f32 (default: yes in 'compute' mode, no in 'storage' mode). */
  keepLast: boolean;
}

/**
 * What fp16 means for a target. 'compute': eligible ops run in f16, with Casts where f16 and f32 ops
 * meet (wgsl with shader-f16, cuda). 'storage': every op computes in f32 and only the weights of
 * weighted layers are rounded to f16 values, which the artifact stores in half the bytes and the
 * runtime widens to f32 once at load (wasm, which has no f16 arithmetic).
 */
export type Fp16Mode = 'compute' | 'storage';

export type OptLevel = 'O0' | 'O1' | 'O2' | 'O3';

export interface CompileOptions {
  /** Optimization level, -O0 … -O3 (default: the target's). */
  opt?: OptLevel;
  /** Cast eligible ops to f16 (at O2 and above). */
  fp16?: boolean;
  /** What stays f32 under fp16 (defaults: DEFAULT_FP16_POLICY in passes/fp16.ts). */
  fp16Policy?: Partial<Fp16Policy>;
  /** f16 arithmetic or f16 weights only (default: the target's; see Fp16Mode). */
  fp16Mode?: Fp16Mode;
  /** Activation layout the target computes in (NHWC conversion runs at O2 and above). */
  layout?: 'NCHW' | 'NHWC';
  /** Binds a symbolic batch dimension. */
  batch?: number;
  /** Replaces the pass list outright (names from PASSES). */
  passes?: readonly string[];
  /** Pass names to skip. */
  disable?: readonly string[];
  /** Called with the graph after each pass: a callback, or pass names whose result is printed to stderr ('all' for every pass). */
  printAfter?: ((passName: string, graph: Graph) => void) | readonly string[];
  /** Most buffers (inputs + outputs) one fused kernel may bind (wgsl: the storage buffers a shader stage gets); unlimited when absent. */
  maxKernelBuffers?: number;
  /** Verify the graph after every pass (tests set it; compile() verifies its input and the pipeline's result either way). */
  verify?: boolean;
  /** Called after each pass (kind 'pass', with its time and node count); compile() passes it on to the code generator. */
  onProgress?: OnProgress;
}

/** What a target sets when the caller does not: level, layout, precision. */
export type PipelineDefaults = Required<Pick<CompileOptions, 'opt' | 'layout' | 'fp16' | 'fp16Mode'>> & Pick<CompileOptions, 'maxKernelBuffers'>;

/**
 * Who a pipeline runs for: a target's name and defaults (compile() hands the target from the
 * codegen registry; passes/ does not import codegen/), or a bare name, which gets `DEFAULTS`.
 */
export type PipelineTarget = string | {
  readonly name: string;
  readonly defaults: PipelineDefaults;
  /**
   * Why the target cannot lower `node` (undefined: it can). Passes that introduce ops only some
   * targets have kernels for (quantize-qdq's QConv/QGemm) ask it first; without it they keep the graph.
   */
  supports?(node: Node, graph: Graph): string | undefined;
};

/** The defaults for a bare target name: what the wgsl and cuda targets use too. */
export const DEFAULTS: PipelineDefaults = { opt: 'O3', layout: 'NCHW', fp16: false, fp16Mode: 'compute' };
