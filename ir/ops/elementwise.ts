/**
 * Elementwise ops: arithmetic, comparisons and logic with numpy broadcasting, unary math,
 * Where, Cast, CastLike and Identity. Values are computed in float64 and stored in the output
 * dtype: integer results truncate toward zero (C semantics, as onnxruntime), wrap modulo the
 * dtype's range on overflow, and become 0 where the float result is not finite (integer
 * division by zero). Integer arithmetic is exact while operands and results stay within ±2^53
 * (shape arithmetic does); Add, Sub, Mul, Div, Max, Min and Sum of i64/u64 compute in BigInt,
 * exact and wrapping. Where and the data-movement ops copy raw elements, exact for i64.
 */
import { DTYPES, fromF64, tensor, toF64, type ConvertOptions, type DType, type Tensor } from '../../runtime/tensor.js';
import type { Attrs, InferInput, NodeInfo, OpDef, OpTraits } from '../op.js';
import * as S from '../scalar.js';
import { roundHalfEven, type Scalar } from '../scalar.js';
import { attrString, fail, input } from '../op.js';
import { isFloat, sizeOf } from '../types.js';
import { broadcastIndex, broadcastInputs, broadcastsTo } from './broadcast.js';

// ONNX's arithmetic dtypes; the 8/4/2-bit types only move and Cast.
const FLOAT: readonly DType[] = ['f32', 'f16', 'f64', 'bf16'];
const SIGNED: readonly DType[] = [...FLOAT, 'i32', 'i64', 'i8', 'i16'];
const NUMERIC: readonly DType[] = [...SIGNED, 'u8', 'u16', 'u32', 'u64'];
const BOOL: readonly DType[] = ['bool'];
const WITH_BOOL: readonly DType[] = [...NUMERIC, 'bool'];

/** Stores float64 results in `dtype`; non-finite values become 0 in integer dtypes. */
export function store(dtype: DType, shape: readonly number[], v: Float64Array, opts?: ConvertOptions): Tensor {
  if (!isFloat(dtype)) for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i])) v[i] = 0;
  return fromF64(dtype, shape, v, opts);
}

function checkDtype(node: NodeInfo, x: InferInput, allowed: readonly DType[]): void {
  if (!allowed.includes(x.type.dtype)) {
    fail(node, 'DTYPE_MISMATCH', `does not take ${x.type.dtype} (takes ${allowed.join(', ')})`, x.name);
  }
}

/** All present inputs, checked for an allowed dtype; with `same`, all of the first one's dtype. */
function inputsOf(node: NodeInfo, allowed: readonly DType[], same: boolean): InferInput[] {
  const xs = node.inputs.map((_, i) => input(node, i));
  for (const x of xs) {
    checkDtype(node, x, allowed);
    if (same && x.type.dtype !== xs[0].type.dtype) {
      fail(node, 'DTYPE_MISMATCH', `dtype ${x.type.dtype} differs from ${xs[0].type.dtype} of '${xs[0].name}'`, x.name);
    }
  }
  return xs;
}

interface NaryOptions {
  /** The float formula folded over the inputs (see ir/scalar.ts), and the traits the op has. */
  scalar?: (acc: Scalar, x: Scalar) => Scalar;
  traits?: Omit<OpTraits, 'category' | 'scalar' | 'elementwise'>;
  /** Inputs may differ in dtype (Pow's exponent). */
  mixed?: boolean;
  /** Applied to each folded result with the input count (Mean). */
  finish?: (acc: number, n: number) => number;
  /** Output dtype (comparisons: bool); default the first input's. */
  out?: DType;
  /** The same fold on BigInt, for integer outputs of same-dtype inputs (exact, wraps). */
  big?: (acc: bigint, x: bigint) => bigint;
}

/** Bits and signedness of the integer dtypes whose arithmetic wraps exactly (BigInt folds). */
const WRAPS: Partial<Record<DType, [number, boolean]>> = {
  i64: [64, true], u64: [64, false], i32: [32, true], u32: [32, false], i16: [16, true], u16: [16, false], i8: [8, true], u8: [8, false],
};

/**
 * Folds `f` over broadcast integer inputs in BigInt, wrapping to the output dtype: exact at any
 * magnitude (a float64 product of two i32 or u32 values loses low bits beyond 2^53).
 */
function naryBig(xs: Tensor[], out: { dtype: DType; shape: readonly number[] }, f: (acc: bigint, x: bigint) => bigint): Tensor {
  const n = sizeOf(out.shape);
  const acc = new Array<bigint>(n);
  xs.forEach((x, j) => {
    const v = x.data as ArrayLike<number | bigint>;
    const idx = broadcastIndex(x.shape, out.shape);
    for (let k = 0; k < n; k++) acc[k] = j === 0 ? BigInt(v[idx[k]]) : f(acc[k], BigInt(v[idx[k]]));
  });
  const [bits, signed] = WRAPS[out.dtype]!;
  const wrap = (b: bigint) => (signed ? BigInt.asIntN(bits, b) : BigInt.asUintN(bits, b));
  if (bits === 64) return tensor(out.dtype, out.shape, signed ? BigInt64Array.from(acc, wrap) : BigUint64Array.from(acc, wrap));
  return tensor(out.dtype, out.shape, Array.from(acc, (b) => Number(wrap(b))));
}

/** An n-ary op folding `f` over broadcast inputs. */
function nary(name: string, doc: string, arity: [number, number], allowed: readonly DType[],
  f: (acc: number, x: number) => number, { mixed = false, finish, out: outDtype, big, scalar, traits }: NaryOptions = {}): OpDef {
  const fold = scalar && ((_a: Attrs, n: number) => {
    let e = S.arg(0);
    for (let i = 1; i < n; i++) e = scalar(e, S.arg(i));
    return finish ? S.div(e, n) : e;
  });
  return {
    name,
    doc,
    traits: { category: 'elementwise', elementwise: true, scalar: fold, ...traits },
    inputs: arity,
    attrs: {},
    infer(node) {
      const xs = inputsOf(node, allowed, !mixed);
      return [{ dtype: outDtype ?? xs[0].type.dtype, shape: broadcastInputs(node, xs) }];
    },
    reference(inputs, _a, [out]) {
      const xs = inputs as Tensor[];
      if (big && WRAPS[out.dtype] && xs.every((x) => x.dtype === out.dtype)) return [naryBig(xs, out, big)];
      const n = sizeOf(out.shape);
      const acc = new Float64Array(n);
      xs.forEach((x, j) => {
        const v = toF64(x);
        const idx = broadcastIndex(x.shape, out.shape);
        for (let k = 0; k < n; k++) acc[k] = j === 0 ? v[idx[k]] : f(acc[k], v[idx[k]]);
      });
      if (finish) for (let k = 0; k < n; k++) acc[k] = finish(acc[k], xs.length);
      return [store(out.dtype, out.shape, acc)];
    },
    cost: (node, [out]) => ({ flops: sizeOf(out.shape) * Math.max(1, node.inputs.length - 1) }),
  };
}

/** An elementwise op over one input. */
function unary(name: string, doc: string, allowed: readonly DType[], f: (x: number) => number, scalar: Scalar,
  traits: Omit<OpTraits, 'category' | 'scalar' | 'elementwise'> = { inPlace: true }): OpDef {
  return {
    name,
    doc,
    traits: { category: 'elementwise', elementwise: true, scalar: () => scalar, ...traits },
    inputs: [1, 1],
    attrs: {},
    infer(node) {
      const x = input(node, 0);
      checkDtype(node, x, allowed);
      return [x.type];
    },
    reference([x], _a, [out]) {
      const v = toF64(x as Tensor);
      for (let i = 0; i < v.length; i++) v[i] = f(v[i]);
      return [store(out.dtype, out.shape, v)];
    },
    cost: (_n, [out]) => ({ flops: sizeOf(out.shape) }),
  };
}

const IN_PLACE = { inPlace: true } as const;
const F16_IN_PLACE = { inPlace: true, fp16: 'compute' } as const;

const PRelu: OpDef = {
  name: 'PRelu',
  traits: { category: 'activation', elementwise: true, inPlace: true, fp16: 'compute', scalar: () => S.select(S.lt(S.arg(0), 0), S.mul(S.arg(0), S.arg(1)), S.arg(0)) },
  doc: 'x if x >= 0 else slope·x; slope broadcasts to x (unidirectional)',
  inputs: [2, 2],
  attrs: {},
  infer(node) {
    const [x, slope] = inputsOf(node, FLOAT, true);
    if (!broadcastsTo(slope.type.shape, x.type.shape)) {
      fail(node, 'SHAPE_MISMATCH', `slope [${slope.type.shape}] does not broadcast to input [${x.type.shape}]`, slope.name);
    }
    return [x.type];
  },
  reference([x, slope], _a, [out]) {
    const v = toF64(x as Tensor);
    const s = toF64(slope as Tensor);
    const idx = broadcastIndex((slope as Tensor).shape, out.shape);
    for (let k = 0; k < v.length; k++) if (v[k] < 0) v[k] *= s[idx[k]];
    return [store(out.dtype, out.shape, v)];
  },
  cost: (_n, [out]) => ({ flops: sizeOf(out.shape) }),
};

const ROUND_MODES = ['up', 'down', 'nearest'];

const Cast: OpDef = {
  name: 'Cast',
  traits: { category: 'elementwise', elementwise: true },
  doc: 'converts to dtype `to`: floats round to nearest even, to integers truncate and wrap; 8-bit floats saturate unless saturate=0',
  inputs: [1, 1],
  attrs: { to: null, saturate: 1, round_mode: 'up' },
  infer(node) {
    const x = input(node, 0);
    const to = attrString(node.attrs, 'to', node);
    if (!DTYPES.includes(to as DType)) fail(node, 'BAD_ATTRIBUTE', `'to' must be one of ${DTYPES.join(', ')}, got '${to}'`);
    const mode = attrString(node.attrs, 'round_mode', node);
    if (!ROUND_MODES.includes(mode)) fail(node, 'BAD_ATTRIBUTE', `'round_mode' must be one of ${ROUND_MODES.join(', ')}, got '${mode}'`);
    return [{ dtype: to as DType, shape: x.type.shape }];
  },
  reference([x], a, [out]) {
    const t = x as Tensor;
    if (t.dtype === out.dtype) return [t];
    if (t.data instanceof BigInt64Array || t.data instanceof BigUint64Array) {
      // 64-bit integer to 64-bit integer: exact, wrapping.
      if (out.dtype === 'i64') return [tensor('i64', out.shape, BigInt64Array.from(t.data, (b) => BigInt.asIntN(64, b)))];
      if (out.dtype === 'u64') return [tensor('u64', out.shape, BigUint64Array.from(t.data, (b) => BigInt.asUintN(64, b)))];
    }
    const v = toF64(t);
    // NaN and ±inf are true (numpy and onnxruntime), so bool does not go through store().
    if (out.dtype === 'bool') return [tensor('bool', out.shape, Uint8Array.from(v, (e) => +(e !== 0)))];
    // Through float64: exact for every value of the other dtypes and every integer below 2^53.
    return [store(out.dtype, out.shape, v, { saturate: a.saturate !== 0, roundMode: a.round_mode as ConvertOptions['roundMode'] })];
  },
  cost: () => ({ flops: 0 }),
};

const CastLike: OpDef = {
  name: 'CastLike',
  traits: { category: 'elementwise', elementwise: true },
  doc: 'converts the first input to the dtype of the second (whose values are not read)',
  inputs: [2, 2],
  attrs: {},
  infer: (node) => [{ dtype: input(node, 1).type.dtype, shape: input(node, 0).type.shape }],
  reference: ([x], _a, outs) => Cast.reference([x], { saturate: 1, round_mode: 'up' }, outs),
  cost: () => ({ flops: 0 }),
};

const Where: OpDef = {
  name: 'Where',
  traits: { category: 'elementwise', elementwise: true, scalar: () => S.select(S.ne(S.arg(0), 0), S.arg(1), S.arg(2)) },
  doc: 'x where cond else y (all three broadcast)',
  inputs: [3, 3],
  attrs: {},
  infer(node) {
    const [cond, x, y] = [0, 1, 2].map((i) => input(node, i));
    checkDtype(node, cond, ['bool']);
    if (x.type.dtype !== y.type.dtype) fail(node, 'DTYPE_MISMATCH', `dtype ${y.type.dtype} differs from ${x.type.dtype} of '${x.name}'`, y.name);
    return [{ dtype: x.type.dtype, shape: broadcastInputs(node, [cond, x, y]) }];
  },
  reference([cond, x, y], _a, [out]) {
    const [c, a, b] = [cond, x, y] as Tensor[];
    const ic = broadcastIndex(c.shape, out.shape), ia = broadcastIndex(a.shape, out.shape), ib = broadcastIndex(b.shape, out.shape);
    // Raw copies (exact for i64): element k comes from x or y.
    const res = tensor(out.dtype, out.shape);
    const dst = res.data as unknown as Float64Array, xa = a.data as unknown as Float64Array, yb = b.data as unknown as Float64Array;
    for (let k = 0; k < ic.length; k++) dst[k] = c.data[ic[k]] ? xa[ia[k]] : yb[ib[k]];
    return [res];
  },
  cost: (_n, [out]) => ({ flops: sizeOf(out.shape) }),
};

const Identity: OpDef = {
  name: 'Identity',
  traits: { category: 'movement', elementwise: true, alias: true, inPlace: true, fp16: 'follow', scalar: () => S.x },
  doc: 'the input, unchanged',
  inputs: [1, 1],
  attrs: {},
  infer: (node) => [input(node, 0).type],
  reference: ([x]) => [x as Tensor],
  cost: () => ({ flops: 0 }),
};

export const ELEMENTWISE_OPS: OpDef[] = [
  nary('Add', 'a + b (broadcast)', [2, 2], NUMERIC, (a, b) => a + b, { big: (a, b) => a + b, scalar: S.add, traits: F16_IN_PLACE }),
  nary('Sub', 'a − b (broadcast)', [2, 2], NUMERIC, (a, b) => a - b, { big: (a, b) => a - b, scalar: S.sub, traits: F16_IN_PLACE }),
  nary('Mul', 'a · b (broadcast)', [2, 2], NUMERIC, (a, b) => a * b, { big: (a, b) => a * b, scalar: S.mul, traits: F16_IN_PLACE }),
  // Integer division by zero gives 0 (as the float path's non-finite → 0).
  nary('Div', 'a / b (broadcast); integers truncate toward zero', [2, 2], NUMERIC, (a, b) => a / b,
    { big: (a, b) => (b === 0n ? 0n : a / b), scalar: S.div, traits: F16_IN_PLACE }),
  // Pow: the exponent may have another numeric dtype; the output has the base's dtype.
  nary('Pow', 'a ^ b (broadcast); output dtype of the base', [2, 2], NUMERIC, (a, b) => a ** b, { mixed: true, scalar: S.pow, traits: IN_PLACE }),
  nary('Max', 'elementwise maximum of 1..n inputs (broadcast)', [1, Infinity], NUMERIC, (a, b) => (Number.isNaN(a) || a >= b ? a : b),
    { big: (a, b) => (a >= b ? a : b), scalar: S.max, traits: F16_IN_PLACE }),
  nary('Min', 'elementwise minimum of 1..n inputs (broadcast)', [1, Infinity], NUMERIC, (a, b) => (Number.isNaN(a) || a <= b ? a : b),
    { big: (a, b) => (a <= b ? a : b), scalar: S.min, traits: F16_IN_PLACE }),
  nary('Sum', 'elementwise sum of 1..n inputs (broadcast)', [1, Infinity], NUMERIC, (a, b) => a + b, { big: (a, b) => a + b, scalar: S.add, traits: F16_IN_PLACE }),
  nary('Mean', 'elementwise mean of 1..n inputs (broadcast)', [1, Infinity], FLOAT, (a, b) => a + b, { finish: (s, n) => s / n, scalar: S.add, traits: IN_PLACE }),
  PRelu,
  unary('Neg', '−x', SIGNED, (x) => -x, S.neg(S.x), F16_IN_PLACE),
  unary('Abs', '|x|', NUMERIC, Math.abs, S.abs(S.x), F16_IN_PLACE),
  unary('Sqrt', '√x', FLOAT, Math.sqrt, S.sqrt(S.x)),
  unary('Exp', 'e^x', FLOAT, Math.exp, S.exp(S.x)),
  unary('Log', 'ln x', FLOAT, Math.log, S.log(S.x)),
  unary('Reciprocal', '1/x', FLOAT, (x) => 1 / x, S.recip(S.x)),
  unary('Floor', '⌊x⌋', FLOAT, Math.floor, S.floor(S.x)),
  unary('Ceil', '⌈x⌉', FLOAT, Math.ceil, S.ceil(S.x)),
  unary('Round', 'x rounded half to even', FLOAT, roundHalfEven, S.round(S.x)),
  nary('Equal', 'a == b (broadcast), bool', [2, 2], WITH_BOOL, (a, b) => +(a === b), { out: 'bool', scalar: S.eq, traits: {} }),
  nary('Less', 'a < b (broadcast), bool', [2, 2], NUMERIC, (a, b) => +(a < b), { out: 'bool', scalar: S.lt, traits: {} }),
  nary('LessOrEqual', 'a <= b (broadcast), bool', [2, 2], NUMERIC, (a, b) => +(a <= b), { out: 'bool', scalar: S.le, traits: {} }),
  nary('Greater', 'a > b (broadcast), bool', [2, 2], NUMERIC, (a, b) => +(a > b), { out: 'bool', scalar: S.gt, traits: {} }),
  nary('GreaterOrEqual', 'a >= b (broadcast), bool', [2, 2], NUMERIC, (a, b) => +(a >= b), { out: 'bool', scalar: S.ge, traits: {} }),
  nary('And', 'a and b (broadcast)', [2, 2], BOOL, (a, b) => +(a && b), { scalar: (a, b) => S.mul(S.ne(a, 0), S.ne(b, 0)), traits: IN_PLACE }),
  nary('Or', 'a or b (broadcast)', [2, 2], BOOL, (a, b) => +(a || b), { scalar: (a, b) => S.max(S.ne(a, 0), S.ne(b, 0)), traits: IN_PLACE }),
  nary('Xor', 'a xor b (broadcast)', [2, 2], BOOL, (a, b) => +(!a !== !b), { scalar: (a, b) => S.ne(S.ne(a, 0), S.ne(b, 0)), traits: IN_PLACE }),
  unary('Not', 'not x', BOOL, (x) => +!x, S.eq(S.x, 0)),
  Where,
  Cast,
  CastLike,
  Identity,
];
