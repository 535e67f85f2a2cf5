/**
 * Where values live while a graph is lowered to wasm steps, and the steps themselves: one linear
 * memory laid out as
 *
 *   [64 B unused | packed weights | arena (activations, planned by lifetime) | 64 B slack]
 *
 * Storage: a 4-D value of an NCHW graph that spatial ops touch is kept channels-last ('T': logical
 * N,C,H,W stored as N,H,W,C), so convs, pools and the channel concat need no transposes in between;
 * ops that care about element order get a converted copy, and graph outputs are stored in logical
 * order. Values in NHWC graphs (after the layout pass) are already channels-last in logical order.
 * Channel concats get one buffer that convs and pools write their slices of (the plan is shared with
 * the other targets: codegen/concat-plan.ts).
 *
 * Buffers here hold sizes and lifetimes (the step indices that touch them); compileWasm gives them
 * offsets afterwards, and every step then emits its function with absolute addresses.
 */
import type binaryen from 'binaryen';
import { CnncError } from '../../runtime/errors.js';
import type { Graph, Node } from '../../ir/graph.js';
import { BYTES_PER_ELEMENT, sizeOf } from '../../ir/types.js';
import type { DType } from '../../runtime/tensor.js';
import { emitStrided } from './kernels.js';
import { planConcats, type CanWriteSlice } from '../concat-plan.js';
import type { TileOptions } from './options.js';
export type { TileOptions } from './options.js';

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
  /** The exported function: kernel and variant (`conv3x3_s1_nhwc_4x8_relu`), unique in the module. */
  fn: string;
  node: string;
  op: string;
  flops: number;
  emit(m: binaryen.Module, addr: (l: Loc) => number): void;
}

/** Emits a step's function(s): `fn` is its name, `a` the absolute byte address of a location. */
export type EmitStep = (m: binaryen.Module, a: (l: Loc) => number, fn: string) => void;

export interface Lowered {
  steps: Step[];
  bufs: Buf[];
  /** The weights region, as consecutive byte parts (joined only when the artifact is written). */
  weights: Uint8Array[];
  weightBytes: number;
  weightsOffset: number;
  inputs: { name: string; loc: Loc }[];
  outputs: { name: string; loc: Loc }[];
}

/** How one op lowers: its own refusals (beyond the f32 rule every op shares) and its steps. */
export interface OpLowering {
  /** Why this node cannot be lowered, or undefined; only (node, graph) decide, so supports() can ask first. */
  check?(n: Node, g: Graph): string | undefined;
  /** For lowerings that take values other than f32: why not this node's dtypes (else the f32 rule refuses them). */
  typed?(n: Node, g: Graph): string | undefined;
  lower(s: Storage, n: Node): void;
}

export const WEIGHTS_OFFSET = 64;

/**
 * The shape side of writing a Concat part in place (codegen/concat-plan.ts): convs and windowed
 * pools store channels-last pixels of `ps` floats (spatialOut), so a channel slice is an offset into
 * the pixel: the concat must be over the channel axis of the producer's layout (1 for NCHW graphs,
 * whose 4-D values live channels-last; 3 for NHWC), 4-D, f32. Whether the producer's SIMD kernel (and
 * not its generic fallback, which writes a dense buffer) takes the node is lower.ts's wasmWritesSlice.
 */
export function sliceShapeFits(p: Node, v: string, axis: number, g: Graph): boolean {
  const t = g.type(v);
  if (t.shape.length !== 4 || t.dtype !== 'f32' || p.outputs.filter(Boolean).length !== 1) return false;
  return axis === (String(p.attrs.layout ?? 'NCHW') === 'NHWC' ? 3 : 1);
}

export const stridesOf = (shape: readonly number[]) => shape.map((_, i) => sizeOf(shape.slice(i + 1)));
/** Storage order of a channels-last value: N, spatial..., C. */
export const tPerm = (rank: number) => [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2), 1];
const spatialSize = (s: readonly number[]) => sizeOf(s.slice(2));
/** Element strides of each logical dim (N, C, spatial...) of a channels-last value with ps floats per pixel. */
export const tStrides = (s: readonly number[], ps: number) => [spatialSize(s) * ps, 1, ...s.slice(2).map((_, i) => sizeOf(s.slice(3 + i)) * ps)];

/** A state supports() rules out: reaching it is a bug in a check, not an unsupported model. */
export function unchecked(n: Node, msg: string): never {
  throw new CnncError('KERNEL_ERROR', `the wasm target ${msg} (supports() should have refused this node)`, { node: n.name, op: n.op });
}

/** The first of `values` that is not a constant, as a reason (weights, biases, normalization parameters). */
export function needsConstants(g: Graph, values: readonly (string | undefined)[]): string | undefined {
  const v = values.find((x) => x && !g.constValue(x));
  return v ? `needs '${v}' to be a constant` : undefined;
}

// ---- kernel names: `3x3`, stride `_s2` (`_s2x1` when the axes differ), dilation `_d2`, activation `_relu` ----

export const kxk = (kh: number, kw: number) => `${kh}x${kw}`;
export const pairTag = (tag: string, a: number, b: number, skip: number) => (a === skip && b === skip ? '' : `_${tag}${a === b ? a : `${a}x${b}`}`);
export const actTag = (act: string) => (act === '' ? '' : `_${act}`);
/** A 1-D window's attribute as 2-D: [filler, a0]. */
export const two = (a: readonly number[], filler: number) => (a.length === 1 ? [filler, a[0]] : a);

/** A typed array's bytes as 32-bit words (zero-padded), for the weights region. */
function rawWords(data: ArrayBufferView): Float32Array {
  const out = new Float32Array(Math.ceil(data.byteLength / 4));
  new Uint8Array(out.buffer).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return out;
}

/** 32-bit words that hold `count` elements of `dtype`. */
export const wordsOf = (count: number, dtype: DType) => Math.ceil((count * BYTES_PER_ELEMENT[dtype]) / 4);

const CONST_BUF = (): Buf => ({ id: -1, bytes: 0, start: 0, end: 0, offset: 0 });

export class Storage {
  readonly steps: Step[] = [];
  readonly bufs: Buf[] = [];
  readonly locs = new Map<string, Loc>();
  private readonly wchunks: Float32Array[] = [];
  private wbytes = 0;
  private readonly converted = new Map<string, Loc>();
  /** Concat parts written straight into the concat's buffer: value → its slice. */
  readonly slices = new Map<string, Loc>();
  /** The buffers of the concats with parts written in place: output value → the whole buffer. */
  readonly wholes = new Map<string, Loc>();
  private readonly names = new Set<string>();

  constructor(readonly g: Graph, readonly tile: TileOptions | undefined) {}

  /**
   * The register tile of dense convs: the given one, or by the kernel's window (`taps` = kh·kw):
   * 2 pixels × 16 channels for kh×kw > 1, 4 × 8 for 1×1 convs and Gemm. On ResNet-18's 3×3 convs
   * 2 × 16 ran 2–6% faster at 56² and 28², 15% at 14² and 7² (no 2-pixel tail tiles there; half the
   * input splats per multiply-add), the whole model 7.7–8.7%; on 1×1 convs it gained nothing.
   */
  tileFor(taps = 1): TileOptions {
    return this.tile ?? (taps > 1 ? { P: 2, V: 4 } : { P: 4, V: 2 });
  }

  get t(): number { return this.steps.length; }

  // ---- weights and buffers ----

  /** Appends constant floats to the weights region; returns their absolute byte address (16-aligned). */
  weight(data: Float32Array): number {
    const at = WEIGHTS_OFFSET + this.wbytes;
    this.wchunks.push(data); // copied once, into weights(), with its zero padding
    this.wbytes += (Math.ceil(data.length / 4) * 4 + 4) * 4;
    return at;
  }

  /** Appends constant bytes of any typed array (int8 weights, i32 biases, f64 multipliers); returns their address. */
  weightRaw(data: ArrayBufferView): number {
    return this.weight(rawWords(data));
  }

  /** The weights region as byte parts, in order: each chunk, then the zeros that pad it to its 16-byte slot. */
  weights(): Uint8Array[] {
    return this.wchunks.flatMap((c) => {
      const pad = (Math.ceil(c.length / 4) * 4 + 4 - c.length) * 4;
      return [new Uint8Array(c.buffer, c.byteOffset, c.byteLength), new Uint8Array(pad)];
    });
  }

  /** Bytes of the weights region. */
  get weightBytes(): number { return this.wbytes; }

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

  /** A compile-time array in the weights region, as a location. */
  constLoc(data: Float32Array): Loc {
    return { buf: CONST_BUF(), off: this.weight(data), phys: 'plain', ps: 0 };
  }

  // ---- values ----

  shape(v: string): readonly number[] { return this.g.type(v).shape; }

  /** The data of an f32 constant (supports() checked that it is one). */
  constF32(n: Node, v: string): Float32Array {
    const t = this.g.constValue(v);
    if (!t || t.dtype !== 'f32') return unchecked(n, `needs '${v}' to be an f32 constant`);
    return t.data as Float32Array;
  }

  /** Location of a value; constants are placed in the weights region on first use. */
  loc(n: Node, v: string): Loc {
    let l = this.locs.get(v);
    if (!l) {
      const c = this.g.constValue(v);
      if (!c) throw new CnncError('UNKNOWN_VALUE', `value '${v}' has no location`, { node: n.name, op: n.op, value: v });
      l = this.constLoc(c.dtype === 'f32' ? this.constF32(n, v) : rawWords(c.data));
      this.locs.set(v, l);
    }
    if (l.buf.id >= 0) this.touch(l);
    return l;
  }

  define(v: string, l: Loc): void { this.locs.set(v, l); }

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
    if (Storage.trivialT(this.shape(v), l)) return l.phys === 'plain' ? l : { ...l, phys: 'plain', ps: 0 };
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
    const dtype = this.g.type(v).dtype, bytes = BYTES_PER_ELEMENT[dtype];
    const out = this.dense(Math.max(sizeOf(s), wordsOf(sizeOf(s), dtype)), to, to === 'T' ? s[1] : 0);
    const dims = to === 'T' ? tPerm(s.length).map((p) => s[p]) : [...s];
    const srcStrides = to === 'T' ? tPerm(s.length).map((p) => ls[p]) : ls;
    this.step(n, to === 'T' ? 'to_channels_last' : 'to_logical_order', to === 'T' ? 'to channels-last' : 'to logical order', 0,
      (m, a, fn) => emitStrided(m, fn, a(src), srcStrides, a(out), stridesOf(dims), dims, bytes), [src], [out]);
    this.converted.set(key, out);
    return out;
  }

  // ---- spatial ops ----

  /** NHWC view of a spatial op's data input (rank 3 or 4, checked): location, and N, H, W, C. */
  spatialIn(n: Node, v: string): { l: Loc; N: number; H: number; W: number; C: number } {
    const s = this.shape(v);
    const layout = String(n.attrs.layout ?? 'NCHW');
    if (s.length === 3) {
      // 1-D: a 2-D op with H = 1 over the same storage
      if (layout === 'NHWC') { const l = this.plain(n, v); return { l: { ...l, ps: s[2] }, N: s[0], H: 1, W: s[1], C: s[2] }; }
      return { l: this.channelsLast(n, v), N: s[0], H: 1, W: s[2], C: s[1] };
    }
    if (layout === 'NHWC') {
      const l = this.plain(n, v);
      return { l: { ...l, ps: l.ps || s[3] }, N: s[0], H: s[1], W: s[2], C: s[3] };
    }
    return { l: this.channelsLast(n, v), N: s[0], H: s[2], W: s[3], C: s[1] };
  }

  /** Output location of a spatial op: a concat slice, or a fresh dense buffer. */
  spatialOut(n: Node, v: string, M: number): Loc {
    const slice = this.slices.get(v);
    const l = slice ?? this.dense(sizeOf(this.shape(v)), String(n.attrs.layout ?? 'NCHW') === 'NHWC' ? 'plain' : 'T', M);
    this.define(v, l);
    return l;
  }

  /** The epilogue's residual in the output's storage (channels-last for NCHW graphs). */
  residual(n: Node, v: string | undefined): Loc | undefined {
    if (!v) return undefined;
    const s = this.shape(v);
    if (s.length >= 3 && String(n.attrs.layout ?? 'NCHW') === 'NCHW') return this.channelsLast(n, v);
    const l = this.plain(n, v);
    return { ...l, ps: l.ps || s[s.length - 1] };
  }

  /**
   * Channel concats: the parts the shared plan (codegen/concat-plan.ts) lets their producers write
   * in place get their slice of one buffer (pixels of `ps` = all the concat's channels); the concat
   * copies the rest into it.
   */
  planConcats(canWrite: CanWriteSlice): void {
    const plan = planConcats(this.g, canWrite);
    for (const [v, sl] of plan.slices) {
      const out = this.shape(sl.whole);
      let whole = this.wholes.get(sl.whole);
      if (!whole) {
        const phys: Loc['phys'] = sl.axis === 1 ? 'T' : 'plain';
        whole = { buf: this.newBuf(sizeOf(out)), off: 0, phys, ps: out[sl.axis] };
        this.wholes.set(sl.whole, whole);
      }
      this.slices.set(v, { ...whole, off: sl.offset * 4 });
    }
  }

  // ---- steps ----

  /** `kernel`, or `kernel_2`, `kernel_3`, ... when taken: function names stay unique in the module. */
  private uniqueName(kernel: string): string {
    // resume at this kernel's last suffix: scanning from 2 every time made 50,000 steps quadratic
    let k = this.suffix.get(kernel) ?? 1;
    let name = k === 1 ? kernel : `${kernel}_${k}`;
    while (this.names.has(name)) name = `${kernel}_${++k}`;
    this.suffix.set(kernel, k);
    this.names.add(name);
    return name;
  }
  private readonly suffix = new Map<string, number>();

  /**
   * Records a step named after its kernel; `what` (a variant, or '') goes into the plan's op
   * column. `reads`/`writes` are touched so their buffers live across it.
   */
  step(n: Node, kernel: string, what: string, flops: number, emit: EmitStep, reads: Loc[], writes: Loc[]): void {
    for (const l of [...reads, ...writes]) if (l.buf.id >= 0) this.touch(l);
    const fn = this.uniqueName(kernel);
    this.steps.push({ fn, node: n.name, op: what === '' ? n.op : `${n.op} (${what})`, flops, emit: (m, a) => emit(m, a, fn) });
  }
}
