/** What every benchmark shares: medians, interleaved timing, the error measure, raw f32 files. */
import { readFileSync } from 'node:fs';
import { median } from '../cli/util.js';

export { median };

/**
 * Median ms of each function, warmed up, then timed in rounds that run each once: on a shared
 * machine the load then falls on every runtime alike, which keeps the ratios comparable. The order
 * rotates from round to round.
 */
export async function timeInterleaved(fs: (() => unknown)[], runs: number, warmup: number): Promise<number[]> {
  for (const f of fs) for (let i = 0; i < warmup; i++) await f();
  const ts: number[][] = fs.map(() => []);
  for (let r = 0; r < runs; r++) {
    // each round starts with the next runtime: whatever the previous run leaves behind (GC, caches) falls on all alike
    for (let j = 0; j < fs.length; j++) {
      const k = (r + j) % fs.length;
      const t0 = performance.now();
      await fs[k]();
      ts[k].push(performance.now() - t0);
    }
  }
  return ts.map(median);
}

/** max |want − got| / max |want|. */
export function relErr(want: ArrayLike<number>, got: ArrayLike<number>): number {
  let mx = 0, err = 0;
  for (let i = 0; i < want.length; i++) { mx = Math.max(mx, Math.abs(want[i])); err = Math.max(err, Math.abs(want[i] - got[i])); }
  return err / mx;
}

/** A raw little-endian float32 file (../shared/models' .bin tensors). */
export const f32File = (p: string): Float32Array => {
  const b = readFileSync(p);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};
