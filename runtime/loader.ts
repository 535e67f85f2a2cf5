/**
 * The loading API shared by the runtime's entry points (index.ts: every backend; wasm-entry.ts:
 * WebAssembly only): read the source, verify the artifact, open it on the first backend of the
 * preference list that works, and wrap it in one Session shape whatever the backend.
 */
import { decodeArtifact, type Artifact, type IOSpec } from './artifact.js';
import { CnncError } from './errors.js';
import { normalizeFeeds, type Feed } from './feeds.js';
import { readSource, type ArtifactSource } from './source.js';
import { checkRunInputs } from './session.js';
import { tensor, type Tensor } from './tensor.js';

/** Where a session runs. 'webgpu' runs 'wgsl' artifacts; the others run artifacts of their own name. */
export type Backend = 'wasm' | 'webgpu' | 'cuda';

/** The artifact target each backend runs. */
export const TARGET_OF: Record<Backend, string> = { wasm: 'wasm', webgpu: 'wgsl', cuda: 'cuda' };

/** One artifact per target, for a preference list to choose from: `{ wgsl: url1, wasm: url2 }`. */
export type ArtifactSources = { wasm?: ArtifactSource; wgsl?: ArtifactSource; cuda?: ArtifactSource };

/** Time of one kernel (median of the repetitions), in run order. */
export interface KernelTime { kernel: string; node: string; op: string; ms: number }

/** A load's progress: read bytes, verify, open a backend, build GPU pipelines, fall back, ready. */
export interface LoadEvent {
  phase: 'read' | 'verify' | 'open' | 'pipelines' | 'fallback' | 'ready';
  backend?: Backend;
  /** 'read': bytes so far; 'pipelines': pipelines built. */
  done?: number;
  /** 'read': the source's length when known; 'pipelines': pipelines to build. */
  total?: number;
  /** 'fallback': why the backend failed; 'pipelines': the kernel just built. */
  message?: string;
  /** Milliseconds since load() was called. */
  ms: number;
}

export interface LoadOptions {
  /**
   * Backends to try, in order; the first that opens wins (a missing device, a failed shader or a
   * device limit moves on to the next). Default: the artifact's own target; with one artifact per
   * target, cuda → webgpu → wasm among those given. 'wgsl' is accepted for 'webgpu'.
   */
  backends?: readonly (Backend | 'wgsl')[];
  /** One backend (same as `backends: [backend]`). */
  backend?: Backend | 'wgsl';
  /**
   * CPU threads (the caller plus workers) sharing each conv/gemm layer on the wasm backend; default
   * min(cores, 4). Where SharedArrayBuffer is unavailable (a page that is not cross-origin isolated)
   * it runs on one thread and says why in `session.threadsNote`.
   */
  threads?: number;
  /** wasm: which module build runs; 'auto' (default) takes the relaxed-SIMD build where the engine validates it. */
  simd?: 'auto' | 'simd128' | 'relaxed';
  /**
   * WebGPU only: use the f32 shaders even where the adapter has shader-f16; use the unpacked int8
   * shaders even where WGSL has packed 4×8-bit dot products; readback timeout.
   */
  webgpu?: { forceF32?: boolean; unpackedDot?: boolean; timeoutMs?: number };
  /** Progress events (reading, verifying, per-pipeline on WebGPU, fallbacks). */
  onProgress?: (e: LoadEvent) => void;
  /** Most memory the artifact may claim (inputs, outputs, wasm memory), checked before allocating: TOO_LARGE above. Default 2 GiB. */
  maxMemoryBytes?: number;
}

declare global {
  /** Symbol.dispose (for `using`) as TypeScript's esnext.disposable lib and @types/node declare it, so a consumer on an ES2022 lib compiles. */
  interface SymbolConstructor { readonly dispose: unique symbol }
}

/** A loaded model, like onnxruntime's InferenceSession. */
export interface Session {
  /** The artifact's target ('wasm' | 'wgsl' | 'cuda'). */
  readonly target: string;
  /** The backend that runs it. */
  readonly backend: Backend;
  readonly inputs: IOSpec[];
  readonly outputs: IOSpec[];
  /** Threads the session computes on. */
  readonly threads: number;
  /** Why fewer threads run than were asked for (wasm), if so. */
  readonly threadsNote?: string;
  /** Backends tried before this one, and why each failed. */
  readonly fallbacks: { backend: Backend; error: string }[];
  /** Backend facts: the GPU adapter or device and the precision it runs in. */
  readonly device?: string;
  readonly precision?: 'f32' | 'f16';
  /** Runs the model: cnnc tensors, onnxruntime-style `{ type, dims, data }`, `{ data, shape }` or bare typed arrays. */
  run(feeds: Record<string, Feed>): Promise<Record<string, Tensor>>;
  /** Per-kernel times (ms): each kernel run alone, median of `reps` (default 5); feeds default to zeros. */
  profile(feeds?: Record<string, Feed>, options?: { reps?: number }): Promise<KernelTime[]>;
  /** Frees the backend's memory (wasm memory, GPU buffers) once queued runs are done; later runs are BAD_INPUT. */
  dispose(): void;
  [Symbol.dispose](): void;
}

/** What a backend gives the loader. */
export interface Opened {
  run(inputs: Record<string, Tensor>): Promise<Record<string, Tensor>>;
  profile(inputs: Record<string, Tensor>, reps: number): Promise<KernelTime[]>;
  device?: string;
  precision?: 'f32' | 'f16';
  threads?: number;
  threadsNote?: string;
  dispose?(): void;
}

export type Opener = (a: Artifact, options: LoadOptions, emit: (e: Omit<LoadEvent, 'ms'>) => void) => Promise<Opened>;

/** Errors of one backend on this machine, after which the next backend is worth a try. */
const FALLBACK_CODES = new Set(['NO_DEVICE', 'KERNEL_ERROR', 'TOO_LARGE', 'UNSUPPORTED']);

const BACKENDS: readonly Backend[] = ['cuda', 'webgpu', 'wasm'];

function backendOf(name: string): Backend {
  if (name === 'wgsl') return 'webgpu';
  if ((BACKENDS as readonly string[]).includes(name)) return name as Backend;
  throw new CnncError('UNSUPPORTED', `unknown backend '${name}' (backends: ${BACKENDS.join(', ')})`);
}

function preference(o: LoadOptions): Backend[] | undefined {
  const list = o.backends ?? (o.backend !== undefined ? [o.backend] : undefined);
  return list?.map(backendOf);
}

function isSourceMap(s: unknown): s is ArtifactSources {
  if (!s || typeof s !== 'object' || s.constructor !== Object) return false;
  const keys = Object.keys(s);
  return keys.length > 0 && keys.every((k) => k === 'wasm' || k === 'wgsl' || k === 'cuda');
}

/** Reads, verifies and opens an artifact with the given backends; see index.ts `load`. */
export async function loadWith(openers: Partial<Record<Backend, Opener>>, source: ArtifactSource | ArtifactSources, options: LoadOptions = {}): Promise<Session> {
  const t0 = performance.now();
  const emit = (e: Omit<LoadEvent, 'ms'>) => options.onProgress?.({ ...e, ms: performance.now() - t0 });
  const want = preference(options);
  const read = async (src: ArtifactSource): Promise<Artifact> => {
    const bytes = await readSource(src, (done, total) => emit({ phase: 'read', done, total }));
    emit({ phase: 'verify' });
    return decodeArtifact(bytes, { maxMemoryBytes: options.maxMemoryBytes });
  };
  let candidates: { backend: Backend; artifact: () => Promise<Artifact> }[];
  if (isSourceMap(source)) {
    const order = (want ?? BACKENDS).filter((b) => source[TARGET_OF[b] as keyof ArtifactSources] !== undefined);
    if (!order.length) throw new CnncError('UNSUPPORTED', `no artifact given for backends ${(want ?? BACKENDS).join(', ')} (artifacts for: ${Object.keys(source).join(', ')})`);
    candidates = order.map((b) => ({ backend: b, artifact: () => read(source[TARGET_OF[b] as keyof ArtifactSources]!) }));
  } else {
    const a = await read(source);
    const target = a.header.target;
    const own = BACKENDS.find((b) => TARGET_OF[b] === target);
    if (!own) throw new CnncError('BAD_ARTIFACT', `artifact target '${target}' has no runtime here (runtimes: ${BACKENDS.map((b) => TARGET_OF[b]).join(', ')})`);
    if (want && !want.includes(own)) {
      throw new CnncError('UNSUPPORTED', `this artifact was compiled for '${target}', it cannot run on backend${want.length > 1 ? 's' : ''} '${want.join("', '")}'`);
    }
    candidates = [{ backend: own, artifact: async () => a }];
  }
  const fallbacks: { backend: Backend; error: string }[] = [];
  for (const [i, c] of candidates.entries()) {
    try {
      return await open(openers, c.backend, await c.artifact(), options, emit, fallbacks, t0);
    } catch (e) {
      const last = i === candidates.length - 1;
      if (last || !(e instanceof CnncError) || !FALLBACK_CODES.has(e.code)) throw e;
      fallbacks.push({ backend: c.backend, error: e.message });
      emit({ phase: 'fallback', backend: c.backend, message: e.message });
    }
  }
  throw new CnncError('UNSUPPORTED', 'no backend to try'); // unreachable: candidates is never empty
}

async function open(openers: Partial<Record<Backend, Opener>>, backend: Backend, a: Artifact, options: LoadOptions,
  emit: (e: Omit<LoadEvent, 'ms'>) => void, fallbacks: Session['fallbacks'], t0: number): Promise<Session> {
  const opener = openers[backend];
  if (!opener) throw new CnncError('UNSUPPORTED', `this entry point of the runtime has no '${backend}' backend (import the package's main entry for webgpu and cuda)`);
  emit({ phase: 'open', backend });
  const s = await opener(a, options, emit);
  const { inputs, outputs, target } = a.header;
  const guard = guardSession(inputs, s);
  const session: Session = {
    target, backend, inputs, outputs, fallbacks, threads: s.threads ?? 1, threadsNote: s.threadsNote, device: s.device, precision: s.precision,
    run: (feeds) => guard.run(feeds),
    profile: (feeds, o = {}) => guard.queued(async () => s.profile(feeds ? checked(inputs, normalizeFeeds(feeds, inputs)) : zeros(inputs), Math.max(1, o.reps ?? 5))),
    dispose: guard.dispose,
    [Symbol.dispose]: guard.dispose,
  };
  emit({ phase: 'ready', backend, message: `${backend} ready in ${(performance.now() - t0).toFixed(0)} ms` });
  return session;
}

/** Feeds normalized, then checked against the model's inputs (BAD_INPUT naming the difference). */
function checked(specs: readonly IOSpec[], inputs: Record<string, Tensor>): Record<string, Tensor> {
  checkRunInputs(specs, inputs);
  return inputs;
}

/**
 * Runs queued one after another (a GPU session has one set of buffers; wasm one memory), inputs
 * checked before queueing, and dispose() that frees the backend once the queued runs are done.
 */
function guardSession(inputs: readonly IOSpec[], s: Opened) {
  let queue: Promise<unknown> = Promise.resolve();
  let disposed = false;
  const queued = <T>(f: () => Promise<T>): Promise<T> => {
    if (disposed) return Promise.reject(new CnncError('BAD_INPUT', 'run() on a disposed session: load the artifact again'));
    const result = queue.then(f);
    queue = result.catch(() => undefined);
    return result;
  };
  return {
    queued,
    run: async (feeds: Record<string, Feed>) => {
      if (typeof feeds !== 'object' || feeds === null || Array.isArray(feeds)) checkRunInputs(inputs, feeds); // null, numbers: typed
      const t = checked(inputs, normalizeFeeds(feeds, inputs)); // async: a bad feed rejects, never throws
      return queued(() => s.run(t));
    },
    dispose: () => {
      if (disposed) return;
      disposed = true;
      void queue.then(() => s.dispose?.());
    },
  };
}

function zeros(specs: readonly IOSpec[]): Record<string, Tensor> {
  return Object.fromEntries(specs.map((s) => [s.name, tensor(s.dtype, s.shape)]));
}

/** Median of `reps` timings of `f` (after one untimed call). */
export async function medianMs(f: () => unknown, reps: number): Promise<number> {
  await f();
  const ts: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    await f();
    ts.push(performance.now() - t);
  }
  ts.sort((x, y) => x - y);
  return ts[ts.length >> 1];
}
