/**
 * cnnc: compile(graph, target, options) → CompiledModel.
 * The library's front door; the runtime alone lives under cnnc/runtime.
 */
import { CnncError } from './runtime/errors.js';
import type { Tensor } from './runtime/tensor.js';
import type { IOSpec } from './runtime/artifact.js';
import { Graph } from './ir/graph.js';
import { importOnnx, loadOnnxFile } from './frontends/onnx/index.js';
import { zoo, ZOO_NAMES } from './models/index.js';
import { existsSync } from 'node:fs';
import { verify } from './ir/verify.js';
import type { OnProgress } from './ir/progress.js';
import { summarize, type Summary } from './ir/summary.js';
import { runPipeline, type CompileOptions as PipelineOptions, type PassReport } from './passes/pipeline.js';
import { load, type Session } from './runtime/index.js';
import type { CodegenOptions, CompileStats, Target } from './codegen/target.js';
import { getTarget, type TargetName } from './codegen/targets.js';
import { allFusions, type Fusion } from './codegen/fusion-report.js';

export interface CompiledModel {
  readonly target: string;
  /** The optimized graph the kernels were made from. */
  readonly graph: Graph;
  readonly inputs: IOSpec[];
  readonly outputs: IOSpec[];
  /** What the pipeline did: passes with node counts and times. */
  readonly passes: PassReport[];
  /** Facts for the compile report: arena size (0 when the target plans none), weight bytes, kernel count. */
  readonly stats: CompileStats;
  /** Every fusion formed: epilogues, dw+pw, elementwise groups, concats written in place (codegen/fusion-report.ts). */
  readonly fusions: Fusion[];
  /** Runs the model on named inputs. */
  run(inputs: Record<string, Tensor>): Promise<Record<string, Tensor>>;
  /** The serialized artifact that cnnc/runtime loads without the compiler. */
  save(): Uint8Array;
  summary(): Summary;
}

/** Options of compile(): the pass pipeline's, plus per-target code generator settings. */
export interface CompileOptions extends PipelineOptions, CodegenOptions {}

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
 * Compiles a model for a target: imports it if needed, verifies it, runs the pass pipeline with
 * the target's defaults (codegen/targets.ts; the lists per level are in passes/pipeline.ts),
 * verifies the result, refuses up front every node the target cannot lower, and emits its kernels.
 *
 * @param model a Graph, ONNX bytes, a path to an .onnx file, or 'zoo:NAME'
 * @param target 'reference' (the interpreter), 'wasm', 'wgsl' or 'cuda' — or a Target object (codegen/target.ts) not in the registry
 * @param options optimization level, fp16, layout, batch, pass list edits, code generator settings
 */
export async function compile(model: ModelSource, target: TargetName | Target, options: CompileOptions = {}): Promise<CompiledModel> {
  const stage = stageReporter(options.onProgress);
  const t = typeof target === 'string' ? await getTarget(target) : target;
  stage('target'); // loading a code generator takes a while the first time (binaryen for wasm)
  const graph = loadModel(model, options);
  if (!(model instanceof Graph)) stage('import');
  verify(graph);
  const { graph: g, report } = runPipeline(graph, t, options);
  verify(g);
  refuseUnsupported(t, g);
  stage('passes'); // verifying and the whole pipeline (each pass reported on its own too)
  const emitted = await t.compile(g, options);
  stage('codegen');
  // A target without its own run goes through the path an edge app takes: its artifact, loaded by cnnc/runtime.
  let session: Promise<Session> | undefined;
  return {
    target: t.name,
    graph: g,
    inputs: ioSpecs(g, g.inputs),
    outputs: ioSpecs(g, g.outputs),
    passes: report,
    stats: emitted.stats,
    fusions: allFusions(g, emitted.stats.concats),
    summary: () => summarize(g),
    save: () => emitted.bytes(),
    run: emitted.run ?? (async (inputs) => {
      // one thread: compile().run is the in-process check of a model; apps load(bytes, { threads })
      session ??= load(emitted.bytes(), { threads: 1 }).catch((e) => { session = undefined; throw e; }); // a failed load is retried
      return (await session).run(inputs);
    }),
  };
}

/** Reports compile()'s own stages as progress events, each with the time since the previous one. */
function stageReporter(onProgress: OnProgress | undefined): (name: string) => void {
  let t0 = performance.now();
  return (name) => {
    const now = performance.now();
    onProgress?.({ kind: 'stage', name, done: 1, total: 1, ms: now - t0 });
    t0 = now;
  };
}

/** One UNSUPPORTED error listing every node the target cannot lower (op, node, reason), before any code is emitted. */
function refuseUnsupported(target: Target, g: Graph): void {
  const faults = g.nodes.flatMap((n) => {
    const reason = target.supports(n, g);
    return reason === undefined ? [] : [{ n, reason }];
  });
  if (!faults.length) return;
  const list = faults.slice(0, 12).map(({ n, reason }) => `${n.op} '${n.name}' (${reason})`);
  if (faults.length > 12) list.push(`… ${faults.length} in all`);
  throw new CnncError('UNSUPPORTED', `the ${target.name} target cannot lower ${faults.length === 1 ? 'this node' : `these ${faults.length} nodes`}: ${list.join('; ')}`,
    { node: faults[0].n.name, op: faults[0].n.op });
}

export { Graph } from './ir/graph.js';
/** The CUDA target's standalone program (a .cu + host main + weights + nvcc command) from compile(graph, 'cuda'). */
export { writeStandalone } from './codegen/cuda/standalone.js';
export { Model, nn } from './frontends/dsl/index.js';
export { zoo, ZOO_NAMES } from './models/index.js';
export { importOnnx, loadOnnxFile, readTensorProto, type ImportOptions } from './frontends/onnx/index.js';
export { exportOnnx } from './frontends/onnx/export.js';
export { describePipeline, PASSES, PIPELINES } from './passes/pipeline.js';
export type { Fusion, FusionKind } from './codegen/fusion-report.js';
export { TARGETS, TARGET_NAMES, getTarget, type TargetName, type TargetEntry } from './codegen/targets.js';
export type { Target, TargetInfo, Backend, Emitted, CompileStats, CodegenOptions } from './codegen/target.js';
export type { CompileProgress, OnProgress } from './ir/progress.js';
export { CnncError } from './runtime/errors.js';
export type { ErrorCode } from './runtime/errors.js';
export { tensor, toF64, fromF64 } from './runtime/tensor.js';
export type { Tensor, DType } from './runtime/tensor.js';
export { interpret } from './ir/interpreter.js';
export { verify } from './ir/verify.js';
export { printGraph } from './ir/print.js';
export { summarize, formatSummary } from './ir/summary.js';
