/**
 * The WASM-SIMD target: graph → one WebAssembly module (binaryen) + packed weights + a plan, in
 * one artifact that runtime/wasm loads. The module exports `memory`, `run` (every step in order)
 * and each step's function, named after its kernel and variant (`conv3x3_s1_nhwc_4x12_relu`,
 * `dwconv3x3_s2`, `add_bcast`), so a profiler can time layers one by one; the module's name
 * section carries every function's name into profiles and stack traces.
 */
import binaryen from 'binaryen';
import { encodeArtifact, type Artifact, type IOSpec } from '../../runtime/artifact.js';
import { CnncError } from '../../runtime/errors.js';
import type { WasmPlan } from '../../runtime/wasm/index.js';
import type { Graph } from '../../ir/graph.js';
import { placeIntervals } from '../memory-plan.js';
import { newModule } from './builder.js';
import { lower, wasmOps, type Buf, type Loc, type TileOptions } from './lower.js';

/** Every registry op the wasm target lowers (in some modes): the lowering table's ops and every f32 op with a scalar formula. */
export const WASM_OPS: ReadonlySet<string> = wasmOps();

export interface WasmCompileOptions {
  /** Register tile of dense convs: P output pixels × V vectors of 4 output channels (default 4 × 3). */
  tile?: TileOptions;
  /** Run binaryen's optimizer over the module (slower compile, similar speed: V8 optimizes too). */
  optimize?: boolean;
  /** Also build the relaxed-SIMD module (`f32x4.relaxed_madd`) into the artifact (default true). */
  relaxedSimd?: boolean;
}

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

export function compileWasm(g: Graph, options: WasmCompileOptions = {}): WasmCompiled {
  const low = lower(g, options.tile);
  const arenaBytes = placeBuffers(low.bufs);
  const arenaBase = Math.ceil((low.weightsOffset + low.weights.length * 4) / 64) * 64;
  const memoryBytes = arenaBase + arenaBytes + 256;
  const addr = (l: Loc) => (l.buf.id < 0 ? l.off : arenaBase + l.buf.offset + l.off);

  const pages = Math.ceil(memoryBytes / 65536);
  const emit = (relaxed: boolean) => emitModule(low.steps, addr, pages, relaxed, options.optimize ?? false);
  const wasm = emit(false);
  const relaxed = options.relaxedSimd === false ? undefined : emit(true);
  const plan: WasmPlan = {
    memoryBytes,
    weightsOffset: low.weightsOffset,
    arenaOffset: arenaBase,
    arenaBytes,
    inputs: low.inputs.map((x) => ({ name: x.name, offset: addr(x.loc) })),
    outputs: low.outputs.map((x) => ({ name: x.name, offset: addr(x.loc) })),
    steps: low.steps.map((s) => ({ fn: s.fn, node: s.node, op: s.op, flops: s.flops })),
  };
  const weightBytes = new Uint8Array(low.weights.buffer, low.weights.byteOffset, low.weights.byteLength);
  const artifact: Artifact = {
    header: { version: 1, target: 'wasm', inputs: io(g, g.inputs), outputs: io(g, g.outputs), plan, meta: { model: g.name } },
    sections: { module: wasm, ...(relaxed ? { module_relaxed: relaxed } : {}), weights: weightBytes },
  };
  return { artifact, bytes: encodeArtifact(artifact), plan, arenaBytes, weightBytes: weightBytes.length, kernels: low.steps.length };
}

/**
 * One build of the module: every step's function, exported, and `run` calling them in order. The
 * relaxed build differs only in its multiply-adds (`f32x4.relaxed_madd`); the runtime picks it
 * where the engine validates relaxed SIMD.
 */
function emitModule(steps: ReturnType<typeof lower>['steps'], addr: (l: Loc) => number, pages: number, relaxed: boolean, optimize: boolean): Uint8Array {
  const m = newModule({ relaxed });
  try {
    // imported (and re-exported): the runtime makes it, shared between worker threads when threaded
    m.setMemory(pages, pages, 'memory', [], false, false, 'mem');
    m.addMemoryImport('mem', 'env', 'memory');
    for (const s of steps) {
      s.emit(m, addr);
      m.addFunctionExport(s.fn, s.fn);
    }
    m.addFunction('run', binaryen.none, binaryen.none, [], m.block(null, steps.map((s) => m.call(s.fn, [], binaryen.none))));
    m.addFunctionExport('run', 'run');
    if (!m.validate()) throw new CnncError('KERNEL_ERROR', `binaryen rejected the generated module${relaxed ? ' (relaxed-SIMD build)' : ''}`);
    if (optimize) {
      binaryen.setOptimizeLevel(2);
      m.optimize();
    }
    return emitWithNames(m);
  } finally {
    m.dispose();
  }
}
