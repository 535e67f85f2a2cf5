/**
 * Special-value cases shared by the wgsl and cuda scalar tests (test/wgsl-scalar.test.ts,
 * test/cuda-scalar.test.ts): every op with a `traits.scalar`, on every tuple of special f32
 * values, against the reference. The reference is the op's own reference kernel (the interpreter
 * on a one-node f32 graph); for ops that take no f32 inputs (And, Or, Xor, Not, Where) it is the
 * float64 evaluation of the formula (ir/scalar.ts `scalarFn`), which the interpreter uses too.
 */
import { Graph } from '../ir/graph.js';
import { interpret } from '../ir/interpreter.js';
import type { Attrs } from '../ir/op.js';
import { allOps, getOp } from '../ir/ops/index.js';
import { scalarFn, type Scalar } from '../ir/scalar.js';
import { fromF64, tensor, toF64 } from '../runtime/tensor.js';

/** The special values of the brief, plus 2, 3 (an odd integer exponent), 0.5 and −2 for pow. */
export const SPECIALS = [0, -0, Infinity, -Infinity, NaN, 1e30, -1e30, 1e-40, -1e-40, 1, -1, 3.5, -3.5, 88, -88, 100, 2, 3, 0.5, -2]
  .map((v) => Math.fround(v));

/** Tolerances per element: f32 rtol / atol (NaN where the reference is NaN, equal infinities). */
export const RTOL = 1e-4, ATOL = 1e-5;

export interface ScalarCase {
  /** `Op` or `Op{attrs}`. */
  name: string;
  op: string;
  attrs: Attrs;
  arity: number;
  expr: Scalar;
}

/** Non-default attributes worth their own case. */
const VARIANTS: [string, Attrs][] = [
  ['Clip', { min: -1, max: 2 }], ['Clip', { min: 0, max: 6 }], ['LeakyRelu', { alpha: 0.2 }], ['Gelu', { approximate: 'tanh' }],
  ['Elu', { alpha: 0.5 }], ['Celu', { alpha: 2 }], ['ThresholdedRelu', { alpha: 0.5 }], ['HardSigmoid', { alpha: 0.3, beta: 0.4 }],
];

const defaults = (op: string, given: Attrs = {}): Attrs => {
  const a: Attrs = {};
  for (const [k, v] of Object.entries(getOp(op).attrs)) if (v !== null) a[k] = v;
  return { ...a, ...given };
};

/** One case per op with a scalar formula (fewest inputs it takes, at least 2 for n-ary ops), plus VARIANTS. */
export function scalarCases(): ScalarCase[] {
  const cases: ScalarCase[] = [];
  const add = (op: string, given?: Attrs) => {
    const def = getOp(op);
    const arity = Math.max(def.inputs[0], Math.min(2, def.inputs[1]));
    const attrs = defaults(op, given);
    const expr = def.traits.scalar!(attrs, arity);
    if (!expr) throw new Error(`${op} gives no formula for ${JSON.stringify(attrs)}`);
    cases.push({ name: given ? `${op}${JSON.stringify(given)}` : op, op, attrs, arity, expr });
  };
  for (const def of allOps()) if (def.traits.scalar) add(def.name);
  for (const [op, a] of VARIANTS) add(op, a);
  return cases;
}

/** Every tuple of `arity` special values (row-major), as one f32 array per argument. */
export function tuples(arity: number): Float32Array[] {
  const n = SPECIALS.length ** arity;
  return Array.from({ length: arity }, (_, k) => Float32Array.from({ length: n }, (_, i) => SPECIALS[Math.floor(i / SPECIALS.length ** (arity - 1 - k)) % SPECIALS.length]));
}

/** The reference outputs of a case on `args` (f32-rounded, as an f32 output stores them). */
export function referenceOf(c: ScalarCase, args: Float32Array[]): Float64Array {
  const n = args[0].length;
  const g = new Graph('special');
  const ins = args.map((a, k) => g.addInput(`a${k}`, { dtype: 'f32', shape: [n] }));
  try {
    g.setOutputs(g.addNode(c.op, ins, c.attrs, { name: 'n0' }));
  } catch {
    // the op takes no f32 inputs (bool logic, Where's condition): its formula in float64
    const f = scalarFn(c.expr);
    return Float64Array.from({ length: n }, (_, i) => Math.fround(f(args.map((a) => a[i]))));
  }
  const out = interpret(g, Object.fromEntries(args.map((a, k) => [`a${k}`, tensor('f32', [n], a)])));
  return toF64(out[g.outputs[0]]);
}

/** Describes the elements where `got` differs from `ref` beyond the tolerances (at most `limit`). */
export function mismatches(c: ScalarCase, args: Float32Array[], ref: ArrayLike<number>, got: ArrayLike<number>, limit = 6): string[] {
  const bad: string[] = [];
  for (let i = 0; i < ref.length && bad.length < limit; i++) {
    const r = ref[i], v = got[i];
    const ok = Number.isNaN(r) ? Number.isNaN(v)
      : !Number.isFinite(r) ? v === r
        : Number.isFinite(v) && Math.abs(v - r) <= ATOL + RTOL * Math.abs(r);
    if (!ok) bad.push(`${c.name}(${args.map((a) => a[i]).join(', ')}) = ${v}, reference ${r}`);
  }
  return bad;
}

/** The seven activations brought to every target by their definition alone, with non-default parameters where they have them. */
export const SEVEN: [string, Attrs][] = [
  ['Elu', { alpha: 0.7 }], ['Celu', { alpha: 1.3 }], ['Selu', {}], ['ThresholdedRelu', { alpha: 0.4 }],
  ['Softplus', {}], ['Softsign', {}], ['Mish', {}],
];

/**
 * One graph for the seven: each standalone on x (N=1, C=4, 7×7, values in [−6, 6]; in f16 the
 * elementwise kernel takes its half2 path), and each as the fused epilogue of a 3×3 Conv with bias
 * (the attributes the op's own `asActivation` gives). Outputs `<Op>` and `conv_<Op>`.
 */
export function sevenActivationsGraph(dtype: 'f32' | 'f16'): { g: Graph; x: Float32Array } {
  const g = new Graph(`seven_${dtype}`);
  const shape = [1, 4, 7, 7];
  const xv = Float32Array.from({ length: 196 }, (_, i) => (((i * 37) % 97) - 48) / 8);
  const x = g.addInput('x', { dtype, shape });
  const wv = Float32Array.from({ length: 8 * 4 * 9 }, (_, i) => (((i * 53) % 89) - 44) / 150);
  const w = g.addConstant('w', fromF64(dtype, [8, 4, 3, 3], Float64Array.from(wv)));
  const b = g.addConstant('b', fromF64(dtype, [8], Float64Array.from({ length: 8 }, (_, i) => (i - 4) / 5)));
  const outs: string[] = [];
  for (const [op, given] of SEVEN) {
    const attrs = defaults(op, given);
    outs.push(g.add(op, [x], given, { name: op, outputs: [op] }));
    const act = getOp(op).traits.asActivation!(attrs)!;
    outs.push(g.add('Conv', [x, w, b], { pads: [1, 1, 1, 1], activation: act.activation, act_alpha: act.act_alpha, act_beta: act.act_beta }, { name: `conv_${op}`, outputs: [`conv_${op}`] }));
  }
  g.setOutputs(outs);
  return { g, x: xv };
}

/** Elements of `got` outside |got − ref| ≤ atol + rtol·|ref| (at most `limit`, described). */
export function outside(name: string, ref: ArrayLike<number>, got: ArrayLike<number>, rtol: number, atol: number, limit = 5): string[] {
  const bad: string[] = [];
  if (ref.length !== got.length) return [`${name}: ${got.length} elements, reference ${ref.length}`];
  for (let i = 0; i < ref.length && bad.length < limit; i++) {
    if (!(Math.abs(got[i] - ref[i]) <= atol + rtol * Math.abs(ref[i]))) bad.push(`${name}[${i}] = ${got[i]}, reference ${ref[i]}`);
  }
  return bad;
}
