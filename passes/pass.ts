/**
 * What a pass is, and the few graph-surgery helpers every pass shares.
 * A pass is pure: it clones its input graph and returns a new one.
 * Rewrites follow one rule that keeps them simple and safe: a value name keeps its
 * meaning (and type) for its whole life; a changed computation gets a fresh name.
 */
import { CnncError } from '../runtime/errors.js';
import { Graph, fillAttrs, inferTypes, topoSort, type Node } from '../ir/graph.js';
import type { AttrValue } from '../ir/op.js';
import { getOp } from '../ir/ops/index.js';
import type { CompileOptions } from './options.js';

export interface PassContext {
  /** Target name ('reference', 'wasm', 'wgsl', 'cuda'). */
  readonly target: string;
  readonly options: CompileOptions;
  /** Run the verifier after every pass (tests set it). */
  readonly verify?: boolean;
  /** The target's per-node support check (absent for a bare target name): see PipelineTarget. */
  readonly supports?: (node: Node, graph: Graph) => string | undefined;
}

export interface Pass {
  readonly name: string;
  /** One line for `describePipeline` (`cnnc passes`). */
  readonly doc: string;
  run(graph: Graph, ctx: PassContext): Graph;
}

/** A node object with defaults filled in and fresh node/output names (not yet in the graph). */
export function makeNode(g: Graph, op: string, inputs: readonly string[], attrs: Record<string, AttrValue | undefined> = {},
  opts: { name?: string; outputs?: readonly string[] } = {}): Node {
  const name = g.freshName(opts.name ?? op.toLowerCase());
  const full = fillAttrs(name, op, getOp(op, name).attrs, attrs);
  const outputs = opts.outputs ? [...opts.outputs] : [g.freshName(name)];
  return { name, op, inputs: [...inputs], outputs, attrs: full };
}

/** A copy of `n` with some fields replaced. */
export function withNode(n: Node, patch: Partial<Node>): Node {
  return { ...n, ...patch, inputs: [...(patch.inputs ?? n.inputs)], outputs: [...(patch.outputs ?? n.outputs)], attrs: { ...n.attrs, ...(patch.attrs ?? {}) } };
}

/**
 * Installs a new node list: keeps the order when it is already topological (else sorts it
 * stably), drops records of values no node defines any more, and infers the types of new values.
 */
export function commit(g: Graph, nodes: Node[]): Graph {
  const defined = new Set<string>(g.inputs);
  for (const v of g.values.values()) if (v.const) defined.add(v.name);
  g.nodes = inOrder(nodes, defined) ? nodes : topoSort(nodes, defined);
  const live = new Set(defined);
  for (const n of g.nodes) for (const o of n.outputs) if (o !== '') live.add(o);
  for (const name of [...g.values.keys()]) if (!live.has(name)) g.removeValue(name);
  inferTypes(g);
  for (const o of g.outputs) {
    if (!g.values.has(o)) throw new CnncError('BAD_GRAPH', `a rewrite lost graph output '${o}'`, { value: o });
  }
  return g;
}

function inOrder(nodes: readonly Node[], defined: ReadonlySet<string>): boolean {
  const seen = new Set(defined);
  for (const n of nodes) {
    if (n.inputs.some((i) => i !== '' && !seen.has(i))) return false;
    for (const o of n.outputs) if (o !== '') seen.add(o);
  }
  return true;
}

/** How many times each value is read: by nodes, plus one per graph-output slot. */
export function useCounts(g: Graph, nodes: readonly Node[] = g.nodes): Map<string, number> {
  const m = new Map<string, number>();
  const bump = (v: string) => { if (v !== '') m.set(v, (m.get(v) ?? 0) + 1); };
  for (const n of nodes) n.inputs.forEach(bump);
  g.outputs.forEach(bump);
  return m;
}

/** True when `v` is read exactly once, by a node (not as a graph output). */
export function singleUse(g: Graph, uses: Map<string, number>, v: string): boolean {
  return uses.get(v) === 1 && !g.outputs.includes(v);
}

/**
 * Makes every reader of `from` read `to` instead. When `from` is a graph output, the output
 * keeps its name: the caller must only do this when `to` can be renamed (see `canBypass`).
 */
export function replaceUses(nodes: Node[], from: string, to: string): Node[] {
  return nodes.map((n) => (n.inputs.includes(from) ? withNode(n, { inputs: n.inputs.map((i) => (i === from ? to : i)) }) : n));
}

/**
 * Removes node `n` (which must compute `out` equal to its input `src`): readers of `out` read
 * `src`. If `out` is a graph output, `src`'s producer is renamed to define `out` instead, which is
 * only legal when `src` is a node output read by nobody else; otherwise returns null (keep the node).
 */
export function bypass(g: Graph, nodes: Node[], n: Node, out: string, src: string): Node[] | null {
  const rest = nodes.filter((m) => m !== n);
  if (!g.outputs.includes(out)) return replaceUses(rest, out, src);
  const uses = useCounts(g, nodes);
  const producer = rest.find((m) => m.outputs.includes(src));
  if (!producer || uses.get(src) !== 1 || g.outputs.includes(src)) return null;
  const renamed = rest.map((m) => (m === producer ? withNode(m, { outputs: m.outputs.map((o) => (o === src ? out : o)) }) : m));
  g.removeValue(out);
  g.removeValue(src);
  return renamed;
}

/**
 * A local-rewrite driver: each sweep offers every node to `rule`, which may return nodes that
 * replace it (defining the same output names with the same values). Readers of the graph state
 * inside a sweep see the graph as it was at the start of the sweep, which stays correct because
 * every replacement keeps the meaning of existing names. Sweeps repeat until nothing changes.
 * With `live`, later nodes of a sweep see the producers (and types) of earlier replacements, so a
 * rewrite that moves something down a chain (a transpose sunk through 10,000 Relus) goes all the way
 * in one sweep instead of one node per sweep (quadratic). Returns the number of rewrites.
 */
export function sweepRewrite(g: Graph, rule: (n: Node, view: GraphView) => Node[] | null, maxSweeps = 50, opts: { live?: boolean } = {}): number {
  let total = 0;
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    const view = new GraphView(g);
    let changed = 0;
    const next: Node[] = [];
    for (const n of g.nodes) {
      const r = rule(n, view);
      if (r) { next.push(...r); changed++; if (opts.live) view.record(r); } else next.push(n);
    }
    if (!changed) return total;
    total += changed;
    commit(g, removeDead(g, next));
  }
  throw new CnncError('BAD_GRAPH', `rewrites did not settle after ${maxSweeps} sweeps`);
}

/**
 * A rule pass's body: a copy of `graph` with `rule` swept to a fixed point (the input stays as it
 * was), and, with `dropConstants`, the constants no node reads any more removed.
 */
export function rewriteCopy(graph: Graph, rule: (n: Node, view: GraphView) => Node[] | null, dropConstants = false): Graph {
  const g = graph.clone();
  sweepRewrite(g, rule);
  if (dropConstants) removeUnusedConstants(g);
  return g;
}

/** Read-only facts about a graph, computed once per sweep. */
export class GraphView {
  readonly producer: Map<string, Node>;
  readonly uses: Map<string, number>;
  readonly consumers: Map<string, Node[]>;
  constructor(readonly g: Graph) {
    this.producer = g.producers();
    this.uses = useCounts(g);
    this.consumers = g.consumers();
  }
  /** The node defining `v`, if it is `op`. */
  producedBy(v: string, op: string): Node | undefined {
    const p = this.producer.get(v);
    return p && p.op === op ? p : undefined;
  }
  /** Makes replacement nodes visible to the rest of the sweep: new outputs typed, producers updated. */
  record(nodes: readonly Node[]): void {
    for (const n of nodes) {
      const types = getOp(n.op, n.name).infer(this.g.nodeInfo(n));
      n.outputs.forEach((o, i) => {
        if (o === '') return;
        if (!this.g.values.has(o)) this.g.redefine({ name: o, type: types[i] });
        this.producer.set(o, n);
      });
    }
  }
  single(v: string): boolean {
    return singleUse(this.g, this.uses, v);
  }
  shape(v: string): readonly number[] {
    return this.g.type(v).shape;
  }
}

/** Drops nodes none of whose outputs is read or is a graph output (repeatedly, back to front). */
export function removeDead(g: Graph, nodes: Node[]): Node[] {
  const needed = new Set(g.outputs);
  const keep: Node[] = [];
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i];
    if (n.outputs.some((o) => o !== '' && needed.has(o))) {
      keep.push(n);
      for (const x of n.inputs) if (x !== '') needed.add(x);
    }
  }
  return keep.reverse();
}

/** Removes constants nobody reads. */
export function removeUnusedConstants(g: Graph): void {
  const read = new Set<string>(g.outputs);
  for (const n of g.nodes) for (const i of n.inputs) read.add(i);
  for (const v of [...g.values.values()]) if (v.const && !read.has(v.name)) g.removeValue(v.name);
}
