/**
 * Elementwise kernels (one thread per element, or per half2 pair in f16 where no input broadcasts),
 * BatchNormalization as a folded per-channel affine, Cast, and the row kernels: Softmax,
 * LayerNormalization, ChannelLayerNorm and the Reduce ops (one thread per output row).
 */
import { layoutOf } from '../../ir/ops/geometry.js';
import { CnncError } from '../../runtime/errors.js';
import { BYTES_PER_ELEMENT, fromF64, tensor, toF64 } from '../../runtime/tensor.js';
import { getOp } from '../../ir/ops/index.js';
import { fusedFormula } from '../../ir/ops/fused-elementwise.js';
import { sizeOf } from '../../ir/types.js';
import { CRenderer, opScalar } from '../c-like.js';
import { SUB_BYTE_INTS, castRoundMode, castSaturate, e8m0Encoding, encoding, isBitFloat, type RoundMode } from '../minifloat.js';
import { CUDA } from './scalar.js';
import { FLOATS, loadTyped, renderTyped, storeTyped, wideType } from './typed.js';
import type { Graph, Node } from '../../ir/graph.js';
import type { DType } from '../../runtime/tensor.js';
import { Code, checkFloat, coord, ctype, fl, load, mul, store, strides, sum } from './emit.js';
import { blocksFor, type Arg, type Launch, type LowerCtx } from './kernel.js';

const T = 256;

function place(ctx: LowerCtx) {
  return { node: ctx.node.name, op: ctx.node.op };
}

/** The op's scalar formula (traits.scalar) for `arity` inputs; UNSUPPORTED when it has none. */
function formulaOf(ctx: LowerCtx, arity: number) {
  const f = opScalar(ctx.node.op, ctx.node.attrs, arity);
  if (!f) throw new CnncError('UNSUPPORTED', `no CUDA kernel for ${ctx.node.op} (it has no scalar formula)`, place(ctx));
  return f;
}

/** Flat index into an input of `shape` that broadcasts onto `out` at the output's flat index `i`. */
export function broadcastIdx(i: string, shape: readonly number[], out: readonly number[]): string {
  if (shape.length === out.length && shape.every((d, k) => d === out[k])) return i;
  const lead = out.length - shape.length;
  const st = strides(shape);
  return sum(...out.map((_, a) => {
    const j = a - lead;
    return j >= 0 && shape[j] !== 1 ? mul(coord(i, out, a), st[j]) : '0';
  }));
}

/**
 * Every elementwise op with a scalar formula (traits.scalar, rendered by codegen/c-like.ts), numpy
 * broadcasting, f32 or f16 computed in f32 (half2 pairs when nothing broadcasts).
 */
export function elementwise(ctx: LowerCtx): Launch {
  const { node, graph } = ctx;
  const y = node.outputs[0];
  const yt = graph.type(y);
  if ([y, ...node.inputs].some((v) => !F32_F16.includes(graph.type(v).dtype))) return typedElementwise(ctx);
  checkFloat(yt.dtype, node.name, node.op);
  const ins = node.inputs.map((n) => ({ name: n, t: graph.type(n) }));
  for (const x of ins) checkFloat(x.t.dtype, node.name, node.op);
  const total = yt.shape.reduce((a, b) => a * b, 1);
  const formula = formulaOf(ctx, ins.length);
  const args: Arg[] = [...ins.map((x, k) => ({ param: `x${k}`, value: x.name, dtype: x.t.dtype })), { param: 'y', value: y, dtype: yt.dtype, out: true }];
  const same = ins.every((x) => x.t.shape.length === yt.shape.length && x.t.shape.every((d, k) => d === yt.shape[k]));
  const pairs = same && total % 2 === 0 && yt.dtype === 'f16' && ins.every((x) => x.t.dtype === 'f16');
  const finish = (c: Code, vs: string[], out: string) => c.line(`const float ${out} = ${new CRenderer(CUDA).render(formula, vs)};`);
  const c = new Code();
  c.line('const int i = blockIdx.x * blockDim.x + threadIdx.x;');
  if (pairs) {
    // two f16 elements per thread through half2 loads and stores
    c.line(`if (i >= ${total / 2}) return;`);
    ins.forEach((_, k) => c.line(`const float2 a${k} = __half22float2(reinterpret_cast<const __half2*>(x${k})[i]);`));
    finish(c, ins.map((_, k) => `a${k}.x`).map((e, k) => { c.line(`const float lo${k} = ${e};`); return `lo${k}`; }), 'rlo');
    finish(c, ins.map((_, k) => `a${k}.y`).map((e, k) => { c.line(`const float hi${k} = ${e};`); return `hi${k}`; }), 'rhi');
    c.line('reinterpret_cast<__half2*>(y)[i] = __floats2half2_rn(rlo, rhi);');
    return { kind: 'eltwise_h2', args, body: c.toString(), threads: T, grid: [blocksFor(total / 2, T), 1, 1] };
  }
  c.line(`if (i >= ${total}) return;`);
  const vs = ins.map((x, k) => { c.line(`const float a${k} = ${load(x.t.dtype, `x${k}`, broadcastIdx('i', x.t.shape, yt.shape))};`); return `a${k}`; });
  finish(c, vs, 'r');
  c.line(store(yt.dtype, 'y', 'i', 'r'));
  return { kind: 'eltwise', args, body: c.toString(), threads: T, grid: [blocksFor(total, T), 1, 1] };
}

const F32_F16: readonly DType[] = ['f32', 'f16'];

/** The typed formula of an elementwise node with an integer, bool or f64 value (codegen/cuda/typed.ts). */
export function typedFormula(node: Node, graph: Graph): { ins: { name: string; dtype: DType; shape: readonly number[] }[]; W: string; expr: (idx: string[]) => ReturnType<typeof renderTyped> } {
  const where = { node: node.name, op: node.op };
  const f = opScalar(node.op, node.attrs, node.inputs.length);
  if (!f) throw new CnncError('UNSUPPORTED', `no CUDA kernel for ${node.op} (it has no scalar formula)`, where);
  const ins = node.inputs.map((n) => ({ name: n, ...graph.type(n) }));
  const W = wideType([...ins.map((x) => x.dtype), graph.type(node.outputs[0]).dtype]);
  try {
    ctype(graph.type(node.outputs[0]).dtype);
    const probe = ins.map((x, k) => loadTyped(x.dtype, `x${k}`, '0', W));
    const r = renderTyped(f, probe, W);
    storeTyped(graph.type(node.outputs[0]).dtype, 'y', '0', r);
  } catch (e) {
    throw new CnncError('UNSUPPORTED', `${node.op} on ${[...new Set(ins.map((x) => x.dtype))].join('/')}: ${(e as Error).message.replace(/^UNSUPPORTED: /, '')}`, where);
  }
  return { ins, W, expr: (vs) => renderTyped(f, ins.map((x, k) => ({ s: vs[k], k: FLOATS.includes(x.dtype) ? 'd' : 'i' })), W) };
}

/** Elementwise over integer, bool or f64 values, or mixed dtypes: one thread per element. */
function typedElementwise(ctx: LowerCtx): Launch {
  const { node, graph } = ctx;
  const y = node.outputs[0], yt = graph.type(y);
  const { ins, W, expr } = typedFormula(node, graph);
  const total = yt.shape.reduce((a, b) => a * b, 1);
  const c = new Code();
  c.line('const int i = blockIdx.x * blockDim.x + threadIdx.x;');
  c.line(`if (i >= ${total}) return;`);
  const r = expr(ins.map((_, k) => `a${k}`));
  ins.forEach((x, k) => {
    if (!new RegExp(`\\ba${k}\\b`).test(r.s)) return; // an input the formula does not read (nvcc -Werror)
    const v = loadTyped(x.dtype, `x${k}`, broadcastIdx('i', x.shape, yt.shape), W);
    c.line(`const ${v.k === 'd' ? 'double' : W} a${k} = ${v.s};`);
  });
  c.line(storeTyped(yt.dtype, 'y', 'i', r));
  const args: Arg[] = [...ins.map((x, k) => ({ param: `x${k}`, value: x.name, dtype: x.dtype })), { param: 'y', value: y, dtype: yt.dtype, out: true }];
  return { kind: 'eltwise_typed', args, body: c.toString(), threads: T, grid: [blocksFor(total, T), 1, 1] };
}

/** Inference BatchNormalization: scale and shift folded at compile time into two f32 vectors. */
export function batchNorm(ctx: LowerCtx): Launch {
  const { node, graph } = ctx;
  const [xn, sn, bn, mn, vn] = node.inputs;
  const consts = [sn, bn, mn, vn].map((n) => graph.constValue(n));
  if (consts.some((t) => !t)) return batchNormDynamic(ctx);
  const [s, b, m, v] = consts.map((t) => toF64(t!));
  const eps = Number(node.attrs.epsilon ?? 1e-5);
  const C = s.length;
  const scale = new Float64Array(C), shift = new Float64Array(C);
  for (let k = 0; k < C; k++) {
    scale[k] = s[k] / Math.sqrt(v[k] + eps);
    shift[k] = b[k] - m[k] * scale[k];
  }
  const sc = ctx.addConstant(`${node.name}_scale`, fromF64('f32', [C], scale));
  const sh = ctx.addConstant(`${node.name}_shift`, fromF64('f32', [C], shift));
  const xt = graph.type(xn), yn = node.outputs[0], yt = graph.type(yn);
  checkFloat(yt.dtype, node.name, node.op);
  const layout = layoutOf(node.attrs, place(ctx));
  const total = yt.shape.reduce((a, q) => a * q, 1);
  const c = new Code();
  c.line('const int i = blockIdx.x * blockDim.x + threadIdx.x;');
  c.line(`if (i >= ${total}) return;`);
  c.line(`const int ch = ${coord('i', yt.shape, layout === 'NHWC' ? yt.shape.length - 1 : 1)};`);
  c.line(`const float r = fmaf(${load(xt.dtype, 'x', 'i')}, scale[ch], shift[ch]);`);
  c.line(store(yt.dtype, 'y', 'i', 'r'));
  return {
    kind: 'batchnorm',
    args: [{ param: 'x', value: xn, dtype: xt.dtype }, { param: 'scale', value: sc, dtype: 'f32' }, { param: 'shift', value: sh, dtype: 'f32' }, { param: 'y', value: yn, dtype: yt.dtype, out: true }],
    body: c.toString(), threads: T, grid: [blocksFor(total, T), 1, 1],
  };
}

/** BatchNormalization whose scale, bias, mean or variance arrive at run time: read from their buffers. */
function batchNormDynamic(ctx: LowerCtx): Launch {
  const { node, graph } = ctx;
  const [xn, sn, bn, mn, vn] = node.inputs;
  const xt = graph.type(xn), yn = node.outputs[0], yt = graph.type(yn);
  checkFloat(yt.dtype, node.name, node.op);
  const eps = Number(node.attrs.epsilon ?? 1e-5);
  const layout = layoutOf(node.attrs, place(ctx));
  const total = yt.shape.reduce((a, q) => a * q, 1);
  const p = [sn, bn, mn, vn].map((v) => ({ v, d: graph.type(v).dtype }));
  const c = new Code();
  c.line('const int i = blockIdx.x * blockDim.x + threadIdx.x;');
  c.line(`if (i >= ${total}) return;`);
  c.line(`const int ch = ${coord('i', yt.shape, layout === 'NHWC' ? yt.shape.length - 1 : 1)};`);
  c.line(`const float sc = ${load(p[0].d, 's', 'ch')} / sqrtf(${load(p[3].d, 'v', 'ch')} + ${fl(eps)});`);
  c.line(`const float r = (${load(xt.dtype, 'x', 'i')} - ${load(p[2].d, 'm', 'ch')}) * sc + ${load(p[1].d, 'b', 'ch')};`);
  c.line(store(yt.dtype, 'y', 'i', 'r'));
  return {
    kind: 'batchnorm_dyn',
    args: [{ param: 'x', value: xn, dtype: xt.dtype }, ...['s', 'b', 'm', 'v'].map((param, k) => ({ param, value: p[k].v, dtype: p[k].d })), { param: 'y', value: yn, dtype: yt.dtype, out: true }],
    body: c.toString(), threads: T, grid: [blocksFor(total, T), 1, 1],
  };
}

/** Dtypes the CUDA kernels only store (bits): Cast converts them through a table. */
export const BITS_ONLY: readonly DType[] = ['bf16', 'f8e4m3fn', 'f8e4m3fnuz', 'f8e5m2', 'f8e5m2fnuz', 'f8e8m0', 'f4e2m1', 'i4', 'u4', 'i2', 'u2'];

/** Why a Cast from `x` to `y` has no CUDA kernel, or undefined. */
export function castReason(x: DType, y: DType): string | undefined {
  if (!BITS_ONLY.includes(x) && !BITS_ONLY.includes(y)) return undefined;
  if (BYTES_PER_ELEMENT[x] <= 2) return undefined;
  if (x === 'f32' && (isBitFloat(y) || SUB_BYTE_INTS.includes(y))) return undefined;
  return `Cast from ${x} to ${y} has no CUDA kernel (a ${y} Cast is a table of the reference's results over every ${x} code, so it needs a source of at most 16 bits, or an f32 source to a type of codegen/minifloat.ts)`;
}

/** f32 `x[i]` to a bit float: codegen/minifloat.ts's algorithm over its bits, the constants the reference's. */
function encodeF32(y: DType, saturate: boolean): string[] {
  const e = encoding(y, saturate);
  const h = (v: number) => `0x${v.toString(16)}u`;
  return [
    'unsigned int u; { const float v = x[i]; memcpy(&u, &v, 4); }',
    'const unsigned int a = u & 0x7fffffffu, s = u >> 31;',
    'unsigned int c;',
    `if (a > 0x7f800000u) c = ${h(e.nan)};`,
    `else if (a >= ${h(e.over)}) c = s ? ${h(e.overNeg)} : ${h(e.overPos)};`,
    'else {',
    '  const unsigned int ef = a >> 23;',
    `  const unsigned int xb = ef >= ${e.normal}u ? a - ${h((e.normal - 1) << 23)} : ((a & 0x7fffffu) | (ef > 0u ? 0x800000u : 0u));`,
    `  unsigned int k = ef >= ${e.normal}u ? ${23 - e.mant}u : ${e.subShift}u - (ef > 1u ? ef : 1u);`,
    '  if (k > 25u) k = 25u;',
    '  c = (xb + (1u << (k - 1u)) - 1u + ((xb >> k) & 1u)) >> k;',
    `  c = c == 0u ? (s ? ${h(e.zeroNeg)} : ${h(e.zeroPos)}) : ((s ? ${h(e.signBit)} : 0u) | c);`,
    '}',
    `y[i] = (${ctype(y)})c;`,
  ];
}

/** f32 `x[i]` to f8e8m0: codegen/minifloat.ts's e8m0 rule over its bits. */
function encodeE8M0F32(saturate: boolean, mode: RoundMode): string[] {
  const e = e8m0Encoding(saturate, mode);
  const h = (v: number) => `0x${v.toString(16)}u`;
  return [
    'unsigned int u; { const float v = x[i]; memcpy(&u, &v, 4); }',
    'const unsigned int a = u & 0x7fffffffu, s = u >> 31, ef = a >> 23;',
    `unsigned int c = ef + ((a & 0x7fffffu) >= (ef == 0u ? ${h(e.thrSub)} : ${h(e.thrNormal)}) ? 1u : 0u);`,
    `if (c > ${h(e.cap)}) c = ${h(e.cap)};`,
    `if (s) c = ${h(e.neg)};`,
    `if (a == 0u) c = s ? ${h(e.zeroNeg)} : ${h(e.zeroPos)};`,
    `if (a > 0x7f800000u) c = ${h(e.nan)};`,
    'y[i] = (unsigned char)c;',
  ];
}

/** f32 `x[i]` to a 4- or 2-bit integer: truncate, wrap modulo 2^bits (|x| ≥ 2^31 is a multiple of 2^8: 0), NaN 0. */
function truncF32(y: DType): string[] {
  const bits = y[1] === '4' ? 4 : 2;
  return [
    'const float v = x[i];',
    'const int t = fabsf(v) < 2147483648.f ? (int)v : 0;',
    y[0] === 'u' ? `y[i] = (unsigned char)(t & ${2 ** bits - 1});` : `y[i] = (signed char)((int)((unsigned int)t << ${32 - bits}) >> ${32 - bits});`,
  ];
}

/** A Cast from f32 to a type the kernels only store, computed per element (no table over 2^32 codes). */
function castF32(ctx: LowerCtx): Launch {
  const { node, graph } = ctx;
  const xn = node.inputs[0], yn = node.outputs[0];
  const y = graph.type(yn).dtype;
  const total = graph.type(yn).shape.reduce((a, b) => a * b, 1);
  const c = new Code();
  c.line('const int i = blockIdx.x * blockDim.x + threadIdx.x;');
  c.line(`if (i >= ${total}) return;`);
  const lines = y === 'f8e8m0' ? encodeE8M0F32(castSaturate(node), castRoundMode(node)) : isBitFloat(y) ? encodeF32(y, castSaturate(node)) : truncF32(y);
  for (const l of lines) c.line(l);
  return {
    kind: 'cast_bits', args: [{ param: 'x', value: xn, dtype: 'f32' }, { param: 'y', value: yn, dtype: y, out: true }],
    body: c.toString(), threads: T, grid: [blocksFor(total, T), 1, 1],
  };
}

/**
 * A Cast from or to a type the kernels only store: the reference's own Cast applied to every code
 * of the (8- or 16-bit) source type gives a table, and y[i] = table[bits of x[i]].
 */
function castTable(ctx: LowerCtx): Launch {
  const { node, graph } = ctx;
  const xn = node.inputs[0], yn = node.outputs[0];
  const xt = graph.type(xn), yt = graph.type(yn);
  const why = castReason(xt.dtype, yt.dtype);
  if (why) throw new CnncError('UNSUPPORTED', why, place(ctx));
  if (xt.dtype === 'f32') return castF32(ctx);
  const wide = BYTES_PER_ELEMENT[xt.dtype] === 2;
  const n = wide ? 65536 : 256;
  const codes = tensor(xt.dtype, [n]);
  const raw = wide ? new Uint16Array(codes.data.buffer) : new Uint8Array(codes.data.buffer);
  for (let k = 0; k < n; k++) raw[k] = k;
  const table = getOp('Cast').reference([codes], node.attrs, [{ dtype: yt.dtype, shape: [n] }])[0];
  const tn = ctx.addConstant(`${node.name}_table`, table);
  const total = yt.shape.reduce((a, b) => a * b, 1);
  const code = xt.dtype === 'f16' ? '__half_as_ushort(x[i])' : wide ? '(unsigned short)x[i]' : '(unsigned char)x[i]';
  const c = new Code();
  c.line('const int i = blockIdx.x * blockDim.x + threadIdx.x;');
  c.line(`if (i < ${total}) y[i] = table[${code}];`);
  return {
    kind: 'cast_table', args: [{ param: 'x', value: xn, dtype: xt.dtype }, { param: 'table', value: tn, dtype: yt.dtype }, { param: 'y', value: yn, dtype: yt.dtype, out: true }],
    body: c.toString(), threads: T, grid: [blocksFor(total, T), 1, 1],
  };
}

/** Cast between dtypes (through f32 for floats; C conversions for integers, bool as x != 0). */
export function cast(ctx: LowerCtx): Launch {
  const { node, graph } = ctx;
  const xn = node.inputs[0], yn = node.outputs[0];
  const xt = graph.type(xn), yt = graph.type(yn);
  if (BITS_ONLY.includes(xt.dtype) || BITS_ONLY.includes(yt.dtype)) return castTable(ctx);
  const total = yt.shape.reduce((a, b) => a * b, 1);
  const src = xt.dtype === 'f16' ? '__half2float(x[i])' : 'x[i]';
  const c = new Code();
  c.line('const int i = blockIdx.x * blockDim.x + threadIdx.x;');
  c.line(`if (i >= ${total}) return;`);
  if (yt.dtype === 'f16') c.line(`y[i] = __float2half((float)${src});`);
  else if (yt.dtype === 'bool') c.line(`y[i] = (${src}) != 0 ? 1 : 0;`);
  else if (xt.dtype === 'f32' || xt.dtype === 'f16') c.line(`y[i] = (${ctype(yt.dtype)})${src};`);
  else c.line(`y[i] = (${ctype(yt.dtype)})x[i];`);
  return {
    kind: 'cast', args: [{ param: 'x', value: xn, dtype: xt.dtype }, { param: 'y', value: yn, dtype: yt.dtype, out: true }],
    body: c.toString(), threads: T, grid: [blocksFor(total, T), 1, 1],
  };
}

/** outer × axis × inner split of a shape around one axis. */
function around(shape: readonly number[], axis: number) {
  const a = axis < 0 ? axis + shape.length : axis;
  const outer = shape.slice(0, a).reduce((p, q) => p * q, 1);
  const inner = shape.slice(a + 1).reduce((p, q) => p * q, 1);
  return { a, outer, len: shape[a], inner };
}

/**
 * The prologue of a kernel with one thread per row along `axis` (every position of the other axes):
 * it returns when the thread has no row; `at(j)` indexes element j of the thread's row.
 */
function axisRows(c: Code, shape: readonly number[], axis: number): { rows: number; len: number; at: (j: string) => string } {
  const { outer, len, inner } = around(shape, axis);
  const rows = outer * inner;
  c.line('const int r = blockIdx.x * blockDim.x + threadIdx.x;');
  c.line(`if (r >= ${rows}) return;`);
  c.line(`const int base = ${sum(mul(inner === 1 ? 'r' : `(r / ${inner})`, len * inner), inner === 1 ? '0' : `r % ${inner}`)};`);
  return { rows, len, at: (j) => sum('base', mul(j, inner)) };
}

/** Softmax / LogSoftmax along one axis: one thread per row, max-shifted, f32 throughout. */
export function softmax(ctx: LowerCtx): Launch {
  const { node, graph } = ctx;
  const xn = node.inputs[0], yn = node.outputs[0];
  const xt = graph.type(xn), yt = graph.type(yn);
  checkFloat(yt.dtype, node.name, node.op);
  const c = new Code();
  const { rows, len, at } = axisRows(c, xt.shape, Number(node.attrs.axis ?? -1));
  c.line('float mx = -INFINITY;');
  c.line(`for (int j = 0; j < ${len}; ++j) mx = cnnc_max(mx, ${load(xt.dtype, 'x', at('j'))});`);
  c.line('float s = 0.f;');
  c.line(`for (int j = 0; j < ${len}; ++j) s += expf(${load(xt.dtype, 'x', at('j'))} - mx);`);
  const log = node.op === 'LogSoftmax';
  c.line(log ? 'const float ls = logf(s);' : 'const float inv = 1.f / s;');
  c.line(`for (int j = 0; j < ${len}; ++j) ${store(yt.dtype, 'y', at('j'), log ? `${load(xt.dtype, 'x', at('j'))} - mx - ls` : `expf(${load(xt.dtype, 'x', at('j'))} - mx) * inv`)}`);
  return {
    kind: 'softmax', args: [{ param: 'x', value: xn, dtype: xt.dtype }, { param: 'y', value: yn, dtype: yt.dtype, out: true }],
    body: c.toString(), threads: T, grid: [blocksFor(rows, T), 1, 1],
  };
}

/** LayerNormalization over the trailing axes from `axis`: one thread per row, two passes for mean and variance. */
export function layerNorm(ctx: LowerCtx): Launch {
  const { node, graph } = ctx;
  const [xn, sn, bn] = node.inputs;
  if (node.outputs.slice(1).some((o) => o !== '')) throw new CnncError('UNSUPPORTED', 'LayerNormalization mean/inv-std outputs are not supported by the CUDA target', place(ctx));
  const yn = node.outputs[0];
  const xt = graph.type(xn), yt = graph.type(yn);
  checkFloat(yt.dtype, node.name, node.op);
  const r = xt.shape.length;
  const ax = Number(node.attrs.axis ?? -1) < 0 ? Number(node.attrs.axis ?? -1) + r : Number(node.attrs.axis);
  const len = xt.shape.slice(ax).reduce((p, q) => p * q, 1);
  const rows = xt.shape.slice(0, ax).reduce((p, q) => p * q, 1);
  const st = graph.type(sn);
  const bt = bn ? graph.type(bn) : undefined;
  const norm = xt.shape.slice(ax);
  const eps = Number(node.attrs.epsilon ?? 1e-5);
  const c = new Code();
  c.line('const int r = blockIdx.x * blockDim.x + threadIdx.x;');
  c.line(`if (r >= ${rows}) return;`);
  c.line(`const int base = ${mul('r', len)};`);
  c.line('float mean = 0.f;');
  c.line(`for (int j = 0; j < ${len}; ++j) mean += ${load(xt.dtype, 'x', 'base + j')};`);
  c.line(`mean *= ${fl(1 / len)};`);
  c.line('float var = 0.f;');
  c.block(`for (int j = 0; j < ${len}; ++j)`, () => {
    c.line(`const float d = ${load(xt.dtype, 'x', 'base + j')} - mean;`);
    c.line('var = fmaf(d, d, var);');
  });
  c.line(`const float inv = rsqrtf(var * ${fl(1 / len)} + ${fl(eps)});`);
  c.block(`for (int j = 0; j < ${len}; ++j)`, () => {
    const sv = load(st.dtype, 'scale', broadcastIdx('j', st.shape, norm));
    const bv = bt ? ` + ${load(bt.dtype, 'shift', broadcastIdx('j', bt.shape, norm))}` : '';
    c.line(`const float v = (${load(xt.dtype, 'x', 'base + j')} - mean) * inv * ${sv}${bv};`);
    c.line(store(yt.dtype, 'y', 'base + j', 'v'));
  });
  const args: Arg[] = [{ param: 'x', value: xn, dtype: xt.dtype }, { param: 'scale', value: sn, dtype: st.dtype }];
  if (bt) args.push({ param: 'shift', value: bn, dtype: bt.dtype });
  args.push({ param: 'y', value: yn, dtype: yt.dtype, out: true });
  return { kind: 'layernorm', args, body: c.toString(), threads: T, grid: [blocksFor(rows, T), 1, 1] };
}

/**
 * ChannelLayerNorm over the one axis `axis`: one thread per position along the other axes, reading
 * its C elements at stride `inner` (neighbouring threads read neighbouring addresses, coalesced);
 * two passes for mean and variance, as layerNorm.
 */
export function channelLayerNorm(ctx: LowerCtx): Launch {
  const { node, graph } = ctx;
  const [xn, sn, bn] = node.inputs;
  const yn = node.outputs[0];
  const xt = graph.type(xn), yt = graph.type(yn), st = graph.type(sn), bt = bn ? graph.type(bn) : undefined;
  checkFloat(yt.dtype, node.name, node.op);
  const eps = Number(node.attrs.epsilon ?? 1e-5);
  const c = new Code();
  const { rows, len, at } = axisRows(c, xt.shape, Number(node.attrs.axis));
  c.line('float mean = 0.f;');
  c.line(`for (int j = 0; j < ${len}; ++j) mean += ${load(xt.dtype, 'x', at('j'))};`);
  c.line(`mean *= ${fl(1 / len)};`);
  c.line('float var = 0.f;');
  c.block(`for (int j = 0; j < ${len}; ++j)`, () => {
    c.line(`const float d = ${load(xt.dtype, 'x', at('j'))} - mean;`);
    c.line('var = fmaf(d, d, var);');
  });
  c.line(`const float inv = rsqrtf(var * ${fl(1 / len)} + ${fl(eps)});`);
  c.block(`for (int j = 0; j < ${len}; ++j)`, () => {
    const bv = bt ? ` + ${load(bt.dtype, 'shift', 'j')}` : '';
    c.line(`const float v = (${load(xt.dtype, 'x', at('j'))} - mean) * inv * ${load(st.dtype, 'scale', 'j')}${bv};`);
    c.line(store(yt.dtype, 'y', at('j'), 'v'));
  });
  const args: Arg[] = [{ param: 'x', value: xn, dtype: xt.dtype }, { param: 'scale', value: sn, dtype: st.dtype }];
  if (bt) args.push({ param: 'shift', value: bn, dtype: bt.dtype });
  args.push({ param: 'y', value: yn, dtype: yt.dtype, out: true });
  return { kind: 'channel_layernorm', args, body: c.toString(), threads: T, grid: [blocksFor(rows, T), 1, 1] };
}

/** ReduceMean/Sum/Max/Min: one thread per output element, a loop over the reduced elements. */
export function reduce(ctx: LowerCtx): Launch {
  const { node, graph } = ctx;
  const xn = node.inputs[0], yn = node.outputs[0];
  const xt = graph.type(xn), yt = graph.type(yn);
  checkFloat(yt.dtype, node.name, node.op);
  const r = xt.shape.length;
  const given = (node.attrs.axes as number[] | undefined) ?? [];
  const noop = Number(node.attrs.noop_with_empty_axes ?? 0) !== 0;
  const axes = given.length ? given.map((a) => (a < 0 ? a + r : a)) : noop ? [] : xt.shape.map((_, k) => k);
  const kept = xt.shape.map((d, k) => (axes.includes(k) ? 1 : d));
  const red = axes.map((k) => xt.shape[k]);
  const n = red.reduce((p, q) => p * q, 1);
  const st = strides(xt.shape);
  const total = kept.reduce((p, q) => p * q, 1);
  const op = node.op;
  const c = new Code();
  c.line('const int i = blockIdx.x * blockDim.x + threadIdx.x;');
  c.line(`if (i >= ${total}) return;`);
  c.line(`const int base = ${sum(...kept.map((_, k) => (axes.includes(k) ? '0' : mul(coord('i', kept, k), st[k]))))};`);
  c.line(`float v = ${op === 'ReduceMax' ? '-INFINITY' : op === 'ReduceMin' ? 'INFINITY' : '0.f'};`);
  c.block(`for (int j = 0; j < ${n}; ++j)`, () => {
    const off = sum(...axes.map((k, q) => mul(coord('j', red, q), st[k])));
    const xv = load(xt.dtype, 'x', sum('base', off));
    c.line(op === 'ReduceMax' ? `v = cnnc_max(v, ${xv});` : op === 'ReduceMin' ? `v = cnnc_min(v, ${xv});` : `v += ${xv};`);
  });
  c.line(store(yt.dtype, 'y', 'i', op === 'ReduceMean' ? `v * ${fl(1 / n)}` : 'v'));
  return {
    kind: 'reduce', args: [{ param: 'x', value: xn, dtype: xt.dtype }, { param: 'y', value: yn, dtype: yt.dtype, out: true }],
    body: c.toString(), threads: T, grid: [blocksFor(total, T), 1, 1],
  };
}


/** InstanceNormalization (NCHW): one thread per (n, c) row over the spatial axes, then scale and shift per channel. */
export function instanceNorm(ctx: LowerCtx): Launch {
  const { node, graph } = ctx;
  const [xn, sn, bn] = node.inputs;
  const yn = node.outputs[0];
  const xt = graph.type(xn), yt = graph.type(yn), st = graph.type(sn), bt = graph.type(bn);
  checkFloat(yt.dtype, node.name, node.op);
  const C = xt.shape[1], P = xt.shape.slice(2).reduce((p, q) => p * q, 1);
  const rows = xt.shape[0] * C;
  const c = new Code();
  c.line('const int r = blockIdx.x * blockDim.x + threadIdx.x;');
  c.line(`if (r >= ${rows}) return;`);
  c.line(`const int base = ${mul('r', P)};`);
  c.line(`const int ch = ${C === 1 ? '0' : `r % ${C}`};`);
  c.line('float mean = 0.f;');
  c.line(`for (int j = 0; j < ${P}; ++j) mean += ${load(xt.dtype, 'x', 'base + j')};`);
  c.line(`mean *= ${fl(1 / P)};`);
  c.line('float var = 0.f;');
  c.block(`for (int j = 0; j < ${P}; ++j)`, () => {
    c.line(`const float d = ${load(xt.dtype, 'x', 'base + j')} - mean;`);
    c.line('var = fmaf(d, d, var);');
  });
  c.line(`const float a = rsqrtf(var * ${fl(1 / P)} + ${fl(Number(node.attrs.epsilon ?? 1e-5))}) * ${load(st.dtype, 'scale', 'ch')};`);
  c.line(`const float b = ${load(bt.dtype, 'shift', 'ch')} - mean * a;`);
  c.line(`for (int j = 0; j < ${P}; ++j) ${store(yt.dtype, 'y', 'base + j', `fmaf(${load(xt.dtype, 'x', 'base + j')}, a, b)`)}`);
  return {
    kind: 'instancenorm',
    args: [{ param: 'x', value: xn, dtype: xt.dtype }, { param: 'scale', value: sn, dtype: st.dtype }, { param: 'shift', value: bn, dtype: bt.dtype }, { param: 'y', value: yn, dtype: yt.dtype, out: true }],
    body: c.toString(), threads: T, grid: [blocksFor(rows, T), 1, 1],
  };
}

/** LRN across channels: one thread per element, a loop over the channel window. */
export function lrn(ctx: LowerCtx): Launch {
  const { node, graph } = ctx;
  const xn = node.inputs[0], yn = node.outputs[0];
  const xt = graph.type(xn), yt = graph.type(yn);
  checkFloat(yt.dtype, node.name, node.op);
  const layout = layoutOf(node.attrs, place(ctx));
  const shape = yt.shape, r = shape.length;
  const chAxis = layout === 'NHWC' ? r - 1 : 1;
  const C = shape[chAxis], cs = strides(shape)[chAxis];
  const size = Number(node.attrs.size), alpha = Number(node.attrs.alpha ?? 1e-4), beta = Number(node.attrs.beta ?? 0.75), bias = Number(node.attrs.bias ?? 1);
  const lo = Math.floor((size - 1) / 2), hi = Math.ceil((size - 1) / 2);
  const total = shape.reduce((p, q) => p * q, 1);
  const c = new Code();
  c.line('const int i = blockIdx.x * blockDim.x + threadIdx.x;');
  c.line(`if (i >= ${total}) return;`);
  c.line(`const int ch = ${coord('i', shape, chAxis)};`);
  c.line(`const int base = i - ${mul('ch', cs)};`);
  c.line('float s = 0.f;');
  c.block(`for (int d = ${-lo}; d <= ${hi}; ++d)`, () => {
    c.line('const int k = ch + d;');
    c.line(`const float v = (unsigned)k < ${C}u ? ${load(xt.dtype, 'x', sum('base', mul('k', cs)))} : 0.f;`);
    c.line('s = fmaf(v, v, s);');
  });
  c.line(store(yt.dtype, 'y', 'i', `${load(xt.dtype, 'x', 'i')} / powf(${fl(bias)} + ${fl(alpha / size)} * s, ${fl(beta)})`));
  return {
    kind: 'lrn', args: [{ param: 'x', value: xn, dtype: xt.dtype }, { param: 'y', value: yn, dtype: yt.dtype, out: true }],
    body: c.toString(), threads: T, grid: [blocksFor(total, T), 1, 1],
  };
}

/**
 * FusedElementwise: one thread per element computes the steps of the node's formula in order
 * (`const float t0 = …;`, each reading the inputs, broadcast by index maps, and the earlier steps)
 * and stores each result to its output; f32 or f16 storage, f32 arithmetic.
 */
export function fusedElementwise(ctx: LowerCtx): Launch {
  const { node, graph } = ctx;
  const { steps, results } = fusedFormula(node.attrs, node.inputs.length, graph.nodeInfo(node));
  const ys = node.outputs.map((o) => ({ name: o, t: graph.type(o) }));
  const shape = ys[0].t.shape, total = sizeOf(shape);
  const ins = node.inputs.map((n) => ({ name: n, t: graph.type(n) }));
  for (const x of [...ins, ...ys]) checkFloat(x.t.dtype, node.name, node.op);
  const r = new CRenderer(CUDA);
  const c = new Code();
  c.line('const int i = blockIdx.x * blockDim.x + threadIdx.x;');
  c.line(`if (i >= ${total}) return;`);
  const names = [...ins.map((_, k) => `a${k}`), ...steps.map((_, q) => `t${q}`)];
  const lines = steps.map((e, q) => `const float t${q} = ${r.render(e, names)};`);
  ins.forEach((x, k) => {
    if (!lines.some((l) => new RegExp(`\\ba${k}\\b`).test(l))) return; // folded away (nvcc -Werror)
    c.line(`const float a${k} = ${load(x.t.dtype, `x${k}`, broadcastIdx('i', x.t.shape, shape))};`);
  });
  lines.forEach((l) => c.line(l));
  results.forEach((res, k) => c.line(store(ys[k].t.dtype, `y${k}`, 'i', `t${res}`)));
  const args: Arg[] = [
    ...ins.map((x, k) => ({ param: `x${k}`, value: x.name, dtype: x.t.dtype })),
    ...ys.map((y, k) => ({ param: `y${k}`, value: y.name, dtype: y.t.dtype, out: true })),
  ];
  return { kind: 'fused_eltwise', args, body: c.toString(), threads: T, grid: [blocksFor(total, T), 1, 1] };
}
