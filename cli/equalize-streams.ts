/**
 * Residual-stream equalization for `cnnc quantize`: an exact rewrite of the f32 model, before
 * calibration, that lets one u8 scale per tensor fit a residual stream's channels.
 *
 * In a linear-bottleneck network (MobileNetV2, EfficientNet) the tensors a stage's Adds chain
 * together carry no activation, and their channels sit at different offsets: MobileNetV2's
 * features.6 Add has per-channel ranges 9–17 wide but offsets up to ±7, so its per-tensor range is
 * 28 wide, and those tensors' rounding was most of the int8 model's error. Each stream value x is
 * replaced by x' = s ⊙ (x − μ), per channel c:
 * - producers (the Convs whose outputs the Adds join): output channel c's weights ×s_c, bias
 *   s_c·(b_c − μ_c); an Add's output is then shifted by the sum of its inputs' μ, so μ of the convs
 *   feeding an Add is chosen to centre the Add's output (midrange of each channel);
 * - consumers (Convs reading a stream tensor): input channel c's weights ÷s_c and bias + W·μ
 *   (exact without padding, so a stream read by a padded conv is not shifted, only scaled);
 * - s_c = (R / r_c)^α, r_c the channel's centred range, R the widest: α = 1 gives every channel the
 *   whole u8 range (what a per-channel activation scale would), at the cost of the consumers'
 *   per-output-channel weight scales, which now span channels scaled apart.
 * A stream with another reader (a graph output, any other op), or whose convs share a weight or
 * bias with another node, is left as it is.
 */
import { tensor, toF64, type Tensor } from '../runtime/tensor.js';
import type { decodeModel } from '../frontends/onnx/import.js';
import { tensorFromProto, tensorToProto } from '../frontends/onnx/proto.js';

type ModelProto = ReturnType<typeof decodeModel>;
type NodeProto = NonNullable<NonNullable<ModelProto['graph']>['node']>[number];

/** A residual stream: tensors joined by Adds, the Convs that produce and read them. */
export interface Stream { tensors: string[]; producers: NodeProto[]; consumers: NodeProto[]; adds: NodeProto[]; shiftable: boolean }

/** Per-channel [lo, hi] of a tensor over the calibration inputs. */
export interface ChannelRange { lo: Float64Array; hi: Float64Array }

const isConstConv = (n: NodeProto, init: (name: string) => Tensor | undefined) =>
  n.opType === 'Conv' && !!init(n.input?.[1] ?? '') && (!n.input?.[2] || init(n.input[2])?.shape.length === 1);

/** True when a Conv reads no padding (pads all 0, auto_pad unset or VALID). */
function unpadded(n: NodeProto): boolean {
  const a = (name: string) => (n.attribute ?? []).find((x) => x.name === name);
  const autoPad = a('auto_pad')?.s, mode = autoPad ? new TextDecoder().decode(autoPad) : 'NOTSET';
  return (mode === 'NOTSET' || mode === 'VALID') && (a('pads')?.ints ?? []).every((p) => Number(p) === 0);
}

/** The model's residual streams that can be equalized (see the file comment). */
export function findStreams(model: ModelProto, init: (name: string) => Tensor | undefined): Stream[] {
  const nodes = model.graph!.node ?? [];
  const producer = new Map<string, NodeProto>(), readers = new Map<string, NodeProto[]>();
  for (const n of nodes) {
    for (const o of n.output ?? []) producer.set(o, n);
    for (const i of n.input ?? []) readers.set(i, [...(readers.get(i) ?? []), n]);
  }
  const outputs = new Set((model.graph!.output ?? []).map((o) => o.name ?? ''));
  // a weight or bias several nodes share cannot be rescaled for one of them
  const shared = (n: NodeProto) => n.input!.slice(1).some((i) => (readers.get(i) ?? []).length > 1);
  // union of tensors joined by an Add of two non-constant values
  const parent = new Map<string, string>();
  const find = (t: string): string => { const p = parent.get(t) ?? t; if (p === t) return t; const r = find(p); parent.set(t, r); return r; };
  const adds = nodes.filter((n) => n.opType === 'Add' && n.input?.length === 2 && n.input.every((i) => !init(i) && producer.has(i)));
  for (const n of adds) for (const i of n.input!) parent.set(find(i), find(n.output![0]));
  const classes = new Map<string, string[]>();
  for (const n of adds) for (const t of [...n.input!, n.output![0]]) if (!classes.get(find(t))?.includes(t)) classes.set(find(t), [...(classes.get(find(t)) ?? []), t]);
  const streams: Stream[] = [];
  for (const tensors of classes.values()) {
    const inClass = new Set(tensors);
    const addsHere = adds.filter((n) => inClass.has(n.output![0]));
    const producers = tensors.map((t) => producer.get(t)!).filter((p) => p.opType !== 'Add' || !addsHere.includes(p));
    const consumers = [...new Set(tensors.flatMap((t) => readers.get(t) ?? []).filter((r) => !addsHere.includes(r)))];
    const ok = producers.every((p) => isConstConv(p, init) && (readers.get(p.output![0]) ?? []).every((r) => addsHere.includes(r) || isConstConv(r, init)))
      && consumers.every((c) => isConstConv(c, init) && tensors.includes(c.input![0]))
      && !tensors.some((t) => outputs.has(t)) && ![...producers, ...consumers].some(shared);
    if (ok && consumers.length) streams.push({ tensors, producers, consumers, adds: addsHere, shiftable: consumers.every(unpadded) });
  }
  return streams;
}

/**
 * Rewrites the model's streams (see the file comment) from their tensors' per-channel ranges;
 * `setInit` replaces an initializer by name. Returns the streams rewritten.
 */
export function equalizeStreams(model: ModelProto, streams: Stream[], ranges: Map<string, ChannelRange>, alpha: number, init: (name: string) => Tensor | undefined, setInit: (name: string, t: Tensor) => void): number {
  let done = 0;
  for (const s of streams) {
    const C = ranges.get(s.tensors[0])!.lo.length;
    const mid = (t: string) => { const r = ranges.get(t)!; return Float64Array.from(r.lo, (lo, c) => s.shiftable ? (lo + r.hi[c]) / 2 : 0); };
    // μ of each tensor, in graph (topological) order: an Add's is the sum of its inputs'; a producer
    // read only by an Add whose other input comes first centres that Add's output, others their own
    const mu = new Map<string, Float64Array>();
    for (const n of model.graph!.node ?? []) {
      const out = n.output?.[0] ?? '';
      if (s.adds.includes(n)) {
        const [x, y] = n.input!.map((i) => mu.get(i) ?? mid(i));
        mu.set(out, x.map((v, c) => v + y[c]));
      } else if (s.producers.includes(n)) {
        const add = s.adds.find((a) => a.input!.includes(out)), other = add?.input!.find((i) => i !== out);
        const alone = !s.consumers.some((c) => c.input![0] === out) && s.adds.filter((a) => a.input!.includes(out)).length === 1;
        mu.set(out, alone && other && mu.has(other) ? mid(add!.output![0]).map((v, c) => v - mu.get(other)![c]) : mid(out));
      }
    }
    // scale: the widest centred range over the tensors a consumer reads, per channel
    const read = new Set(s.consumers.map((c) => c.input![0]));
    const r = new Float64Array(C);
    for (const t of read) {
      const { lo, hi } = ranges.get(t)!, m = mu.get(t)!;
      for (let c = 0; c < C; c++) r[c] = Math.max(r[c], Math.max(Math.abs(hi[c] - m[c]), Math.abs(lo[c] - m[c])));
    }
    const R = Math.max(...r);
    if (!(R > 0)) continue;
    const scale = Float64Array.from(r, (v) => (v > 0 ? (R / v) ** alpha : 1));
    for (const p of s.producers) rescaleOutputs(p, scale, mu.get(p.output![0])!, init, setInit, model);
    for (const c of s.consumers) rescaleInputs(c, scale, mu.get(c.input![0])!, init, setInit, model);
    done++;
  }
  return done;
}

/** Producer: y' = s ⊙ (y − μ): output channel c's weights ×s_c, bias s_c·(b_c − μ_c). */
function rescaleOutputs(n: NodeProto, s: Float64Array, mu: Float64Array, init: (name: string) => Tensor | undefined, setInit: (name: string, t: Tensor) => void, model: ModelProto): void {
  const w = init(n.input![1])!, Co = w.shape[0], per = w.data.length / Co;
  const wv = toF64(w);
  setInit(n.input![1], tensor('f32', w.shape, Float32Array.from(wv, (v, i) => v * s[Math.floor(i / per)])));
  const b = n.input![2] ? toF64(init(n.input![2])!) : new Float64Array(Co);
  const name = n.input![2] || fresh(model, `${n.output![0]}_bias`);
  setInit(name, tensor('f32', [Co], Float32Array.from(b, (v, c) => s[c] * (v - mu[c]))));
  n.input = [n.input![0], n.input![1], name];
}

/** Consumer of x = x'/s + μ: input channel c's weights ÷s_c, bias + W·μ (over every tap). */
function rescaleInputs(n: NodeProto, s: Float64Array, mu: Float64Array, init: (name: string) => Tensor | undefined, setInit: (name: string, t: Tensor) => void, model: ModelProto): void {
  const w = init(n.input![1])!, [Co, Cg] = w.shape, taps = w.data.length / (Co * Cg);
  const group = Number((n.attribute ?? []).find((a) => a.name === 'group')?.i ?? 1), perGroup = Co / group;
  const wv = toF64(w), b = n.input![2] ? toF64(init(n.input![2])!) : new Float64Array(Co);
  const scaled = new Float32Array(wv.length);
  for (let o = 0; o < Co; o++) {
    for (let k = 0; k < Cg; k++) {
      const c = Math.floor(o / perGroup) * Cg + k;
      for (let t = 0; t < taps; t++) {
        const i = (o * Cg + k) * taps + t;
        b[o] += wv[i] * mu[c];
        scaled[i] = wv[i] / s[c];
      }
    }
  }
  setInit(n.input![1], tensor('f32', w.shape, scaled));
  const name = n.input![2] || fresh(model, `${n.output![0]}_bias`);
  setInit(name, tensor('f32', [Co], Float32Array.from(b)));
  n.input = [n.input![0], n.input![1], name];
}

/** A name no value or initializer of the model has. */
function fresh(model: ModelProto, base: string): string {
  const used = new Set([...(model.graph!.node ?? []).flatMap((n) => [...(n.input ?? []), ...(n.output ?? [])]), ...(model.graph!.initializer ?? []).map((t) => t.name ?? '')]);
  let name = base, k = 0;
  while (used.has(name)) name = `${base}_${++k}`;
  return name;
}

/** Initializer access for equalizeStreams over a ModelProto: read as f32 tensors, replace by name. */
export function initializerAccess(model: ModelProto): { init: (name: string) => Tensor | undefined; setInit: (name: string, t: Tensor) => void } {
  const graph = model.graph!;
  const byName = () => new Map((graph.initializer ?? []).map((t, i) => [t.name ?? '', i]));
  return {
    init: (name) => {
      const i = byName().get(name), t = i === undefined ? undefined : graph.initializer![i];
      return t && t.dataType === 1 ? tensorFromProto(t, { maxTensorBytes: 2 ** 31 }) : undefined;
    },
    setInit: (name, t) => {
      const i = byName().get(name), proto = tensorToProto(t, name);
      if (i === undefined) graph.initializer = [...(graph.initializer ?? []), proto];
      else graph.initializer![i] = proto;
    },
  };
}
