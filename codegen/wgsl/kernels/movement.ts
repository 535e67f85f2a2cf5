/**
 * Data movement, one thread per output element: Concat (one copy per input into its slice, for
 * the inputs not written there in place),
 * and the per-axis gathers Transpose, Slice, Split, Pad; Gather along one axis.
 */
import { CnncError } from '../../../runtime/errors.js';
import type { Node } from '../../../ir/graph.js';
import { stridesOf } from '../../../ir/ops/broadcast.js';
import { getOp } from '../../../ir/ops/index.js';
import { sizeOf } from '../../../ir/types.js';
import type { Emitter } from '../emit.js';
import { f, i as lit, u } from '../kernel.js';
import { simple } from './elementwise.js';
import { emitResizeInterp } from './resize.js';

const isFloat = (d: string) => d === 'f32' || d === 'f16';

const place = (node: Node) => ({ node: node.name, op: node.op });
const norm = (a: number, rank: number) => (a < 0 ? a + rank : a);

export function emitConcat(e: Emitter, node: Node): void {
  const Y = e.operand(node.outputs[0]);
  const axis = norm(Number(node.attrs.axis), Y.shape.length);
  const inner = sizeOf(Y.shape.slice(axis + 1));
  let off = 0;
  node.inputs.forEach((v, k) => {
    const X = e.operand(v);
    const A = X.shape[axis];
    // a part its producer wrote in place (codegen/concat-plan.ts) needs no copy
    if (sizeOf(X.shape) > 0 && !e.concats.slices.has(v)) {
      simple(e, node, [e.read('X', X), e.write('Y', Y)], sizeOf(X.shape),
        `let outer = i / ${u(A * inner)}; let a = (i / ${u(inner)}) % ${u(A)}; let r = i % ${u(inner)};
Y[(outer * ${u(Y.shape[axis])} + ${u(off)} + a) * ${u(inner)} + r] = T_Y(X[i]);`, '', `in${k}`);
    }
    off += A;
  });
}

/** Per output axis: the source coordinate (an i32 WGSL expression of `c`), whether it may fall outside. */
interface AxisMap { src: (c: string) => string; bound: number; stride: number; check: boolean }

/** y[i] = x[Σ src_a(c_a)·stride_a], or `fill` where a checked coordinate falls outside [0, bound). */
function gather(e: Emitter, node: Node, input: string, output: string, maps: AxisMap[], fill = 0, name?: string): void {
  const X = e.operand(input), Y = e.operand(output);
  const outSt = stridesOf(Y.shape);
  const lines: string[] = ['var src = 0i;', 'var ok = true;'];
  Y.shape.forEach((d, a) => {
    const m = maps[a];
    lines.push(`{ let c = i32((i / ${u(outSt[a])}) % ${u(d)}); let s = ${m.src('c')};${m.check ? ` ok = ok && s >= 0 && s < ${lit(m.bound)};` : ''} src += s * ${lit(m.stride)}; }`);
  });
  lines.push(maps.some((m) => m.check) ? `if (ok) { Y[i] = T_Y(X[u32(src)]); } else { Y[i] = T_Y(${f(fill)}); }` : 'Y[i] = T_Y(X[u32(src)]);');
  simple(e, node, [e.read('X', X), e.write('Y', Y)], sizeOf(Y.shape), lines.join('\n'), '', name);
}

export function emitTranspose(e: Emitter, node: Node): void {
  const x = e.graph.type(node.inputs[0]).shape;
  const st = stridesOf(x);
  const perm = (node.attrs.perm as number[]).length ? (node.attrs.perm as number[]) : x.map((_, k) => x.length - 1 - k);
  gather(e, node, node.inputs[0], node.outputs[0], perm.map((p) => ({ src: (c) => c, bound: x[p], stride: st[p], check: false })));
}

/** Slice's resolved start per axis (ONNX clamping rules); the output shape gives the count. */
export function emitSlice(e: Emitter, node: Node): void {
  const x = e.graph.type(node.inputs[0]).shape;
  const st = stridesOf(x);
  const rank = x.length;
  const starts = node.attrs.starts as number[], ends = node.attrs.ends as number[];
  const axes = (node.attrs.axes as number[] | undefined)?.length ? (node.attrs.axes as number[]).map((a) => norm(a, rank)) : starts.map((_, k) => k);
  const steps = (node.attrs.steps as number[] | undefined)?.length ? (node.attrs.steps as number[]) : starts.map(() => 1);
  if (ends.length !== starts.length) throw new CnncError('BAD_ATTRIBUTE', 'Slice starts and ends differ in length', place(node));
  const start = x.map(() => 0), step = x.map(() => 1);
  axes.forEach((a, k) => {
    const D = x[a];
    let s = starts[k];
    if (s < 0) s += D;
    s = steps[k] > 0 ? Math.min(Math.max(s, 0), D) : Math.min(Math.max(s, 0), D - 1);
    start[a] = s;
    step[a] = steps[k];
  });
  gather(e, node, node.inputs[0], node.outputs[0], x.map((D, a) => ({ src: (c) => `${lit(start[a])} + ${c} * ${lit(step[a])}`, bound: D, stride: st[a], check: false })));
}

export function emitSplit(e: Emitter, node: Node): void {
  const x = e.graph.type(node.inputs[0]).shape;
  const st = stridesOf(x);
  const axis = norm(Number(node.attrs.axis ?? 0), x.length);
  let off = 0;
  node.outputs.forEach((o, k) => {
    if (!o) return;
    const size = e.graph.type(o).shape[axis];
    const base = off;
    gather(e, node, node.inputs[0], o, x.map((D, a) => ({ src: (c) => (a === axis ? `${c} + ${lit(base)}` : c), bound: D, stride: st[a], check: false })), 0, `out${k}`);
    off += size;
  });
}

export function emitPad(e: Emitter, node: Node): void {
  const x = e.graph.type(node.inputs[0]).shape;
  const st = stridesOf(x);
  const pads = node.attrs.pads as number[];
  const mode = String(node.attrs.mode ?? 'constant');
  if (pads.length !== 2 * x.length) throw new CnncError('BAD_ATTRIBUTE', `pads has ${pads.length} values, rank ${x.length} needs ${2 * x.length}`, place(node));
  const maps = x.map((D, a): AxisMap => {
    const pb = pads[a];
    const shifted = (c: string) => `(${c} - ${lit(pb)})`;
    if (mode === 'edge') return { src: (c) => `clamp(${shifted(c)}, 0i, ${lit(D - 1)})`, bound: D, stride: st[a], check: false };
    if (mode === 'reflect') {
      // one reflection, as ONNX requires pads < the axis size
      return { src: (c) => `${lit(D - 1)} - abs(${lit(D - 1)} - abs(${shifted(c)}))`, bound: D, stride: st[a], check: false };
    }
    if (mode === 'wrap') return { src: (c) => `((${shifted(c)} % ${lit(D)}) + ${lit(D)}) % ${lit(D)}`, bound: D, stride: st[a], check: false };
    if (mode !== 'constant') throw new CnncError('UNSUPPORTED', `Pad mode '${mode}' is not supported on wgsl`, place(node));
    return { src: shifted, bound: D, stride: st[a], check: true };
  });
  gather(e, node, node.inputs[0], node.outputs[0], maps, Number(node.attrs.value ?? 0));
}

/** Gather(data, indices) along `axis`; negative indices count from the end. */
export function emitGather(e: Emitter, node: Node): void {
  const X = e.operand(node.inputs[0]), I = e.operand(node.inputs[1]), Y = e.operand(node.outputs[0]);
  if (I.dtype !== 'i32') throw new CnncError('DTYPE_MISMATCH', 'Gather indices must be integers', { ...place(node), value: I.name });
  const axis = norm(Number(node.attrs.axis ?? 0), X.shape.length);
  const D = X.shape[axis], J = Math.max(1, sizeOf(I.shape)), inner = sizeOf(X.shape.slice(axis + 1));
  simple(e, node, [e.read('X', X), e.read('I', I), e.write('Y', Y)], sizeOf(Y.shape),
    `let outer = i / ${u(J * inner)}; let j = (i / ${u(inner)}) % ${u(J)}; let r = i % ${u(inner)};
var k = I[j]; if (k < 0i) { k += ${lit(D)}; }
Y[i] = T_Y(X[(outer * ${u(D)} + u32(k)) * ${u(inner)} + r]);`);
}

/**
 * Resize (nearest; linear and cubic in resize.ts): each axis maps output to input coordinates on its own. The per-axis maps are
 * read off the op's reference kernel, run on tensors holding each axis' coordinate, so the op's
 * own rules (coordinate_transformation_mode, nearest_mode, rounding) hold by construction; the
 * kernel gathers through the tables (one i32 weight).
 */
export function emitResize(e: Emitter, node: Node): void {
  const others = node.inputs.slice(1).map((v) => (v ? e.graph.constValue(v) ?? notConst(node, v) : undefined));
  const mode = String(node.attrs.mode ?? 'nearest');
  if (mode !== 'nearest') {
    if (!isFloat(e.graph.type(node.inputs[0]).dtype)) throw new CnncError('UNSUPPORTED', `Resize ${mode} on ${e.graph.type(node.inputs[0]).dtype} is not supported on wgsl (float tensors only)`, place(node));
    return emitResizeInterp(e, node, others);
  }
  const X = e.operand(node.inputs[0]), Y = e.operand(node.outputs[0]);
  const s = X.shape, ins = stridesOf(s), out = Y.shape, os = stridesOf(out);
  const def = getOp('Resize', node.name);
  const parts: number[] = [], offsets: number[] = [];
  s.forEach((_, j) => {
    const coords = { dtype: 'f32' as const, shape: s, data: Float32Array.from({ length: sizeOf(s) }, (_, i) => Math.floor(i / ins[j]) % s[j]) };
    const probe = def.reference([coords, ...others], node.attrs, [e.graph.type(node.outputs[0])])[0].data as Float32Array;
    offsets.push(parts.length);
    for (let o = 0; o < out[j]; o++) parts.push(probe[o * os[j]] * ins[j]);
  });
  const tab = e.weight({ dtype: 'i32', shape: [parts.length], data: Int32Array.from(parts) }, `${node.name}.maps`);
  const terms = out.map((d, a) => `u32(TAB[${u(offsets[a])} + (i / ${u(os[a])}) % ${u(d)}])`);
  simple(e, node, [e.read('X', X), { name: 'TAB', buffer: tab, dtype: 'i32', access: 'read' }, e.write('Y', Y)], sizeOf(out),
    `Y[i] = T_Y(X[${terms.join(' + ')}]);`);
}

function notConst(node: Node, v: string): never {
  throw new CnncError('UNSUPPORTED', `input '${v}' must be a constant on wgsl`, { ...place(node), value: v });
}

/**
 * Pure data movement (Tile, DepthToSpace, SpaceToDepth): which input element each output element
 * copies is read off the op's reference kernel run on the input's flat indices (an i32 iota, moved
 * exactly), so the op's own rules hold by construction; the kernel gathers through that table.
 */
export function emitIndexMap(e: Emitter, node: Node): void {
  const X = e.operand(node.inputs[0]), Y = e.operand(node.outputs[0]);
  const others = node.inputs.slice(1).map((v) => (v ? e.graph.constValue(v) ?? notConst(node, v) : undefined));
  const iota = { dtype: 'i32' as const, shape: X.shape, data: Int32Array.from({ length: sizeOf(X.shape) }, (_, k) => k) };
  const map = getOp(node.op, node.name).reference([iota, ...others], node.attrs, [{ dtype: 'i32', shape: Y.shape }])[0];
  const tab = e.weight(map, `${node.name}.map`);
  simple(e, node, [e.read('X', X), { name: 'TAB', buffer: tab, dtype: 'i32', access: 'read' }, e.write('Y', Y)], sizeOf(Y.shape),
    'Y[i] = T_Y(X[u32(TAB[i])]);');
}

/** Shape, Size: the value is known at compile time; a weight buffer holds it and a copy writes the output. */
export function emitKnownValue(e: Emitter, node: Node): void {
  const x = e.graph.type(node.inputs[0]);
  const out = e.graph.type(node.outputs[0]);
  const v = getOp(node.op, node.name).reference([{ dtype: x.dtype, shape: x.shape, data: new Float32Array(0) }], node.attrs, [out])[0];
  const from = { name: `${node.name}.value`, buffer: e.weight(v, `${node.name}.value`), dtype: 'i32' as const, shape: out.shape };
  simple(e, node, [e.read('X', from), e.write('Y', e.operand(node.outputs[0]))], sizeOf(out.shape), 'Y[i] = T_Y(X[i]);');
}
