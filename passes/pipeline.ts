/**
 * Pass pipelines per target and optimization level. (The passes issue fills this in;
 * until then every level is the identity, so compile() works end to end.)
 */
import type { Graph } from '../ir/graph.js';

export interface CompileOptions {
  /** Optimization level, -O0 … -O3. */
  opt?: 'O0' | 'O1' | 'O2' | 'O3';
  /** Cast eligible ops to f16. */
  fp16?: boolean;
  /** Activation layout the target computes in. */
  layout?: 'NCHW' | 'NHWC';
  /** Binds a symbolic batch dimension. */
  batch?: number;
}

export interface PassReport {
  name: string;
  nodesBefore: number;
  nodesAfter: number;
  ms: number;
}

export function runPipeline(graph: Graph, _target: string, _options: CompileOptions): { graph: Graph; report: PassReport[] } {
  return { graph, report: [] };
}
