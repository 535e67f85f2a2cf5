/**
 * The reference interpreter: runs a graph node by node through the ops' reference kernels.
 * It is the golden model every target and every pass is compared against.
 */
import { CnncError } from '../runtime/errors.js';
import { checkRunInputs } from '../runtime/session.js';
import type { Tensor } from '../runtime/tensor.js';
import type { Graph, Node } from './graph.js';
import { getOp } from './ops/index.js';
import { formatType, sameShape } from './types.js';

export type TensorMap = Record<string, Tensor>;

/** Checks named inputs against the graph's declared inputs (name, dtype, shape). */
export function checkInputs(g: Graph, inputs: TensorMap): void {
  // the runtime's checks first (null, numbers, array types): the same messages as a loaded session's
  checkRunInputs(g.inputs.map((name) => ({ name, dtype: g.type(name).dtype, shape: [...g.type(name).shape] })), inputs);
  for (const name of g.inputs) {
    const t = inputs[name];
    const want = g.type(name);
    if (!t) throw new CnncError('BAD_INPUT', `missing input '${name}' (${formatType(want)})`, { value: name });
    if (t.dtype !== want.dtype || !sameShape(t.shape, want.shape)) {
      throw new CnncError('BAD_INPUT', `input '${name}' is ${formatType(t)}, the graph takes ${formatType(want)}`, { value: name });
    }
    if (t.data.length !== want.shape.reduce((a, b) => a * b, 1)) {
      throw new CnncError('BAD_INPUT', `input '${name}' has ${t.data.length} elements for shape [${t.shape}]`, { value: name });
    }
  }
  const known = new Set(g.inputs);
  for (const name of Object.keys(inputs)) {
    if (!known.has(name)) throw new CnncError('BAD_INPUT', `'${name}' is not an input of the graph (inputs: ${g.inputs.join(', ')})`, { value: name });
  }
}

/** Runs one node's reference kernel and checks its results against the declared types. */
export function runNode(g: Graph, node: Node, env: ReadonlyMap<string, Tensor>): Tensor[] {
  const def = getOp(node.op, node.name);
  const ins = node.inputs.map((n) => {
    if (n === '') return undefined;
    const t = env.get(n) ?? g.constValue(n);
    if (!t) throw new CnncError('UNKNOWN_VALUE', `value '${n}' has not been computed`, { node: node.name, op: node.op, value: n });
    return t;
  });
  const outTypes = node.outputs.map((o) => (o === '' ? { dtype: 'f32' as const, shape: [] } : g.type(o)));
  const outs = def.reference(ins, node.attrs, outTypes);
  node.outputs.forEach((o, i) => {
    if (o === '') return;
    const t = outs[i];
    const want = outTypes[i];
    if (!t || t.dtype !== want.dtype || !sameShape(t.shape, want.shape)) {
      throw new CnncError('KERNEL_ERROR', `reference kernel produced ${t ? formatType(t) : 'nothing'} for output '${o}', inference said ${formatType(want)}`, { node: node.name, op: node.op, value: o });
    }
  });
  return outs;
}

/** Runs the whole graph; intermediate tensors are dropped after their last use. */
export function interpret(g: Graph, inputs: TensorMap): TensorMap {
  checkInputs(g, inputs);
  const env = new Map<string, Tensor>(Object.entries(inputs));
  const lastUse = new Map<string, number>();
  g.nodes.forEach((n, i) => n.inputs.forEach((v) => lastUse.set(v, i)));
  const keep = new Set([...g.outputs, ...g.inputs]);
  g.nodes.forEach((node, i) => {
    const outs = runNode(g, node, env);
    node.outputs.forEach((o, k) => { if (o !== '') env.set(o, outs[k]); });
    for (const v of node.inputs) {
      if (lastUse.get(v) === i && !keep.has(v)) env.delete(v);
    }
  });
  const result: TensorMap = {};
  for (const o of g.outputs) {
    const t = env.get(o) ?? g.constValue(o);
    if (!t) throw new CnncError('UNKNOWN_VALUE', `output '${o}' was not computed`, { value: o });
    result[o] = t;
  }
  return result;
}
