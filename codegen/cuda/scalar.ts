/**
 * The CUDA C++ dialect of the C-like renderer (codegen/c-like.ts): float expressions, `c ? a : b`,
 * CUDA's math library where it has the reference's semantics (expm1f, log1pf, tanhf, erff, rintf
 * for round half to even) and device helpers where it does not: fmaxf/fminf return the other
 * operand for a NaN (the reference propagates it), powf(1, NaN) and powf(±1, ±∞) are 1 (NaN in
 * Math.pow), and 1/(1 + e^−x) overflows nothing only when mirrored. Code is compiled without
 * --use_fast_math, so `x != x` is a NaN test.
 */
import { CRenderer, epilogueScalar, type Dialect } from '../c-like.js';
import type { Attrs } from '../../ir/op.js';
import { fl } from './emit.js';

const dev = '__device__ __forceinline__';

const HELPERS: Dialect['helpers'] = {
  cnnc_nz: { code: `${dev} bool cnnc_nz(float x) { return x < 0.f || x > 0.f; }` },
  cnnc_max: { code: `${dev} float cnnc_max(float a, float b) { return (a != a || b != b) ? a + b : fmaxf(a, b); }` },
  cnnc_min: { code: `${dev} float cnnc_min(float a, float b) { return (a != a || b != b) ? a + b : fminf(a, b); }` },
  cnnc_sign: { code: `${dev} float cnnc_sign(float x) { return x > 0.f ? 1.f : x < 0.f ? -1.f : x; }` },
  cnnc_sigmoid: { code: `${dev} float cnnc_sigmoid(float x) { const float e = expf(-fabsf(x)); const float s = 1.f / (1.f + e); return x >= 0.f ? s : e * s; }` },
  // Math.pow: |x|^y, negative for a negative x and an odd integer y, NaN for a finite negative x and a
  // non-integer y (powf does this too, but it also makes pow(1, NaN) and pow(±1, ±inf) 1)
  cnnc_pow: {
    code: `${dev} float cnnc_pow(float x, float y) {
  if (y == 0.f) return 1.f;
  if (x != x || y != y) return x + y;
  const float ax = fabsf(x);
  if (ax == 1.f && fabsf(y) == INFINITY) return NAN;
  const bool integral = floorf(y) == y;
  if (x < 0.f && ax != INFINITY && !integral) return NAN;
  const float r = powf(ax, y);
  const bool odd = integral && floorf(y * 0.5f) * 2.f != y;
  return odd && copysignf(1.f, x) < 0.f ? -r : r;
}`,
  },
};

export const CUDA: Dialect = {
  name: 'cuda',
  lit: fl,
  inf: 'INFINITY',
  nan: 'NAN',
  toFloat: (c) => `(${c} ? 1.f : 0.f)`,
  select: (c, a, b) => `(${c} ? ${a} : ${b})`,
  unary: {
    abs: 'fabsf', sqrt: 'sqrtf', exp: 'expf', expm1: 'expm1f', log: 'logf', log1p: 'log1pf', floor: 'floorf', ceil: 'ceilf',
    round: 'rintf', sign: 'cnnc_sign', sin: 'sinf', cos: 'cosf', tanh: 'tanhf', erf: 'erff', sigmoid: 'cnnc_sigmoid',
  },
  binary: { max: 'cnnc_max', min: 'cnnc_min', pow: 'cnnc_pow' },
  helpers: HELPERS,
};

/** Every helper's definition: the translation unit's prelude declares them all (unused inline ones cost nothing). */
export const CUDA_HELPERS = Object.values(HELPERS).map((h) => h.code).join('\n');

/**
 * The epilogue activation of a fused node's attributes applied to `v` (a plain identifier: a
 * formula may read it more than once); `prefix` 'dw' reads dw_activation/dw_alpha/dw_beta.
 */
export function epilogueAct(attrs: Attrs, v: string, place: { node?: string; op?: string }, prefix = ''): string {
  return new CRenderer(CUDA).render(epilogueScalar(attrs, place, prefix), [v]);
}
