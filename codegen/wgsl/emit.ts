/**
 * The emitter: walks the planned graph, assigns every value a GPU buffer (activations share
 * buffers by liveness; reshapes alias their input; constants become weight buffers uploaded
 * once) and collects the kernels each node's generator makes.
 */
import { CnncError } from '../../runtime/errors.js';
import type { DType, Tensor } from '../../runtime/tensor.js';
import { toF64 } from '../../runtime/tensor.js';
import type { BufferDType, PlanBuffer, PlanRangeChecks } from '../../runtime/webgpu/plan.js';
import type { Graph, Node } from '../../ir/graph.js';
import { sizeOf } from '../../ir/types.js';
import { u, type Binding, type Kernel } from './kernel.js';
import { liveBuffers, shareObjects } from '../memory-plan.js';
import { planConcats, sliceIndex, type ConcatPlan, type ConcatSlice } from '../concat-plan.js';
import { isBitFloat } from '../minifloat.js';

/** Ops whose output is their first input's bytes under another shape. */
export const ALIAS_OPS = new Set(['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Identity', 'Dropout']);

/**
 * Producers whose kernels store through `Emitter.outIndex`, so that they can write a Concat part in
 * place (codegen/concat-plan.ts): the conv family (its epilogue) and 1-/2-D pooling, in float.
 */
const SLICE_WRITERS = new Set(['Conv', 'ConvTranspose', 'FusedDwPw', 'MaxPool', 'AveragePool']);
export function wgslWritesSlice(p: Node, v: string, _axis: number, g: Graph): boolean {
  const dt = g.type(v).dtype;
  return SLICE_WRITERS.has(p.op) && p.outputs.filter(Boolean).length === 1 && (dt === 'f32' || dt === 'f16')
    && g.type(p.inputs[0]).shape.length <= 4;
}

/** Limits shaders are generated for: WebGPU's compatibility-mode defaults unless told otherwise. */
export interface WgslLimits {
  maxComputeInvocationsPerWorkgroup: number;
  maxComputeWorkgroupStorageSize: number;
  maxStorageBuffersPerShaderStage: number;
  maxComputeWorkgroupSizeX: number;
  maxComputeWorkgroupSizeY: number;
  /** Bytes one storage binding may span: larger Gemm weights are split into column blocks. */
  maxStorageBufferBindingSize: number;
}

export const DEFAULT_LIMITS: WgslLimits = {
  maxComputeInvocationsPerWorkgroup: 128,
  maxComputeWorkgroupStorageSize: 16384,
  maxStorageBuffersPerShaderStage: 8,
  maxComputeWorkgroupSizeX: 128,
  maxComputeWorkgroupSizeY: 128,
  maxStorageBufferBindingSize: 128 * 1024 * 1024,
};

/** A value as a kernel generator sees it. */
export interface Operand {
  name: string;
  buffer: number;
  dtype: BufferDType;
  shape: readonly number[];
  /** Where a Concat part written in place lives in its Concat's buffer: store through Emitter.outIndex. */
  slice?: ConcatSlice;
}

/** Integer dtypes carried in i32 buffers: values of the narrow ones always fit; i64 is checked where known. */
export const NARROWED: ReadonlySet<DType> = new Set(['i64', 'u8', 'i8', 'u16', 'i16', 'u4', 'i4', 'u2', 'i2', 'bool']);

/**
 * WGSL has no 64-bit types. i64 lives in i32 buffers and u64 in u32 buffers where the values fit
 * (constants checked here, inputs by the runtime, results by supports.ts's op rules); f64 lives in
 * f32 buffers, each value rounded once (within 2^-24 relatively), and only ops whose result is one
 * of their inputs' values take it (supports.ts), so no f32 arithmetic error adds to that rounding.
 */
const RANGE: Partial<Record<DType, [number, number, string]>> = {
  i64: [-(2 ** 31), 2 ** 31, 'i32'],
  u64: [0, 2 ** 32, 'u32'],
};

/** Why constant `t` cannot live in its wgsl buffer (an i64/u64 value beyond 32 bits, an f64 beyond f32), or undefined. */
export function constantMisfit(t: Tensor): string | undefined {
  const r = RANGE[t.dtype];
  if (r) {
    const bad = toF64(t).find((v) => v < r[0] || v >= r[1]);
    return bad === undefined ? undefined : `holds ${bad}, outside the ${r[2]} range the wgsl target carries ${t.dtype} in`;
  }
  if (t.dtype === 'f64') {
    const bad = (t.data as Float64Array).find((v) => Number.isFinite(v) && !Number.isFinite(Math.fround(v)));
    return bad === undefined ? undefined : `holds ${bad}, beyond the f32 range the wgsl target carries f64 in`;
  }
  return undefined;
}

export function bufferDType(d: DType, place: { node?: string; op?: string; value?: string }): BufferDType {
  if (d === 'f32' || d === 'f16' || d === 'i32' || d === 'u32') return d;
  if (d === 'u64') return 'u32';
  if (d === 'f64') return 'f32';
  if (NARROWED.has(d) || isBitFloat(d)) return 'i32';
  throw new CnncError('UNSUPPORTED', `the wgsl target has no ${d} buffers`, place);
}

/** The bytes of constant `t` in its wgsl buffer (see RANGE: 64-bit values narrowed, small integers widened). */
function bufferBytes(t: Tensor): Uint8Array {
  if (isBitFloat(t.dtype)) return new Uint8Array(Int32Array.from(t.data as Uint8Array | Uint16Array).buffer); // the codes
  if (t.dtype === 'f64') return new Uint8Array(Float32Array.from(t.data as Float64Array).buffer);
  if (t.dtype === 'u64') return new Uint8Array(Uint32Array.from(toF64(t)).buffer);
  if (NARROWED.has(t.dtype)) return new Uint8Array(Int32Array.from(toF64(t)).buffer);
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

export class Emitter {
  readonly buffers: PlanBuffer[] = [];
  readonly kernels: Kernel[] = [];
  private readonly weightChunks: Uint8Array[] = [];
  private weightBytes = 0;
  private readonly valueBuffer = new Map<string, number>();
  private readonly root = new Map<string, string>();
  private readonly kernelNames = new Set<string>();
  /** The range-check status buffer and its checks, made on first use (see PlanRangeChecks). */
  rangeChecks?: PlanRangeChecks;

  /** Threads of a one-thread-per-element kernel: 128, or fewer where the limits say so. */
  readonly wg1d: number;
  /** Concat parts their producers write in place (codegen/concat-plan.ts). */
  readonly concats: ConcatPlan;
  /** Slice values some kernel stored through outIndex (lowerWgsl checks every one was). */
  readonly slicesStored = new Set<string>();

  constructor(readonly graph: Graph, readonly limits: WgslLimits) {
    this.wg1d = 2 ** Math.floor(Math.log2(Math.max(1, Math.min(128, limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX))));
    this.concats = planConcats(graph, wgslWritesSlice);
    this.planActivations();
  }

  // ---- buffers ----

  /** The buffer of a value (a weight buffer for constants, made on first use). */
  bufferOf(name: string): number {
    const r = this.root.get(name) ?? name;
    const b = this.valueBuffer.get(r);
    if (b !== undefined) return b;
    const c = this.graph.constValue(r);
    if (!c) throw new CnncError('UNKNOWN_VALUE', `value '${name}' has no buffer`, { value: name });
    const w = this.weight(c, r);
    this.valueBuffer.set(r, w);
    return w;
  }

  operand(name: string): Operand {
    const t = this.graph.type(name);
    const slice = this.concats.slices.get(name);
    return { name, buffer: this.bufferOf(name), dtype: bufferDType(t.dtype, { value: name }), shape: t.shape, ...(slice ? { slice } : {}) };
  }

  /** The buffer index where output `o` stores its dense flat index `i` (a u32 expression): `i`, or its place in a Concat's buffer. */
  outIndex(o: Operand, i: string): string {
    if (!o.slice) return i;
    this.slicesStored.add(o.name);
    return sliceIndex(o.slice, i, u, true);
  }

  /** A weight buffer holding `t` (in its bufferDType: see bufferBytes). */
  weight(t: Tensor, what: string): number {
    const dtype = bufferDType(t.dtype, { value: what });
    const misfit = constantMisfit(t);
    if (misfit) throw new CnncError('UNSUPPORTED', `${t.dtype} constant '${what}' ${misfit}`, { value: what });
    const bytes = bufferBytes(t);
    const offset = this.weightBytes;
    const padded = Math.ceil(bytes.length / 16) * 16;
    const chunk = new Uint8Array(padded);
    chunk.set(bytes);
    this.weightChunks.push(chunk);
    this.weightBytes += padded;
    this.buffers.push({ dtype, elems: Math.max(1, sizeOf(t.shape)), weight: { offset, length: bytes.length } });
    return this.buffers.length - 1;
  }

  /** A weight buffer from float values computed at compile time (BN scale/shift and the like). */
  weightF32(values: ArrayLike<number>, what: string): number {
    return this.weight({ dtype: 'f32', shape: [values.length], data: Float32Array.from(values) }, what);
  }

  /** A fresh activation buffer used by nothing else (scratch space, output copies). */
  scratch(dtype: BufferDType, elems: number): number {
    this.buffers.push({ dtype, elems: Math.max(1, elems) });
    return this.buffers.length - 1;
  }

  weightsSection(): Uint8Array {
    const out = new Uint8Array(this.weightBytes);
    let off = 0;
    for (const c of this.weightChunks) { out.set(c, off); off += c.length; }
    return out;
  }

  /**
   * A run-time check that `value` (computed by `node`) fits its 32-bit carrier: the status binding
   * (atomic u32, named OVF) and the WGSL statement that records element `i` as out of range.
   */
  rangeCheck(node: Node, value: string): { binding: Binding; flag: (i: string) => string } {
    if (!this.rangeChecks) this.rangeChecks = { buffer: this.scratch('u32', 1), checks: [] };
    const slot = this.rangeChecks.checks.push({ node: node.name, op: node.op, value }) - 1;
    this.buffers[this.rangeChecks.buffer].elems = this.rangeChecks.checks.length;
    return {
      binding: { name: 'OVF', buffer: this.rangeChecks.buffer, dtype: 'u32', access: 'read_write', atomic: true },
      flag: (i) => `atomicMin(&OVF[${slot}u], ${i});`,
    };
  }

  // ---- kernels ----

  /** Registers a kernel; its name is made unique from the node name. */
  kernel(node: Node, k: Omit<Kernel, 'node' | 'op' | 'name'> & { name?: string }): void {
    let name = k.name ? `${node.name}.${k.name}` : node.name;
    for (let n = 2; this.kernelNames.has(name); n++) name = `${node.name}#${n}`;
    this.kernelNames.add(name);
    const place = { node: node.name, op: node.op };
    if (k.bindings.length > this.limits.maxStorageBuffersPerShaderStage) {
      throw new CnncError('TOO_LARGE', `kernel ${name} needs ${k.bindings.length} storage buffers, the limit is ${this.limits.maxStorageBuffersPerShaderStage}`, place);
    }
    if ((k.workgroupBytes ?? 0) > this.limits.maxComputeWorkgroupStorageSize) {
      throw new CnncError('TOO_LARGE', `kernel ${name} needs ${k.workgroupBytes} bytes of workgroup memory, the limit is ${this.limits.maxComputeWorkgroupStorageSize}`, place);
    }
    this.kernels.push({ ...k, name, node: node.name, op: node.op });
  }

  /** Standard binding helpers. */
  read(name: string, o: Operand): Binding {
    return { name, buffer: o.buffer, dtype: o.dtype, access: 'read' };
  }

  write(name: string, o: Operand): Binding {
    return { name, buffer: o.buffer, dtype: o.dtype, access: 'read_write' };
  }

  // ---- memory planning ----

  /**
   * Buffers from the shared planner (codegen/memory-plan.ts): views (ALIAS_OPS) share their input's
   * buffer; values never live at the same time share a GPU buffer of their element type, as large as
   * the largest. No in-place reuse: WebGPU rejects a writable binding that aliases another binding of
   * the same buffer in one dispatch.
   */
  private planActivations(): void {
    const g = this.graph;
    const { buffers, viewOf } = liveBuffers(g, { inPlace: false, views: (n) => ALIAS_OPS.has(n.op), slices: this.concats.slices });
    for (const [v, r] of viewOf) this.root.set(v, r);
    const items = buffers.map((b) => ({
      start: b.start,
      end: b.end,
      kind: bufferDType(g.type(b.values[0]).dtype, { value: b.values[0] }),
      size: Math.max(1, ...b.values.map((v) => sizeOf(g.type(v).shape))),
    }));
    const { object, objects } = shareObjects(items);
    const ids = objects.map((o) => this.scratch(o.kind, o.size));
    buffers.forEach((b, i) => { for (const v of b.values) this.valueBuffer.set(v, ids[object[i]]); });
  }

  /** Whether a value lives in a graph input's or a constant's buffer (outputs must not). */
  rootIsInputOrConst(v: string): boolean {
    const r = this.root.get(v) ?? v;
    return this.graph.inputs.includes(r) || this.graph.constValue(r) !== undefined;
  }
}
