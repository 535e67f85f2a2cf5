/** What the op tests share: a one-node graph through the reference interpreter, and typed-error capture. */
import { expect } from 'vitest';
import { Graph } from '../ir/graph.js';
import { interpret } from '../ir/interpreter.js';
import type { AttrValue } from '../ir/op.js';
import { CnncError } from '../runtime/errors.js';
import type { Tensor } from '../runtime/tensor.js';

/** Runs `op` on ins[0] (a graph input) and ins[1..] (constants; undefined = absent optional input). */
export function runOp(op: string, ins: (Tensor | undefined)[], attrs: Record<string, AttrValue> = {}): Tensor {
  const g = new Graph('t');
  const x = g.addInput('x', { dtype: ins[0]!.dtype, shape: ins[0]!.shape });
  const names = ins.slice(1).map((t, i) => (t ? g.addConstant(`c${i}`, t) : ''));
  g.setOutputs([g.add(op, [x, ...names], attrs, { name: 'n0' })]);
  return interpret(g, { x: ins[0]! })[g.outputs[0]];
}

/** The CnncError a function throws (fails the test if it throws something else or nothing). */
export function errorOf(f: () => unknown): CnncError {
  try { f(); } catch (e) {
    expect(e).toBeInstanceOf(CnncError);
    return e as CnncError;
  }
  throw new Error('expected a CnncError');
}
