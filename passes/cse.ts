/**
 * Common-subexpression elimination: constants with equal dtype, shape and bytes become one;
 * nodes with the same op, inputs and attributes become one (their readers read the first).
 * A duplicate whose output is a graph output is kept, so graph outputs keep their names.
 */
import type { Tensor } from '../runtime/tensor.js';
import type { Graph, Node } from '../ir/graph.js';
import { commit, removeUnusedConstants, type Pass } from './pass.js';

/** dtype, shape and a hash of up to 4096 evenly spaced bytes: candidates are then compared in full. */
function constKey(t: Tensor): string {
  const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const step = Math.max(1, Math.floor(bytes.length / 4096));
  let h = 0x811c9dc5; // FNV-1a
  for (let i = 0; i < bytes.length; i += step) h = Math.imul(h ^ bytes[i], 0x01000193);
  return `${t.dtype}[${t.shape.join(',')}]#${(h >>> 0).toString(16)}`;
}

function sameBytes(a: Tensor, b: Tensor): boolean {
  if (a.data === b.data) return true;
  const x = new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength);
  const y = new Uint8Array(b.data.buffer, b.data.byteOffset, b.data.byteLength);
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** JSON.stringify writes ±Infinity as null: keep them apart. */
const keepInfinity = (_k: string, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v);

export function eliminateCommonSubexpressions(graph: Graph): Graph {
  const g = graph.clone();
  const rename = new Map<string, string>();
  // constants
  const byKey = new Map<string, string[]>();
  for (const v of g.values.values()) {
    if (!v.const || g.outputs.includes(v.name)) continue;
    const key = constKey(v.const);
    const same = (byKey.get(key) ?? []).find((o) => sameBytes(g.constValue(o)!, v.const!));
    if (same) rename.set(v.name, same);
    else byKey.set(key, [...(byKey.get(key) ?? []), v.name]);
  }
  // nodes, in order, so that renamed inputs expose further duplicates
  const seen = new Map<string, Node>();
  const kept: Node[] = [];
  for (const n0 of g.nodes) {
    const n = { ...n0, inputs: n0.inputs.map((i) => rename.get(i) ?? i) };
    const key = `${n.op}(${n.inputs.join(',')})${JSON.stringify(n.attrs, keepInfinity)}#${n.outputs.length}`;
    const first = seen.get(key);
    if (first && !n.outputs.some((o) => g.outputs.includes(o))) {
      n.outputs.forEach((o, i) => { if (o !== '') rename.set(o, first.outputs[i]); });
      continue;
    }
    if (!first) seen.set(key, n);
    kept.push(n);
  }
  commit(g, kept);
  removeUnusedConstants(g);
  return g;
}

export const csePass: Pass = {
  name: 'cse',
  doc: 'merges equal constants and nodes computing the same op on the same inputs',
  run: (g) => eliminateCommonSubexpressions(g),
};
