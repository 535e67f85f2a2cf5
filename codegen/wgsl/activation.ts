/**
 * WGSL for the epilogue activations (the table in ir/ops/activation.ts) and the unary/binary
 * elementwise ops: each maps argument expressions to an f32 expression.
 */
import { CnncError } from '../../runtime/errors.js';
import { f } from './kernel.js';

/** Helper functions some expressions call; included once per shader that needs them. */
export const MATH_HELPERS = `
fn cnnc_tanh(x: f32) -> f32 { let c = clamp(x, -15.0, 15.0); let e = exp(2.0 * c); return (e - 1.0) / (e + 1.0); }
fn cnnc_sigmoid(x: f32) -> f32 { return 1.0 / (1.0 + exp(-clamp(x, -88.0, 88.0))); }
fn cnnc_erf(x: f32) -> f32 {
  // Abramowitz & Stegun 7.1.26 refined: |error| < 1.5e-7
  let a = abs(x);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-a * a);
  return select(-y, y, x >= 0.0);
}`;

/** An epilogue activation applied to the f32 expression `x`. */
export function activationExpr(kind: string, x: string, alpha: number, beta: number): string {
  switch (kind) {
    case '': return x;
    case 'relu': return `max(${x}, 0.0)`;
    case 'leaky_relu': return `select(${f(alpha)} * ${x}, ${x}, ${x} >= 0.0)`;
    case 'clip': return `min(max(${x}, ${f(alpha)}), ${f(beta)})`;
    case 'sigmoid': return `cnnc_sigmoid(${x})`;
    case 'hard_sigmoid': return `clamp(${f(alpha)} * ${x} + ${f(beta)}, 0.0, 1.0)`;
    case 'hard_swish': return `(${x} * clamp(${x} / 6.0 + 0.5, 0.0, 1.0))`;
    case 'silu': return `(${x} * cnnc_sigmoid(${x}))`;
    case 'gelu': return `(0.5 * ${x} * (1.0 + cnnc_erf(${x} * 0.70710678118)))`;
    case 'gelu_tanh': return `(0.5 * ${x} * (1.0 + cnnc_tanh(0.7978845608 * (${x} + 0.044715 * ${x} * ${x} * ${x}))))`;
    case 'tanh': return `cnnc_tanh(${x})`;
    case 'erf': return `cnnc_erf(${x})`;
    default: throw new CnncError('UNSUPPORTED', `activation '${kind}' has no WGSL form`);
  }
}

/** Standalone unary ops as activations: op name → (kind, alpha, beta) from attributes. */
export function unaryAsActivation(op: string, attrs: Record<string, unknown>): [string, number, number] | undefined {
  const n = (k: string, d: number) => (typeof attrs[k] === 'number' ? (attrs[k] as number) : d);
  switch (op) {
    case 'Relu': return ['relu', 0, 0];
    case 'LeakyRelu': return ['leaky_relu', n('alpha', 0.01), 0];
    case 'Sigmoid': return ['sigmoid', 0, 0];
    case 'HardSigmoid': return ['hard_sigmoid', n('alpha', 0.2), n('beta', 0.5)];
    case 'HardSwish': return ['hard_swish', 0, 0];
    case 'Tanh': return ['tanh', 0, 0];
    case 'Erf': return ['erf', 0, 0];
    case 'Gelu': return [attrs.approximate === 'tanh' ? 'gelu_tanh' : 'gelu', 0, 0];
    case 'Clip': return ['clip', n('min', -Infinity), n('max', Infinity)];
    default: return undefined;
  }
}

/** Elementwise ops over f32 argument expressions (after broadcasting). */
export function elementwiseExpr(op: string, attrs: Record<string, unknown>, a: string[]): string | undefined {
  const act = unaryAsActivation(op, attrs);
  if (act) return activationExpr(act[0], a[0], act[1], act[2]);
  switch (op) {
    case 'Add': return `(${a[0]} + ${a[1]})`;
    case 'Sub': return `(${a[0]} - ${a[1]})`;
    case 'Mul': return `(${a[0]} * ${a[1]})`;
    case 'Div': return `(${a[0]} / ${a[1]})`;
    case 'Pow': return `pow(${a[0]}, ${a[1]})`;
    case 'Max': return a.reduce((x, y) => `max(${x}, ${y})`);
    case 'Min': return a.reduce((x, y) => `min(${x}, ${y})`);
    case 'Sum': return `(${a.join(' + ')})`;
    case 'Mean': return `((${a.join(' + ')}) / ${f(a.length)})`;
    case 'PRelu': return `select(${a[1]} * ${a[0]}, ${a[0]}, ${a[0]} >= 0.0)`;
    case 'Neg': return `(-${a[0]})`;
    case 'Abs': return `abs(${a[0]})`;
    case 'Sqrt': return `sqrt(${a[0]})`;
    case 'Exp': return `exp(${a[0]})`;
    case 'Log': return `log(${a[0]})`;
    case 'Reciprocal': return `(1.0 / ${a[0]})`;
    case 'Floor': return `floor(${a[0]})`;
    case 'Ceil': return `ceil(${a[0]})`;
    case 'Round': return `round(${a[0]})`;
    case 'Sign': return `sign(${a[0]})`;
    case 'Sin': return `sin(${a[0]})`;
    case 'Cos': return `cos(${a[0]})`;
    case 'Softplus': return `log(1.0 + exp(${a[0]}))`;
    case 'Cast': case 'Identity': case 'Dropout': return a[0];
    default: return undefined;
  }
}
