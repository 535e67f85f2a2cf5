/**
 * The WGSL target's plan, as it sits in the artifact header (`header.plan`). The compiler
 * (codegen/wgsl) writes it, the WebGPU runtime reads it; neither imports the other.
 *
 * Shader sources live in sections `wgsl.f32` and `wgsl.f16` (JSON arrays of WGSL strings, one
 * per distinct kernel; `wgsl.f16` only for graphs with f16 values), weights in section `weights`.
 */

/**
 * Element types a GPU buffer holds. In the f32 variant, f16 buffers hold f32 instead. WGSL has no
 * 64-bit types: i64 (and the narrow integers, bool) live in i32 buffers, u64 in u32 buffers (values
 * outside 32 bits refused, never wrapped), f64 in f32 buffers (rounded to f32 at the boundary).
 */
export type BufferDType = 'f32' | 'f16' | 'i32' | 'u32';

export interface PlanBuffer {
  dtype: BufferDType;
  /** Elements (not bytes): the byte size depends on the shader variant. */
  elems: number;
  /** A weight buffer: its bytes (in `dtype`) in section `weights`, uploaded once at load. */
  weight?: { offset: number; length: number };
}

export interface PlanStep {
  /** Kernel name (unique per step), used in errors. */
  kernel: string;
  /** The graph node it computes. */
  node: string;
  op: string;
  /** Index into the shader arrays. */
  shader: number;
  /** Buffer indices, in binding order (group 0, bindings 0..n-1). */
  bindings: number[];
  /** Workgroup counts. */
  dispatch: [number, number, number];
  /**
   * The same step as a shader using WGSL's packed 4×8-bit integer dot products (int8 kernels): used
   * instead of `shader`/`bindings` where the adapter has the `packed_4x8_integer_dot_product` feature.
   */
  packed?: { shader: number; bindings: number[] };
}

export interface PlanIO {
  name: string;
  buffer: number;
}

/**
 * Results a kernel checks at run time: an i64 value computed by an op that can grow (Add, Mul,
 * Pow, a Cast from float…) must fit the i32 it is carried in. Check k's kernel does
 * atomicMin(&status[k], element) where it does not; the runtime fills the status buffer (u32,
 * one per check) with 0xffffffff before each run and throws OUT_OF_RANGE naming the first one hit.
 */
export interface PlanRangeChecks {
  buffer: number;
  checks: { node: string; op: string; value: string }[];
}

export interface WgslPlan {
  buffers: PlanBuffer[];
  inputs: PlanIO[];
  outputs: PlanIO[];
  steps: PlanStep[];
  /** Absent when no kernel checks its results (the run path then reads nothing extra). */
  rangeChecks?: PlanRangeChecks;
  /** True when some buffer is f16: the runtime picks `wgsl.f16` where the adapter has shader-f16. */
  hasF16: boolean;
  /** Limits the shaders were generated for; the runtime requests them from the adapter. */
  limits: {
    maxComputeInvocationsPerWorkgroup: number;
    maxComputeWorkgroupStorageSize: number;
    maxStorageBuffersPerShaderStage: number;
    maxComputeWorkgroupSizeX: number;
    maxComputeWorkgroupSizeY: number;
  };
}

export const BYTES: Record<BufferDType, number> = { f32: 4, f16: 2, i32: 4, u32: 4 };
