/**
 * Cast to and from the bit floats (bf16, the 8-bit floats, f4e2m1), which the wgsl target carries
 * as their codes in i32 buffers: decoding is the reference's value of every code (a table) or the
 * top half of an f32 (bf16); encoding is codegen/minifloat.ts's algorithm over the f32's bits, so
 * no float arithmetic (which a GPU may flush to zero on denormals) touches the values.
 */
import type { Node } from '../../../ir/graph.js';
import type { DType } from '../../../runtime/tensor.js';
import { CnncError } from '../../../runtime/errors.js';
import { sizeOf } from '../../../ir/types.js';
import { bitCastProblem, castRoundMode, castSaturate, decodeTable, e8m0Encoding, encoding, isBitFloat, type RoundMode } from '../../minifloat.js';
import type { Emitter } from '../emit.js';
import { emitCopyOp, simple } from './elementwise.js';

/** Why the wgsl target has no Cast from `x` to `y` through this file, or undefined. */
export function bitCastReason(x: DType, y: DType): string | undefined {
  if (!isBitFloat(x) && !isBitFloat(y)) return undefined;
  if (isBitFloat(x) && !isBitFloat(y) && y !== 'f32' && y !== 'f16') return `the wgsl target has no Cast from ${x} to ${y}`;
  return bitCastProblem(x, y);
}

const hex = (v: number) => `0x${(v >>> 0).toString(16)}u`;

/** fn cnnc_encode(u: u32) -> u32: the code of the f32 with bits u in `d` (codegen/minifloat.ts). */
function encoder(d: DType, saturate: boolean): string {
  const e = encoding(d, saturate);
  return `fn cnnc_encode(u: u32) -> u32 {
  let a = u & 0x7fffffffu;
  let neg = (u >> 31u) != 0u;
  if (a > 0x7f800000u) { return ${hex(e.nan)}; }
  if (a >= ${hex(e.over)}) { return select(${hex(e.overPos)}, ${hex(e.overNeg)}, neg); }
  let ef = a >> 23u;
  var xb = a - ${hex((e.normal - 1) << 23)};
  var k = ${23 - e.mant}u;
  if (ef < ${e.normal}u) {
    xb = (a & 0x7fffffu) | select(0u, 0x800000u, ef > 0u);
    k = min(${e.subShift}u - max(ef, 1u), 25u);
  }
  let c = (xb + (1u << (k - 1u)) - 1u + ((xb >> k) & 1u)) >> k;
  if (c == 0u) { return select(${hex(e.zeroPos)}, ${hex(e.zeroNeg)}, neg); }
  return select(0u, ${hex(e.signBit)}, neg) | c;
}`;
}

/** fn cnnc_encode(u: u32) -> u32 for f8e8m0: codegen/minifloat.ts's e8m0 rule. */
function encoderE8M0(saturate: boolean, mode: RoundMode): string {
  const e = e8m0Encoding(saturate, mode);
  return `fn cnnc_encode(u: u32) -> u32 {
  let a = u & 0x7fffffffu;
  let neg = (u >> 31u) != 0u;
  if (a > 0x7f800000u) { return ${hex(e.nan)}; }
  if (a == 0u) { return select(${hex(e.zeroPos)}, ${hex(e.zeroNeg)}, neg); }
  if (neg) { return ${hex(e.neg)}; }
  let ef = a >> 23u;
  let thr = select(${hex(e.thrNormal)}, ${hex(e.thrSub)}, ef == 0u);
  return min(ef + select(0u, 1u, (a & 0x7fffffu) >= thr), ${hex(e.cap)});
}`;
}

/** Cast (CastLike): through this file where a bit float is involved, else the copy kernel. */
export function emitCast(e: Emitter, node: Node): void {
  const xn = node.inputs[0], yn = node.outputs[0];
  const x = e.graph.type(xn).dtype, y = e.graph.type(yn).dtype;
  if (!isBitFloat(x) && !isBitFloat(y)) { emitCopyOp(e, node); return; }
  const why = bitCastReason(x, y);
  if (why) throw new CnncError('UNSUPPORTED', why, { node: node.name, op: node.op });
  const decls: string[] = [];
  let bits = 'bitcast<u32>(f32(X[i]))'; // f32, f16 and the narrow integers (exact in f32)
  if (x === 'bf16') bits = 'u32(X[i]) << 16u';
  else if (isBitFloat(x)) {
    const t = decodeTable(x);
    decls.push(`var<private> DEC: array<u32, ${t.length}> = array<u32, ${t.length}>(${Array.from(t, hex).join(', ')});`);
    bits = 'DEC[u32(X[i])]';
  }
  let store = 'Y[i] = T_Y(bitcast<f32>(u));';
  if (isBitFloat(y)) {
    decls.push(y === 'f8e8m0' ? encoderE8M0(castSaturate(node), castRoundMode(node)) : encoder(y, castSaturate(node)));
    store = 'Y[i] = i32(cnnc_encode(u));';
  }
  const bindings = [e.read('X', e.operand(xn)), e.write('Y', e.operand(yn))];
  simple(e, node, bindings, sizeOf(e.graph.type(yn).shape), `let u = ${bits};\n${store}`, decls.join('\n'));
}
