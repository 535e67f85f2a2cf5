/**
 * The wasm code generator's options, apart from its code so that codegen/target.ts (and with it the
 * library's public declarations) names no binaryen type.
 */

/** Register tile of dense convs: P output pixels × V vectors of 4 output channels; loop order. */
export interface TileOptions { P: number; V: number; order?: 'weights' | 'tile' }

export interface WasmCompileOptions {
  /** Register tile of dense convs: P output pixels × V vectors of 4 output channels (default 4 × 2: 4 pixels × 8 channels). */
  tile?: TileOptions;
  /** Run binaryen's optimizer over the module (slower compile, similar speed: V8 optimizes too). */
  optimize?: boolean;
  /** Also build the relaxed-SIMD module (`f32x4.relaxed_madd`) into the artifact (default true). */
  relaxedSimd?: boolean;
}
