/**
 * The ONNX protobuf messages (from onnx-proto, protobufjs-based) and the conversions between
 * them and cnnc's tensors and attribute values: dtype codes, every initializer encoding
 * (raw_data, float_data, int32_data, int64_data, double_data, external files), attributes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import onnxProto from 'onnx-proto';
import { CnncError } from '../../runtime/errors.js';
import { BYTES_PER_ELEMENT, allocData, type DType, type Tensor, type TensorData } from '../../runtime/tensor.js';
import type { AttrValue } from '../../ir/op.js';

export const onnx = onnxProto.onnx;
export type ITensorProto = import('onnx-proto').onnx.ITensorProto;
export type IAttributeProto = import('onnx-proto').onnx.IAttributeProto;
type Long = { toNumber(): number; low: number; high: number };

/** ONNX TensorProto.DataType codes. */
export const ONNX_DTYPE = {
  FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7, STRING: 8, BOOL: 9,
  FLOAT16: 10, DOUBLE: 11, UINT32: 12, UINT64: 13, COMPLEX64: 14, COMPLEX128: 15, BFLOAT16: 16,
} as const;

const CODE_TO_DTYPE: Record<number, DType> = {
  1: 'f32', 2: 'u8', 3: 'i8', 4: 'u16', 5: 'i16', 6: 'i32', 7: 'i64', 9: 'bool', 10: 'f16', 11: 'f64', 12: 'u32', 13: 'u64',
  16: 'bf16', 17: 'f8e4m3fn', 18: 'f8e4m3fnuz', 19: 'f8e5m2', 20: 'f8e5m2fnuz', 21: 'u4', 22: 'i4', 23: 'f4e2m1',
  24: 'f8e8m0', 25: 'u2', 26: 'i2',
};
export const DTYPE_TO_CODE = Object.fromEntries(Object.entries(CODE_TO_DTYPE).map(([c, d]) => [d, Number(c)])) as Record<DType, number>;
const CODE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(ONNX_DTYPE).map(([k, v]) => [v, k]));
CODE_NAMES[17] = 'FLOAT8E4M3FN'; CODE_NAMES[18] = 'FLOAT8E4M3FNUZ'; CODE_NAMES[19] = 'FLOAT8E5M2';
CODE_NAMES[20] = 'FLOAT8E5M2FNUZ'; CODE_NAMES[21] = 'UINT4'; CODE_NAMES[22] = 'INT4'; CODE_NAMES[23] = 'FLOAT4E2M1';
CODE_NAMES[24] = 'FLOAT8E8M0'; CODE_NAMES[25] = 'UINT2'; CODE_NAMES[26] = 'INT2';

export function dtypeName(code: number): string {
  return CODE_NAMES[code] ?? `data type ${code}`;
}

/** Marks the errors the conformance runner reports as "dtype outside the IR" rather than failures. */
export const NOT_IR_DTYPE = 'is not an IR dtype';

/** The IR dtype of an ONNX data type code, or an UNSUPPORTED error naming the value. */
export function irDtype(code: number, place: { node?: string; op?: string; value?: string } = {}): DType {
  const d = CODE_TO_DTYPE[code];
  if (!d) throw new CnncError('UNSUPPORTED', `ONNX dtype ${dtypeName(code)} ${NOT_IR_DTYPE} (the IR has no string or complex tensors)`, place);
  return d;
}

export function toNum(x: number | Long | null | undefined): number {
  if (x === null || x === undefined) return 0;
  return typeof x === 'number' ? x : x.toNumber();
}

export interface TensorLimits {
  /** Largest tensor (bytes) the importer allocates; bigger declared sizes are TOO_LARGE. */
  maxTensorBytes: number;
  /** Folder that external data must stay inside (undefined: external data is refused). */
  modelDir?: string;
}

/** The dims of a TensorProto, checked: non-negative safe integers whose byte size is within the limit. */
export function checkedDims(dims: readonly (number | Long)[], bytesPerElement: number, limits: TensorLimits, value: string): number[] {
  const shape = dims.map(toNum);
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new CnncError('BAD_MODEL', `tensor has dimension ${d}`, { value });
    n *= d;
  }
  if (n * bytesPerElement > limits.maxTensorBytes) {
    throw new CnncError('TOO_LARGE', `tensor [${shape}] declares ${n * bytesPerElement} bytes, over the limit of ${limits.maxTensorBytes}`, { value });
  }
  return shape;
}

/** Bits per element in ONNX files: the 4- and 2-bit types are packed, low bits first. */
function packedBits(dtype: DType): number {
  if (dtype === 'i4' || dtype === 'u4' || dtype === 'f4e2m1') return 4;
  if (dtype === 'i2' || dtype === 'u2') return 2;
  return 8 * BYTES_PER_ELEMENT[dtype];
}

/** Bytes that n elements of dtype take in an ONNX file. */
const fileBytes = (dtype: DType, n: number) => Math.ceil((n * packedBits(dtype)) / 8);

/** A cnnc Tensor from a TensorProto (every encoding ONNX defines for the IR's dtypes). */
export function tensorFromProto(t: ITensorProto, limits: TensorLimits, nameHint = ''): Tensor {
  const value = t.name || nameHint;
  const code = t.dataType ?? 0;
  const dtype = irDtype(code, { value });
  const shape = checkedDims(t.dims ?? [], BYTES_PER_ELEMENT[dtype], limits, value);
  const n = shape.reduce((a, b) => a * b, 1);
  if (t.segment) throw new CnncError('UNSUPPORTED', 'segmented tensors are not supported', { value });

  let raw: Uint8Array | undefined;
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) raw = readExternal(t, fileBytes(dtype, n), limits, value);
  else if (t.rawData && t.rawData.length > 0) raw = t.rawData;

  if (raw) {
    if (raw.length !== fileBytes(dtype, n)) {
      throw new CnncError('BAD_MODEL', `raw data has ${raw.length} bytes, [${shape}] ${dtypeName(code)} needs ${fileBytes(dtype, n)}`, { value });
    }
    return { dtype, shape, data: fromRaw(dtype, raw, n) };
  }

  const field = <T,>(src: ArrayLike<T> | null | undefined, name: string, len: number): ArrayLike<T> => {
    if ((src?.length ?? 0) !== len) throw new CnncError('BAD_MODEL', `${name} has ${src?.length ?? 0} values, [${shape}] ${dtypeName(code)} needs ${len}`, { value });
    return src!;
  };
  const bigint = (x: number | Long) => BigInt(typeof x === 'number' ? Math.trunc(x) : (x as unknown as { toString(): string }).toString());
  const data = allocData(dtype, n);
  const set = (i: number, x: number | bigint) => { (data as unknown as (number | bigint)[])[i] = x; };
  switch (dtype) {
    case 'f32': { const s = field(t.floatData, 'float_data', n); for (let i = 0; i < n; i++) set(i, s[i]); break; }
    case 'f64': { const s = field(t.doubleData, 'double_data', n); for (let i = 0; i < n; i++) set(i, s[i]); break; }
    case 'i64': { const s = field(t.int64Data, 'int64_data', n); for (let i = 0; i < n; i++) set(i, bigint(s[i])); break; }
    case 'u64': { const s = field(t.uint64Data, 'uint64_data', n); for (let i = 0; i < n; i++) set(i, BigInt.asUintN(64, bigint(s[i]))); break; }
    case 'u32': { const s = field(t.uint64Data, 'uint64_data', n); for (let i = 0; i < n; i++) set(i, Number(bigint(s[i]))); break; }
    case 'bool': { const s = field(t.int32Data, 'int32_data', n); for (let i = 0; i < n; i++) set(i, s[i] ? 1 : 0); break; }
    default: {
      if (packedBits(dtype) < 8) {
        // Packed: each int32 holds one byte of the packed data.
        const s = field(t.int32Data, 'int32_data', fileBytes(dtype, n));
        return { dtype, shape, data: fromRaw(dtype, Uint8Array.from(s as ArrayLike<number>, (x) => x & 0xff), n) };
      }
      // i32, i16, u16, i8, u8, and the bits of f16, bf16 and the 8-bit floats: the typed array wraps them.
      const s = field(t.int32Data, 'int32_data', n);
      for (let i = 0; i < n; i++) set(i, s[i] as number);
    }
  }
  return { dtype, shape, data };
}

/** Typed data from little-endian bytes (copied: the protobuf buffer may be unaligned); sub-byte types unpacked. */
function fromRaw(dtype: DType, raw: Uint8Array, n: number): TensorData {
  const bits = packedBits(dtype);
  const data = allocData(dtype, n);
  if (bits < 8) {
    const signed = dtype === 'i4' || dtype === 'i2';
    const mask = (1 << bits) - 1, perByte = 8 / bits;
    for (let i = 0; i < n; i++) {
      const u = (raw[Math.floor(i / perByte)] >> ((i % perByte) * bits)) & mask;
      data[i] = signed && u > mask >> 1 ? u - mask - 1 : u; // sign-extend
    }
    return data;
  }
  if (dtype === 'bool') return Uint8Array.from(raw, (b) => (b ? 1 : 0));
  // Copy the bytes into fresh aligned storage; the machine is little-endian like the file
  // (every platform Node runs on).
  new Uint8Array(data.buffer).set(raw);
  return data;
}

/**
 * Bytes of an external-data tensor. The file must resolve (symlinks followed) inside the model's
 * folder and be a regular file; absolute locations, '..' escapes, links leading out and FIFOs/devices are BAD_PATH.
 */
function readExternal(t: ITensorProto, want: number, limits: TensorLimits, value: string): Uint8Array {
  const entries = new Map((t.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
  const location = entries.get('location');
  if (!location) throw new CnncError('BAD_MODEL', 'external data has no location', { value });
  if (limits.modelDir === undefined) throw new CnncError('BAD_PATH', `external data '${location}' needs the model's folder (load the model from a file or pass modelDir)`, { value });
  if (path.isAbsolute(location) || path.win32.isAbsolute(location) || location.includes('\0')) {
    throw new CnncError('BAD_PATH', `external data location '${location}' is absolute`, { value });
  }
  const offset = Number(entries.get('offset') ?? '0');
  const length = entries.has('length') ? Number(entries.get('length')) : want;
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
    throw new CnncError('BAD_MODEL', `external data offset/length '${entries.get('offset')}'/'${entries.get('length')}' are not byte counts`, { value });
  }
  if (length !== want) throw new CnncError('BAD_MODEL', `external data length ${length} does not match the ${want} bytes the tensor needs`, { value });
  if (length > limits.maxTensorBytes) throw new CnncError('TOO_LARGE', `external data of ${length} bytes is over the limit of ${limits.maxTensorBytes}`, { value });
  const dir = realpathOr(limits.modelDir, value);
  const lexical = path.resolve(dir, location);
  if (!inside(dir, lexical)) throw new CnncError('BAD_PATH', `external data location '${location}' leaves the model folder`, { value });
  const real = realpathOr(lexical, value);
  if (!inside(dir, real)) throw new CnncError('BAD_PATH', `external data '${location}' is a link leading out of the model folder`, { value });
  let fd: number | undefined;
  try {
    // regular files only: a FIFO or device would block the process on open or read. Checked before
    // opening, opened non-blocking (a file swapped for a FIFO in between cannot block), checked again.
    if (!fs.statSync(real).isFile()) throw new CnncError('BAD_PATH', `external data '${location}' is not a regular file`, { value });
    fd = fs.openSync(real, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) throw new CnncError('BAD_PATH', `external data '${location}' is not a regular file`, { value });
    const size = stat.size;
    if (offset + length > size) throw new CnncError('BAD_MODEL', `external data '${location}' has ${size} bytes, needs ${offset + length}`, { value });
    const buf = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const r = fs.readSync(fd, buf, done, length - done, offset + done);
      if (r <= 0) break;
      done += r;
    }
    return buf;
  } catch (e) {
    if (e instanceof CnncError) throw e;
    throw new CnncError('IO_ERROR', `cannot read external data '${location}': ${(e as Error).message}`, { value });
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function realpathOr(p: string, value: string): string {
  try {
    return fs.realpathSync(p);
  } catch (e) {
    throw new CnncError('IO_ERROR', `cannot open '${p}': ${(e as Error).message}`, { value });
  }
}

function inside(dir: string, p: string): boolean {
  const rel = path.relative(dir, p);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/** A TensorProto holding `t` (raw little-endian data; sub-byte types packed low bits first). */
export function tensorToProto(t: Tensor, name: string): ITensorProto {
  const n = t.data.length, bits = packedBits(t.dtype);
  let bytes: Uint8Array;
  if (bits < 8) {
    bytes = new Uint8Array(fileBytes(t.dtype, n));
    const mask = (1 << bits) - 1, perByte = 8 / bits;
    for (let i = 0; i < n; i++) bytes[Math.floor(i / perByte)] |= ((t.data[i] as number) & mask) << ((i % perByte) * bits);
  } else {
    bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength).slice();
  }
  return onnx.TensorProto.create({ name, dims: [...t.shape], dataType: DTYPE_TO_CODE[t.dtype], rawData: bytes });
}

/** A TENSOR attribute, decoded later by the caller (which knows the size limits). */
export interface TensorAttr {
  readonly tensorProto: ITensorProto;
}

/** An attribute as an IR attribute value (graphs, sparse tensors and type protos are UNSUPPORTED). */
export function attrValue(a: IAttributeProto, place: { node: string; op: string }): AttrValue | TensorAttr {
  const T = onnx.AttributeProto.AttributeType;
  const utf8 = (b: Uint8Array) => new TextDecoder().decode(b);
  let type = a.type ?? 0;
  if (type === T.UNDEFINED) type = guessType(a);
  switch (type) {
    case T.FLOAT: return a.f ?? 0;
    case T.INT: return toNum(a.i);
    case T.STRING: return utf8(a.s ?? new Uint8Array());
    case T.FLOATS: return [...(a.floats ?? [])];
    case T.INTS: return (a.ints ?? []).map(toNum);
    case T.STRINGS: return (a.strings ?? []).map(utf8);
    case T.TENSOR:
      if (!a.t) throw new CnncError('BAD_MODEL', `attribute '${a.name}' has no tensor`, place);
      return { tensorProto: a.t as ITensorProto };
    default:
      throw new CnncError('UNSUPPORTED', `attribute '${a.name}' of type ${T[type] ?? type} is not supported`, place);
  }
}

/** Very old models leave AttributeProto.type unset: infer it from the field that is present. */
function guessType(a: IAttributeProto): number {
  const T = onnx.AttributeProto.AttributeType;
  if (a.floats?.length) return T.FLOATS;
  if (a.ints?.length) return T.INTS;
  if (a.strings?.length) return T.STRINGS;
  if (a.t) return T.TENSOR;
  if (a.g) return T.GRAPH;
  if (a.s?.length) return T.STRING;
  if (toNum(a.i) !== 0) return T.INT;
  return T.FLOAT;
}
