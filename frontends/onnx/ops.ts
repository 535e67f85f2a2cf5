/**
 * Per-op ONNX → IR converters: where ONNX opsets differ (attributes that became inputs,
 * defaults that changed, legacy attributes), each converter normalizes into the IR contract
 * (docs/architecture.md): static parameters as attributes, one semantics per op. Ops without an
 * entry here map one-to-one onto the IR op of the same name with their ONNX attributes.
 * Converters see the importer through `ConvertContext`, so this file does not import import.ts.
 */
import { CnncError } from '../../runtime/errors.js';
import { tensor, toNumbers, type Tensor } from '../../runtime/tensor.js';
import type { AttrValue } from '../../ir/op.js';
import { getOp, hasOp } from '../../ir/ops/index.js';
import type { Graph } from '../../ir/graph.js';
import type { TensorType } from '../../ir/types.js';
import { irDtype, tensorFromProto, type TensorAttr, type TensorLimits } from './proto.js';

/** One ONNX node as the converters see it: attributes decoded, names resolved through the importer. */
export interface OnnxNode {
  readonly name: string;
  readonly op: string;
  readonly opset: number;
  /** ONNX value names; '' for absent optional inputs/outputs. */
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attrs: ReadonlyMap<string, AttrValue | TensorAttr>;
}

/** What a converter uses of the importer (the Importer class in import.ts implements it). */
export interface ConvertContext {
  readonly g: Graph;
  readonly limits: TensorLimits;
  /** IR name of an ONNX value ('' stays ''). */
  ir(onnxName: string, n?: OnnxNode): string;
  typeOf(onnxName: string, n?: OnnxNode): TensorType;
  /** The constant value of an ONNX value: an initializer, a folded value or a given input value. */
  constOf(onnxName: string, n?: OnnxNode): Tensor | undefined;
  /** Whether an optional output is read by anyone (node input or graph output). */
  isUsed(onnxName: string): boolean;
  isGraphOutput(onnxName: string): boolean;
  /** Binds an ONNX output to an existing IR value (Identity, Dropout). */
  alias(onnxName: string, irName: string): void;
  /** Binds an ONNX output to a new constant. */
  constant(onnxName: string, t: Tensor, n?: OnnxNode): string;
  /** Adds one IR node (or its folded constant outputs); `bindTo` names the ONNX outputs it defines. Returns IR output names. */
  emit(n: OnnxNode, op: string, inputs: readonly string[], attrs: Record<string, AttrValue | undefined>, bindTo?: readonly string[]): string[];
}

export interface Converter {
  /** IR ops the converter emits: the import fails with UNKNOWN_OP when one is not registered. */
  readonly needs: readonly string[];
  run(imp: ConvertContext, n: OnnxNode): void;
}

type Attrs = Record<string, AttrValue | undefined>;

// ---- helpers ----

function isTensorAttr(v: unknown): v is TensorAttr {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && 'tensorProto' in v;
}

function unsupported(n: OnnxNode, msg: string, value?: string): never {
  throw new CnncError('UNSUPPORTED', msg, { node: n.name, op: n.op, value });
}

function badAttr(n: OnnxNode, msg: string): never {
  throw new CnncError('BAD_ATTRIBUTE', msg, { node: n.name, op: n.op });
}

function attr<T extends AttrValue>(n: OnnxNode, name: string, def: T): T {
  const v = n.attrs.get(name);
  if (v === undefined) return def;
  if (isTensorAttr(v) || typeof v !== typeof def || Array.isArray(v) !== Array.isArray(def)) {
    badAttr(n, `attribute '${name}' must be ${Array.isArray(def) ? 'a list' : typeof def}, got ${JSON.stringify(isTensorAttr(v) ? 'a tensor' : v)}`);
  }
  return v as T;
}

const has = (n: OnnxNode, i: number) => i < n.inputs.length && n.inputs[i] !== '';

/** A constant input's values as numbers (shape vectors, axes, bounds). */
function constInput(imp: ConvertContext, n: OnnxNode, i: number, what: string): number[] {
  const t = imp.constOf(n.inputs[i], n);
  if (!t) unsupported(n, `input ${i} (${what}) must be a constant: cnnc shapes are static`, n.inputs[i]);
  return toNumbers(t);
}

function optConstInput(imp: ConvertContext, n: OnnxNode, i: number, what: string): number[] | undefined {
  return has(n, i) ? constInput(imp, n, i, what) : undefined;
}

/**
 * ONNX attributes an IR op may leave out, with the values that make dropping them safe
 * ('*' = any value: the attribute only matters in training or for outputs cnnc does not make).
 */
const IGNORABLE: Record<string, Record<string, AttrValue | '*'>> = {
  '*': { consumed_inputs: '*' },
  BatchNormalization: { momentum: '*', spatial: 1, is_test: '*', training_mode: 0 },
  MaxPool: { storage_order: '*', auto_pad: 'NOTSET' },
  LayerNormalization: { stash_type: '*' },
  Conv: { auto_pad: 'NOTSET' }, ConvTranspose: { auto_pad: 'NOTSET' },
  AveragePool: { auto_pad: 'NOTSET' }, LpPool: { auto_pad: 'NOTSET' },
  Gemm: { broadcast: '*' }, Add: { broadcast: '*' }, Sub: { broadcast: '*' }, Mul: { broadcast: '*' }, Div: { broadcast: '*' }, Pow: { broadcast: '*' },
  Resize: { antialias: 0 },
  Gelu: { approximate: 'none' },
};

function ignorable(op: string, key: string, v: AttrValue): boolean {
  for (const table of [IGNORABLE['*'], Object.hasOwn(IGNORABLE, op) ? IGNORABLE[op] : {}]) {
    if (!Object.hasOwn(table, key)) continue;
    const ok = table[key];
    if (ok === '*' || JSON.stringify(ok) === JSON.stringify(v)) return true;
  }
  return false;
}

/**
 * The node's ONNX attributes as IR attributes of `irOp`: kept when the IR op declares them,
 * dropped when ignorable, an UNSUPPORTED error otherwise. `over` replaces/adds attributes,
 * `skip` names ONNX attributes the converter handled itself.
 */
function irAttrs(n: OnnxNode, irOp: string, over: Attrs = {}, skip: readonly string[] = []): Attrs {
  const spec = getOp(irOp, n.name).attrs;
  const out: Attrs = {};
  for (const [k, v] of n.attrs) {
    if (skip.includes(k) || Object.hasOwn(over, k)) continue;
    if (isTensorAttr(v)) unsupported(n, `tensor attribute '${k}' is not supported`);
    if (Object.hasOwn(spec, k)) out[k] = v;
    else if (!ignorable(n.op, k, v)) unsupported(n, `attribute ${k}=${JSON.stringify(v)} is not supported by cnnc's ${irOp}`);
  }
  for (const [k, v] of Object.entries(over)) if (v !== undefined) out[k] = v;
  return out;
}

/** Every ONNX input mapped to IR names. */
function irInputs(imp: ConvertContext, n: OnnxNode, count = n.inputs.length): string[] {
  const ins = n.inputs.slice(0, count).map((i) => imp.ir(i, n));
  while (ins.length && ins[ins.length - 1] === '') ins.pop();
  return ins;
}

/** Outputs beyond the first that are read by someone: cnnc does not compute them. */
function onlyFirstOutput(imp: ConvertContext, n: OnnxNode, why: string): void {
  n.outputs.slice(1).forEach((o) => { if (imp.isUsed(o)) unsupported(n, `output '${o}' is not supported (${why})`, o); });
}

const simple = (irOp: string, prepare?: (imp: ConvertContext, n: OnnxNode) => Attrs, skip: string[] = []): Converter => ({
  needs: [irOp],
  run(imp, n) {
    imp.emit(n, irOp, irInputs(imp, n), irAttrs(n, irOp, prepare?.(imp, n) ?? {}, skip), n.outputs);
  },
});

/**
 * Add/Sub/Mul/Div/Pow. Before opset 7, broadcast=1 with an `axis` aligns B's dims with A's from
 * that axis (not from the last one, as numpy): B gets trailing 1-dims so that numpy rules agree.
 */
function legacyBroadcast(op: string): Converter {
  return {
    needs: [op, 'Reshape'],
    run(imp, n) {
      const ins = irInputs(imp, n);
      const axis = n.attrs.get('axis');
      if (n.opset < 7 && attr<number>(n, 'broadcast', 0) === 1 && typeof axis === 'number' && ins.length === 2) {
        const a = imp.typeOf(n.inputs[0], n).shape, b = imp.typeOf(n.inputs[1], n).shape;
        const trailing = a.length - (axis < 0 ? axis + a.length : axis) - b.length;
        if (trailing > 0) [ins[1]] = imp.emit(n, 'Reshape', [ins[1]], { shape: [...b, ...new Array<number>(trailing).fill(1)] });
      }
      imp.emit(n, op, ins, irAttrs(n, op, {}, ['axis']), n.outputs);
    },
  };
}

/** The generic converter: the IR op of the same name, ONNX attributes kept as they are. */
export const GENERIC: Converter = {
  needs: [],
  run(imp, n) {
    imp.emit(n, n.op, irInputs(imp, n), irAttrs(n, n.op), n.outputs);
  },
};

// ---- auto_pad, resolved here when the IR op does not take it ----

function spatialPads(imp: ConvertContext, n: OnnxNode, irOp: string, kernel: number[], transposed: boolean): Attrs {
  const autoPad = attr(n, 'auto_pad', 'NOTSET');
  if (autoPad === 'NOTSET' || Object.hasOwn(getOp(irOp, n.name).attrs, 'auto_pad')) return {};
  const x = imp.typeOf(n.inputs[0], n).shape;
  const k = kernel.length;
  const strides = attr(n, 'strides', new Array<number>(k).fill(1));
  const dil = attr(n, 'dilations', new Array<number>(k).fill(1));
  const outPad = attr(n, 'output_padding', new Array<number>(k).fill(0));
  const pads = new Array<number>(2 * k).fill(0);
  if (autoPad === 'VALID') return { pads };
  if (autoPad !== 'SAME_UPPER' && autoPad !== 'SAME_LOWER') badAttr(n, `auto_pad '${autoPad}' is not NOTSET, VALID, SAME_UPPER or SAME_LOWER`);
  for (let i = 0; i < k; i++) {
    const inp = x[2 + i];
    const ext = (kernel[i] - 1) * dil[i] + 1;
    const total = transposed
      ? Math.max(0, strides[i] * (inp - 1) + outPad[i] + ext - inp * strides[i])
      : Math.max(0, (Math.ceil(inp / strides[i]) - 1) * strides[i] + ext - inp);
    const small = Math.floor(total / 2);
    pads[i] = autoPad === 'SAME_UPPER' ? small : total - small;
    pads[i + k] = total - pads[i];
  }
  return { pads };
}

function kernelOf(imp: ConvertContext, n: OnnxNode, fromWeights: boolean): number[] {
  const k = n.attrs.has('kernel_shape') ? attr(n, 'kernel_shape', [] as number[]) : undefined;
  if (k) return k;
  if (!fromWeights) badAttr(n, "attribute 'kernel_shape' is required");
  return imp.typeOf(n.inputs[1], n).shape.slice(2);
}

const conv = (irOp: string, transposed: boolean): Converter => ({
  needs: [irOp],
  run(imp, n) {
    const pads = spatialPads(imp, n, irOp, kernelOf(imp, n, true), transposed);
    imp.emit(n, irOp, irInputs(imp, n), irAttrs(n, irOp, pads, pads.pads ? ['auto_pad'] : []), n.outputs);
  },
});

const pool = (irOp: string): Converter => ({
  needs: [irOp],
  run(imp, n) {
    onlyFirstOutput(imp, n, 'MaxPool indices');
    const pads = spatialPads(imp, n, irOp, kernelOf(imp, n, false), false);
    imp.emit(n, irOp, irInputs(imp, n), irAttrs(n, irOp, pads, pads.pads ? ['auto_pad'] : []), n.outputs.slice(0, 1));
  },
});

// ---- the converters ----

function unaryAlias(imp: ConvertContext, n: OnnxNode): void {
  const x = imp.ir(n.inputs[0], n);
  const out = n.outputs[0] ?? '';
  if (imp.isGraphOutput(out) && hasOp('Identity')) imp.emit(n, 'Identity', [x], {}, [out]);
  else imp.alias(out, x);
}

/** Softmax-like ops before opset 13 flatten to 2-D at `axis` (default 1); from 13 they act on one axis (default -1). */
const softmaxLike = (irOp: string): Converter => ({
  needs: [irOp, 'Reshape'],
  run(imp, n) {
    const x = imp.ir(n.inputs[0], n);
    const shape = imp.typeOf(n.inputs[0], n).shape;
    const r = shape.length;
    if (n.opset >= 13) {
      imp.emit(n, irOp, [x], irAttrs(n, irOp, { axis: attr(n, 'axis', -1) }), n.outputs);
      return;
    }
    let axis = attr(n, 'axis', 1);
    if (axis < 0) axis += r;
    if (axis < 0 || axis > r) badAttr(n, `axis ${attr(n, 'axis', 1)} is out of range for rank ${r}`);
    if (axis === r - 1 || r <= 1) {
      imp.emit(n, irOp, [x], irAttrs(n, irOp, { axis: -1 }), n.outputs);
      return;
    }
    const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
    const inner = shape.slice(axis).reduce((a, b) => a * b, 1);
    const [flat] = imp.emit(n, 'Reshape', [x], { shape: [outer, inner] });
    const [y] = imp.emit(n, irOp, [flat], irAttrs(n, irOp, { axis: 1 }));
    imp.emit(n, 'Reshape', [y], { shape: [...shape] }, n.outputs);
  },
});

/** Resize (opsets 10, 11, 13, 18, 19) and Upsample (7, 9) onto the IR Resize {scales | sizes, modes}. */
const resize = (upsample: boolean): Converter => ({
  needs: ['Resize'],
  run(imp, n) {
    const x = imp.ir(n.inputs[0], n);
    const rank = imp.typeOf(n.inputs[0], n).shape.length;
    const legacy = upsample || n.opset < 11;
    let scales: number[] | undefined;
    let sizes: number[] | undefined;
    if (upsample && n.opset < 9) {
      scales = n.attrs.has('scales') ? attr(n, 'scales', [] as number[]) : [1, 1, attr(n, 'height_scale', 1), attr(n, 'width_scale', 1)];
    } else if (legacy) {
      scales = constInput(imp, n, 1, 'scales');
    } else {
      scales = optConstInput(imp, n, 2, 'scales');
      sizes = optConstInput(imp, n, 3, 'sizes');
      if (scales && scales.length === 0) scales = undefined;
      if (sizes && sizes.length === 0) sizes = undefined;
    }
    const mode: string = attr(n, 'mode', 'nearest');
    if (legacy) {
      const m = mode === 'bilinear' ? 'linear' : mode;
      const attrs = { scales: fullRank(n, scales!, rank, undefined, 1), sizes: [], mode: m, coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' };
      imp.emit(n, 'Resize', [x], attrs, n.outputs);
      return;
    }
    let ctm: string = attr(n, 'coordinate_transformation_mode', 'half_pixel');
    if (ctm === 'tf_half_pixel_for_nn') ctm = 'tf_half_pixel_for_nearest'; // the opset-11 name
    const spec = getOp('Resize', n.name).attrs;
    const crop = ctm === 'tf_crop_and_resize';
    if (crop && !Object.hasOwn(spec, 'roi')) unsupported(n, "coordinate_transformation_mode 'tf_crop_and_resize' is not supported");
    if (attr(n, 'antialias', 0) !== 0 && !Object.hasOwn(spec, 'antialias')) unsupported(n, 'antialias=1 is not supported');
    const axes = n.attrs.has('axes') ? attr(n, 'axes', [] as number[]).map((a) => (a < 0 ? a + rank : a)) : undefined;
    let roi: number[] | undefined;
    if (crop) {
      const given = constInput(imp, n, 1, 'roi');
      const k = axes ? axes.length : rank;
      roi = fullRank(n, given.slice(0, k), rank, axes, 0).concat(fullRank(n, given.slice(k), rank, axes, 1));
    }
    const xshape = imp.typeOf(n.inputs[0], n).shape;
    if (sizes) {
      sizes = fullRank(n, sizes, rank, axes, undefined, xshape);
      const policy = attr(n, 'keep_aspect_ratio_policy', 'stretch');
      if (policy !== 'stretch') sizes = keepAspect(n, sizes, xshape, axes ?? [...xshape.keys()], policy);
    }
    if (scales) scales = fullRank(n, scales, rank, axes, 1);
    if (!scales && !sizes) badAttr(n, 'Resize needs scales or sizes');
    const attrs = irAttrs(n, 'Resize', { scales: sizes ? [] : scales, sizes: sizes ?? [], coordinate_transformation_mode: ctm, roi }, ['axes', 'keep_aspect_ratio_policy']);
    imp.emit(n, 'Resize', [x], attrs, n.outputs);
  },
});

/** Values given for `axes` spread over every axis (others: `fill`, or the input's own size). */
function fullRank(n: OnnxNode, v: number[], rank: number, axes: number[] | undefined, fill?: number, xshape?: readonly number[]): number[] {
  if (!axes) {
    if (v.length !== rank) badAttr(n, `${v.length} values given for a rank-${rank} input`);
    return v;
  }
  if (v.length !== axes.length) badAttr(n, `${v.length} values given for ${axes.length} axes`);
  const out = xshape && fill === undefined ? [...xshape] : new Array<number>(rank).fill(fill ?? 1);
  axes.forEach((a, i) => { out[a] = v[i]; });
  return out;
}

function keepAspect(n: OnnxNode, sizes: number[], xshape: readonly number[], axes: number[], policy: string): number[] {
  const ratios = axes.map((a) => sizes[a] / xshape[a]);
  let s: number;
  if (policy === 'not_larger') s = Math.min(...ratios);
  else if (policy === 'not_smaller') s = Math.max(...ratios);
  else badAttr(n, `keep_aspect_ratio_policy '${policy}' is not stretch, not_larger or not_smaller`);
  const out = [...sizes];
  for (const a of axes) out[a] = Math.round(s * xshape[a]);
  return out;
}

function padConverter(): Converter {
  return {
    needs: ['Pad'],
    run(imp, n) {
      const x = imp.ir(n.inputs[0], n);
      const rank = imp.typeOf(n.inputs[0], n).shape.length;
      const mode = attr(n, 'mode', 'constant');
      let pads: number[];
      let value: number;
      if (n.opset < 11) {
        pads = n.attrs.has('paddings') ? attr(n, 'paddings', [] as number[]) : attr(n, 'pads', [] as number[]);
        value = attr(n, 'value', 0);
      } else {
        pads = constInput(imp, n, 1, 'pads');
        value = optConstInput(imp, n, 2, 'constant_value')?.[0] ?? 0;
        const axes = optConstInput(imp, n, 3, 'axes')?.map((a) => (a < 0 ? a + rank : a));
        if (axes) {
          if (pads.length !== 2 * axes.length) badAttr(n, `${pads.length} pads for ${axes.length} axes`);
          const full = new Array<number>(2 * rank).fill(0);
          axes.forEach((a, i) => { full[a] = pads[i]; full[a + rank] = pads[i + axes.length]; });
          pads = full;
        }
      }
      if (pads.length !== 2 * rank) badAttr(n, `${pads.length} pads for a rank-${rank} input`);
      imp.emit(n, 'Pad', [x], { pads, mode, value }, n.outputs);
    },
  };
}

function splitConverter(): Converter {
  return {
    needs: ['Split'],
    run(imp, n) {
      const x = imp.ir(n.inputs[0], n);
      const shape = imp.typeOf(n.inputs[0], n).shape;
      let axis = attr(n, 'axis', 0);
      if (axis < 0) axis += shape.length;
      if (axis < 0 || axis >= shape.length) badAttr(n, `axis ${attr(n, 'axis', 0)} is out of range for rank ${shape.length}`);
      let split = n.opset < 13 ? (n.attrs.has('split') ? attr(n, 'split', [] as number[]) : undefined) : optConstInput(imp, n, 1, 'split');
      if (!split || split.length === 0) {
        const parts = n.attrs.has('num_outputs') ? attr(n, 'num_outputs', 1) : n.outputs.length;
        const dim = shape[axis];
        if (n.attrs.has('num_outputs')) {
          const chunk = Math.ceil(dim / parts);
          split = Array.from({ length: parts }, (_, i) => Math.max(0, Math.min(chunk, dim - i * chunk)));
        } else {
          if (dim % parts !== 0) throw new CnncError('SHAPE_MISMATCH', `cannot split ${dim} into ${parts} equal parts`, { node: n.name, op: n.op });
          split = new Array<number>(parts).fill(dim / parts);
        }
      }
      imp.emit(n, 'Split', [x], { axis, split }, n.outputs);
    },
  };
}

/** Axes from the attribute (before `fromOpset`) or the optional second input. */
function axesOf(imp: ConvertContext, n: OnnxNode, fromOpset: number): number[] | undefined {
  if (n.opset < fromOpset) return n.attrs.has('axes') ? attr(n, 'axes', [] as number[]) : undefined;
  return optConstInput(imp, n, 1, 'axes');
}

function reduceConverter(irOp: string, axesInputFrom: number): Converter {
  return {
    needs: [irOp],
    run(imp, n) {
      const axes = axesOf(imp, n, axesInputFrom) ?? [];
      imp.emit(n, irOp, [imp.ir(n.inputs[0], n)], irAttrs(n, irOp, { axes }, ['axes']), n.outputs);
    },
  };
}

/**
 * LayerNormalization; when its optional Mean and InvStdDev outputs are read, they are computed
 * by extra IR nodes: ReduceMean over the normalized axes, then 1/sqrt(var + epsilon).
 */
function layerNorm(): Converter {
  return {
    needs: ['LayerNormalization', 'ReduceMean', 'Sub', 'Mul', 'Add', 'Sqrt', 'Reciprocal', 'Cast'],
    run(imp, n) {
      imp.emit(n, 'LayerNormalization', irInputs(imp, n), irAttrs(n, 'LayerNormalization'), n.outputs.slice(0, 1));
      const [, meanOut = '', invOut = ''] = n.outputs;
      if (!imp.isUsed(meanOut) && !imp.isUsed(invOut)) return;
      const t = imp.typeOf(n.inputs[0], n);
      const rank = t.shape.length;
      let axis = attr(n, 'axis', -1);
      if (axis < 0) axis += rank;
      const axes = Array.from({ length: rank - axis }, (_, i) => axis + i);
      // stash_type 1 (the default) computes the statistics in float32.
      let x = imp.ir(n.inputs[0], n);
      if (attr(n, 'stash_type', 1) === 1 && t.dtype !== 'f32') [x] = imp.emit(n, 'Cast', [x], { to: 'f32' });
      const [mean] = imp.emit(n, 'ReduceMean', [x], { axes, keepdims: 1 }, [meanOut]);
      if (!imp.isUsed(invOut)) return;
      const [d] = imp.emit(n, 'Sub', [x, mean], {});
      const [d2] = imp.emit(n, 'Mul', [d, d], {});
      const [v] = imp.emit(n, 'ReduceMean', [d2], { axes, keepdims: 1 });
      const eps = imp.constant('', tensor(imp.g.type(x).dtype, [], [attr(n, 'epsilon', 1e-5)]), n);
      const [ve] = imp.emit(n, 'Add', [v, eps], {});
      const [sd] = imp.emit(n, 'Sqrt', [ve], {});
      imp.emit(n, 'Reciprocal', [sd], {}, [invOut]);
    },
  };
}

function batchNorm(): Converter {
  return {
    needs: ['BatchNormalization'],
    run(imp, n) {
      if (attr(n, 'training_mode', 0) !== 0 && n.outputs.slice(1).some((o) => o !== '')) {
        unsupported(n, 'training_mode=1 (running statistics outputs) is not supported: cnnc compiles inference graphs');
      }
      if (attr(n, 'spatial', 1) !== 1) unsupported(n, 'spatial=0 (per-activation statistics) is not supported');
      onlyFirstOutput(imp, n, 'training statistics');
      const attrs = irAttrs(n, 'BatchNormalization', {}, ['training_mode']);
      imp.emit(n, 'BatchNormalization', irInputs(imp, n, 5), attrs, n.outputs.slice(0, 1));
    },
  };
}

// ---- quantization (ir/ops/quant.ts) ----

/** A dtype attribute given as an ONNX TensorProto code (0 = unset) as an IR dtype ('' = unset). */
function dtypeCodeAttr(n: OnnxNode, name: string): string {
  const code = attr(n, name, 0);
  return code === 0 ? '' : irDtype(code, { node: n.name, op: n.op });
}

/**
 * QuantizeLinear/DequantizeLinear, opsets 10–25: axis (13), saturate (19), block_size and
 * output_dtype (21), precision (25) map onto the IR attributes; scale and zero point stay inputs.
 * A DequantizeLinear of constant integers (quantized weights) is not folded at import, so that
 * passes/quantize-qdq.ts still sees the int8 weights; fold-constants folds it for f32 targets.
 */
const quantLinear = (irOp: 'QuantizeLinear' | 'DequantizeLinear'): Converter => ({
  needs: [irOp],
  run(imp, n) {
    const dtypes = irOp === 'QuantizeLinear' ? ['output_dtype', 'precision'] : ['output_dtype'];
    const over: Attrs = Object.fromEntries(dtypes.filter((k) => n.attrs.has(k)).map((k) => [k, dtypeCodeAttr(n, k)]));
    const attrs = irAttrs(n, irOp, over);
    const ins = irInputs(imp, n);
    if (irOp === 'QuantizeLinear' || !imp.g.constValue(ins[0])) {
      imp.emit(n, irOp, ins, attrs, n.outputs);
      return;
    }
    const [out] = imp.g.addNode(irOp, ins, attrs, { name: n.name, outputs: [imp.g.freshName(n.outputs[0] || `${n.name}_out0`)] });
    imp.alias(n.outputs[0] ?? '', out);
  },
});

export const CONVERTERS: Record<string, Converter> = {
  QuantizeLinear: quantLinear('QuantizeLinear'),
  DequantizeLinear: quantLinear('DequantizeLinear'),
  Add: legacyBroadcast('Add'),
  Sub: legacyBroadcast('Sub'),
  Mul: legacyBroadcast('Mul'),
  Div: legacyBroadcast('Div'),
  Pow: legacyBroadcast('Pow'),
  Constant: {
    needs: [],
    run(imp, n) {
      const t = constantAttr(imp, n);
      imp.constant(n.outputs[0] ?? '', t, n);
    },
  },
  ConstantOfShape: {
    needs: [],
    run(imp, n) {
      const shape = constInput(imp, n, 0, 'shape');
      const v = n.attrs.get('value');
      const fill = isTensorAttr(v) ? tensorFromProto(v.tensorProto, imp.limits, n.name) : tensor('f32', [1], [0]);
      if (fill.data.length !== 1) badAttr(n, "attribute 'value' must hold one element");
      const size = shape.reduce((a, b) => a * b, 1);
      if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0) || size * 8 > imp.limits.maxTensorBytes) {
        throw new CnncError('TOO_LARGE', `ConstantOfShape [${shape}] is invalid or over the size limit`, { node: n.name, op: n.op });
      }
      const t = tensor(fill.dtype, shape);
      for (let i = 0; i < size; i++) (t.data as unknown as unknown[])[i] = (fill.data as unknown as unknown[])[0];
      imp.constant(n.outputs[0] ?? '', t, n);
    },
  },
  // Shapes are static: Shape is a constant.
  Shape: {
    needs: [],
    run(imp, n) {
      const shape = imp.typeOf(n.inputs[0], n).shape;
      const r = shape.length;
      const clamp = (v: number) => Math.min(r, Math.max(0, v < 0 ? v + r : v));
      const dims = shape.slice(clamp(attr(n, 'start', 0)), clamp(attr(n, 'end', r)));
      imp.constant(n.outputs[0] ?? '', tensor('i64', [dims.length], BigInt64Array.from(dims.map(BigInt))), n);
    },
  },
  Identity: { needs: [], run: unaryAlias },
  Dropout: {
    needs: [],
    run(imp, n) {
      const training = n.opset >= 12 ? optConstInput(imp, n, 2, 'training_mode')?.[0] ?? 0 : 0;
      if (training) unsupported(n, 'training_mode=true is not supported: cnnc compiles inference graphs');
      if (n.opset < 7 && attr(n, 'is_test', 0) === 0 && imp.isUsed(n.outputs[1] ?? '')) unsupported(n, 'training-mode Dropout is not supported');
      unaryAlias(imp, n);
      const mask = n.outputs[1] ?? '';
      if (imp.isUsed(mask)) {
        const shape = imp.typeOf(n.inputs[0], n).shape;
        const t = tensor('bool', shape);
        (t.data as Uint8Array).fill(1);
        imp.constant(mask, t, n);
      }
    },
  },
  Clip: {
    needs: ['Clip'],
    run(imp, n) {
      const x = imp.ir(n.inputs[0], n);
      let min: number, max: number;
      if (n.opset < 11) {
        min = attr(n, 'min', -Infinity);
        max = attr(n, 'max', Infinity);
      } else {
        min = optConstInput(imp, n, 1, 'min')?.[0] ?? -Infinity;
        max = optConstInput(imp, n, 2, 'max')?.[0] ?? Infinity;
      }
      imp.emit(n, 'Clip', [x], { min, max }, n.outputs);
    },
  },
  Reshape: {
    needs: ['Reshape'],
    run(imp, n) {
      const shape = n.opset < 5 ? attr(n, 'shape', [] as number[]) : constInput(imp, n, 1, 'shape');
      imp.emit(n, 'Reshape', [imp.ir(n.inputs[0], n)], irAttrs(n, 'Reshape', { shape }), n.outputs);
    },
  },
  Expand: {
    needs: ['Expand'],
    run(imp, n) {
      imp.emit(n, 'Expand', [imp.ir(n.inputs[0], n)], { shape: constInput(imp, n, 1, 'shape') }, n.outputs);
    },
  },
  Tile: {
    needs: ['Tile'],
    run(imp, n) {
      imp.emit(n, 'Tile', [imp.ir(n.inputs[0], n)], { repeats: constInput(imp, n, 1, 'repeats') }, n.outputs);
    },
  },
  Slice: {
    needs: ['Slice'],
    run(imp, n) {
      const rank = imp.typeOf(n.inputs[0], n).shape.length;
      const old = n.opset < 10;
      const starts = old ? attr(n, 'starts', [] as number[]) : constInput(imp, n, 1, 'starts');
      const ends = old ? attr(n, 'ends', [] as number[]) : constInput(imp, n, 2, 'ends');
      const axes = (old ? (n.attrs.has('axes') ? attr(n, 'axes', [] as number[]) : undefined) : optConstInput(imp, n, 3, 'axes')) ?? starts.map((_, i) => i);
      const steps = (old ? undefined : optConstInput(imp, n, 4, 'steps')) ?? starts.map(() => 1);
      if (ends.length !== starts.length || axes.length !== starts.length || steps.length !== starts.length) {
        badAttr(n, `starts/ends/axes/steps have ${starts.length}/${ends.length}/${axes.length}/${steps.length} values`);
      }
      if (axes.some((a) => a < -rank || a >= rank)) badAttr(n, `axes [${axes}] out of range for rank ${rank}`);
      imp.emit(n, 'Slice', [imp.ir(n.inputs[0], n)], { starts, ends, axes, steps }, n.outputs);
    },
  },
  Squeeze: {
    needs: ['Squeeze'],
    run(imp, n) {
      const shape = imp.typeOf(n.inputs[0], n).shape;
      const axes = axesOf(imp, n, 13) ?? shape.flatMap((d, i) => (d === 1 ? [i] : []));
      imp.emit(n, 'Squeeze', [imp.ir(n.inputs[0], n)], { axes }, n.outputs);
    },
  },
  Unsqueeze: {
    needs: ['Unsqueeze'],
    run(imp, n) {
      const axes = axesOf(imp, n, 13);
      if (!axes) badAttr(n, 'Unsqueeze needs axes');
      imp.emit(n, 'Unsqueeze', [imp.ir(n.inputs[0], n)], { axes }, n.outputs);
    },
  },
  // Reductions: axes became an input in opset 13 (ReduceSum) and 18 (the others).
  ReduceMean: reduceConverter('ReduceMean', 18),
  ReduceMax: reduceConverter('ReduceMax', 18),
  ReduceMin: reduceConverter('ReduceMin', 18),
  ReduceSum: reduceConverter('ReduceSum', 13),
  Size: {
    needs: [],
    run(imp, n) {
      const size = imp.typeOf(n.inputs[0], n).shape.reduce((a, b) => a * b, 1);
      imp.constant(n.outputs[0] ?? '', tensor('i64', [], BigInt64Array.of(BigInt(size))), n);
    },
  },
  CastLike: {
    needs: ['Cast'],
    run(imp, n) {
      const to = imp.typeOf(n.inputs[1], n).dtype;
      imp.emit(n, 'Cast', [imp.ir(n.inputs[0], n)], irAttrs(n, 'Cast', { to }), n.outputs);
    },
  },
  PRelu: {
    needs: ['PRelu', 'Reshape'],
    run(imp, n) {
      const x = imp.typeOf(n.inputs[0], n).shape;
      let slope = imp.ir(n.inputs[1], n);
      const s = imp.typeOf(n.inputs[1], n).shape;
      // Before opset 7 a 1-D slope is per channel (axis 1), not numpy-broadcast from the last axis.
      if (n.opset < 7 && s.length === 1 && x.length > 2 && s[0] === x[1] && s[0] !== 1) {
        [slope] = imp.emit(n, 'Reshape', [slope], { shape: [s[0], ...new Array<number>(x.length - 2).fill(1)] });
      }
      imp.emit(n, 'PRelu', [imp.ir(n.inputs[0], n), slope], irAttrs(n, 'PRelu'), n.outputs);
    },
  },
  Split: splitConverter(),
  Pad: padConverter(),
  Resize: resize(false),
  Upsample: resize(true),
  BatchNormalization: batchNorm(),
  Softmax: softmaxLike('Softmax'),
  LogSoftmax: softmaxLike('LogSoftmax'),
  Hardmax: softmaxLike('Hardmax'),
  Conv: conv('Conv', false),
  ConvTranspose: conv('ConvTranspose', true),
  MaxPool: pool('MaxPool'),
  AveragePool: pool('AveragePool'),
  LayerNormalization: layerNorm(),
  Cast: {
    needs: ['Cast'],
    run(imp, n) {
      const to = irDtype(attr(n, 'to', 0), { node: n.name, op: n.op });
      imp.emit(n, 'Cast', [imp.ir(n.inputs[0], n)], irAttrs(n, 'Cast', { to }), n.outputs);
    },
  },
  Transpose: {
    needs: ['Transpose'],
    run(imp, n) {
      const rank = imp.typeOf(n.inputs[0], n).shape.length;
      const perm = attr(n, 'perm', Array.from({ length: rank }, (_, i) => rank - 1 - i));
      imp.emit(n, 'Transpose', [imp.ir(n.inputs[0], n)], { perm }, n.outputs);
    },
  },
};

/** The value of a Constant node, from whichever of its attributes is set. */
function constantAttr(imp: ConvertContext, n: OnnxNode): Tensor {
  const [key, v] = [...n.attrs][0] ?? [];
  if (n.attrs.size !== 1 || v === undefined) badAttr(n, 'Constant needs exactly one value attribute');
  switch (key) {
    case 'value':
      if (!isTensorAttr(v)) badAttr(n, "attribute 'value' must be a tensor");
      return tensorFromProto(v.tensorProto, imp.limits, n.outputs[0] ?? n.name);
    case 'value_float': return tensor('f32', [], [attr(n, key, 0)]);
    case 'value_floats': return tensor('f32', [attr(n, key, [] as number[]).length], attr(n, key, [] as number[]));
    case 'value_int': return tensor('i64', [], BigInt64Array.of(BigInt(Math.trunc(attr(n, key, 0)))));
    case 'value_ints': {
      const v2 = attr(n, key, [] as number[]);
      return tensor('i64', [v2.length], BigInt64Array.from(v2.map((x) => BigInt(Math.trunc(x)))));
    }
    default:
      unsupported(n, `Constant attribute '${key}' is not supported (tensors, floats and ints only)`);
  }
}
