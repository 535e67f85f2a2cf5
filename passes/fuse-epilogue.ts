/**
 * Epilogue fusion: what follows a Conv, ConvTranspose or Gemm elementwise moves into its epilogue
 * act(op + bias + R): a per-channel constant Add (bias) or Mul (folded into the weights), an Add of
 * a same-shape tensor (residual R), then one activation: any op whose traits give `asActivation`
 * (Relu, Clip/ReLU6, LeakyRelu, Sigmoid, Elu, Mish, …; ir/ops/activation.ts), plus the patterns
 * SiLU as x·sigmoid(x), HardSwish as x·hardsigmoid(x) and GELU as x·0.5·(1+erf(x/√2)). Only when
 * the intermediate value has no other reader, so nothing else needs it materialized. 2-D MatMuls
 * become Gemms first. An Add after the activation is fuse-residual-after-act's (a Conv's residual_after_act).
 */
import { fromF64, toF64, type Tensor } from '../runtime/tensor.js';
import type { Graph, Node } from '../ir/graph.js';
import type { Attrs } from '../ir/op.js';
import { getOp } from '../ir/ops/index.js';
import { sameShape } from '../ir/types.js';
import { foldAffineInto } from './fold-batchnorm.js';
import { makeNode, withNode, type GraphView, type Pass, rewriteCopy } from './pass.js';

/**
 * Ops that take an epilogue act(op + bias + R): conv- and matmul-like ops with the epilogue attributes
 * (`activation`, …) whose inputs are (x, w, bias?, R?). FusedDwPw, whose bias and residual sit
 * elsewhere, is made after this pass from already fused convs.
 */
function takesEpilogue(op: string): boolean {
  const d = getOp(op);
  // X, W, then optional bias and residual (inputs 2, 3): Conv, ConvTranspose, Gemm (Conv's input 4 is its input scale)
  return (d.traits.category === 'conv' || d.traits.category === 'matmul') && 'activation' in d.attrs && d.inputs[0] === 2 && d.inputs[1] >= 4;
}

/** The node producing `v` when it can still take an epilogue stage and `v` has `uses` readers. */
function host(view: GraphView, v: string, uses = 1): Node | undefined {
  const p = view.producer.get(v);
  if (!p || !takesEpilogue(p.op) || p.attrs.activation) return undefined;
  if (view.uses.get(v) !== uses || view.g.outputs.includes(v)) return undefined;
  return p;
}

/** The epilogue activation a standalone op maps to (its traits' `asActivation`), or undefined. */
export function activationOf(n: Node): Attrs | undefined {
  const act = getOp(n.op, n.name).traits.asActivation?.(n.attrs);
  return act && { ...act };
}

/** The output channel axis of an epilogue host's output of rank r. */
function channelAxis(p: Node, rank: number): number {
  if (getOp(p.op).traits.category === 'matmul') return 1;
  return p.attrs.layout === 'NHWC' ? rank - 1 : 1;
}

/** A constant that only varies along the output channel axis, as a vector of length M (else undefined). */
function perChannel(c: Tensor, outShape: readonly number[], axis: number): Float64Array | undefined {
  const r = outShape.length;
  if (c.shape.length > r) return undefined;
  const sh = [...new Array(r - c.shape.length).fill(1), ...c.shape];
  if (sh.some((d, i) => (i === axis ? d !== 1 && d !== outShape[axis] : d !== 1))) return undefined;
  const v = toF64(c);
  const M = outShape[axis];
  return Float64Array.from({ length: M }, (_, m) => v[v.length === 1 ? 0 : m]);
}

/** Add(y, const) with y from a host: the constant joins (or becomes) the host's bias. */
function fuseBias(n: Node, view: GraphView): Node | null {
  const g = view.g;
  for (const [yi, ci] of [[0, 1], [1, 0]]) {
    const c = g.constValue(n.inputs[ci]);
    const p = c && host(view, n.inputs[yi]);
    if (!c || !p) continue;
    const out = view.shape(n.outputs[0]);
    if (!sameShape(out, view.shape(n.inputs[yi]))) continue;
    const vec = perChannel(c, out, channelAxis(p, out.length));
    if (!vec) continue;
    const old = p.inputs[2] ?? '';
    const oldC = old ? g.constValue(old) : undefined;
    if (old && !oldC) continue;
    const dtype = g.type(p.outputs[0]).dtype;
    if (p.op === 'Gemm') {
      // Y = α·A·B + β·C: the new C is β·C + c (kept 2-D only when C varies along rows).
      const beta = Number(p.attrs.beta);
      const [M, N] = out;
      const rows = oldC && oldC.shape.length === 2 && oldC.shape[0] > 1 ? M : 1;
      const ov = oldC ? toF64(oldC) : undefined;
      const at = (m: number, k: number) => {
        if (!ov || !oldC) return 0;
        const sh = [...new Array(2 - oldC.shape.length).fill(1), ...oldC.shape];
        return ov[(sh[0] === 1 ? 0 : m) * sh[1] + (sh[1] === 1 ? 0 : k)];
      };
      const nc = new Float64Array(rows * N);
      for (let m = 0; m < rows; m++) for (let k = 0; k < N; k++) nc[m * N + k] = beta * at(m, k) + vec[k];
      const name = g.addConstant(`${p.name}_bias`, fromF64(dtype, rows === 1 ? [N] : [rows, N], nc));
      return withNode(p, { inputs: withInput(p.inputs, 2, name), attrs: { beta: 1 }, outputs: n.outputs });
    }
    const base = oldC ? toF64(oldC) : new Float64Array(vec.length);
    const name = g.addConstant(`${p.name}_bias`, fromF64(dtype, [vec.length], base.map((b, m) => b + vec[m])));
    return withNode(p, { inputs: withInput(p.inputs, 2, name), outputs: n.outputs });
  }
  return null;
}

/** `inputs` with slot i set to `v` ('' filling any gap). */
function withInput(inputs: readonly string[], i: number, v: string): string[] {
  const r = [...inputs];
  while (r.length < i) r.push('');
  r[i] = v;
  return r;
}

/** Add(y, z), same shapes, y from a host without residual: z becomes the residual input. */
function fuseResidual(n: Node, view: GraphView): Node | null {
  const [a, b] = n.inputs;
  if (a === b) return null;
  const out = view.shape(n.outputs[0]);
  if (!sameShape(view.shape(a), out) || !sameShape(view.shape(b), out)) return null;
  const order = (v: string) => view.g.nodes.indexOf(view.producer.get(v)!);
  const cands = [[a, b], [b, a]]
    .map(([y, r]) => ({ p: host(view, y), r }))
    .filter((c): c is { p: Node; r: string } => !!c.p && !(c.p.inputs[3] ?? ''))
    .sort((x, y) => order(y.p.outputs[0]) - order(x.p.outputs[0]));
  if (!cands.length) return null;
  const { p, r } = cands[0];
  return withNode(p, { inputs: withInput(p.inputs, 3, r), outputs: n.outputs });
}

/** Mul(y, c) with c a per-channel constant: scales the host's weights and bias (e.g. ConvNeXt's layer scale). */
function fuseScale(n: Node, view: GraphView): Node | null {
  const g = view.g;
  for (const [yi, ci] of [[0, 1], [1, 0]]) {
    const c = g.constValue(n.inputs[ci]);
    const p = c && host(view, n.inputs[yi]);
    if (!c || !p || (p.inputs[3] ?? '')) continue;
    const out = view.shape(n.outputs[0]);
    const s = sameShape(out, view.shape(n.inputs[yi])) ? perChannel(c, out, channelAxis(p, out.length)) : undefined;
    if (!s) continue;
    const folded = foldAffineInto(g, p, String(p.attrs.layout ?? 'NCHW'), { s, t: new Float64Array(s.length) }, [...n.outputs]);
    if (folded) return folded;
  }
  return null;
}

/** Mul(y, Sigmoid(y)) → SiLU and Mul(y, HardSigmoid(y; 1/6, 1/2)) → HardSwish, y from a host read only by these two. */
function fuseGated(n: Node, view: GraphView): Node | null {
  for (const [yi, si] of [[0, 1], [1, 0]]) {
    const gate = view.producer.get(n.inputs[si]);
    const y = n.inputs[yi];
    if (!gate || gate.inputs[0] !== y || !view.single(n.inputs[si])) continue;
    const hard = gate.op === 'HardSigmoid' && Math.abs(Number(gate.attrs.alpha) - 1 / 6) < 1e-6 && Number(gate.attrs.beta) === 0.5;
    if (gate.op !== 'Sigmoid' && !hard) continue;
    const p = host(view, y, 2);
    if (p) return withNode(p, { attrs: { activation: hard ? 'hard_swish' : 'silu', act_alpha: 0, act_beta: 0 }, outputs: n.outputs });
  }
  return null;
}

const near = (t: Tensor | undefined, v: number) => !!t && t.data.length === 1 && Math.abs(toF64(t)[0] - v) < 1e-4 * Math.abs(v);

/** Mul(Mul(x, Add(Erf(Div(x, √2)), 1)), 0.5) (PyTorch's exported GELU), in either operand order: one Gelu. */
function geluPattern(n: Node, view: GraphView): Node | null {
  const g = view.g;
  const other = (m: Node, v: string) => m.inputs[m.inputs[0] === v ? 1 : 0];
  for (const half of n.inputs) {
    if (!near(g.constValue(half), 0.5)) continue;
    const m1 = view.producedBy(other(n, half), 'Mul');
    if (!m1 || !view.single(m1.outputs[0])) continue;
    for (const x of m1.inputs) {
      const add = view.producedBy(other(m1, x), 'Add');
      if (!add || !view.single(add.outputs[0])) continue;
      const one = add.inputs.find((i) => near(g.constValue(i), 1));
      const erf = one && view.producedBy(other(add, one), 'Erf');
      if (!erf || !view.single(erf.outputs[0])) continue;
      const d = view.producer.get(erf.inputs[0]);
      const k = d?.inputs[1] ? g.constValue(d.inputs[1]) : undefined;
      const scaled = d && d.inputs[0] === x && ((d.op === 'Div' && near(k, Math.SQRT2)) || (d.op === 'Mul' && near(k, Math.SQRT1_2)));
      if (!scaled || !view.single(erf.inputs[0])) continue;
      return makeNode(g, 'Gelu', [x], {}, { name: n.name, outputs: n.outputs });
    }
  }
  return null;
}

function rule(n: Node, view: GraphView): Node[] | null {
  if (n.op === 'MatMul' && n.inputs.every((i) => view.shape(i).length === 2)) {
    return [makeNode(view.g, 'Gemm', n.inputs, {}, { name: n.name, outputs: n.outputs })];
  }
  if (n.op === 'Add') {
    const r = fuseBias(n, view) ?? fuseResidual(n, view);
    return r && [r];
  }
  if (n.op === 'Mul') {
    const r = fuseGated(n, view) ?? geluPattern(n, view) ?? fuseScale(n, view);
    return r && [r];
  }
  const act = activationOf(n);
  const p = act && host(view, n.inputs[0]);
  return p && act ? [withNode(p, { attrs: act, outputs: n.outputs })] : null;
}

export function fuseEpilogues(graph: Graph): Graph {
  return rewriteCopy(graph, rule, true);
}

export const fuseEpiloguePass: Pass = {
  name: 'fuse-epilogue',
  doc: 'fuses bias, residual Add and activations (incl. SiLU and erf-GELU patterns) into Conv/ConvTranspose/Gemm epilogues',
  run: (g) => fuseEpilogues(g),
};
