/**
 * The relative work of each unit of a step's `<fn>_range`, where its units are not all alike (a
 * shorter last row of pixels, a partial last channel block, rows that skip padded kernel rows).
 * Kernels record it while they are emitted; it goes into the plan (`steps[i].unitWork`), and the
 * threaded runtime cuts each step where the work, not the unit count, is shared evenly
 * (runtime/wasm/threads.ts splitBounds). Steps whose units are alike record nothing.
 */
import type binaryen from 'binaryen';

const recorded = new WeakMap<binaryen.Module, Map<string, number[]>>();

/** Records `work` (one entry per unit) for `name`'s range, unless every unit does the same work. */
export function recordUnitWork(m: binaryen.Module, name: string, work: readonly number[]): void {
  if (work.every((w) => w === work[0])) return;
  let map = recorded.get(m);
  if (!map) recorded.set(m, (map = new Map()));
  map.set(name, [...work]);
}

/** What `name`'s `units` units do: the recorded work, or 1 each. */
export function unitWorkOf(m: binaryen.Module, name: string, units: number): number[] {
  return recorded.get(m)?.get(name) ?? new Array<number>(units).fill(1);
}

/** The recorded work of `name`, if its units differ (for the plan). */
export function recordedUnitWork(m: binaryen.Module, name: string): number[] | undefined {
  return recorded.get(m)?.get(name);
}

/** Kernel rows of a window (kh taps, stride sh, dilation dh, padding ph) that fall inside an input of H rows, for output row oy. */
export function validKernelRows(oy: number, kh: number, sh: number, dh: number, ph: number, H: number): number {
  let n = 0;
  for (let ky = 0; ky < kh; ky++) {
    const iy = oy * sh + ky * dh - ph;
    if (iy >= 0 && iy < H) n++;
  }
  return n;
}

/** Records a window kernel's rows (depthwise conv, pooling): each as much work as its unpadded kernel rows. */
export function recordWindowRows(m: binaryen.Module, name: string, OH: number, kh: number, sh: number, dh: number, ph: number, H: number): void {
  recordUnitWork(m, name, Array.from({ length: OH }, (_, oy) => validKernelRows(oy, kh, sh, dh, ph, H)));
}
