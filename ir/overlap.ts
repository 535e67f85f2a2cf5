/**
 * Which placed buffers overlap a lifetime [start, end]: the question first-fit arena planners ask once
 * per buffer. Asked by scanning every placed buffer, planning is quadratic in the graph size; this
 * index (a max-segment tree over the buffers sorted by start) answers in O((k + 1) log n) for k
 * overlaps, so planning stays near-linear when few buffers are live at once.
 */
import { CnncError } from '../runtime/errors.js';

export interface Interval {
  readonly start: number;
  readonly end: number;
}

export class OverlapIndex<T extends Interval> {
  private readonly byStart: T[];
  private readonly slot = new Map<T, number>();
  private readonly leaves: number;
  /** Max `end` over the present items below each tree node (-Infinity: none). */
  private readonly maxEnd: Float64Array;

  /** `items`: every interval that may be added later (none is present yet). */
  constructor(items: readonly T[]) {
    this.byStart = [...items].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0)); // starts may be ±Infinity
    this.byStart.forEach((x, i) => this.slot.set(x, i));
    let leaves = 1;
    while (leaves < this.byStart.length) leaves *= 2;
    this.leaves = leaves;
    this.maxEnd = new Float64Array(2 * leaves).fill(-Infinity);
  }

  add(item: T): void {
    this.setLeaf(item, item.end);
  }

  remove(item: T): void {
    this.setLeaf(item, -Infinity);
  }

  /** The present items whose interval meets [start, end], in start order. */
  overlapping(start: number, end: number): T[] {
    let hi = 0; // items [0, hi) start at or before `end`
    for (let lo = 0, top = this.byStart.length; lo < top;) {
      const mid = (lo + top) >> 1;
      if (this.byStart[mid].start <= end) lo = hi = mid + 1; else top = mid;
    }
    const out: T[] = [];
    const visit = (node: number, lo: number, width: number): void => {
      if (lo >= hi || this.maxEnd[node] < start) return;
      if (width === 1) { out.push(this.byStart[lo]); return; }
      const half = width >> 1;
      visit(2 * node, lo, half);
      visit(2 * node + 1, lo + half, half);
    };
    visit(1, 0, this.leaves);
    return out;
  }

  private setLeaf(item: T, value: number): void {
    const i = this.slot.get(item);
    if (i === undefined) throw new CnncError('BAD_GRAPH', 'OverlapIndex: an interval the index was not built with');
    let node = this.leaves + i;
    this.maxEnd[node] = value;
    for (node >>= 1; node >= 1; node >>= 1) this.maxEnd[node] = Math.max(this.maxEnd[2 * node], this.maxEnd[2 * node + 1]);
  }
}
