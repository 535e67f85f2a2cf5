/**
 * ONNX → ir.Graph. Decodes the ModelProto, checks it (unknown ops listed at once, cycles,
 * undefined and duplicate names, sizes over the limit), then walks the nodes in topological
 * order through the per-op converters in ops.ts, which normalize opset differences into the
 * IR contract. Nodes whose inputs are all constant are evaluated with the reference kernels,
 * so the Shape→Gather→Unsqueeze→Concat→Reshape chains exporters emit become constants.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CnncError } from '../../runtime/errors.js';
import { BYTES_PER_ELEMENT, sizeOf, type Tensor } from '../../runtime/tensor.js';
import { Graph, fillAttrs, topoSort, type Node } from '../../ir/graph.js';
import type { AttrValue } from '../../ir/op.js';
import { getOp, hasOp } from '../../ir/ops/index.js';
import { formatType, type TensorType } from '../../ir/types.js';
import { attrValue, irDtype, onnx, tensorFromProto, toNum, type ITensorProto, type TensorAttr, type TensorLimits } from './proto.js';
import { CONVERTERS, GENERIC, type ConvertContext, type Converter, type OnnxNode } from './ops.js';
import type { ImportOptions } from './options.js';

export type { ImportOptions } from './options.js';

export const DEFAULT_MAX_TENSOR_BYTES = 2 ** 31;
/** Constant folding stops at outputs this large (they stay nodes). */
const FOLD_LIMIT_BYTES = 16 * 2 ** 20;

type O = typeof import('onnx-proto').onnx;
type ModelProto = InstanceType<O['ModelProto']>;
type NodeProto = import('onnx-proto').onnx.INodeProto;
type ValueInfoProto = import('onnx-proto').onnx.IValueInfoProto;
type Dim = import('onnx-proto').onnx.TensorShapeProto.IDimension;
/** Whether a dimension holds a number (protobufjs names the set member of the oneof in `value`). */
const isStatic = (d: Dim) => (d as { value?: string }).value === 'dimValue' && !d.dimParam;

/** Reads a model file; external data may come from files beside it. */
export function loadOnnxFile(file: string, opts: ImportOptions = {}): Graph {
  let bytes: Uint8Array;
  try {
    if (!fs.statSync(file).isFile()) throw new CnncError('IO_ERROR', `'${file}' is not a regular file`); // a FIFO would block
    bytes = fs.readFileSync(file);
  } catch (e) {
    if (e instanceof CnncError) throw e;
    throw new CnncError('IO_ERROR', `cannot read '${file}': ${(e as Error).message}`);
  }
  return importOnnx(bytes, { modelDir: path.dirname(path.resolve(file)), ...opts });
}

export function decodeModel(bytes: Uint8Array): ModelProto {
  try {
    return onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new CnncError('BAD_MODEL', `not a valid ONNX protobuf: ${(e as Error).message}`);
  }
}

/** A tensor from a serialized TensorProto (the .pb files of ONNX test data). */
export function readTensorProto(bytes: Uint8Array, opts: { maxTensorBytes?: number } = {}): Tensor {
  let t: ITensorProto;
  try {
    t = onnx.TensorProto.decode(bytes);
  } catch (e) {
    throw new CnncError('BAD_MODEL', `not a valid ONNX TensorProto: ${(e as Error).message}`);
  }
  return tensorFromProto(t, { maxTensorBytes: opts.maxTensorBytes ?? DEFAULT_MAX_TENSOR_BYTES });
}

export function importOnnx(bytes: Uint8Array, opts: ImportOptions = {}): Graph {
  const model = decodeModel(bytes);
  return new Importer(model, opts).run();
}

/** Context the per-op converters work with (see ops.ts). */
export class Importer implements ConvertContext {
  readonly g: Graph;
  readonly limits: TensorLimits;
  private readonly model: ModelProto;
  private readonly opts: ImportOptions;
  private readonly opset: number;
  /** ONNX value name → IR value name (renames, aliases of Identity/Dropout). */
  private readonly names = new Map<string, string>();
  private readonly graphInputs = new Set<string>();
  /** ONNX names read by some node or listed as graph outputs. */
  private readonly used = new Set<string>();
  private readonly graphOutputs = new Set<string>();

  constructor(model: ModelProto, opts: ImportOptions) {
    this.model = model;
    this.opts = opts;
    this.limits = { maxTensorBytes: opts.maxTensorBytes ?? DEFAULT_MAX_TENSOR_BYTES, modelDir: opts.modelDir };
    this.g = new Graph(model.graph?.name || 'onnx');
    this.opset = mainOpset(model);
  }

  run(): Graph {
    const graph = this.model.graph;
    if (!graph) throw new CnncError('BAD_MODEL', 'model has no graph');
    const nodes = graph.node ?? [];
    const named = nodes.map((n, i) => this.onnxNode(n, i));
    checkKnownOps(named);
    for (const n of named) for (const i of n.inputs) if (i) this.used.add(i);
    for (const o of graph.output ?? []) { this.used.add(o.name ?? ''); this.graphOutputs.add(o.name ?? ''); }

    this.addInitializers(graph.initializer ?? []);
    this.addInputs(graph.input ?? []);
    for (const n of this.sorted(named)) this.convert(n);
    this.setOutputs(graph.output ?? []);
    this.pruneConstants();
    return this.g;
  }

  // ---- reading the model ----

  private onnxNode(n: NodeProto, index: number): OnnxNode {
    const op = n.opType ?? '';
    const name = n.name || `${op || 'node'}_${index}`;
    const domain = n.domain ?? '';
    const attrs = new Map<string, AttrValue | TensorAttr>();
    for (const a of n.attribute ?? []) {
      if (a.refAttrName) throw new CnncError('UNSUPPORTED', `attribute '${a.name}' refers to a function attribute`, { node: name, op });
      attrs.set(a.name ?? '', attrValue(a, { node: name, op }));
    }
    return {
      name,
      op: domain === '' || domain === 'ai.onnx' ? op : `${domain}::${op}`,
      opset: this.opset,
      inputs: [...(n.input ?? [])],
      outputs: [...(n.output ?? [])],
      attrs,
    };
  }

  private addInitializers(inits: readonly ITensorProto[]): void {
    for (const t of inits) {
      const name = t.name ?? '';
      if (!name) throw new CnncError('BAD_MODEL', 'initializer without a name');
      if (this.names.has(name)) throw new CnncError('DUPLICATE_VALUE', `initializer '${name}' is defined twice`, { value: name });
      this.names.set(name, this.g.addConstant(name, tensorFromProto(t, this.limits, name)));
    }
  }

  private addInputs(inputs: readonly ValueInfoProto[]): void {
    for (const vi of inputs) {
      const name = vi.name ?? '';
      if (!name) throw new CnncError('BAD_MODEL', 'graph input without a name');
      if (this.graphInputs.has(name)) throw new CnncError('DUPLICATE_VALUE', `graph input '${name}' is listed twice`, { value: name });
      if (this.names.has(name)) continue; // old exporters list initializers as inputs too: a constant
      const type = this.inputType(vi);
      this.graphInputs.add(name);
      this.names.set(name, this.g.addInput(name, type));
    }
  }

  /** The static type of a graph input: the symbolic batch dim bound, other symbolic dims an error. */
  private inputType(vi: ValueInfoProto): TensorType {
    const name = vi.name ?? '';
    const tt = vi.type?.tensorType;
    if (!tt) throw new CnncError('UNSUPPORTED', `graph input '${name}' is not a tensor (sequences, maps and optionals are not supported)`, { value: name });
    const dtype = irDtype(tt.elemType ?? 0, { value: name });
    const given = this.inputValue(name);
    if (!tt.shape) {
      if (given) return { dtype, shape: [...given.shape] };
      throw new CnncError('UNSUPPORTED', `graph input '${name}' has no shape`, { value: name });
    }
    const shape = (tt.shape.dim ?? []).map((d, axis) => {
      if (!isStatic(d)) {
        if (given) return given.shape[axis];
        if (axis === 0) return this.opts.batch ?? 1;
        throw new CnncError('UNSUPPORTED', `graph input '${name}' has symbolic dimension '${d.dimParam || '?'}' at axis ${axis}; only the batch (axis 0) can be bound`, { value: name });
      }
      return toNum(d.dimValue);
    });
    for (const d of shape) {
      if (!Number.isSafeInteger(d) || d < 0) throw new CnncError('BAD_MODEL', `graph input '${name}' has dimension ${d}`, { value: name });
    }
    if (sizeOf(shape) * BYTES_PER_ELEMENT[dtype] > this.limits.maxTensorBytes) {
      throw new CnncError('TOO_LARGE', `graph input '${name}' [${shape}] is over the limit of ${this.limits.maxTensorBytes} bytes`, { value: name });
    }
    return { dtype, shape };
  }

  /** Nodes in topological order; cycles, undefined inputs and values defined twice are typed errors. */
  private sorted(nodes: readonly OnnxNode[]): OnnxNode[] {
    const byNode = new Map<Node, OnnxNode>();
    const plain = nodes.map((n) => {
      const p: Node = { name: n.name, op: n.op, inputs: n.inputs, outputs: n.outputs.filter((o) => o !== ''), attrs: {} };
      byNode.set(p, n);
      return p;
    });
    const defined = new Set<string>([...this.names.keys()]);
    return topoSort(plain, defined).map((p) => byNode.get(p)!);
  }

  private convert(n: OnnxNode): void {
    const conv: Converter = (Object.hasOwn(CONVERTERS, n.op) ? CONVERTERS[n.op] : undefined) ?? GENERIC;
    conv.run(this, n);
  }

  private setOutputs(outputs: readonly ValueInfoProto[]): void {
    if (!outputs.length) throw new CnncError('BAD_MODEL', 'the graph declares no outputs: nothing would be computed');
    const names = outputs.map((o) => {
      const name = o.name ?? '';
      const ir = this.names.get(name);
      if (ir === undefined) throw new CnncError('UNKNOWN_VALUE', `graph output '${name}' is not produced by any node, input or initializer`, { value: name });
      this.checkDeclared(o, ir);
      return ir;
    });
    this.g.setOutputs(names);
  }

  /** A declared output type (static dims only) must agree with the inferred one. */
  private checkDeclared(vi: ValueInfoProto, ir: string): void {
    const tt = vi.type?.tensorType;
    if (!tt) return;
    const got = this.g.type(ir);
    const code = tt.elemType ?? 0;
    if (code !== 0 && code !== 11) {
      const want = irDtype(code, { value: vi.name ?? '' });
      if (want !== got.dtype) throw new CnncError('DTYPE_MISMATCH', `graph output is declared ${want}, the graph computes ${formatType(got)}`, { value: vi.name ?? '' });
    }
    const dims = tt.shape?.dim;
    if (!dims) return;
    const bad = dims.length !== got.shape.length ||
      dims.some((d, i) => isStatic(d) && toNum(d.dimValue) !== got.shape[i]);
    if (bad) {
      const decl = dims.map((d) => (isStatic(d) ? toNum(d.dimValue) : d.dimParam || '?'));
      throw new CnncError('SHAPE_MISMATCH', `graph output is declared [${decl}], the graph computes ${formatType(got)}`, { value: vi.name ?? '' });
    }
  }

  private pruneConstants(): void {
    const keep = new Set<string>(this.g.outputs);
    for (const n of this.g.nodes) for (const i of n.inputs) keep.add(i);
    for (const v of [...this.g.values.values()]) if (v.const && !keep.has(v.name)) this.g.removeValue(v.name);
  }

  // ---- the converters' view ----

  /** IR name of an ONNX value ('' stays ''). */
  ir(onnxName: string, n?: OnnxNode): string {
    if (onnxName === '') return '';
    const v = this.names.get(onnxName);
    if (v === undefined) throw new CnncError('UNKNOWN_VALUE', `value '${onnxName}' is not defined`, { node: n?.name, op: n?.op, value: onnxName });
    return v;
  }

  typeOf(onnxName: string, n?: OnnxNode): TensorType {
    return this.g.type(this.ir(onnxName, n));
  }

  /** The constant value of an ONNX value: an initializer, a folded value or a given input value. */
  constOf(onnxName: string, n?: OnnxNode): Tensor | undefined {
    if (onnxName === '') return undefined;
    const c = this.g.constValue(this.ir(onnxName, n));
    if (c) return c;
    return this.graphInputs.has(onnxName) ? this.inputValue(onnxName) : undefined;
  }

  private inputValue(name: string): Tensor | undefined {
    const given = this.opts.inputValues;
    return given && Object.hasOwn(given, name) ? given[name] : undefined;
  }

  /** Whether an optional output is read by anyone (node input or graph output). */
  isUsed(onnxName: string): boolean {
    return onnxName !== '' && this.used.has(onnxName);
  }

  isGraphOutput(onnxName: string): boolean {
    return this.graphOutputs.has(onnxName);
  }

  /** Binds an ONNX output to an existing IR value (Identity, Dropout). */
  alias(onnxName: string, irName: string): void {
    if (onnxName === '') return;
    this.bind(onnxName, irName);
  }

  /** Binds an ONNX output to a new constant. */
  constant(onnxName: string, t: Tensor, n?: OnnxNode): string {
    if (sizeOf(t.shape) * BYTES_PER_ELEMENT[t.dtype] > this.limits.maxTensorBytes) {
      throw new CnncError('TOO_LARGE', `constant [${t.shape}] is over the limit of ${this.limits.maxTensorBytes} bytes`, { node: n?.name, op: n?.op, value: onnxName });
    }
    const ir = this.g.addConstant(onnxName || this.g.freshName('const'), t);
    if (onnxName) this.bind(onnxName, ir);
    return ir;
  }

  private bind(onnxName: string, irName: string): void {
    if (this.names.has(onnxName)) throw new CnncError('DUPLICATE_VALUE', `value '${onnxName}' is defined twice`, { value: onnxName });
    this.names.set(onnxName, irName);
  }

  /**
   * Adds one IR node (or its folded constant outputs when every input is constant). `bindTo`
   * names the ONNX outputs it defines; extra IR outputs get fresh names. Returns IR output names.
   */
  emit(n: OnnxNode, op: string, inputs: readonly string[], attrs: Record<string, AttrValue | undefined>, bindTo: readonly string[] = []): string[] {
    const def = getOp(op, n.name);
    const full = fillAttrs(n.name, op, def.attrs, attrs);
    const info = this.g.nodeInfo({ name: n.name, op, inputs, outputs: [], attrs: full });
    const types = def.infer(info);
    types.forEach((t, i) => {
      const bytes = sizeOf(t.shape) * BYTES_PER_ELEMENT[t.dtype];
      if (bytes > this.limits.maxTensorBytes) {
        throw new CnncError('TOO_LARGE', `output ${formatType(t)} would take ${bytes} bytes, over the limit of ${this.limits.maxTensorBytes}`, { node: n.name, op: n.op, value: bindTo[i] || undefined });
      }
    });
    for (const [i, o] of bindTo.entries()) {
      if (o !== '' && i >= types.length) throw new CnncError('UNSUPPORTED', `output ${i} ('${o}') is not supported by cnnc's ${op}`, { node: n.name, op: n.op, value: o });
    }
    const present = inputs.filter((i) => i !== '');
    const folded = present.length > 0 && present.every((i) => this.g.constValue(i) !== undefined) &&
      types.every((t) => sizeOf(t.shape) * BYTES_PER_ELEMENT[t.dtype] <= FOLD_LIMIT_BYTES);
    if (folded) {
      const outs = def.reference(inputs.map((i) => this.g.constValue(i)), full, types);
      return outs.map((t, i) => this.constant(bindTo[i] ?? '', t, n));
    }
    const names = types.map((_, i) => this.g.freshName(bindTo[i] || `${n.name}_out${i}`));
    this.g.addNode(op, inputs, full, { name: n.name, outputs: names });
    bindTo.forEach((o, i) => { if (o !== '') this.bind(o, names[i]); });
    return names;
  }
}

/** The newest ai.onnx opset the importer knows (the ONNX node tests it passes go up to it). */
export const MAX_OPSET = 25;

/** The ai.onnx opset the model imports. */
function mainOpset(model: ModelProto): number {
  for (const o of model.opsetImport ?? []) {
    if (!o.domain || o.domain === 'ai.onnx') {
      const v = toNum(o.version);
      if (!Number.isSafeInteger(v) || v < 1) throw new CnncError('BAD_MODEL', `opset version ${v}`);
      if (v > MAX_OPSET) throw new CnncError('UNSUPPORTED', `the model imports ai.onnx opset ${v}; this importer knows opsets up to ${MAX_OPSET}`);
      return v;
    }
  }
  throw new CnncError('BAD_MODEL', 'model imports no ai.onnx opset');
}

/** One error listing every op cnnc cannot import, with its nodes and the opset. */
function checkKnownOps(nodes: readonly OnnxNode[]): void {
  const missing = new Map<string, string[]>();
  for (const n of nodes) {
    const conv = Object.hasOwn(CONVERTERS, n.op) ? CONVERTERS[n.op] : undefined;
    const known = conv ? conv.needs.every(hasOp) : hasOp(n.op);
    if (!known) missing.set(n.op, [...(missing.get(n.op) ?? []), n.name]);
  }
  if (missing.size === 0) return;
  const opset = nodes[0].opset;
  const list = [...missing].map(([op, names]) => `${op} (opset ${opset}; node${names.length > 1 ? 's' : ''} ${names.slice(0, 8).join(', ')}${names.length > 8 ? `, … ${names.length} in all` : ''})`);
  const [firstOp, firstNodes] = [...missing][0];
  throw new CnncError('UNKNOWN_OP', `unsupported ONNX op${missing.size > 1 ? 's' : ''}: ${list.join('; ')}`, { node: firstNodes[0], op: firstOp });
}
