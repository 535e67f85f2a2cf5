/**
 * A WGSL kernel as the code generators build it: a small typed object (name, bindings,
 * workgroup size, dispatch, body), and ONE function, `wrapShader`, that turns it into a full
 * shader for a precision variant. Kernel bodies compute in f32: they read `f32(X[i])` and store
 * `Y[i] = T_Y(v)`, where `T_Y` is the binding's element type (f16 or f32 by variant).
 */
import type { BufferDType } from '../../runtime/webgpu/plan.js';

export interface Binding {
  /** WGSL identifier of the storage array (upper case by convention: X, W, B, R, Y). */
  name: string;
  /** Plan buffer index. */
  buffer: number;
  dtype: BufferDType;
  access: 'read' | 'read_write';
  /** Elements are atomic<u32> (the range-check status buffer: see Emitter.rangeCheck). */
  atomic?: boolean;
}

export interface Kernel {
  name: string;
  node: string;
  op: string;
  bindings: Binding[];
  workgroupSize: [number, number, number];
  dispatch: [number, number, number];
  /** Module-scope WGSL: constants, helper functions, workgroup arrays. */
  decls: string;
  /** The body of `fn main`, which sees gid, lid, wid (vec3<u32>) and li (local index). */
  body: string;
  /** Workgroup memory in bytes (checked against the limit). */
  workgroupBytes?: number;
  /**
   * The same computation with WGSL's packed 4×8-bit integer dot products (`dot4I8Packed`), for adapters
   * with the `packed_4x8_integer_dot_product` language feature; the runtime picks it there.
   */
  packed?: Pick<Kernel, 'bindings' | 'decls' | 'body'>;
}

export type Variant = 'f32' | 'f16';

/** The full shader of a kernel in a precision variant. */
export function wrapShader(k: Kernel, variant: Variant): string {
  const f16 = variant === 'f16' && k.bindings.some((b) => b.dtype === 'f16');
  const lines: string[] = [];
  if (f16) lines.push('enable f16;');
  if (/\bdot4[IU]8Packed\(/.test(k.body)) lines.push('requires packed_4x8_integer_dot_product;');
  k.bindings.forEach((b, i) => {
    const t = b.atomic ? 'atomic<u32>' : b.dtype === 'f16' ? (f16 ? 'f16' : 'f32') : b.dtype;
    lines.push(`alias T_${b.name} = ${t};`);
    lines.push(`@group(0) @binding(${i}) var<storage, ${b.access}> ${b.name}: array<T_${b.name}>;`);
  });
  lines.push(k.decls.trim());
  lines.push(`@compute @workgroup_size(${k.workgroupSize.join(', ')})`);
  lines.push('fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,');
  lines.push('        @builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {');
  lines.push(k.body.trim().split('\n').map((l) => `  ${l}`).join('\n'));
  lines.push('}');
  return lines.join('\n') + '\n';
}

/** An f32 literal (WGSL needs a '.' or exponent; infinities become ±max f32). */
export function f(v: number): string {
  if (v === Infinity || v > 3.4028234e38) return '3.4028234e38';
  if (v === -Infinity || v < -3.4028234e38) return '-3.4028234e38';
  if (Number.isNaN(v)) return '(0.0 / 0.0)';
  const s = String(Math.fround(v) === v ? v : Math.fround(v));
  return /[.eE]/.test(s) ? s : `${s}.0`;
}

/** A u32 literal. */
export function u(v: number): string {
  return `${v}u`;
}

/** An i32 literal. */
export function i(v: number): string {
  return `${v}i`;
}

export const ceilDiv = (a: number, b: number): number => Math.ceil(a / b);

/** Workgroups for `n` invocations of a 1-D kernel of `wg` threads: x capped, rest in y. */
export function dispatch1d(n: number, wg: number, maxPerDim = 65535): [number, number, number] {
  const groups = Math.max(1, ceilDiv(n, wg));
  if (groups <= maxPerDim) return [groups, 1, 1];
  return [maxPerDim, ceilDiv(groups, maxPerDim), 1];
}

/** The flat invocation index of a dispatch1d kernel (WGSL expression). */
export function flatIndex(d: [number, number, number], wg: number): string {
  return d[1] > 1 ? `(gid.x + gid.y * ${u(d[0] * wg)})` : 'gid.x';
}
