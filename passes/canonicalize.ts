/**
 * Canonicalisation: decomposed spellings of ops the registry has (what exporters write when an op
 * is newer than the target opset, or a model is written by hand) become those ops, so every later
 * pass and every target sees one spelling. One rule per file (canonicalize-*.ts), each a guard on
 * the structure and constants, then a rewrite; a rule only fires when the pattern's intermediate
 * values have no reader outside it. Test: test/passes/canonicalize*.test.ts (reference before vs after).
 */
import type { Graph } from '../ir/graph.js';
import type { CanonicalRule } from './canonicalize-match.js';
import { geluRule } from './canonicalize-gelu.js';
import { hardSigmoidRule } from './canonicalize-hardsigmoid.js';
import { hardSwishRule } from './canonicalize-hardswish.js';
import { instanceNormRule } from './canonicalize-instancenorm.js';
import { layerNormRule } from './canonicalize-layernorm.js';
import { mishRule } from './canonicalize-mish.js';
import { shuffleRule } from './canonicalize-shuffle.js';
import { softmaxRule } from './canonicalize-softmax.js';
import { vectorMlpRule } from './canonicalize-vector-mlp.js';
import { removeUnusedConstants, sweepRewrite, type Pass } from './pass.js';

/** The rules the pipeline runs: each writes an op that wasm, wgsl and cuda all lower. */
export const CANONICAL_RULES: readonly CanonicalRule[] = [layerNormRule, geluRule, hardSwishRule, hardSigmoidRule, softmaxRule, mishRule, shuffleRule, vectorMlpRule];

/**
 * Rules whose op not every target lowers yet (InstanceNormalization: cuda only): run them with
 * canonicalize(g, [...CANONICAL_RULES, ...PENDING_RULES]); they join CANONICAL_RULES once the code
 * generators lower these ops.
 */
export const PENDING_RULES: readonly CanonicalRule[] = [instanceNormRule];

export function canonicalize(graph: Graph, rules: readonly CanonicalRule[] = CANONICAL_RULES): Graph {
  const g = graph.clone();
  sweepRewrite(g, (n, view) => {
    for (const r of rules) {
      const out = r.rewrite(n, view);
      if (out) return out;
    }
    return null;
  });
  removeUnusedConstants(g);
  return g;
}

export const canonicalizePass: Pass = {
  name: 'canonicalize',
  doc: 'decomposed LayerNorm, GELU, HardSwish, HardSigmoid, Softmax spellings → those ops; channel shuffles → Gather; Gemm MLPs on a pooled vector → 1×1 Convs',
  run: (g) => canonicalize(g),
};
