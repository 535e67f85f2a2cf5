/**
 * Quantization kernels on wgsl: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, the integer
 * convs (ConvInteger, QLinearConv, QConv) and matmuls (MatMulInteger, QLinearMatMul, QGemm). 8-bit
 * tensors live in the target's i32 buffers (one value per element, emit.ts NARROWED).
 *
 * Exactly the reference's integers (ir/ops/quant.ts) without f64: WGSL's `/` may be 2.5 ulp off, so
 * quotients are rounded once by long division of the mantissas (q_div), and the products the reference
 * forms in float64 (int32 accumulator · f32 multiplier) are formed exactly as 64-bit integers and rounded
 * once, to f32 (q_mulf) or to an integer half to even (q_mulrint). `round` is half to even in WGSL.
 * Results in the f32 subnormal range are not rounded exactly (no scale of a real model gets there).
 *
 * The ONNX ops read scales and zero points from buffers (graph inputs in the ONNX tests); those with
 * more parameter tensors than storage bindings first gather them into one i32 buffer (`packParams`).
 */
import type { Node } from '../../../ir/graph.js';
import { sizeOf } from '../../../ir/types.js';
import { epilogueScalar } from '../../c-like.js';
import { INT_RANGE, granularityOf, intConv, packWeights, paramIndexExpr, qAttrs, quantReason, refuse, type IntConv, type PackedWeights } from '../../quant.js';
import type { Emitter, Operand } from '../emit.js';
import { dispatch1d, f, flatIndex, u, type Binding, type Kernel } from '../kernel.js';
import { wgslRenderer } from '../scalar.js';
import { simple } from './elementwise.js';

/** Exact integer helpers (see the file comment). */
export const Q_HELPERS = `
fn q_isnan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
// (hi, lo) of the 64-bit product a·b
fn q_mul64(a: u32, b: u32) -> vec2<u32> {
  let a0 = a & 0xffffu; let a1 = a >> 16u; let b0 = b & 0xffffu; let b1 = b >> 16u;
  let p00 = a0 * b0; let p01 = a0 * b1; let p10 = a1 * b0; let p11 = a1 * b1;
  let mid = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
  return vec2<u32>(p11 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u), (p00 & 0xffffu) | (mid << 16u));
}
// whether any of bits 0..b-1 of p is set (b < 64)
fn q_below(p: vec2<u32>, b: u32) -> bool {
  if (b == 0u) { return false; }
  if (b < 32u) { return (p.y & ((1u << b) - 1u)) != 0u; }
  if (b == 32u) { return p.y != 0u; }
  return p.y != 0u || (p.x & ((1u << (b - 32u)) - 1u)) != 0u;
}
// p / 2^s rounded half to even (p < 2^63)
fn q_round(p: vec2<u32>, s: u32) -> vec2<u32> {
  if (s == 0u) { return p; }
  if (s >= 64u) { return vec2<u32>(0u, 0u); }
  var q: vec2<u32>;
  if (s >= 32u) { q = vec2<u32>(0u, p.x >> (s - 32u)); } else { q = vec2<u32>(p.x >> s, (p.y >> s) | (p.x << (32u - s))); }
  let b = s - 1u;
  var half = (p.y >> b) & 1u;
  if (b >= 32u) { half = (p.x >> (b - 32u)) & 1u; }
  if (half == 1u && (q_below(p, b) || (q.y & 1u) == 1u)) {
    q.y = q.y + 1u;
    if (q.y == 0u) { q.x = q.x + 1u; }
  }
  return q;
}
// |m| = mant · 2^exp, mant < 2^24 (finite m)
fn q_split(m: f32) -> vec2<i32> {
  let b = bitcast<u32>(m) & 0x7fffffffu;
  let e = i32(b >> 23u);
  if (e == 0) { return vec2<i32>(i32(b), -149); }
  return vec2<i32>(i32((b & 0x7fffffu) | 0x800000u), e - 150);
}
// fround(acc · m), m > 0 finite: the exact product rounded once to f32
fn q_mulf(acc: i32, m: f32) -> f32 {
  let sm = q_split(m);
  let p = q_mul64(u32(abs(acc)), u32(sm.x));
  if (p.x == 0u && p.y == 0u) { return 0.0; }
  var top = firstLeadingBit(p.y);
  if (p.x != 0u) { top = 32u + firstLeadingBit(p.x); }
  var s = 0u;
  if (top > 23u) { s = top - 23u; }
  let r = q_round(p, s);
  let v = ldexp(f32(r.y), sm.y + i32(s));
  return select(v, -v, acc < 0);
}
// rint(acc · m) half to even, m > 0 finite, |result| capped at 2^30 (beyond every quantized range)
fn q_mulrint(acc: i32, m: f32) -> i32 {
  let sm = q_split(m);
  let p = q_mul64(u32(abs(acc)), u32(sm.x));
  var v = 0x40000000;
  if (sm.y < 0) {
    let r = q_round(p, u32(-sm.y));
    if (r.x == 0u && r.y < 0x40000000u) { v = i32(r.y); }
  } else if (p.x == 0u && p.y == 0u) { v = 0; }
  return select(v, -v, acc < 0);
}
// a / b rounded once to f32 (finite nonzero operands; others: WGSL's /, exact for them)
fn q_div(a: f32, b: f32) -> f32 {
  let ab = bitcast<u32>(a) & 0x7fffffffu; let bb = bitcast<u32>(b) & 0x7fffffffu;
  if (ab == 0u || ab >= 0x7f800000u || bb == 0u || bb >= 0x7f800000u) { return a / b; }
  let sa = q_split(a); let sb = q_split(b);
  let na = countLeadingZeros(u32(sa.x)) - 8u; let nb = countLeadingZeros(u32(sb.x)) - 8u;
  let ma = u32(sa.x) << na; let mb = u32(sb.x) << nb;
  let e = (sa.y - i32(na)) - (sb.y - i32(nb));
  var q = ma / mb; var r = ma % mb;
  for (var k = 0; k < 3; k++) { r = r << 8u; q = (q << 8u) | (r / mb); r = r % mb; }
  r = r << 2u; q = (q << 2u) | (r / mb); r = r % mb;
  // q = floor(ma / mb · 2^26) in [2^25, 2^27): keep 24 bits, half to even, the remainder sticky
  let s = firstLeadingBit(q) - 23u;
  var m = q >> s;
  let half = (q >> (s - 1u)) & 1u;
  let below = (q & ((1u << (s - 1u)) - 1u)) != 0u || r != 0u;
  if (half == 1u && (below || (m & 1u) == 1u)) { m = m + 1u; }
  let v = ldexp(f32(m), e - 26 + i32(s));
  return select(v, -v, ((bitcast<u32>(a) ^ bitcast<u32>(b)) >> 31u) == 1u);
}`;

/** `v` (f32 holding an integer, or NaN) saturated to the integer dtype of the output, NaN → 0, as i32. */
function saturate(v: string, node: Node, e: Emitter): string {
  const [lo, hi] = INT_RANGE[e.graph.type(node.outputs[0]).dtype]!;
  return `select(i32(clamp(${v}, ${f(lo)}, ${f(hi)})), 0, q_isnan(${v}))`;
}

function check(e: Emitter, node: Node): void {
  const why = quantReason(node, e.graph);
  if (why) refuse(node, why);
}

// ---- QuantizeLinear / DequantizeLinear / DynamicQuantizeLinear ----

export function emitQuantizeLinear(e: Emitter, node: Node): void {
  check(e, node);
  if (e.graph.type(node.inputs[0]).dtype !== 'f32') refuse(node, 'QuantizeLinear of i32 has no wgsl kernel (f32 x only: no f64 for the exact quotient)');
  const [xn, sn, zn] = node.inputs;
  const X = e.operand(xn), S = e.operand(sn);
  const p = paramIndexExpr('i', X.shape, granularityOf(node, e.graph));
  const bindings = [e.read('X', X), e.read('S', S), ...(zn ? [e.read('Z', e.operand(zn))] : []), e.write('Y', e.operand(node.outputs[0]))];
  simple(e, node, bindings, sizeOf(X.shape), `let p = ${p};
let q = round(q_div(f32(X[i]), f32(S[p])))${zn ? ' + f32(Z[p])' : ''};
Y[i] = ${saturate('q', node, e)};`, Q_HELPERS);
}

export function emitDequantizeLinear(e: Emitter, node: Node): void {
  check(e, node);
  const [xn, sn, zn] = node.inputs;
  const X = e.operand(xn), S = e.operand(sn);
  const p = paramIndexExpr('i', X.shape, granularityOf(node, e.graph));
  const bindings = [e.read('X', X), e.read('S', S), ...(zn ? [e.read('Z', e.operand(zn))] : []), e.write('Y', e.operand(node.outputs[0]))];
  simple(e, node, bindings, sizeOf(X.shape), `let p = ${p};\nY[i] = T_Y(f32(X[i]${zn ? ' - Z[p]' : ''}) * f32(S[p]));`);
}

/** One workgroup: NaN-propagating min/max over x (0 included), then scale, zero point and every element. */
export function emitDynamicQuantizeLinear(e: Emitter, node: Node): void {
  const X = e.operand(node.inputs[0]);
  const [yn, sn, zn] = node.outputs;
  const n = sizeOf(X.shape), T = e.wg1d;
  const bindings: Binding[] = [e.read('X', X), e.write('Y', e.operand(yn))];
  if (sn) bindings.push(e.write('YS', e.operand(sn)));
  if (zn) bindings.push(e.write('YZ', e.operand(zn)));
  const decls = `${Q_HELPERS}
var<workgroup> lo_s: array<f32, ${T}>;
var<workgroup> hi_s: array<f32, ${T}>;
fn q_lo(a: f32, v: f32) -> f32 { return select(a, v, v < a || q_isnan(v)); }
fn q_hi(a: f32, v: f32) -> f32 { return select(a, v, v > a || q_isnan(v)); }`;
  const body = `var lo = 0.0; var hi = 0.0;
for (var i = li; i < ${n}u; i += ${T}u) { let v = f32(X[i]); lo = q_lo(lo, v); hi = q_hi(hi, v); }
lo_s[li] = lo; hi_s[li] = hi;
workgroupBarrier();
for (var s = ${T / 2}u; s > 0u; s >>= 1u) {
  if (li < s) { lo_s[li] = q_lo(lo_s[li], lo_s[li + s]); hi_s[li] = q_hi(hi_s[li], hi_s[li + s]); }
  workgroupBarrier();
}
let scale = q_div(hi_s[0] - lo_s[0], 255.0);
var zp = 0.0;
if (scale != 0.0) { let z = round(0.0 - q_div(lo_s[0], scale)); zp = select(clamp(z, 0.0, 255.0), 0.0, q_isnan(z)); }
if (li == 0u) {
  ${sn ? 'YS[0] = T_YS(scale);' : ''}
  ${zn ? 'YZ[0] = i32(zp);' : ''}
}
for (var i = li; i < ${n}u; i += ${T}u) {
  var q = zp;
  if (scale != 0.0) { q = round(q_div(f32(X[i]), scale)) + zp; }
  Y[i] = select(i32(clamp(q, 0.0, 255.0)), 0, q_isnan(q));
}`;
  e.kernel(node, { bindings, workgroupSize: [T, 1, 1], dispatch: [1, 1, 1], decls, body, workgroupBytes: 8 * T });
}

// ---- parameters gathered into one buffer ----

/**
 * One i32 buffer holding the given parameter tensors one after another (f32 ones as their bits; absent
 * ones as a single 0), for kernels that would otherwise bind more buffers than the limit. Returns the
 * buffer and each part's offset.
 */
function packParams(e: Emitter, node: Node, parts: (string | undefined)[]): { P: Operand; off: number[] } {
  const off: number[] = [];
  let total = 0;
  const ops = parts.map((v) => (v ? e.operand(v) : undefined));
  for (const o of ops) { off.push(total); total += o ? Math.max(1, sizeOf(o.shape)) : 1; }
  const P: Operand = { name: `${node.name}.params`, buffer: e.scratch('i32', total), dtype: 'i32', shape: [total] };
  const names = ops.map((_, k) => `Q${k}`);
  const bindings = [...ops.flatMap((o, k) => (o ? [e.read(names[k], o)] : [])), e.write('P', P)];
  const lines = ops.map((o, k) => {
    if (!o) return `P[${off[k]}] = 0;`;
    const v = o.dtype === 'i32' ? `${names[k]}[j]` : `bitcast<i32>(f32(${names[k]}[j]))`;
    return `for (var j = 0u; j < ${Math.max(1, sizeOf(o.shape))}u; j++) { P[${off[k]}u + j] = ${v}; }`;
  });
  e.kernel(node, { name: 'params', bindings, workgroupSize: [1, 1, 1], dispatch: [1, 1, 1], decls: '', body: lines.join('\n') });
  return { P, off };
}

/** P's element `k`: an i32, or (f32) the float whose bits it holds. */
const pI = (k: string) => `P[${k}]`;
const pF = (k: string) => `bitcast<f32>(P[${k}])`;

// ---- integer conv ----

/** The output coordinates of flat index i (n, m, grp, o0..) in NCHW, as i32. */
function convCoords(c: IntConv): string {
  const { g } = c;
  const P = sizeOf(g.outSize);
  let st = 1;
  const sp = g.outSize.map((_, a) => {
    st = sizeOf(g.outSize.slice(a + 1));
    return `let o${a} = (ii / ${st}) % ${g.outSize[a]};`;
  });
  return [`let ii = i32(i);`, `let n = ii / ${g.M * P}; let m = (ii / ${P}) % ${g.M}; let grp = m / ${c.mg};`, ...sp].join('\n');
}

/** Loops over one output's taps: `inner(xi, wi)` with x's and w's flat i32 indices, taps outside x skipped. */
function convTaps(c: IntConv, inner: (xi: string, wi: string) => string): string {
  const { g, cg } = c;
  let xi = `(n * ${g.C} + grp * ${cg} + c)`, wi = `(m * ${cg} + c)`;
  const open = [`for (var c = 0; c < ${cg}; c++) {`];
  g.inSize.forEach((d, a) => {
    open.push(`for (var k${a} = 0; k${a} < ${g.kernel[a]}; k${a}++) {`);
    open.push(`let p${a} = o${a} * ${g.strides[a]} - ${g.padBegin[a]} + k${a} * ${g.dilations[a]};`);
    open.push(`if (p${a} < 0 || p${a} >= ${d}) { continue; }`);
    xi = `(${xi} * ${d} + p${a})`;
    wi = `(${wi} * ${g.kernel[a]} + k${a})`;
  });
  return [...open, inner(xi, wi), ...g.inSize.map(() => '}'), '}'].join('\n');
}

/** ConvInteger and QLinearConv: zero points and scales from buffers (QLinearConv's gathered into one). */
export function emitConvInteger(e: Emitter, node: Node): void {
  const ql = node.op === 'QLinearConv';
  const wi = ql ? 3 : 1;
  const c = intConv(node, e.graph, wi);
  const Y = e.operand(node.outputs[0]);
  const inp = (k: number) => node.inputs[k] || undefined;
  const perM = (k: number) => (sizeOf(e.graph.type(inp(k)!).shape) === 1 ? '0' : 'm');
  const bindings: Binding[] = [e.read('X', e.operand(node.inputs[0])), e.read('W', e.operand(node.inputs[wi]))];
  const lines = [convCoords(c)];
  if (ql) {
    // P: x_scale, x_zp, w_scale, w_zp, y_scale, y_zp
    const { P, off } = packParams(e, node, [1, 2, 4, 5, 6, 7].map(inp));
    bindings.push(e.read('P', P));
    if (inp(8)) bindings.push(e.read('B', e.operand(inp(8)!)));
    const ws = `${off[2]} + ${perM(4)}`, wz = inp(5) ? `${off[3]} + ${perM(5)}` : `${off[3]}`;
    lines.push(`let xzv = ${pI(`${off[1]}`)}; let wzv = ${pI(wz)};`);
    lines.push('var acc = 0;', convTaps(c, (x, w) => 'acc += (X[' + x + '] - xzv) * (W[' + w + '] - wzv);'));
    if (inp(8)) lines.push('acc += B[m];');
    lines.push(`let mult = q_div(${pF(`${off[0]}`)} * ${pF(ws)}, ${pF(`${off[4]}`)});`);
    lines.push(`let q = f32(q_mulrint(acc, mult) + ${pI(`${off[5]}`)});`, `Y[ii] = ${saturate('q', node, e)};`);
  } else {
    if (inp(2)) bindings.push(e.read('XZ', e.operand(inp(2)!)));
    if (inp(3)) bindings.push(e.read('WZ', e.operand(inp(3)!)));
    lines.push(`let xzv = ${inp(2) ? 'XZ[0]' : '0'}; let wzv = ${inp(3) ? `WZ[${perM(3)}]` : '0'};`);
    lines.push('var acc = 0;', convTaps(c, (x, w) => 'acc += (X[' + x + '] - xzv) * (W[' + w + '] - wzv);'), 'Y[ii] = acc;');
  }
  bindings.push(e.write('Y', Y));
  simple(e, node, bindings, sizeOf(Y.shape), lines.join('\n'), Q_HELPERS);
}

/** QConv/QGemm's requantizing epilogue on `acc` (channel `ch`), as the reference's f32 steps (f32 output: no requantization). */
function qEpilogue(e: Emitter, node: Node, ch: string, multW: string | undefined): { lines: string[]; helpers: string } {
  const q = qAttrs(node);
  const r = wgslRenderer();
  const act = r.render(epilogueScalar(node.attrs, { node: node.name, op: node.op }), ['v0']);
  const head = [`let v0 = q_mulf(acc, ${multW ? `MULT[${ch}]` : f(q.mult[0])});`, `let v = ${act};`];
  // f32 output: not requantized
  const lines = q.out === 'f32' ? [...head, 'Y[ii] = v;']
    : [...head, `let q = round(q_div(v, ${f(q.ys)})) + ${f(q.yz)};`, `Y[ii] = ${saturate('q', node, e)};`];
  return { lines, helpers: `${Q_HELPERS}\n${r.helpers()}` };
}

/** Per-channel multipliers as an f32 weight buffer (undefined: one, a literal). */
function multBinding(e: Emitter, node: Node): Binding | undefined {
  const m = qAttrs(node).mult;
  if (m.length === 1) return undefined;
  return e.read('MULT', { name: `${node.name}.mult`, dtype: 'f32', shape: [m.length], buffer: e.weightF32(m, `${node.name}.mult`) });
}

/** Zero points of QConv/QGemm weights per channel as an i32 expression. */
function wzExpr(e: Emitter, node: Node, ch: string): { expr: string; bind?: Binding } {
  const wz = qAttrs(node).wz;
  if (!wz.length || wz.every((z) => z === wz[0])) return { expr: `${wz[0] ?? 0}` };
  const buffer = e.weight({ dtype: 'i32', shape: [wz.length], data: Int32Array.from(wz) }, `${node.name}.wz`);
  return { expr: `WZ[${ch}]`, bind: e.read('WZ', { name: `${node.name}.wz`, dtype: 'i32', shape: [wz.length], buffer }) };
}

/** QConv (unpacked i32 math): constant parameters baked in, the requantizing epilogue. */
export function emitQConv(e: Emitter, node: Node): void {
  const c = intConv(node, e.graph, 1);
  const Y = e.operand(node.outputs[0]);
  const q = qAttrs(node);
  const mult = multBinding(e, node), wz = wzExpr(e, node, 'm');
  const b = node.inputs[2] || undefined;
  const bindings = [e.read('X', e.operand(node.inputs[0])), e.read('W', e.operand(node.inputs[1])), ...(b ? [e.read('B', e.operand(b))] : []),
    ...(mult ? [mult] : []), ...(wz.bind ? [wz.bind] : []), e.write('Y', Y)];
  const ep = qEpilogue(e, node, 'm', mult && 'MULT');
  const lines = [convCoords(c), `let wzv = ${wz.expr};`, 'var acc = 0;',
    convTaps(c, (x, w) => `acc += (X[${x}] - ${q.xz}) * (W[${w}] - wzv);`), ...(b ? ['acc += B[m];'] : []), ...ep.lines];
  // the packed variant: weights four to a word, lane l of word kk is tap 4·kk + l of the weight row
  const { g, K } = c;
  const w = e.graph.constValue(node.inputs[1]);
  if (!w) return perElement(e, node, sizeOf(Y.shape), { bindings, decls: ep.helpers, body: lines.join('\n') });
  const W = w.data;
  const pk = packWeights(g.M, K, (m, k) => Number(W[m * K + k]), w.dtype, e.graph.type(node.inputs[0]).dtype, q, b ? e.graph.constValue(b) : undefined);
  const taps = sizeOf(g.kernel);
  const lane = (l: number): string[] => {
    const out = [`let t${l} = kk * 4 + ${l};`];
    const inb = [`t${l} < ${K}`];
    let xi = `(n * ${g.C} + grp * ${c.cg} + t${l} / ${taps})`;
    g.inSize.forEach((d, a) => {
      out.push(`let p${a}_${l} = o${a} * ${g.strides[a]} - ${g.padBegin[a]} + ((t${l} / ${sizeOf(g.kernel.slice(a + 1))}) % ${g.kernel[a]}) * ${g.dilations[a]};`);
      inb.push(`p${a}_${l} >= 0 && p${a}_${l} < ${d}`);
      xi = `(${xi} * ${d} + p${a}_${l})`;
    });
    return [...out, `var b${l} = ${pk.xz};`, `if (${inb.join(' && ')}) { b${l} = X[${xi}]${pk.xFlip ? ' - 128' : ''}; }`];
  };
  const packed = [convCoords(c), ...packedDotLines(pk, g.M, 'm', lane), ...ep.lines];
  const pBindings = [e.read('X', e.operand(node.inputs[0])), packedBinding(e, node, pk), ...(mult ? [mult] : []), e.write('Y', Y)];
  perElement(e, node, sizeOf(Y.shape), { bindings, decls: ep.helpers, body: lines.join('\n') }, { bindings: pBindings, decls: ep.helpers, body: packed.join('\n') });
}

/** The packed weights (and their per-row constants) as an i32 weight buffer. */
function packedBinding(e: Emitter, node: Node, pk: PackedWeights): Binding {
  return e.read('WP', { name: `${node.name}.packed`, dtype: 'i32', shape: pk.data.shape, buffer: e.weight(pk.data, `${node.name}.packed`) });
}

/**
 * acc over packed words with dot4I8Packed (codegen/quant.ts): `lane(l)` declares b<l>, lane l's
 * signed x value (xz' when it pads); WP holds rows·kw words, then C[row], then wz'[row].
 */
function packedDotLines(pk: PackedWeights, rows: number, row: string, lane: (l: number) => string[]): string[] {
  const words = rows * pk.kw;
  return [
    'var dot = 0;', ...(pk.hasWz ? ['var sx = 0;'] : []),
    `for (var kk = 0; kk < ${pk.kw}; kk++) {`,
    ...[0, 1, 2, 3].flatMap(lane).map((l) => `  ${l}`),
    '  let xw = pack4xI8(vec4<i32>(b0, b1, b2, b3));',
    `  dot += dot4I8Packed(xw, bitcast<u32>(WP[${row} * ${pk.kw} + kk]));`,
    ...(pk.hasWz ? ['  sx += dot4I8Packed(xw, 0x01010101u);'] : []),
    '}',
    `let acc = dot${pk.hasWz ? ` - WP[${words + rows} + ${row}] * sx` : ''} + WP[${words} + ${row}];`,
  ];
}

/** A one-thread-per-element kernel over n elements (flat index `i`), with an optional packed-dot variant. */
function perElement(e: Emitter, node: Node, n: number, k: Pick<Kernel, 'bindings' | 'decls' | 'body'>, packed?: Pick<Kernel, 'bindings' | 'decls' | 'body'>): void {
  const d = dispatch1d(n, e.wg1d);
  const head = `let i = ${flatIndex(d, e.wg1d)};\nif (i >= ${u(n)}) { return; }\n`;
  const wrap = (x: Pick<Kernel, 'bindings' | 'decls' | 'body'>) => ({ ...x, body: head + x.body });
  e.kernel(node, { workgroupSize: [e.wg1d, 1, 1], dispatch: d, ...wrap(k), packed: packed && wrap(packed) });
}

// ---- integer matmul ----

function batchOffset(S: number[], batch: number[], b: string): string {
  const lead = S.length - 2;
  const st = S.map((_, k) => sizeOf(S.slice(k + 1)));
  const terms = batch.map((d, q) => {
    const j = q - (batch.length - lead);
    return j >= 0 && S[j] !== 1 ? `((${b} / ${sizeOf(batch.slice(q + 1))}) % ${d}) * ${st[j]}` : '';
  }).filter(Boolean);
  return terms.length ? terms.join(' + ') : '0';
}

/** MatMulInteger and QLinearMatMul: numpy batch broadcasting, zero points/scales per tensor, row or column. */
export function emitMatMulInteger(e: Emitter, node: Node): void {
  check(e, node);
  const ql = node.op === 'QLinearMatMul';
  const [ai, bi, azi, bzi] = ql ? [0, 3, 2, 5] : [0, 1, 2, 3];
  const inp = (k: number) => node.inputs[k] || undefined;
  const at = e.graph.type(inp(ai)!), bt = e.graph.type(inp(bi)!);
  const A = at.shape.length === 1 ? [1, at.shape[0]] : [...at.shape], B = bt.shape.length === 1 ? [bt.shape[0], 1] : [...bt.shape];
  const M = A[A.length - 2], K = A[A.length - 1], N = B[B.length - 1];
  const rank = Math.max(A.length, B.length);
  const batch = Array.from({ length: rank - 2 }, (_, d) => Math.max(A[A.length - rank + d] ?? 1, B[B.length - rank + d] ?? 1));
  const Y = e.operand(node.outputs[0]);
  const one = (k: number) => sizeOf(e.graph.type(inp(k)!).shape) === 1;
  const bindings: Binding[] = [e.read('A', e.operand(inp(ai)!)), e.read('B2', e.operand(inp(bi)!))];
  const lines = [
    'let ii = i32(i);',
    `let bq = ii / ${M * N}; let r = (ii / ${N}) % ${M}; let j = ii % ${N};`,
    `let oa = ${batchOffset(A, batch, 'bq')} + r * ${K}; let ob = ${batchOffset(B, batch, 'bq')} + j;`,
  ];
  const loop = `var acc = 0;\nfor (var k = 0; k < ${K}; k++) { acc += (A[oa + k] - azv) * (B2[ob + k * ${N}] - bzv); }`;
  if (ql) {
    // P: a_scale, a_zp, b_scale, b_zp, y_scale, y_zp
    const { P, off } = packParams(e, node, [1, 2, 4, 5, 6, 7].map(inp));
    bindings.push(e.read('P', P));
    const at2 = (k: number, idx: number, v: string) => `${off[idx]} + ${inp(k) && !one(k) ? v : '0'}`;
    lines.push(`let azv = ${pI(at2(2, 1, 'r'))}; let bzv = ${pI(at2(5, 3, 'j'))};`, loop);
    lines.push(`let mult = q_div(${pF(at2(1, 0, 'r'))} * ${pF(at2(4, 2, 'j'))}, ${pF(`${off[4]}`)});`);
    lines.push(`let q = f32(q_mulrint(acc, mult) + ${pI(`${off[5]}`)});`, `Y[ii] = ${saturate('q', node, e)};`);
  } else {
    if (inp(azi)) bindings.push(e.read('AZ', e.operand(inp(azi)!)));
    if (inp(bzi)) bindings.push(e.read('BZ', e.operand(inp(bzi)!)));
    lines.push(`let azv = ${inp(azi) ? `AZ[${one(azi) ? 0 : 'r'}]` : '0'}; let bzv = ${inp(bzi) ? `BZ[${one(bzi) ? 0 : 'j'}]` : '0'};`, loop, 'Y[ii] = acc;');
  }
  bindings.push(e.write('Y', Y));
  simple(e, node, bindings, sizeOf(Y.shape), lines.join('\n'), Q_HELPERS);
}

/** QGemm (unpacked i32 math): x[..., K] @ w[K, N], constant parameters, the requantizing epilogue. */
export function emitQGemm(e: Emitter, node: Node): void {
  const [K, N] = e.graph.type(node.inputs[1]).shape;
  const Y = e.operand(node.outputs[0]);
  const q = qAttrs(node);
  const mult = multBinding(e, node), wz = wzExpr(e, node, 'j');
  const b = node.inputs[2] || undefined;
  const bindings = [e.read('X', e.operand(node.inputs[0])), e.read('W', e.operand(node.inputs[1])), ...(b ? [e.read('B', e.operand(b))] : []),
    ...(mult ? [mult] : []), ...(wz.bind ? [wz.bind] : []), e.write('Y', Y)];
  const ep = qEpilogue(e, node, 'j', mult && 'MULT');
  const lines = ['let ii = i32(i);', `let r = ii / ${N}; let j = ii % ${N};`, `let wzv = ${wz.expr};`, 'var acc = 0;',
    `for (var k = 0; k < ${K}; k++) { acc += (X[r * ${K} + k] - ${q.xz}) * (W[k * ${N} + j] - wzv); }`,
    ...(b ? ['acc += B[j];'] : []), ...ep.lines];
  const w = e.graph.constValue(node.inputs[1]);
  if (!w) return perElement(e, node, sizeOf(Y.shape), { bindings, decls: ep.helpers, body: lines.join('\n') });
  const W = w.data;
  const pk = packWeights(N, K, (m, k) => Number(W[k * N + m]), w.dtype, e.graph.type(node.inputs[0]).dtype, q, b ? e.graph.constValue(b) : undefined);
  const lane = (l: number) => [`var b${l} = ${pk.xz};`, `if (kk * 4 + ${l} < ${K}) { b${l} = X[r * ${K} + kk * 4 + ${l}]${pk.xFlip ? ' - 128' : ''}; }`];
  const packed = ['let ii = i32(i);', `let r = ii / ${N}; let j = ii % ${N};`, ...packedDotLines(pk, N, 'j', lane), ...ep.lines];
  const pBindings = [e.read('X', e.operand(node.inputs[0])), packedBinding(e, node, pk), ...(mult ? [mult] : []), e.write('Y', Y)];
  perElement(e, node, sizeOf(Y.shape), { bindings, decls: ep.helpers, body: lines.join('\n') }, { bindings: pBindings, decls: ep.helpers, body: packed.join('\n') });
}
