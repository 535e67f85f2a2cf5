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

export function sameType(a: TensorType, b: TensorType): boolean {
  return a.dtype === b.dtype && sameShape(a.shape, b.shape);
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function formatType(t: TensorType): string {
  return `${t.dtype}[${t.shape.join(',')}]`;
}

export const isFloat = (d: DType): boolean => d === 'f32' || d === 'f16';
