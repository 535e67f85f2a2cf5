/**
 * Progress events of a compile (CompileOptions.onProgress): the pass pipeline reports each pass, a
 * code generator each kernel it emits and each of its stages, compile() its own stages. Defined
 * here, below passes/ and codegen/, so that both report through one type. The library never prints
 * progress itself; the CLI draws these events as a bar or as lines.
 */
export interface CompileProgress {
  /**
   * 'stage': a step of compile() or of a code generator finished: 'target' (the code generator
   * loaded), 'import', 'passes' (verifying and the whole pipeline), then the target's own ('lower',
   * 'module' per WebAssembly build, 'encode' for wasm), 'codegen' (the whole code generation).
   * 'pass': a pipeline pass finished. 'kernel': a kernel was emitted.
   */
  kind: 'stage' | 'pass' | 'kernel';
  /** The stage, pass or kernel (function) name. */
  name: string;
  /** How many of this kind are done (1-based, this one included) and how many there are in all. */
  done: number;
  total: number;
  /** Milliseconds this stage, pass or kernel took. */
  ms: number;
  /** Nodes in the graph after a pass. */
  nodes?: number;
  /** The graph node a kernel was made from. */
  node?: string;
  /** Which build a kernel or module belongs to ('simd128', 'relaxed-simd' for wasm). */
  build?: string;
}

/** Receives compile progress; it must not throw (an exception aborts the compile). */
export type OnProgress = (event: CompileProgress) => void;
