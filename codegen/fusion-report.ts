/**
 * Every fusion a compile formed, for the compile report (`CompiledModel.fusions`, `cnnc compile`)
 * and the picture (`cnnc viz --after`): read off the optimized graph (fused ops and epilogues) and
 * the target's concat plan (codegen/concat-plan.ts).
 *
 * Kinds: 'epilogue' (bias/residual/activation stored by a Conv/ConvTranspose/Gemm), 'dw+pw'
 * (FusedDwPw), 'elementwise' (a FusedElementwise group), 'concat-in-place' (producers writing their
 * slice of a Concat), 'squeeze-excitation' (SqueezeExcitationGate: the pooled-vector MLP of an SE
 * block as one kernel), 'scale-on-load' (a Conv multiplying its input by a per-(batch, channel) scale as
 * it loads it: the SE block's closing Mul). A fused op added elsewhere registers its describer with
 * `registerFusedOp`.
 */
import type { Graph, Node } from '../ir/graph.js';
import type { ConcatPlan } from './concat-plan.js';

export type FusionKind = 'epilogue' | 'dw+pw' | 'elementwise' | 'concat-in-place' | 'squeeze-excitation' | 'scale-on-load';

export interface Fusion {
  kind: FusionKind;
  /** The node whose kernel runs the fused work (for concat-in-place: the Concat). */
  node: string;
  /** What was fused, in order: op names (an activation by its kind). */
  ops: string[];
  /** Other nodes of the group (concat-in-place: the producers that write their slices). */
  members?: string[];
  /** concat-in-place: whether the Concat runs no kernel at all (else it copies the other parts). */
  elided?: boolean;
}

/** The concats with parts written in place, as a target reports them (CompileStats.concats). */
export interface ConcatInPlace { concat: string; parts: string[]; elided: boolean }

type Describe = (n: Node) => Fusion | Fusion[] | undefined;

const hasResidual = (n: Node, at: number) => n.inputs.length > at && n.inputs[at] !== '';

/** The epilogue ops of a node: residual Add, activation (by kind). */
function epilogueOps(n: Node, residualAt: number): string[] {
  const ops: string[] = [];
  if (n.attrs.activation) ops.push(String(n.attrs.activation));
  // in the order they run: the residual before the activation unless the conv adds it after
  if (hasResidual(n, residualAt)) ops.splice(Number(n.attrs.residual_after_act ?? 0) === 1 ? ops.length : 0, 0, 'Add (residual)');
  return ops;
}

const epilogue = (residualAt: number): Describe => (n) => {
  const ops = epilogueOps(n, residualAt);
  return ops.length ? { kind: 'epilogue', node: n.name, ops: [n.op, ...ops] } : undefined;
};

/** A Conv: its input scale (Conv input 4, the fused Mul) and its epilogue. */
const conv: Describe = (n) => [
  ...((n.inputs[4] ?? '') !== '' ? [{ kind: 'scale-on-load' as const, node: n.name, ops: ['Mul (input scale)', n.op] }] : []),
  ...[epilogue(3)(n)].flat().filter((f): f is Fusion => !!f),
];

const DESCRIBE = new Map<string, Describe>([
  ['Conv', conv],
  ['ConvTranspose', epilogue(3)],
  ['Gemm', epilogue(3)],
  ['FusedDwPw', (n) => ({
    kind: 'dw+pw', node: n.name,
    ops: ['Conv (depthwise)', ...(n.attrs.dw_activation ? [String(n.attrs.dw_activation)] : []), 'Conv (1×1)', ...epilogueOps(n, 5)],
  })],
  ['FusedElementwise', (n) => ({ kind: 'elementwise', node: n.name, ops: [...((n.attrs.ops as string[] | undefined) ?? [])] })],
  ['SqueezeExcitationGate', (n) => ({
    kind: 'squeeze-excitation', node: n.name,
    ops: ['Conv (1×1)', ...(n.attrs.activation ? [String(n.attrs.activation)] : []), 'Conv (1×1)', ...(n.attrs.gate_activation ? [String(n.attrs.gate_activation)] : [])],
  })],
]);

/** The hook for fused ops made elsewhere (squeeze-excitation, ...): how to describe a node of `op`. */
export function registerFusedOp(op: string, describe: Describe): void {
  DESCRIBE.set(op, describe);
}

/** The fusions the optimized graph carries, in node order. */
export function graphFusions(g: Graph): Fusion[] {
  return g.nodes.flatMap((n) => DESCRIBE.get(n.op)?.(n) ?? []);
}

/** A concat plan as the target reports it: each Concat with parts in place. */
export function concatsInPlace(plan: ConcatPlan): ConcatInPlace[] {
  const by = new Map<string, ConcatInPlace>();
  for (const [v, s] of plan.slices) {
    const c = by.get(s.concat) ?? { concat: s.concat, parts: [], elided: plan.elided.has(s.concat) };
    c.parts.push(v);
    by.set(s.concat, c);
  }
  return [...by.values()];
}

/** Every fusion: the graph's, then the concats written in place (their producers named). */
export function allFusions(g: Graph, concats: readonly ConcatInPlace[] = []): Fusion[] {
  const prod = g.producers();
  return [
    ...graphFusions(g),
    ...concats.map((c): Fusion => ({
      kind: 'concat-in-place', node: c.concat, elided: c.elided,
      ops: [...c.parts.map((v) => prod.get(v)?.op ?? '?'), 'Concat'],
      members: c.parts.map((v) => prod.get(v)?.name ?? v),
    })),
  ];
}

/** The compile report's list of every fusion formed, by kind: a count, then the first few of each. */
export function formatFusions(fusions: readonly Fusion[], show = 4): string[] {
  if (!fusions.length) return ['fusions: none'];
  const kinds = [...new Set(fusions.map((f) => f.kind))];
  const count = (k: string) => fusions.filter((f) => f.kind === k).length;
  const lines = [`fusions: ${kinds.map((k) => `${count(k)} ${k}`).join(', ')}`];
  for (const k of kinds) {
    const of = fusions.filter((f) => f.kind === k);
    for (const f of of.slice(0, show)) {
      const what = f.kind === 'concat-in-place'
        ? `${f.members!.map((m, i) => `${f.ops[i]} ${m}`).join(', ')} write their slices of ${f.node}${f.elided ? ' (no Concat kernel)' : ' (Concat copies the rest)'}`
        : `${f.node}: ${f.ops.join(' + ')}`;
      lines.push(`  ${k} ${what}`);
    }
    if (of.length > show) lines.push(`  … ${of.length - show} more ${k}`);
  }
  return lines;
}
