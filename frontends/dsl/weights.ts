/**
 * Weights from a trained model into a DSL graph of the same architecture. Float weights are
 * matched by shape, in the order the nodes use them: the k-th DSL weight of a shape takes the
 * k-th weight of that shape in the source (BatchNorm: scale, B, mean, var, as both list them).
 * Initializers that an exporter shares between layers (Identity aliases) are given to each use.
 */
import { CnncError } from '../../runtime/errors.js';
import { fromF64, toF64, type Tensor } from '../../runtime/tensor.js';
import type { Graph } from '../../ir/graph.js';
import { isFloat } from '../../ir/types.js';
import { DEFAULT_MAX_TENSOR_BYTES, decodeModel } from '../onnx/import.js';
import { ONNX_DTYPE, tensorFromProto } from '../onnx/proto.js';

export interface Use {
  value: string;
  tensor: Tensor;
}

/** Float constants as the nodes read them, in node order; `unique` lists each constant once. */
export function weightUses(g: Graph, unique: boolean): Use[] {
  const seen = new Set<string>();
  const uses: Use[] = [];
  for (const node of g.nodes) {
    for (const name of node.inputs) {
      const t = g.constValue(name);
      if (!t || !isFloat(t.dtype) || (unique && seen.has(name))) continue;
      seen.add(name);
      uses.push({ value: name, tensor: t });
    }
  }
  return uses;
}

const key = (shape: readonly number[]) => shape.join('x');

/** A copy of `target` whose weights are `source`'s, matched by shape in order of use. */
export function transferWeights(target: Graph, source: Graph): Graph {
  return assignWeights(target, weightUses(source, false), source.name);
}

/** A copy of `target` whose weights come from `source` (weights in order of use), matched by shape. */
export function assignWeights(target: Graph, source: readonly Use[], from: string): Graph {
  const queues = new Map<string, Use[]>();
  for (const u of source) {
    const k = key(u.tensor.shape);
    const q = queues.get(k);
    if (q) q.push(u); else queues.set(k, [u]);
  }
  const out = target.clone();
  for (const { value, tensor } of weightUses(target, true)) {
    const src = queues.get(key(tensor.shape))?.shift();
    if (!src) {
      throw new CnncError('BAD_MODEL', `no weight of shape [${tensor.shape}] left in '${from}' for this layer`, { value });
    }
    out.redefine({ name: value, type: out.type(value), const: fromF64(tensor.dtype, tensor.shape, toF64(src.tensor)) });
  }
  const left = [...queues.values()].flat().filter((u) => u.tensor.data.length > 1);
  if (left.length > 0) {
    const names = left.slice(0, 5).map((u) => `${u.value} [${u.tensor.shape}]`).join(', ');
    throw new CnncError('BAD_MODEL', `${left.length} weights of '${from}' have no layer in '${target.name}': ${names}${left.length > 5 ? ', ...' : ''}`);
  }
  return out;
}

/**
 * `graph` with the float initializers of an ONNX model of the same architecture, taken in the
 * file's node order (exporters write nodes in forward order; a re-sort could interleave branches).
 */
export function loadOnnxWeights(graph: Graph, onnxBytes: Uint8Array): Graph {
  const model = decodeModel(onnxBytes);
  const limits = { maxTensorBytes: DEFAULT_MAX_TENSOR_BYTES };
  const inits = new Map((model.graph?.initializer ?? []).map((t) => [t.name ?? '', t]));
  const alias = new Map<string, string>(); // Identity outputs that stand for an initializer
  const decoded = new Map<string, Tensor>();
  const uses: Use[] = [];
  for (const node of model.graph?.node ?? []) {
    const ins = (node.input ?? []).map((i) => alias.get(i) ?? i);
    if (node.opType === 'Identity' && inits.has(ins[0])) {
      alias.set(node.output?.[0] ?? '', ins[0]);
      continue;
    }
    for (const i of ins) {
      const t = inits.get(i);
      if (!t || t.dataType !== ONNX_DTYPE.FLOAT) continue;
      if (!decoded.has(i)) decoded.set(i, tensorFromProto(t, limits, i));
      uses.push({ value: i, tensor: decoded.get(i)! });
    }
  }
  return assignWeights(graph, uses, model.graph?.name || 'ONNX model');
}
