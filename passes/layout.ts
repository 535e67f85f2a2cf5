/**
 * Layout NCHW → NHWC. Every rank-4 layout-aware op (Conv, pools, BN, Resize, FusedDwPw, …) switches
 * its `layout` attribute to NHWC and is wrapped in Transposes: NCHW→NHWC before its activation
 * inputs, NHWC→NCHW after. Then transposes are sunk (pushed towards the outputs) through
 * elementwise ops, Concat and Gather (axis remapped), Pad (pads remapped) and reductions, hoisted onto graph
 * inputs through elementwise preprocessing, and pairs that compose to the identity cancel. A transpose that only moves size-1 axes is a Reshape (e.g. after a
 * global pool), and Flatten(NHWC→NCHW transpose) feeding a Gemm is absorbed by re-packing the Gemm's
 * weight rows at compile time. What remains sits at the graph boundaries.
 */
import { fromF64, toF64, type Tensor } from '../runtime/tensor.js';
import type { Graph, Node } from '../ir/graph.js';
import { getOp } from '../ir/ops/index.js';
import { sizeOf } from '../ir/types.js';
import { makeNode, sweepRewrite, withNode, type GraphView, type Pass } from './pass.js';
import { isPureReshapeTranspose, permOf, simplify } from './simplify.js';

export const TO_NHWC = [0, 2, 3, 1];
export const TO_NCHW = [0, 3, 1, 2];

const isIdentity = (p: readonly number[]) => p.every((x, i) => x === i);
/** (T(x, p1) then T(·, p2)) = T(x, p1∘p2): output axis i is input axis p1[p2[i]]. */
const compose = (p1: readonly number[], p2: readonly number[]) => p2.map((i) => p1[i]);
const inverse = (p: readonly number[]) => { const r = new Array<number>(p.length); p.forEach((x, i) => { r[x] = i; }); return r; };

/** Phase 1: a layout-aware NCHW node becomes NHWC between transposes (one per value, shared via `made`). */
function convert(n: Node, view: GraphView, made: Map<string, string>): Node[] | null {
  const g = view.g;
  const def = getOp(n.op, n.name);
  if (!('layout' in def.attrs) || n.attrs.layout === 'NHWC' || view.shape(n.inputs[0]).length !== 4) return null;
  if (n.outputs.slice(1).some((o) => o !== '' && view.uses.has(o))) return null; // e.g. MaxPool's Indices
  const pre: Node[] = [];
  const inputs = n.inputs.map((v, i) => {
    if (!v || !(def.traits.layoutInputs ?? [0]).includes(i)) return v;
    const done = made.get(v);
    if (done) return done;
    const t = makeNode(g, 'Transpose', [v], { perm: TO_NHWC }, { name: `${v}_nhwc` });
    pre.push(t);
    made.set(v, t.outputs[0]);
    return t.outputs[0];
  });
  const inner = makeNode(g, n.op, inputs, { ...n.attrs, layout: 'NHWC' }, { name: n.name, outputs: [g.freshName(`${n.outputs[0]}_nhwc`), ...n.outputs.slice(1).map(() => '')] });
  const post = makeNode(g, 'Transpose', [inner.outputs[0]], { perm: TO_NCHW }, { name: `${n.name}_nchw`, outputs: [n.outputs[0]] });
  return [...pre, inner, post];
}

/** The transpose (node and resolved perm) that defines `v`, if any. */
function transposeOf(view: GraphView, v: string): { t: Node; perm: number[] } | undefined {
  const t = view.producedBy(v, 'Transpose');
  return t && { t, perm: permOf(view.g, t) };
}

/** A constant of rank ≤ r, broadcast-aligned to rank r and permuted by `perm`. */
function permuteConstant(g: Graph, name: string, c: Tensor, perm: readonly number[]): string {
  const r = perm.length;
  const shape = [...new Array(r - c.shape.length).fill(1), ...c.shape];
  const out = perm.map((p) => shape[p]);
  const v = toF64(c);
  const res = new Float64Array(v.length);
  const inStrides = stridesOf(shape);
  const outStrides = stridesOf(out);
  for (let i = 0; i < v.length; i++) {
    let src = 0;
    for (let a = 0; a < r; a++) src += Math.floor(i / outStrides[a]) % out[a] * inStrides[perm[a]];
    res[i] = v[src];
  }
  return g.addConstant(`${name}_perm`, fromF64(c.dtype, out, res));
}

function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

/**
 * Ops a transpose can move through (their data inputs and outputs all take the same permutation):
 * elementwise ops and reductions by their traits; Concat, Pad and Softmax, whose axis attributes
 * remapAttrs rewrites.
 */
const MOVABLE = (op: string) => {
  const t = getOp(op).traits;
  return t.elementwise || t.category === 'reduction' || op === 'Concat' || op === 'Pad' || op === 'Softmax' || op === 'Gather';
};
/** A Gather moves only with 1-D indices (its rank is kept), and only its data input is permuted. */
const fixedOperand = (g: Graph, n: Node, i: number) => n.op === 'Gather' && i === 1 && g.type(n.inputs[1]).shape.length === 1;
const isReduce = (op: string) => getOp(op).traits.category === 'reduction';

/** The non-constant operands of a movable op. */
function hoistOperands(g: Graph, n: Node | undefined): string[] | undefined {
  if (!n || !MOVABLE(n.op) || n.op === 'Gather') return undefined;
  return [...new Set(n.inputs.filter((i) => i !== '' && !g.constValue(i)))];
}

/**
 * The attributes of movable op `n` for data laid out so that old axis a is new axis q[a]
 * (axes, pads); undefined when it cannot be remapped.
 */
function remapAttrs(n: Node, q: readonly number[]): Node['attrs'] | undefined {
  const rank = q.length;
  const attrs = { ...n.attrs };
  const axis = (a: number) => q[a < 0 ? a + rank : a];
  if (n.op === 'Concat' || n.op === 'Softmax' || n.op === 'Gather') attrs.axis = axis(Number(n.attrs.axis));
  if (n.op === 'Pad') {
    const pads = n.attrs.pads as number[];
    if (pads.length !== 2 * rank) return undefined;
    const np = new Array<number>(2 * rank);
    q.forEach((to, a) => { np[to] = pads[a]; np[rank + to] = pads[rank + a]; });
    attrs.pads = np;
  }
  if (isReduce(n.op)) {
    if (Number(n.attrs.keepdims) !== 1 || !Array.isArray(n.attrs.axes) || n.attrs.axes.length === 0) return undefined;
    attrs.axes = (n.attrs.axes as number[]).map(axis);
  }
  return attrs;
}

const INPUT_SIDE = new WeakMap<GraphView, Map<string, boolean>>();

/**
 * The input side of the graph: a graph input, or a movable op (elementwise, Concat, Pad) of input-side
 * values (e.g. a baked-in (x − mean)/std). Transposes are hoisted onto it (duplicating the cheap op
 * when its NCHW result has other readers) and never sunk out of it, so the two directions never undo
 * each other.
 */
function inputSide(view: GraphView, v: string): boolean {
  let memo = INPUT_SIDE.get(view);
  if (!memo) INPUT_SIDE.set(view, (memo = new Map()));
  // operands with at most one axis longer than 1 move under any permutation as a reshape
  const small = (o: string) => view.shape(o).filter((d) => d !== 1).length <= 1;
  // an explicit stack rather than recursion: a chain of 50,000 elementwise ops must not overflow it
  const stack = [v];
  while (stack.length) {
    const u = stack[stack.length - 1];
    if (memo.has(u)) { stack.pop(); continue; }
    const operands = view.g.inputs.includes(u) ? [] : hoistOperands(view.g, view.producer.get(u));
    const open = (operands ?? []).filter((o) => !small(o) && !memo.has(o));
    if (open.length) { stack.push(...open); continue; }
    const r = view.g.inputs.includes(u) || (!!operands && operands.some((o) => !small(o) && memo.get(o))
      && operands.every((o) => small(o) || memo.get(o)));
    memo.set(u, r);
    stack.pop();
  }
  return memo.get(v)!;
}

/** Phase 2: sink transposes towards the outputs (hoist them onto the input side) and cancel them. */
function sink(n: Node, view: GraphView): Node[] | null {
  const g = view.g;
  const out = n.outputs[0];
  if (n.op === 'Transpose') {
    // T(T(x)) → T(x), or Identity when they cancel
    const inner = transposeOf(view, n.inputs[0]);
    const p = permOf(g, n);
    if (inner) {
      const q = compose(inner.perm, p);
      return [isIdentity(q) ? makeNode(g, 'Identity', [inner.t.inputs[0]], {}, { name: n.name, outputs: [out] })
        : makeNode(g, 'Transpose', [inner.t.inputs[0]], { perm: q }, { name: n.name, outputs: [out] })];
    }
    // T(U(x, …)) → U(T(x), …) on the input side: the transpose moves up towards the graph input
    const u = view.producer.get(n.inputs[0]);
    const xs = hoistOperands(g, u);
    const free = (x: string) => inputSide(view, x) || isPureReshapeTranspose(view.shape(x), p);
    if (!u || !xs || !xs.some((x) => inputSide(view, x)) || !xs.every((x) => free(x) && view.shape(x).length === p.length)) return null;
    if (u.inputs.some((i) => (g.constValue(i)?.shape.length ?? 0) > p.length)) return null;
    const attrs = remapAttrs(u, inverse(p)); // old axis p[i] is new axis i
    if (!attrs) return null;
    const ts = new Map(xs.map((x) => [x, makeNode(g, 'Transpose', [x], { perm: p }, { name: `${x}_t` })]));
    const inputs = u.inputs.map((i) => {
      const c = g.constValue(i);
      return ts.get(i)?.outputs[0] ?? (c ? permuteConstant(g, u.name, c, p) : i);
    });
    return [...ts.values(), makeNode(g, u.op, inputs, attrs, { name: u.name, outputs: [out] })];
  }
  if (n.op === 'Gemm') return absorbFlatten(n, view);
  // what the op sees through: one perm shared by its transposed inputs
  const rank = view.shape(out).length;
  let perm: number[] | undefined;
  const sources: (string | { c: Tensor } | { reshape: string })[] = [];
  if (!MOVABLE(n.op) || (n.op === 'Gather' && !fixedOperand(g, n, 1))) return null;
  for (const [i, v] of n.inputs.entries()) {
    if (fixedOperand(g, n, i)) { sources.push(v); continue; }
    const t = transposeOf(view, v);
    // only a transpose that moves data of the graph's inside leads; one that is a reshape, or one of a
    // graph input, is moved like the operands below (this is what keeps sinking from ping-ponging)
    const leads = t && !isPureReshapeTranspose(view.shape(t.t.inputs[0]), t.perm) && !inputSide(view, t.t.inputs[0]);
    if (t && leads && view.shape(v).length === rank && (!perm || perm.every((x, i) => x === t.perm[i]))) { perm = t.perm; sources.push(t.t.inputs[0]); continue; }
    const c = g.constValue(v);
    if (c && c.shape.length <= rank) { sources.push({ c }); continue; }
    sources.push({ reshape: v });
  }
  if (!perm) return null;
  const p = perm;
  const inv = inverse(p);
  const pre: Node[] = [];
  const inputs: string[] = [];
  for (const s of sources) {
    if (typeof s === 'string') { inputs.push(s); continue; }
    if ('c' in s) { inputs.push(permuteConstant(g, n.name, s.c, inv)); continue; }
    // another operand: only when moving it is free (its transpose is a reshape) or it is on the input side
    const sh = view.shape(s.reshape);
    if (sh.length !== rank || !(isPureReshapeTranspose(sh, inv) || inputSide(view, s.reshape))) return null;
    const t = makeNode(g, 'Transpose', [s.reshape], { perm: inv }, { name: `${s.reshape}_perm` });
    pre.push(t);
    inputs.push(t.outputs[0]);
  }
  const attrs = remapAttrs(n, p); // new axis p[i] held old axis i
  if (!attrs) return null;
  const inner = makeNode(g, n.op, inputs, attrs, { name: n.name, outputs: [g.freshName(`${out}_t`)] });
  const post = makeNode(g, 'Transpose', [inner.outputs[0]], { perm: p }, { name: `${n.name}_t`, outputs: [out] });
  return [...pre, inner, post];
}

/**
 * Gemm(Flatten(T(x, NHWC→NCHW)), W) = Gemm(Flatten(x), W′) with W′'s K rows re-ordered from
 * (c, h, w) to (h, w, c): the transpose disappears into a compile-time weight re-pack.
 */
function absorbFlatten(n: Node, view: GraphView): Node[] | null {
  const g = view.g;
  if (Number(n.attrs.transA) !== 0) return null;
  const W = g.constValue(n.inputs[1]);
  const f = view.producer.get(n.inputs[0]);
  if (!W || !f || !(f.op === 'Reshape' || (f.op === 'Flatten' && Number(f.attrs.axis) === 1))) return null;
  const t = transposeOf(view, f.inputs[0]);
  if (!t || !t.perm.every((x, i) => x === TO_NCHW[i])) return null;
  const [N, H, Wd, C] = view.shape(t.t.inputs[0]);
  const K = H * Wd * C;
  const fo = view.shape(f.outputs[0]);
  if (fo.length !== 2 || fo[0] !== N || fo[1] !== K) return null;
  const transB = Number(n.attrs.transB) !== 0;
  const [r, c] = W.shape;
  // source row/column of each new one (k2 in (h, w, c) order reads k in (c, h, w) order); raw copies, no conversion
  const from = new Int32Array(K);
  for (let ch = 0; ch < C; ch++) for (let h = 0; h < H; h++) for (let x = 0; x < Wd; x++) from[(h * Wd + x) * C + ch] = (ch * H + h) * Wd + x;
  const w = W.data as Float32Array;
  const res = new (w.constructor as Float32ArrayConstructor)(w.length);
  if (transB) for (let m = 0; m < r; m++) for (let k2 = 0; k2 < c; k2++) res[m * c + k2] = w[m * c + from[k2]];
  else for (let k2 = 0; k2 < r; k2++) res.set(w.subarray(from[k2] * c, from[k2] * c + c), k2 * c);
  const wName = g.addConstant(`${n.inputs[1]}_nhwc`, { dtype: W.dtype, shape: [...W.shape], data: res });
  const flat = makeNode(g, 'Reshape', [t.t.inputs[0]], { shape: [N, K] }, { name: `${f.name}_nhwc` });
  return [flat, withNode(n, { inputs: [flat.outputs[0], wName, ...n.inputs.slice(2)] })];
}

export function toNHWC(graph: Graph): Graph {
  let g = graph.clone();
  const made = new Map<string, string>();
  sweepRewrite(g, (n, view) => convert(n, view, made), 2);
  for (let round = 0; round < 20; round++) {
    const changed = sweepRewrite(g, sink, 50, { live: true }) + sweepRewrite(g, sameTranspose);
    g = simplify(g);
    if (!changed) break;
  }
  return g;
}

/** Hoisting can make two equal transposes of one value: the later becomes an Identity of the first. */
function sameTranspose(n: Node, view: GraphView): Node[] | null {
  if (n.op !== 'Transpose') return null;
  const p = permOf(view.g, n).join();
  const first = (view.consumers.get(n.inputs[0]) ?? []).find((m) => m.op === 'Transpose' && permOf(view.g, m).join() === p);
  return first && first !== n ? [makeNode(view.g, 'Identity', [first.outputs[0]], {}, { name: n.name, outputs: n.outputs })] : null;
}

/** How many Transpose nodes the graph has (tests: at most one per graph input and output). */
export function transposeCount(g: Graph): number {
  return g.nodes.filter((n) => n.op === 'Transpose' && sizeOf(g.type(n.outputs[0]).shape) > 0).length;
}

export const layoutPass: Pass = {
  name: 'layout-nhwc',
  doc: 'switches layout-aware ops to NHWC; sinks and cancels transposes so only graph boundaries keep one',
  run: (g) => toNHWC(g),
};
