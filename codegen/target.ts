/**
 * The contract every target meets, so that compile(), the pipeline defaults, the CLI, the ops
 * table and the docs read one registry (codegen/targets.ts) instead of switching on names.
 * A target is split in two because loading a code generator costs: binaryen alone takes seconds
 * under tsx. `TargetInfo` (name, doc, defaults) sits in the registry and loads nothing;
 * `Backend` (what it lowers, how it compiles) lives in codegen/<name>/target.ts and loads on
 * first use. Running an artifact stays in runtime/, which imports nothing from here.
 */
import type { Graph, Node } from '../ir/graph.js';
import type { OnProgress } from '../ir/progress.js';
import type { Tensor } from '../runtime/tensor.js';
import type { WasmCompileOptions } from './wasm/options.js';
import type { WgslOptions } from './wgsl/index.js';
import type { ConcatInPlace } from './fusion-report.js';

/** What a target sets when the caller does not (the pipeline's PipelineDefaults has this shape). */
export interface TargetDefaults {
  /** Optimization level. */
  readonly opt: 'O0' | 'O1' | 'O2' | 'O3';
  /** Activation layout the target's kernels compute in (the pipeline converts to NHWC when asked). */
  readonly layout: 'NCHW' | 'NHWC';
  /** Cast eligible ops to f16. */
  readonly fp16: boolean;
  /** What fp16 does here: f16 arithmetic ('compute'), or f16 weights widened to f32 at load ('storage'; passes/options.ts Fp16Mode). */
  readonly fp16Mode: 'compute' | 'storage';
  /** Most buffers (inputs + outputs) one fused elementwise kernel may bind; unlimited when absent. */
  readonly maxKernelBuffers?: number;
}

/** The registry's facts about a target: known without loading its code generator. */
export interface TargetInfo {
  /** The name compile(), `--target` and the artifact header use. */
  readonly name: string;
  /** One line for `cnnc --help` and the docs. */
  readonly doc: string;
  readonly defaults: TargetDefaults;
}

/** Code generator settings per target, under the target's name (compile()'s options carry them). */
export interface CodegenOptions {
  wasm?: WasmCompileOptions;
  wgsl?: WgslOptions;
  /** Progress of code generation: stages, and each kernel where the target reports them (wasm). */
  onProgress?: OnProgress;
}

/** The facts of the compile report. */
export interface CompileStats {
  /** Bytes of the activation arena (0 when the target plans none). */
  arenaBytes: number;
  weightBytes: number;
  /** Kernels (steps) the artifact runs. */
  kernels: number;
  /** Concats whose parts their producers write in place (codegen/concat-plan.ts), for the fusion report. */
  concats?: ConcatInPlace[];
}

/** What a target's compile hands back. */
export interface Emitted {
  /** The artifact that cnnc/runtime loads (made on first request; the reference target has none and throws). */
  bytes(): Uint8Array;
  stats: CompileStats;
  /**
   * The target's own run, where loading its artifact is not the way: the reference interpreter,
   * and CUDA (no device → NO_DEVICE before nvcc runs). Absent: compile() runs `load(bytes())`.
   */
  run?: (inputs: Record<string, Tensor>) => Promise<Record<string, Tensor>>;
}

/** What a code generator provides (codegen/<name>/target.ts exports one). */
export interface Backend {
  /** Why the target has no kernel for op `op` at all, or undefined when it lowers it (in some modes). */
  supportsOp(op: string): string | undefined;
  /** Why the target cannot lower `node` of `graph` (mode, dtype, shape), or undefined when it can. */
  supports(node: Node, graph: Graph): string | undefined;
  /** Lowers an optimized graph that `supports` accepted node by node. */
  compile(graph: Graph, options: CodegenOptions): Promise<Emitted>;
}

/** A target: its registry facts and its code generator. */
export interface Target extends TargetInfo, Backend {}
