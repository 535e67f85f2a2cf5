/**
 * ir.Graph → ONNX ModelProto (opset 17), before or after passes, for onnxruntime and Netron.
 * IR attributes that ONNX takes as inputs (Reshape shape, Slice starts, Clip bounds...) become
 * initializers; fused epilogues (activation, residual input), FusedDwPw and ChannelLayerNorm are
 * expanded back into standard ops; NHWC nodes are wrapped in Transposes around their NCHW ONNX form.
 */
import { CnncError } from '../../runtime/errors.js';
import { tensor, type DType, type Tensor } from '../../runtime/tensor.js';
import type { Graph, Node } from '../../ir/graph.js';
import type { AttrValue, Attrs } from '../../ir/op.js';
import { allOps, getOp } from '../../ir/ops/index.js';
import { DTYPE_TO_CODE, onnx, tensorToProto } from './proto.js';

/** The opset written; 19 only when the graph needs it (Pad wrap, AveragePool dilations, Resize antialias/half_pixel_symmetric). */
export const EXPORT_OPSET = 17;
const EXPORT_OPSET_MAX = 19;

type INodeProto = import('onnx-proto').onnx.INodeProto;
type IAttributeProto = import('onnx-proto').onnx.IAttributeProto;
type ITensorProto = import('onnx-proto').onnx.ITensorProto;

/**
 * ONNX attributes of FLOAT type (every other numeric attribute is an INT). ONNX types an attribute
 * name alike in every op, so: a name that some registry op gives a fractional default (alpha, beta,
 * gamma, epsilon, momentum, cubic_coeff_a, …), plus the float attributes whose defaults are all whole.
 */
const FLOAT_ATTRS: ReadonlySet<string> = new Set([
  ...allOps().flatMap((d) => Object.entries(d.attrs).filter(([, v]) => typeof v === 'number' && !Number.isInteger(v)).map(([k]) => k)),
  'bias', 'extrapolation_value',
]);
/** IR-only attributes, handled by the expansion (never written to ONNX). */
const IR_ONLY = new Set(['layout', 'activation', 'act_alpha', 'act_beta', 'residual_after_act']);

/** One epilogue activation written as one standard op: the op, and its attributes for (act_alpha, act_beta). */
interface ActivationOp { op: string; attrs(alpha: number, beta: number): Attrs }

/**
 * Epilogue activation kind → the registry op that computes it alone, read off every op's
 * `traits.asActivation`: its attributes are probed to find which carry act_alpha and act_beta.
 * The kinds no op gives (silu) and the ones whose op is too new for the opset written (gelu,
 * gelu_tanh: Gelu is opset 20) are expanded explicitly in `activation`.
 */
export const ACTIVATION_OPS: ReadonlyMap<string, ActivationOp> = (() => {
  const map = new Map<string, ActivationOp>();
  for (const def of allOps()) {
    const as = def.traits.asActivation;
    if (!as || Object.values(def.attrs).includes(null)) continue;
    const defaults = def.attrs as Attrs;
    const numeric = Object.keys(defaults).filter((k) => typeof defaults[k] === 'number');
    const probe = (base: number): Attrs => ({ ...defaults, ...Object.fromEntries(numeric.map((k, i) => [k, base + 0.25 * i])) });
    const first = as(probe(0.375));
    if (!first || map.has(first.activation)) continue;
    const alphaKey = numeric.find((k) => probe(0.375)[k] === first.act_alpha);
    const betaKey = numeric.find((k) => probe(0.375)[k] === first.act_beta);
    const attrs = (alpha: number, beta: number): Attrs => ({ ...defaults, ...(alphaKey && { [alphaKey]: alpha }), ...(betaKey && { [betaKey]: beta }) });
    // keep it only when the attributes found give back the kind and its parameters
    const check = as(attrs(0.625, 0.875));
    const want = [alphaKey ? 0.625 : first.act_alpha, betaKey ? 0.875 : first.act_beta];
    if (check?.activation === first.activation && check.act_alpha === want[0] && check.act_beta === want[1]) map.set(first.activation, { op: def.name, attrs });
  }
  return map;
})();

/** ONNX ops newer than opset 17 that the exporter writes as they are: the opset they came in. */
const OP_SINCE: Readonly<Record<string, number>> = { Mish: 18 };

export function exportOnnx(g: Graph): Uint8Array {
  const ex = new Exporter(g, g.nodes.some(needsOpset19) ? EXPORT_OPSET_MAX : EXPORT_OPSET);
  for (const n of g.nodes) ex.node(n);
  return ex.finish();
}

class Exporter {
  private readonly g: Graph;
  private readonly nodes: INodeProto[] = [];
  private readonly inits: ITensorProto[] = [];
  private readonly used = new Set<string>();
  private counter = 0;
  private readonly opset: number;

  constructor(g: Graph, opset: number) {
    this.g = g;
    this.opset = opset;
    for (const name of g.values.keys()) this.used.add(name);
    for (const n of g.nodes) this.used.add(n.name);
  }

  private fresh(base: string): string {
    let name = base;
    while (this.used.has(name)) name = `${base}_${++this.counter}`;
    this.used.add(name);
    return name;
  }

  /** An initializer holding `t`; returns its name. */
  private init(base: string, t: Tensor): string {
    const name = this.fresh(base);
    this.inits.push(tensorToProto(t, name));
    return name;
  }

  private i64(base: string, v: readonly number[]): string {
    const clamp = (x: number) => (x >= 2 ** 63 ? 2n ** 63n - 1n : x <= -(2 ** 63) ? -(2n ** 63n) : BigInt(Math.trunc(x)));
    return this.init(base, tensor('i64', [v.length], BigInt64Array.from(v.map(clamp))));
  }

  private scalar(base: string, dtype: DType, v: number): string {
    return this.init(base, tensor(dtype, [], [v]));
  }

  private emit(op: string, inputs: readonly string[], outputs: readonly string[], attrs: Record<string, AttrValue> = {}, name?: string): void {
    while (inputs.length && inputs[inputs.length - 1] === '') inputs = inputs.slice(0, -1);
    const attribute = Object.entries(attrs).flatMap(([k, v]) => toAttr(k, v));
    this.nodes.push({ name: name ?? this.fresh(op.toLowerCase()), opType: op, input: [...inputs], output: [...outputs], attribute });
  }

  /** A fresh value name derived from `base`. */
  private tmp(base: string): string {
    return this.fresh(base);
  }

  node(n: Node): void {
    const layout = n.attrs.layout;
    if (layout === 'NHWC' && getOp(n.op, n.name).traits.layoutInputs) return this.nhwc(n);
    if (layout !== undefined && layout !== 'NCHW' && layout !== 'NHWC') {
      throw new CnncError('UNSUPPORTED', `layout '${layout}' cannot be exported`, { node: n.name, op: n.op });
    }
    this.nchw(n, n.inputs, n.outputs[0], n.outputs);
  }

  /** An NHWC node: Transpose its activation input to NCHW, export the NCHW form, Transpose back. */
  private nhwc(n: Node): void {
    const rank = this.g.type(n.inputs[0]).shape.length;
    const toFirst = [0, rank - 1, ...Array.from({ length: rank - 2 }, (_, i) => i + 1)];
    const toLast = [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2), 1];
    const x = this.tmp(`${n.inputs[0]}_nchw`);
    this.emit('Transpose', [n.inputs[0]], [x], { perm: toFirst });
    // The residual (last input of fused ops) is in the output's layout: added after transposing back.
    const resIndex = residualIndex(n);
    const res = resIndex >= 0 ? n.inputs[resIndex] ?? '' : '';
    const ins = [x, ...n.inputs.slice(1)];
    if (resIndex >= 0 && resIndex < ins.length) ins[resIndex] = '';
    const y = this.tmp(`${n.outputs[0]}_nchw`);
    const act = { kind: String(n.attrs.activation ?? ''), alpha: Number(n.attrs.act_alpha ?? 0), beta: Number(n.attrs.act_beta ?? 0) };
    const bare: Node = { ...n, inputs: ins, attrs: { ...n.attrs, activation: '' } };
    this.nchw(bare, ins, y, [y]);
    const dtype = this.g.type(n.outputs[0]).dtype;
    const cur = this.tmp(`${n.outputs[0]}_t`);
    this.emit('Transpose', [y], [cur], { perm: toLast });
    if (res || act.kind) this.epilogue(n, cur, res, n.outputs[0], dtype);
    else this.activation('', 0, 0, cur, n.outputs[0], dtype, n);
  }

  /** Exports a node in NCHW form; `out` receives its first output (after any epilogue). */
  private nchw(n: Node, inputs: readonly string[], out: string, outputs: readonly string[]): void {
    const a = n.attrs;
    const dtype = this.g.type(n.outputs[0]).dtype;
    const x = inputs[0];
    switch (n.op) {
      case 'Conv': case 'ConvTranspose': case 'Gemm':
        return this.withEpilogue(n, [this.inputScaled(n, inputs), ...inputs.slice(1, 3)], inputs[3] ?? '', out, dtype);
      case 'FusedDwPw':
        return this.fusedDwPw(n, inputs, out, dtype);
      case 'SqueezeExcitationGate':
        return this.squeezeExcitationGate(n, inputs, out, dtype);
      case 'ChannelLayerNorm':
        return this.channelLayerNorm(n, inputs, out);
      case 'Clip': {
        const lo = Number(a.min), hi = Number(a.max);
        const min = Number.isFinite(lo) ? this.scalar(`${n.name}_min`, dtype, lo) : '';
        const max = Number.isFinite(hi) ? this.scalar(`${n.name}_max`, dtype, hi) : '';
        return this.emit('Clip', [x, min, max], [out], {}, n.name);
      }
      case 'Reshape':
        return this.emit('Reshape', [x, this.i64(`${n.name}_shape`, a.shape as number[])], [out], { allowzero: a.allowzero ?? 0 }, n.name);
      case 'Expand':
        return this.emit('Expand', [x, this.i64(`${n.name}_shape`, a.shape as number[])], [out], {}, n.name);
      case 'Slice': {
        const ins = [x, this.i64(`${n.name}_starts`, a.starts as number[]), this.i64(`${n.name}_ends`, a.ends as number[])];
        const axes = a.axes as number[];
        const steps = a.steps as number[];
        if (axes.length) ins.push(this.i64(`${n.name}_axes`, axes));
        if (steps.length) { if (!axes.length) ins.push(''); ins.push(this.i64(`${n.name}_steps`, steps)); }
        return this.emit('Slice', ins, [out], {}, n.name);
      }
      case 'Squeeze': case 'Unsqueeze':
        return this.emit(n.op, [x, this.i64(`${n.name}_axes`, a.axes as number[])], [out], {}, n.name);
      case 'Tile':
        return this.emit('Tile', [x, this.i64(`${n.name}_repeats`, a.repeats as number[])], [out], {}, n.name);
      case 'Split': {
        // Sizes always given explicitly (from the output types): opset 18 would need num_outputs otherwise.
        const rank = this.g.type(x).shape.length;
        const axis = (Number(a.axis) + rank) % rank;
        const split = n.outputs.map((o) => this.g.type(o).shape[axis]);
        return this.emit('Split', [x, this.i64(`${n.name}_split`, split)], outputs, { axis: a.axis }, n.name);
      }
      case 'Pad': {
        const ins = [x, this.i64(`${n.name}_pads`, a.pads as number[])];
        if (a.mode === 'constant' && Number(a.value) !== 0) ins.push(this.scalar(`${n.name}_value`, dtype, Number(a.value)));
        return this.emit('Pad', ins, [out], { mode: a.mode }, n.name);
      }
      case 'Resize': return this.resize(n, x, out);
      case 'ReduceMean': case 'ReduceMax': case 'ReduceMin': case 'ReduceSum': {
        const axes = a.axes as number[];
        if (!axes.length && a.noop_with_empty_axes) return this.emit('Identity', [x], [out], {}, n.name);
        if (n.op === 'ReduceSum' || this.opset >= 18) {
          return this.emit(n.op, [x, axes.length ? this.i64(`${n.name}_axes`, axes) : ''], [out], { keepdims: a.keepdims }, n.name);
        }
        return this.emit(n.op, [x], [out], axes.length ? { axes, keepdims: a.keepdims } : { keepdims: a.keepdims }, n.name);
      }
      case 'Cast':
        return this.emit('Cast', [x], [out], { to: DTYPE_TO_CODE[a.to as DType], ...(Number(a.saturate ?? 1) === 0 ? { saturate: 0 } : {}) }, n.name);
      case 'Shape': {
        const rank = this.g.type(x).shape.length;
        const attrs: Record<string, AttrValue> = { start: a.start };
        if (Number(a.end) < rank) attrs.end = a.end;
        return this.emit('Shape', [x], [out], attrs, n.name);
      }
      case 'Gelu': {
        this.activation(a.approximate === 'tanh' ? 'gelu_tanh' : 'gelu', 0, 0, x, out, dtype, n);
        return;
      }
      case 'AveragePool':
        return this.emit(n.op, inputs, outputs.map((o, i) => (i === 0 ? out : o)), onnxAttrs(a, this.opset >= 19 ? [] : ['dilations']), n.name);
      default:
        return this.emit(n.op, inputs, outputs.map((o, i) => (i === 0 ? out : o)), onnxAttrs(a), n.name);
    }
  }

  private resize(n: Node, x: string, out: string): void {
    const a = n.attrs;
    const scales = a.scales as number[];
    const sizes = a.sizes as number[];
    const ctm = String(a.coordinate_transformation_mode);
    const roi = (a.roi as number[] | undefined) ?? [];
    const roiIn = ctm === 'tf_crop_and_resize' ? this.init(`${n.name}_roi`, tensor('f32', [roi.length], roi)) : '';
    const ins = sizes.length
      ? [x, roiIn, '', this.i64(`${n.name}_sizes`, sizes)]
      : [x, roiIn, this.init(`${n.name}_scales`, tensor('f32', [scales.length], scales))];
    const attrs = onnxAttrs(a, ['scales', 'sizes', 'roi', 'keep_aspect_ratio_policy', ...(this.opset >= 18 ? [] : ['antialias'])]);
    // onnxruntime spells the opset-11 mode by its old name (ONNX dropped it from opset 13).
    if (ctm === 'tf_half_pixel_for_nearest') attrs.coordinate_transformation_mode = 'tf_half_pixel_for_nn';
    this.emit('Resize', ins, [out], attrs, n.name);
  }

  /**
   * The NCHW data input of a Conv with an input scale S (input 4): Mul(x, S reshaped to (N, C, 1, …)),
   * the Mul that passes/fuse-scale-on-load.ts fused; x itself otherwise.
   */
  private inputScaled(n: Node, inputs: readonly string[]): string {
    const s = inputs[4] ?? '';
    if (n.op !== 'Conv' || !s) return inputs[0];
    const ys = this.g.type(n.outputs[0]).shape, N = ys[0]; // n.inputs[0] may be a fresh NCHW copy of an NHWC x
    const C = this.g.type(n.inputs[1]).shape[1] * Number(n.attrs.group ?? 1);
    const sr = this.tmp(`${s}_nc`), y = this.tmp(`${inputs[0]}_scaled`);
    this.emit('Reshape', [s, this.i64(`${sr}_shape`, [N, C, ...ys.slice(2).map(() => 1)])], [sr]);
    this.emit('Mul', [inputs[0], sr], [y]);
    return y;
  }

  /** Conv/ConvTranspose/Gemm with `activation` and a residual input: op, then Add, then the activation (Add last with residual_after_act). */
  private withEpilogue(n: Node, base: readonly string[], residual: string, out: string, dtype: DType): void {
    const kind = String(n.attrs.activation ?? '');
    const plain = !kind && !residual;
    const y = plain ? out : this.tmp(`${out}_pre`);
    this.emit(n.op, base, [y], onnxAttrs(n.attrs), n.name);
    this.epilogue(n, y, residual, out, dtype);
  }

  /** The epilogue after value `y`: Add(residual) and the activation, in the node's order, into `out`. */
  private epilogue(n: Node, y: string, residual: string, out: string, dtype: DType): void {
    const kind = String(n.attrs.activation ?? '');
    const act = (from: string, to: string) => this.activation(kind, Number(n.attrs.act_alpha ?? 0), Number(n.attrs.act_beta ?? 0), from, to, dtype, n);
    if (residual && kind && Number(n.attrs.residual_after_act ?? 0) === 1) {
      const a = this.tmp(`${out}_act`);
      act(y, a);
      this.emit('Add', [a, residual], [out]);
      return;
    }
    let cur = y;
    if (residual) {
      const s = kind ? this.tmp(`${out}_sum`) : out;
      this.emit('Add', [cur, residual], [s]);
      cur = s;
    }
    if (kind) act(cur, out);
  }

  /** FusedDwPw as the depthwise Conv (+ its activation) and the pointwise Conv (+ residual, activation). */
  private fusedDwPw(n: Node, inputs: readonly string[], out: string, dtype: DType): void {
    const [x, wdw, bdw = '', wpw, bpw = '', res = ''] = inputs;
    const a = n.attrs;
    const group = this.g.type(wdw).shape[0];
    const dwAttrs: Attrs = { group };
    for (const k of ['strides', 'pads', 'dilations']) if ((a[k] as number[]).length) dwAttrs[k] = a[k];
    const dwOut = this.tmp(`${out}_dw`);
    this.emit('Conv', [x, wdw, bdw], [dwOut], dwAttrs, `${n.name}_dw`);
    let cur = dwOut;
    const dwKind = String(a.dw_activation ?? '');
    if (dwKind) {
      const t = this.tmp(`${out}_dw_act`);
      this.activation(dwKind, Number(a.dw_alpha), Number(a.dw_beta), cur, t, dtype, n);
      cur = t;
    }
    const pw: Node = { ...n, op: 'Conv', attrs: { activation: a.activation, act_alpha: a.act_alpha, act_beta: a.act_beta }, name: `${n.name}_pw` };
    this.withEpilogue(pw, [cur, wpw, bpw], res, out, dtype);
  }

  /**
   * SqueezeExcitationGate as its two 1×1 Convs (+ activations) on the pooled vector, reshaped to
   * (N, C, 1, …) and back (it may be (N, 1, …, C) in an NHWC graph: the same vector).
   */
  private squeezeExcitationGate(n: Node, inputs: readonly string[], out: string, dtype: DType): void {
    const [p, w1, b1, w2, b2] = inputs;
    const ps = this.g.type(p).shape, rank = this.g.type(w1).shape.length;
    const vec = [ps[0], ps.slice(1).reduce((a, b) => a * b, 1), ...Array<number>(rank - 2).fill(1)];
    const [x, h, y] = [this.tmp(`${out}_vec`), this.tmp(`${out}_hidden`), this.tmp(`${out}_gate`)];
    this.emit('Reshape', [p, this.i64(`${n.name}_vec`, vec)], [x]);
    const conv = (name: string, attrs: Attrs): Node => ({ ...n, op: 'Conv', attrs, name: `${n.name}_${name}` });
    this.withEpilogue(conv('fc1', { activation: n.attrs.activation, act_alpha: n.attrs.act_alpha, act_beta: n.attrs.act_beta }), [x, w1, b1], '', h, dtype);
    this.withEpilogue(conv('fc2', { activation: n.attrs.gate_activation, act_alpha: n.attrs.gate_alpha, act_beta: n.attrs.gate_beta }), [h, w2, b2], '', y, dtype);
    this.emit('Reshape', [y, this.i64(`${n.name}_shape`, ps)], [out]);
  }

  /** ChannelLayerNorm as LayerNorm2d writes it: Transpose the axis last, LayerNormalization over it, Transpose back. */
  private channelLayerNorm(n: Node, inputs: readonly string[], out: string): void {
    const r = this.g.type(inputs[0]).shape.length, k = (Number(n.attrs.axis) + r) % r;
    const perm = [...Array(r).keys()].filter((a) => a !== k).concat(k);
    const [t, y] = [this.tmp(`${out}_last`), this.tmp(`${out}_ln`)];
    this.emit('Transpose', [inputs[0]], [t], { perm });
    this.emit('LayerNormalization', [t, ...inputs.slice(1)], [y], { axis: -1, epsilon: n.attrs.epsilon }, n.name);
    this.emit('Transpose', [y], [out], { perm: perm.map((_, i) => perm.indexOf(i)) });
  }

  /** One epilogue activation from `x` into `out`, as standard ONNX ops: one op (ACTIVATION_OPS), or the expansions below. */
  private activation(kind: string, alpha: number, beta: number, x: string, out: string, dtype: DType, n: Node): void {
    const c = (v: number) => this.scalar('c', dtype, v);
    const t = (b: string) => this.tmp(`${out}_${b}`);
    switch (kind) {
      case '': return this.emit('Identity', [x], [out]);
      case 'silu': {
        const s = t('sig');
        this.emit('Sigmoid', [x], [s]);
        return this.emit('Mul', [x, s], [out]);
      }
      case 'gelu': { // 0.5·x·(1 + erf(x/√2))
        const [d, e, p, m] = [t('div'), t('erf'), t('add'), t('mul')];
        this.emit('Div', [x, c(Math.SQRT2)], [d]);
        this.emit('Erf', [d], [e]);
        this.emit('Add', [e, c(1)], [p]);
        this.emit('Mul', [x, p], [m]);
        return this.emit('Mul', [m, c(0.5)], [out]);
      }
      case 'gelu_tanh': { // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
        const [x2, x3, k, inner, sc, th, p, m] = ['x2', 'x3', 'k', 'inner', 'sc', 'tanh', 'add', 'mul'].map(t);
        this.emit('Mul', [x, x], [x2]);
        this.emit('Mul', [x2, x], [x3]);
        this.emit('Mul', [x3, c(0.044715)], [k]);
        this.emit('Add', [x, k], [inner]);
        this.emit('Mul', [inner, c(Math.sqrt(2 / Math.PI))], [sc]);
        this.emit('Tanh', [sc], [th]);
        this.emit('Add', [th, c(1)], [p]);
        this.emit('Mul', [x, p], [m]);
        return this.emit('Mul', [m, c(0.5)], [out]);
      }
      default: {
        const one = ACTIVATION_OPS.get(kind);
        if (!one) throw new CnncError('UNSUPPORTED', `activation '${kind}' cannot be exported`, { node: n.name, op: n.op });
        // the standalone op, exported like any node of it (Clip's bounds become inputs); same dtype as n's output
        const alone: Node = { name: this.fresh(one.op.toLowerCase()), op: one.op, attrs: one.attrs(alpha, beta), inputs: [x], outputs: [n.outputs[0]] };
        return this.nchw(alone, [x], out, [out]);
      }
    }
  }

  finish(): Uint8Array {
    const g = this.g;
    const vi = (name: string) => {
      const t = g.type(name);
      return { name, type: { tensorType: { elemType: DTYPE_TO_CODE[t.dtype], shape: { dim: t.shape.map((d) => ({ dimValue: d })) } } } };
    };
    const consts = [...g.values.values()].filter((v) => v.const).map((v) => tensorToProto(v.const!, v.name));
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'cnnc',
      opsetImport: [{ domain: '', version: this.opset }],
      graph: {
        name: g.name,
        node: this.nodes,
        initializer: [...consts, ...this.inits],
        input: g.inputs.map(vi),
        output: g.outputs.map(vi),
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

/** Whether a node uses an ONNX feature newer than opset 17. */
function needsOpset19(n: Node): boolean {
  const a = n.attrs;
  if (n.op === 'Pad') return a.mode === 'wrap';
  if (n.op === 'AveragePool') return ((a.dilations as number[] | undefined) ?? []).some((d) => d !== 1);
  if (n.op === 'Resize') return Number(a.antialias ?? 0) !== 0 || a.coordinate_transformation_mode === 'half_pixel_symmetric';
  if (n.op === 'Cast') return Number(a.saturate ?? 1) === 0;
  const ops = [n.op, ...[a.activation, a.dw_activation].map((k) => ACTIVATION_OPS.get(String(k ?? ''))?.op)];
  return ops.some((op) => op !== undefined && (OP_SINCE[op] ?? 0) > EXPORT_OPSET);
}

/** Index of the residual input of a layout-aware op: its activation input after input 0 (-1 when none). */
function residualIndex(n: Node): number {
  return getOp(n.op, n.name).traits.layoutInputs?.find((i) => i > 0) ?? -1;
}

/**
 * Attributes that newer opsets added, at the value that means "absent": dropped, so the node stays
 * valid at the opset the exporter writes (saturate came in opset 19, QuantizeLinear's block_size in 21).
 */
const ADDED_LATER: Readonly<Record<string, AttrValue>> = { block_size: 0, saturate: 1 };

/** IR attributes as ONNX attributes: IR-only ones, empty lists and empty strings (ONNX defaults) dropped. */
function onnxAttrs(a: Attrs, skip: readonly string[] = []): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = {};
  for (const [k, v] of Object.entries(a)) {
    if (IR_ONLY.has(k) || skip.includes(k) || (Array.isArray(v) && v.length === 0) || v === '' || ADDED_LATER[k] === v) continue;
    out[k] = v;
  }
  return out;
}

function toAttr(name: string, v: AttrValue): IAttributeProto[] {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'string') return [{ name, type: T.STRING, s: new TextEncoder().encode(v) }];
  if (typeof v === 'number') return FLOAT_ATTRS.has(name) ? [{ name, type: T.FLOAT, f: v }] : [{ name, type: T.INT, i: v }];
  if (v.every((x) => typeof x === 'string')) return [{ name, type: T.STRINGS, strings: (v as string[]).map((s) => new TextEncoder().encode(s)) }];
  if (FLOAT_ATTRS.has(name) || name === 'scales') return [{ name, type: T.FLOATS, floats: v as number[] }];
  return [{ name, type: T.INTS, ints: v as number[] }];
}
