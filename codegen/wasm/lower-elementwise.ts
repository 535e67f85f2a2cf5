/**
 * Elementwise ops, from their definitions: every op whose traits give a scalar formula
 * (`traits.scalar`, ir/scalar.ts) lowers to one broadcasting kernel that renders the formula
 * (scalar.ts); no op is named here. Kernels are `elementwise_relu` for one input, `add` or
 * `add_bcast` (when an input broadcasts) for more.
 */
import type { Graph, Node } from '../../ir/graph.js';
import { getOp } from '../../ir/ops/index.js';
import { arg, c, functionsOf, substitute, type Scalar } from '../../ir/scalar.js';
import { fusedArgs, fusedFormula } from '../../ir/ops/fused-elementwise.js';
import { v128 } from './builder.js';
import { isArithFloat, sizeOf } from '../../ir/types.js';
import { emitElementwise } from './kernels.js';
import { renderScalar } from './scalar.js';
import type { Expr, FnBuilder } from './builder.js';
import { CAST_DTYPES, emitTypedElementwise, TYPED_DTYPES, TYPED_FNS } from './kernels-typed.js';
import { bitCastProblem, castRoundMode, castSaturate, decodeTable, isBitFloat, type RoundMode } from '../minifloat.js';
import type { DType } from '../../runtime/tensor.js';
import { stridesOf, tPerm, unchecked, wordsOf, type Loc, type OpLowering, type Storage } from './storage.js';

/** An elementwise operand: a value of the graph, or a compile-time array with its shape. */
export type Operand = string | { data: Float32Array; shape: readonly number[] } | { value: string; shape: readonly number[] };

/** The node's scalar formula (undefined: the op has none, or not for these attributes). */
export function scalarOf(n: Node): Scalar | undefined {
  return getOp(n.op, n.name).traits.scalar?.(n.attrs, n.inputs.filter((v) => v !== '').length);
}

/** What an elementwise kernel computes per element: one formula, or (FusedElementwise) one value per output. */
export type ElementwiseBody = Scalar | ((fb: FnBuilder, xs: number[]) => Expr[]);

/**
 * Broadcast elementwise: `e` over the operands (arg(i) = operand i), into every output of `n`
 * (all of the first one's shape). The outputs are channels-last when a 4-D data operand is, so
 * chains of elementwise ops keep the conv layout.
 */
export function elementwise(s: Storage, n: Node, operands: Operand[], e: ElementwiseBody, kernel: string): void {
  const out = s.shape(n.outputs[0]);
  const r = out.length;
  const isT = r >= 3 && operands.some((v) => typeof v === 'string' && !s.g.constValue(v) && s.locs.get(v)?.phys === 'T' && s.shape(v).length === r);
  const srcs = operands.map((v) => {
    if (typeof v !== 'string') return { l: 'data' in v ? s.constLoc(v.data) : s.plain(n, v.value), ls: stridesOf(v.shape), shape: v.shape };
    const sh = s.shape(v);
    let l: Loc = s.loc(n, v);
    if (l.phys === 'T' && !(isT && sh.length === r)) l = s.plain(n, v);
    return { l, ls: s.logicalStrides(v, l), shape: sh };
  });
  // strides over the output's dims (aligned right; broadcast dims get 0), then in storage order
  const operandStrides = srcs.map(({ ls, shape }) => {
    const st = out.map((_, i) => {
      const j = i - (r - shape.length);
      return j < 0 || shape[j] === 1 ? 0 : ls[j];
    });
    return isT ? tPerm(r).map((p) => st[p]) : st;
  });
  const dims = isT ? tPerm(r).map((p) => out[p]) : [...out];
  const ys = n.outputs.map((o) => {
    const y = s.dense(sizeOf(out), isT ? 'T' : 'plain', isT ? out[1] : 0);
    s.define(o, y);
    return y;
  });
  const expr = typeof e === 'function' ? e : (fb: FnBuilder, xs: number[]) => renderScalar(fb, e, xs);
  s.step(n, kernel, '', sizeOf(out), (m, a, fn) => emitElementwise(m, {
    name: fn, dims, Y: a(ys[0]), moreY: ys.slice(1).map((y) => a(y)), operands: srcs.map((x, k) => ({ addr: a(x.l), strides: operandStrides[k] })),
    expr,
  }), srcs.map((x) => x.l), ys);
}

/** A one-element f32 constant's value (folded into the formula instead of loaded per vector). */
function scalarConstant(g: Graph, v: string): number | undefined {
  const t = g.constValue(v);
  return t && t.dtype === 'f32' && sizeOf(t.shape) === 1 ? (t.data as Float32Array)[0] : undefined;
}

/** Why the typed kernel cannot compute formula `e` of node `n` over its dtypes, or undefined. */
function typedProblem(n: Node, g: Graph, e: Scalar | undefined): string | undefined {
  const vals = [...n.inputs, ...n.outputs].filter((v) => v !== '');
  const odd = vals.find((v) => !TYPED_DTYPES.has(g.type(v).dtype));
  if (odd) return `has no ${g.type(odd).dtype} tensors ('${odd}')`;
  if (!e) return `has no scalar formula for ${n.op} with these attributes`;
  const fns = [...functionsOf(e)].filter((f) => !TYPED_FNS.has(f));
  if (fns.length) return `computes ${fns.join(', ')} in f32 only (${n.op} on ${vals.map((v) => g.type(v).dtype).join(', ')})`;
  // a pow whose exponent may be fractional is f32 (kernels-typed.ts): too coarse for an f64 result
  const ins = n.inputs.filter((v) => v !== '');
  const integral = (x: Scalar): boolean => (x.k === 'const' ? Number.isInteger(x.v) : x.k === 'arg' && !isArithFloat(g.type(ins[x.i]).dtype));
  const fracPow = (x: Scalar): boolean => x.k === 'bin' ? (x.fn === 'pow' && !integral(x.b)) || fracPow(x.a) || fracPow(x.b)
    : x.k === 'un' ? fracPow(x.a) : x.k === 'select' ? fracPow(x.c) || fracPow(x.a) || fracPow(x.b) : false;
  if (n.outputs.some((v) => v !== '' && g.type(v).dtype === 'f64') && fracPow(e)) return `computes Pow with a non-integer exponent in f32 only, not for an f64 result (${n.op})`;
  return undefined;
}

/** The formula over operands of any typed dtype, one element at a time (comparisons, logic, integers, Cast). */
export function typedElementwise(s: Storage, n: Node, e: Scalar, kernel: string, cast = false, saturate = true, roundMode: RoundMode = 'up'): void {
  const ins = n.inputs.filter((v) => v !== '');
  const outV = n.outputs[0], out = s.shape(outV), od = s.g.type(outV).dtype;
  const y = s.dense(wordsOf(sizeOf(out), od), 'plain', 0);
  s.define(outV, y);
  if (sizeOf(out) === 0) return;
  const srcs = ins.map((v) => {
    const sh = s.shape(v), ls = stridesOf(sh);
    const strides = out.map((_, i) => {
      const j = i - (out.length - sh.length);
      return j < 0 || sh[j] === 1 ? 0 : ls[j];
    });
    return { l: s.plain(n, v), strides, dtype: s.g.type(v).dtype };
  });
  // the 8/4-bit float operands' values by code (the reference's), in the weights region
  const tables: Partial<Record<DType, number>> = {};
  for (const x of srcs) {
    if (isBitFloat(x.dtype) && x.dtype !== 'bf16') tables[x.dtype] ??= s.weight(new Float32Array(decodeTable(x.dtype).buffer));
  }
  s.step(n, kernel, 'typed', sizeOf(out), (m, a, fn) => emitTypedElementwise(m, {
    name: fn, dims: out, Y: a(y), out: od, operands: srcs.map((x) => ({ addr: a(x.l), strides: x.strides, dtype: x.dtype })), expr: e, cast, saturate, roundMode, tables,
  }), srcs.map((x) => x.l), [y]);
}

/** Cast between the typed dtypes: the identity formula, rounded or truncated by the output's dtype. */
export const CAST_LOWERING: OpLowering = {
  typed(n, g) {
    const [a, b] = [n.inputs[0], n.outputs[0]].map((v) => g.type(v).dtype);
    // 64-bit to 64-bit integers wrap exactly in the reference; through f64 they would round above 2^53
    if (a !== b && ['i64', 'u64'].includes(a) && ['i64', 'u64'].includes(b)) return `has no Cast from ${a} to ${b}`;
    const odd = [n.inputs[0], n.outputs[0]].find((v) => !CAST_DTYPES.has(g.type(v).dtype));
    if (odd) return `has no ${g.type(odd).dtype} tensors ('${odd}')`;
    return bitCastProblem(a, b);
  },
  lower: (s, n) => typedElementwise(s, n, arg(0), 'cast', true, castSaturate(n), castRoundMode(n)),
};

const allF32 = (s: Storage, n: Node) => [...n.inputs, ...n.outputs].every((v) => v === '' || s.g.type(v).dtype === 'f32');

/** The lowering of every op with a scalar formula. */
export const ELEMENTWISE_LOWERING: OpLowering = {
  check: (n) => (scalarOf(n) ? undefined : `has no scalar formula for ${n.op} with these attributes`),
  typed: (n, g) => typedProblem(n, g, scalarOf(n)),
  lower(s, n) {
    if (!allF32(s, n)) {
      typedElementwise(s, n, scalarOf(n) ?? unchecked(n, `has no scalar formula for ${n.op}`), `${n.op.toLowerCase()}_typed`);
      return;
    }
    const inputs = n.inputs.filter((v) => v !== '');
    const e = scalarOf(n) ?? unchecked(n, `has no scalar formula for ${n.op}`);
    const folded = inputs.map((v) => scalarConstant(s.g, v));
    const keep = folded.some((k) => k === undefined) ? folded : folded.map((k, i) => (i === 0 ? undefined : k));
    const live = inputs.filter((_, i) => keep[i] === undefined);
    let j = 0;
    const body = substitute(e, keep.map((k) => (k === undefined ? arg(j++) : c(k))));
    const out = s.shape(n.outputs[0]);
    const op = n.op.toLowerCase();
    const bcast = inputs.some((v) => s.shape(v).join() !== out.join());
    const kernel = inputs.length === 1 ? `elementwise_${op}` : `${op}${bcast ? '_bcast' : ''}`;
    elementwise(s, n, live, body, kernel);
  },
};

/**
 * FusedElementwise: the steps of its formula (ir/ops/fused-elementwise.ts) rendered in order into
 * v128 locals, each step reading the inputs and the earlier steps; the results are stored to the
 * node's outputs by one kernel. One-element constant inputs become literals.
 */
export const FUSED_ELEMENTWISE_LOWERING: OpLowering = {
  check: (n) => (n.outputs.some((o) => o === '') ? 'has no FusedElementwise with an unnamed output' : undefined),
  lower(s, n) {
    const { steps, results } = fusedFormula(n.attrs, n.inputs.length, s.g.nodeInfo(n));
    const folded = n.inputs.map((v) => scalarConstant(s.g, v));
    const live = n.inputs.filter((_, i) => folded[i] === undefined);
    const byArg = fusedArgs(folded, steps.length);
    const temps = new WeakMap<FnBuilder, number[]>();
    const body = (fb: FnBuilder, xs: number[]): Expr[] => {
      let t = temps.get(fb);
      if (!t) { t = steps.map(() => fb.local(v128)); temps.set(fb, t); }
      const locals = [...xs, ...t];
      // step k reads the live inputs' locals (literals substituted) and the earlier steps' locals
      const sets = steps.map((e, k) => fb.set(t![k], renderScalar(fb, substitute(e, byArg), locals)));
      return results.map((r, k) => (k === 0 ? fb.m.block(null, [...sets, fb.getv(t![r])], v128) : fb.getv(t![r])));
    };
    elementwise(s, n, live, body, 'fused_elementwise');
  },
};
