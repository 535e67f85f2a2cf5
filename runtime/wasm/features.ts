/**
 * WebAssembly feature detection for the wasm runtime: which build of an artifact's module the
 * engine here can run. Relaxed SIMD (`f32x4.relaxed_madd`) ships in Chromium ≥ 114 and Node ≥ 22;
 * Node 20 has it behind `--experimental-wasm-relaxed-simd`.
 */

/** (module (func (result v128) (f32x4.relaxed_madd (v128.const 0) (v128.const 0) (v128.const 0)))) */
const RELAXED_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 61, 1, 59, 0,
  ...[0, 1, 2].flatMap(() => [253, 12, ...new Array<number>(16).fill(0)]), 253, 133, 2, 11,
]);

/** Whether this engine validates relaxed-SIMD code (asked each time: a flag may be set at run time). */
export const relaxedSimdSupported = (): boolean => WebAssembly.validate(RELAXED_PROBE);

/** Which module build runs: `relaxed` (FMA multiply-adds) or `simd128` (a mul and an add). */
export type SimdBuild = 'relaxed' | 'simd128';
