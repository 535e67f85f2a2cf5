/**
 * Activations: one table of functions, used both by the standalone ops (Relu, Sigmoid, ...)
 * and by the epilogues that passes fuse into Conv/Gemm (attribute `activation`).
 */
import { fromF64, toF64, type Tensor } from '../../runtime/tensor.js';
import type { Attrs, NodeInfo, OpDef } from '../op.js';
import { attrFloat, fail, input } from '../op.js';
import { isArithFloat, sizeOf, type TensorType } from '../types.js';

/** Names an epilogue may carry in its `activation` attribute ('' = none). */
export type ActivationKind =
  | '' | 'relu' | 'leaky_relu' | 'clip' | 'sigmoid' | 'hard_sigmoid' | 'hard_swish'
  | 'silu' | 'gelu' | 'gelu_tanh' | 'tanh' | 'erf';

export const ACTIVATION_KINDS: readonly ActivationKind[] = [
  '', 'relu', 'leaky_relu', 'clip', 'sigmoid', 'hard_sigmoid', 'hard_swish', 'silu', 'gelu', 'gelu_tanh', 'tanh', 'erf',
];

/**
 * One activation applied to a float64 value. `alpha`/`beta` are: leaky_relu slope (alpha);
 * clip min/max (alpha/beta; relu6 is clip 0..6); hard_sigmoid alpha·x+beta (ONNX defaults 0.2/0.5).
 */
export function activate(kind: ActivationKind, x: number, alpha: number, beta: number): number {
  switch (kind) {
    case '': return x;
    case 'relu': return x > 0 ? x : 0;
    case 'leaky_relu': return x >= 0 ? x : alpha * x;
    case 'clip': return Math.min(Math.max(x, alpha), beta); // ONNX: max wins when min > max
    case 'sigmoid': return 1 / (1 + Math.exp(-x));
    case 'hard_sigmoid': return Math.max(0, Math.min(1, alpha * x + beta));
    case 'hard_swish': return x * Math.max(0, Math.min(1, x / 6 + 0.5));
    case 'silu': return x / (1 + Math.exp(-x));
    case 'gelu': return 0.5 * x * (1 + erf(x / Math.SQRT2));
    case 'gelu_tanh': return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
    case 'tanh': return Math.tanh(x);
    case 'erf': return erf(x);
  }
}

/** Applies `attrs.activation` (with act_alpha/act_beta) in place: the epilogue of fused ops. */
export function applyEpilogueActivation(v: Float64Array, attrs: Attrs): void {
  const kind = (attrs.activation ?? '') as ActivationKind;
  if (kind === '') return;
  const a = Number(attrs.act_alpha ?? 0);
  const b = Number(attrs.act_beta ?? 0);
  for (let i = 0; i < v.length; i++) v[i] = activate(kind, v[i], a, b);
}

/** Epilogue attributes shared by Conv, ConvTranspose, Gemm and the fused ops. */
export const EPILOGUE_ATTRS = { activation: '', act_alpha: 0, act_beta: 0 } as const;

/** The error function to ~1e-15: Taylor series near 0, continued fraction for erfc beyond. */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    // erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1))
    let term = x, sum = x;
    const x2 = x * x;
    for (let n = 1; n < 60; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  if (ax > 6) return Math.sign(x);
  // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...)))) (Lentz-free, fixed depth)
  let f = ax;
  for (let k = 60; k >= 1; k--) f = ax + (k / 2) / f;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

function unaryFloatInfer(node: NodeInfo) {
  const x = input(node, 0);
  if (!isArithFloat(x.type.dtype)) fail(node, 'DTYPE_MISMATCH', `expects a float input, got ${x.type.dtype}`, x.name);
  return [x.type];
}

/** An elementwise float op over one input; `make` reads the attributes once and returns the per-value function. */
function unary(name: string, doc: string, attrs: Record<string, number | string>, make: (a: Attrs) => (x: number) => number,
  infer: (node: NodeInfo) => TensorType[] = unaryFloatInfer): OpDef {
  return {
    name,
    doc,
    inputs: [1, 1],
    attrs,
    infer,
    reference([x], a, [out]) {
      const v = toF64(x as Tensor);
      const f = make(a);
      for (let i = 0; i < v.length; i++) v[i] = f(v[i]);
      return [fromF64(out.dtype, out.shape, v)];
    },
    cost: (_n, [out]) => ({ flops: sizeOf(out.shape) }),
  };
}

export const ACTIVATION_OPS: OpDef[] = [
  unary('Relu', 'max(x, 0)', {}, () => (x) => activate('relu', x, 0, 0)),
  unary('LeakyRelu', 'x if x >= 0 else alpha·x', { alpha: 0.01 }, (a) => {
    const alpha = attrFloat(a, 'alpha');
    return (x) => activate('leaky_relu', x, alpha, 0);
  }),
  unary('Sigmoid', '1 / (1 + e^-x)', {}, () => (x) => activate('sigmoid', x, 0, 0)),
  unary('HardSigmoid', 'max(0, min(1, alpha·x + beta))', { alpha: 0.2, beta: 0.5 }, (a) => {
    const alpha = attrFloat(a, 'alpha'), beta = attrFloat(a, 'beta');
    return (x) => activate('hard_sigmoid', x, alpha, beta);
  }),
  unary('HardSwish', 'x · max(0, min(1, x/6 + 1/2))', {}, () => (x) => activate('hard_swish', x, 0, 0)),
  unary('Tanh', 'tanh(x)', {}, () => (x) => activate('tanh', x, 0, 0)),
  unary('Erf', 'the error function', {}, () => (x) => activate('erf', x, 0, 0)),
  unary('Gelu', "x·Φ(x); approximate='tanh' uses the tanh form", { approximate: 'none' }, (a) => {
    const kind = a.approximate === 'tanh' ? 'gelu_tanh' : 'gelu';
    return (x) => activate(kind, x, 0, 0);
  }),
  unary('Elu', 'x if x > 0 else alpha·(e^x − 1)', { alpha: 1 }, (a) => {
    const alpha = attrFloat(a, 'alpha');
    return (x) => (x > 0 ? x : alpha * Math.expm1(x));
  }),
  unary('Celu', 'max(0, x) + min(0, alpha·(e^(x/alpha) − 1))', { alpha: 1 }, (a) => {
    const alpha = attrFloat(a, 'alpha');
    return (x) => Math.max(0, x) + Math.min(0, alpha * Math.expm1(x / alpha));
  }),
  unary('Selu', 'gamma·(x if x > 0 else alpha·(e^x − 1))', { alpha: 1.67326319217681884765625, gamma: 1.05070102214813232421875 }, (a) => {
    const alpha = attrFloat(a, 'alpha'), gamma = attrFloat(a, 'gamma');
    return (x) => gamma * (x > 0 ? x : alpha * Math.expm1(x));
  }),
  unary('ThresholdedRelu', 'x if x > alpha else 0', { alpha: 1 }, (a) => {
    const alpha = attrFloat(a, 'alpha');
    return (x) => (x > alpha ? x : 0);
  }),
  unary('Softplus', 'ln(1 + e^x)', {}, () => (x) => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)))),
  unary('Softsign', 'x / (1 + |x|)', {}, () => (x) => x / (1 + Math.abs(x))),
  unary('Mish', 'x·tanh(softplus(x))', {}, () => (x) => x * Math.tanh(x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)))),
  // Clip's bounds are attributes here (ONNX ≥ 11 passes them as inputs: the importer folds them).
  unary('Clip', 'min(max(x, min), max); ReLU6 is Clip(0, 6)', { min: -Infinity, max: Infinity }, (a) => {
    const lo = attrFloat(a, 'min'), hi = attrFloat(a, 'max');
    return (x) => activate('clip', x, lo, hi);
  }, (node) => [input(node, 0).type]), // Clip takes integer tensors too
];
