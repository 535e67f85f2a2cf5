/**
 * Data movement: plain copies (Reshape, Flatten, Squeeze, Unsqueeze, Identity), Concat, and a
 * gather kernel for every other op that only moves elements (Transpose, Slice, Pad, Expand,
 * Split, Resize nearest (codegen/cuda/resize.ts), ...). The gather's index table comes from running the op's own reference
 * kernel on an "iota" tensor (element k holds k + 1): whatever the op's attribute semantics,
 * output element i then names its source, so the kernel cannot disagree with the reference.
 */
import { getOp } from '../../ir/ops/index.js';
import { CnncError } from '../../runtime/errors.js';
import { fromF64, tensor, toF64, type Tensor } from '../../runtime/tensor.js';
import { Code, coord, ctype, fl, mul, sum } from './emit.js';
import { blocksFor, type Arg, type Launch, type LowerCtx } from './kernel.js';

const T = 256;

export const COPY_OPS = ['Identity', 'Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Dropout'];
export const GATHER_OPS = ['Transpose', 'Slice', 'Pad', 'Expand', 'Split', 'Resize', 'Tile', 'Gather', 'DepthToSpace', 'SpaceToDepth'];

/** Element-for-element copy of input 0 into output `k` (any dtype). */
export function copy(ctx: LowerCtx): Launch {
  const { node, graph } = ctx;
  const xn = node.inputs[0], yn = node.outputs[0];
  const xt = graph.type(xn), yt = graph.type(yn);
  const total = yt.shape.reduce((a, b) => a * b, 1);
  const c = new Code();
  c.line('const int i = blockIdx.x * blockDim.x + threadIdx.x;');
  c.line(`if (i < ${total}) y[i] = x[i];`);
  return {
    kind: 'copy', args: [{ param: 'x', value: xn, dtype: xt.dtype }, { param: 'y', value: yn, dtype: yt.dtype, out: true }],
    body: c.toString(), threads: T, grid: [blocksFor(total, T), 1, 1],
  };
}

/** Concat: each output element reads the input whose slab along the axis holds it. */
export function concat(ctx: LowerCtx): Launch[] {
  const { node, graph } = ctx;
  // parts their producers wrote in place (codegen/concat-plan.ts) need no copy
  if (node.inputs.every((v) => ctx.inPlace(v))) return [];
  if (node.inputs.some((v) => ctx.inPlace(v))) return partialConcat(ctx);
  const yn = node.outputs[0], yt = graph.type(yn);
  const r = yt.shape.length;
  const ax = Number(node.attrs.axis) < 0 ? Number(node.attrs.axis) + r : Number(node.attrs.axis);
  const inner = yt.shape.slice(ax + 1).reduce((p, q) => p * q, 1);
  const A = yt.shape[ax];
  const total = yt.shape.reduce((p, q) => p * q, 1);
  const ins = node.inputs.map((n) => ({ n, t: graph.type(n) }));
  const args: Arg[] = [...ins.map((x, k) => ({ param: `x${k}`, value: x.n, dtype: x.t.dtype })), { param: 'y', value: yn, dtype: yt.dtype, out: true }];
  const c = new Code();
  c.line('const int i = blockIdx.x * blockDim.x + threadIdx.x;');
  c.line(`if (i >= ${total}) return;`);
  const outerE = total === A * inner ? '0' : `i / ${A * inner}`;
  const aE = coord('i', [total / (A * inner), A, inner], 1);
  const rE = inner === 1 ? '0' : `i % ${inner}`;
  if (outerE !== '0') c.line(`const int o = ${outerE};`);
  c.line(`const int a = ${aE};`);
  if (rE !== '0') c.line(`const int r = ${rE};`);
  let off = 0;
  ins.forEach((x, k) => {
    const Ak = x.t.shape[ax];
    const src = sum(mul(sum(mul(outerE === '0' ? '0' : 'o', Ak), off ? `a - ${off}` : 'a'), inner), rE === '0' ? '0' : 'r');
    const stmt = `y[i] = x${k}[${src}];`;
    const last = k === ins.length - 1;
    c.line(last ? (k === 0 ? stmt : `else ${stmt}`) : `${k === 0 ? '' : 'else '}if (a < ${off + Ak}) ${stmt}`);
    off += Ak;
  });
  return [{ kind: 'concat', args, body: c.toString(), threads: T, grid: [blocksFor(total, T), 1, 1] }];
}

/** A Concat some of whose parts were written in place: one copy launch per remaining part into its slice. */
function partialConcat(ctx: LowerCtx): Launch[] {
  const { node, graph } = ctx;
  const yn = node.outputs[0], yt = graph.type(yn);
  const ax = Number(node.attrs.axis) < 0 ? Number(node.attrs.axis) + yt.shape.length : Number(node.attrs.axis);
  const inner = yt.shape.slice(ax + 1).reduce((p, q) => p * q, 1);
  let off = 0;
  return node.inputs.flatMap((xn) => {
    const xt = graph.type(xn), A = xt.shape[ax], at = off;
    off += A;
    const total = xt.shape.reduce((p, q) => p * q, 1);
    if (ctx.inPlace(xn) || total === 0) return [];
    const c = new Code();
    c.line('const int i = blockIdx.x * blockDim.x + threadIdx.x;');
    c.line(`if (i >= ${total}) return;`);
    const dst = sum(mul(`i / ${A * inner}`, yt.shape[ax] * inner), `${at * inner}`, `i % ${A * inner}`);
    c.line(`y[${dst}] = x[i];`);
    return [{ kind: 'concat_part', args: [{ param: 'x', value: xn, dtype: xt.dtype }, { param: 'y', value: yn, dtype: yt.dtype, out: true }], body: c.toString(), threads: T, grid: [blocksFor(total, T), 1, 1] }];
  });
}

/** For output `k` of the node, the source index of each output element (-1: fill) via the reference on iota. */
function gatherTable(ctx: LowerCtx, k: number): { idx: Int32Array; fill: number } {
  const { node, graph } = ctx;
  const def = getOp(node.op, node.name);
  const xt = graph.type(node.inputs[0]);
  const n = xt.shape.reduce((p, q) => p * q, 1);
  if (n >= 1 << 24) throw new CnncError('TOO_LARGE', `${node.op} input of ${n} elements is too large for the CUDA gather kernel`, { node: node.name, op: node.op });
  // iota + 1 in f32 (exact below 2^24); 0 marks a fill (padding) element
  const iota = fromF64('f32', xt.shape, Float64Array.from({ length: n }, (_, i) => i + 1));
  const attrs = { ...node.attrs };
  let fill = 0;
  if (node.op === 'Pad') { fill = Number(attrs.value ?? 0); attrs.value = 0; }
  const ins: (Tensor | undefined)[] = node.inputs.map((name, i) => {
    if (i === 0) return iota;
    if (name === '') return undefined;
    const v = graph.constValue(name);
    if (!v) throw new CnncError('UNSUPPORTED', `${node.op} input ${i} must be a constant for the CUDA target`, { node: node.name, op: node.op, value: name });
    return v;
  });
  const outTypes = node.outputs.map((o) => ({ dtype: 'f32' as const, shape: o === '' ? [] : graph.type(o).shape }));
  const out = toF64(def.reference(ins, attrs, outTypes)[k]);
  const idx = new Int32Array(out.length);
  for (let i = 0; i < out.length; i++) idx[i] = out[i] - 1;
  return { idx, fill };
}

/**
 * Gather with indices computed at run time: output element (o, j, r) reads x[o, ind[j], r]
 * (negative indices count from the end). An index outside the axis, which the reference rejects,
 * reads nothing and gives 0.
 */
function gatherDynamic(ctx: LowerCtx): Launch {
  const { node, graph } = ctx;
  const [xn, kn] = node.inputs, yn = node.outputs[0];
  const xt = graph.type(xn), kt = graph.type(kn), yt = graph.type(yn);
  const r = xt.shape.length;
  const axis = Number(node.attrs.axis ?? 0) < 0 ? Number(node.attrs.axis) + r : Number(node.attrs.axis ?? 0);
  const A = xt.shape[axis];
  const inner = xt.shape.slice(axis + 1).reduce((p, q) => p * q, 1);
  const J = kt.shape.reduce((p, q) => p * q, 1);
  const total = yt.shape.reduce((p, q) => p * q, 1);
  const c = new Code();
  c.line('const int i = blockIdx.x * blockDim.x + threadIdx.x;');
  c.line(`if (i >= ${total}) return;`);
  c.line(`const long long o = i / ${J * inner}, j = (i / ${inner}) % ${J}, r = i % ${inner};`);
  c.line(`long long k = (long long)ind[j];`);
  c.line(`if (k < 0) k += ${A};`);
  c.line(`y[i] = (k >= 0 && k < ${A}) ? x[(o * ${A} + k) * ${inner} + r] : (${ctype(yt.dtype)})0;`);
  return {
    kind: 'gather_dyn',
    args: [{ param: 'x', value: xn, dtype: xt.dtype }, { param: 'ind', value: kn, dtype: kt.dtype }, { param: 'y', value: yn, dtype: yt.dtype, out: true }],
    body: c.toString(), threads: T, grid: [blocksFor(total, T), 1, 1],
  };
}

/** Whether a Gather reads its indices at run time (a graph input or computed value). */
export const dynamicGather = (op: string, indices: string | undefined, isConst: (v: string) => boolean): boolean =>
  op === 'Gather' && !!indices && !isConst(indices);

/** One launch per used output: y[i] = idx[i] < 0 ? fill : x[idx[i]]. */
export function gather(ctx: LowerCtx): Launch[] {
  const { node, graph } = ctx;
  if (dynamicGather(node.op, node.inputs[1], (v) => !!graph.constValue(v))) return [gatherDynamic(ctx)];
  const xn = node.inputs[0], xt = graph.type(xn);
  return node.outputs.flatMap((yn, k) => {
    if (yn === '') return [];
    const yt = graph.type(yn);
    const { idx, fill } = gatherTable(ctx, k);
    const tn = ctx.addConstant(`${node.name}_idx${k}`, tensor('i32', yt.shape, idx));
    const total = idx.length;
    const pads = idx.some((v) => v < 0);
    const c = new Code();
    c.line('const int i = blockIdx.x * blockDim.x + threadIdx.x;');
    c.line(`if (i >= ${total}) return;`);
    c.line('const int s = idx[i];');
    if (pads) {
      const fillV = yt.dtype === 'f32' ? fl(fill) : yt.dtype === 'f16' ? `__float2half(${fl(fill)})` : `(${ctype(yt.dtype)})(${Math.trunc(fill)})`;
      c.line(`y[i] = s < 0 ? ${fillV} : x[s];`);
    } else {
      c.line('y[i] = x[s];');
    }
    return [{
      kind: 'gather',
      args: [{ param: 'x', value: xn, dtype: xt.dtype }, { param: 'idx', value: tn, dtype: 'i32' }, { param: 'y', value: yn, dtype: yt.dtype, out: true }],
      body: c.toString(), threads: T, grid: [blocksFor(total, T), 1, 1],
    } satisfies Launch];
  });
}

