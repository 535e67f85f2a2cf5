/**
 * fp16, in one of two modes (Fp16Mode in passes/options.ts; each target's default is in codegen/targets.ts).
 *
 * 'storage' (targets that compute in f32, such as wasm): roundWeightsToFp16 rounds the float constants of
 * weighted layers (conv- and matmul-like ops in the policy's f16Ops) to the nearest f16 value and keeps
 * every dtype f32. The graph then says exactly what runs; the code generator stores those f16-exact
 * weights in half the bytes and the runtime widens them once at load. Activations stay f32, so the
 * first and last layers are not pinned unless the policy says so.
 *
 * 'compute': castToFp16. A policy says which ops compute in f16; by default those whose op traits say
 * fp16 'compute' (ir/op.ts): convolutions, matrix products, pools, activations and elementwise
 * arithmetic. Reductions, softmax, normalization statistics (BN, LRN,
 * global average pooling) and precision-sensitive math (Exp, Log, Pow) stay f32, and so, by default,
 * do the first and the last weighted layer (the input and the logits are the most sensitive).
 * Pure data-movement ops (fp16 'follow': Reshape, Transpose, Concat, Pad, …) follow their input's dtype, so no casts
 * are spent on them. The weights of f16 ops become f16 constants; Cast nodes convert activations where
 * an f16 and an f32 op meet and at graph outputs (which keep their f32 type). The kernels accumulate
 * in f32: that is their job, not the graph's.
 */
import { fromF64, roundF16, toF64, type DType } from '../runtime/tensor.js';
import type { Graph, Node } from '../ir/graph.js';
import { allOps, getOp } from '../ir/ops/index.js';
import { commit, makeNode, removeUnusedConstants, withNode, type Pass } from './pass.js';
import type { Fp16Policy } from './options.js';

export type { Fp16Policy } from './options.js';

const opsWhere = (fp16: 'compute' | 'follow') => allOps().filter((d) => d.traits.fp16 === fp16).map((d) => d.name);

/** The default policy, read from the op traits (`traits.fp16`); a caller's policy overrides any field. */
export const DEFAULT_FP16_POLICY: Fp16Policy = {
  f16Ops: opsWhere('compute'),
  followOps: opsWhere('follow'),
  keepFirst: true,
  keepLast: true,
};

/** The weighted layers (conv- and matmul-like ops) that keepFirst/keepLast pin. */
const isWeighted = (op: string) => ['conv', 'matmul'].includes(getOp(op).traits.category);
const isF = (d: DType) => d === 'f32' || d === 'f16';

export function castToFp16(graph: Graph, policy: Partial<Fp16Policy> = {}): Graph {
  const pol = { ...DEFAULT_FP16_POLICY, ...policy };
  const g = graph.clone();
  const f16Ops = new Set(pol.f16Ops);
  const follow = new Set(pol.followOps);
  const weighted = g.nodes.filter((n) => isWeighted(n.op));
  const pinned = new Set<Node>([...(pol.keepFirst ? weighted.slice(0, 1) : []), ...(pol.keepLast ? weighted.slice(-1) : [])]);

  const dtype = new Map<string, DType>(); // dtype of each value after the rewrite
  for (const v of g.values.values()) dtype.set(v.name, v.type.dtype);
  const casts = new Map<string, string>(); // `${value}:${to}` → cast output (or converted constant)
  const nodes: Node[] = [];

  const convert = (v: string, to: DType): string => {
    if (v === '' || !isF(dtype.get(v)!) || dtype.get(v) === to) return v;
    const key = `${v}:${to}`;
    const done = casts.get(key);
    if (done) return done;
    const c = g.constValue(v);
    let out: string;
    if (c) {
      out = g.addConstant(`${v}_${to}`, fromF64(to, c.shape, c.dtype === 'f32' ? (c.data as Float32Array) : toF64(c)));
    } else {
      const cast = makeNode(g, 'Cast', [v], { to }, { name: `${v}_to_${to}` });
      nodes.push(cast);
      out = cast.outputs[0];
    }
    dtype.set(out, to);
    casts.set(key, out);
    return out;
  };

  for (const n of g.nodes) {
    const floats = n.inputs.filter((i) => i !== '' && isF(dtype.get(i)!));
    if (!floats.length || n.op === 'Cast') { nodes.push(n); continue; }
    const mode: DType = f16Ops.has(n.op) && !pinned.has(n) ? 'f16'
      : follow.has(n.op) ? dtype.get(floats.find((i) => !g.constValue(i)) ?? floats[0])! : 'f32';
    const inputs = n.inputs.map((i) => convert(i, mode));
    nodes.push(withNode(n, { inputs }));
    for (const o of n.outputs) if (o !== '' && isF(g.type(o).dtype)) dtype.set(o, mode);
  }
  // graph outputs keep their dtype: an f16 result is cast back under the output's name
  for (const o of new Set(g.outputs)) {
    const want = g.type(o).dtype;
    if (!isF(want) || dtype.get(o) === want) continue;
    const inner = g.freshName(`${o}_${dtype.get(o)}`);
    const renamed = nodes.map((n) => (n.outputs.includes(o) ? withNode(n, { outputs: n.outputs.map((x) => (x === o ? inner : x)) })
      : n.inputs.includes(o) ? withNode(n, { inputs: n.inputs.map((x) => (x === o ? inner : x)) }) : n));
    nodes.length = 0;
    nodes.push(...renamed, makeNode(g, 'Cast', [inner], { to: want }, { name: `${o}_to_${want}`, outputs: [o] }));
    g.removeValue(o);
  }
  commit(g, nodes);
  removeUnusedConstants(g);
  return g;
}

/** Largest finite f16: a constant with a value beyond it stays f32 (rounding would make it ±Inf). */
const F16_MAX = 65504;

/** The 'storage' mode: weights of weighted layers rounded to f16 values, every dtype unchanged (see the file comment). */
export function roundWeightsToFp16(graph: Graph, policy: Partial<Fp16Policy> = {}): Graph {
  const pol = { ...DEFAULT_FP16_POLICY, keepFirst: false, keepLast: false, ...policy };
  const g = graph.clone();
  const f16Ops = new Set(pol.f16Ops);
  const weighted = g.nodes.filter((n) => isWeighted(n.op));
  const pinned = new Set<Node>([...(pol.keepFirst ? weighted.slice(0, 1) : []), ...(pol.keepLast ? weighted.slice(-1) : [])]);
  const rounded = new Map<string, string>(); // constant → its rounded copy ('' when it stays as is)

  const round = (v: string): string => {
    const c = g.constValue(v);
    if (!c || c.dtype !== 'f32') return v;
    let r = rounded.get(v);
    if (r === undefined) {
      const data = c.data as Float32Array;
      const fits = data.every((x) => !(Math.abs(x) > F16_MAX) || !Number.isFinite(x));
      r = fits ? g.addConstant(`${v}_f16r`, { dtype: 'f32', shape: [...c.shape], data: data.map(roundF16) }) : '';
      rounded.set(v, r);
    }
    return r || v;
  };

  const nodes = g.nodes.map((n) => (isWeighted(n.op) && f16Ops.has(n.op) && !pinned.has(n) ? withNode(n, { inputs: n.inputs.map(round) }) : n));
  commit(g, nodes);
  removeUnusedConstants(g);
  return g;
}

export const fp16Pass: Pass = {
  name: 'fp16',
  doc: "eligible ops in f16, Casts at the seams (reductions, normalization, first/last layer stay f32); 'storage' mode: weights rounded to f16",
  run: (g, ctx) => (ctx.options.fp16Mode === 'storage' ? roundWeightsToFp16 : castToFp16)(g, ctx.options.fp16Policy),
};
