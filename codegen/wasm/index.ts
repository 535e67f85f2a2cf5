/**
 * The WASM-SIMD target: graph → one WebAssembly module (binaryen) + packed weights + a plan, in
 * one artifact that runtime/wasm loads. The module exports `memory`, `run` (every step in order)
 * and each step's function, named after its kernel and variant (`conv3x3_s1_nhwc_4x8_relu`,
 * `dwconv3x3_s2`, `add_bcast`), so a profiler can time layers one by one; the module's name
 * section carries every function's name into profiles and stack traces.
 */
import binaryen from 'binaryen';
import { encodeSections, type Artifact, type ArtifactHeader, type IOSpec } from '../../runtime/artifact.js';
import { CnncError } from '../../runtime/errors.js';
import type { WasmPlan } from '../../runtime/wasm/index.js';
import { recordedUnitWork } from './units.js';
import { packWeights } from '../../runtime/wasm/weights.js';
import type { Graph } from '../../ir/graph.js';
import type { OnProgress } from '../../ir/progress.js';
import { getOp } from '../../ir/ops/index.js';
import { formatType, sizeOf } from '../../ir/types.js';
import { placeIntervals } from '../memory-plan.js';
import { newModule } from './builder.js';
import { lower, wasmOps, type Buf, type Loc } from './lower.js';
import type { WasmCompileOptions } from './options.js';

/** Every registry op the wasm target lowers (in some modes): the lowering table's ops and every f32 op with a scalar formula. */
export const WASM_OPS: ReadonlySet<string> = wasmOps();

export type { WasmCompileOptions } from './options.js';

export interface WasmCompiled {
  artifact: Artifact;
  bytes: Uint8Array;
  plan: WasmPlan;
  arenaBytes: number;
  weightBytes: number;
  kernels: number;
}


/**
 * Places the lowering's buffers (values, layout copies, scratch rows, concat slices) in one arena with
 * the shared interval placer (codegen/memory-plan.ts), 64-byte aligned; returns the arena size.
 */
export function placeBuffers(bufs: Buf[]): number {
  return placeIntervals(bufs.filter((b) => b.end >= b.start), 64);
}

/** The module's binary with its name section (binaryen writes names only with debug info on). */
function emitWithNames(m: binaryen.Module): Uint8Array {
  const was = binaryen.getDebugInfo();
  binaryen.setDebugInfo(true);
  try { return m.emitBinary(); } finally { binaryen.setDebugInfo(was); }
}

const io = (g: Graph, names: readonly string[]): IOSpec[] =>
  names.map((name) => ({ name, dtype: g.type(name).dtype, shape: [...g.type(name).shape] }));

/** WebAssembly memory32: at most 65536 pages of 64 KiB. */
export const WASM_MEMORY_LIMIT = 2 ** 32;

/** Reductions whose lowering computes the empty case (f32; other dtypes it refuses itself). */
const EMPTY_REDUCTIONS = new Set(['ReduceSum', 'ReduceMean', 'ReduceMax', 'ReduceMin']);

/**
 * Nodes that would sum over zero elements into a non-empty output (Gemm/MatMul with inner dimension 0,
 * a Conv with no input channels, a reduction over an empty axis): the kernels assume at least one term.
 */
function refuseEmptyReductions(g: Graph): void {
  for (const n of g.nodes) {
    const category = getOp(n.op, n.name).traits.category;
    if (!['matmul', 'conv', 'reduction', 'normalization', 'pool'].includes(category)) continue;
    if (EMPTY_REDUCTIONS.has(n.op)) continue; // lower-reduce.ts gives the reference's identity (0, ±Inf, NaN)
    const out = n.outputs.find((o) => o !== '' && sizeOf(g.type(o).shape) > 0);
    const empty = n.inputs.find((i) => i !== '' && sizeOf(g.type(i).shape) === 0);
    if (out && empty) {
      throw new CnncError('UNSUPPORTED', `input '${empty}' is empty (${formatType(g.type(empty))}) but output '${out}' is ${formatType(g.type(out))}: the wasm target does not compute ${n.op} over zero elements (e.g. an inner dimension of 0)`, { node: n.name, op: n.op, value: empty });
    }
  }
}

/** Most inputs one elementwise node may have: its kernel is one expression, nested once per input (binaryen recurses on it). */
export const WASM_MAX_ELEMENTWISE_INPUTS = 1024;

function refuseHugeElementwise(g: Graph): void {
  for (const n of g.nodes) {
    if (n.inputs.length > WASM_MAX_ELEMENTWISE_INPUTS && getOp(n.op, n.name).traits.elementwise) {
      throw new CnncError('UNSUPPORTED', `${n.op} has ${n.inputs.length} inputs; the wasm target takes at most ${WASM_MAX_ELEMENTWISE_INPUTS} per elementwise node (split it into a tree of ${n.op} nodes)`, { node: n.name, op: n.op });
    }
  }
}

/** Runs a binaryen call with its stderr (validator messages) captured instead of printed. */
function quietly<T>(f: () => T): { value: T; text: string } {
  const write = process.stderr.write;
  let text = '';
  process.stderr.write = ((chunk: string | Uint8Array) => { text += String(chunk); return true; }) as typeof process.stderr.write;
  try {
    return { value: f(), text };
  } finally {
    process.stderr.write = write;
  }
}

/** Runs `f`, then reports it as a finished stage. */
function stage<T>(onProgress: OnProgress | undefined, name: string, f: () => T, build?: string): T {
  const t0 = performance.now();
  const value = f();
  onProgress?.({ kind: 'stage', name, done: 1, total: 1, ms: performance.now() - t0, ...(build ? { build } : {}) });
  return value;
}

/** Compiles an optimized graph; `onProgress` hears the stages (lower, module per build, encode) and every kernel of every build. */
export function compileWasm(g: Graph, options: WasmCompileOptions = {}, onProgress?: OnProgress): WasmCompiled {
  refuseEmptyReductions(g);
  refuseHugeElementwise(g);
  const low = stage(onProgress, 'lower', () => lower(g, options.tile));
  const arenaBytes = placeBuffers(low.bufs);
  const arenaBase = Math.ceil((low.weightsOffset + low.weightBytes) / 64) * 64;
  const memoryBytes = arenaBase + arenaBytes + 256;
  if (!Number.isFinite(memoryBytes)) throw new CnncError('KERNEL_ERROR', `memory planning gave an arena of ${arenaBytes} bytes`);
  if (memoryBytes > WASM_MEMORY_LIMIT) {
    throw new CnncError('TOO_LARGE', `the wasm module needs ${memoryBytes} bytes of memory (arena ${arenaBytes} B, weights ${low.weightBytes} B), over WebAssembly's limit of ${WASM_MEMORY_LIMIT} bytes (4 GiB)`);
  }
  const addr = (l: Loc) => (l.buf.id < 0 ? l.off : arenaBase + l.buf.offset + l.off);

  const pages = Math.ceil(memoryBytes / 65536);
  const builds = options.relaxedSimd === false ? 1 : 2;
  const kernels: KernelCounter = { done: 0, total: builds * low.steps.length, onProgress };
  const emit = (relaxed: boolean) => stage(onProgress, 'module', () => emitModule(low.steps, addr, pages, relaxed, options.optimize ?? false, kernels), buildName(relaxed));
  const { wasm, unitWork } = emit(false);
  const relaxed = builds === 2 ? emit(true).wasm : undefined;
  const packed = stage(onProgress, 'pack weights', () => packWeights(joinParts(low.weights, low.weightBytes)));
  const plan: WasmPlan = {
    memoryBytes,
    weightsOffset: low.weightsOffset,
    weightsBytes: packed.section.length,
    ...(packed.half.length ? { weightsHalf: packed.half } : {}),
    arenaOffset: arenaBase,
    arenaBytes,
    inputs: low.inputs.map((x) => ({ name: x.name, offset: addr(x.loc) })),
    outputs: low.outputs.map((x) => ({ name: x.name, offset: addr(x.loc) })),
    steps: low.steps.map((s) => ({ fn: s.fn, node: s.node, op: s.op, flops: s.flops, ...(unitWork.has(s.fn) ? { unitWork: unitWork.get(s.fn) } : {}) })),
  };
  const header: ArtifactHeader = { version: 1, target: 'wasm', inputs: io(g, g.inputs), outputs: io(g, g.outputs), plan, meta: { model: g.name } };
  const parts = { module: wasm, ...(relaxed ? { module_relaxed: relaxed } : {}), weights: packed.section };
  const { bytes, sections } = stage(onProgress, 'encode', () => encodeSections(header, parts));
  return { artifact: { header, sections }, bytes, plan, arenaBytes, weightBytes: packed.section.length, kernels: low.steps.length };
}

/** The weights region as one f32 array (packWeights scans it in 4-word groups across chunk boundaries). */
function joinParts(parts: readonly Uint8Array[], bytes: number): Float32Array {
  const out = new Uint8Array(bytes);
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return new Float32Array(out.buffer);
}

const buildName = (relaxed: boolean) => (relaxed ? 'relaxed-simd' : 'simd128');

/** Kernels emitted so far over all builds, for the 'kernel' progress events. */
interface KernelCounter { done: number; total: number; onProgress?: OnProgress }

/**
 * One build of the module: every step's function, exported, and `run` calling them in order. The
 * relaxed build differs only in its multiply-adds (`f32x4.relaxed_madd`); the runtime picks it
 * where the engine validates relaxed SIMD.
 */
function emitModule(steps: ReturnType<typeof lower>['steps'], addr: (l: Loc) => number, pages: number, relaxed: boolean, optimize: boolean, kernels: KernelCounter): { wasm: Uint8Array; unitWork: Map<string, number[]> } {
  const m = newModule({ relaxed });
  try {
    // imported (and re-exported): the runtime makes it, shared between worker threads when threaded
    m.setMemory(pages, pages, 'memory', [], false, false, 'mem');
    m.addMemoryImport('mem', 'env', 'memory');
    const unitWork = new Map<string, number[]>();
    for (const s of steps) {
      const t0 = performance.now();
      s.emit(m, addr);
      const work = recordedUnitWork(m, s.fn);
      if (work) unitWork.set(s.fn, work);
      m.addFunctionExport(s.fn, s.fn);
      kernels.onProgress?.({ kind: 'kernel', name: s.fn, node: s.node, build: buildName(relaxed), done: ++kernels.done, total: kernels.total, ms: performance.now() - t0 });
    }
    m.addFunction('run', binaryen.none, binaryen.none, [], m.block(null, steps.map((s) => m.call(s.fn, [], binaryen.none))));
    m.addFunctionExport('run', 'run');
    const check = quietly(() => m.validate());
    if (!check.value) throw new CnncError('KERNEL_ERROR', `binaryen rejected the generated module${relaxed ? ' (relaxed-SIMD build)' : ''}: ${check.text.replace(/\s+/g, ' ').trim().slice(0, 300)}`);
    if (optimize) {
      binaryen.setOptimizeLevel(2);
      m.optimize();
    }
    return { wasm: emitWithNames(m), unitWork };
  } finally {
    m.dispose();
  }
}
