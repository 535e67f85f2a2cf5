/**
 * A thin layer over binaryen for writing kernels: a function under construction with typed
 * locals, counted loops that run at least once, and short names for the expressions kernels use.
 * Everything a kernel knows at compile time (shapes, strides, addresses) goes in as constants.
 */
import binaryen from 'binaryen';

export type Expr = number;
export const { i32, f32, v128, none } = binaryen;

export class FnBuilder {
  readonly vars: number[] = [];
  private labels = 0;
  constructor(readonly m: binaryen.Module, readonly nParams: number) {}

  /** A new local of `type`; returns its index. */
  local(type: number): number {
    this.vars.push(type);
    return this.nParams + this.vars.length - 1;
  }
  get(i: number, type: number): Expr { return this.m.local.get(i, type); }
  geti(i: number): Expr { return this.m.local.get(i, i32); }
  getv(i: number): Expr { return this.m.local.get(i, v128); }
  set(i: number, e: Expr): Expr { return this.m.local.set(i, e); }
  label(base: string): string { return `${base}${this.labels++}`; }

  /**
   * `for (i = start; i < end; i += step) body` with end a compile-time constant and at least one
   * trip (callers skip empty ranges). The loop variable is an i32 local.
   */
  loop(iv: number, start: Expr, end: number, step: number, body: Expr[]): Expr {
    const m = this.m, l = this.label('L');
    return m.block(null, [
      m.local.set(iv, start),
      m.loop(l, m.block(null, [
        ...body,
        m.local.set(iv, m.i32.add(m.local.get(iv, i32), m.i32.const(step))),
        m.br(l, m.i32.lt_s(m.local.get(iv, i32), m.i32.const(end))),
      ])),
    ]);
  }

  /** A loop with a run-time end (at least one trip is not assumed). */
  loopDyn(iv: number, start: Expr, end: Expr, step: number, body: Expr[]): Expr {
    const m = this.m, l = this.label('L'), b = this.label('B');
    return m.block(b, [
      m.local.set(iv, start),
      m.br(b, m.i32.ge_s(m.local.get(iv, i32), end)),
      m.loop(l, m.block(null, [
        ...body,
        m.local.set(iv, m.i32.add(m.local.get(iv, i32), m.i32.const(step))),
        m.br(l, m.i32.lt_s(m.local.get(iv, i32), end)),
      ])),
    ]);
  }
}

/** Shorthands for i32 arithmetic that fold constants (kernels mix compile-time and run-time terms). */
export class Ops {
  constructor(readonly m: binaryen.Module) {}
  c(n: number): Expr { return this.m.i32.const(n | 0); }
  /** The value of an i32.const expression, or undefined. */
  constOf(e: Expr): number | undefined {
    if (binaryen.getExpressionId(e) !== binaryen.ConstId) return undefined;
    return (binaryen.getExpressionInfo(e) as binaryen.ConstInfo).value as number;
  }
  /** a + b over expressions (ExpressionRefs are numbers too, so constants go through addc). */
  add(a: Expr, b: Expr): Expr {
    const ka = this.constOf(a), kb = this.constOf(b);
    if (ka !== undefined) return this.addc(b, ka);
    if (kb !== undefined) return this.addc(a, kb);
    return this.m.i32.add(a, b);
  }
  /** e + k for a compile-time k. */
  addc(e: Expr, k: number): Expr {
    if (k === 0) return e;
    const ke = this.constOf(e);
    if (ke !== undefined) return this.c(ke + k);
    return this.m.i32.add(e, this.c(k));
  }
  /** e · k for a compile-time k. */
  mul(e: Expr, k: number): Expr {
    if (k === 0) return this.c(0);
    if (k === 1) return e;
    const ke = this.constOf(e);
    if (ke !== undefined) return this.c(ke * k);
    return this.m.i32.mul(e, this.c(k));
  }
  splat(x: number): Expr { return this.m.f32x4.splat(this.m.f32.const(x)); }
  vload(ptr: Expr, offset = 0): Expr { return this.m.v128.load(offset, 4, ptr); }
  vstore(ptr: Expr, v: Expr, offset = 0): Expr { return this.m.v128.store(offset, 4, ptr, v); }
  sload(ptr: Expr, offset = 0): Expr { return this.m.v128.load32_splat(offset, 4, ptr); }
  /** acc + a·b per lane: a mul and an add, or one `f32x4.relaxed_madd` in a relaxed-SIMD module (FMA where the CPU has it). */
  fmadd(acc: Expr, a: Expr, b: Expr): Expr {
    if (RELAXED.has(this.m)) return relaxedMadd(this.m, a, b, acc);
    return this.m.f32x4.add(acc, this.m.f32x4.mul(a, b));
  }
}

/** Modules built for relaxed SIMD: their kernels' multiply-adds become `f32x4.relaxed_madd`. */
const RELAXED = new WeakSet<binaryen.Module>();

/** Whether `m` is a relaxed-SIMD build. */
export const isRelaxed = (m: binaryen.Module) => RELAXED.has(m);

/** acc + Σ of each lane's 4 byte products a·b (a: i8, b: 0..127 for a result every engine agrees on): `i32x4.relaxed_dot_i8x16_i7x16_add_s`. */
export function relaxedDotAdd(m: binaryen.Module, a: Expr, b: Expr, acc: Expr): Expr {
  const api = binaryen as unknown as { _BinaryenSIMDTernary(mod: number, op: number, a: Expr, b: Expr, c: Expr): Expr; _BinaryenRelaxedDotI8x16I7x16AddSToVecI32x4(): number };
  return api._BinaryenSIMDTernary(m.ptr, api._BinaryenRelaxedDotI8x16I7x16AddSToVecI32x4(), a, b, acc);
}

/** a·b + c as `f32x4.relaxed_madd` (binaryen.js has the op but no wrapper: its C API directly). */
function relaxedMadd(m: binaryen.Module, a: Expr, b: Expr, c: Expr): Expr {
  const api = binaryen as unknown as { _BinaryenSIMDTernary(mod: number, op: number, a: Expr, b: Expr, c: Expr): Expr; _BinaryenRelaxedMaddVecF32x4(): number };
  return api._BinaryenSIMDTernary(m.ptr, api._BinaryenRelaxedMaddVecF32x4(), a, b, c);
}

/** A module with the features the kernels use (SIMD, bulk memory), plus relaxed SIMD for the relaxed build. */
export function newModule(options: { relaxed?: boolean } = {}): binaryen.Module {
  const m = new binaryen.Module();
  m.setFeatures(binaryen.Features.SIMD128 | binaryen.Features.BulkMemory | binaryen.Features.BulkMemoryOpt | binaryen.Features.NontrappingFPToInt
    | binaryen.Features.SignExt | binaryen.Features.MutableGlobals | (options.relaxed ? binaryen.Features.RelaxedSIMD : 0));
  if (options.relaxed) RELAXED.add(m);
  return m;
}
