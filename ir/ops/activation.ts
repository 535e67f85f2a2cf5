/**
 * Activations: one table of functions, used both by the standalone ops (Relu, Sigmoid, ...)
 * and by the epilogues that passes fuse into Conv/Gemm (attribute `activation`).
 */
import { CnncError } from '../../runtime/errors.js';
import { fromF64, toF64, type Tensor } from '../../runtime/tensor.js';
import type { Attrs, EpilogueActivation, NodeInfo, OpDef } from '../op.js';
import * as S from '../scalar.js';
import { erf64, unaryFn, x, type Scalar } from '../scalar.js';
import { attrFloat, fail, input } from '../op.js';
import { isArithFloat, sizeOf, type TensorType } from '../types.js';

/**
 * Every epilogue activation, defined once as a scalar expression of x with parameters alpha/beta
 * (the node's act_alpha/act_beta). The reference evaluates it; every target renders it; the
 * standalone ops below map their attributes onto it (`asActivation`).
 */
export const ACTIVATIONS: Readonly<Record<string, (alpha: number, beta: number) => Scalar>> = {
  '': () => x,
  relu: () => S.max(x, 0),
  leaky_relu: (alpha) => S.select(S.ge(x, 0), x, S.mul(alpha, x)),
  clip: (lo, hi) => S.min(S.max(x, lo), hi), // ONNX: max wins when min > max
  sigmoid: () => S.sigmoid(x),
  hard_sigmoid: (alpha, beta) => S.max(0, S.min(1, S.add(S.mul(alpha, x), beta))),
  hard_swish: () => S.mul(x, S.max(0, S.min(1, S.add(S.mul(x, 1 / 6), 0.5)))),
  silu: () => S.mul(x, S.sigmoid(x)),
  gelu: () => S.mul(S.mul(0.5, x), S.add(1, S.erf(S.mul(x, Math.SQRT1_2)))),
  gelu_tanh: () => S.mul(S.mul(0.5, x), S.add(1, S.tanh(S.mul(Math.sqrt(2 / Math.PI), S.add(x, S.mul(0.044715, S.mul(x, S.mul(x, x)))))))),
  tanh: () => S.tanh(x),
  erf: () => S.erf(x),
  elu: (alpha) => S.select(S.gt(x, 0), x, S.mul(alpha, S.expm1(x))),
  celu: (alpha) => S.add(S.max(0, x), S.min(0, S.mul(alpha, S.expm1(S.div(x, alpha))))),
  selu: (alpha, gamma) => S.mul(gamma, S.select(S.gt(x, 0), x, S.mul(alpha, S.expm1(x)))),
  thresholded_relu: (alpha) => S.select(S.gt(x, alpha), x, 0),
  softplus: () => softplus,
  softsign: () => S.div(x, S.add(1, S.abs(x))),
  mish: () => S.mul(x, S.tanh(softplus)),
  shrink: (lambd, bias) => S.select(S.lt(x, -lambd), S.add(x, bias), S.select(S.gt(x, lambd), S.sub(x, bias), 0)),
};

/** ln(1 + e^x) = max(x, 0) + ln(1 + e^−|x|): no overflow for large |x|. */
const softplus = S.add(S.max(x, 0), S.log1p(S.exp(S.neg(S.abs(x)))));

/** Names an epilogue may carry in its `activation` attribute ('' = none). */
export type ActivationKind = string;
export const ACTIVATION_KINDS: readonly string[] = Object.keys(ACTIVATIONS);

/** The scalar expression of an epilogue activation (undefined for an unknown name). */
export function activationScalar(kind: string, alpha: number, beta: number): Scalar | undefined {
  const make = ACTIVATIONS[kind];
  return make?.(alpha, beta);
}

const fnCache = new Map<string, (v: number) => number>();

/** One activation applied to a float64 value (the reference's evaluation of ACTIVATIONS). */
export function activate(kind: string, v: number, alpha: number, beta: number): number {
  const key = `${kind}|${alpha}|${beta}`;
  let f = fnCache.get(key);
  if (!f) {
    const e = activationScalar(kind, alpha, beta);
    if (!e) throw new CnncError('BAD_ATTRIBUTE', `unknown activation '${kind}'`);
    f = unaryFn(e);
    if (fnCache.size > 256) fnCache.clear();
    fnCache.set(key, f);
  }
  return f(v);
}

/** Applies `attrs.activation` (with act_alpha/act_beta) in place: the epilogue of fused ops. */
export function applyEpilogueActivation(v: Float64Array, attrs: Attrs): void {
  const kind = String(attrs.activation ?? '');
  if (kind === '') return;
  const e = activationScalar(kind, Number(attrs.act_alpha ?? 0), Number(attrs.act_beta ?? 0));
  if (!e) throw new CnncError('BAD_ATTRIBUTE', `unknown activation '${kind}'`);
  const f = unaryFn(e);
  for (let i = 0; i < v.length; i++) v[i] = f(v[i]);
}

/** Epilogue attributes shared by Conv, ConvTranspose, Gemm and the fused ops. */
export const EPILOGUE_ATTRS = { activation: '', act_alpha: 0, act_beta: 0 } as const;

/** The error function to ~1e-15 (float64). */
export const erf = erf64;

function unaryFloatInfer(node: NodeInfo) {
  const x = input(node, 0);
  if (!isArithFloat(x.type.dtype)) fail(node, 'DTYPE_MISMATCH', `expects a float input, got ${x.type.dtype}`, x.name);
  return [x.type];
}

/**
 * A standalone activation op: its attributes map onto one ACTIVATIONS entry (`act`), which is its
 * formula, its reference kernel and its epilogue form at once.
 */
function activationOp(name: string, doc: string, attrs: Record<string, number | string>, act: (a: Attrs) => EpilogueActivation,
  infer: (node: NodeInfo) => TensorType[] = unaryFloatInfer): OpDef {
  const scalar = (a: Attrs) => activationScalar(act(a).activation, act(a).act_alpha, act(a).act_beta);
  return {
    name,
    doc,
    inputs: [1, 1],
    attrs,
    infer,
    reference([xt], a, [out]) {
      const e = scalar(a);
      if (!e) throw new CnncError('BAD_ATTRIBUTE', `${name}: no activation for these attributes`, { op: name });
      const v = toF64(xt as Tensor);
      const f = unaryFn(e);
      for (let i = 0; i < v.length; i++) v[i] = f(v[i]);
      return [fromF64(out.dtype, out.shape, v)];
    },
    cost: (_n, [out]) => ({ flops: sizeOf(out.shape) }),
    traits: { category: 'activation', elementwise: true, inPlace: true, fp16: 'compute', scalar, asActivation: act },
  };
}

const simple = (activation: string) => (): EpilogueActivation => ({ activation, act_alpha: 0, act_beta: 0 });
const withAlpha = (activation: string, beta?: string) => (a: Attrs): EpilogueActivation =>
  ({ activation, act_alpha: attrFloat(a, 'alpha'), act_beta: beta ? attrFloat(a, beta) : 0 });

export const ACTIVATION_OPS: OpDef[] = [
  activationOp('Relu', 'max(x, 0)', {}, simple('relu')),
  activationOp('LeakyRelu', 'x if x >= 0 else alpha·x', { alpha: 0.01 }, withAlpha('leaky_relu')),
  activationOp('Sigmoid', '1 / (1 + e^-x)', {}, simple('sigmoid')),
  activationOp('HardSigmoid', 'max(0, min(1, alpha·x + beta))', { alpha: 0.2, beta: 0.5 }, withAlpha('hard_sigmoid', 'beta')),
  activationOp('HardSwish', 'x · max(0, min(1, x/6 + 1/2))', {}, simple('hard_swish')),
  activationOp('Tanh', 'tanh(x)', {}, simple('tanh')),
  activationOp('Erf', 'the error function', {}, simple('erf')),
  activationOp('Gelu', "x·Φ(x); approximate='tanh' uses the tanh form", { approximate: 'none' },
    (a) => simple(a.approximate === 'tanh' ? 'gelu_tanh' : 'gelu')()),
  activationOp('Elu', 'x if x > 0 else alpha·(e^x − 1)', { alpha: 1 }, withAlpha('elu')),
  activationOp('Celu', 'max(0, x) + min(0, alpha·(e^(x/alpha) − 1))', { alpha: 1 }, withAlpha('celu')),
  activationOp('Selu', 'gamma·(x if x > 0 else alpha·(e^x − 1))', { alpha: 1.67326319217681884765625, gamma: 1.05070102214813232421875 },
    withAlpha('selu', 'gamma')),
  activationOp('ThresholdedRelu', 'x if x > alpha else 0', { alpha: 1 }, withAlpha('thresholded_relu')),
  activationOp('Softplus', 'ln(1 + e^x)', {}, simple('softplus')),
  activationOp('Softsign', 'x / (1 + |x|)', {}, simple('softsign')),
  activationOp('Mish', 'x·tanh(softplus(x))', {}, simple('mish')),
  activationOp('Shrink', 'x + bias if x < −lambd, x − bias if x > lambd, else 0', { lambd: 0.5, bias: 0 },
    (a) => ({ activation: 'shrink', act_alpha: attrFloat(a, 'lambd'), act_beta: attrFloat(a, 'bias') })),
  // Clip's bounds are attributes here (ONNX ≥ 11 passes them as inputs: the importer folds them).
  // Clip(0, ∞) is ReLU, so it fuses as one.
  activationOp('Clip', 'min(max(x, min), max); ReLU6 is Clip(0, 6)', { min: -Infinity, max: Infinity }, (a) => {
    const lo = attrFloat(a, 'min'), hi = attrFloat(a, 'max');
    return lo === 0 && hi === Infinity ? simple('relu')() : { activation: 'clip', act_alpha: lo, act_beta: hi };
  }, (node) => [input(node, 0).type]), // Clip takes integer tensors too
];
