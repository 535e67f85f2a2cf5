/** What the wasm special-value tests share: the values and the comparison against the reference. */

/** ±0, ±Inf, NaN, ±1e30, ±1e-40 (denormal in f32), ±1, ±3.5, ±88, ±100. */
export const SPECIAL = [0, -0, Infinity, -Infinity, NaN, 1e30, -1e30, 1e-40, -1e-40, 1, -1, 3.5, -3.5, 88, -88, 100, -100];

/** f32 tolerance: |wasm − ref| ≤ ATOL + RTOL·|ref|. */
export const RTOL = 1e-4, ATOL = 1e-5;

/**
 * The first element where `got` misses the reference, as a message (undefined when none): NaN
 * exactly where the reference is NaN, the same infinity where it is infinite, f32 tolerance
 * otherwise. Denormals are compared like any value (wasm SIMD does not flush them).
 */
export function mismatch(ref: ArrayLike<number>, got: ArrayLike<number>, label: (i: number) => string): string | undefined {
  if (ref.length !== got.length) return `length ${got.length}, reference ${ref.length}`;
  for (let i = 0; i < ref.length; i++) {
    const r = ref[i], g = got[i];
    const ok = Number.isNaN(r) ? Number.isNaN(g)
      : !Number.isFinite(r) ? g === r
        : Number.isFinite(g) && Math.abs(g - r) <= ATOL + RTOL * Math.abs(r);
    if (!ok) return `${label(i)}: wasm ${g}, reference ${r}`;
  }
  return undefined;
}
