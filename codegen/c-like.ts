/**
 * One renderer of scalar expressions (ir/scalar.ts) for the C-like targets, WGSL and CUDA C++, as
 * tinygrad's renderers share one C-like base and override spellings. A `Dialect` says how its
 * language writes literals, calls, select and bool→float; the few functions whose builtins do not
 * have the reference's semantics on special values are helper functions the dialect defines
 * (NaN-propagating max/min, sign keeping ±0, overflow-free sigmoid/tanh, C/JavaScript pow).
 *
 * Semantics to match (ir/scalar.ts): max/min propagate NaN; comparisons are false on NaN; select
 * takes `a` where the condition is neither 0 nor NaN; round is half to even; sigmoid/tanh/exp
 * forms saturate for large |x| while NaN inputs propagate; pow follows JavaScript's Math.pow
 * (C's pow except pow(±1, ±∞) and pow(1, NaN), which are NaN).
 */
import type { Attrs } from '../ir/op.js';
import { activationScalar } from '../ir/ops/activation.js';
import { getOp, hasOp } from '../ir/ops/index.js';
import type { DType } from '../runtime/tensor.js';
import { scalarFn, type BinaryFn, type Scalar, type UnaryFn } from '../ir/scalar.js';
import { CnncError } from '../runtime/errors.js';

/** A helper function a dialect defines: its source and the helpers it calls. */
export interface Helper {
  readonly code: string;
  readonly uses?: readonly string[];
}

export interface Dialect {
  readonly name: string;
  /** A finite f32 literal (negative ones are parenthesised by the renderer). */
  lit(v: number): string;
  /** Expressions of +∞ and NaN (WGSL has no literal for them). */
  readonly inf: string;
  readonly nan: string;
  /** A bool expression as 1.0 / 0.0. */
  toFloat(cond: string): string;
  /** `cond ? a : b` for a bool `cond`. */
  select(cond: string, a: string, b: string): string;
  /** The function each unary fn calls (neg and recip are operators). */
  readonly unary: Readonly<Record<Exclude<UnaryFn, 'neg' | 'recip'>, string>>;
  /** The function max, min and pow call. */
  readonly binary: Readonly<Record<'max' | 'min' | 'pow', string>>;
  /** Helper functions by name (every name starting with `cnnc_` in the tables above). */
  readonly helpers: Readonly<Record<string, Helper>>;
}

const INFIX: Partial<Record<BinaryFn, string>> = { add: '+', sub: '-', mul: '*', div: '/' };
const COMPARE: Partial<Record<BinaryFn, string>> = { gt: '>', ge: '>=', lt: '<', le: '<=', eq: '==', ne: '!=' };

/**
 * Simplifies before rendering: constant subtrees fold in float64 (no literal arithmetic left for a
 * shader compiler to reject), and max(x, −∞) / min(x, +∞) become x (exact, NaN included), so
 * Clip's open bounds cost nothing.
 */
export function simplify(e: Scalar): Scalar {
  switch (e.k) {
    case 'arg': case 'const': return e;
    case 'un': {
      const a = simplify(e.a);
      return a.k === 'const' ? { k: 'const', v: scalarFn({ ...e, a })([]) } : { ...e, a };
    }
    case 'bin': {
      const a = simplify(e.a), b = simplify(e.b);
      if (a.k === 'const' && b.k === 'const') return { k: 'const', v: scalarFn({ ...e, a, b })([]) };
      const identity = e.fn === 'max' ? -Infinity : e.fn === 'min' ? Infinity : undefined;
      if (identity !== undefined && b.k === 'const' && b.v === identity) return a;
      if (identity !== undefined && a.k === 'const' && a.v === identity) return b;
      return { ...e, a, b };
    }
    case 'select': {
      const cnd = simplify(e.c), a = simplify(e.a), b = simplify(e.b);
      if (cnd.k === 'const') return cnd.v !== 0 && cnd.v === cnd.v ? a : b;
      return { k: 'select', c: cnd, a, b };
    }
  }
}

/**
 * Prints scalar expressions in one dialect and remembers the helper functions they call, so a
 * shader declares exactly those (`helpers()`). Arguments must be identifiers or literals: an
 * expression may read an argument more than once.
 */
export class CRenderer {
  private readonly used = new Set<string>();

  constructor(readonly d: Dialect) {}

  /** `e` as an f32 expression of `args` (args[i] is the name of input i). */
  render(e: Scalar, args: readonly string[]): string {
    return this.expr(simplify(e), args);
  }

  /** Definitions of every helper rendered so far (dependencies first), one per line. */
  helpers(): string {
    const out: string[] = [];
    const seen = new Set<string>();
    const add = (name: string) => {
      if (seen.has(name)) return;
      seen.add(name);
      const h = this.d.helpers[name];
      for (const u of h.uses ?? []) add(u);
      out.push(h.code);
    };
    for (const name of [...this.used].sort()) add(name);
    return out.join('\n');
  }

  private call(fn: string, ...xs: string[]): string {
    if (fn.startsWith('cnnc_')) this.need(fn);
    return `${fn}(${xs.join(', ')})`;
  }

  /** Marks a helper (and what it uses) as needed; the name must exist in the dialect. */
  private need(name: string): void {
    if (!this.d.helpers[name]) throw new CnncError('UNSUPPORTED', `the ${this.d.name} dialect has no helper ${name}`);
    this.used.add(name);
  }

  /** A value an expression may name: literal for finite constants, helper expression otherwise. */
  private constant(v: number): string {
    if (Number.isNaN(v) || !Number.isFinite(Math.fround(v))) {
      const s = Number.isNaN(v) ? this.d.nan : v > 0 ? this.d.inf : `(-${this.d.inf})`;
      for (const m of s.matchAll(/cnnc_\w+/g)) this.need(m[0]);
      return s;
    }
    const s = this.d.lit(v);
    return s.startsWith('-') ? `(${s})` : s;
  }

  private expr(e: Scalar, args: readonly string[]): string {
    switch (e.k) {
      case 'arg': {
        const a = args[e.i];
        if (a === undefined) throw new CnncError('BAD_GRAPH', `scalar expression reads input ${e.i} of ${args.length}`);
        return a;
      }
      case 'const': return this.constant(e.v);
      case 'un': {
        const a = this.expr(e.a, args);
        if (e.fn === 'neg') return `(-${a})`;
        if (e.fn === 'recip') return `(${this.constant(1)} / ${a})`;
        return this.call(this.d.unary[e.fn], a);
      }
      case 'bin': {
        if (COMPARE[e.fn]) return this.d.toFloat(this.cond(e, args));
        const a = this.expr(e.a, args), b = this.expr(e.b, args);
        const op = INFIX[e.fn];
        if (op) return `(${a} ${op} ${b})`;
        return this.call(this.d.binary[e.fn as 'max' | 'min' | 'pow'], a, b);
      }
      case 'select': return this.d.select(this.cond(e.c, args), this.expr(e.a, args), this.expr(e.b, args));
    }
  }

  /** `e` as a bool: comparisons directly (false on NaN), anything else as "neither 0 nor NaN". */
  private cond(e: Scalar, args: readonly string[]): string {
    if (e.k === 'bin' && COMPARE[e.fn]) return `(${this.expr(e.a, args)} ${COMPARE[e.fn]} ${this.expr(e.b, args)})`;
    return this.call('cnnc_nz', this.expr(e, args));
  }
}

/** The formula of an elementwise op (its `traits.scalar`), or undefined when it has none. */
export function opScalar(op: string, attrs: Attrs, arity: number): Scalar | undefined {
  return hasOp(op) ? getOp(op).traits.scalar?.(attrs, arity) : undefined;
}

/**
 * The dtypes among `candidates` an elementwise op can run on when all its inputs have that dtype
 * and its output too is one of `candidates` (asks the op's own type inference): e.g. none of
 * f32/f16 for Equal (bool output) or And (bool inputs).
 */
export function elementwiseDtypes(op: string, candidates: readonly DType[]): DType[] {
  const def = getOp(op);
  const n = Math.max(1, def.inputs[0]);
  const attrs = Object.fromEntries(Object.entries(def.attrs).filter(([, v]) => v !== null)) as Attrs;
  return candidates.filter((dtype) => {
    try {
      const inputs = Array.from({ length: n }, (_, i) => ({ name: `x${i}`, type: { dtype, shape: [1] } }));
      const outs = def.infer({ name: 'probe', op, attrs, inputs });
      return outs.every((t) => candidates.includes(t.dtype));
    } catch {
      return false;
    }
  });
}

/**
 * The epilogue activation a fused node's attributes name (`activation`, `act_alpha`, `act_beta`,
 * or with a prefix `dw_activation`, `dw_alpha`, `dw_beta`) as a formula of x; an unknown name is
 * an UNSUPPORTED error naming the node.
 */
export function epilogueScalar(attrs: Attrs, place: { node?: string; op?: string } = {}, prefix = ''): Scalar {
  const kind = String(attrs[prefix ? `${prefix}_activation` : 'activation'] ?? '');
  const alpha = Number(attrs[prefix ? `${prefix}_alpha` : 'act_alpha'] ?? 0);
  const beta = Number(attrs[prefix ? `${prefix}_beta` : 'act_beta'] ?? 0);
  const e = activationScalar(kind, alpha, beta);
  if (!e) throw new CnncError('UNSUPPORTED', `unknown epilogue activation '${kind}'`, place);
  return e;
}
