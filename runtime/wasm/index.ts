/**
 * Runs a wasm-target artifact: instantiates its module, copies the packed weights into the module's
 * memory once (widening the runs stored as f16: runtime/wasm/weights.ts), then per run copies inputs to their planned addresses, calls `run`, and copies the
 * outputs out. Imports only from runtime/, so an app bundles it without the compiler.
 */
import { CnncError } from '../errors.js';
import type { Artifact, IOSpec } from '../artifact.js';
import { BYTES_PER_ELEMENT, allocData, sizeOf, type DType, type Tensor } from '../tensor.js';
import { relaxedSimdSupported, type SimdBuild } from './features.js';
import { MAX_THREADS, shareMemory, ThreadPool, threadsUnavailable } from './threads.js';
import { unpackWeights, weightsRegionBytes } from './weights.js';

export interface WasmSessionOptions {
  /** Which module build to run: 'auto' (default) picks the relaxed-SIMD one where the engine validates it. */
  simd?: 'auto' | SimdBuild;
  /** Threads (the caller plus workers) sharing each layer; default 1. Falls back to 1 where SharedArrayBuffer is unavailable. */
  threads?: number;
  /** Threaded: steps with fewer flops than this run on one thread (default MIN_PARALLEL_FLOPS, 65536; 0 splits every splittable step). */
  minParallelFlops?: number;
  /** Memory cap in bytes (default 2 GiB): a plan or module needing more is TOO_LARGE before anything is allocated. */
  maxMemoryBytes?: number;
}

/** The artifact's module for `want`: its relaxed-SIMD build (section `module_relaxed`) where asked for and runnable. */
function pickModule(a: Artifact, want: WasmSessionOptions['simd'] = 'auto'): { build: SimdBuild; bytes: Uint8Array } {
  const relaxed = a.sections.module_relaxed;
  if (want === 'relaxed' && (!relaxed || !relaxedSimdSupported())) {
    throw new CnncError('UNSUPPORTED', relaxed ? 'this engine has no relaxed SIMD (Node 20: --experimental-wasm-relaxed-simd)' : 'this artifact has no relaxed-SIMD build');
  }
  if (want !== 'simd128' && relaxed && relaxedSimdSupported()) return { build: 'relaxed', bytes: relaxed };
  return { build: 'simd128', bytes: a.sections.module };
}

export interface WasmPlan {
  memoryBytes: number;
  weightsOffset: number;
  /** Bytes of the weights section (a shorter section would run with zeros). */
  weightsBytes: number;
  /** Word ranges of the weights region that the section stores as f16 (runtime/wasm/weights.ts); absent: all f32. */
  weightsHalf?: [number, number][];
  arenaOffset: number;
  arenaBytes: number;
  inputs: { name: string; offset: number }[];
  outputs: { name: string; offset: number }[];
  /**
   * One entry per exported step function, in run order; `unitWork`: the relative work of each unit
   * of its `<fn>_range` where they differ (threads then share the work, not the unit count, evenly).
   */
  steps: { fn: string; node: string; op: string; flops: number; unitWork?: number[] }[];
}

/** Dtypes copied in and out byte for byte (one typed-array element per tensor element). */
const IO_DTYPES: ReadonlySet<DType> = new Set<DType>(['f32', 'f64', 'f16', 'i32', 'i64', 'u8', 'i8', 'bool', 'i16', 'u16', 'u32', 'u64',
  // stored as their bits / one element per byte (Cast converts them)
  'bf16', 'f8e4m3fn', 'f8e4m3fnuz', 'f8e5m2', 'f8e5m2fnuz', 'f8e8m0', 'f4e2m1', 'i4', 'u4', 'i2', 'u2']);

/** A tensor's bytes (its typed array's view). */
const bytesOf = (t: Tensor) => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);

function bad(msg: string): never {
  throw new CnncError('BAD_ARTIFACT', msg);
}

const WASM_MAX_MEMORY = 2 ** 32; // 65536 pages of 64 KiB

/**
 * The plan against the artifact: integer, 4-byte aligned offsets; weights below the arena; the arena
 * inside the memory; every input and output inside the arena, inputs not overlapping each other; a
 * memory no larger than the cap (TOO_LARGE, checked before the module is instantiated).
 */
function checkPlan(p: unknown, a: Artifact, maxMemoryBytes: number): WasmPlan {
  const plan = p as WasmPlan;
  const int = (x: unknown) => Number.isSafeInteger(x) && (x as number) >= 0;
  if (!plan || typeof plan !== 'object' || !int(plan.memoryBytes) || !int(plan.weightsOffset) || !int(plan.arenaOffset) || !int(plan.arenaBytes)
    || !Array.isArray(plan.steps) || !Array.isArray(plan.inputs) || !Array.isArray(plan.outputs)) bad('wasm plan is missing or malformed');
  if (plan.memoryBytes > Math.min(maxMemoryBytes, WASM_MAX_MEMORY)) {
    throw new CnncError('TOO_LARGE', `the wasm plan needs ${plan.memoryBytes} bytes of memory, over the limit of ${Math.min(maxMemoryBytes, WASM_MAX_MEMORY)} bytes`);
  }
  if (!a.sections.module || !a.sections.weights) bad("wasm artifact lacks its 'module' or 'weights' section");
  if (a.sections.weights.length !== plan.weightsBytes) bad(`the weights section is ${a.sections.weights.length} bytes, the plan says ${plan.weightsBytes}`);
  if (plan.weightsOffset % 4 !== 0) bad(`the weights offset ${plan.weightsOffset} is not 4-byte aligned`);
  if (plan.weightsOffset + weightsRegionBytes(a.sections.weights.length, plan.weightsHalf) > plan.arenaOffset) bad('weights overlap the arena in the plan');
  if (plan.arenaOffset + plan.arenaBytes > plan.memoryBytes) bad('the arena does not fit the planned memory');
  if (!plan.steps.every((s) => s && typeof s === 'object' && typeof s.fn === 'string'
    && (s.unitWork === undefined || (Array.isArray(s.unitWork) && s.unitWork.every((w) => Number.isFinite(w) && w >= 0))))) bad('wasm plan steps are malformed');
  const ios = (specs: IOSpec[], placed: { name: string; offset: number }[], isInput: boolean) => {
    if (specs.length !== placed.length) bad('plan and header disagree on inputs/outputs');
    return specs.map((s, i) => {
      const at = placed[i];
      const bpe = IO_DTYPES.has(s.dtype) ? BYTES_PER_ELEMENT[s.dtype] : 0;
      const size = sizeOf(s.shape) * bpe;
      if (!at || typeof at !== 'object' || at.name !== s.name || !int(at.offset) || !bpe || at.offset % Math.min(4, bpe) !== 0
        || at.offset + size > plan.memoryBytes || (isInput && (at.offset < plan.arenaOffset || at.offset + size > plan.arenaOffset + plan.arenaBytes))) {
        bad(`input/output '${s.name}' is misplaced in the plan (aligned; inputs inside the arena)`);
      }
      return { name: s.name, start: at.offset, end: at.offset + size };
    });
  };
  const ins = ios(a.header.inputs, plan.inputs, true).sort((x, y) => x.start - y.start);
  ios(a.header.outputs, plan.outputs, false);
  ins.forEach((x, i) => { if (i > 0 && x.start < ins[i - 1].end) bad(`inputs '${ins[i - 1].name}' and '${x.name}' overlap in the plan`); });
  return plan;
}

/** A threaded session's workers stop when the session is garbage-collected (stopThreads() stops them at once). */
const stopWhenCollected = new FinalizationRegistry<ThreadPool>((pool) => pool.dispose());

export class WasmSession {
  readonly inputNames: string[];
  readonly outputNames: string[];

  private constructor(
    readonly header: Artifact['header'],
    readonly plan: WasmPlan,
    public exports: Record<string, unknown>,
    private memory: WebAssembly.Memory,
    /** The module build that runs: 'relaxed' (f32x4.relaxed_madd) or 'simd128'. */
    readonly build: SimdBuild,
    /** The worker pool when threaded (threads > 1). */
    private readonly pool?: ThreadPool,
    /** Why fewer threads run than were asked for (no SharedArrayBuffer, an artifact with its own memory). */
    readonly threadsNote?: string,
  ) {
    this.inputNames = header.inputs.map((i) => i.name);
    this.outputNames = header.outputs.map((o) => o.name);
  }

  static async create(a: Artifact, options: WasmSessionOptions = {}): Promise<WasmSession> {
    const plan = checkPlan(a.header.plan, a, options.maxMemoryBytes ?? 2 ** 31);
    const { build, bytes } = pickModule(a, options.simd);
    const want = Math.max(1, Math.floor(options.threads ?? 1));
    if (want > MAX_THREADS) throw new CnncError('BAD_INPUT', `threads: ${options.threads} asked for, at most ${MAX_THREADS} run (each is a worker with its own instance)`, { value: String(options.threads) });
    let threads = 1, note: string | undefined, pool: ThreadPool | undefined;
    let instance: WebAssembly.Instance;
    try {
      let mod = await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
      // artifacts since the threaded runtime import their memory; older ones define it
      const imported = WebAssembly.Module.imports(mod).some((i) => i.kind === 'memory');
      if (want > 1) note = imported ? threadsUnavailable() : 'this artifact defines its own memory (compiled before threads): 1 thread';
      if (want > 1 && !note) {
        threads = want;
        mod = await WebAssembly.compile(shareMemory(bytes) as Uint8Array<ArrayBuffer>);
      }
      const pages = Math.ceil(plan.memoryBytes / 65536);
      const memory = imported ? new WebAssembly.Memory({ initial: pages, maximum: pages, shared: threads > 1 }) : undefined;
      instance = await WebAssembly.instantiate(mod, memory ? { env: { memory } } : {});
      if (memory && threads > 1) {
        pool = await ThreadPool.start(threads, mod, memory, instance.exports as Record<string, unknown>, plan.steps, options.minParallelFlops);
      }
    } catch (e) {
      if (e instanceof CnncError) throw e;
      bad(`the wasm module does not compile: ${(e as Error).message}`);
    }
    const memory = instance.exports.memory as WebAssembly.Memory;
    if (!(memory instanceof WebAssembly.Memory) || memory.buffer.byteLength < plan.memoryBytes || typeof instance.exports.run !== 'function') {
      bad('the wasm module lacks its memory or run export');
    }
    const missing = plan.steps.find((st) => typeof instance.exports[st.fn] !== 'function');
    if (missing) bad(`the plan's step '${missing.fn}' (node '${missing.node}') is not a function the wasm module exports`);
    if (memory.buffer.byteLength > Math.min(options.maxMemoryBytes ?? 2 ** 31, WASM_MAX_MEMORY) + 65536) {
      throw new CnncError('TOO_LARGE', `the wasm module declares ${memory.buffer.byteLength} bytes of memory, over the cap of ${options.maxMemoryBytes ?? 2 ** 31} bytes`);
    }
    unpackWeights(a.sections.weights, plan.weightsHalf, memory.buffer, plan.weightsOffset);
    const session = new WasmSession(a.header, plan, instance.exports as Record<string, unknown>, memory, build, pool, note);
    if (pool) stopWhenCollected.register(session, pool);
    return session;
  }

  /** Threads that run each parallel layer (1: single-threaded). */
  get threads(): number { return this.pool?.threads ?? 1; }

  /** Stops the worker threads of a threaded session (a single-threaded one holds none). */
  stopThreads(): void { this.pool?.dispose(); }

  /** Checks and copies inputs in; BAD_INPUT names the input at fault. */
  setInputs(inputs: Record<string, Tensor>): void {
    for (const name of Object.keys(inputs)) {
      if (!this.inputNames.includes(name)) throw new CnncError('BAD_INPUT', `'${name}' is not an input of the model (inputs: ${this.inputNames.join(', ')})`, { value: name });
    }
    this.header.inputs.forEach((spec, i) => {
      const t = inputs[spec.name];
      if (!t) throw new CnncError('BAD_INPUT', `missing input '${spec.name}' (f32[${spec.shape}])`, { value: spec.name });
      const same = t.shape.length === spec.shape.length && t.shape.every((d, k) => d === spec.shape[k]);
      if (t.dtype !== spec.dtype || !same || !(t.data instanceof allocData(spec.dtype, 0).constructor) || t.data.length !== sizeOf(spec.shape)) {
        throw new CnncError('BAD_INPUT', `input '${spec.name}' is ${t.dtype}[${t.shape}], the model takes ${spec.dtype}[${spec.shape}]`, { value: spec.name });
      }
      new Uint8Array(this.memory.buffer, this.plan.inputs[i].offset, t.data.byteLength).set(bytesOf(t));
    });
  }

  /** Stops the worker threads and drops the module's instance and memory (the engine frees them); later runs are BAD_INPUT. */
  dispose(): void {
    this.pool?.dispose();
    this.exports = {};
    this.memory = undefined as unknown as WebAssembly.Memory;
  }

  getOutputs(): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    this.header.outputs.forEach((spec, i) => {
      const t: Tensor = { dtype: spec.dtype, shape: [...spec.shape], data: allocData(spec.dtype, sizeOf(spec.shape)) };
      bytesOf(t).set(new Uint8Array(this.memory.buffer, this.plan.outputs[i].offset, t.data.byteLength));
      out[spec.name] = t;
    });
    return out;
  }

  async run(inputs: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    return this.runSync(inputs);
  }

  runSync(inputs: Record<string, Tensor>): Record<string, Tensor> {
    if (!this.memory) throw new CnncError('BAD_INPUT', 'run() on a disposed session: load the artifact again');
    this.setInputs(inputs);
    if (this.pool) {
      this.pool.run();
      return this.getOutputs();
    }
    try {
      (this.exports.run as () => void)();
    } catch (e) {
      throw new CnncError('KERNEL_ERROR', `the wasm module trapped: ${(e as Error).message}`);
    }
    return this.getOutputs();
  }
}
