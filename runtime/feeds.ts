/**
 * What `session.run(feeds)` accepts, turned into cnnc tensors: a cnnc Tensor, an onnxruntime-style
 * tensor `{ type: 'float32', dims, data }` (an ort.Tensor works as is), `{ data, shape }` with a
 * typed array, or a bare typed array of the input's element count (shape from the model).
 * Only the form is converted here; whether the tensor fits the model is the backend's check.
 */
import type { IOSpec } from './artifact.js';
import { CnncError } from './errors.js';
import { allocData, type DType, type Tensor, type TensorData } from './tensor.js';

/** onnxruntime's tensor type names → cnnc dtypes. */
const ORT_TYPES: Record<string, DType> = {
  float32: 'f32', float16: 'f16', float64: 'f64', int32: 'i32', int64: 'i64', int16: 'i16', int8: 'i8',
  uint8: 'u8', uint16: 'u16', uint32: 'u32', uint64: 'u64', bool: 'bool', bfloat16: 'bf16', int4: 'i4', uint4: 'u4',
};

/** An onnxruntime-style tensor. */
export interface OrtLikeTensor {
  readonly type: string;
  readonly dims: readonly number[];
  readonly data: TensorData;
}

/** A typed array with its shape; the dtype follows from the array (Uint16Array: f16). */
export interface ShapedArray {
  readonly data: TensorData;
  readonly shape: readonly number[];
  readonly dtype?: DType;
}

export type Feed = Tensor | OrtLikeTensor | ShapedArray | TensorData;

const DTYPE_OF_ARRAY: [new (n: number) => TensorData, DType][] = [
  [Float32Array, 'f32'], [Float64Array, 'f64'], [Int32Array, 'i32'], [BigInt64Array, 'i64'], [Uint8Array, 'u8'],
  [Int8Array, 'i8'], [Uint16Array, 'f16'], [Int16Array, 'i16'], [Uint32Array, 'u32'], [BigUint64Array, 'u64'],
];

function dtypeOfArray(d: unknown): DType | undefined {
  return DTYPE_OF_ARRAY.find(([ctor]) => d instanceof ctor)?.[1];
}

function bad(name: string, msg: string): never {
  throw new CnncError('BAD_INPUT', `input '${name}': ${msg}`, { value: name });
}

function checkShape(name: string, shape: unknown): readonly number[] {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) bad(name, `shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
  return shape;
}

/** One feed as a cnnc Tensor; `spec` (the model's input, when known) supplies a bare array's shape. */
export function toTensor(name: string, feed: unknown, spec?: IOSpec): Tensor {
  if (feed === null || typeof feed !== 'object') bad(name, `got ${feed === null ? 'null' : typeof feed}, expected a tensor or a typed array`);
  const arrayType = dtypeOfArray(feed);
  if (arrayType) {
    if (!spec) bad(name, 'a bare typed array needs the model to name this input (pass { data, shape } instead)');
    const want = spec.shape.reduce((a, b) => a * b, 1);
    if ((feed as TensorData).length !== want) bad(name, `a bare ${feed.constructor.name} of ${(feed as TensorData).length} elements; the model takes ${spec.dtype}[${spec.shape}] (${want} elements)`);
    // The model's dtype where the array is its storage type (Uint8Array for bool, Uint16Array for bf16).
    const dtype = feed.constructor === allocData(spec.dtype, 0).constructor ? spec.dtype : arrayType;
    return { dtype, shape: [...spec.shape], data: feed as TensorData };
  }
  const f = feed as Partial<Tensor & OrtLikeTensor & ShapedArray>;
  const dataType = dtypeOfArray(f.data);
  if (!dataType) bad(name, `its data is ${f.data === undefined ? 'missing' : `a ${(f.data as object)?.constructor?.name ?? typeof f.data}`}, expected a typed array`);
  let dtype: DType;
  let shape: readonly number[];
  if (typeof f.type === 'string' && f.dims !== undefined) {
    const t = ORT_TYPES[f.type];
    if (!t) bad(name, `onnxruntime tensor type '${f.type}' has no cnnc dtype (types: ${Object.keys(ORT_TYPES).join(', ')})`);
    dtype = t;
    shape = checkShape(name, f.dims);
  } else if (f.shape !== undefined) {
    dtype = f.dtype ?? dataType;
    shape = checkShape(name, f.shape);
  } else {
    bad(name, 'expected { dtype, shape, data }, an onnxruntime tensor { type, dims, data } or a typed array');
  }
  const n = shape.reduce((a, b) => a * b, 1);
  if (f.data!.length !== n) bad(name, `data has ${f.data!.length} elements, shape [${shape}] needs ${n}`);
  return { dtype, shape: [...shape], data: f.data! };
}

/** Every feed as a cnnc Tensor (names are checked by the backend, which lists the model's inputs). */
export function normalizeFeeds(feeds: unknown, specs: readonly IOSpec[]): Record<string, Tensor> {
  if (feeds === null || typeof feeds !== 'object' || Array.isArray(feeds)) {
    throw new CnncError('BAD_INPUT', `run() takes an object of named inputs (${specs.map((s) => s.name).join(', ')}), got ${Array.isArray(feeds) ? 'an array' : feeds === null ? 'null' : typeof feeds}`);
  }
  const out: Record<string, Tensor> = {};
  for (const [name, feed] of Object.entries(feeds)) out[name] = toTensor(name, feed, specs.find((s) => s.name === name));
  return out;
}
