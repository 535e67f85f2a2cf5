/**
 * Elementwise group fusion: every maximal connected group of elementwise ops that have a scalar
 * formula (`traits.scalar`, ir/scalar.ts) and the same output shape becomes one FusedElementwise
 * node (ir/ops/fused-elementwise.ts), so a target runs it as one kernel: one pass over memory
 * instead of one per op. Any number of inputs (broadcast ones included: per-channel vectors, and
 * one-element constants, which become literals of the formula) and of outputs (an intermediate read
 * outside the group stays an output of the fused node, under its own name).
 *
 * Guard, then rewrite. The guard decides which nodes may join (f32 values only: the targets render
 * formulas in f32; other dtypes stay unfused) and grows groups in topological order; a node joins the
 * groups of its producers only when the union stays convex (no path leaves the group and comes
 * back, which would make the fused node depend on itself) and within the limits: at most
 * MAX_STEPS ops, and at most `maxKernelBuffers` inputs + outputs where the target sets one (wgsl
 * binds one storage buffer per operand). Groups of one node stay as they are.
 */
import type { Graph, Node } from '../ir/graph.js';
import { getOp } from '../ir/ops/index.js';
import { arg, c, formatScalar, substitute, type Scalar } from '../ir/scalar.js';
import { sizeOf } from '../ir/types.js';
import { commit, makeNode, type Pass } from './pass.js';

/** Most ops in one group: keeps generated kernels (and binaryen's recursion) small. */
export const MAX_STEPS = 64;

/** Most inputs of one n-ary op (Sum, Mean, Max, Min) that may join a group: its formula nests that deep. */
const MAX_NODE_INPUTS = 16;

/** A group as the guard grows it: node indices in topological order. */
interface Group { nodes: number[] }

/** The node's formula over its present inputs when it may join a group, else undefined. */
function formulaOf(g: Graph, n: Node): Scalar | undefined {
  if (n.op === 'FusedElementwise' || n.outputs.length !== 1 || n.outputs[0] === '') return undefined;
  const t = getOp(n.op, n.name).traits;
  if (!t.elementwise || !t.scalar || t.alias) return undefined; // an alias (Identity) costs no kernel to begin with
  const ins = n.inputs.filter((v) => v !== '');
  if (ins.length === 0 || ins.length > MAX_NODE_INPUTS || [...ins, n.outputs[0]].some((v) => g.type(v).dtype !== 'f32')) return undefined;
  if (sizeOf(g.type(n.outputs[0]).shape) === 0) return undefined;
  return t.scalar(n.attrs, ins.length);
}

/** A one-element f32 constant's value: a literal of the formula rather than an input. */
function literalOf(g: Graph, v: string): number | undefined {
  const t = g.constValue(v);
  return t && t.dtype === 'f32' && sizeOf(t.shape) === 1 ? (t.data as Float32Array)[0] : undefined;
}

class Guard {
  readonly index = new Map<Node, number>();
  readonly producer = new Map<string, number>();
  readonly consumers = new Map<string, number[]>();
  readonly formulas: (Scalar | undefined)[];
  readonly groupOf: (Group | undefined)[];
  readonly outputs: Set<string>;

  constructor(readonly g: Graph, readonly maxBuffers: number) {
    g.nodes.forEach((n, i) => {
      this.index.set(n, i);
      for (const o of n.outputs) if (o !== '') this.producer.set(o, i);
      for (const v of n.inputs) if (v !== '') this.consumers.set(v, [...(this.consumers.get(v) ?? []), i]);
    });
    this.formulas = g.nodes.map((n) => formulaOf(g, n));
    this.groupOf = g.nodes.map(() => undefined);
    this.outputs = new Set(g.outputs);
  }

  /** Grows the groups over the whole graph; returns those of two or more nodes. */
  run(): Group[] {
    this.g.nodes.forEach((n, i) => { if (this.formulas[i]) this.place(n, i); });
    return [...new Set(this.groupOf)].filter((x): x is Group => x !== undefined && x.nodes.length > 1);
  }

  /** Puts node i into the union of its producers' groups, or into one of them, or alone. */
  private place(n: Node, i: number): void {
    const shape = this.g.type(n.outputs[0]).shape.join();
    const near: Group[] = [];
    for (const v of n.inputs) {
      const p = this.producer.get(v);
      const pg = p === undefined ? undefined : this.groupOf[p];
      if (pg && !near.includes(pg) && this.g.type(v).shape.join() === shape) near.push(pg);
    }
    const tries = near.length > 1 ? [near, ...near.map((x) => [x])] : near.map((x) => [x]);
    for (const parts of tries) {
      const nodes = [...parts.flatMap((x) => x.nodes), i].sort((a, b) => a - b);
      if (this.fits(nodes)) { this.assign({ nodes }); return; }
    }
    this.assign({ nodes: [i] });
  }

  private assign(group: Group): void {
    for (const k of group.nodes) this.groupOf[k] = group;
  }

  /** Within the limits and convex. */
  private fits(nodes: number[]): boolean {
    if (nodes.length > MAX_STEPS) return false;
    const set = new Set(nodes);
    const { inputs, outputs } = this.boundary(nodes, set);
    if (inputs.length + outputs.length > this.maxBuffers) return false;
    return this.convex(nodes, set, inputs);
  }

  /** The values the group reads from outside (literals excluded) and those read outside it. */
  boundary(nodes: readonly number[], set: ReadonlySet<number>): { inputs: string[]; outputs: string[] } {
    const inputs: string[] = [], outputs: string[] = [];
    for (const k of nodes) {
      const n = this.g.nodes[k];
      for (const v of n.inputs) {
        const p = this.producer.get(v);
        if (v === '' || (p !== undefined && set.has(p)) || inputs.includes(v) || literalOf(this.g, v) !== undefined) continue;
        inputs.push(v);
      }
      const o = n.outputs[0];
      if (this.outputs.has(o) || (this.consumers.get(o) ?? []).some((u) => !set.has(u))) outputs.push(o);
    }
    return { inputs, outputs };
  }

  /** No path from the group back into it through a node outside it (searched backwards from its inputs). */
  private convex(nodes: readonly number[], set: ReadonlySet<number>, inputs: readonly string[]): boolean {
    const first = nodes[0];
    const seen = new Set<number>();
    const stack = inputs.map((v) => this.producer.get(v)).filter((p): p is number => p !== undefined && p >= first);
    while (stack.length) {
      const k = stack.pop()!;
      if (set.has(k)) return false;
      if (seen.has(k)) continue;
      seen.add(k);
      for (const v of this.g.nodes[k].inputs) {
        const p = this.producer.get(v);
        if (p !== undefined && p >= first) stack.push(p);
      }
    }
    return true;
  }
}

/** The FusedElementwise node computing `group` (same output names). */
function fusedNode(guard: Guard, group: Group): Node {
  const g = guard.g;
  const set = new Set(group.nodes);
  const { inputs, outputs } = guard.boundary(group.nodes, set);
  const stepOf = new Map<string, number>();
  const body = group.nodes.map((k, j) => {
    const n = g.nodes[k];
    const args = n.inputs.filter((v) => v !== '').map((v): Scalar => {
      const s = stepOf.get(v);
      if (s !== undefined) return arg(inputs.length + s);
      const lit = literalOf(g, v);
      return lit !== undefined ? c(lit) : arg(inputs.indexOf(v));
    });
    stepOf.set(n.outputs[0], j);
    return formatScalar(substitute(guard.formulas[k]!, args));
  });
  const results = outputs.map((o) => stepOf.get(o)!);
  const first = g.nodes[group.nodes[0]];
  const ops = group.nodes.map((k) => g.nodes[k].op);
  return makeNode(g, 'FusedElementwise', inputs, { body, results, ops }, { name: `fused_${first.name}`, outputs });
}

/**
 * What the pass did to a graph it ran on: each fused node with the ops it holds. Every op it fused
 * was one kernel on every target (aliases are not fused), so a target's kernel count without the
 * pass is its count with it plus `ops − groups`.
 */
export function fusionSummary(g: Graph): { groups: { name: string; ops: string[]; inputs: number; outputs: number }[]; ops: number } {
  const groups = g.nodes.filter((n) => n.op === 'FusedElementwise')
    .map((n) => ({ name: n.name, ops: [...(n.attrs.ops as string[])], inputs: n.inputs.length, outputs: n.outputs.length }));
  return { groups, ops: groups.reduce((s, x) => s + x.ops.length, 0) };
}

/** The groups the pass would form, as node-name lists (for reports and tests). */
export function elementwiseGroups(graph: Graph, maxBuffers = Infinity): string[][] {
  return new Guard(graph, maxBuffers).run().map((x) => x.nodes.map((k) => graph.nodes[k].name));
}

export function fuseElementwise(graph: Graph, maxBuffers = Infinity): Graph {
  const g = graph.clone();
  const guard = new Guard(g, maxBuffers);
  const groups = guard.run();
  if (!groups.length) return g;
  const fused = new Map<number, Node>();
  const gone = new Set<number>();
  for (const x of groups) {
    if (!guard.boundary(x.nodes, new Set(x.nodes)).outputs.length) continue; // read by nobody: dce's to drop
    fused.set(x.nodes[x.nodes.length - 1], fusedNode(guard, x));
    for (const k of x.nodes) gone.add(k);
  }
  const nodes = g.nodes.flatMap((n, k) => (fused.has(k) ? [fused.get(k)!] : gone.has(k) ? [] : [n]));
  return commit(g, nodes);
}

export const fuseElementwisePass: Pass = {
  name: 'fuse-elementwise',
  doc: 'connected groups of f32 elementwise ops (scalar formulas, broadcasts, several outputs) into one FusedElementwise kernel each',
  run: (g, ctx) => fuseElementwise(g, ctx.options.maxKernelBuffers ?? Infinity),
};
