/** The op registry: every op cnnc knows, by name. Each file in this folder defines a family. */
import { CnncError } from '../../runtime/errors.js';
import type { OpDef } from '../op.js';
import { ACTIVATION_OPS } from './activation.js';
import { ELEMENTWISE_OPS } from './elementwise.js';
import { MATMUL_OPS } from './matmul.js';
import { PAD_OPS } from './pad.js';
import { REDUCE_OPS } from './reduce.js';
import { RESIZE_OPS } from './resize.js';
import { SHAPE_OPS } from './shape.js';
import { CONV_OPS } from './conv.js';
import { POOL_OPS } from './pool.js';
import { NORM_OPS } from './norm.js';
import { FUSED_OPS } from './fused.js';
import { FUSED_ELEMENTWISE_OPS } from './fused-elementwise.js';
import { QUANT_OPS } from './quant.js';
import { SQUEEZE_EXCITATION_OPS } from './squeeze-excitation.js';

const REGISTRY = new Map<string, OpDef>();

function register(ops: readonly OpDef[]): void {
  for (const op of ops) {
    if (REGISTRY.has(op.name)) throw new Error(`op ${op.name} registered twice`);
    REGISTRY.set(op.name, op);
  }
}

register(ACTIVATION_OPS);
register(ELEMENTWISE_OPS);
register(MATMUL_OPS);
register(SHAPE_OPS);
register(PAD_OPS);
register(RESIZE_OPS);
register(REDUCE_OPS);
register(CONV_OPS);
register(POOL_OPS);
register(NORM_OPS);
register(FUSED_OPS);
register(FUSED_ELEMENTWISE_OPS);
register(QUANT_OPS);
register(SQUEEZE_EXCITATION_OPS);

export function hasOp(name: string): boolean {
  return REGISTRY.has(name);
}

export function getOp(name: string, node?: string): OpDef {
  const op = REGISTRY.get(name);
  if (!op) throw new CnncError('UNKNOWN_OP', `unknown op '${name}'`, { node, op: name });
  return op;
}

export function allOps(): OpDef[] {
  return [...REGISTRY.values()].sort((a, b) => a.name.localeCompare(b.name));
}
