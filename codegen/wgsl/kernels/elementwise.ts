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
import { x as identity, type Scalar } from '../../../ir/scalar.js';
import { wgslRenderer } from '../scalar.js';
import type { Emitter, Operand } from '../emit.js';
import { dispatch1d, flatIndex, u, type Binding } from '../kernel.js';

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
  const loads = ins.map((x, k) => `let a${k} = f32(${NAMES[k]}[${broadcastIndexExpr(x.shape, shape)}]);`);
  const r = wgslRenderer();
  const v = r.render(f, ins.map((_, k) => `a${k}`));
  const bindings: Binding[] = [...ins.map((x, k) => e.read(NAMES[k], x)), e.write('Y', Y)];
  simple(e, node, bindings, sizeOf(shape), `${loads.join('\n')}\nY[i] = T_Y(${v});`, r.helpers());
}

/** Cast, Expand, a Reduce over no axes: input 0 broadcast to the output, converted on store. */
export function emitCopyOp(e: Emitter, node: Node): void {
  emitElementwise(e, { ...node, inputs: [node.inputs[0]] }, undefined, identity);
}

/** A one-thread-per-element kernel over n elements; `code` sees the flat index `i`. */
export function simple(e: Emitter, node: Node, bindings: Binding[], n: number, code: string, decls = '', name?: string): void {
  const d = dispatch1d(n, e.wg1d);
  e.kernel(node, {
    name, bindings, workgroupSize: [e.wg1d, 1, 1], dispatch: d, decls,
    body: `let i = ${flatIndex(d, e.wg1d)};\nif (i >= ${u(n)}) { return; }\n${code}`,
  });
}

/** BatchNormalization(X, scale, B, mean, var): y = x·a[c] + b[c], a and b folded here. */
export function emitBatchNorm(e: Emitter, node: Node): void {
  const consts = node.inputs.slice(1, 5).map((v) => e.graph.constValue(v));
  if (consts.some((c) => !c)) throw new CnncError('UNSUPPORTED', 'BatchNormalization needs constant scale, bias, mean and variance on wgsl', { node: node.name, op: node.op });
  const [s, b, m, v] = consts.map((c) => toF64(c!));
  const eps = Number(node.attrs.epsilon ?? 1e-5);
  const a = s.map((x, k) => x / Math.sqrt(v[k] + eps));
  const shift = b.map((x, k) => x - m[k] * a[k]);
  const X = e.operand(node.inputs[0]), Y = e.operand(node.outputs[0]);
  const layout = layoutOf(node.attrs, { node: node.name, op: node.op });
  const C = s.length;
  const inner = layout === 'NHWC' ? 1 : sizeOf(X.shape.slice(2));
  const ch = inner === 1 ? `i % ${u(C)}` : `(i / ${u(inner)}) % ${u(C)}`;
  const weight = (vals: ArrayLike<number>, what: string): Operand => ({ name: what, shape: [C], dtype: 'f32', buffer: e.weightF32(vals, what) });
  const bindings = [e.read('X', X), e.read('S', weight(a, `${node.name}.scale`)), e.read('T', weight(shift, `${node.name}.shift`)), e.write('Y', Y)];
  simple(e, node, bindings, sizeOf(X.shape), `let c = ${ch};\nY[i] = T_Y(fma(f32(X[i]), S[c], T[c]));`);
}

/** Y = X (another buffer): graph outputs that would otherwise share an input's or a constant's buffer. */
export function emitCopy(e: Emitter, node: Node, from: Operand, to: Operand): void {
  simple(e, node, [e.read('X', from), e.write('Y', to)], sizeOf(to.shape), 'Y[i] = T_Y(X[i]);', '', 'copy');
}
