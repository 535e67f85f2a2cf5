/**
 * Memory planning, the one planner the three code generators share. An analysis of the final graph
 * (or of a target's own buffers), not a rewrite.
 *
 * Core: live intervals over the scheduled kernels, then placement.
 * - Liveness (`liveBuffers`): node i runs at time i+1 and reads its inputs while it writes its
 *   outputs (both live then); graph inputs are live from time 0, graph outputs until the end.
 *   Constants (weights) ship with the artifact and are never planned.
 * - In place: an op whose traits say `inPlace` (ir/op.ts) may write its output over an input that
 *   dies at that node (same byte size and shape — any shape for `alias` ops; the input neither a graph
 *   input nor a graph output). The two share one buffer, reported in `inPlace`.
 * - Views (option, wgsl): the outputs of view ops are their input's bytes; they join its buffer,
 *   whether or not the input dies there.
 * - Concat slices (option; codegen/concat-plan.ts): a Concat input its producer writes in place is
 *   a slice of the Concat's output; it joins that buffer, which then lives from the first slice on.
 * - Placement: `placeIntervals` packs intervals into one arena at aligned offsets (cuda, wasm —
 *   wasm passes its own buffers, which include layout copies and scratch rows); `shareObjects` packs
 *   them into separate typed buffers (wgsl, whose buffers are GPU objects sized in elements).
 *   Both try a few greedy orders (by size, by start, by area, busiest moment first, seeded jitters
 *   of the size order) and keep the smallest result.
 *
 * Graph inputs and outputs live in the arena by default (io: 'arena'): the runtime copies inputs in
 * at their offsets and reads outputs from theirs. With io: 'separate' they get no offset (the runtime
 * binds them as their own buffers) and nothing else may reuse them.
 *
 * `lowerBound` is the liveness bound max_t Σ bytes live at t over the same buffers: no placement can
 * use less.
 */
import type { Graph, Node } from '../ir/graph.js';
import { getOp } from '../ir/ops/index.js';
import { OverlapIndex } from '../ir/overlap.js';
import { BYTES_PER_ELEMENT, typeBytes } from '../ir/types.js';

export interface MemoryPlanOptions {
  /** Byte alignment of every offset (default 64: a cache line, and WebGPU's minStorageBufferOffsetAlignment is ≤ 256). */
  align?: number;
  /** Let `inPlace` ops overwrite a dying input (default true). */
  inPlace?: boolean;
  /** Whether graph inputs/outputs live in the arena (default 'arena'). */
  io?: 'arena' | 'separate';
  /** Nodes whose output is a view of input 0 (its bytes, another shape): it shares input 0's buffer (default: none). */
  views?: (n: Node) => boolean;
  /** Values written into a slice of another value (Concat parts: concat-plan.ts): they share its buffer, at `base` elements in. */
  slices?: ReadonlyMap<string, { whole: string; base: number }>;
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

/** Memory live over times [start, end] (inclusive). `offset` is what placement sets. */
export interface Interval { start: number; end: number; bytes: number; offset: number }

/** One buffer of the graph: the values that share it (in-place chains, views) and its live interval. */
export interface LiveBuffer extends Interval { values: string[] }

export interface Liveness {
  buffers: LiveBuffer[];
  lifetimes: Map<string, [number, number]>;
  inPlace: Map<string, string>;
  /** A view's value → the value whose buffer it shares. */
  viewOf: Map<string, string>;
}

/** The graph's buffers over the node order: lifetimes, in-place merging and views. */
export function liveBuffers(g: Graph, opts: MemoryPlanOptions = {}): Liveness {
  const separate = opts.io === 'separate';
  const end = g.nodes.length + 1;
  const viewOf = new Map<string, string>();
  const rootOf = (v: string): string => viewOf.get(v) ?? v;
  for (const n of g.nodes) {
    if (opts.views?.(n) && n.inputs[0] && n.outputs[0]) viewOf.set(n.outputs[0], rootOf(n.inputs[0]));
  }
  const io = new Set([...g.inputs, ...g.outputs]);
  const skip = (v: string) => v === '' || !!g.constValue(rootOf(v)) || (separate && io.has(v));
  const lifetimes = new Map<string, [number, number]>();
  const touch = (v: string, t: number) => { const l = lifetimes.get(v); if (l) l[1] = Math.max(l[1], t); };
  for (const v of g.inputs) if (!skip(v)) lifetimes.set(v, [0, 0]);
  g.nodes.forEach((n, i) => {
    for (const v of n.inputs) touch(v, i + 1);
    for (const v of n.outputs) if (!skip(v)) lifetimes.set(v, [i + 1, i + 1]);
  });
  for (const v of g.outputs) touch(v, end);

  const bufOf = new Map<string, LiveBuffer>();
  const buffers: LiveBuffer[] = [];
  const inPlace = new Map<string, string>();
  const join = (b: LiveBuffer, v: string) => {
    b.values.push(v);
    b.end = Math.max(b.end, lifetimes.get(v)![1]);
    bufOf.set(v, b);
  };
  const newBuffer = (v: string) => {
    const [start, stop] = lifetimes.get(v)!;
    const b: LiveBuffer = { values: [v], start, end: stop, bytes: typeBytes(g.type(v)), offset: 0 };
    buffers.push(b);
    bufOf.set(v, b);
  };
  for (const v of g.inputs) if (lifetimes.has(v)) newBuffer(v);
  // a slice opens its whole's buffer (sized for the whole) when the first slice is written
  const wholeOf = (o: string): LiveBuffer | undefined => {
    const w = opts.slices?.get(o)?.whole;
    if (w === undefined) return undefined;
    if (!lifetimes.has(w)) throw new Error(`memory plan: '${o}' is a slice of '${w}', which has no planned buffer`);
    let b = bufOf.get(w);
    if (!b) {
      b = { values: [], start: lifetimes.get(o)![0], end: 0, bytes: typeBytes(g.type(w)), offset: 0 };
      buffers.push(b);
      bufOf.set(w, b);
    }
    return b;
  };
  g.nodes.forEach((n, i) => {
    const t = i + 1;
    const traits = getOp(n.op, n.name).traits;
    n.outputs.forEach((o, k) => {
      if (!lifetimes.has(o)) return;
      const view = viewOf.has(o) ? bufOf.get(viewOf.get(o)!) : undefined;
      if (view) return join(view, o);
      const slice = wholeOf(o);
      if (slice) return join(slice, o);
      const opened = bufOf.get(o); // a whole whose slices came first
      if (opened) return join(opened, o);
      const src = k === 0 && opts.inPlace !== false && traits.inPlace
        ? n.inputs.find((x) => canReuse(g, bufOf.get(x), x, o, t, !!traits.alias)) : undefined;
      if (src === undefined) return newBuffer(o);
      join(bufOf.get(src)!, o);
      inPlace.set(o, src);
    });
  });
  return { buffers, lifetimes, inPlace, viewOf };
}

/** The graph's values in one arena: offsets by `placeIntervals` over `liveBuffers`. */
export function planMemory(g: Graph, opts: MemoryPlanOptions = {}): MemoryPlan {
  const { buffers, lifetimes, inPlace } = liveBuffers(g, opts);
  const arenaBytes = placeIntervals(buffers, opts.align ?? 64);
  const offsets = new Map<string, number>();
  const sliceBase = (v: string) => { const s = opts.slices?.get(v); return s ? s.base * BYTES_PER_ELEMENT[g.type(v).dtype] : 0; };
  for (const b of buffers) for (const v of b.values) offsets.set(v, b.offset + sliceBase(v));
  const unplannedBytes = [...lifetimes.keys()].reduce((s, v) => s + typeBytes(g.type(v)), 0);
  return { arenaBytes, offsets, lowerBound: livenessBound(buffers), unplannedBytes, inPlace, lifetimes };
}

/** Input x of a node at time t can be overwritten by its output o. */
function canReuse(g: Graph, b: LiveBuffer | undefined, x: string, o: string, t: number, anyShape: boolean): boolean {
  // the input must die here; an output may take it over (its buffer then lives to the end)
  if (!b || b.end !== t || b.values.some((v) => g.outputs.includes(v) || g.inputs.includes(v))) return false;
  const tx = g.type(x), to = g.type(o);
  if (typeBytes(tx) !== typeBytes(to) || b.bytes !== typeBytes(to)) return false;
  return anyShape || (tx.shape.length === to.shape.length && tx.shape.every((d, i) => d === to.shape[i]));
}

/** The largest total of bytes live at one moment (it peaks at some interval's start). */
export function livenessBound(items: readonly Interval[]): number {
  return liveAtStarts(items, (b) => b.bytes).reduce((m, x) => Math.max(m, x.total), 0);
}

/** Total `weight` of the items live at each distinct start, in start order: one sweep (ends are inclusive). */
function liveAtStarts<S extends { start: number; end: number }>(items: readonly S[], weight: (s: S) => number): { t: number; total: number }[] {
  const events = items.flatMap((b) => [{ t: b.start, d: weight(b), add: 0 }, { t: b.end, d: -weight(b), add: 1 }]);
  events.sort((a, b) => (a.t < b.t ? -1 : a.t > b.t ? 1 : a.add - b.add)); // at one time: starts before ends
  const out: { t: number; total: number }[] = [];
  let total = 0;
  for (const e of events) {
    total += e.d;
    if (e.add === 0) { if (out.length && out[out.length - 1].t === e.t) out[out.length - 1].total = total; else out.push({ t: e.t, total }); }
  }
  return out;
}

// ---- placement ----

interface Slot<T> { item: T; start: number; end: number; size: number; offset: number }

/**
 * Places intervals in one arena: sets each item's `offset` (a multiple of `align`) so that no two
 * items live at the same time overlap; returns the arena size. Items may start before 0 or end at
 * Infinity (wasm's graph inputs and outputs).
 */
export function placeIntervals<T extends Interval>(items: readonly T[], align = 1): number {
  const slots: Slot<T>[] = items.map((item) => ({ item, start: item.start, end: item.end, size: Math.ceil(item.bytes / align) * align, offset: 0 }));
  let best: number[] | undefined;
  let bestSize = Infinity;
  for (const order of candidateOrders(slots)) {
    for (const bestFit of [false, true]) {
      const size = place(order, bestFit);
      if (size < bestSize) { bestSize = size; best = slots.map((s) => s.offset); }
    }
  }
  slots.forEach((s, i) => { s.item.offset = best![i]; });
  return slots.length ? bestSize : 0;
}

/**
 * Packs intervals into separate buffers (objects) of their own kind: items of one kind that are never
 * live together share an object, which is as large as its largest item. Returns the object index of
 * every item and the objects (kind, size); the order with the smallest total per kind wins.
 */
export function shareObjects<K>(items: readonly { start: number; end: number; size: number; kind: K }[]): { object: number[]; objects: { kind: K; size: number }[] } {
  const object = new Array<number>(items.length);
  const objects: { kind: K; size: number }[] = [];
  for (const kind of new Set(items.map((i) => i.kind))) {
    const slots = items.flatMap((item, index) => (item.kind === kind ? [{ index, start: item.start, end: item.end, size: item.size, offset: 0 }] : []));
    let best: { sizes: number[]; of: Map<number, number> } | undefined;
    let bestTotal = Infinity;
    for (const order of candidateOrders(slots)) {
      const r = shareInOrder(order);
      const total = r.sizes.reduce((a, b) => a + b, 0);
      if (total < bestTotal) { bestTotal = total; best = r; }
    }
    const base = objects.length;
    for (const size of best?.sizes ?? []) objects.push({ kind, size });
    for (const [index, k] of best?.of ?? []) object[index] = base + k;
  }
  return { object, objects };
}

/** In this order: each item takes the smallest free object large enough, else grows the largest free one, else a new one. */
function shareInOrder(order: readonly { index: number; start: number; end: number; size: number }[]): { sizes: number[]; of: Map<number, number> } {
  const sizes: number[] = [];
  const members: { start: number; end: number }[][] = [];
  const of = new Map<number, number>();
  for (const it of order) {
    let fit = -1, grow = -1;
    for (let k = 0; k < sizes.length; k++) {
      if (members[k].some((m) => m.start <= it.end && it.start <= m.end)) continue;
      if (sizes[k] >= it.size) { if (fit < 0 || sizes[k] < sizes[fit]) fit = k; } else if (grow < 0 || sizes[k] > sizes[grow]) grow = k;
    }
    let k = fit >= 0 ? fit : grow;
    if (k < 0) { k = sizes.length; sizes.push(0); members.push([]); }
    sizes[k] = Math.max(sizes[k], it.size);
    members[k].push(it);
    of.set(it.index, k);
  }
  return { sizes, of };
}

/** Above this many buffers the placer tries only its fixed orders. */
const JITTER_LIMIT = 4096;

/** The greedy orders tried: by size, by start, by area, busiest moment first, and seeded jitters of the size order. */
function candidateOrders<S extends { start: number; end: number; size: number }>(slots: readonly S[]): S[][] {
  const finite = slots.flatMap((s) => [s.start, s.end]).filter(Number.isFinite);
  const lo = finite.reduce((a, b) => Math.min(a, b), 0) - 1, hi = finite.reduce((a, b) => Math.max(a, b), 0) + 1; // no spread: 100k values overflow the stack
  const span = (s: S) => Math.min(s.end, hi) - Math.max(s.start, lo) + 1;
  const orders: ((a: S, b: S) => number)[] = [
    (a, b) => b.size - a.size || a.start - b.start,
    (a, b) => a.start - b.start || b.size - a.size,
    (a, b) => b.size * span(b) - a.size * span(a),
  ];
  // seeded jitters of the size order: they shake out fragmentation the fixed orders hit. Each order
  // costs a full placement, so graphs with thousands of buffers (50k-node chains) keep the fixed ones.
  let seed = 1;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const jitters = Array.from({ length: slots.length > JITTER_LIMIT ? 0 : 32 }, () => {
    const key = new Map(slots.map((s) => [s, s.size * (1 + 0.5 * rand())]));
    return [...slots].sort((a, b) => key.get(b)! - key.get(a)!);
  });
  return [...orders.map((o) => [...slots].sort(o)), breadthOrder(slots), ...jitters];
}

/**
 * "Greedy by breadth": the busiest moments first; at each, its not yet placed slots by size.
 * The slots that make up the peak are packed together before anything can fragment them.
 * (A moment between starts holds a subset of what the last start holds, so starts suffice.)
 */
function breadthOrder<S extends { start: number; end: number; size: number }>(slots: readonly S[]): S[] {
  const times = liveAtStarts(slots, (s) => s.size).sort((a, b) => b.total - a.total);
  const index = new Map(slots.map((s, i) => [s, i]));
  const unseen = new OverlapIndex(slots); // what is live at a moment and not yet ordered, without scanning every slot
  for (const s of slots) unseen.add(s);
  const order: S[] = [];
  for (const { t } of times) {
    for (const s of unseen.overlapping(t, t).sort((x, y) => y.size - x.size || index.get(x)! - index.get(y)!)) { unseen.remove(s); order.push(s); }
  }
  return order;
}

/** Assigns offsets in the given order (first-fit or best-fit among gaps); returns the arena size. */
function place(order: readonly Slot<unknown>[], bestFit: boolean): number {
  const placed = new OverlapIndex(order); // the placed slots a lifetime meets, in O((k + 1) log n)
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
