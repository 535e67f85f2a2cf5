/**
 * Concat in place, the planning decision the three code generators share: which inputs ("parts")
 * of a Concat are written by their producer straight into their slice of the Concat's output
 * ("whole"), so that the Concat copies only what is left, or runs no kernel at all.
 *
 * A part is written in place when
 * - a node produces it (a graph input or a constant keeps the copy),
 * - it is no graph output (it needs its own dense bytes then),
 * - the Concat is its only reader and takes it once (a part with other consumers, or a tensor
 *   concatenated with itself, is copied: other readers expect a dense value),
 * - the target's producer can store at a slice (`canWrite`: its kernel maps its flat output index
 *   through `sliceIndex`).
 *
 * A slice of part i of a Concat along axis a: with inner = Π shape[a+1..], the part's dense flat
 * index j lands at (j / block)·stride + base + j % block in the whole, where block = C_i·inner,
 * stride = C_total·inner and base = (channels before part i)·inner. For an NCHW channel concat,
 * block is one image of the part and stride one image of the whole; with batch 1, j < block always.
 * The memory planner (memory-plan.ts, `slices`) gives the parts and the whole one buffer.
 */
import type { Graph, Node } from '../ir/graph.js';
import { sizeOf } from '../ir/types.js';

export interface ConcatSlice {
  /** The Concat's output value, whose buffer the part is written into. */
  whole: string;
  /** The Concat node. */
  concat: string;
  /** Concat axis (non-negative) and the part's offset along it. */
  axis: number;
  offset: number;
  /** Element offset of the part's first element in the whole. */
  base: number;
  /** Contiguous elements of the part per outer index, and the whole's elements per outer index. */
  block: number;
  stride: number;
  /** Elements of the part (when ≤ block, one run: the index needs only the base). */
  elems: number;
}

export interface ConcatPlan {
  /** Part value → its slice of the whole. */
  slices: Map<string, ConcatSlice>;
  /** Concat nodes whose every part is written in place: they run no kernel. */
  elided: Set<string>;
}

/** Whether the target's kernel for `producer` can store its output `value` at a slice along `axis`. */
export type CanWriteSlice = (producer: Node, value: string, axis: number, g: Graph) => boolean;

export function planConcats(g: Graph, canWrite: CanWriteSlice): ConcatPlan {
  const prod = g.producers(), consumers = g.consumers();
  const outputs = new Set(g.outputs);
  const slices = new Map<string, ConcatSlice>();
  const elided = new Set<string>();
  for (const n of g.nodes) {
    if (n.op !== 'Concat' || !n.outputs[0]) continue;
    const whole = n.outputs[0], shape = g.type(whole).shape;
    const axis = (Number(n.attrs.axis) + shape.length) % shape.length;
    const inner = sizeOf(shape.slice(axis + 1));
    let offset = 0, inPlace = 0;
    for (const v of n.inputs) {
      const C = g.type(v).shape[axis];
      const p = prod.get(v);
      const once = n.inputs.filter((x) => x === v).length === 1;
      const readers = consumers.get(v) ?? [];
      if (p && once && !outputs.has(v) && readers.length === 1 && readers[0] === n && sizeOf(g.type(v).shape) > 0 && canWrite(p, v, axis, g)) {
        slices.set(v, { whole, concat: n.name, axis, offset, base: offset * inner, block: C * inner, stride: shape[axis] * inner, elems: sizeOf(g.type(v).shape) });
        inPlace++;
      }
      offset += C;
    }
    if (inPlace === n.inputs.length) elided.add(n.name);
  }
  return { slices, elided };
}

/** Part value → whole value, the form memory-plan.ts's `slices` option takes. */
export function sliceOwners(plan: ConcatPlan): Map<string, string> {
  return new Map([...plan.slices].map(([v, s]) => [v, s.whole]));
}

/**
 * The flat index in the whole of a part's flat index `j` (an expression), rendered with `lit`
 * (a target's integer literal). `withBase`: add the slice's base (wgsl binds the whole buffer;
 * cuda's pointer already points at the base).
 */
export function sliceIndex(s: ConcatSlice, j: string, lit: (v: number) => string, withBase: boolean): string {
  const base = withBase && s.base ? ` + ${lit(s.base)}` : '';
  if (s.elems <= s.block || s.block === s.stride) return `(${j})${base}`; // one contiguous run: an outer size of 1, or a sole part
  return `((${j}) / ${lit(s.block)} * ${lit(s.stride)} + (${j}) % ${lit(s.block)}${base})`;
}
