/**
 * The verifier: a graph is well formed when every value is defined once before use,
 * every node's op is known with valid attributes, and every recorded type is what
 * the op infers. Errors name the node, op and value at fault.
 */
import { CnncError } from '../runtime/errors.js';
import { sizeOf } from '../runtime/tensor.js';
import type { Graph } from './graph.js';
import { getOp } from './ops/index.js';
import { formatType, sameShape } from './types.js';

export function verify(g: Graph): void {
  const defined = new Set<string>();
  for (const name of g.inputs) {
    if (defined.has(name)) throw new CnncError('DUPLICATE_VALUE', `graph input '${name}' listed twice`, { value: name });
    const v = g.value(name);
    if (v.const) throw new CnncError('BAD_GRAPH', `graph input '${name}' is also a constant`, { value: name });
    defined.add(name);
  }
  for (const v of g.values.values()) {
    for (const d of v.type.shape) {
      if (!Number.isInteger(d) || d < 0) throw new CnncError('BAD_GRAPH', `value has dimension ${d}`, { value: v.name });
    }
    if (v.const) {
      if (v.const.dtype !== v.type.dtype || !sameShape(v.const.shape, v.type.shape) || v.const.data.length !== sizeOf(v.type.shape)) {
        throw new CnncError('BAD_GRAPH', `constant data ${formatType(v.const)} does not match its type ${formatType(v.type)}`, { value: v.name });
      }
      defined.add(v.name);
    }
  }
  const nodeNames = new Set<string>();
  for (const node of g.nodes) {
    const place = { node: node.name, op: node.op };
    if (nodeNames.has(node.name)) throw new CnncError('DUPLICATE_VALUE', `node name '${node.name}' used twice`, place);
    nodeNames.add(node.name);
    const def = getOp(node.op, node.name);
    const [min, max] = def.inputs;
    if (node.inputs.length < min || node.inputs.length > max) {
      throw new CnncError('BAD_GRAPH', `has ${node.inputs.length} inputs, ${node.op} takes ${min}..${max}`, place);
    }
    for (const [i, name] of node.inputs.entries()) {
      if (name === '') {
        if (i < min) throw new CnncError('BAD_GRAPH', `required input ${i} is absent`, place);
        continue;
      }
      if (!g.values.has(name)) throw new CnncError('UNKNOWN_VALUE', `input '${name}' is not defined`, { ...place, value: name });
      if (!defined.has(name)) throw new CnncError('BAD_GRAPH', `input '${name}' is used before it is defined (nodes out of topological order, or a cycle)`, { ...place, value: name });
    }
    for (const k of Object.keys(node.attrs)) {
      if (!(k in def.attrs)) throw new CnncError('BAD_ATTRIBUTE', `unknown attribute '${k}'`, place);
    }
    for (const [k, d] of Object.entries(def.attrs)) {
      if (d === null && !(k in node.attrs)) throw new CnncError('BAD_ATTRIBUTE', `required attribute '${k}' is missing`, place);
    }
    const types = def.infer(g.nodeInfo(node));
    for (const [i, o] of node.outputs.entries()) {
      if (o === '') continue;
      if (defined.has(o)) throw new CnncError('DUPLICATE_VALUE', `output '${o}' is defined twice`, { ...place, value: o });
      const v = g.values.get(o);
      if (!v) throw new CnncError('UNKNOWN_VALUE', `output '${o}' has no type recorded`, { ...place, value: o });
      const t = types[i];
      if (!t || t.dtype !== v.type.dtype || !sameShape(t.shape, v.type.shape)) {
        throw new CnncError('BAD_GRAPH', `output '${o}' is recorded as ${formatType(v.type)}, the op infers ${t ? formatType(t) : 'nothing'}`, { ...place, value: o });
      }
      defined.add(o);
    }
  }
  for (const o of g.outputs) {
    if (!defined.has(o)) throw new CnncError('UNKNOWN_VALUE', `graph output '${o}' is not defined`, { value: o });
  }
}
