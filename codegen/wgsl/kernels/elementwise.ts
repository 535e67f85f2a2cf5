/**
 * One thread per output element: broadcast elementwise ops (and Cast, Expand), inference
 * BatchNormalization as a per-channel scale and shift computed at compile time, and plain copies.
 */
import { CnncError } from '../../../runtime/errors.js';
import { toF64 } from '../../../runtime/tensor.js';
import type { Graph, Node } from '../../../ir/graph.js';
import { layoutOf } from '../../../ir/ops/geometry.js';
import { stridesOf } from '../../../ir/ops/broadcast.js';
import { sizeOf } from '../../../ir/types.js';
import { opScalar } from '../../c-like.js';
import { substitute, x as identity, type Scalar } from '../../../ir/scalar.js';
import { fusedArgs, fusedFormula } from '../../../ir/ops/fused-elementwise.js';
import { wgslRenderer } from '../scalar.js';
import { IntRenderer, type IntType } from '../integer.js';
import type { Emitter, Operand } from '../emit.js';
import { dispatch1d, f as fl, flatIndex, u, type Binding } from '../kernel.js';

/** WGSL index into an input of `inShape` broadcast onto `outShape`, from the flat output index `i`. */
export function broadcastIndexExpr(inShape: readonly number[], outShape: readonly number[], i = 'i'): string {
  if (inShape.join() === outShape.join() || sizeOf(inShape) === sizeOf(outShape)) return i;
  if (sizeOf(inShape) === 1) return '0u';
  const lead = outShape.length - inShape.length;
  const inSt = stridesOf(inShape), outSt = stridesOf(outShape);
  const terms: string[] = [];
  outShape.forEach((d, a) => {
    const j = a - lead;
    if (j < 0 || inShape[j] === 1) return;
    const c = a === 0 ? `(${i} / ${u(outSt[a])})` : `((${i} / ${u(outSt[a])}) % ${u(d)})`;
    terms.push(inSt[j] === 1 ? c : `${c} * ${u(inSt[j])}`);
  });
  return terms.join(' + ') || '0u';
}

const NAMES = ['A', 'B2', 'C2', 'D2', 'E2', 'F2', 'G2'];

/** Most inputs an elementwise kernel binds (one storage buffer each, plus the output). */
export const MAX_ELEMENTWISE_INPUTS = NAMES.length;

/** Why `node` has more inputs than its elementwise kernel can bind (an i64 one also binds the range-check status), or undefined. */
export function tooManyInputs(node: Node, graph: Graph): string | undefined {
  const k = node.inputs.filter(Boolean).length;
  const most = MAX_ELEMENTWISE_INPUTS - (rangeCheckedIn(node, graph) ? 1 : 0);
  return k > most ? `${k} inputs is more than the wgsl elementwise kernel takes (${most})` : undefined;
}

/**
 * y[i] = f(inputs broadcast at i), f the op's scalar formula (`traits.scalar`), or `expr` when
 * given (Cast and Expand copy: the identity). Integer nodes compute in native i32/u32 arithmetic
 * (integer.ts); the others in f32, stored as the output dtype (storeAs).
 */
export function emitElementwise(e: Emitter, node: Node, outShape?: readonly number[], expr?: Scalar): void {
  const Y = e.operand(node.outputs[0]);
  const shape = outShape ?? Y.shape;
  const ins = node.inputs.filter(Boolean).map((v) => e.operand(v));
  const place = { node: node.name, op: node.op };
  const many = tooManyInputs(node, e.graph);
  if (many) throw new CnncError('UNSUPPORTED', many, place);
  const f = expr ?? opScalar(node.op, node.attrs, ins.length);
  if (!f) throw new CnncError('UNSUPPORTED', `op ${node.op} has no scalar formula for the wgsl elementwise kernel`, place);
  const bindings: Binding[] = [...ins.map((x, k) => e.read(NAMES[k], x)), e.write('Y', Y)];
  const at = ins.map((x, k) => `${NAMES[k]}[${broadcastIndexExpr(x.shape, shape)}]`);
  const checked = rangeCheckedIn(node, e.graph);
  const native = nativeInt(e, node, f, ins, at, checked);
  if (native) return simpleChecked(e, node, bindings, sizeOf(shape), native.code, native.decls, checked);
  const loads = ins.map((_, k) => `let a${k} = f32(${at[k]});`);
  const r = wgslRenderer();
  const v = r.render(f, ins.map((_, k) => `a${k}`));
  const out = e.graph.type(node.outputs[0]).dtype;
  const allInt = node.inputs.filter(Boolean).every((x) => INT_DTYPES.has(e.graph.type(x).dtype));
  const stored = storeAs(out, node.op === 'Pow' && allInt ? `round(${v})` : v);
  const helpers = [r.helpers(), stored.includes('cnnc_int') ? INT_HELPER : '', stored.includes('cnnc_int64(') ? INT64_HELPER : ''];
  simpleChecked(e, node, bindings, sizeOf(shape), `${loads.join('\n')}\nY[i] = T_Y(${stored});`, helpers.filter(Boolean).join('\n'), checked);
}

/**
 * Whether `node` computes i64 values in i32 arithmetic (or from floats) whose true result can
 * leave i32: any i64 among its values, as i32 carriers. Those kernels check at run time.
 */
function rangeCheckedIn(node: Node, graph: Graph): boolean {
  return [...node.inputs, ...node.outputs].some((v) => v && graph.type(v).dtype === 'i64');
}

/**
 * `simple`, plus for a checked node the status binding and a private flag the checked helpers
 * (integer.ts, cnnc_int64) set: an element whose i64 result does not fit i32 is reported.
 */
function simpleChecked(e: Emitter, node: Node, bindings: Binding[], n: number, code: string, decls: string, checked: boolean): void {
  if (!checked || (!code.includes('_chk(') && !code.includes('cnnc_int64('))) return simple(e, node, bindings, n, code, decls);
  if (n === 0) return;
  const { binding, flag } = e.rangeCheck(node, node.outputs[0]);
  const body = `${code}\nif (cnnc_ovf || cnnc_wrap != 0i) { ${flag('i')} }`;
  simple(e, node, [...bindings, binding], n, body, `var<private> cnnc_ovf: bool = false;\nvar<private> cnnc_wrap: i32 = 0i;\n${decls}`);
}

const INT_DTYPES = new Set(['i32', 'i64', 'u32', 'u64', 'u8', 'i8', 'u16', 'i16', 'u4', 'i4', 'u2', 'i2', 'bool']);
const BITS: Record<string, number> = { u8: 8, i8: 8, u16: 16, i16: 16, u4: 4, i4: 4, u2: 2, i2: 2 };

/**
 * The f32 value `v` as an element of dtype `d` in its i32 or u32 buffer, as the reference converts:
 * integers truncate toward zero and wrap modulo 2^bits (C casts and ONNX integer arithmetic;
 * NaN and ±∞ give 0), bool is v != 0 (NaN is false).
 */
function storeAs(d: string, v: string): string {
  if (d === 'bool') return `select(0i, 1i, (${v}) < 0.0 || (${v}) > 0.0)`;
  if (d === 'i32') return `cnnc_int(${v})`;
  if (d === 'i64') return `cnnc_int64(${v})`;
  if (d === 'u32' || d === 'u64') return `bitcast<u32>(cnnc_int(${v}))`;
  const bits = BITS[d];
  if (!bits) return v;
  return d[0] === 'u' ? `cnnc_int(${v}) & ${(2 ** bits - 1)}i` : `(cnnc_int(${v}) << ${32 - bits}u) >> ${32 - bits}u`;
}

/**
 * A node whose inputs and output are all integers (or bool), computed on the i32/u32 values
 * themselves (integer.ts): arithmetic, comparisons, Where and casts between integer dtypes. All
 * inputs but Where's condition must share one carrier (i32 or u32); undefined where they do not,
 * or where the formula has no integer form, and the f32 formula is used instead.
 */
function nativeInt(e: Emitter, node: Node, f: Scalar, ins: Operand[], at: string[], checked: boolean): { code: string; decls: string } | undefined {
  const dts = node.inputs.filter(Boolean).map((v) => e.graph.type(v).dtype);
  const out = e.graph.type(node.outputs[0]).dtype;
  if (![...dts, out].every((d) => INT_DTYPES.has(d))) return undefined;
  const data = ins.filter((_, k) => !(node.op === 'Where' && k === 0));
  const T = data[0].dtype as IntType;
  if (data.some((x) => x.dtype !== T)) return undefined;
  const r = new IntRenderer(T, checked && T === 'i32');
  const v = r.render(f, ins.map((_, k) => `a${k}`));
  if (v === undefined) return undefined;
  const loads = ins.map((x, k) => `let a${k} = ${x.dtype === T ? at[k] : `bitcast<${T}>(${at[k]})`};`);
  const Tout = e.operand(node.outputs[0]).dtype;
  const y = Tout === T ? v : `bitcast<${Tout}>(${v})`;
  return { code: `${loads.join('\n')}\nlet y = ${y};\nY[i] = ${wrapInt(out, 'y')};`, decls: r.helpers() };
}

/** An integer value in its carrier as dtype `d`: narrow ints wrap modulo 2^bits, bool is != 0. */
function wrapInt(d: string, v: string): string {
  if (d === 'bool') return `select(0i, 1i, ${v} != 0i)`;
  const bits = BITS[d];
  if (!bits) return v;
  return d[0] === 'u' ? `(${v} & ${2 ** bits - 1}i)` : `((${v} << ${32 - bits}u) >> ${32 - bits}u)`;
}

/** f32 → i32 truncating and wrapping modulo 2^32 (WGSL's i32() saturates instead); NaN and ±∞ give 0. */
const INT_HELPER = `fn cnnc_int(v: f32) -> i32 {
  if ((bitcast<u32>(v) & 0x7fffffffu) >= 0x7f800000u) { return 0i; } // NaN, ±∞ (tested on the bits: see scalar.ts)
  if (abs(v) < 2147483648.0) { return i32(v); }
  let t = trunc(v);
  return bitcast<i32>(u32(t - 4294967296.0 * floor(t / 4294967296.0)));
}`;

/**
 * f32 → i64 carried in i32: as cnnc_int, and a finite value whose truncation leaves i32 sets
 * cnnc_ovf (the true i64 would not fit the carrier). NaN and ±∞ give 0 as in the reference.
 */
const INT64_HELPER = `fn cnnc_int64(v: f32) -> i32 {
  let t = trunc(v);
  if ((t >= 2147483648.0 || t < -2147483648.0) && (bitcast<u32>(v) & 0x7fffffffu) < 0x7f800000u) { cnnc_ovf = true; }
  return cnnc_int(v);
}`;

/** Cast, Expand, a Reduce over no axes: input 0 broadcast to the output, converted on store. */
export function emitCopyOp(e: Emitter, node: Node): void {
  emitElementwise(e, { ...node, inputs: [node.inputs[0]] }, undefined, identity);
}

/** A one-thread-per-element kernel over n elements; `code` sees the flat index `i`. */
export function simple(e: Emitter, node: Node, bindings: Binding[], n: number, code: string, decls = '', name?: string): void {
  if (n === 0) return; // an empty output: nothing to compute (and a zero extent would divide by zero in the shader)
  const d = dispatch1d(n, e.wg1d);
  e.kernel(node, {
    name, bindings, workgroupSize: [e.wg1d, 1, 1], dispatch: d, decls,
    body: `let i = ${flatIndex(d, e.wg1d)};\nif (i >= ${u(n)}) { return; }\n${code}`,
  });
}

/** BatchNormalization(X, scale, B, mean, var): y = x·a[c] + b[c], a and b folded here when constant. */
export function emitBatchNorm(e: Emitter, node: Node): void {
  const consts = node.inputs.slice(1, 5).map((v) => e.graph.constValue(v));
  const eps = Number(node.attrs.epsilon ?? 1e-5);
  const X = e.operand(node.inputs[0]), Y = e.operand(node.outputs[0]);
  const layout = layoutOf(node.attrs, { node: node.name, op: node.op });
  const C = layout === 'NHWC' ? X.shape[X.shape.length - 1] : X.shape[1];
  const inner = layout === 'NHWC' ? 1 : sizeOf(X.shape.slice(2));
  const ch = inner === 1 ? `i % ${u(C)}` : `(i / ${u(inner)}) % ${u(C)}`;
  if (consts.some((c) => !c)) {
    // statistics fed at run time: y = (x − mean[c]) · scale[c] / sqrt(var[c] + eps) + B[c]
    const [S, B, M, V] = node.inputs.slice(1, 5).map((v) => e.operand(v));
    const bindings = [e.read('X', X), e.read('S', S), e.read('B2', B), e.read('M', M), e.read('V', V), e.write('Y', Y)];
    simple(e, node, bindings, sizeOf(X.shape), `let c = ${ch};
Y[i] = T_Y((f32(X[i]) - f32(M[c])) * f32(S[c]) / sqrt(f32(V[c]) + ${fl(eps)}) + f32(B2[c]));`);
    return;
  }
  const [s, b, m, v] = consts.map((c) => toF64(c!));
  const a = s.map((x, k) => x / Math.sqrt(v[k] + eps));
  const shift = b.map((x, k) => x - m[k] * a[k]);
  const weight = (vals: ArrayLike<number>, what: string): Operand => ({ name: what, shape: [C], dtype: 'f32', buffer: e.weightF32(vals, what) });
  const bindings = [e.read('X', X), e.read('S', weight(a, `${node.name}.scale`)), e.read('T', weight(shift, `${node.name}.shift`)), e.write('Y', Y)];
  simple(e, node, bindings, sizeOf(X.shape), `let c = ${ch};\nY[i] = T_Y(fma(f32(X[i]), S[c], T[c]));`);
}

/** Y = X (another buffer): graph outputs that would otherwise share an input's or a constant's buffer. */
export function emitCopy(e: Emitter, node: Node, from: Operand, to: Operand): void {
  simple(e, node, [e.read('X', from), e.write('Y', to)], sizeOf(to.shape), 'Y[i] = T_Y(X[i]);', '', 'copy');
}

/**
 * FusedElementwise: one thread per element computes the steps of the node's formula in order
 * (`let t0 = …; let t1 = …;`, each reading the inputs, broadcast by index maps, and the earlier
 * steps) and stores each result to its output. One-element constant inputs are literals.
 */
export function emitFusedElementwise(e: Emitter, node: Node): void {
  const place = { node: node.name, op: node.op };
  const { steps, results } = fusedFormula(node.attrs, node.inputs.length, e.graph.nodeInfo(node));
  const Ys = node.outputs.map((o) => e.operand(o));
  const shape = Ys[0].shape;
  const literal = node.inputs.map((v) => {
    const t = e.graph.constValue(v);
    return t && t.dtype === 'f32' && sizeOf(t.shape) === 1 ? (t.data as Float32Array)[0] : undefined;
  });
  const live = node.inputs.map((v, k) => ({ v, k })).filter(({ k }) => literal[k] === undefined);
  if (live.length + Ys.length > NAMES.length + 1) {
    throw new CnncError('UNSUPPORTED', `${live.length} inputs and ${Ys.length} outputs are more buffers than the wgsl elementwise kernel binds (${NAMES.length + 1})`, place);
  }
  const ins = live.map(({ v }) => e.operand(v));
  const outNames = Ys.map((_, k) => (k === 0 ? 'Y' : `Y${k}`));
  const bindings: Binding[] = [...ins.map((x, k) => e.read(NAMES[k], x)), ...Ys.map((y, k) => e.write(outNames[k], y))];
  const r = wgslRenderer();
  const loads = ins.map((x, k) => `let a${k} = f32(${NAMES[k]}[${broadcastIndexExpr(x.shape, shape)}]);`);
  const byArg = fusedArgs(literal, steps.length);
  const names = [...ins.map((_, k) => `a${k}`), ...steps.map((_, q) => `t${q}`)];
  const body = steps.map((s, q) => `let t${q} = ${r.render(substitute(s, byArg), names)};`);
  const stores = results.map((res, k) => `${outNames[k]}[i] = T_${outNames[k]}(t${res});`);
  simple(e, node, bindings, sizeOf(shape), [...loads, ...body, ...stores].join('\n'), r.helpers());
}
