/**
 * The WGSL dialect of the C-like renderer (codegen/c-like.ts): f32 expressions, `select(f, t, c)`,
 * and helper functions where WGSL's builtins do not give the reference's answer on special
 * values. WGSL leaves NaN and infinities in builtins implementation-defined, and a shader compiler
 * may assume there are none, so NaN is tested on the bits (`cnnc_isnan`), never with `x != x`, and
 * infinities and NaN come from runtime bit patterns (an ∞ literal is a shader-creation error).
 */
import { CRenderer, type Dialect } from '../c-like.js';
import { f } from './kernel.js';

const HELPERS: Dialect['helpers'] = {
  cnnc_isnan: { code: 'fn cnnc_isnan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }' },
  cnnc_inf: { code: 'fn cnnc_inf() -> f32 { var b = 0x7f800000u; return bitcast<f32>(b); }' },
  cnnc_nan: { code: 'fn cnnc_nan() -> f32 { var b = 0x7fc00000u; return bitcast<f32>(b); }' },
  cnnc_nz: { code: 'fn cnnc_nz(x: f32) -> bool { return x < 0.0 || x > 0.0; }' },
  cnnc_max: {
    code: 'fn cnnc_max(a: f32, b: f32) -> f32 { return select(max(a, b), a + b, cnnc_isnan(a) || cnnc_isnan(b)); }',
    uses: ['cnnc_isnan'],
  },
  cnnc_min: {
    code: 'fn cnnc_min(a: f32, b: f32) -> f32 { return select(min(a, b), a + b, cnnc_isnan(a) || cnnc_isnan(b)); }',
    uses: ['cnnc_isnan'],
  },
  // llvmpipe's log2 treats a subnormal as the smallest normal: scale subnormals by 2^24 first
  cnnc_log2: { code: 'fn cnnc_log2(x: f32) -> f32 { let s = x < 1.1754944e-38; return log2(select(x, x * 16777216.0, s)) - select(0.0, 24.0, s); }' },
  cnnc_log: { code: 'fn cnnc_log(x: f32) -> f32 { return cnnc_log2(x) * 0.6931472; }', uses: ['cnnc_log2'] },
  cnnc_sign: { code: 'fn cnnc_sign(x: f32) -> f32 { return select(select(x, 1.0, x > 0.0), -1.0, x < 0.0); }' },
  // exp(x) − 1 loses its digits near 0: a Taylor polynomial there (relative error < 1e-9 for |x| < 0.1)
  cnnc_expm1: {
    code: `fn cnnc_expm1(x: f32) -> f32 {
  let t = x * (1.0 + x * (0.5 + x * (0.16666667 + x * (0.041666668 + x * (0.008333334 + x * (0.0013888889 + x * 0.0001984127))))));
  return select(exp(x) - 1.0, t, abs(x) < 0.1);
}`,
  },
  cnnc_log1p: {
    code: `fn cnnc_log1p(x: f32) -> f32 {
  let t = x * (1.0 - x * (0.5 - x * (0.33333334 - x * (0.25 - x * (0.2 - x * (0.16666667 - x * (0.14285715 - x * (0.125 - x * 0.11111111))))))));
  return select(log(1.0 + x), t, abs(x) < 0.1);
}`,
  },
  // 1/(1 + e^−|x|) mirrored: e^−|x| ≤ 1, so nothing overflows; NaN stays NaN
  cnnc_sigmoid: { code: 'fn cnnc_sigmoid(x: f32) -> f32 { let e = exp(-abs(x)); let s = 1.0 / (1.0 + e); return select(e * s, s, x >= 0.0); }' },
  // tanh|x| = −expm1(−2|x|) / (2 + expm1(−2|x|)): saturates without overflow; x itself near 0 (keeps ±0)
  cnnc_tanh: {
    code: `fn cnnc_tanh(x: f32) -> f32 {
  let e = cnnc_expm1(-2.0 * abs(x));
  let t = -e / (2.0 + e);
  return select(select(t, -t, x < 0.0), x, abs(x) < 1e-4);
}`,
    uses: ['cnnc_expm1'],
  },
  // Abramowitz & Stegun 7.1.26 refined: |error| < 1.5e-7
  cnnc_erf: {
    code: `fn cnnc_erf(x: f32) -> f32 {
  let a = abs(x);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-a * a);
  return select(-y, y, x >= 0.0);
}`,
  },
  // Math.pow: |x|^y, negative for a negative x and an odd integer y (±∞ are even integers), NaN for a
  // finite negative x and a non-integer y; pow(x, 0) = 1 even for NaN, pow(±1, ±∞) = NaN
  cnnc_pow: {
    code: `fn cnnc_pow(x: f32, y: f32) -> f32 {
  if (y == 0.0) { return 1.0; }
  if (cnnc_isnan(x) || cnnc_isnan(y)) { return x + y; }
  let ax = abs(x);
  let yinf = abs(y) > 3.4028234e38;
  if (ax == 1.0 && yinf) { return cnnc_nan(); }
  let integral = floor(y) == y;
  if (x < 0.0 && ax <= 3.4028234e38 && !integral) { return cnnc_nan(); }
  var r: f32;
  if (ax == 0.0) { r = select(cnnc_inf(), 0.0, y > 0.0); }
  else if (ax > 3.4028234e38 || yinf) { r = select(0.0, cnnc_inf(), (y > 0.0) == (ax > 1.0)); }
  else { r = exp2(y * cnnc_log2(ax)); }
  let odd = integral && floor(y * 0.5) * 2.0 != y;
  return select(r, -r, odd && (bitcast<u32>(x) & 0x80000000u) != 0u);
}`,
    uses: ['cnnc_isnan', 'cnnc_nan', 'cnnc_inf', 'cnnc_log2'],
  },
};

export const WGSL: Dialect = {
  name: 'wgsl',
  lit: f,
  inf: 'cnnc_inf()',
  nan: 'cnnc_nan()',
  toFloat: (c) => `f32(${c})`,
  select: (c, a, b) => `select(${b}, ${a}, ${c})`,
  unary: {
    abs: 'abs', sqrt: 'sqrt', exp: 'exp', expm1: 'cnnc_expm1', log: 'cnnc_log', log1p: 'cnnc_log1p', floor: 'floor', ceil: 'ceil',
    round: 'round', sign: 'cnnc_sign', sin: 'sin', cos: 'cos', tanh: 'cnnc_tanh', erf: 'cnnc_erf', sigmoid: 'cnnc_sigmoid',
  },
  binary: { max: 'cnnc_max', min: 'cnnc_min', pow: 'cnnc_pow' },
  helpers: HELPERS,
};

/** A renderer for one shader (its `helpers()` go into the shader's declarations). */
export const wgslRenderer = (): CRenderer => new CRenderer(WGSL);
