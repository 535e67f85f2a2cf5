/**
 * Squeeze-and-excitation detection (an analysis; nothing is rewritten): Mul(x, gate) where the
 * gate is a function of a global pool of x alone (GlobalAveragePool, or ReduceMean over the
 * spatial axes): pool → 1×1 conv / Gemm → activation → 1×1 conv → Sigmoid/HardSigmoid, in any
 * spelling, activations standalone or in epilogues. MobileNetV3, EfficientNet, RegNetY and MNASNet
 * have one per block. fuse-squeeze-excitation.ts turns the pooled MLP into one SqueezeExcitationGate
 * kernel (still found here: it is a matmul-like gate node); fuse-scale-on-load.ts fuses the closing
 * Mul into the convs that read it (Conv input 4, a per-(batch, channel) scale on load), also found here.
 */
import type { Graph, Node } from '../ir/graph.js';
import { getOp } from '../ir/ops/index.js';
import { sameShape } from '../ir/types.js';

export interface SqueezeExcitation {
  /** The feature map scaled. */
  x: string;
  pool: Node;
  /** The nodes between the pool and the Mul (the pooled-vector MLP and its gate). */
  gate: Node[];
  /** The node applying the gate: the Mul, or a Conv scaling its input on load (input 4). */
  mul: Node;
}

/** Families a pooled-vector MLP is made of. */
const GATE_CATEGORIES = new Set(['conv', 'matmul', 'activation', 'elementwise', 'movement']);

/** A global average pool of `x`: GlobalAveragePool, or a keepdims ReduceMean over every spatial axis. */
function isGlobalPool(g: Graph, p: Node): boolean {
  if (p.op === 'GlobalAveragePool') return true;
  if (p.op !== 'ReduceMean' || Number(p.attrs.keepdims) !== 1) return false;
  const r = g.type(p.inputs[0]).shape.length;
  const axes = (p.attrs.axes as number[]).map((a) => (a + r) % r).sort().join();
  return r >= 3 && axes === [...Array(r - 2).keys()].map((i) => i + 2).join();
}

/** The pool and nodes computing `gate` from a global pool of `x` only (constants aside), or undefined. */
function gateOf(g: Graph, producers: Map<string, Node>, gate: string, x: string): { pool: Node; nodes: Node[] } | undefined {
  const nodes: Node[] = [];
  let pool: Node | undefined;
  const seen = new Set<string>();
  const stack = [gate];
  while (stack.length) {
    const v = stack.pop()!;
    if (seen.has(v) || g.constValue(v)) continue;
    seen.add(v);
    const p = producers.get(v);
    if (!p) return undefined; // a graph input feeds the gate
    if (p.inputs[0] === x && isGlobalPool(g, p)) {
      if (pool && pool !== p) return undefined;
      pool = p;
      continue;
    }
    if (!GATE_CATEGORIES.has(getOp(p.op).traits.category) || p.inputs.includes(x)) return undefined;
    nodes.push(p);
    stack.push(...p.inputs.filter((i) => i !== ''));
  }
  const order = (n: Node) => g.nodes.indexOf(n);
  return pool && nodes.length ? { pool, nodes: nodes.sort((a, b) => order(a) - order(b)) } : undefined;
}

export function findSqueezeExcitation(g: Graph): SqueezeExcitation[] {
  const producers = g.producers();
  const found: SqueezeExcitation[] = [];
  for (const mul of g.nodes) {
    const scaledConv = mul.op === 'Conv' && (mul.inputs[4] ?? '') !== '';
    if (!scaledConv && (mul.op !== 'Mul' || mul.inputs.length !== 2)) continue;
    const operands = scaledConv ? [mul.inputs[0], mul.inputs[4]] : mul.inputs;
    for (const [x, gate] of [operands, [...operands].reverse()]) {
      if (!scaledConv && !sameShape(g.type(x).shape, g.type(mul.outputs[0]).shape)) continue;
      const r = gateOf(g, producers, gate, x);
      if (r) {
        found.push({ x, pool: r.pool, gate: r.nodes, mul });
        break;
      }
    }
  }
  return found;
}
