/**
 * cnnc: compile(graph, target, options) → CompiledModel.
 * The library's front door; the runtime alone lives under cnnc/runtime.
 */
import { CnncError } from './runtime/errors.js';
import type { Tensor } from './runtime/tensor.js';
import type { IOSpec } from './runtime/artifact.js';
import type { Graph } from './ir/graph.js';
import { interpret } from './ir/interpreter.js';
import { verify } from './ir/verify.js';
import { summarize, type Summary } from './ir/summary.js';
import { weightBytes } from './ir/cost.js';
import { runPipeline, type CompileOptions, type PassReport } from './passes/pipeline.js';

export type Target = 'reference' | 'wasm' | 'wgsl' | 'cuda';
export const TARGETS: readonly Target[] = ['reference', 'wasm', 'wgsl', 'cuda'];

export interface CompiledModel {
  readonly target: Target;
  /** The optimized graph the kernels were made from. */
  readonly graph: Graph;
  readonly inputs: IOSpec[];
  readonly outputs: IOSpec[];
  /** What the pipeline did: passes with node counts and times. */
  readonly passes: PassReport[];
  /** Facts for the compile report: arena size (0 when the target plans none), weight bytes, kernel count. */
  readonly stats: CompileStats;
  /** Runs the model on named inputs. */
  run(inputs: Record<string, Tensor>): Promise<Record<string, Tensor>>;
  /** The serialized artifact that cnnc/runtime loads without the compiler. */
  save(): Uint8Array;
  summary(): Summary;
}

export type { CompileOptions } from './passes/pipeline.js';

export interface CompileStats {
  arenaBytes: number;
  weightBytes: number;
  kernels: number;
}

function ioSpecs(g: Graph, names: readonly string[]): IOSpec[] {
  return names.map((name) => ({ name, dtype: g.type(name).dtype, shape: [...g.type(name).shape] }));
}

/** Compiles a graph for a target: verifies it, runs the target's pass pipeline, emits kernels. */
export async function compile(graph: Graph, target: Target, options: CompileOptions = {}): Promise<CompiledModel> {
  verify(graph);
  const { graph: g, report } = runPipeline(graph, target, options);
  const base = { target, graph: g, inputs: ioSpecs(g, g.inputs), outputs: ioSpecs(g, g.outputs), passes: report, summary: () => summarize(g) };
  switch (target) {
    case 'reference':
      return {
        ...base,
        stats: { arenaBytes: 0, weightBytes: weightBytes(g), kernels: 0 },
        run: async (inputs) => interpret(g, inputs),
        save: () => { throw new CnncError('UNSUPPORTED', "the 'reference' target has no artifact; compile for wasm, wgsl or cuda"); },
      };
    case 'wasm': {
      const { compileWasm } = await import('./codegen/wasm/index.js');
      const { WasmSession } = await import('./runtime/wasm/index.js');
      const c = compileWasm(g, (options as { wasm?: import('./codegen/wasm/index.js').WasmCompileOptions }).wasm);
      let session: Promise<import('./runtime/wasm/index.js').WasmSession> | undefined;
      return {
        ...base,
        stats: { arenaBytes: c.arenaBytes, weightBytes: c.weightBytes, kernels: c.kernels },
        run: async (inputs) => (await (session ??= WasmSession.create(c.artifact))).run(inputs),
        save: () => c.bytes,
      };
    }
    case 'wgsl': {
      const { emitWgsl } = await import('./codegen/wgsl/index.js');
      const bytes = emitWgsl(g, (options as { wgsl?: import('./codegen/wgsl/index.js').WgslOptions }).wgsl);
      const plan = (await import('./runtime/artifact.js')).decodeArtifact(bytes).header.plan as import('./runtime/webgpu/plan.js').WgslPlan;
      let model: Promise<import('./runtime/webgpu/index.js').WebGpuModel> | undefined;
      return {
        ...base,
        stats: { arenaBytes: plan.buffers.reduce((s, b) => s + (b.weight ? 0 : b.elems * (b.dtype === 'f16' ? 2 : 4)), 0), weightBytes: weightBytes(g), kernels: plan.steps.length },
        run: async (inputs) => {
          model ??= import('./runtime/webgpu/index.js').then((m) => m.WebGpuModel.load(bytes));
          return (await model).run(inputs);
        },
        save: () => bytes,
      };
    }
    default:
      throw new CnncError('UNSUPPORTED', `target '${target}' is not available (targets: ${TARGETS.join(', ')})`);
  }
}

export { Graph } from './ir/graph.js';
export { CnncError } from './runtime/errors.js';
export type { ErrorCode } from './runtime/errors.js';
export { tensor, toF64, fromF64 } from './runtime/tensor.js';
export type { Tensor, DType } from './runtime/tensor.js';
export { interpret } from './ir/interpreter.js';
export { verify } from './ir/verify.js';
export { printGraph } from './ir/print.js';
export { summarize, formatSummary } from './ir/summary.js';
