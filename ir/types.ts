/** Types every value of the IR carries: dtype and static shape. */
export type { DType, Tensor, TensorData } from '../runtime/tensor.js';
export { DTYPES, BYTES_PER_ELEMENT, sizeOf } from '../runtime/tensor.js';
import type { DType } from '../runtime/tensor.js';
import { BYTES_PER_ELEMENT, sizeOf } from '../runtime/tensor.js';

export interface TensorType {
  readonly dtype: DType;
  readonly shape: readonly number[];
}

export function tensorType(dtype: DType, shape: readonly number[]): TensorType {
  return { dtype, shape: [...shape] };
}

export function typeBytes(t: TensorType): number {
  return sizeOf(t.shape) * BYTES_PER_ELEMENT[t.dtype];
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function formatType(t: TensorType): string {
  return `${t.dtype}[${t.shape.join(',')}]`;
}

const FLOATS: ReadonlySet<DType> = new Set<DType>(['f32', 'f16', 'f64', 'bf16', 'f8e4m3fn', 'f8e4m3fnuz', 'f8e5m2', 'f8e5m2fnuz', 'f8e8m0', 'f4e2m1']);
/** Every floating-point dtype (the code generators take only f32/f16 and reject the others). */
export const isFloat = (d: DType): boolean => FLOATS.has(d);
/**
 * The floats ONNX computes with (f32 f16 f64 bf16): the dtypes float ops (Conv, activations,
 * norms, pools, reductions) take. The 8- and 4-bit floats are storage formats: they only move and Cast.
 */
export const isArithFloat = (d: DType): boolean => d === 'f32' || d === 'f16' || d === 'f64' || d === 'bf16';
