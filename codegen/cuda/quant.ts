/**
 * Quantization kernels: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, the integer convs
 * (ConvInteger, QLinearConv, QConv) and matmuls (MatMulInteger, QLinearMatMul, QGemm).
 *
 * Exactly the reference's integers (ir/ops/quant.ts): int32 accumulation (wrapping), products that the
 * reference forms in float64 formed in double here (acc · multiplier), f32 quotients as IEEE f32
 * division (nvcc's default -prec-div=true), rint = round half to even, saturation, NaN → 0.
 * The ONNX ops read their scales and zero points from buffers (they may be graph inputs) and use plain
 * int loops; QConv/QGemm have constant parameters and weights, packed at compile time for `__dp4a`
 * (codegen/quant.ts: signed bytes, zero points and the sign flip folded into per-channel constants).
 */
import { sizeOf } from '../../ir/types.js';
import type { DType } from '../../runtime/tensor.js';
import { INT_RANGE, granularityOf, intConv, packWeights, paramIndexExpr, qAttrs, quantReason, refuse, type IntConv } from '../quant.js';
import { ctype, fl, strides } from './emit.js';
import { blocksFor, type Arg, type Launch, type LowerCtx } from './kernel.js';
import { epilogueAct } from './scalar.js';

const T = 256;

function check(ctx: LowerCtx): void {
  const why = quantReason(ctx.node, ctx.graph);
  if (why) refuse(ctx.node, why);
}

/** `v` (a double or float holding an integer or NaN) saturated to `d`, NaN as 0 (the reference's store). */
function saturate(v: string, d: DType): string {
  const [lo, hi] = INT_RANGE[d]!;
  return `(${ctype(d)})(${v} != ${v} ? 0 : ${v} < ${lo} ? ${lo} : ${v} > ${hi} ? ${hi} : (int)${v})`;
}

const arg = (param: string, value: string, dtype: DType, out = false): Arg => ({ param, value, dtype, out });

// ---- QuantizeLinear / DequantizeLinear ----

export function quantizeLinear(ctx: LowerCtx): Launch {
  check(ctx);
  const { node, graph } = ctx;
  const [xn, sn, zn] = node.inputs;
  const xt = graph.type(xn), y = graph.type(node.outputs[0]), n = sizeOf(xt.shape);
  const p = paramIndexExpr('i', xt.shape, granularityOf(node, graph));
  const args = [arg('x', xn, xt.dtype), arg('s', sn, 'f32'), ...(zn ? [arg('z', zn, y.dtype)] : []), arg('y', node.outputs[0], y.dtype, true)];
  // x / scale in float64 rounded to f32 (the reference's order), then rint and the zero point
  return {
    kind: 'quantize', args, threads: T, grid: [blocksFor(n, T), 1, 1],
    body: `const int i = blockIdx.x * blockDim.x + threadIdx.x;
if (i >= ${n}) return;
const int p = ${p};
const double q = rint((double)(float)((double)x[i] / (double)s[p]))${zn ? ' + (double)z[p]' : ''};
y[i] = ${saturate('q', y.dtype)};
`,
  };
}

export function dequantizeLinear(ctx: LowerCtx): Launch {
  check(ctx);
  const { node, graph } = ctx;
  const [xn, sn, zn] = node.inputs;
  const xt = graph.type(xn), n = sizeOf(xt.shape);
  const p = paramIndexExpr('i', xt.shape, granularityOf(node, graph));
  const args = [arg('x', xn, xt.dtype), arg('s', sn, 'f32'), ...(zn ? [arg('z', zn, xt.dtype)] : []), arg('y', node.outputs[0], 'f32', true)];
  return {
    kind: 'dequantize', args, threads: T, grid: [blocksFor(n, T), 1, 1],
    body: `const int i = blockIdx.x * blockDim.x + threadIdx.x;
if (i >= ${n}) return;
const int p = ${p};
const float d = (float)((double)x[i]${zn ? ' - (double)z[p]' : ''});
y[i] = d * s[p];
`,
  };
}

/** One block: NaN-propagating min/max over x (0 included), then scale, zero point and every element. */
export function dynamicQuantizeLinear(ctx: LowerCtx): Launch {
  const { node, graph } = ctx;
  const [xn] = node.inputs, [yn, sn, zn] = node.outputs;
  const n = sizeOf(graph.type(xn).shape);
  const args = [arg('x', xn, 'f32'), arg('y', yn, 'u8', true), ...(sn ? [arg('ys', sn, 'f32', true)] : []), ...(zn ? [arg('yz', zn, 'u8', true)] : [])];
  return {
    kind: 'dynamic_quantize', args, threads: T, grid: [1, 1, 1],
    body: `__shared__ float lo_s[${T}], hi_s[${T}];
__shared__ float scale_s, zp_s;
const int t = threadIdx.x;
float lo = 0.f, hi = 0.f;
for (int i = t; i < ${n}; i += ${T}) {
  const float v = x[i];
  lo = (v < lo || v != v) ? v : lo;
  hi = (v > hi || v != v) ? v : hi;
}
lo_s[t] = lo; hi_s[t] = hi;
__syncthreads();
for (int s = ${T / 2}; s > 0; s >>= 1) {
  if (t < s) {
    const float a = lo_s[t + s], b = hi_s[t + s];
    lo_s[t] = (a < lo_s[t] || a != a) ? a : lo_s[t];
    hi_s[t] = (b > hi_s[t] || b != b) ? b : hi_s[t];
  }
  __syncthreads();
}
if (t == 0) {
  const float scale = (hi_s[0] - lo_s[0]) / 255.f;
  const float z = scale == 0.f ? 0.f : rintf(0.f - lo_s[0] / scale);
  scale_s = scale;
  zp_s = z != z ? 0.f : fminf(255.f, fmaxf(0.f, z));
  ${sn ? 'ys[0] = scale;' : ''}
  ${zn ? 'yz[0] = (unsigned char)zp_s;' : ''}
}
__syncthreads();
const float scale = scale_s, zp = zp_s;
for (int i = t; i < ${n}; i += ${T}) {
  const float q = scale == 0.f ? zp : rintf(x[i] / scale) + zp;
  y[i] = ${saturate('q', 'u8')};
}
`,
  };
}

// ---- integer conv ----

/** Loops over one output's taps: `inner(xi, wi)` with the x and w flat indices, out-of-bounds taps skipped. */
function convTaps(c: IntConv, inner: (xi: string, wi: string) => string): string {
  const { g, cg } = c;
  const nsp = g.inSize.length;
  let xi = `(n * ${g.C} + grp * ${cg} + c)`, wi = `(m * ${cg} + c)`;
  const open: string[] = [`for (int c = 0; c < ${cg}; ++c) {`];
  for (let a = 0; a < nsp; a++) {
    open.push(`for (int k${a} = 0; k${a} < ${g.kernel[a]}; ++k${a}) {`);
    open.push(`const int p${a} = o${a} * ${g.strides[a]} - ${g.padBegin[a]} + k${a} * ${g.dilations[a]};`);
    open.push(`if (p${a} < 0 || p${a} >= ${g.inSize[a]}) continue;`);
    xi = `(${xi} * ${g.inSize[a]} + p${a})`;
    wi = `(${wi} * ${g.kernel[a]} + k${a})`;
  }
  return [...open, inner(xi, wi), ...Array.from({ length: nsp + 1 }, () => '}')].join('\n');
}

/** The output coordinates of flat index i (n, m, grp, o0..): NCHW. */
function convCoords(c: IntConv): string {
  const { g } = c;
  const P = sizeOf(g.outSize);
  const st = strides(g.outSize);
  return [
    `const int n = i / ${g.M * P}, m = (i / ${P}) % ${g.M}, grp = m / ${c.mg};`,
    ...g.outSize.map((d, a) => `const int o${a} = (i / ${st[a]}) % ${d};`),
  ].join('\n');
}

/** ConvInteger and QLinearConv: zero points and scales from buffers, a plain int loop. */
export function convInteger(ctx: LowerCtx): Launch {
  const { node, graph } = ctx;
  const ql = node.op === 'QLinearConv';
  const [xi, wi, xzi, wzi] = ql ? [0, 3, 2, 5] : [0, 1, 2, 3];
  const c = intConv(node, graph, wi);
  const y = graph.type(node.outputs[0]), n = sizeOf(y.shape);
  const inp = (i: number) => node.inputs[i] || '';
  const dt = (i: number) => graph.type(node.inputs[i]).dtype;
  const args: Arg[] = [arg('x', inp(xi), dt(xi)), arg('w', inp(wi), dt(wi))];
  const perM = (i: number, v: string) => (sizeOf(graph.type(inp(i)).shape) === 1 ? `(int)${v}[0]` : `(int)${v}[m]`);
  if (inp(xzi)) args.push(arg('xz', inp(xzi), dt(xzi)));
  if (inp(wzi)) args.push(arg('wz', inp(wzi), dt(wzi)));
  const lines = [convCoords(c), `const int xzv = ${inp(xzi) ? '(int)xz[0]' : '0'}, wzv = ${inp(wzi) ? perM(wzi, 'wz') : '0'};`, 'int acc = 0;'];
  lines.push(convTaps(c, (x, w) => `acc += ((int)x[${x}] - xzv) * ((int)w[${w}] - wzv);`));
  if (ql) {
    args.push(arg('xs', inp(1), 'f32'), arg('ws', inp(4), 'f32'), arg('ys', inp(6), 'f32'), arg('yz', inp(7), y.dtype));
    if (inp(8)) { args.push(arg('bias', inp(8), 'i32')); lines.push('acc += bias[m];'); }
    const wsIdx = sizeOf(graph.type(inp(4)).shape) === 1 ? '0' : 'm';
    lines.push(`const float mult = (xs[0] * ws[${wsIdx}]) / ys[0];`, 'const double q = rint((double)acc * (double)mult) + (double)yz[0];');
    lines.push(`y[i] = ${saturate('q', y.dtype)};`);
  } else {
    lines.push('y[i] = acc;');
  }
  args.push(arg('y', node.outputs[0], y.dtype, true));
  return { kind: ql ? 'qlinear_conv' : 'conv_integer', args, threads: T, grid: [blocksFor(n, T), 1, 1], body: `const int i = blockIdx.x * blockDim.x + threadIdx.x;\nif (i >= ${n}) return;\n${lines.join('\n')}\n` };
}

/**
 * The requantizing epilogue of QConv/QGemm on `acc` (channel `ch`), as the reference: f32 of the
 * double product, the activation in f32, the IEEE f32 quotient by y_scale, rint, zero point, saturate
 * (f32 output: the activation's value).
 */
function qEpilogueLines(ctx: LowerCtx, ch: string, multArg: string | undefined): string[] {
  const q = qAttrs(ctx.node);
  const mult = multArg ? `(double)${multArg}[${ch}]` : `${Math.fround(q.mult[0])}`;
  const act = epilogueAct(ctx.node.attrs, 'v', { node: ctx.node.name, op: ctx.node.op });
  const head = [`float v = (float)((double)acc * ${mult});`, `v = ${act};`];
  // f32 output: not requantized
  if (q.out === 'f32') return [...head, 'y[i] = v;'];
  return [...head, `const float q = rintf(v / ${fl(q.ys)}) + ${fl(q.yz)};`, `y[i] = ${saturate('q', q.out)};`];
}

/** The packed-dot-product loop: `lane(l)` gives statements setting `b<l>`, lane l's signed x byte (xz' when padding). */
function dp4aLoop(kw: number, hasWz: boolean, row: string, lane: (l: number) => string[]): string[] {
  return [
    hasWz ? 'int dot = 0, sx = 0;' : 'int dot = 0;',
    `for (int kk = 0; kk < ${kw}; ++kk) {`,
    ...[0, 1, 2, 3].flatMap((l) => lane(l).map((s) => `  ${s}`)),
    `  const int xw = (b0 & 255) | ((b1 & 255) << 8) | ((b2 & 255) << 16) | ((b3 & 255) << 24);`,
    `  dot = __dp4a(xw, wp[${row} * ${kw} + kk], dot);`,
    ...(hasWz ? ['  sx = __dp4a(xw, 0x01010101, sx);'] : []),
    '}',
  ];
}

/** f32 multipliers of a per-channel QConv/QGemm as a constant (undefined: per tensor, a literal). */
function multConst(ctx: LowerCtx): Arg | undefined {
  const m = qAttrs(ctx.node).mult;
  if (m.length === 1) return undefined;
  return arg('mult', ctx.addConstant(`${ctx.node.name}_mult`, { dtype: 'f32', shape: [m.length], data: Float32Array.from(m) }), 'f32');
}

/** QConv: int8 implicit GEMM over packed weights with __dp4a, then the requantizing epilogue. */
export function qconv(ctx: LowerCtx): Launch {
  const { node, graph } = ctx;
  const c = intConv(node, graph, 1);
  const { g, K } = c;
  const y = graph.type(node.outputs[0]), n = sizeOf(y.shape);
  const xt = graph.type(node.inputs[0]), w = graph.constValue(node.inputs[1]);
  if (!w) refuse(node, 'QConv weights must be a constant');
  const q = qAttrs(node);
  const W = w.data;
  const bias = node.inputs[2] ? graph.constValue(node.inputs[2]) : undefined;
  if (node.inputs[2] && !bias) refuse(node, 'QConv bias must be a constant');
  const pk = packWeights(g.M, K, (m, k) => Number(W[m * K + k]), w.dtype, xt.dtype, q, bias);
  const mult = multConst(ctx);
  const args: Arg[] = [arg('x', node.inputs[0], xt.dtype), arg('wp', ctx.addConstant(`${node.name}_packed`, pk.data), 'i32'), ...(mult ? [mult] : []), arg('y', node.outputs[0], y.dtype, true)];
  const nsp = g.inSize.length, taps = sizeOf(g.kernel), ks = strides(g.kernel);
  // lane l of word kk: tap k = 4·kk + l → (c, k0, k1, ..) of the weight row; outside x (or past K): xz'
  const lane = (l: number): string[] => {
    const inb = [`k${l} < ${K}`];
    const out = [`const int k${l} = kk * 4 + ${l};`];
    let xi = `(n * ${g.C} + grp * ${c.cg} + k${l} / ${taps})`;
    for (let a = 0; a < nsp; a++) {
      out.push(`const int p${a}_${l} = o${a} * ${g.strides[a]} - ${g.padBegin[a]} + ((k${l} / ${ks[a]}) % ${g.kernel[a]}) * ${g.dilations[a]};`);
      inb.push(`p${a}_${l} >= 0 && p${a}_${l} < ${g.inSize[a]}`);
      xi = `(${xi} * ${g.inSize[a]} + p${a}_${l})`;
    }
    return [...out, `const int b${l} = (${inb.join(' && ')}) ? ((int)x[${xi}] ^ ${pk.xFlip}) : ${pk.xz};`];
  };
  const rows = g.M * pk.kw;
  const body = [
    'const int i = blockIdx.x * blockDim.x + threadIdx.x;', `if (i >= ${n}) return;`, convCoords(c),
    ...dp4aLoop(pk.kw, pk.hasWz, 'm', lane),
    `const int acc = dot${pk.hasWz ? ` - wp[${rows + g.M} + m] * sx` : ''} + wp[${rows} + m];`,
    ...qEpilogueLines(ctx, 'm', mult && 'mult'),
  ];
  return { kind: 'qconv_dp4a', args, threads: T, grid: [blocksFor(n, T), 1, 1], body: body.join('\n') + '\n' };
}

// ---- integer matmul ----

/** Batch offsets of operand shape S (promoted to ≥ 2-D) inside the broadcast batch, from index `b`. */
function batchOffset(S: number[], batch: number[], b: string): string {
  const lead = S.length - 2, st = strides(S), bst = strides(batch);
  const terms = batch.map((d, q) => {
    const j = q - (batch.length - lead);
    return j >= 0 && S[j] !== 1 ? `((${b} / ${bst[q]}) % ${d}) * ${st[j]}` : '';
  }).filter(Boolean);
  return terms.length ? terms.join(' + ') : '0';
}

/** MatMulInteger and QLinearMatMul: numpy batch broadcasting, zero points/scales per tensor, row or column. */
export function matmulInteger(ctx: LowerCtx): Launch {
  check(ctx);
  const { node, graph } = ctx;
  const ql = node.op === 'QLinearMatMul';
  const [ai, bi, azi, bzi] = ql ? [0, 3, 2, 5] : [0, 1, 2, 3];
  const inp = (i: number) => node.inputs[i] || '';
  const at = graph.type(inp(ai)), bt = graph.type(inp(bi)), y = graph.type(node.outputs[0]);
  const A = at.shape.length === 1 ? [1, at.shape[0]] : [...at.shape], B = bt.shape.length === 1 ? [bt.shape[0], 1] : [...bt.shape];
  const M = A[A.length - 2], K = A[A.length - 1], N = B[B.length - 1];
  const rank = Math.max(A.length, B.length);
  const batch = Array.from({ length: rank - 2 }, (_, d) => Math.max(A[A.length - rank + d] ?? 1, B[B.length - rank + d] ?? 1));
  const total = sizeOf(y.shape);
  const args: Arg[] = [arg('a', inp(ai), at.dtype), arg('b', inp(bi), bt.dtype)];
  const one = (i: number) => sizeOf(graph.type(inp(i)).shape) === 1;
  if (inp(azi)) args.push(arg('az', inp(azi), at.dtype));
  if (inp(bzi)) args.push(arg('bz', inp(bzi), bt.dtype));
  const oa = batchOffset(A, batch, 'bq'), ob = batchOffset(B, batch, 'bq');
  const lines = [
    `${oa === '0' && ob === '0' ? '' : `const int bq = i / ${M * N}; `}const int r = (i / ${N}) % ${M}, j = i % ${N};`,
    `const int oa = ${oa} + r * ${K}, ob = ${ob} + j;`,
    `const int azv = ${inp(azi) ? `(int)az[${one(azi) ? '0' : 'r'}]` : '0'}, bzv = ${inp(bzi) ? `(int)bz[${one(bzi) ? '0' : 'j'}]` : '0'};`,
    'int acc = 0;',
    `for (int k = 0; k < ${K}; ++k) acc += ((int)a[oa + k] - azv) * ((int)b[ob + k * ${N}] - bzv);`,
  ];
  if (ql) {
    args.push(arg('as', inp(1), 'f32'), arg('bs', inp(4), 'f32'), arg('ys', inp(6), 'f32'), arg('yz', inp(7), y.dtype));
    lines.push(`const float mult = (as[${one(1) ? '0' : 'r'}] * bs[${one(4) ? '0' : 'j'}]) / ys[0];`);
    lines.push('const double q = rint((double)acc * (double)mult) + (double)yz[0];', `y[i] = ${saturate('q', y.dtype)};`);
  } else {
    lines.push('y[i] = acc;');
  }
  args.push(arg('y', node.outputs[0], y.dtype, true));
  return { kind: ql ? 'qlinear_matmul' : 'matmul_integer', args, threads: T, grid: [blocksFor(total, T), 1, 1], body: `const int i = blockIdx.x * blockDim.x + threadIdx.x;\nif (i >= ${total}) return;\n${lines.join('\n')}\n` };
}

/** QGemm: rows of x[..., K] times the packed constant w[K, N] with __dp4a, then the requantizing epilogue. */
export function qgemm(ctx: LowerCtx): Launch {
  const { node, graph } = ctx;
  const xt = graph.type(node.inputs[0]), y = graph.type(node.outputs[0]), w = graph.constValue(node.inputs[1]);
  if (!w) refuse(node, 'QGemm weights must be a constant');
  const bias = node.inputs[2] ? graph.constValue(node.inputs[2]) : undefined;
  if (node.inputs[2] && !bias) refuse(node, 'QGemm bias must be a constant');
  const [K, N] = w.shape, total = sizeOf(y.shape);
  const W = w.data;
  const pk = packWeights(N, K, (m, k) => Number(W[k * N + m]), w.dtype, xt.dtype, qAttrs(node), bias);
  const mult = multConst(ctx);
  const args: Arg[] = [arg('x', node.inputs[0], xt.dtype), arg('wp', ctx.addConstant(`${node.name}_packed`, pk.data), 'i32'), ...(mult ? [mult] : []), arg('y', node.outputs[0], y.dtype, true)];
  const lane = (l: number) => [`const int b${l} = kk * 4 + ${l} < ${K} ? ((int)x[r * ${K} + kk * 4 + ${l}] ^ ${pk.xFlip}) : ${pk.xz};`];
  const rows = N * pk.kw;
  const body = [
    'const int i = blockIdx.x * blockDim.x + threadIdx.x;', `if (i >= ${total}) return;`,
    `const int r = i / ${N}, j = i % ${N};`,
    ...dp4aLoop(pk.kw, pk.hasWz, 'j', lane),
    `const int acc = dot${pk.hasWz ? ` - wp[${rows + N} + j] * sx` : ''} + wp[${rows} + j];`,
    ...qEpilogueLines(ctx, 'j', mult && 'mult'),
  ];
  return { kind: 'qgemm_dp4a', args, threads: T, grid: [blocksFor(total, T), 1, 1], body: body.join('\n') + '\n' };
}
