/**
 * The typed graph: SSA values (each defined once, by a graph input, a constant or one node),
 * nodes kept in topological order, every value carrying dtype and static shape.
 */
import { CnncError } from '../runtime/errors.js';
import type { Tensor } from '../runtime/tensor.js';
import type { AttrValue, Attrs, InferInput, NodeInfo } from './op.js';
import { getOp } from './ops/index.js';
import { sameShape, type TensorType } from './types.js';

export interface Value {
  readonly name: string;
  readonly type: TensorType;
  /** Present for constants (weights, folded values). Treated as immutable. */
  readonly const?: Tensor;
}

export interface Node {
  readonly name: string;
  readonly op: string;
  /** Value names; '' marks an absent optional input. */
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  /** All attributes, defaults filled in. */
  readonly attrs: Attrs;
}

export interface AddNodeOptions {
  /** Node name (made unique from the op name when omitted). */
  name?: string;
  /** Output value names (made from the node name when omitted). */
  outputs?: string[];
}

export class Graph {
  name: string;
  readonly values = new Map<string, Value>();
  nodes: Node[] = [];
  inputs: string[] = [];
  outputs: string[] = [];
  private readonly used = new Set<string>();
  private counter = 0;
  private nameIndex?: { nodes: Node[]; count: number; last: Node | undefined; names: Set<string> };

  constructor(name = 'graph') {
    this.name = name;
  }

  // ---- building ----

  addInput(name: string, type: TensorType): string {
    this.define({ name, type });
    this.inputs.push(name);
    return name;
  }

  addConstant(name: string, value: Tensor): string {
    const unique = this.used.has(name) ? this.freshName(name) : name;
    this.define({ name: unique, type: { dtype: value.dtype, shape: [...value.shape] }, const: value });
    return unique;
  }

  /**
   * Appends a node after checking its inputs exist, filling attribute defaults and
   * inferring its output types from the op registry. Returns the output value names.
   */
  addNode(op: string, inputs: readonly string[], attrs: Record<string, AttrValue | undefined> = {}, opts: AddNodeOptions = {}): string[] {
    const name = opts.name !== undefined && !this.nodeNameIndex().has(opts.name) ? opts.name : this.freshName(opts.name ?? op.toLowerCase());
    const def = getOp(op, name);
    const full = fillAttrs(name, op, def.attrs, attrs);
    const info = this.nodeInfo({ name, op, inputs, outputs: [], attrs: full });
    const types = def.infer(info);
    const outputs = opts.outputs ?? types.map((_, i) => (types.length === 1 ? name : `${name}_${i}`));
    if (outputs.length !== types.length) {
      throw new CnncError('BAD_GRAPH', `${outputs.length} output names given, op infers ${types.length}`, { node: name, op });
    }
    outputs.forEach((o, i) => this.define({ name: o, type: types[i] }, name, op));
    this.used.add(name);
    const node: Node = { name, op, inputs: [...inputs], outputs, attrs: full };
    const index = this.nodeNameIndex();
    this.nodes.push(node);
    index.add(name);
    this.nameIndex = { nodes: this.nodes, count: this.nodes.length, last: node, names: index };
    return outputs;
  }

  /** Like addNode for single-output ops; returns the one output name. */
  add(op: string, inputs: readonly string[], attrs: Record<string, AttrValue | undefined> = {}, opts: AddNodeOptions = {}): string {
    const outs = this.addNode(op, inputs, attrs, opts);
    return outs[0];
  }

  setOutputs(names: readonly string[]): void {
    for (const n of names) this.value(n);
    this.outputs = [...names];
  }

  /** A name not used yet by any value or node, derived from `base`. */
  freshName(base: string): string {
    let name = base;
    while (this.used.has(name)) name = `${base}_${++this.counter}`;
    this.used.add(name);
    return name;
  }

  // ---- reading ----

  value(name: string, node?: string): Value {
    const v = this.values.get(name);
    if (!v) throw new CnncError('UNKNOWN_VALUE', `no value named '${name}'`, { node, value: name });
    return v;
  }

  type(name: string): TensorType {
    return this.value(name).type;
  }

  constValue(name: string): Tensor | undefined {
    return name === '' ? undefined : this.values.get(name)?.const;
  }

  /** The view of a node that op inference and cost functions take. */
  nodeInfo(node: Node): NodeInfo {
    const inputs: (InferInput | undefined)[] = node.inputs.map((n) => {
      if (n === '') return undefined;
      const v = this.value(n, node.name);
      return { name: n, type: v.type, value: v.const };
    });
    return { name: node.name, op: node.op, attrs: node.attrs, inputs };
  }

  /** Producer node of each node-defined value. */
  producers(): Map<string, Node> {
    const m = new Map<string, Node>();
    for (const n of this.nodes) for (const o of n.outputs) m.set(o, n);
    return m;
  }

  /** Nodes reading each value, in order. */
  consumers(): Map<string, Node[]> {
    const m = new Map<string, Node[]>();
    for (const n of this.nodes) {
      for (const i of n.inputs) {
        if (i === '') continue;
        const list = m.get(i);
        if (list) list.push(n); else m.set(i, [n]);
      }
    }
    return m;
  }

  nodeNames(): Set<string> {
    return new Set(this.nodeNameIndex());
  }

  /**
   * The node names, kept up to date by addNode so that building a graph stays linear. `nodes` is a
   * public array passes replace or edit, so the index is rebuilt whenever the array, its length or
   * its last node is not what addNode left.
   */
  private nodeNameIndex(): Set<string> {
    const c = this.nameIndex;
    const n = this.nodes.length;
    if (c && c.nodes === this.nodes && c.count === n && c.last === this.nodes[n - 1]) return c.names;
    const names = new Set(this.nodes.map((x) => x.name));
    this.nameIndex = { nodes: this.nodes, count: n, last: this.nodes[n - 1], names };
    return names;
  }

  /** A copy sharing the (immutable) tensors: what passes start from. */
  clone(): Graph {
    const g = new Graph(this.name);
    for (const v of this.values.values()) g.define(v);
    for (const n of this.nodes) g.used.add(n.name);
    g.nodes = this.nodes.map((n) => ({ ...n, inputs: [...n.inputs], outputs: [...n.outputs], attrs: { ...n.attrs } }));
    g.inputs = [...this.inputs];
    g.outputs = [...this.outputs];
    g.counter = this.counter;
    return g;
  }

  /**
   * A graph from values and nodes given in any order (importers): nodes are sorted
   * topologically; a cycle, an unknown input or a value defined twice is a typed error.
   */
  static fromParts(name: string, parts: { inputs: Value[]; constants: Value[]; nodes: Node[]; outputs: string[] }): Graph {
    const g = new Graph(name);
    for (const v of parts.inputs) { g.define(v); g.inputs.push(v.name); }
    for (const v of parts.constants) g.define(v);
    for (const n of topoSort(parts.nodes, new Set(g.values.keys()))) {
      if (g.used.has(n.name)) throw new CnncError('DUPLICATE_VALUE', `node name '${n.name}' used twice`, { node: n.name, op: n.op });
      g.used.add(n.name);
      g.nodes.push(n);
    }
    inferTypes(g);
    g.setOutputs(parts.outputs);
    return g;
  }

  /** Records a value (node outputs carry the type their op inferred). */
  define(v: Value, node?: string, op?: string): void {
    if (this.values.has(v.name)) {
      throw new CnncError('DUPLICATE_VALUE', `value '${v.name}' is defined twice`, { node, op, value: v.name });
    }
    this.values.set(v.name, v);
    this.used.add(v.name);
  }

  /** Replaces a value's record (same name), e.g. after re-inference. */
  redefine(v: Value): void {
    this.values.set(v.name, v);
    this.used.add(v.name);
  }

  removeValue(name: string): void {
    this.values.delete(name);
  }
}

/** Fills attribute defaults; unknown or missing required attributes are typed errors. */
export function fillAttrs(node: string, op: string, spec: Readonly<Record<string, AttrValue | null>>, given: Record<string, AttrValue | undefined>): Attrs {
  const out: Attrs = {};
  for (const [k, v] of Object.entries(given)) {
    if (v === undefined) continue;
    if (!(k in spec)) throw new CnncError('BAD_ATTRIBUTE', `unknown attribute '${k}'`, { node, op });
    const want = attrKind(spec[k]);
    if (!fitsKind(v, want)) throw new CnncError('BAD_ATTRIBUTE', `attribute '${k}' must be ${want}, got ${describeAttr(v)}`, { node, op });
    out[k] = Array.isArray(v) ? ([...v] as AttrValue) : v;
  }
  for (const [k, def] of Object.entries(spec)) {
    if (k in out) continue;
    if (def === null) throw new CnncError('BAD_ATTRIBUTE', `required attribute '${k}' is missing`, { node, op });
    out[k] = Array.isArray(def) ? ([...def] as AttrValue) : def;
  }
  return out;
}

type AttrKind = 'a number' | 'a string' | 'a list of numbers' | 'a list of strings' | 'a list' | 'any value';

/** What kind of value an attribute takes, from its default (a required attribute, null, takes any). */
function attrKind(def: AttrValue | null): AttrKind {
  if (def === null) return 'any value';
  if (typeof def === 'number') return 'a number';
  if (typeof def === 'string') return 'a string';
  if (def.length === 0) return 'a list';
  return typeof def[0] === 'number' ? 'a list of numbers' : 'a list of strings';
}

function fitsKind(v: unknown, kind: AttrKind): boolean {
  const list = (t: string) => Array.isArray(v) && v.every((x) => typeof x === t);
  switch (kind) {
    case 'any value': return typeof v === 'number' || typeof v === 'string' || list('number') || list('string');
    case 'a number': return typeof v === 'number';
    case 'a string': return typeof v === 'string';
    case 'a list of numbers': return list('number');
    case 'a list of strings': return list('string');
    case 'a list': return list('number') || list('string');
  }
}

function describeAttr(v: unknown): string {
  const text = JSON.stringify(v) ?? String(v);
  const kind = Array.isArray(v) ? 'a list' : typeof v === 'number' ? 'a number' : typeof v === 'string' ? 'a string' : typeof v;
  return `${kind} ${text.length > 40 ? `${text.slice(0, 40)}…` : text}`;
}

/** Kahn's algorithm, stable in the given order; names the nodes of a cycle when there is one. */
export function topoSort(nodes: readonly Node[], defined: ReadonlySet<string>): Node[] {
  const producer = new Map<string, Node>();
  for (const n of nodes) {
    for (const o of n.outputs) {
      if (producer.has(o) || defined.has(o)) {
        throw new CnncError('DUPLICATE_VALUE', `value '${o}' is defined twice`, { node: n.name, op: n.op, value: o });
      }
      producer.set(o, n);
    }
  }
  for (const n of nodes) {
    for (const i of n.inputs) {
      if (i !== '' && !defined.has(i) && !producer.has(i)) {
        throw new CnncError('UNKNOWN_VALUE', `input '${i}' is not defined by any input, constant or node`, { node: n.name, op: n.op, value: i });
      }
    }
  }
  if (alreadyOrdered(nodes, defined)) return [...nodes]; // keep the file's order when it is valid (exporters' order reads best)
  const pending = new Map<Node, number>();
  const users = new Map<Node, Node[]>();
  for (const n of nodes) {
    const deps = new Set(n.inputs.filter((i) => i !== '' && producer.has(i)).map((i) => producer.get(i)!));
    pending.set(n, deps.size);
    for (const d of deps) users.set(d, [...(users.get(d) ?? []), n]);
  }
  const ready = nodes.filter((n) => pending.get(n) === 0);
  const order: Node[] = [];
  while (ready.length) {
    const n = ready.shift()!;
    order.push(n);
    for (const u of users.get(n) ?? []) {
      const left = pending.get(u)! - 1;
      pending.set(u, left);
      if (left === 0) ready.push(u);
    }
  }
  if (order.length !== nodes.length) {
    const stuck = nodes.filter((n) => pending.get(n)! > 0);
    throw new CnncError('CYCLE', `nodes form a cycle: ${stuck.map((n) => n.name).join(', ')}`, { node: stuck[0].name, op: stuck[0].op });
  }
  return order;
}

function alreadyOrdered(nodes: readonly Node[], defined: ReadonlySet<string>): boolean {
  const seen = new Set(defined);
  for (const n of nodes) {
    if (n.inputs.some((i) => i !== '' && !seen.has(i))) return false;
    for (const o of n.outputs) seen.add(o);
  }
  return true;
}

/** Re-infers every node's output types in order (after import or a rewrite). */
export function inferTypes(g: Graph): void {
  for (const n of g.nodes) {
    const types = getOp(n.op, n.name).infer(g.nodeInfo(n));
    if (types.length < n.outputs.length) {
      throw new CnncError('BAD_GRAPH', `op infers ${types.length} outputs, node has ${n.outputs.length}`, { node: n.name, op: n.op });
    }
    n.outputs.forEach((o, i) => {
      if (o === '') return;
      const old = g.values.get(o);
      if (old && old.type.dtype === types[i].dtype && sameShape(old.type.shape, types[i].shape)) return;
      g.redefine({ name: o, type: types[i] });
    });
  }
}
