/** Reading and writing NumPy .npy files (v1/v2, little-endian, C order) for `cnnc run`. */
import { CnncError } from '../runtime/errors.js';
import { tensor, type DType, type Tensor } from '../runtime/tensor.js';

const NPY_DTYPES: Record<string, DType> = {
  '<f4': 'f32', '<f2': 'f16', '<i4': 'i32', '<i8': 'i64', '|u1': 'u8', '|i1': 'i8', '|b1': 'bool',
  '<f8': 'f64', '<i2': 'i16', '<u2': 'u16', '<u4': 'u32', '<u8': 'u64',
};

export function readNpy(bytes: Uint8Array): Tensor {
  const magic = String.fromCharCode(...bytes.subarray(0, 6));
  if (magic !== '\x93NUMPY') throw new CnncError('BAD_INPUT', 'not a .npy file (bad magic)');
  const major = bytes[6];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(bytes.subarray(start, start + hlen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*True/.test(header);
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || shapeText === undefined) throw new CnncError('BAD_INPUT', `.npy header not understood: ${header.trim()}`);
  const dtype = NPY_DTYPES[descr];
  if (!dtype) throw new CnncError('BAD_INPUT', `.npy dtype ${descr} is not supported (use float32)`);
  if (fortran) throw new CnncError('BAD_INPUT', '.npy in Fortran order is not supported');
  const shape = shapeText.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const body = bytes.slice(start + hlen);
  const t = tensor(dtype, shape);
  const need = t.data.byteLength;
  if (body.byteLength < need) throw new CnncError('BAD_INPUT', `.npy data is ${body.byteLength} bytes, shape [${shape}] needs ${need}`);
  new Uint8Array(t.data.buffer).set(body.subarray(0, need));
  return t;
}

export function writeNpy(t: Tensor): Uint8Array {
  const descr = Object.entries(NPY_DTYPES).find(([, d]) => d === t.dtype)?.[0];
  // bf16, the 8-bit floats and the 4/2-bit types have no NumPy dtype (ml_dtypes is not NumPy).
  if (!descr) throw new CnncError('UNSUPPORTED', `.npy has no ${t.dtype} dtype: Cast the output to f32`);
  const shape = t.shape.length === 1 ? `(${t.shape[0]},)` : `(${t.shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  header += ' '.repeat(pad % 64) + '\n';
  const out = new Uint8Array(10 + header.length + t.data.byteLength);
  out.set([0x93, ...new TextEncoder().encode('NUMPY'), 1, 0], 0);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), 10 + header.length);
  return out;
}
