/**
 * Epilogue activations on f32x4 values, applied in kernels' stores (fused epilogues): the
 * activation's scalar formula from ir/ops/activation.ts (ACTIVATIONS), rendered by scalar.ts.
 * A new activation defined there runs here with no change.
 */
import { activationScalar } from '../../ir/ops/activation.js';
import { CnncError } from '../../runtime/errors.js';
import type { Expr, FnBuilder } from './builder.js';
import { renderScalar } from './scalar.js';

/** Why an epilogue activation cannot be rendered, or undefined when it can (every ACTIVATIONS entry). */
export function activationProblem(kind: string, alpha: number, beta: number): string | undefined {
  return activationScalar(kind, alpha, beta) ? undefined : `has no activation '${kind}'`;
}

/** The activation of the v128 in local `x`. */
export function activation(fb: FnBuilder, kind: string, alpha: number, beta: number, x: number): Expr {
  if (kind === '') return fb.getv(x);
  const e = activationScalar(kind, alpha, beta);
  if (!e) throw new CnncError('KERNEL_ERROR', `activation '${kind}' reached the wasm kernels unchecked`);
  return renderScalar(fb, e, [x]);
}
