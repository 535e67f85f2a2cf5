/**
 * Lowers a graph to steps of the wasm target: each node becomes one kernel function specialised
 * to its shapes, reading and writing fixed addresses of one linear memory:
 *
 *   [64 B unused | packed weights | arena (activations, planned by lifetime) | 64 B slack]
 *
 * Storage: a 4-D value of an NCHW graph that spatial ops touch is kept channels-last ('T': logical
 * N,C,H,W stored as N,H,W,C), so convs, pools and the channel concat need no transposes in between;
 * ops that care about element order get a converted copy, and graph outputs are stored in logical
 * order. Values in NHWC graphs (after the layout pass) are already channels-last in logical order.
 *
 * Two phases: nodes become steps holding buffer references (this file), then buffers get offsets
 * (first fit by lifetime) and every step emits its function with absolute addresses.
 */
import binaryen from 'binaryen';
import { CnncError } from '../../runtime/errors.js';
import type { Tensor } from '../../runtime/tensor.js';
import type { Graph, Node } from '../../ir/graph.js';
import { getOp } from '../../ir/ops/index.js';
import { windowGeometry } from '../../ir/ops/geometry.js';
import { sizeOf } from '../../ir/types.js';
import { SUPPORTED_ACTIVATIONS, expInline } from './activation.js';
import { FnBuilder, type Expr } from './builder.js';
import { emitConv, emitWindow, packConvWeights, packDepthwiseWeights } from './conv.js';
import {
  emitConvTranspose, emitCopy, emitElementwise, emitFill, emitGlobalPool, emitLayerNorm, emitSoftmax, emitStrided, emitTableGather,
  packConvTransposeWeights, actExpr,
} from './kernels.js';

export interface TileOptions { P: number; V: number; order?: 'weights' | 'tile' }

export interface Buf { id: number; bytes: number; start: number; end: number; offset: number }

/** Where a value lives: a buffer, the byte offset of its first element, and its storage order. */
export interface Loc {
  buf: Buf;
  off: number;
  /** 'T': logical [N,C,H,W] stored [N,H,W,C] with `ps` floats per pixel (ps ≥ C inside a concat). */
  phys: 'plain' | 'T';
  ps: number;
}

export interface Step {
  fn: string;
  node: string;
  op: string;
  flops: number;
  emit(m: binaryen.Module, addr: (l: Loc) => number): void;
}

export interface Lowered {
  steps: Step[];
  bufs: Buf[];
  weights: Float32Array;
  weightsOffset: number;
  inputs: { name: string; loc: Loc }[];
  outputs: { name: string; loc: Loc }[];
}

export const WEIGHTS_OFFSET = 64;

const unsupported = (n: Node, msg: string): never => {
  throw new CnncError('UNSUPPORTED', `the wasm target ${msg}`, { node: n.name, op: n.op });
};

const stridesOf = (shape: readonly number[]) => shape.map((_, i) => sizeOf(shape.slice(i + 1)));
/** Storage order of a channels-last value: N, spatial..., C. */
const tPerm = (rank: number) => [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2), 1];
const spatialSize = (s: readonly number[]) => sizeOf(s.slice(2));
/** Element strides of each logical dim (N, C, spatial...) of a channels-last value with ps floats per pixel. */
const tStrides = (s: readonly number[], ps: number) => [spatialSize(s) * ps, 1, ...s.slice(2).map((_, i) => sizeOf(s.slice(3 + i)) * ps)];

class Lowering {
  readonly steps: Step[] = [];
  readonly bufs: Buf[] = [];
  readonly locs = new Map<string, Loc>();
  private readonly wchunks: Float32Array[] = [];
  private wbytes = 0;
  private readonly converted = new Map<string, Loc>();
  /** Concat parts written straight into the concat's buffer: value → its slice. */
  private readonly slices = new Map<string, Loc>();
  private readonly consumers: Map<string, Node[]>;

  constructor(readonly g: Graph, readonly tile: TileOptions | undefined) {
    this.consumers = g.consumers();
  }

  /**
   * The register tile of dense convs: the given one, or 4 pixels × 12 channels, which uses all 16
   * vector registers for 7 loads per 12 mul+add (measured 15% faster than 4 × 8 and 5% faster than
   * 3 × 12 on ResNet-18's layer1). When 12 does not divide M, the last block computes only its
   * real channel vectors (emitConv), so even M = 16 runs no slower than with 4 × 8.
   */
  tileFor(): TileOptions {
    return this.tile ?? { P: 4, V: 3 };
  }

  get t(): number { return this.steps.length; }

  // ---- weights and buffers ----

  /** Appends constant floats to the weights region; returns their absolute byte address (16-aligned). */
  weight(data: Float32Array): number {
    const at = WEIGHTS_OFFSET + this.wbytes;
    const padded = new Float32Array(Math.ceil(data.length / 4) * 4 + 4);
    padded.set(data);
    this.wchunks.push(padded);
    this.wbytes += padded.length * 4;
    return at;
  }

  weights(): Float32Array {
    const out = new Float32Array(this.wbytes / 4);
    let o = 0;
    for (const c of this.wchunks) { out.set(c, o); o += c.length; }
    return out;
  }

  newBuf(floats: number): Buf {
    const b: Buf = { id: this.bufs.length, bytes: Math.ceil((floats * 4 + 64) / 64) * 64, start: Infinity, end: -1, offset: -1 };
    this.bufs.push(b);
    return b;
  }

  /** Marks a buffer live at the current step (read or written). */
  touch(l: Loc): Loc {
    l.buf.start = Math.min(l.buf.start, this.t);
    l.buf.end = Math.max(l.buf.end, this.t);
    return l;
  }

  dense(floats: number, phys: Loc['phys'], ps: number): Loc {
    return { buf: this.newBuf(floats), off: 0, phys, ps };
  }

  // ---- values ----

  shape(v: string): readonly number[] { return this.g.type(v).shape; }

  constF32(n: Node, v: string): Float32Array {
    const t = this.g.constValue(v);
    if (!t) return unsupported(n, `needs '${v}' to be a constant`);
    if (t.dtype !== 'f32') return unsupported(n, `handles f32 constants only ('${v}' is ${t.dtype})`);
    return t.data as Float32Array;
  }

  /** Location of a value; constants are placed in the weights region on first use. */
  loc(n: Node, v: string): Loc {
    let l = this.locs.get(v);
    if (!l) {
      const c = this.g.constValue(v);
      if (!c) throw new CnncError('UNKNOWN_VALUE', `value '${v}' has no location`, { node: n.name, op: n.op, value: v });
      if (c.dtype !== 'f32') return unsupported(n, `handles f32 tensors only ('${v}' is ${c.dtype})`);
      const buf: Buf = { id: -1, bytes: 0, start: 0, end: 0, offset: 0 };
      l = { buf, off: this.weight(c.data as Float32Array), phys: 'plain', ps: 0 };
      this.locs.set(v, l);
    }
    if (l.buf.id >= 0) this.touch(l);
    return l;
  }

  /** Element strides of each logical dim of `v` in its storage. */
  logicalStrides(v: string, l: Loc): number[] {
    const s = this.shape(v);
    if (l.phys === 'plain') return stridesOf(s);
    return tStrides(s, l.ps);
  }

  /** True when T storage holds the same element order as plain storage. */
  static trivialT(shape: readonly number[], l: Loc): boolean {
    return l.phys === 'plain' || (l.ps === shape[1] && (shape[1] === 1 || spatialSize(shape) === 1));
  }

  /** The value in logical order, dense: itself, or a converted copy. */
  plain(n: Node, v: string): Loc {
    const l = this.loc(n, v);
    if (Lowering.trivialT(this.shape(v), l)) return l.phys === 'plain' ? l : { ...l, phys: 'plain', ps: 0 };
    return this.convert(n, v, 'plain');
  }

  /** The 4-D value stored channels-last (T), for spatial ops of an NCHW graph. */
  channelsLast(n: Node, v: string): Loc {
    const l = this.loc(n, v);
    if (l.phys === 'T') return l;
    const s = this.shape(v);
    if (s[1] === 1 || spatialSize(s) === 1) return { ...l, phys: 'T', ps: s[1] };
    return this.convert(n, v, 'T');
  }

  private convert(n: Node, v: string, to: Loc['phys']): Loc {
    const key = `${v}\u0000${to}`;
    const done = this.converted.get(key);
    if (done) return this.touch(done);
    const s = this.shape(v);
    const src = this.loc(n, v);
    const ls = this.logicalStrides(v, src);
    const out = this.dense(sizeOf(s), to, to === 'T' ? s[1] : 0);
    const dims = to === 'T' ? tPerm(s.length).map((p) => s[p]) : [...s];
    const srcStrides = to === 'T' ? tPerm(s.length).map((p) => ls[p]) : ls;
    this.step(n, `${to === 'T' ? 'to channels-last' : 'to logical order'}`, 0, (m, a) => emitStrided(m, this.fnName(), a(src), srcStrides, a(out), stridesOf(dims), dims), [src], [out]);
    this.converted.set(key, out);
    return out;
  }

  private fnCounter = 0;
  private current = '';
  fnName(): string { return this.current; }

  /** Records a step; `reads`/`writes` are touched so their buffers live across it. */
  step(n: Node, what: string, flops: number, emit: (m: binaryen.Module, a: (l: Loc) => number) => void, reads: Loc[], writes: Loc[]): void {
    for (const l of [...reads, ...writes]) if (l.buf.id >= 0) this.touch(l);
    const fn = `s${this.fnCounter++}`;
    this.steps.push({
      fn, node: n.name, op: what === '' ? n.op : `${n.op} (${what})`, flops,
      emit: (m, a) => { this.current = fn; emit(m, a); },
    });
  }

  define(v: string, l: Loc): void { this.locs.set(v, l); }

  /** A compile-time array in the weights region, as a location. */
  constLoc(data: Float32Array): Loc {
    return { buf: { id: -1, bytes: 0, start: 0, end: 0, offset: 0 }, off: this.weight(data), phys: 'plain', ps: 0 };
  }

  // ---- lowering ----

  run(): Lowered {
    const g = this.g;
    const inputs = g.inputs.map((name) => {
      const t = g.type(name);
      if (t.dtype !== 'f32') throw new CnncError('UNSUPPORTED', `the wasm target takes f32 inputs only ('${name}' is ${t.dtype})`, { value: name });
      const l = this.dense(sizeOf(t.shape), 'plain', 0);
      l.buf.start = -1;
      this.define(name, l);
      return { name, loc: l };
    });
    this.planConcats();
    for (const n of g.nodes) this.lowerNode(n);
    const outputs = g.outputs.map((name) => {
      const fake: Node = { name: `output ${name}`, op: 'Output', inputs: [name], outputs: [], attrs: {} };
      let l = this.plain(fake, name);
      if (l.buf.id < 0 || g.inputs.includes(name) || l.off !== 0 && l.ps !== 0) {
        const out = this.dense(sizeOf(this.shape(name)), 'plain', 0);
        const src = l;
        this.step(fake, 'copy', 0, (m, a) => emitCopy(m, this.fnName(), a(src), a(out), 1, sizeOf(this.shape(name)) * 4, 0, 0), [src], [out]);
        l = out;
      }
      l.buf.end = Infinity;
      return { name, loc: l };
    });
    return { steps: this.steps, bufs: this.bufs, weights: this.weights(), weightsOffset: WEIGHTS_OFFSET, inputs, outputs };
  }

  /** Channel concats whose parts come straight from convs get one buffer the convs write into. */
  private planConcats(): void {
    const prod = this.g.producers();
    for (const n of this.g.nodes) {
      if (n.op !== 'Concat') continue;
      const out = this.shape(n.outputs[0]);
      if (out.length !== 4 || this.g.type(n.outputs[0]).dtype !== 'f32') continue;
      const axis = (Number(n.attrs.axis) + 4) % 4;
      const layouts = n.inputs.map((v) => prod.get(v)).map((p) => (p && (p.op === 'Conv' || p.op === 'FusedDwPw') ? String(p.attrs.layout ?? 'NCHW') : ''));
      const layout = layouts[0];
      const chanAxis = layout === 'NCHW' ? 1 : 3;
      if (!layout || axis !== chanAxis || layouts.some((l) => l !== layout)) continue;
      if (new Set(n.inputs).size !== n.inputs.length) continue;
      if (n.inputs.some((v) => this.g.outputs.includes(v) || (this.consumers.get(v) ?? []).length !== 1)) continue;
      const C = out[chanAxis];
      const buf = this.newBuf(sizeOf(out));
      const phys: Loc['phys'] = layout === 'NCHW' ? 'T' : 'plain';
      let c0 = 0;
      for (const v of n.inputs) {
        this.slices.set(v, { buf, off: c0 * 4, phys, ps: C });
        c0 += this.shape(v)[chanAxis];
      }
      this.slices.set(n.outputs[0], { buf, off: 0, phys, ps: C });
    }
  }

  private lowerNode(n: Node): void {
    for (const o of n.outputs) if (o !== '' && this.g.type(o).dtype !== 'f32') unsupported(n, `handles f32 tensors only ('${o}' is ${this.g.type(o).dtype})`);
    switch (n.op) {
      case 'Conv': return this.conv(n);
      case 'FusedDwPw': return this.fusedDwPw(n);
      case 'ConvTranspose': return this.convTranspose(n);
      case 'MaxPool': case 'AveragePool': return this.pool(n);
      case 'GlobalAveragePool': case 'GlobalMaxPool': return this.globalPool(n);
      case 'Gemm': case 'MatMul': return this.gemm(n);
      case 'BatchNormalization': return this.batchNorm(n);
      case 'Concat': return this.concat(n);
      case 'Reshape': case 'Flatten': case 'Squeeze': case 'Unsqueeze': case 'Identity': case 'Dropout':
        return this.define(n.outputs[0], this.plain(n, n.inputs[0]));
      case 'Transpose': return this.transpose(n);
      case 'Softmax': return this.softmax(n);
      case 'Pad': return this.pad(n);
      case 'ReduceMean': return this.reduceMean(n);
      case 'Resize': case 'Slice': case 'Split': case 'Expand': case 'Tile': return this.separableGather(n);
      case 'LayerNormalization': return this.layerNorm(n);
      default: {
        const ew = ELEMENTWISE[n.op];
        if (ew) return this.elementwise(n, n.inputs.filter((v) => v !== ''), ew(n));
        unsupported(n, `has no kernel for ${n.op}`);
      }
    }
  }

  /** NHWC view of a spatial op's data input: location, and N, H, W, C. */
  private spatialIn(n: Node, v: string): { l: Loc; N: number; H: number; W: number; C: number } {
    const s = this.shape(v);
    const layout = String(n.attrs.layout ?? 'NCHW');
    if (s.length === 3) {
      // 1-D: a 2-D op with H = 1 over the same storage
      if (layout === 'NHWC') { const l = this.plain(n, v); return { l: { ...l, ps: s[2] }, N: s[0], H: 1, W: s[1], C: s[2] }; }
      return { l: this.channelsLast(n, v), N: s[0], H: 1, W: s[2], C: s[1] };
    }
    if (s.length !== 4) return unsupported(n, `handles 1-D and 2-D spatial ops only (input [${s}])`);
    if (layout === 'NHWC') {
      const l = this.plain(n, v);
      return { l: { ...l, ps: l.ps || s[3] }, N: s[0], H: s[1], W: s[2], C: s[3] };
    }
    return { l: this.channelsLast(n, v), N: s[0], H: s[2], W: s[3], C: s[1] };
  }

  /** Output location of a spatial op: a concat slice, or a fresh dense buffer. */
  private spatialOut(n: Node, v: string, M: number): Loc {
    const slice = this.slices.get(v);
    const l = slice ?? this.dense(sizeOf(this.shape(v)), String(n.attrs.layout ?? 'NCHW') === 'NHWC' ? 'plain' : 'T', M);
    this.define(v, l);
    return l;
  }

  /** The epilogue's residual in the output's storage (channels-last for NCHW graphs). */
  private residual(n: Node, v: string | undefined): Loc | undefined {
    if (!v) return undefined;
    const s = this.shape(v);
    if (s.length >= 3 && String(n.attrs.layout ?? 'NCHW') === 'NCHW') return this.channelsLast(n, v);
    const l = this.plain(n, v);
    return { ...l, ps: l.ps || s[s.length - 1] };
  }

  private epilogue(n: Node) {
    const act = String(n.attrs.activation ?? '');
    if (!SUPPORTED_ACTIVATIONS.has(act)) unsupported(n, `has no activation '${act}'`);
    return { act, alpha: Number(n.attrs.act_alpha ?? 0), beta: Number(n.attrs.act_beta ?? 0) };
  }

  private conv(n: Node): void {
    const [xv, wv, bv, rv] = n.inputs;
    const xs = this.shape(xv), ws = this.shape(wv);
    const geo = windowGeometry('Conv', n.attrs, xs, ws, { node: n.name, op: n.op });
    if (geo.inSize.length > 2) unsupported(n, 'has no 3-D convolution');
    const x = this.spatialIn(n, xv);
    const w = this.constF32(n, wv);
    const bias = bv ? this.constF32(n, bv) : undefined;
    const y = this.spatialOut(n, n.outputs[0], geo.M);
    const r = this.residual(n, rv);
    const ep = this.epilogue(n);
    const [kh, kw] = geo.kernel.length === 1 ? [1, geo.kernel[0]] : geo.kernel;
    const two = (a: readonly number[], f: number) => (a.length === 1 ? [f, a[0]] : a);
    const [sh, sw] = two(geo.strides, 1), [dh, dw] = two(geo.dilations, 1), [ph, pw] = two(geo.padBegin, 0);
    const [OH, OW] = two(geo.outSize, 1);
    const { C, M, group, N } = geo;
    const flops = 2 * N * OH * OW * M * (C / group) * kh * kw;
    const imgX = x.H * x.W * x.l.ps * 4, imgY = OH * OW * y.ps * 4, imgR = r ? OH * OW * r.ps * 4 : 0;
    if (group === C && M === C && group > 1) {
      const pk = packDepthwiseWeights(w, bias, C, kh, kw);
      const Wd = this.weight(pk.weights), B = this.weight(pk.bias);
      this.step(n, 'depthwise', flops, (m, a) => {
        for (let i = 0; i < N; i++) {
          const name = N === 1 ? this.fnName() : `${this.fnName()}_n${i}`;
          emitWindow(m, {
            name, kind: 'dw', X: a(x.l) + i * imgX, H: x.H, W: x.W, xps: x.l.ps, C, Y: a(y) + i * imgY, OH, OW, yps: y.ps,
            kh, kw, sh, sw, dh, dw, ph, pw, Wd, B, V: 4, ...ep, R: r ? a(r) + i * imgR : undefined, rps: r?.ps,
          });
        }
        if (N > 1) addSequence(m, this.fnName(), Array.from({ length: N }, (_, i) => `${this.fnName()}_n${i}`));
      }, [x.l, ...(r ? [r] : [])], [y]);
      return;
    }
    const Cg = C / group, Mg = M / group;
    const tile = this.tileFor();
    const packs = Array.from({ length: group }, (_, gi) => {
      const pk = packConvWeights(w.subarray(gi * Mg * Cg * kh * kw, (gi + 1) * Mg * Cg * kh * kw), bias?.subarray(gi * Mg, (gi + 1) * Mg), Mg, Cg, kh, kw, tile.V);
      return { Wp: this.weight(pk.weights), B: this.weight(pk.bias) };
    });
    this.step(n, group > 1 ? `group ${group}` : '', flops, (m, a) => {
      const parts: string[] = [];
      for (let i = 0; i < N; i++) for (let gi = 0; gi < group; gi++) {
        const name = N * group === 1 ? this.fnName() : `${this.fnName()}_${i}_${gi}`;
        parts.push(name);
        emitConv(m, {
          name, X: a(x.l) + i * imgX + gi * Cg * 4, H: x.H, W: x.W, xps: x.l.ps, Cg,
          Y: a(y) + i * imgY + gi * Mg * 4, OH, OW, yps: y.ps, M: Mg, kh, kw, sh, sw, dh, dw, ph, pw,
          Wp: packs[gi].Wp, B: packs[gi].B, P: tile.P, V: tile.V, order: tile.order,
          ...ep, R: r ? a(r) + i * imgR + gi * Mg * 4 : undefined, rps: r?.ps,
        });
      }
      if (parts.length > 1) addSequence(m, this.fnName(), parts);
    }, [x.l, ...(r ? [r] : [])], [y]);
  }

  private fusedDwPw(n: Node): void {
    const [xv, wdv, bdv, wpv, bpv, rv] = n.inputs;
    const xs = this.shape(xv), wds = this.shape(wdv), wps = this.shape(wpv);
    const geo = windowGeometry('FusedDwPw', n.attrs, xs, wds, { node: n.name, op: n.op });
    if (geo.inSize.length !== 2 || geo.N !== 1) unsupported(n, 'handles 2-D FusedDwPw with batch 1 only');
    const x = this.spatialIn(n, xv);
    const { C } = geo, M = wps[0];
    const [kh, kw] = geo.kernel, [sh, sw] = geo.strides, [dh, dw] = geo.dilations, [ph, pw] = geo.padBegin, [OH, OW] = geo.outSize;
    const dk = packDepthwiseWeights(this.constF32(n, wdv), bdv ? this.constF32(n, bdv) : undefined, C, kh, kw);
    const tile = this.tileFor();
    const pk = packConvWeights(this.constF32(n, wpv), bpv ? this.constF32(n, bpv) : undefined, M, C, 1, 1, tile.V);
    const Wd = this.weight(dk.weights), Bd = this.weight(dk.bias), Wp = this.weight(pk.weights), Bp = this.weight(pk.bias);
    const dwAct = String(n.attrs.dw_activation ?? '');
    if (!SUPPORTED_ACTIVATIONS.has(dwAct)) unsupported(n, `has no activation '${dwAct}'`);
    // the depthwise result of one output row at a time lives in a small scratch buffer
    const mid = this.dense(OW * C, 'T', C);
    const y = this.spatialOut(n, n.outputs[0], M);
    const r = this.residual(n, rv);
    const ep = this.epilogue(n);
    const flops = 2 * OH * OW * C * (kh * kw + M);
    this.step(n, 'row by row', flops, (m, a) => {
      const f = this.fnName();
      emitWindow(m, {
        name: `${f}_dw`, kind: 'dw', X: a(x.l), H: x.H, W: x.W, xps: x.l.ps, C, Y: a(mid), OH, OW, yps: C,
        kh, kw, sh, sw, dh, dw, ph, pw, Wd, B: Bd, V: 4, act: dwAct, alpha: Number(n.attrs.dw_alpha ?? 0), beta: Number(n.attrs.dw_beta ?? 0),
        rowOut: true,
      });
      // stride 0: every output row reads the one scratch row
      emitConv(m, {
        name: `${f}_pw`, X: a(mid), H: 1, W: OW, xps: C, Cg: C, Y: a(y), OH, OW, yps: y.ps, M,
        kh: 1, kw: 1, sh: 0, sw: 1, dh: 1, dw: 1, ph: 0, pw: 0, Wp, B: Bp, P: tile.P, V: tile.V, order: tile.order,
        ...ep, R: r ? a(r) : undefined, rps: r?.ps, singleRow: true,
      });
      addFusedDriver(m, f, OH);
    }, [x.l, mid, ...(r ? [r] : [])], [y]);
  }

  private convTranspose(n: Node): void {
    const [xv, wv, bv, rv] = n.inputs;
    const geo = windowGeometry('ConvTranspose', n.attrs, this.shape(xv), this.shape(wv), { node: n.name, op: n.op });
    if (geo.inSize.length !== 2 || geo.group !== 1 || geo.N !== 1) unsupported(n, 'handles 2-D ConvTranspose with group 1 and batch 1 only');
    const x = this.spatialIn(n, xv);
    if (x.l.ps !== x.C) unsupported(n, 'needs a dense input');
    const { C, M } = geo;
    const [kh, kw] = geo.kernel, [sh, sw] = geo.strides, [dh, dw] = geo.dilations, [ph, pw] = geo.padBegin, [OH, OW] = geo.outSize;
    const pk = packConvTransposeWeights(this.constF32(n, wv), bv ? this.constF32(n, bv) : undefined, C, M, kh, kw);
    const Wp = this.weight(pk.weights), B = this.weight(pk.bias);
    const y = this.dense(OH * OW * M, String(n.attrs.layout ?? 'NCHW') === 'NHWC' ? 'plain' : 'T', M);
    this.define(n.outputs[0], y);
    const flops = 2 * x.H * x.W * C * M * kh * kw;
    this.step(n, 'scatter', flops, (m, a) => emitConvTranspose(m, {
      name: this.fnName(), X: a(x.l), H: x.H, W: x.W, C, Y: a(y), OH, OW, M, kh, kw, sh, sw, dh, dw, ph, pw, Wp, B,
    }), [x.l], [y]);
    const ep = this.epilogue(n);
    const r = this.residual(n, rv);
    if (ep.act !== '' || r) {
      const rl = r;
      this.step(n, 'epilogue', 0, (m, a) => emitElementwise(m, {
        name: this.fnName(), dims: [OH * OW * M], Y: a(y),
        operands: [{ addr: a(y), strides: [1] }, ...(rl ? [{ addr: a(rl), strides: [1] }] : [])],
        expr: (fb, xs) => {
          if (!rl) return actExpr(ep.act, ep.alpha, ep.beta)(fb, xs);
          const t = fb.local(binaryen.v128);
          return fb.m.block(null, [fb.set(t, fb.m.f32x4.add(fb.getv(xs[0]), fb.getv(xs[1]))), actExpr(ep.act, ep.alpha, ep.beta)(fb, [t])], binaryen.v128);
        },
      }), [y, ...(rl ? [rl] : [])], [y]);
      if (r && r.ps !== M) unsupported(n, 'needs a dense residual');
    }
  }

  private pool(n: Node): void {
    const xv = n.inputs[0];
    if (n.outputs.length > 1 && n.outputs[1] !== '') unsupported(n, 'has no MaxPool indices output');
    const geo = windowGeometry(n.op, n.attrs, this.shape(xv), undefined, { node: n.name, op: n.op });
    if (geo.inSize.length > 2 || geo.N !== 1) unsupported(n, 'handles 1-D and 2-D pooling with batch 1 only');
    const x = this.spatialIn(n, xv);
    const two = (a: readonly number[], f: number) => (a.length === 1 ? [f, a[0]] : a);
    const [kh, kw] = two(geo.kernel, 1), [sh, sw] = two(geo.strides, 1), [dh, dw] = two(geo.dilations, 1);
    const [ph, pw] = two(geo.padBegin, 0), [peh, pew] = two(geo.padEnd, 0), [OH, OW] = two(geo.outSize, 1);
    const y = this.spatialOut(n, n.outputs[0], geo.C);
    const avg = n.op === 'AveragePool';
    this.step(n, '', geo.C * OH * OW * kh * kw, (m, a) => emitWindow(m, {
      name: this.fnName(), kind: avg ? 'avg' : 'max', X: a(x.l), H: x.H, W: x.W, xps: x.l.ps, C: geo.C, Y: a(y), OH, OW, yps: y.ps,
      kh, kw, sh, sw, dh, dw, ph, pw, V: 4, act: '', alpha: 0, beta: 0,
      countPad: avg && Number(n.attrs.count_include_pad) === 1, padEndH: peh, padEndW: pew,
    }), [x.l], [y]);
  }

  private globalPool(n: Node): void {
    const x = this.spatialIn(n, n.inputs[0]);
    const s = this.shape(n.inputs[0]);
    if (x.N !== 1 || s.length !== 4) unsupported(n, 'handles 2-D global pooling with batch 1 only');
    const y = this.dense(x.C, String(n.attrs.layout ?? 'NCHW') === 'NHWC' ? 'plain' : 'T', x.C);
    this.define(n.outputs[0], y);
    const scratch = this.dense(Math.ceil(x.C / 4) * 4, 'plain', 0);
    this.step(n, '', x.H * x.W * x.C, (m, a) => emitGlobalPool(m, {
      name: this.fnName(), kind: n.op === 'GlobalAveragePool' ? 'avg' : 'max', X: a(x.l), pixels: x.H * x.W, xps: x.l.ps, C: x.C, Y: a(y), S: a(scratch),
    }), [x.l, scratch], [y]);
  }

  /** Gemm and MatMul with a constant B: a 1×1 conv whose pixels are A's rows. */
  private gemm(n: Node): void {
    const [av, bv, cv, rv] = n.inputs;
    const as = this.shape(av), bs = this.shape(bv);
    const isGemm = n.op === 'Gemm';
    if (bs.length !== 2 || !this.g.constValue(bv)) unsupported(n, `needs a constant 2-D B (got [${bs}])`);
    if (isGemm && Number(n.attrs.transA) !== 0 && as[0] !== 1) unsupported(n, 'has no transA');
    const K = isGemm && Number(n.attrs.transA) !== 0 ? as[0] : as[as.length - 1];
    const rows = sizeOf(as) / K;
    const transB = isGemm && Number(n.attrs.transB) !== 0;
    const N = transB ? bs[0] : bs[1];
    const alpha = isGemm ? Number(n.attrs.alpha) : 1, beta = isGemm ? Number(n.attrs.beta) : 1;
    const b = this.constF32(n, bv);
    const w = new Float32Array(N * K); // (N, K): conv weights (M=N, C=K, 1, 1)
    for (let j = 0; j < N; j++) for (let k = 0; k < K; k++) w[j * K + k] = alpha * (transB ? b[j * K + k] : b[k * N + j]);
    let bias: Float32Array | undefined;
    let resid: string | undefined = rv || undefined;
    let residConst: Float32Array | undefined;
    if (cv) {
      const cs = this.shape(cv), c = this.g.constValue(cv);
      if (c && sizeOf(cs) === N && (cs.length <= 1 || cs[cs.length - 1] === N)) bias = Float32Array.from(c.data as Float32Array, (x) => x * beta);
      else if (c && !resid) residConst = broadcast2d(c.data as Float32Array, cs, rows, N, beta);
      else if (!c && beta === 1 && !resid && sizeOf(cs) === rows * N) resid = cv;
      else unsupported(n, `has no Gemm C of shape [${cs}] here`);
    }
    const a = this.plain(n, av);
    const y = this.dense(rows * N, 'plain', 0);
    this.define(n.outputs[0], y);
    const r = resid ? this.plain(n, resid) : residConst ? this.constLoc(residConst) : undefined;
    const ep = isGemm ? this.epilogue(n) : { act: '', alpha: 0, beta: 0 };
    const tile = this.tileFor();
    const pk = packConvWeights(w, bias, N, K, 1, 1, tile.V);
    const Wp = this.weight(pk.weights), B = this.weight(pk.bias);
    this.step(n, '', 2 * rows * N * K, (m, ad) => emitConv(m, {
      name: this.fnName(), X: ad(a), H: 1, W: rows, xps: K, Cg: K, Y: ad(y), OH: 1, OW: rows, yps: N, M: N,
      kh: 1, kw: 1, sh: 1, sw: 1, dh: 1, dw: 1, ph: 0, pw: 0, Wp, B, P: tile.P, V: tile.V, order: tile.order,
      ...ep, R: r ? ad(r) : undefined, rps: r ? N : undefined,
    }), [a, ...(r ? [r] : [])], [y]);
  }

  private batchNorm(n: Node): void {
    const [xv, sv, bv, mv, vv] = n.inputs;
    const eps = Number(n.attrs.epsilon);
    const [sc, b, mean, v] = [sv, bv, mv, vv].map((x) => this.constF32(n, x));
    const scale = new Float32Array(sc.length), shift = new Float32Array(sc.length);
    for (let c = 0; c < sc.length; c++) {
      scale[c] = sc[c] / Math.sqrt(v[c] + eps);
      shift[c] = b[c] - mean[c] * scale[c];
    }
    const s = this.shape(xv);
    const layout = String(n.attrs.layout ?? 'NCHW');
    const chShape = s.map((d, i) => ((layout === 'NHWC' ? i === s.length - 1 : i === 1) ? d : 1));
    this.elementwise(n, [xv, { data: scale, shape: chShape }, { data: shift, shape: chShape }],
      (fb, xs) => fb.m.f32x4.add(fb.m.f32x4.mul(fb.getv(xs[0]), fb.getv(xs[1])), fb.getv(xs[2])));
  }

  /**
   * Broadcast elementwise: operands are values or constant arrays (with their shapes). The output is
   * channels-last when a 4-D data operand is, so chains of elementwise ops keep the conv layout.
   */
  elementwise(n: Node, operands: (string | { data: Float32Array; shape: readonly number[] })[], expr: (fb: FnBuilder, xs: number[]) => Expr): void {
    const out = this.shape(n.outputs[0]);
    const r = out.length;
    const isT = r >= 3 && operands.some((v) => typeof v === 'string' && !this.g.constValue(v) && this.locs.get(v)?.phys === 'T' && this.shape(v).length === r);
    const srcs = operands.map((v) => {
      if (typeof v !== 'string') return { l: { buf: { id: -1, bytes: 0, start: 0, end: 0, offset: 0 }, off: this.weight(v.data), phys: 'plain' as const, ps: 0 }, ls: stridesOf(v.shape), shape: v.shape };
      const sh = this.shape(v);
      let l = this.loc(n, v);
      if (l.phys === 'T' && !(isT && sh.length === r)) l = this.plain(n, v);
      return { l, ls: this.logicalStrides(v, l), shape: sh };
    });
    // strides over the output's dims (aligned right; broadcast dims get 0), then in storage order
    const operandStrides = srcs.map(({ ls, shape }) => {
      const st = out.map((_, i) => {
        const j = i - (r - shape.length);
        return j < 0 || shape[j] === 1 ? 0 : ls[j];
      });
      return isT ? tPerm(r).map((p) => st[p]) : st;
    });
    const dims = isT ? tPerm(r).map((p) => out[p]) : [...out];
    const y = this.dense(sizeOf(out), isT ? 'T' : 'plain', isT ? out[1] : 0);
    this.define(n.outputs[0], y);
    this.step(n, '', sizeOf(out), (m, a) => emitElementwise(m, {
      name: this.fnName(), dims, Y: a(y), operands: srcs.map((s, k) => ({ addr: a(s.l), strides: operandStrides[k] })), expr,
    }), srcs.map((s) => s.l), [y]);
  }

  private concat(n: Node): void {
    const outV = n.outputs[0];
    const slice = this.slices.get(outV);
    if (slice) {
      // every part already wrote its slice; touch them so the buffer lives from the first part on
      for (const v of n.inputs) this.loc(n, v);
      this.define(outV, this.touch(slice));
      return;
    }
    const out = this.shape(outV);
    const r = out.length;
    const axis = (Number(n.attrs.axis) + r) % r;
    const isT = r >= 3 && n.inputs.some((v) => this.locs.get(v)?.phys === 'T');
    const parts = n.inputs.map((v) => (isT ? this.channelsLast(n, v) : this.plain(n, v)));
    parts.forEach((p, i) => { if (isT && p.ps !== this.shape(n.inputs[i])[1]) unsupported(n, 'needs dense concat inputs'); });
    const dims = isT ? tPerm(r).map((p) => out[p]) : [...out];
    const ax = isT ? tPerm(r).indexOf(axis) : axis;
    const y = this.dense(sizeOf(out), isT ? 'T' : 'plain', isT ? out[1] : 0);
    this.define(outV, y);
    const outer = sizeOf(dims.slice(0, ax)), innerOut = sizeOf(dims.slice(ax));
    this.step(n, 'copy', 0, (m, a) => {
      let off = 0;
      const names: string[] = [];
      n.inputs.forEach((v, i) => {
        const s = this.shape(v), pd = isT ? tPerm(r).map((p) => s[p]) : [...s];
        const inner = sizeOf(pd.slice(ax));
        const name = `${this.fnName()}_${i}`;
        names.push(name);
        emitCopy(m, name, a(parts[i]), a(y) + off * 4, outer, inner * 4, inner * 4, innerOut * 4);
        off += inner;
      });
      addSequence(m, this.fnName(), names);
    }, parts, [y]);
  }

  private transpose(n: Node): void {
    const xv = n.inputs[0];
    const s = this.shape(xv);
    const perm = (n.attrs.perm as number[]).length ? (n.attrs.perm as number[]) : s.map((_, i) => s.length - 1 - i);
    const src = this.loc(n, xv);
    const ls = this.logicalStrides(xv, src);
    const dims = perm.map((p) => s[p]);
    const y = this.dense(sizeOf(s), 'plain', 0);
    this.define(n.outputs[0], y);
    this.step(n, '', 0, (m, a) => emitStrided(m, this.fnName(), a(src), perm.map((p) => ls[p]), a(y), stridesOf(dims), dims), [src], [y]);
  }

  private softmax(n: Node): void {
    if (n.op !== 'Softmax') unsupported(n, `has no ${n.op}`);
    const s = this.shape(n.inputs[0]);
    const axis = (Number(n.attrs.axis) + s.length) % s.length;
    const x = this.plain(n, n.inputs[0]);
    const y = this.dense(sizeOf(s), 'plain', 0);
    this.define(n.outputs[0], y);
    this.step(n, '', 5 * sizeOf(s), (m, a) => emitSoftmax(m, this.fnName(), a(x), a(y), sizeOf(s.slice(0, axis)), s[axis], sizeOf(s.slice(axis + 1))), [x], [y]);
  }

  private pad(n: Node): void {
    const mode = String(n.attrs.mode ?? 'constant');
    if (mode !== 'constant') unsupported(n, `has no Pad mode '${mode}'`);
    const xv = n.inputs[0];
    const s = this.shape(xv), out = this.shape(n.outputs[0]);
    const pads = n.attrs.pads as number[];
    if (pads.some((p) => p < 0)) unsupported(n, 'has no negative pads');
    const src = this.loc(n, xv);
    const ls = this.logicalStrides(xv, src);
    const isT = src.phys === 'T';
    const y = this.dense(sizeOf(out), isT ? 'T' : 'plain', isT ? out[1] : 0);
    this.define(n.outputs[0], y);
    const yl = isT ? tStrides(out, out[1]) : stridesOf(out);
    const start = pads.slice(0, s.length).reduce((acc, p, i) => acc + p * yl[i], 0);
    const value = Number(n.attrs.value ?? 0);
    this.step(n, '', 0, (m, a) => {
      const f = this.fnName();
      emitFill(m, `${f}_fill`, a(y), sizeOf(out), value);
      emitStrided(m, `${f}_copy`, a(src), ls, a(y) + start * 4, yl, [...s]);
      addSequence(m, f, [`${f}_fill`, `${f}_copy`]);
    }, [src], [y]);
  }

  /**
   * Ops whose output coordinates map to input coordinates axis by axis: Resize (nearest), Slice,
   * Split, Expand, Tile. The per-axis maps are read off the op's reference kernel, run on tensors
   * holding each input axis' coordinate — the op's own rules (negative indices, clamping,
   * coordinate_transformation_mode, nearest_mode) by construction — and the kernel gathers
   * through per-axis tables.
   */
  private separableGather(n: Node): void {
    if (n.op === 'Resize' && String(n.attrs.mode) !== 'nearest') unsupported(n, `has no Resize mode '${String(n.attrs.mode)}' (nearest only)`);
    const xv = n.inputs[0];
    const s = this.shape(xv), ins = stridesOf(s);
    const def = getOp(n.op, n.name);
    const others = n.inputs.slice(1).map((v) => (v ? this.g.constValue(v) ?? unsupported(n, `needs '${v}' to be a constant`) : undefined));
    const outTypes = n.outputs.map((o) => (o === '' ? { dtype: 'f32' as const, shape: [] } : this.g.type(o)));
    const probes = s.map((_, j) => def.reference([{ dtype: 'f32', shape: s, data: new Float32Array(sizeOf(s)).map((_, i) => Math.floor(i / ins[j]) % s[j]) }, ...others], n.attrs, outTypes));
    const x = this.plain(n, xv);
    n.outputs.forEach((ov, k) => {
      if (ov === '') return;
      const out = this.shape(ov), os = stridesOf(out), lead = out.length - s.length;
      const tables = out.map((_, a) => {
        const table = new Int32Array(out[a]);
        const j = a - lead;
        if (j >= 0) for (let o = 0; o < out[a]; o++) table[o] = (probes[j][k].data as Float32Array)[o * os[a]] * ins[j] * 4;
        return this.weight(new Float32Array(table.buffer));
      });
      const y = this.dense(sizeOf(out), 'plain', 0);
      this.define(ov, y);
      this.step(n, n.outputs.length > 1 ? `gather ${k}` : 'gather', 0, (m, ad) => emitTableGather(m, this.fnName(), ad(x), ad(y), [...out], tables), [x], [y]);
    });
  }

  private layerNorm(n: Node): void {
    if (n.outputs.slice(1).some((o) => o !== '')) unsupported(n, 'has no LayerNormalization statistics outputs');
    const [xv, sv, bv] = n.inputs;
    const s = this.shape(xv);
    const axis = (Number(n.attrs.axis) + s.length) % s.length;
    const normShape = s.slice(axis), count = sizeOf(normShape), rows = sizeOf(s) / count;
    const full = (v: string | undefined, fill: number) => {
      const outArr = new Float32Array(count).fill(fill);
      if (!v) return outArr;
      const src = this.constF32(n, v), ps = this.shape(v);
      const aligned = [...new Array(normShape.length - ps.length).fill(1), ...ps], st = stridesOf(aligned), ns = stridesOf(normShape);
      for (let k = 0; k < count; k++) {
        let j = 0;
        for (let d = 0; d < normShape.length; d++) if (aligned[d] !== 1) j += (Math.floor(k / ns[d]) % normShape[d]) * st[d];
        outArr[k] = src[j];
      }
      return outArr;
    };
    const S = this.weight(full(sv, 1)), B = this.weight(full(bv, 0));
    const x = this.plain(n, xv);
    const y = this.dense(sizeOf(s), 'plain', 0);
    this.define(n.outputs[0], y);
    this.step(n, '', 7 * sizeOf(s), (m, a) => emitLayerNorm(m, this.fnName(), a(x), a(y), rows, count, Number(n.attrs.epsilon), S, B), [x], [y]);
  }

  /** ReduceMean over the spatial axes of a 4-D value, kept: a global average pool. */
  private reduceMean(n: Node): void {
    const s = this.shape(n.inputs[0]);
    const axes = ((n.attrs.axes as number[]) ?? []).map((a) => (a + s.length) % s.length).sort();
    if (s.length !== 4 || axes.join() !== '2,3' || Number(n.attrs.keepdims) !== 1) unsupported(n, 'handles ReduceMean over axes [2,3] with keepdims only');
    this.globalPool({ ...n, op: 'GlobalAveragePool', attrs: { layout: 'NCHW' } });
  }
}

/** `name()`: calls the functions `parts` in order. */
export function addSequence(m: binaryen.Module, name: string, parts: string[]): void {
  m.addFunction(name, binaryen.none, binaryen.none, [], m.block(null, parts.map((p) => m.call(p, [], binaryen.none))));
}

/**
 * `name()` for FusedDwPw: for each output row, the depthwise row into the scratch row, then the
 * pointwise conv over it (the row's output and residual addresses advance per row).
 */
function addFusedDriver(m: binaryen.Module, name: string, rows: number): void {
  const fb = new FnBuilder(m, 0);
  const r = fb.local(binaryen.i32);
  m.addFunction(name, binaryen.none, binaryen.none, fb.vars, fb.loop(r, m.i32.const(0), rows, 1, [
    m.call(`${name}_dw_row`, [fb.geti(r)], binaryen.none),
    m.call(`${name}_pw_row`, [fb.geti(r)], binaryen.none),
  ]));
}

/** Gemm's C broadcast to [rows, N] and scaled by beta. */
function broadcast2d(c: Float32Array, shape: readonly number[], rows: number, N: number, beta: number): Float32Array {
  const s2 = [...new Array(Math.max(0, 2 - shape.length)).fill(1), ...shape];
  const out = new Float32Array(rows * N);
  for (let i = 0; i < rows; i++) for (let j = 0; j < N; j++) out[i * N + j] = beta * c[(s2[0] === 1 ? 0 : i) * s2[1] + (s2[1] === 1 ? 0 : j)];
  return out;
}

type ExprFn = (fb: FnBuilder, xs: number[]) => Expr;

/** Elementwise ops: the f32x4 expression over the operands' locals. */
const ELEMENTWISE: Record<string, (n: Node) => ExprFn> = {
  Add: () => (fb, x) => fb.m.f32x4.add(fb.getv(x[0]), fb.getv(x[1])),
  Sub: () => (fb, x) => fb.m.f32x4.sub(fb.getv(x[0]), fb.getv(x[1])),
  Mul: () => (fb, x) => fb.m.f32x4.mul(fb.getv(x[0]), fb.getv(x[1])),
  Div: () => (fb, x) => fb.m.f32x4.div(fb.getv(x[0]), fb.getv(x[1])),
  Max: () => (fb, x) => x.slice(1).reduce((acc, k) => fb.m.f32x4.max(acc, fb.getv(k)), fb.getv(x[0])),
  Min: () => (fb, x) => x.slice(1).reduce((acc, k) => fb.m.f32x4.min(acc, fb.getv(k)), fb.getv(x[0])),
  Sum: () => (fb, x) => x.slice(1).reduce((acc, k) => fb.m.f32x4.add(acc, fb.getv(k)), fb.getv(x[0])),
  Mean: () => (fb, x) => fb.m.f32x4.mul(x.slice(1).reduce((acc, k) => fb.m.f32x4.add(acc, fb.getv(k)), fb.getv(x[0])), fb.m.f32x4.splat(fb.m.f32.const(1 / x.length))),
  PRelu: () => (fb, x) => fb.m.v128.bitselect(fb.getv(x[0]), fb.m.f32x4.mul(fb.getv(x[0]), fb.getv(x[1])), fb.m.f32x4.ge(fb.getv(x[0]), fb.m.f32x4.splat(fb.m.f32.const(0)))),
  Neg: () => (fb, x) => fb.m.f32x4.neg(fb.getv(x[0])),
  Abs: () => (fb, x) => fb.m.f32x4.abs(fb.getv(x[0])),
  Sqrt: () => (fb, x) => fb.m.f32x4.sqrt(fb.getv(x[0])),
  Exp: () => (fb, x) => expInline(fb, fb.getv(x[0])),
  Reciprocal: () => (fb, x) => fb.m.f32x4.div(fb.m.f32x4.splat(fb.m.f32.const(1)), fb.getv(x[0])),
  Floor: () => (fb, x) => fb.m.f32x4.floor(fb.getv(x[0])),
  Ceil: () => (fb, x) => fb.m.f32x4.ceil(fb.getv(x[0])),
  Round: () => (fb, x) => fb.m.f32x4.nearest(fb.getv(x[0])),
  Relu: () => actExpr('relu', 0, 0),
  LeakyRelu: (n) => actExpr('leaky_relu', Number(n.attrs.alpha), 0),
  Sigmoid: () => actExpr('sigmoid', 0, 0),
  HardSigmoid: (n) => actExpr('hard_sigmoid', Number(n.attrs.alpha), Number(n.attrs.beta)),
  HardSwish: () => actExpr('hard_swish', 0, 0),
  Tanh: () => actExpr('tanh', 0, 0),
  Erf: () => actExpr('erf', 0, 0),
  Gelu: (n) => actExpr(n.attrs.approximate === 'tanh' ? 'gelu_tanh' : 'gelu', 0, 0),
  Clip: (n) => actExpr('clip', Number(n.attrs.min), Number(n.attrs.max)),
};

/** Every op the wasm target lowers (the elementwise table plus the ops with their own kernels). */
export const WASM_OPS: ReadonlySet<string> = new Set([
  'Conv', 'FusedDwPw', 'ConvTranspose', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool', 'Gemm', 'MatMul',
  'BatchNormalization', 'Concat', 'Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Identity', 'Dropout', 'Transpose', 'Softmax',
  'Pad', 'ReduceMean', 'Resize', 'Slice', 'Split', 'Expand', 'Tile', 'LayerNormalization', ...Object.keys(ELEMENTWISE),
]);

export function lower(g: Graph, tile?: TileOptions): Lowered {
  for (const n of g.nodes) getOp(n.op, n.name);
  return new Lowering(g, tile).run();
}

export type { Tensor };
