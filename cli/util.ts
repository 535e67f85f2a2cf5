/** Small helpers shared by the CLI commands. */
import { fromF64, sizeOf, toF64, type Tensor } from '../runtime/tensor.js';

/** Seeded N(0,1) input so that `--input random` runs are reproducible. */
export function randomInput(dtype: Tensor['dtype'], shape: readonly number[], seed = 1): Tensor {
  let s = seed >>> 0;
  const next = () => { s = (s + 0x6d2b79f5) >>> 0; let t = s; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
  const v = new Float64Array(sizeOf(shape));
  for (let i = 0; i < v.length; i++) v[i] = Math.sqrt(-2 * Math.log(next() + 1e-12)) * Math.cos(2 * Math.PI * next());
  return fromF64(dtype, shape, v);
}

/** Top-k (index, value) pairs of a classifier output [1, K] or [K]. */
export function topK(t: Tensor, k: number): [number, number][] {
  const v = toF64(t);
  return [...v.keys()].sort((a, b) => v[b] - v[a]).slice(0, k).map((i) => [i, v[i]]);
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Median ms of `run` over `runs` timed calls after `warmup` untimed ones. */
export async function timeRuns(run: () => unknown, runs: number, warmup: number): Promise<number> {
  for (let i = 0; i < warmup; i++) await run();
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await run();
    ms.push(performance.now() - t0);
  }
  return median(ms);
}
