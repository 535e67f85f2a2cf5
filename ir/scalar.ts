/**
 * Scalar expressions: the per-element formula of an elementwise op or activation, written once in
 * the op's definition (ir/ops/) and read by everything else. The reference evaluates it in float64
 * (`scalarFn`); each code generator prints it in its own dialect (codegen/c-like.ts for WGSL and
 * CUDA, codegen/wasm/scalar.ts for wasm SIMD), as tinygrad's renderers print one UOp graph.
 *
 * Semantics are IEEE-754 float64, as JavaScript computes them, and every target must give the
 * same answer on special values:
 * - `max`/`min` propagate NaN (IEEE 754-2019 maximum/minimum, JavaScript's Math.max/Math.min);
 * - comparisons are false on NaN (`ne` is true), and give 1 or 0;
 * - `select(c, a, b)` is a where c ≠ 0, else b;
 * - `round` is half to even; `sign` is −1, 0 or 1 (NaN stays NaN, ±0 stay ±0);
 * - `sigmoid`, `tanh`, `erf`, `exp`, `expm1`, `log1p` are the exact functions: a renderer may
 *   approximate them within the f32 tolerance but must saturate (not overflow to NaN) for large |x|.
 */
import { CnncError } from '../runtime/errors.js';

export type UnaryFn =
  | 'neg' | 'abs' | 'sqrt' | 'exp' | 'expm1' | 'log' | 'log1p' | 'floor' | 'ceil' | 'round' | 'sign'
  | 'sin' | 'cos' | 'tanh' | 'erf' | 'sigmoid' | 'recip';
export type BinaryFn = 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'max' | 'min' | 'gt' | 'ge' | 'lt' | 'le' | 'eq' | 'ne';

export const UNARY_FNS: readonly UnaryFn[] = [
  'neg', 'abs', 'sqrt', 'exp', 'expm1', 'log', 'log1p', 'floor', 'ceil', 'round', 'sign', 'sin', 'cos', 'tanh', 'erf', 'sigmoid', 'recip',
];
export const BINARY_FNS: readonly BinaryFn[] = ['add', 'sub', 'mul', 'div', 'pow', 'max', 'min', 'gt', 'ge', 'lt', 'le', 'eq', 'ne'];

/** A scalar expression over the op's inputs (after broadcasting): a tree of these nodes. */
export type Scalar =
  | { readonly k: 'arg'; readonly i: number }
  | { readonly k: 'const'; readonly v: number }
  | { readonly k: 'un'; readonly fn: UnaryFn; readonly a: Scalar }
  | { readonly k: 'bin'; readonly fn: BinaryFn; readonly a: Scalar; readonly b: Scalar }
  | { readonly k: 'select'; readonly c: Scalar; readonly a: Scalar; readonly b: Scalar };

// ---- builders: ops write their formula with these ----

/** Input i of the op (x = arg(0)). */
export const arg = (i: number): Scalar => ({ k: 'arg', i });
export const x: Scalar = arg(0);
export const c = (v: number): Scalar => ({ k: 'const', v });
const un = (fn: UnaryFn) => (a: Scalar): Scalar => ({ k: 'un', fn, a });
const bin = (fn: BinaryFn) => (a: Scalar | number, b: Scalar | number): Scalar => ({ k: 'bin', fn, a: lift(a), b: lift(b) });
const lift = (a: Scalar | number): Scalar => (typeof a === 'number' ? c(a) : a);

export const neg = un('neg'), abs = un('abs'), sqrt = un('sqrt'), exp = un('exp'), expm1 = un('expm1'), log = un('log');
export const log1p = un('log1p'), floor = un('floor'), ceil = un('ceil'), round = un('round'), sign = un('sign');
export const sin = un('sin'), cos = un('cos'), tanh = un('tanh'), erf = un('erf'), sigmoid = un('sigmoid'), recip = un('recip');
export const add = bin('add'), sub = bin('sub'), mul = bin('mul'), div = bin('div'), pow = bin('pow');
export const max = bin('max'), min = bin('min');
export const gt = bin('gt'), ge = bin('ge'), lt = bin('lt'), le = bin('le'), eq = bin('eq'), ne = bin('ne');
export const select = (cond: Scalar, a: Scalar | number, b: Scalar | number): Scalar => ({ k: 'select', c: cond, a: lift(a), b: lift(b) });

/** `e` with arg(0) replaced by `by` (an activation applied to an expression). */
export function substitute(e: Scalar, by: readonly Scalar[]): Scalar {
  switch (e.k) {
    case 'arg': return by[e.i] ?? e;
    case 'const': return e;
    case 'un': return { ...e, a: substitute(e.a, by) };
    case 'bin': return { ...e, a: substitute(e.a, by), b: substitute(e.b, by) };
    case 'select': return { ...e, c: substitute(e.c, by), a: substitute(e.a, by), b: substitute(e.b, by) };
  }
}

/** How many inputs the expression reads (highest arg index + 1). */
export function arity(e: Scalar): number {
  switch (e.k) {
    case 'arg': return e.i + 1;
    case 'const': return 0;
    case 'un': return arity(e.a);
    case 'bin': return Math.max(arity(e.a), arity(e.b));
    case 'select': return Math.max(arity(e.c), arity(e.a), arity(e.b));
  }
}

/** Every function the expression uses (a target checks it can render them all). */
export function functionsOf(e: Scalar, into = new Set<UnaryFn | BinaryFn | 'select'>()): Set<UnaryFn | BinaryFn | 'select'> {
  if (e.k === 'un') { into.add(e.fn); functionsOf(e.a, into); }
  if (e.k === 'bin') { into.add(e.fn); functionsOf(e.a, into); functionsOf(e.b, into); }
  if (e.k === 'select') { into.add('select'); functionsOf(e.c, into); functionsOf(e.a, into); functionsOf(e.b, into); }
  return into;
}

/** A readable form for docs, errors and tests: `max(x0, 0)`. */
export function formatScalar(e: Scalar): string {
  switch (e.k) {
    case 'arg': return `x${e.i}`;
    case 'const': return Object.is(e.v, -0) ? '-0' : String(e.v);
    case 'un': return `${e.fn}(${formatScalar(e.a)})`;
    case 'bin': return `${e.fn}(${formatScalar(e.a)}, ${formatScalar(e.b)})`;
    case 'select': return `select(${formatScalar(e.c)}, ${formatScalar(e.a)}, ${formatScalar(e.b)})`;
  }
}

// ---- float64 evaluation: the reference semantics ----

/** Round half to even, as ONNX Round. */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The error function to ~1e-15: Taylor series near 0, continued fraction for erfc beyond. */
export function erf64(v: number): number {
  const ax = Math.abs(v);
  if (Number.isNaN(v)) return NaN;
  if (ax < 2.5) {
    // erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1))
    let term = v, sum = v;
    const x2 = v * v;
    for (let n = 1; n < 60; n++) {
      term *= -x2 / n;
      const more = term / (2 * n + 1);
      sum += more;
      if (Math.abs(more) < 1e-17 * Math.abs(sum)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  if (ax > 6) return Math.sign(v);
  // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...)))) (fixed depth)
  let f = ax;
  for (let k = 60; k >= 1; k--) f = ax + (k / 2) / f;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(v) * (1 - erfc);
}

/** 1/(1+e^−x) without overflow: e^−|x| ≤ 1 on both branches. */
function sigmoid64(v: number): number {
  if (v >= 0) return 1 / (1 + Math.exp(-v));
  const e = Math.exp(v);
  return e / (1 + e);
}

const UNARY64: Record<UnaryFn, (a: number) => number> = {
  neg: (a) => -a, abs: Math.abs, sqrt: Math.sqrt, exp: Math.exp, expm1: Math.expm1, log: Math.log, log1p: Math.log1p,
  floor: Math.floor, ceil: Math.ceil, round: roundHalfEven, sign: Math.sign, sin: Math.sin, cos: Math.cos,
  tanh: Math.tanh, erf: erf64, sigmoid: sigmoid64, recip: (a) => 1 / a,
};
const BINARY64: Record<BinaryFn, (a: number, b: number) => number> = {
  add: (a, b) => a + b, sub: (a, b) => a - b, mul: (a, b) => a * b, div: (a, b) => a / b, pow: Math.pow,
  max: Math.max, min: Math.min,
  gt: (a, b) => +(a > b), ge: (a, b) => +(a >= b), lt: (a, b) => +(a < b), le: (a, b) => +(a <= b),
  eq: (a, b) => +(a === b), ne: (a, b) => +(a !== b),
};

/** The expression as a float64 function of its inputs (closures, built once per node). */
export function scalarFn(e: Scalar): (xs: readonly number[]) => number {
  switch (e.k) {
    case 'arg': { const i = e.i; return (xs) => xs[i]; }
    case 'const': { const v = e.v; return () => v; }
    case 'un': { const f = UNARY64[e.fn], a = scalarFn(e.a); return (xs) => f(a(xs)); }
    case 'bin': { const f = BINARY64[e.fn], a = scalarFn(e.a), b = scalarFn(e.b); return (xs) => f(a(xs), b(xs)); }
    case 'select': {
      const cf = scalarFn(e.c), a = scalarFn(e.a), b = scalarFn(e.b);
      return (xs) => { const t = cf(xs); return t !== 0 && t === t ? a(xs) : b(xs); }; // NaN counts as false
    }
  }
}

/** A one-input expression as a float64 function of x. */
export function unaryFn(e: Scalar): (v: number) => number {
  const f = scalarFn(e);
  const xs = [0];
  return (v) => { xs[0] = v; return f(xs); };
}

/**
 * The inverse of `formatScalar`: `max(x0, 0)` back to its tree (fused nodes keep their formulas as
 * strings, so an artifact or a printed graph holds them as text). BAD_ATTRIBUTE on anything else.
 */
export function parseScalar(text: string): Scalar {
  let pos = 0;
  const bad = (why: string): never => {
    throw new CnncError('BAD_ATTRIBUTE', `scalar expression '${text}' ${why} at character ${pos}`);
  };
  const skip = () => { while (text[pos] === ' ') pos++; };
  const expect = (ch: string) => { skip(); if (text[pos] !== ch) bad(`expects '${ch}'`); pos++; };
  const parse = (): Scalar => {
    skip();
    const word = /^[a-z][a-z0-9]*|^-?(?:Infinity|NaN|\d[\d.e+-]*|\.\d[\d.e+-]*)/i.exec(text.slice(pos))?.[0];
    if (!word) return bad('expects a term');
    pos += word.length;
    if (/^x\d+$/.test(word)) return arg(Number(word.slice(1)));
    const v = Number(word);
    if (!Number.isNaN(v) || word === 'NaN') return c(word === '-0' ? -0 : v);
    const args: Scalar[] = [];
    expect('(');
    for (;;) {
      args.push(parse());
      skip();
      if (text[pos] === ')') { pos++; break; }
      expect(',');
    }
    if (word === 'select' && args.length === 3) return select(args[0], args[1], args[2]);
    if ((UNARY_FNS as readonly string[]).includes(word) && args.length === 1) return { k: 'un', fn: word as UnaryFn, a: args[0] };
    if ((BINARY_FNS as readonly string[]).includes(word) && args.length === 2) return { k: 'bin', fn: word as BinaryFn, a: args[0], b: args[1] };
    return bad(`has no function ${word} of ${args.length} arguments`);
  };
  const e = parse();
  skip();
  if (pos !== text.length) bad('has trailing text');
  return e;
}
