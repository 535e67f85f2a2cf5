/**
 * What one op is, defined in one place: attributes with defaults, type/shape inference,
 * a reference kernel (plain TypeScript, float64 accumulation) and its cost.
 * The importers, the passes, the summary and the golden tests all read this definition.
 */
import type { Tensor } from '../runtime/tensor.js';
import { CnncError } from '../runtime/errors.js';
import type { TensorType } from './types.js';
import type { Scalar } from './scalar.js';

export type AttrValue = number | string | number[] | string[];
export type Attrs = Record<string, AttrValue>;

/** One input as inference sees it: its type and, when the input is a constant, its value. */
export interface InferInput {
  readonly name: string;
  readonly type: TensorType;
  readonly value?: Tensor;
}

/** A node as an op's inference and cost see it. Absent optional inputs are `undefined`. */
export interface NodeInfo {
  readonly name: string;
  readonly op: string;
  readonly attrs: Attrs;
  readonly inputs: readonly (InferInput | undefined)[];
}

export interface Cost {
  /** Trainable parameters (torchvision counts: BN running stats are not parameters). */
  params: number;
  /** Floating-point operations, 2 per multiply-accumulate. */
  flops: number;
  bytesRead: number;
  bytesWritten: number;
}

/** A sliding window over the spatial axes, for receptive-field bookkeeping in the summary. */
export interface Window {
  kernel: number[];
  strides: number[];
  dilations: number[];
}

/**
 * What family an op belongs to, for tables and for consumers that treat a family alike:
 * elementwise (unary math, broadcast arithmetic, comparisons, logic, Where, Cast), activation,
 * reduction, movement (data rearranged or viewed, values unchanged), normalization, conv-like,
 * matmul-like, pool, resize, shape (ops computing on shapes), quantization.
 */
export type OpCategory =
  | 'elementwise' | 'activation' | 'reduction' | 'movement' | 'normalization' | 'conv' | 'matmul' | 'pool' | 'resize' | 'shape'
  | 'quantization';

/** An epilogue activation: what a fused Conv/ConvTranspose/Gemm/FusedDwPw carries in its attributes. */
export interface EpilogueActivation {
  activation: string;
  act_alpha: number;
  act_beta: number;
}

/**
 * What every layer needs to know about an op without keeping a list of op names: the passes
 * (layout, fp16, epilogue fusion, memory planning), the code generators (which render `scalar`)
 * and the ONNX exporter read these.
 */
export interface OpTraits {
  readonly category: OpCategory;
  /**
   * Output element i reads only the input elements at i after numpy broadcasting, so the op gives the
   * same values in any layout (given inputs transposed alike) and can join an elementwise kernel.
   */
  readonly elementwise?: boolean;
  /** The output is input 0's bytes under another shape (Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout). */
  readonly alias?: boolean;
  /**
   * Under fp16: 'compute' — precise enough to compute in f16 (f32 accumulation where it sums);
   * 'follow' — moves data, so it takes the dtype its input has. Absent: stays f32.
   */
  readonly fp16?: 'compute' | 'follow';
  /** The output may overwrite input 0's buffer (element i written after element i is read; same size). */
  readonly inPlace?: boolean;
  /** Layout-aware ops (a `layout` attribute): the inputs that carry activations and change layout with it. */
  readonly layoutInputs?: readonly number[];
  /**
   * The float formula of an elementwise op over its inputs x0…x(n−1) (after broadcasting), given its
   * attributes (defaults filled in) and input count. undefined: no scalar form (e.g. Cast, logic ops).
   */
  scalar?(attrs: Attrs, arity: number): Scalar | undefined;
  /** The op as an epilogue activation a Conv/Gemm can absorb (undefined when these attributes cannot be). */
  asActivation?(attrs: Attrs): EpilogueActivation | undefined;
}

export interface OpDef {
  readonly name: string;
  /** One line for docs and the ops table. */
  readonly doc: string;
  /** How many inputs the op takes (optional ones trailing; '' marks an absent one in a node). */
  readonly inputs: readonly [min: number, max: number];
  /** Attribute defaults; `null` marks a required attribute. Unlisted attributes are rejected. */
  readonly attrs: Readonly<Record<string, AttrValue | null>>;
  /** Output types from input types, constant inputs and attributes (defaults already filled in). */
  infer(node: NodeInfo): TensorType[];
  /** The reference kernel. Inputs in op order (`undefined` for absent optional ones). */
  reference(inputs: readonly (Tensor | undefined)[], attrs: Attrs, outputs: readonly TensorType[]): Tensor[];
  /** FLOPs and params; the rest is filled in from types (see ir/cost.ts). */
  cost?(node: NodeInfo, outputs: readonly TensorType[]): Partial<Cost>;
  /** Spatial window for receptive fields: 'global' for global pooling. */
  window?(node: NodeInfo): Window | 'global' | undefined;
  /** What the other layers read about the op instead of keeping lists of op names. */
  readonly traits: OpTraits;
}

// ---- attribute access with clear errors ----

function badAttr(node: NodeInfo | undefined, name: string, msg: string): never {
  throw new CnncError('BAD_ATTRIBUTE', `attribute '${name}' ${msg}`, { node: node?.name, op: node?.op });
}

export function attrInt(attrs: Attrs, name: string, node?: NodeInfo): number {
  const v = attrs[name];
  if (typeof v !== 'number' || !Number.isFinite(v)) badAttr(node, name, `must be a number, got ${JSON.stringify(v)}`);
  return v;
}

/** A float attribute; ±Infinity allowed (Clip's open bounds). */
export function attrFloat(attrs: Attrs, name: string, node?: NodeInfo): number {
  const v = attrs[name];
  if (typeof v !== 'number' || Number.isNaN(v)) badAttr(node, name, `must be a number, got ${JSON.stringify(v)}`);
  return v;
}

export function attrInts(attrs: Attrs, name: string, node?: NodeInfo): number[] {
  const v = attrs[name];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'number')) badAttr(node, name, `must be a list of numbers, got ${JSON.stringify(v)}`);
  return v as number[];
}

export function attrString(attrs: Attrs, name: string, node?: NodeInfo): string {
  const v = attrs[name];
  if (typeof v !== 'string') badAttr(node, name, `must be a string, got ${JSON.stringify(v)}`);
  return v;
}

/** Throws a typed error about this node. */
export function fail(node: NodeInfo, code: 'SHAPE_MISMATCH' | 'DTYPE_MISMATCH' | 'BAD_ATTRIBUTE' | 'UNSUPPORTED' | 'BAD_GRAPH', msg: string, value?: string): never {
  throw new CnncError(code, msg, { node: node.name, op: node.op, value });
}

/** The i-th input, which must be present. */
export function input(node: NodeInfo, i: number): InferInput {
  const x = node.inputs[i];
  if (!x) fail(node, 'BAD_GRAPH', `input ${i} is required`);
  return x;
}
