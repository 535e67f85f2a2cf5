/**
 * The WebGPU runtime: loads a 'wgsl' artifact, creates its buffers, uploads the weights once,
 * builds one pipeline per shader and one bind group per step, then on each run writes the
 * inputs, records every dispatch in one compute pass and reads the outputs back.
 * Runs in browsers (navigator.gpu) and in Node (the `webgpu` package). No compiler imports.
 */
/// <reference types="@webgpu/types" />
import { decodeArtifact, type Artifact } from '../artifact.js';
import { CnncError } from '../errors.js';
import { f16ToF32, f32ToF16, sizeOf, tensor, type DType, type Tensor } from '../tensor.js';
import { gpuContext, type GpuContext } from './device.js';
import { BYTES, type BufferDType, type PlanRangeChecks, type PlanStep, type WgslPlan } from './plan.js';

export type { WgslPlan } from './plan.js';
export { gpuContext } from './device.js';

export interface WebGpuOptions {
  /** Use the f32 shaders even where the adapter has shader-f16. */
  forceF32?: boolean;
  /** Use the unpacked int8 shaders even where WGSL has packed 4×8-bit dot products (to test both paths). */
  unpackedDot?: boolean;
  /** How long a readback may take before it is declared hung (ms). */
  timeoutMs?: number;
  /** Called after each shader's pipeline is built (the slow part of a load on a software GPU). */
  onPipeline?: (done: number, total: number, kernel: string) => void;
}

/** A loaded model; `run` may be called any number of times (not concurrently). */
export class WebGpuModel {
  /** 'f16' when the shaders run in half precision, else 'f32'. */
  readonly precision: 'f16' | 'f32';
  /** Whether int8 kernels run with WGSL's packed dot products (dot4I8Packed) rather than unpacked i32 math. */
  readonly packedDot: boolean;
  readonly adapterName: string;
  private lost?: string;
  private queue: Promise<unknown> = Promise.resolve();
  private disposed = false;

  private constructor(
    private readonly art: Artifact,
    private readonly plan: WgslPlan,
    private readonly ctx: GpuContext,
    private readonly buffers: GPUBuffer[],
    private readonly steps: { step: PlanStep; pipeline: GPUComputePipeline; group: GPUBindGroup }[],
    private readonly timeoutMs: number,
    f16: boolean,
    packedDot: boolean,
  ) {
    this.precision = f16 ? 'f16' : 'f32';
    this.packedDot = packedDot;
    this.adapterName = ctx.adapterName;
    // the device is shared and outlives this model: its lost promise must not hold the model (buffers,
    // pipelines, the artifact) alive after dispose, so the callback reaches it through a WeakRef
    const self = new WeakRef<WebGpuModel>(this);
    void ctx.device.lost.then((info) => { const m = self.deref(); if (m) m.lost = info.message || info.reason || 'device lost'; });
  }

  get inputs() { return this.art.header.inputs; }
  get outputs() { return this.art.header.outputs; }

  static async load(bytes: Uint8Array | Artifact, options: WebGpuOptions = {}): Promise<WebGpuModel> {
    const art = bytes instanceof Uint8Array ? decodeArtifact(bytes) : bytes;
    if (art.header.target !== 'wgsl') throw new CnncError('BAD_ARTIFACT', `artifact is for target '${art.header.target}', not 'wgsl'`);
    const given = art.header.plan as WgslPlan;
    if (!given || !Array.isArray(given.buffers) || !Array.isArray(given.steps)) throw new CnncError('BAD_ARTIFACT', 'wgsl plan lacks buffers or steps');
    const ctx = await gpuContext();
    // steps with a packed-dot-product variant take it where WGSL has the language feature
    const packed = ctx.packedDot && !options.unpackedDot && given.steps.some((s) => s.packed);
    const plan = packed ? { ...given, steps: given.steps.map((s) => (s.packed ? { ...s, ...s.packed } : s)) } : given;
    const f16 = plan.hasF16 && ctx.hasF16 && !options.forceF32 && art.sections['wgsl.f16'] !== undefined;
    const shaders = readShaders(art, f16 ? 'wgsl.f16' : 'wgsl.f32');
    checkLimits(plan, ctx.device, f16);
    const buffers = createBuffers(art, plan, ctx.device, f16);
    const steps = await createPipelines(plan, shaders, ctx.device, buffers, options.onPipeline);
    return new WebGpuModel(art, plan, ctx, buffers, steps, options.timeoutMs ?? 60_000, f16, packed);
  }

  /** Runs the model; concurrent calls are queued (one set of buffers), each gets its own outputs. */
  run(inputs: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    if (this.disposed) return Promise.reject(new CnncError('BAD_INPUT', 'run() on a disposed session: load the artifact again'));
    const result = this.queue.then(() => {
      if (this.lost) throw new CnncError('KERNEL_ERROR', `the WebGPU device was lost: ${this.lost}`);
      return this.runOnce(inputs);
    });
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async runOnce(inputs: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    const { device } = this.ctx;
    const f16 = this.precision === 'f16';
    for (const io of this.plan.inputs) {
      const spec = this.art.header.inputs.find((s) => s.name === io.name)!;
      const t = inputs[io.name];
      if (!t) throw new CnncError('BAD_INPUT', `missing input '${io.name}'`, { value: io.name });
      if (t.dtype !== spec.dtype || t.shape.length !== spec.shape.length || t.shape.some((d, i) => d !== spec.shape[i])) {
        throw new CnncError('BAD_INPUT', `input '${io.name}' is ${t.dtype}[${t.shape}], the model takes ${spec.dtype}[${spec.shape}]`, { value: io.name });
      }
      device.queue.writeBuffer(this.buffers[io.buffer], 0, padded(toDevice(t, this.plan.buffers[io.buffer].dtype, f16, io.name)));
    }
    const checks = this.plan.rangeChecks;
    if (checks) device.queue.writeBuffer(this.buffers[checks.buffer], 0, new Uint32Array(checks.checks.length).fill(NOT_HIT));
    for (const name of Object.keys(inputs)) {
      if (!this.plan.inputs.some((i) => i.name === name)) throw new CnncError('BAD_INPUT', `'${name}' is not an input of the model`, { value: name });
    }
    device.pushErrorScope('validation');
    device.pushErrorScope('out-of-memory');
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    for (const s of this.steps) {
      pass.setPipeline(s.pipeline);
      pass.setBindGroup(0, s.group);
      pass.dispatchWorkgroups(...s.step.dispatch);
    }
    pass.end();
    const staging = this.plan.outputs.map((o) => {
      const size = byteSize(this.plan.buffers[o.buffer].dtype, this.plan.buffers[o.buffer].elems, f16);
      const b = device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      enc.copyBufferToBuffer(this.buffers[o.buffer], 0, b, 0, size);
      return b;
    });
    if (checks) staging.push(stagingCopy(device, enc, this.buffers[checks.buffer], 4 * checks.checks.length));
    device.queue.submit([enc.finish()]);
    const oom = await device.popErrorScope();
    const invalid = await device.popErrorScope();
    if (oom || invalid) {
      staging.forEach((b) => b.destroy());
      throw new CnncError('KERNEL_ERROR', `running the model failed: ${(oom ?? invalid)!.message}`);
    }
    try {
      await withTimeout(Promise.all(staging.map((b) => b.mapAsync(GPUMapMode.READ))), this.timeoutMs, () => this.lost).catch((e) => {
        if (e instanceof CnncError) throw e;
        throw new CnncError('KERNEL_ERROR', `reading the outputs back failed${this.lost ? ` (the WebGPU device was lost: ${this.lost})` : ''}: ${(e as Error).message}`);
      });
      if (checks) throwIfOutOfRange(checks, new Uint32Array(staging[staging.length - 1].getMappedRange().slice(0)));
      const out: Record<string, Tensor> = {};
      this.plan.outputs.forEach((o, i) => {
        const spec = this.art.header.outputs.find((s) => s.name === o.name)!;
        out[o.name] = fromDevice(staging[i].getMappedRange().slice(0), spec.dtype, spec.shape, this.plan.buffers[o.buffer].dtype, f16);
      });
      return out;
    } finally {
      staging.forEach((b) => b.destroy());
    }
  }

  /**
   * Time per step (ms, median of `reps`): each dispatch submitted alone and waited for, after one
   * full run has put real data in every buffer. For benchmarks (no timestamp queries needed).
   */
  async profile(inputs: Record<string, Tensor>, reps = 5): Promise<{ kernel: string; node: string; op: string; ms: number }[]> {
    await this.run(inputs);
    const { device } = this.ctx;
    const out = [];
    for (const s of this.steps) {
      const ts: number[] = [];
      for (let r = 0; r < reps + 1; r++) {
        const t0 = performance.now();
        const enc = device.createCommandEncoder();
        const pass = enc.beginComputePass();
        pass.setPipeline(s.pipeline);
        pass.setBindGroup(0, s.group);
        pass.dispatchWorkgroups(...s.step.dispatch);
        pass.end();
        device.queue.submit([enc.finish()]);
        await withTimeout(device.queue.onSubmittedWorkDone(), this.timeoutMs, () => this.lost);
        if (r > 0) ts.push(performance.now() - t0); // the first may include the driver's shader compile
      }
      ts.sort((a, b) => a - b);
      out.push({ kernel: s.step.kernel, node: s.step.node, op: s.step.op, ms: ts[ts.length >> 1] });
    }
    return out;
  }

  /** Frees the GPU buffers and drops the pipelines and bind groups (the shared device stays); later runs are BAD_INPUT. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    void this.queue.then(() => { // after the runs already queued
      for (const b of this.buffers) b.destroy();
      this.buffers.length = 0;
      this.steps.length = 0;
    });
  }
}

/** What a range-check slot holds until a kernel records an element there (atomicMin). */
const NOT_HIT = 0xffffffff;

function stagingCopy(device: GPUDevice, enc: GPUCommandEncoder, from: GPUBuffer, size: number): GPUBuffer {
  const b = device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  enc.copyBufferToBuffer(from, 0, b, 0, size);
  return b;
}

/** OUT_OF_RANGE for the first check a kernel hit: an i64 result that the i32 carrier cannot hold. */
function throwIfOutOfRange(rc: PlanRangeChecks, status: Uint32Array): void {
  const k = status.findIndex((v) => v !== NOT_HIT);
  if (k < 0) return;
  const c = rc.checks[k];
  throw new CnncError('OUT_OF_RANGE', `i64 result element ${status[k]} is outside the i32 range the wgsl target carries i64 in (the true value would have been wrapped)`, { node: c.node, op: c.op, value: c.value });
}

/** Bytes of a buffer in the chosen variant (f16 buffers hold f32 in the f32 variant); multiple of 4. */
function byteSize(dtype: BufferDType, elems: number, f16: boolean): number {
  const per = dtype === 'f16' && !f16 ? 4 : BYTES[dtype];
  return Math.max(4, Math.ceil((per * elems) / 4) * 4);
}

function readShaders(art: Artifact, section: string): string[] {
  const bytes = art.sections[section];
  if (!bytes) throw new CnncError('BAD_ARTIFACT', `wgsl artifact lacks section '${section}'`);
  try {
    const list = JSON.parse(new TextDecoder().decode(bytes));
    if (Array.isArray(list) && list.every((s) => typeof s === 'string')) return list;
  } catch { /* fall through */ }
  throw new CnncError('BAD_ARTIFACT', `section '${section}' is not a JSON list of shader sources`);
}

/** Buffers and bindings over the device's limits are TOO_LARGE errors naming the first kernel that uses them. */
function checkLimits(plan: WgslPlan, device: GPUDevice, f16: boolean): void {
  const lim = device.limits;
  const maxBinding = Math.min(lim.maxStorageBufferBindingSize, lim.maxBufferSize);
  plan.buffers.forEach((b, i) => {
    const size = byteSize(b.dtype, b.elems, f16);
    if (size > maxBinding) {
      const user = plan.steps.find((s) => s.bindings.includes(i));
      throw new CnncError('TOO_LARGE', `buffer ${i} of ${size} bytes is over the device's storage binding limit of ${maxBinding} bytes${user ? ` (kernel ${user.kernel})` : ''}`, { node: user?.node, op: user?.op });
    }
  });
  for (const s of plan.steps) {
    if (s.bindings.length > lim.maxStorageBuffersPerShaderStage) {
      throw new CnncError('TOO_LARGE', `kernel ${s.kernel} binds ${s.bindings.length} storage buffers, the device allows ${lim.maxStorageBuffersPerShaderStage}`, { node: s.node, op: s.op });
    }
    if (s.dispatch.some((d) => d > lim.maxComputeWorkgroupsPerDimension)) {
      throw new CnncError('TOO_LARGE', `kernel ${s.kernel} dispatches [${s.dispatch}] workgroups, the device allows ${lim.maxComputeWorkgroupsPerDimension} per dimension`, { node: s.node, op: s.op });
    }
  }
  const need = plan.limits as unknown as Record<string, number>;
  const have = lim as unknown as Record<string, number>;
  for (const [k, v] of Object.entries(need)) {
    if (typeof have[k] === 'number' && v > have[k]) throw new CnncError('TOO_LARGE', `the shaders were generated for ${k} = ${v}, the device offers ${have[k]}`);
  }
}

function createBuffers(art: Artifact, plan: WgslPlan, device: GPUDevice, f16: boolean): GPUBuffer[] {
  const weights = art.sections.weights ?? new Uint8Array(0);
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  return plan.buffers.map((b) => {
    const size = byteSize(b.dtype, b.elems, f16);
    if (!b.weight) return device.createBuffer({ size, usage });
    const { offset, length } = b.weight;
    if (offset < 0 || offset + length > weights.length) throw new CnncError('BAD_ARTIFACT', 'a weight lies outside the weights section');
    let data: Uint8Array = weights.slice(offset, offset + length);
    if (b.dtype === 'f16' && !f16) data = widenF16(data);
    const buf = device.createBuffer({ size, usage, mappedAtCreation: true });
    new Uint8Array(buf.getMappedRange()).set(data.subarray(0, size));
    buf.unmap();
    return buf;
  });
}

/**
 * Compiled pipelines per device, by shader source: loading the same model again (or another with the
 * same kernels) reuses them. Dropping a pipeline does not give back what the driver spent compiling it
 * (Dawn on llvmpipe kept ~2 MiB per LeNet-5 load), so reuse is what keeps load/dispose cycles flat.
 */
const PIPELINES = new WeakMap<GPUDevice, Map<string, GPUComputePipeline>>();
function pipelineCache(device: GPUDevice): Map<string, GPUComputePipeline> {
  let m = PIPELINES.get(device);
  if (!m) PIPELINES.set(device, (m = new Map()));
  return m;
}

async function createPipelines(plan: WgslPlan, shaders: string[], device: GPUDevice, buffers: GPUBuffer[], onPipeline?: WebGpuOptions['onPipeline']) {
  const pipelines = new Map<number, GPUComputePipeline>();
  const firstUser = new Map<number, PlanStep>();
  const fresh = new Set<number>(); // shaders compiled by this load (not from the cache): warmed up below
  for (const s of plan.steps) if (!firstUser.has(s.shader)) firstUser.set(s.shader, s);
  const build = async (index: number): Promise<GPUComputePipeline> => {
    const step = firstUser.get(index)!;
    const code = shaders[index];
    if (code === undefined) throw new CnncError('BAD_ARTIFACT', `kernel ${step.kernel} names shader ${index}, which is missing`);
    const cached = pipelineCache(device).get(code);
    if (cached) return cached;
    device.pushErrorScope('validation');
    const module = device.createShaderModule({ code, label: step.kernel });
    const info = await module.getCompilationInfo();
    const errors = info.messages.filter((m) => m.type === 'error');
    let pipeline: GPUComputePipeline | undefined;
    let err: string | undefined;
    if (!errors.length) {
      try {
        pipeline = await device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: step.kernel });
      } catch (e) { err = (e as Error).message; }
    }
    const scope = await device.popErrorScope();
    if (errors.length || err || scope || !pipeline) {
      const msg = errors.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`).join('; ') || err || scope?.message || 'unknown error';
      throw new CnncError('KERNEL_ERROR', `shader of kernel ${step.kernel} failed to compile: ${msg}`, { node: step.node, op: step.op });
    }
    fresh.add(index);
    pipelineCache(device).set(code, pipeline);
    return pipeline;
  };
  const steps = [];
  // One pipeline at a time: error scopes are a per-device stack, so concurrent builds could
  // file one kernel's error under another's name.
  for (const step of plan.steps) {
    const first = !pipelines.has(step.shader);
    if (first) pipelines.set(step.shader, await build(step.shader));
    const pipeline = pipelines.get(step.shader)!;
    device.pushErrorScope('validation');
    const group = device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: step.bindings.map((b, i) => {
        if (!buffers[b]) throw new CnncError('BAD_ARTIFACT', `kernel ${step.kernel} binds buffer ${b}, which does not exist`);
        return { binding: i, resource: { buffer: buffers[b] } };
      }),
    });
    const e = await device.popErrorScope();
    if (e) throw new CnncError('KERNEL_ERROR', `binding the buffers of kernel ${step.kernel} failed: ${e.message}`, { node: step.node, op: step.op });
    if (fresh.delete(step.shader)) await warmUp(device, pipeline, group);
    if (first) onPipeline?.(pipelines.size, firstUser.size, step.kernel);
    steps.push({ step, pipeline, group });
  }
  return steps;
}

/**
 * Mesa's lavapipe (Vulkan on the CPU) JIT-compiles a compute shader at its first dispatch, not when the
 * pipeline is created; a tiled GEMM shader takes it 3-11 CPU seconds. Left to the first run, every
 * kernel's compile lands inside one submit and the readback seems to hang (EfficientNet-B0: minutes).
 * An empty dispatch (no workgroups, nothing written) makes it compile here, one kernel at a time, where
 * onPipeline reports progress. (Dawn's OpenGL ES backend compiles nothing for it: there the first real
 * dispatch still does.)
 */
async function warmUp(device: GPUDevice, pipeline: GPUComputePipeline, group: GPUBindGroup): Promise<void> {
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, group);
  pass.dispatchWorkgroups(0);
  pass.end();
  device.queue.submit([enc.finish()]);
  await device.queue.onSubmittedWorkDone();
}

/** A tensor's bytes as the buffer holds them (`name`: the input, for errors). */
function toDevice(t: Tensor, dtype: BufferDType, f16: boolean, name: string): Uint8Array {
  if (dtype === 'f16' && !f16) {
    const src = t.data as Uint16Array;
    const out = new Float32Array(src.length);
    for (let i = 0; i < src.length; i++) out[i] = f16ToF32(src[i]);
    return new Uint8Array(out.buffer);
  }
  if (t.dtype === 'f64') return new Uint8Array(narrowF64(t.data as Float64Array, name).buffer);
  if (t.dtype === 'u64') return new Uint8Array(narrowU64(t.data as BigUint64Array, name).buffer);
  if (dtype === 'i32' && t.dtype !== 'i32') {
    // i64, u8, i8 and bool are carried as i32: an i64 value outside i32 is refused, never wrapped
    const v = Int32Array.from(t.data as ArrayLike<number>, Number);
    if (t.dtype === 'i64') {
      const d = t.data as BigInt64Array;
      const k = d.findIndex((x, i) => BigInt(v[i]) !== x);
      if (k >= 0) throw new CnncError('BAD_INPUT', `i64 input element ${k} is ${d[k]}, outside the i32 range the wgsl target carries i64 in`, { value: name });
    }
    return new Uint8Array(v.buffer);
  }
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

/**
 * f64 is carried as f32 (WGSL has no f64): each value rounds once, to within 2^-24 of itself
 * relatively; a finite value beyond the f32 range is refused rather than turned into ±∞.
 */
function narrowF64(d: Float64Array, name: string): Float32Array {
  const v = Float32Array.from(d);
  const k = d.findIndex((x, i) => Number.isFinite(x) && !Number.isFinite(v[i]));
  if (k >= 0) throw new CnncError('BAD_INPUT', `f64 input element ${k} is ${d[k]}, beyond the f32 range the wgsl target carries f64 in`, { value: name });
  return v;
}

/** u64 is carried as u32: a value of 2^32 or more is refused, never wrapped. */
function narrowU64(d: BigUint64Array, name: string): Uint32Array {
  const k = d.findIndex((x) => x >= 0x100000000n);
  if (k >= 0) throw new CnncError('BAD_INPUT', `u64 input element ${k} is ${d[k]}, outside the u32 range the wgsl target carries u64 in`, { value: name });
  return Uint32Array.from(d, Number);
}

/** Dtypes the wgsl target carries as their codes in i32 buffers (codegen/minifloat.ts's bit floats). */
const BIT_DTYPES: ReadonlySet<DType> = new Set<DType>(['bf16', 'f8e4m3fn', 'f8e4m3fnuz', 'f8e5m2', 'f8e5m2fnuz', 'f8e8m0', 'f4e2m1']);

function fromDevice(bytes: ArrayBuffer, dtype: DType, shape: number[], bufType: BufferDType, f16: boolean): Tensor {
  const n = sizeOf(shape);
  if (dtype === 'f16') {
    if (bufType === 'f16' && f16) return tensor('f16', shape, new Uint16Array(bytes, 0, n));
    const f = new Float32Array(bytes, 0, n);
    const out = new Uint16Array(n);
    for (let i = 0; i < n; i++) out[i] = f32ToF16(f[i]);
    return tensor('f16', shape, out);
  }
  if (dtype === 'i32') return tensor('i32', shape, new Int32Array(bytes, 0, n));
  if (dtype === 'u32') return tensor('u32', shape, new Uint32Array(bytes, 0, n));
  if (dtype === 'u64') return tensor('u64', shape, BigUint64Array.from(new Uint32Array(bytes, 0, n), (x) => BigInt(x)));
  if (dtype === 'f64') return tensor('f64', shape, Float64Array.from(new Float32Array(bytes, 0, n)));
  if (bufType === 'i32') {
    const v = new Int32Array(bytes, 0, n);
    if (BIT_DTYPES.has(dtype)) {
      // bf16, the 8- and 4-bit floats: the buffer holds their codes
      const t = tensor(dtype, shape);
      (t.data as Uint8Array | Uint16Array).set(v);
      return t;
    }
    return dtype === 'i64' ? tensor('i64', shape, BigInt64Array.from(v, (x) => BigInt(x))) : tensor(dtype, shape, v);
  }
  return tensor('f32', shape, new Float32Array(bytes, 0, n));
}

function widenF16(bytes: Uint8Array): Uint8Array {
  const h = new Uint16Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + (bytes.byteLength & ~1)));
  const out = new Float32Array(h.length);
  for (let i = 0; i < h.length; i++) out[i] = f16ToF32(h[i]);
  return new Uint8Array(out.buffer);
}

/** writeBuffer wants a multiple of 4 bytes. */
function padded(b: Uint8Array): Uint8Array {
  if (b.byteLength % 4 === 0) return b;
  const out = new Uint8Array(Math.ceil(b.byteLength / 4) * 4);
  out.set(b);
  return out;
}

function withTimeout<T>(p: Promise<T>, ms: number, lost: () => string | undefined): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const why = lost();
      reject(new CnncError('KERNEL_ERROR', why ? `the WebGPU device was lost: ${why}` : `reading the outputs back took over ${ms} ms: the GPU work did not finish`));
    }, ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
