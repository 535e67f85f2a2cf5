/** Reading and writing NumPy .npy files (v1/v2, little-endian, C order) for `cnnc run`. */
import { CnncError } from '../runtime/errors.js';
import { BYTES_PER_ELEMENT, tensor, type DType, type Tensor } from '../runtime/tensor.js';

const NPY_DTYPES: Record<string, DType> = {
  '<f4': 'f32', '<f2': 'f16', '<i4': 'i32', '<i8': 'i64', '|u1': 'u8', '|i1': 'i8', '|b1': 'bool',
  '<f8': 'f64', '<i2': 'i16', '<u2': 'u16', '<u4': 'u32', '<u8': 'u64',
};

/**
 * Reads a .npy file (versions 1–3, little-endian, C order). The header is checked field by field
 * (magic, version, header length, descr, fortran_order, shape: non-negative integers, data bytes =
 * what the shape needs) before anything is allocated: a 4 KB file cannot reserve 4 GiB.
 */
export function readNpy(bytes: Uint8Array, file = '.npy input'): Tensor {
  const bad: (field: string, msg: string) => never = (field, msg) => { throw new CnncError('BAD_INPUT', `'${file}': .npy ${field} ${msg}`); };
  if (bytes.length < 10 || String.fromCharCode(...bytes.subarray(0, 6)) !== '\x93NUMPY') bad('magic', 'is missing: not a .npy file');
  const [major, minor] = [bytes[6], bytes[7]];
  if (major < 1 || major > 3 || minor !== 0) bad('version', `${major}.${minor} is not one of 1.0, 2.0, 3.0`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const start = major === 1 ? 10 : 12;
  if (bytes.length < start) bad('header length', 'is cut off');
  const hlen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  if (start + hlen > bytes.length) bad('header length', `${hlen} runs past the end of the file (${bytes.length} bytes)`);
  let header: string;
  try {
    header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1', { fatal: true }).decode(bytes.subarray(start, start + hlen));
  } catch {
    return bad('header', 'is not valid text');
  }
  const descr = /'descr':\s*'([^']*)'/.exec(header)?.[1];
  const order = /'fortran_order':\s*(True|False)\b/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined) bad('descr', `is missing from the header ${JSON.stringify(header.trim())}`);
  if (order === undefined) bad('fortran_order', `is missing (want True or False) from the header ${JSON.stringify(header.trim())}`);
  if (shapeText === undefined) bad('shape', `is missing (want a tuple) from the header ${JSON.stringify(header.trim())}`);
  const dtype = NPY_DTYPES[descr];
  if (!dtype) bad('descr', `'${descr}' is not supported (little-endian ${Object.keys(NPY_DTYPES).join(' ')}; use float32 '<f4')`);
  if (order === 'True') bad('fortran_order', 'is True: Fortran order is not supported (save a C-contiguous array)');
  const dims = shapeText.split(',').map((x) => x.trim());
  if (dims.length > 1 && dims[dims.length - 1] === '') dims.pop(); // (3,) and () are tuples
  if (dims.length === 1 && dims[0] === '') dims.pop();
  const shape = dims.map((d) => (/^\d+$/.test(d) && Number.isSafeInteger(Number(d)) ? Number(d) : bad('shape', `has '${d}': dimensions are non-negative integers`)));
  const elements = shape.reduce((a, d) => a * d, 1);
  const need = elements * BYTES_PER_ELEMENT[dtype];
  const have = bytes.length - start - hlen;
  if (!Number.isSafeInteger(need) || need !== have) bad('shape', `[${shape}] of ${descr} needs ${need} data bytes, the file has ${have}`);
  const t = tensor(dtype, shape);
  new Uint8Array(t.data.buffer).set(bytes.subarray(start + hlen));
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
