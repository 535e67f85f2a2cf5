/**
 * One thread per output element: broadcast elementwise ops (and Cast, Expand), inference
 * BatchNormalization as a per-channel scale and shift computed at compile time, and plain copies.
 */
import { CnncError } from '../../../runtime/errors.js';
import { toF64 } from '../../../runtime/tensor.js';
import type { Node } from '../../../ir/graph.js';
import { layoutOf } from '../../../ir/ops/geometry.js';
import { stridesOf } from '../../../ir/ops/broadcast.js';
import { sizeOf } from '../../../ir/types.js';
import { opScalar } from '../../c-like.js';
import { substitute, x as identity, type Scalar } from '../../../ir/scalar.js';
import { fusedArgs, fusedFormula } from '../../../ir/ops/fused-elementwise.js';
import { wgslRenderer } from '../scalar.js';
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

/**
 * y[i] = f(inputs broadcast at i) in f32, f the op's scalar formula (`traits.scalar`), or `expr`
 * when given (Cast and Expand copy: the identity).
 */
export function emitElementwise(e: Emitter, node: Node, outShape?: readonly number[], expr?: Scalar): void {
  const Y = e.operand(node.outputs[0]);
  const shape = outShape ?? Y.shape;
  const ins = node.inputs.filter(Boolean).map((v) => e.operand(v));
  const place = { node: node.name, op: node.op };
  if (ins.length > NAMES.length) throw new CnncError('UNSUPPORTED', `${ins.length} inputs is more than the wgsl elementwise kernel takes (${NAMES.length})`, place);
  const f = expr ?? opScalar(node.op, node.attrs, ins.length);
  if (!f) throw new CnncError('UNSUPPORTED', `op ${node.op} has no scalar formula for the wgsl elementwise kernel`, place);
  const bindings: Binding[] = [...ins.map((x, k) => e.read(NAMES[k], x)), e.write('Y', Y)];
  const native = ins.every((x) => x.dtype === 'i32') && Y.dtype === 'i32' ? nativeInt(e, node, expr, ins.map((x, k) => `${NAMES[k]}[${broadcastIndexExpr(x.shape, shape)}]`)) : undefined;
  if (native) return simple(e, node, bindings, sizeOf(shape), `Y[i] = ${native};`);
  const loads = ins.map((x, k) => `let a${k} = f32(${NAMES[k]}[${broadcastIndexExpr(x.shape, shape)}]);`);
  const r = wgslRenderer();
  const v = r.render(f, ins.map((_, k) => `a${k}`));
  const out = e.graph.type(node.outputs[0]).dtype;
  const allInt = node.inputs.filter(Boolean).every((x) => INT_DTYPES.has(e.graph.type(x).dtype));
  const stored = storeAs(out, node.op === 'Pow' && allInt ? `round(${v})` : v);
  const helpers = stored.includes('cnnc_int(') ? `${r.helpers()}\n${INT_HELPER}` : r.helpers();
  simple(e, node, bindings, sizeOf(shape), `${loads.join('\n')}\nY[i] = T_Y(${stored});`, helpers);
}

const INT_DTYPES = new Set(['i32', 'i64', 'u8', 'i8', 'u16', 'i16', 'u4', 'i4', 'u2', 'i2', 'bool']);
const BITS: Record<string, number> = { u8: 8, i8: 8, u16: 16, i16: 16, u4: 4, i4: 4, u2: 2, i2: 2 };

/**
 * The f32 value `v` as an element of dtype `d` in its i32 buffer, as the reference converts:
 * integers truncate toward zero and wrap modulo 2^bits (C casts and ONNX integer arithmetic;
 * NaN and ±∞ give 0), bool is v != 0 (NaN is false).
 */
function storeAs(d: string, v: string): string {
  if (d === 'bool') return `select(0i, 1i, (${v}) < 0.0 || (${v}) > 0.0)`;
  if (d === 'i32' || d === 'i64') return `cnnc_int(${v})`;
  const bits = BITS[d];
  if (!bits) return v;
  return d[0] === 'u' ? `cnnc_int(${v}) & ${(2 ** bits - 1)}i` : `(cnnc_int(${v}) << ${32 - bits}u) >> ${32 - bits}u`;
}

const COMPARE: Record<string, string> = { Equal: '==', Less: '<', LessOrEqual: '<=', Greater: '>', GreaterOrEqual: '>=' };

/**
 * Integer-only nodes computed on the i32 values themselves, exact at any magnitude (f32 holds
 * integers exactly only up to 2^24): copies and casts between integer dtypes, comparisons, Where.
 * `a` are the inputs' element expressions; undefined where the f32 formula is used instead.
 */
function nativeInt(e: Emitter, node: Node, expr: Scalar | undefined, a: string[]): string | undefined {
  const out = e.graph.type(node.outputs[0]).dtype;
  if (expr === identity) return wrapInt(out, a[0]);
  if (COMPARE[node.op]) return `select(0i, 1i, ${a[0]} ${COMPARE[node.op]} ${a[1]})`;
  if (node.op === 'Where') return `select(${a[2]}, ${a[1]}, ${a[0]} != 0i)`;
  return undefined;
}

/** An i32 value as dtype `d` (already in range for i32/i64; narrow ints wrap, bool is != 0). */
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
