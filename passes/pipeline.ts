/**
 * Pass pipelines per optimization level: plain lists of pass names that can be printed
 * (`describePipeline`, `cnnc passes`), edited (`options.passes`, `options.disable`) and observed
 * (`options.printAfter`, and a PassReport with node counts and time per pass). A target only
 * sets the defaults (level, layout, fp16): compile() hands them in from codegen/targets.ts, with
 * the target's supports() (passes that make target-specific ops, like quantize-qdq, ask it first).
 */
import { CnncError } from '../runtime/errors.js';
import type { Graph } from '../ir/graph.js';
import { printGraph } from '../ir/print.js';
import { verify } from '../ir/verify.js';
import { absorbPadPass } from './absorb-pad.js';
import { canonicalizePass } from './canonicalize.js';
import { csePass } from './cse.js';
import { dcePass } from './dce.js';
import { foldBatchNormPass } from './fold-batchnorm.js';
import { foldChannelGatherPass } from './fold-channel-gather.js';
import { foldConstantsPass } from './fold-constants.js';
import { fp16Pass } from './fp16.js';
import { fuseDwPwPass } from './fuse-dwpw.js';
import { fuseElementwisePass } from './fuse-elementwise.js';
import { fuseEpiloguePass } from './fuse-epilogue.js';
import { fuseResidualAfterActPass } from './fuse-residual-after-act.js';
import { foldTransposedLayerNormPass } from './fold-transposed-layernorm.js';
import { fuseSqueezeExcitationPass } from './fuse-squeeze-excitation.js';
import { fuseScaleOnLoadPass } from './fuse-scale-on-load.js';
import { layoutPass } from './layout.js';
import { DEFAULTS, type CompileOptions, type OptLevel, type PipelineDefaults, type PipelineTarget } from './options.js';
import type { Pass, PassContext } from './pass.js';
import { simplifyPass } from './simplify.js';
import { quantizeQdqPass } from './quantize-qdq.js';

export type { Pass, PassContext } from './pass.js';
export type { CompileOptions, OptLevel, PipelineDefaults, PipelineTarget } from './options.js';

export interface PassReport {
  name: string;
  nodesBefore: number;
  nodesAfter: number;
  ms: number;
}

/** Every pass by name. */
export const PASSES: Readonly<Record<string, Pass>> = Object.fromEntries(
  [foldConstantsPass, simplifyPass, dcePass, csePass, canonicalizePass, absorbPadPass, foldBatchNormPass, fuseEpiloguePass, fuseResidualAfterActPass, foldChannelGatherPass, fuseDwPwPass, foldTransposedLayerNormPass, fuseSqueezeExcitationPass, fuseScaleOnLoadPass, fuseElementwisePass, layoutPass, fp16Pass, quantizeQdqPass]
    .map((p) => [p.name, p]),
);

/**
 * The pass lists per level. 'layout-nhwc' and 'fp16' are dropped when the options do not ask
 * for NHWC / fp16. Later levels extend earlier ones.
 */
export const PIPELINES: Readonly<Record<OptLevel, readonly string[]>> = {
  O0: [],
  O1: ['fold-constants', 'simplify', 'dce'],
  O2: ['quantize-qdq', 'fold-constants', 'simplify', 'dce', 'canonicalize', 'absorb-pad', 'fold-batchnorm', 'fuse-epilogue', 'fuse-residual-after-act', 'fold-channel-gather', 'cse', 'dce', 'layout-nhwc', 'fold-transposed-layernorm', 'fuse-squeeze-excitation', 'fuse-scale-on-load', 'fp16', 'fuse-elementwise', 'dce'],
  O3: ['quantize-qdq', 'fold-constants', 'simplify', 'cse', 'dce', 'canonicalize', 'absorb-pad', 'fold-batchnorm', 'fuse-epilogue', 'fuse-residual-after-act', 'fold-channel-gather', 'fuse-dwpw', 'layout-nhwc', 'simplify', 'cse', 'fold-transposed-layernorm', 'fuse-squeeze-excitation', 'fuse-scale-on-load', 'fp16', 'fuse-elementwise', 'dce'],
};

const targetName = (t: PipelineTarget): string => (typeof t === 'string' ? t : t.name);

/** The options a target compiles with: its defaults (DEFAULTS for a bare name), overridden by what the caller gave. */
export function resolveOptions(target: PipelineTarget, options: CompileOptions = {}): CompileOptions & PipelineDefaults {
  const d = typeof target === 'string' ? DEFAULTS : target.defaults;
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  return { ...d, ...given };
}

/** The pass names a compile runs, in order. */
export function pipelineFor(target: PipelineTarget, options: CompileOptions = {}): string[] {
  const o = resolveOptions(target, options);
  const list = options.passes ? [...options.passes] : PIPELINES[o.opt].filter((p) =>
    (p !== 'layout-nhwc' || o.layout === 'NHWC') && (p !== 'fp16' || o.fp16));
  for (const p of list) if (!PASSES[p]) throw new CnncError('BAD_ATTRIBUTE', `unknown pass '${p}' (passes: ${Object.keys(PASSES).join(', ')})`);
  for (const p of options.disable ?? []) if (!PASSES[p]) throw new CnncError('BAD_ATTRIBUTE', `cannot disable unknown pass '${p}'`);
  return list.filter((p) => !(options.disable ?? []).includes(p));
}

/** A printable form of a pipeline: one pass per line with its one-line doc. */
export function describePipeline(target: PipelineTarget, options: CompileOptions = {}): string {
  const list = pipelineFor(target, options);
  const o = resolveOptions(target, options);
  const fp16 = !o.fp16 ? '' : o.fp16Mode === 'storage' ? ', fp16 weights' : ', fp16';
  const head = `pipeline for ${targetName(target)} (-${o.opt}, ${o.layout}${fp16}):`;
  const width = Math.max(...list.map((p) => p.length));
  return [head, ...list.map((p, i) => `  ${String(i + 1).padStart(2)}. ${p.padEnd(width)} ${PASSES[p].doc}`)].join('\n');
}

export function runPipeline(graph: Graph, target: PipelineTarget, options: CompileOptions): { graph: Graph; report: PassReport[] } {
  const resolved = resolveOptions(target, options);
  const supports = typeof target === 'string' || !target.supports ? undefined : target.supports.bind(target);
  const ctx: PassContext = { target: targetName(target), options: resolved, verify: options.verify, supports };
  const report: PassReport[] = [];
  let g = graph;
  const names = pipelineFor(target, options);
  for (const name of names) {
    const pass = PASSES[name];
    const t0 = performance.now();
    const next = pass.run(g, ctx);
    const ms = performance.now() - t0;
    if (ctx.verify) {
      try {
        verify(next);
      } catch (e) {
        if (e instanceof CnncError) throw new CnncError(e.code, `after pass '${name}': ${e.message}`, e);
        throw e;
      }
    }
    report.push({ name, nodesBefore: g.nodes.length, nodesAfter: next.nodes.length, ms });
    options.onProgress?.({ kind: 'pass', name, done: report.length, total: names.length, ms, nodes: next.nodes.length });
    observe(options.printAfter, name, next);
    g = next;
  }
  return { graph: g, report };
}

function observe(printAfter: CompileOptions['printAfter'], name: string, g: Graph): void {
  if (!printAfter) return;
  if (typeof printAfter === 'function') return printAfter(name, g);
  if (printAfter.includes(name) || printAfter.includes('all')) process.stderr.write(`// after ${name}\n${printGraph(g, { constants: false })}\n`);
}
