/**
 * cnnc: compile(graph, target, options) → CompiledModel.
 * The library's front door; the runtime alone lives under cnnc/runtime.
 */
import { CnncError } from './runtime/errors.js';
import type { Tensor } from './runtime/tensor.js';
import type { IOSpec } from './runtime/artifact.js';
import { Graph } from './ir/graph.js';
import { importOnnx, loadOnnxFile } from './frontends/onnx/import.js';
import { zoo, ZOO_NAMES } from './models/index.js';
import { existsSync } from 'node:fs';
import { interpret } from './ir/interpreter.js';
import { verify } from './ir/verify.js';
import { summarize, type Summary } from './ir/summary.js';
import { weightBytes } from './ir/cost.js';
import { runPipeline, type CompileOptions as PipelineOptions, type PassReport } from './passes/pipeline.js';
import { decodeArtifact } from './runtime/artifact.js';
import { load, type Session } from './runtime/index.js';
import type { WgslPlan } from './runtime/webgpu/plan.js';
import type { WasmCompileOptions } from './codegen/wasm/index.js';
import type { WgslOptions } from './codegen/wgsl/index.js';

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

/** Options of compile(): the pass pipeline's, plus per-target code generator settings. */
export interface CompileOptions extends PipelineOptions {
  wasm?: WasmCompileOptions;
  wgsl?: WgslOptions;
}

export interface CompileStats {
  arenaBytes: number;
  weightBytes: number;
  kernels: number;
}

function ioSpecs(g: Graph, names: readonly string[]): IOSpec[] {
  return names.map((name) => ({ name, dtype: g.type(name).dtype, shape: [...g.type(name).shape] }));
}

/** What compile() takes: a Graph (DSL or imported), ONNX bytes, a path to an .onnx file, or 'zoo:NAME'. */
export type ModelSource = Graph | Uint8Array | string;

/** The Graph of a model source: a Graph as is, ONNX bytes imported, a path loaded, 'zoo:NAME' built. */
export function loadModel(model: ModelSource, opts: { batch?: number } = {}): Graph {
  if (model instanceof Graph) return model;
  if (model instanceof Uint8Array) return importOnnx(model, { batch: opts.batch });
  if (typeof model !== 'string') {
    throw new CnncError('BAD_INPUT', 'a model is a Graph, ONNX bytes (Uint8Array), a path to an .onnx file or zoo:NAME');
  }
  if (model.startsWith('zoo:')) {
    const name = model.slice(4);
    if (!ZOO_NAMES.includes(name)) throw new CnncError('IO_ERROR', `no zoo model '${name}'. Try one of: ${ZOO_NAMES.join(', ')} (cnnc zoo lists them)`);
    return zoo(name, { batch: opts.batch });
  }
  if (!existsSync(model)) throw new CnncError('IO_ERROR', `no such file '${model}'. Give a path to an .onnx file or zoo:NAME (cnnc zoo lists the embedded models)`);
  if (!model.endsWith('.onnx')) throw new CnncError('IO_ERROR', `'${model}' is not an .onnx file. cnnc reads ONNX models (.onnx) and zoo:NAME`);
  return loadOnnxFile(model, { batch: opts.batch });
}

/**
 * Compiles a model for a target: imports it if needed, verifies it, runs the target's pass
 * pipeline (see passes/pipeline.ts for the lists per level) and emits the target's kernels.
 *
 * @param model a Graph, ONNX bytes, a path to an .onnx file, or 'zoo:NAME'
 * @param target 'reference' (the interpreter), 'wasm', 'wgsl' or 'cuda'
 * @param options optimization level, fp16, layout, batch, pass list edits
 */
export async function compile(model: ModelSource, target: Target, options: CompileOptions = {}): Promise<CompiledModel> {
  const graph = loadModel(model, options);
  verify(graph);
  const { graph: g, report } = runPipeline(graph, target, options);
  const base = { target, graph: g, inputs: ioSpecs(g, g.inputs), outputs: ioSpecs(g, g.outputs), passes: report, summary: () => summarize(g) };
  if (target === 'reference') {
    return {
      ...base,
      stats: { arenaBytes: 0, weightBytes: weightBytes(g), kernels: 0 },
      run: async (inputs) => interpret(g, inputs),
      save: () => { throw new CnncError('UNSUPPORTED', "the 'reference' target has no artifact; compile for wasm, wgsl or cuda"); },
    };
  }
  // Every target runs through the same path an edge app takes: its artifact, loaded by cnnc/runtime.
  const emitted = await emit(target, g, options);
  let session: Promise<Session> | undefined;
  return {
    ...base,
    stats: emitted.stats,
    save: emitted.bytes,
    run: emitted.run ?? (async (inputs) => {
      // one thread: compile().run is the in-process check of a model; apps load(bytes, { threads })
      session ??= load(emitted.bytes(), { threads: 1 }).catch((e) => { session = undefined; throw e; }); // a failed load is retried
      return (await session).run(inputs);
    }),
  };
}

/** What a code generator hands back: the artifact (made on first request) and the compile report's facts. */
interface Emitted {
  bytes: () => Uint8Array;
  stats: CompileStats;
  /** A target's own run, where loading its artifact is not the way (CUDA: no device → NO_DEVICE before nvcc runs). */
  run?: CompiledModel['run'];
}

async function emit(target: Target, g: Graph, options: CompileOptions): Promise<Emitted> {
  switch (target) {
    case 'wasm': {
      const { compileWasm } = await import('./codegen/wasm/index.js');
      const c = compileWasm(g, options.wasm);
      return { bytes: () => c.bytes, stats: { arenaBytes: c.arenaBytes, weightBytes: c.weightBytes, kernels: c.kernels } };
    }
    case 'wgsl': {
      const { emitWgsl } = await import('./codegen/wgsl/index.js');
      const bytes = emitWgsl(g, options.wgsl);
      const plan = decodeArtifact(bytes).header.plan as WgslPlan;
      const arenaBytes = plan.buffers.reduce((s, b) => s + (b.weight ? 0 : b.elems * (b.dtype === 'f16' ? 2 : 4)), 0);
      return { bytes: () => bytes, stats: { arenaBytes, weightBytes: weightBytes(g), kernels: plan.steps.length } };
    }
    case 'cuda': {
      const { compileCuda } = await import('./codegen/cuda/index.js');
      const c = compileCuda(g); // PTX is built by nvcc when the artifact is first asked for
      return { bytes: c.save, run: c.run, stats: { arenaBytes: c.module.plan.arenaBytes, weightBytes: weightBytes(g), kernels: c.module.plan.steps.length } };
    }
    default:
      throw new CnncError('UNSUPPORTED', `target '${target}' is not available (targets: ${TARGETS.join(', ')})`);
  }
}

export { Graph } from './ir/graph.js';
/** The CUDA target's standalone program (a .cu + host main + weights + nvcc command) from compile(graph, 'cuda'). */
export { writeStandalone } from './codegen/cuda/standalone.js';
export { Model, nn } from './frontends/dsl/index.js';
export { zoo, ZOO_NAMES } from './models/index.js';
export { importOnnx, loadOnnxFile, readTensorProto } from './frontends/onnx/import.js';
export { exportOnnx } from './frontends/onnx/export.js';
export { describePipeline, PASSES, PIPELINES } from './passes/pipeline.js';
export { CnncError } from './runtime/errors.js';
export type { ErrorCode } from './runtime/errors.js';
export { tensor, toF64, fromF64 } from './runtime/tensor.js';
export type { Tensor, DType } from './runtime/tensor.js';
export { interpret } from './ir/interpreter.js';
export { verify } from './ir/verify.js';
export { printGraph } from './ir/print.js';
export { summarize, formatSummary } from './ir/summary.js';
