/**
 * Convolutions: Conv as an implicit GEMM (grouped and 1×1 included), depthwise Conv as a direct
 * kernel, ConvTranspose in gather form, and FusedDwPw as a GEMM whose B operand is the depthwise
 * conv computed on the fly. Geometry comes from ir/ops/geometry.ts (1-3 spatial axes, as D, H, W).
 * A Conv's input scale (input 4, one vector of C per batch item) multiplies each input as it is loaded.
 */
import { to3d, windowGeometry, type Layout, type WindowGeometry } from '../../ir/ops/geometry.js';
import type { DType } from '../../runtime/tensor.js';
import { epilogueAct } from './scalar.js';
import { Code, checkFloat, coord, load, mul, store, sum } from './emit.js';
import { gemmLaunch } from './gemm.js';
import { blocksFor, type Arg, type Launch, type LowerCtx } from './kernel.js';

/** Sizes and element strides of a 5-D (N, C, D, H, W) view of an activation in its layout. */
interface View { N: number; C: number; D: number; H: number; W: number; sN: number; sC: number; sD: number; sH: number; sW: number }

function view(N: number, C: number, spatial: readonly number[], layout: Layout): View {
  const [D, H, W] = to3d(spatial, 1);
  return layout === 'NHWC'
    ? { N, C, D, H, W, sN: D * H * W * C, sD: H * W * C, sH: W * C, sW: C, sC: 1 }
    : { N, C, D, H, W, sN: C * D * H * W, sC: D * H * W, sD: H * W, sH: W, sW: 1 };
}

function at(v: View, b: string, ch: string, z: string, y: string, x: string): string {
  return sum(mul(b, v.sN), mul(ch, v.sC), mul(z, v.sD), mul(y, v.sH), mul(x, v.sW));
}

/** Declares `const int name = expr;` unless expr is the constant 0; returns what to use in its place. */
function decl(c: Code, name: string, expr: string): string {
  if (expr === '0') return '0';
  c.line(`const int ${name} = ${expr};`);
  return name;
}

/** Output coordinates (b, z, y, x) of the flat pixel index `n` over N·OD·OH·OW. */
function pixel(c: Code, n: string, o: View, suffix = ''): [string, string, string, string] {
  const shape = [o.N, o.D, o.H, o.W];
  return ['b', 'oz', 'oy', 'ox'].map((nm, a) => decl(c, nm + suffix, coord(n, shape, a))) as [string, string, string, string];
}

interface Taps { k: number[]; s: number[]; d: number[]; p: number[]; inSz: number[]; outSz: number[] }

function taps(g: WindowGeometry): Taps {
  return {
    k: to3d(g.kernel, 1), s: to3d(g.strides, 1), d: to3d(g.dilations, 1), p: to3d(g.padBegin, 0),
    inSz: to3d(g.inSize, 1), outSz: to3d(g.outSize, 1),
  };
}

/**
 * Input coordinate on axis `a` for output coordinate `o` and tap `t`: o·s − p + t·d.
 * Returns the name to use and, when it can leave [0, in), the bounds condition.
 */
function inCoord(c: Code, name: string, a: number, o: string, t: string, tp: Taps): { v: string; cond: string } {
  const { s, d, p, inSz, outSz, k } = tp;
  const expr = sum(mul(o, s[a]), p[a] ? `${-p[a]}` : '0', mul(t, d[a])).replace('+ -', '- ');
  const v = decl(c, name, expr);
  const maxPos = (outSz[a] - 1) * s[a] - p[a] + (k[a] - 1) * d[a];
  const cond = p[a] > 0 && maxPos >= inSz[a] ? `(unsigned)${v} < ${inSz[a]}u`
    : p[a] > 0 ? `${v} >= 0` : maxPos >= inSz[a] ? `${v} < ${inSz[a]}` : '';
  return { v, cond };
}

function io(ctx: LowerCtx, i: number): { name: string; dtype: DType; shape: readonly number[] } | undefined {
  const name = ctx.node.inputs[i];
  if (name === undefined || name === '') return undefined;
  const t = ctx.graph.type(name);
  return { name, dtype: t.dtype, shape: t.shape };
}

/** Arguments x, w, [b], [r], y of a conv-like node with bias at input 2 and residual at input 3. */
function convArgs(ctx: LowerCtx, biasAt: number, resAt: number, extra: Arg[] = []): { args: Arg[]; hasB: boolean; hasR: boolean; dt: DType } {
  const x = io(ctx, 0)!, w = io(ctx, 1)!, b = io(ctx, biasAt), r = io(ctx, resAt);
  const y = ctx.node.outputs[0];
  const dt = ctx.graph.type(y).dtype;
  checkFloat(dt, ctx.node.name, ctx.node.op);
  const args: Arg[] = [{ param: 'x', value: x.name, dtype: x.dtype }, { param: 'w', value: w.name, dtype: w.dtype }, ...extra];
  if (b) args.push({ param: 'bias', value: b.name, dtype: b.dtype });
  if (r) args.push({ param: 'res', value: r.name, dtype: r.dtype });
  args.push({ param: 'y', value: y, dtype: dt, out: true });
  return { args, hasB: !!b, hasR: !!r, dt };
}

/** bias + residual + activation (or activation + residual: Conv's residual_after_act) + store, for output channel `ch` at element `idx`. */
function convEpilogue(c: Code, ctx: LowerCtx, a: { args: Arg[]; hasB: boolean; hasR: boolean; dt: DType }, ch: string, idx: string, v: string): void {
  const dtOf = (p: string) => a.args.find((x) => x.param === p)!.dtype;
  const late = a.hasR && Number(ctx.node.attrs.residual_after_act ?? 0) === 1;
  if (a.hasB) c.line(`${v} += ${load(dtOf('bias'), 'bias', ch)};`);
  if (a.hasR && !late) c.line(`${v} += ${load(dtOf('res'), 'res', idx)};`);
  const act = epilogueAct(ctx.node.attrs, v, { node: ctx.node.name, op: ctx.node.op });
  c.line(store(a.dt, 'y', ctx.outIndex(ctx.node.outputs[0], idx), late ? `(${act}) + ${load(dtOf('res'), 'res', idx)}` : act));
}

function geometryOf(ctx: LowerCtx, op: string, wIndex = 1): WindowGeometry {
  const x = io(ctx, 0)!, w = io(ctx, wIndex)!;
  return windowGeometry(op, ctx.node.attrs, x.shape, w.shape, { node: ctx.node.name, op: ctx.node.op });
}

export function conv(ctx: LowerCtx): Launch {
  const g = geometryOf(ctx, 'Conv');
  const sc = io(ctx, 4);
  const a = convArgs(ctx, 2, 3, sc ? [{ param: 'scale', value: sc.name, dtype: sc.dtype }] : []);
  const Cg = g.C / g.group;
  return Cg === 1 && g.group > 1 ? depthwise(ctx, g, a) : convGemm(ctx, g, a);
}

/** x[idx] as f32, times the input scale of (batch b, channel ch) when the conv has one. */
function scaledLoad(a: { args: Arg[] }, xd: DType, idx: string, b: string, ch: string, C: number): string {
  const s = a.args.find((x) => x.param === 'scale');
  return s ? `(${load(xd, 'x', idx)} * ${load(s.dtype, 'scale', sum(mul(b, C), ch))})` : load(xd, 'x', idx);
}

/** Implicit GEMM per group: rows = output channels of the group, cols = output pixels, k = (c, kz, ky, kx). */
function convGemm(ctx: LowerCtx, g: WindowGeometry, a: ReturnType<typeof convArgs>): Launch {
  const tp = taps(g);
  const xi = view(g.N, g.C, g.inSize, g.layout);
  const yo = view(g.N, g.M, g.outSize, g.layout);
  const Cg = g.C / g.group, Mg = g.M / g.group;
  const K = Cg * tp.k[0] * tp.k[1] * tp.k[2];
  const grouped = g.group > 1;
  const wd = a.args[1].dtype, xd = a.args[0].dtype;
  return gemmLaunch({
    kind: 'conv_igemm',
    args: a.args,
    f16: a.args.every((x) => x.dtype === 'f16'),
    M: Mg, N: g.N * yo.D * yo.H * yo.W, K, batch: g.group,
    loadA: (m, k) => load(wd, 'w', sum(grouped ? `(g * ${Mg} + ${m}) * ${K}` : mul(m, K), k)),
    loadB: (c, k, n, out) => {
      const kshape = [Cg, ...tp.k];
      const [ch, kz, ky, kx] = ['ci', 'kz', 'ky', 'kx'].map((nm, i) => decl(c, nm, coord(k, kshape, i)));
      const [b, oz, oy, ox] = pixel(c, n, yo);
      const z = inCoord(c, 'iz', 0, oz, kz, tp), y = inCoord(c, 'iy', 1, oy, ky, tp), x = inCoord(c, 'ix', 2, ox, kx, tp);
      const chan = grouped ? sum(`g * ${Cg}`, ch) : ch;
      const cond = [z.cond, y.cond, x.cond].filter(Boolean).join(' && ');
      const ld = scaledLoad(a, xd, at(xi, b, chan, z.v, y.v, x.v), b, chan, g.C);
      c.line(cond ? `if (${cond}) ${out} = ${ld};` : `${out} = ${ld};`);
    },
    epilogue: (c, m, n, acc) => {
      const [b, oz, oy, ox] = pixel(c, n, yo);
      const ch = grouped ? decl(c, 'co', `g * ${Mg} + ${m}`) : m;
      const idx = decl(c, 'yi', at(yo, b, ch, oz, oy, ox));
      convEpilogue(c, ctx, a, ch, idx, acc);
    },
  });
}

/** One thread per output element: depthwise (C/group = 1) convs, any channel multiplier. */
function depthwise(ctx: LowerCtx, g: WindowGeometry, a: ReturnType<typeof convArgs>): Launch {
  const tp = taps(g);
  const xi = view(g.N, g.C, g.inSize, g.layout);
  const mult = g.M / g.group;
  const total = g.outShape.reduce((p, q) => p * q, 1);
  const c = new Code();
  c.line('const int i = blockIdx.x * blockDim.x + threadIdx.x;');
  c.line(`if (i >= ${total}) return;`);
  const [b, ch, oz, oy, ox] = outCoords(c, g.outShape, g.layout);
  const ci = mult === 1 ? ch : decl(c, 'ci', `${ch} / ${mult}`);
  c.line('float v = 0.f;');
  tapLoops(c, tp, (kz, ky, kx) => {
    const z = inCoord(c, 'iz', 0, oz, kz, tp), y = inCoord(c, 'iy', 1, oy, ky, tp), x = inCoord(c, 'ix', 2, ox, kx, tp);
    const cond = [z.cond, y.cond, x.cond].filter(Boolean).join(' && ');
    const wIdx = sum(mul(ch, tp.k[0] * tp.k[1] * tp.k[2]), mul(kz, tp.k[1] * tp.k[2]), mul(ky, tp.k[2]), kx);
    const fma = `v = fmaf(${scaledLoad(a, a.args[0].dtype, at(xi, b, ci, z.v, y.v, x.v), b, ci, g.C)}, ${load(a.args[1].dtype, 'w', wIdx)}, v);`;
    c.line(cond ? `if (${cond}) ${fma}` : fma);
  });
  convEpilogue(c, ctx, a, ch, 'i', 'v');
  return { kind: 'conv_dw', args: a.args, body: c.toString(), threads: 256, grid: [blocksFor(total, 256), 1, 1] };
}

/** (b, c, z, y, x) of the flat output index `i` (row-major in the output's layout). */
export function outCoords(c: Code, shape: readonly number[], layout: Layout): [string, string, string, string, string] {
  const r = shape.length;
  const sp = layout === 'NHWC' ? shape.slice(1, r - 1) : shape.slice(2);
  const [D, H, W] = to3d(sp, 1);
  const N = shape[0], C = layout === 'NHWC' ? shape[r - 1] : shape[1];
  const full = layout === 'NHWC' ? [N, D, H, W, C] : [N, C, D, H, W];
  const names = layout === 'NHWC' ? ['b', 'oz', 'oy', 'ox', 'co'] : ['b', 'co', 'oz', 'oy', 'ox'];
  const got = names.map((nm, ax) => decl(c, nm, coord('i', full, ax)));
  return layout === 'NHWC' ? [got[0], got[4], got[1], got[2], got[3]] : [got[0], got[1], got[2], got[3], got[4]];
}

/** Nested tap loops over the kernel window (axes of size 1 get no loop). */
export function tapLoops(c: Code, tp: { k: number[] }, body: (kz: string, ky: string, kx: string) => void): void {
  const names = ['kz', 'ky', 'kx'];
  const open = (a: number): void => {
    if (a === 3) { body(...(names.map((n, i) => (tp.k[i] === 1 ? '0' : n)) as [string, string, string])); return; }
    if (tp.k[a] === 1) { open(a + 1); return; }
    c.line('#pragma unroll');
    c.block(`for (int ${names[a]} = 0; ${names[a]} < ${tp.k[a]}; ++${names[a]})`, () => open(a + 1));
  };
  open(0);
}

/** ConvTranspose, gather form: y[o] = Σ_c Σ_t x[(o + p − t·d) / s] · W[c][m][t] where the division is exact. */
export function convTranspose(ctx: LowerCtx): Launch {
  const g = geometryOf(ctx, 'ConvTranspose');
  const a = convArgs(ctx, 2, 3);
  const tp = taps(g);
  const xi = view(g.N, g.C, g.inSize, g.layout);
  const Cg = g.C / g.group, Mg = g.M / g.group;
  const KT = tp.k[0] * tp.k[1] * tp.k[2];
  const total = g.outShape.reduce((p, q) => p * q, 1);
  const c = new Code();
  c.line('const int i = blockIdx.x * blockDim.x + threadIdx.x;');
  c.line(`if (i >= ${total}) return;`);
  const [b, co, oz, oy, ox] = outCoords(c, g.outShape, g.layout);
  const grp = g.group > 1 ? decl(c, 'grp', `${co} / ${Mg}`) : '0';
  const ml = g.group > 1 ? decl(c, 'ml', `${co} % ${Mg}`) : co;
  c.line('float v = 0.f;');
  c.block(`for (int cl = 0; cl < ${Cg}; ++cl)`, () => {
    const ci = grp === '0' ? 'cl' : decl(c, 'ci', `${grp} * ${Cg} + cl`);
    tapLoops(c, tp, (kz, ky, kx) => {
      const conds: string[] = [];
      const coordOf = (a2: number, o: string, t: string, nm: string): string => {
        const num = sum(o, tp.p[a2] ? `${tp.p[a2]}` : '0', t === '0' ? '0' : `-${mul(t, tp.d[a2])}`).replace('+ -', '- ');
        if (num === '0') return '0';
        const nn = decl(c, `${nm}n`, num);
        if (tp.s[a2] === 1) { conds.push(`(unsigned)${nn} < ${tp.inSz[a2]}u`); return nn; }
        conds.push(`${nn} >= 0`, `${nn} % ${tp.s[a2]} == 0`, `${nn} / ${tp.s[a2]} < ${tp.inSz[a2]}`);
        return `(${nn} / ${tp.s[a2]})`;
      };
      const z = coordOf(0, oz, kz, 'iz'), y = coordOf(1, oy, ky, 'iy'), x = coordOf(2, ox, kx, 'ix');
      const wIdx = sum(mul(ci, Mg * KT), mul(ml, KT), mul(kz, tp.k[1] * tp.k[2]), mul(ky, tp.k[2]), kx);
      const fma = `v = fmaf(${load(a.args[0].dtype, 'x', at(xi, b, ci, z, y, x))}, ${load(a.args[1].dtype, 'w', wIdx)}, v);`;
      c.line(conds.length ? `if (${conds.join(' && ')}) ${fma}` : fma);
    });
  });
  convEpilogue(c, ctx, a, co, 'i', 'v');
  return { kind: 'conv_transpose', args: a.args, body: c.toString(), threads: 256, grid: [blocksFor(total, 256), 1, 1] };
}

/**
 * FusedDwPw (X, Wdw, Bdw, Wpw, Bpw, R?): a GEMM over (pointwise output channel) × (pixel) whose
 * B(c, pixel) is the depthwise conv + its activation, never written to memory.
 */
export function fusedDwPw(ctx: LowerCtx): Launch {
  const g = geometryOf(ctx, 'FusedDwPw');
  const tp = taps(g);
  const x = io(ctx, 0)!, wdw = io(ctx, 1)!, bdw = io(ctx, 2), wpw = io(ctx, 3)!, bpw = io(ctx, 4), r = io(ctx, 5);
  const y = ctx.node.outputs[0];
  const yt = ctx.graph.type(y);
  checkFloat(yt.dtype, ctx.node.name, ctx.node.op);
  const Mo = wpw.shape[0];
  const xi = view(g.N, g.C, g.inSize, g.layout);
  const yo = view(g.N, Mo, g.outSize, g.layout);
  const args: Arg[] = [
    { param: 'x', value: x.name, dtype: x.dtype },
    { param: 'wdw', value: wdw.name, dtype: wdw.dtype },
    ...(bdw ? [{ param: 'bdw', value: bdw.name, dtype: bdw.dtype }] : []),
    { param: 'w', value: wpw.name, dtype: wpw.dtype },
    ...(bpw ? [{ param: 'bias', value: bpw.name, dtype: bpw.dtype }] : []),
    ...(r ? [{ param: 'res', value: r.name, dtype: r.dtype }] : []),
    { param: 'y', value: y, dtype: yt.dtype, out: true },
  ];
  const KT = tp.k[0] * tp.k[1] * tp.k[2];
  const place = { node: ctx.node.name, op: ctx.node.op };
  return gemmLaunch({
    kind: 'fused_dwpw',
    args,
    f16: args.every((x) => x.dtype === 'f16'),
    M: Mo, N: g.N * yo.D * yo.H * yo.W, K: g.C, batch: 1,
    loadA: (m, k) => load(wpw.dtype, 'w', sum(mul(m, g.C), k)),
    loadB: (c, k, n, out) => {
      const [b, oz, oy, ox] = pixel(c, n, yo);
      c.line(`float s = ${bdw ? load(bdw.dtype, 'bdw', k) : '0.f'};`);
      tapLoops(c, tp, (kz, ky, kx) => {
        const z = inCoord(c, 'iz', 0, oz, kz, tp), yy = inCoord(c, 'iy', 1, oy, ky, tp), xx = inCoord(c, 'ix', 2, ox, kx, tp);
        const cond = [z.cond, yy.cond, xx.cond].filter(Boolean).join(' && ');
        const wIdx = sum(mul(k, KT), mul(kz, tp.k[1] * tp.k[2]), mul(ky, tp.k[2]), kx);
        const fma = `s = fmaf(${load(x.dtype, 'x', at(xi, b, k, z.v, yy.v, xx.v))}, ${load(wdw.dtype, 'wdw', wIdx)}, s);`;
        c.line(cond ? `if (${cond}) ${fma}` : fma);
      });
      c.line(`${out} = ${epilogueAct(ctx.node.attrs, 's', place, 'dw')};`);
    },
    epilogue: (c, m, n, acc) => {
      const [b, oz, oy, ox] = pixel(c, n, yo);
      const idx = decl(c, 'yi', at(yo, b, m, oz, oy, ox));
      if (bpw) c.line(`${acc} += ${load(bpw.dtype, 'bias', m)};`);
      if (r) c.line(`${acc} += ${load(r.dtype, 'res', idx)};`);
      c.line(store(yt.dtype, 'y', ctx.outIndex(y, idx), epilogueAct(ctx.node.attrs, acc, place)));
    },
  });
}
