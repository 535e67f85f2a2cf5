/** The C expression of an activation (ir/ops/activation.ts's table) applied to a float expression. */
import { CnncError } from '../../runtime/errors.js';
import { fl } from './emit.js';

/** `v` must be a plain identifier: several forms use it more than once. */
export function activationExpr(kind: string, v: string, alpha: number, beta: number, place: { node?: string; op?: string } = {}): string {
  switch (kind) {
    case '': return v;
    case 'relu': return `fmaxf(${v}, 0.f)`;
    case 'leaky_relu': return `cnnc_leaky_relu(${v}, ${fl(alpha)})`;
    case 'clip': {
      let e = v;
      if (alpha !== -Infinity) e = `fmaxf(${e}, ${fl(alpha)})`;
      if (beta !== Infinity) e = `fminf(${e}, ${fl(beta)})`;
      return e;
    }
    case 'sigmoid': return `cnnc_sigmoid(${v})`;
    case 'hard_sigmoid': return `cnnc_hard_sigmoid(${v}, ${fl(alpha)}, ${fl(beta)})`;
    case 'hard_swish': return `cnnc_hard_swish(${v})`;
    case 'silu': return `cnnc_silu(${v})`;
    case 'gelu': return `cnnc_gelu(${v})`;
    case 'gelu_tanh': return `cnnc_gelu_tanh(${v})`;
    case 'tanh': return `tanhf(${v})`;
    case 'erf': return `erff(${v})`;
    default: throw new CnncError('UNSUPPORTED', `activation '${kind}' has no CUDA form`, place);
  }
}

/** The epilogue activation of a fused node's attributes. */
export function epilogueAct(attrs: Record<string, unknown>, v: string, place: { node?: string; op?: string }, prefix = ''): string {
  const kind = String(attrs[prefix ? `${prefix}_activation` : 'activation'] ?? '');
  const a = Number(attrs[prefix ? `${prefix}_alpha` : 'act_alpha'] ?? 0);
  const b = Number(attrs[prefix ? `${prefix}_beta` : 'act_beta'] ?? 0);
  return activationExpr(kind, v, a, b, place);
}
