/**
 * A small C-style emitter for the CUDA generator (in the spirit of tinygrad's renderers):
 * indented lines, literals, the C type of each dtype, index arithmetic that folds the
 * constants it is given (shapes are static, so most of it disappears), and float
 * loads/stores that convert f16 on the way in and out (math is always f32).
 */
import type { DType } from '../../runtime/tensor.js';
import { CnncError } from '../../runtime/errors.js';

export class Code {
  private readonly out: string[] = [];
  private depth = 0;

  line(s: string): this {
    this.out.push('  '.repeat(this.depth) + s);
    return this;
  }

  /** `head {` … `}` around the lines `body` emits. */
  block(head: string, body: () => void): this {
    this.line(`${head} {`);
    this.depth++;
    body();
    this.depth--;
    return this.line('}');
  }

  lines(ls: readonly string[]): this {
    for (const l of ls) this.line(l);
    return this;
  }

  toString(): string {
    return this.out.join('\n') + '\n';
  }
}

/** The C type that stores a dtype (bool as a byte, f16 as CUDA's __half). */
export function ctype(d: DType): string {
  switch (d) {
    case 'f32': return 'float';
    case 'f16': return '__half';
    case 'i32': return 'int';
    case 'i64': return 'long long';
    case 'u8': case 'bool': return 'unsigned char';
    case 'i8': return 'signed char';
    case 'i16': return 'short';
    case 'u16': return 'unsigned short';
    case 'u32': return 'unsigned int';
    case 'u64': return 'unsigned long long';
    case 'f64': return 'double';
    // stored as their bits (runtime/tensor.ts); only moved and converted through tables (pointwise.ts cast)
    case 'bf16': return 'unsigned short';
    case 'f8e4m3fn': case 'f8e4m3fnuz': case 'f8e5m2': case 'f8e5m2fnuz': case 'f8e8m0': case 'f4e2m1': case 'u4': case 'u2': return 'unsigned char';
    case 'i4': case 'i2': return 'signed char';
    default: throw new CnncError('UNSUPPORTED', `the CUDA target has no ${d} type`);
  }
}

/** Max/min kernels compute in f32, exact for these narrow integers too (they store v as is). */
export const MAXMIN_INTS: readonly DType[] = ['u8', 'i8', 'bool'];
const MAXMIN_OPS = ['MaxPool', 'GlobalMaxPool', 'ReduceMax', 'ReduceMin'];

/** Whether a kernel of `op` computing in f32 can produce dtype `d`. */
export function floatKernelDtype(d: DType, op: string): boolean {
  return d === 'f32' || d === 'f16' || (MAXMIN_OPS.includes(op) && MAXMIN_INTS.includes(d));
}

export function checkFloat(d: DType, node: string, op: string): void {
  if (!floatKernelDtype(d, op)) throw new CnncError('UNSUPPORTED', `the CUDA target computes ${op} in f32 or f16, not ${d}`, { node, op });
}

/** A float literal that means exactly the f32 value of `v` (infinities via the INFINITY macro). */
export function fl(v: number): string {
  if (v === Infinity) return 'INFINITY';
  if (v === -Infinity) return '(-INFINITY)';
  if (Number.isNaN(v)) return 'NAN';
  const f = Math.fround(v);
  if (Number.isInteger(f) && Math.abs(f) < 1e7) return `${f}.f`.replace('-0.f', '-0.f');
  const s = f.toPrecision(9);
  return `${s.includes('e') || s.includes('.') ? s : s + '.'}f`.replace('.e', '.0e');
}

/** A float value read from `ptr[idx]` (f16 widened to f32). */
export function load(d: DType, ptr: string, idx: string): string {
  return d === 'f16' ? `__half2float(${ptr}[${idx}])` : `${ptr}[${idx}]`;
}

/** A statement storing the f32 expression `v` into `ptr[idx]` (rounded to f16 when it is one). */
export function store(d: DType, ptr: string, idx: string, v: string): string {
  return d === 'f16' ? `${ptr}[${idx}] = __float2half(${v});` : `${ptr}[${idx}] = ${v};`;
}

// ---- index arithmetic over static integers: terms with a zero factor vanish, ×1 and +0 disappear ----

/** `a * k` for a constant k. */
export function mul(a: string, k: number): string {
  if (k === 0 || a === '0') return '0';
  if (k === 1) return a;
  return a.includes(' ') ? `(${a}) * ${k}` : `${a} * ${k}`;
}

/** Sum of terms, dropping zeros; '0' when nothing is left. */
export function sum(...terms: string[]): string {
  const t = terms.filter((x) => x !== '0' && x !== '');
  return t.length ? t.join(' + ') : '0';
}

/** Coordinate of axis `a` in a row-major `shape`, from the flat index variable `i`. */
export function coord(i: string, shape: readonly number[], a: number): string {
  let stride = 1;
  for (let k = a + 1; k < shape.length; k++) stride *= shape[k];
  const total = stride * shape[a];
  const all = shape.reduce((x, y) => x * y, 1);
  if (shape[a] === 1) return '0';
  const q = stride === 1 ? i : `(${i} / ${stride})`;
  return total === all ? q : `${q} % ${shape[a]}`;
}

/** Row-major strides of a shape. */
export function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) { s[i] = acc; acc *= shape[i]; }
  return s;
}

/** The C identifier for a value or node name (kept readable in comments, safe in code). */
export function ident(name: string): string {
  const s = name.replace(/[^A-Za-z0-9_]/g, '_');
  return /^[A-Za-z_]/.test(s) ? s : `v_${s}`;
}

/** FNV-1a over a string: short stable names for deduplicated kernels. */
export function hash(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}
