/**
 * Memory planning: every activation lives in one arena; values whose lifetimes do not overlap share
 * bytes. Lifetimes come from the node order: node i runs at time i+1 and reads its inputs while it
 * writes its outputs (so both are live then); graph inputs are live from time 0, graph outputs until
 * the end. Constants (weights) are not in the arena: they ship with the artifact.
 *
 * Graph inputs and outputs live in the arena too (io: 'arena', the default): the runtime copies inputs
 * in at their offsets and reads outputs from theirs. With io: 'separate' they get no offset (the
 * runtime binds them as their own buffers) and nothing else may reuse them.
 *
 * In place: an elementwise node may write its output over an input that dies at that node (same byte
 * size and shape; the input neither a graph input nor a graph output): they share one buffer,
 * reported in `inPlace`.
 *
 * Offsets: a few greedy orders (by size, by start, by area, busiest moment first, seeded jitters of
 * the size order) with first-fit and best-fit placement; the smallest arena wins. `lowerBound` is the liveness bound max_t Σ bytes live at t over the same
 * buffers: no placement can use less.
 */
import type { Graph } from '../ir/graph.js';
import { OverlapIndex } from '../ir/overlap.js';
import { typeBytes } from '../ir/types.js';

export interface MemoryPlanOptions {
  /** Byte alignment of every offset (default 64: a cache line, and WebGPU's minStorageBufferOffsetAlignment is ≤ 256). */
  align?: number;
  /** Let elementwise ops overwrite a dying input (default true). */
  inPlace?: boolean;
  /** Whether graph inputs/outputs live in the arena (default 'arena'). */
  io?: 'arena' | 'separate';
}

export interface MemoryPlan {
  /** Arena size in bytes (a multiple of align). */
  arenaBytes: number;
  /** Byte offset in the arena of every planned value. */
  offsets: Map<string, number>;
  /** Liveness lower bound: the largest total of bytes live at one time. */
  lowerBound: number;
  /** Bytes if every planned value had its own buffer. */
  unplannedBytes: number;
  /** Output value → the input value whose bytes it overwrites. */
  inPlace: Map<string, string>;
  /** Live interval [start, end] (times) of every planned value, for tools and tests. */
  lifetimes: Map<string, [number, number]>;
}

/** Ops whose output element i depends only on input elements i (shape-equal inputs): safe in place. */
const ELEMENTWISE = new Set([
  'Relu', 'LeakyRelu', 'Sigmoid', 'HardSigmoid', 'HardSwish', 'Tanh', 'Erf', 'Gelu', 'Clip', 'Neg', 'Abs', 'Sqrt',
  'Exp', 'Log', 'Reciprocal', 'Floor', 'Ceil', 'Round', 'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Sum',
  'Mean', 'PRelu', 'Reshape', 'Identity', 'BatchNormalization',
]);

interface Buffer { values: string[]; start: number; end: number; bytes: number; size: number; offset: number }

export function planMemory(g: Graph, opts: MemoryPlanOptions = {}): MemoryPlan {
  const align = opts.align ?? 64;
  const separate = opts.io === 'separate';
  const end = g.nodes.length + 1;
  const io = new Set([...g.inputs, ...g.outputs]);
  const skip = (v: string) => v === '' || !!g.constValue(v) || (separate && io.has(v));
  const lifetimes = new Map<string, [number, number]>();
  const touch = (v: string, t: number) => { const l = lifetimes.get(v); if (l) l[1] = Math.max(l[1], t); };
  for (const v of g.inputs) if (!skip(v)) lifetimes.set(v, [0, 0]);
  g.nodes.forEach((n, i) => {
    for (const v of n.inputs) touch(v, i + 1);
    for (const v of n.outputs) if (!skip(v)) lifetimes.set(v, [i + 1, i + 1]);
  });
  for (const v of g.outputs) touch(v, end);

  // buffers, merging in-place pairs
  const bufOf = new Map<string, Buffer>();
  const buffers: Buffer[] = [];
  const inPlace = new Map<string, string>();
  const roundUp = (b: number) => Math.ceil(b / align) * align;
  const newBuffer = (v: string) => {
    const [start, stop] = lifetimes.get(v)!;
    const bytes = typeBytes(g.type(v));
    const b: Buffer = { values: [v], start, end: stop, bytes, size: roundUp(bytes), offset: 0 };
    buffers.push(b);
    bufOf.set(v, b);
  };
  for (const v of g.inputs) if (lifetimes.has(v)) newBuffer(v);
  g.nodes.forEach((n, i) => {
    const t = i + 1;
    n.outputs.forEach((o, k) => {
      if (!lifetimes.has(o)) return;
      const src = k === 0 && opts.inPlace !== false && ELEMENTWISE.has(n.op) ? n.inputs.find((x) => canReuse(g, io, bufOf.get(x), x, o, t, n.op === 'Reshape')) : undefined;
      if (src === undefined) return newBuffer(o);
      const b = bufOf.get(src)!;
      b.values.push(o);
      b.end = lifetimes.get(o)![1];
      bufOf.set(o, b);
      inPlace.set(o, src);
    });
  });

  let best: Buffer[] | undefined;
  let bestSize = Infinity;
  const orders: ((a: Buffer, b: Buffer) => number)[] = [
    (a, b) => b.size - a.size || a.start - b.start,
    (a, b) => a.start - b.start || b.size - a.size,
    (a, b) => b.size * (b.end - b.start + 1) - a.size * (a.end - a.start + 1),
  ];
  // plus a few seeded jitters of the size order: cheap, and they shake out fragmentation the fixed orders hit
  let seed = 1;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const jitters = Array.from({ length: 32 }, () => {
    const key = new Map(buffers.map((b) => [b, b.size * (1 + 0.5 * rand())]));
    return [...buffers].sort((a, b) => key.get(b)! - key.get(a)!);
  });
  const candidates = [...orders.map((o) => [...buffers].sort(o)), breadthOrder(buffers, end), ...jitters];
  for (const order of candidates) {
    for (const bestFit of [false, true]) {
      const size = place(order, bestFit);
      if (size < bestSize) { bestSize = size; best = buffers.map((b) => ({ ...b })); }
    }
  }
  const offsets = new Map<string, number>();
  for (const b of best ?? []) for (const v of b.values) offsets.set(v, b.offset);

  const lowerBound = liveBytes(buffers, end, (b) => b.bytes).reduce((a, b) => Math.max(a, b), 0);
  const unplannedBytes = [...lifetimes.keys()].reduce((s, v) => s + typeBytes(g.type(v)), 0);
  return { arenaBytes: buffers.length ? bestSize : 0, offsets, lowerBound, unplannedBytes, inPlace, lifetimes };
}

/** Input x of a node at time t can be overwritten by its output o. */
function canReuse(g: Graph, io: ReadonlySet<string>, b: { end: number; bytes: number; values: string[] } | undefined, x: string, o: string, t: number, anyShape: boolean): boolean {
  // the input must die here; an output may take it over (its buffer then lives to the end)
  if (!b || b.end !== t || b.values.some((v) => io.has(v))) return false;
  const tx = g.type(x), to = g.type(o);
  if (anyShape) return typeBytes(tx) === typeBytes(to) && b.bytes === typeBytes(to);
  return typeBytes(tx) === typeBytes(to) && tx.shape.length === to.shape.length && tx.shape.every((d, i) => d === to.shape[i]) && b.bytes === typeBytes(to);
}

/**
 * "Greedy by breadth": the busiest moments first; at each, its not yet placed buffers by size.
 * The buffers that make up the peak are packed together before anything can fragment them.
 */
function breadthOrder(buffers: Buffer[], end: number): Buffer[] {
  const bytes = liveBytes(buffers, end, (b) => b.size);
  const times = Array.from({ length: end + 1 }, (_, t) => t).sort((a, b) => bytes[b] - bytes[a]);
  const unseen = new OverlapIndex(buffers);
  for (const b of buffers) unseen.add(b);
  const order: Buffer[] = [];
  for (const t of times) {
    for (const b of unseen.overlapping(t, t).sort((x, y) => y.size - x.size)) { unseen.remove(b); order.push(b); }
  }
  return order;
}

/** Total of `weight` over the buffers live at each time 0..end (a sweep over starts and ends). */
function liveBytes(buffers: readonly Buffer[], end: number, weight: (b: Buffer) => number): number[] {
  const delta = new Array<number>(end + 2).fill(0);
  for (const b of buffers) { delta[b.start] += weight(b); delta[b.end + 1] -= weight(b); }
  const out = new Array<number>(end + 1);
  for (let t = 0, s = 0; t <= end; t++) out[t] = s += delta[t];
  return out;
}

/** Assigns offsets in the given order (first-fit or best-fit among gaps); returns the arena size. */
function place(order: Buffer[], bestFit: boolean): number {
  const placed = new OverlapIndex(order);
  let top = 0;
  for (const b of order) {
    const busy = placed.overlapping(b.start, b.end).sort((x, y) => x.offset - y.offset);
    let offset = -1, gapBest = Infinity, cursor = 0;
    for (const p of busy) {
      const gap = p.offset - cursor;
      if (gap >= b.size && (!bestFit ? offset < 0 : gap < gapBest)) { offset = cursor; gapBest = gap; if (!bestFit) break; }
      cursor = Math.max(cursor, p.offset + p.size);
    }
    if (offset < 0) offset = cursor;
    b.offset = offset;
    placed.add(b);
    top = Math.max(top, offset + b.size);
  }
  return top;
}
