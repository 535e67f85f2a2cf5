/** Finding 9: malformed .npy inputs get a typed BAD_INPUT naming the file and the field, before any allocation. */
import { describe, expect, it } from 'vitest';
import { readNpy, writeNpy } from '../cli/npy.js';
import { tensor } from '../runtime/tensor.js';

function npy(header: string, dataBytes: number, version = 1): Uint8Array {
  const h = new TextEncoder().encode(header);
  const start = version === 1 ? 10 : 12;
  const out = new Uint8Array(start + h.length + dataBytes);
  out.set([0x93, ...new TextEncoder().encode('NUMPY'), version, 0]);
  const dv = new DataView(out.buffer);
  if (version === 1) dv.setUint16(8, h.length, true); else dv.setUint32(8, h.length, true);
  out.set(h, start);
  return out;
}
const hdr = (shape: string, descr = '<f4', fortran = 'False') => `{'descr': '${descr}', 'fortran_order': ${fortran}, 'shape': ${shape}, }\n`;

describe('.npy reader validates the header before allocating', () => {
  it('reads a valid file (v1 and v2, scalar and vector shapes)', () => {
    const t = tensor('f32', [2, 3], [1, 2, 3, 4, 5, 6]);
    expect(readNpy(writeNpy(t))).toEqual(t);
    const v2 = npy(hdr('(2,)'), 8, 2);
    new DataView(v2.buffer).setFloat32(v2.length - 8, 1.5, true);
    expect(readNpy(v2)).toEqual(tensor('f32', [2], [1.5, 0]));
    expect(readNpy(npy(hdr('()'), 4)).shape).toEqual([]);
  });

  const cases: [string, Uint8Array, RegExp][] = [
    ['magic bytes only', new Uint8Array([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]), /magic/],
    ['not npy', new TextEncoder().encode('hello world, not numpy'), /magic/],
    ['version 9', (() => { const b = npy(hdr('(1,)'), 4); b[6] = 9; return b; })(), /version 9\.0/],
    ['header length past the end', (() => { const b = npy(hdr('(1,)'), 4); new DataView(b.buffer).setUint16(8, 60000, true); return b; })(), /header length 60000 runs past/],
    ['negative dimension', npy(hdr('(-1, 4)'), 16), /shape has '-1'/],
    ['fractional dimension', npy(hdr('(2.5,)'), 16), /shape has '2.5'/],
    ['huge shape in a tiny file', npy(hdr('(1073741824, 4)'), 16), /shape \[1073741824,4\] of <f4 needs 17179869184 data bytes, the file has 16/],
    ['overflowing shape', npy(hdr('(99999999999, 99999999999, 99999999999)'), 16), /shape .* needs .* data bytes/],
    ['short data', npy(hdr('(4,)'), 12), /needs 16 data bytes, the file has 12/],
    ['trailing data', npy(hdr('(4,)'), 20), /needs 16 data bytes, the file has 20/],
    ['fortran order', npy(hdr('(2, 2)', '<f4', 'True'), 16), /fortran_order is True/],
    ['missing fortran_order', npy(`{'descr': '<f4', 'shape': (1,), }\n`, 4), /fortran_order is missing/],
    ['missing descr', npy(`{'fortran_order': False, 'shape': (1,), }\n`, 4), /descr is missing/],
    ['missing shape', npy(`{'descr': '<f4', 'fortran_order': False, }\n`, 4), /shape is missing/],
    ['big-endian', npy(hdr('(1,)', '>f4'), 4), /descr '>f4' is not supported/],
    ['object dtype', npy(hdr('(1,)', '|O'), 8), /descr '\|O' is not supported/],
  ];
  for (const [what, bytes, msg] of cases) {
    it(`${what} → BAD_INPUT naming the file and the field`, () => {
      let err: unknown;
      try { readNpy(bytes, 'in.npy'); } catch (e) { err = e; }
      expect(err).toMatchObject({ name: 'CnncError', code: 'BAD_INPUT' });
      expect((err as Error).message).toContain("'in.npy'");
      expect((err as Error).message).toMatch(msg);
    });
  }
});
