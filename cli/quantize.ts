/**
 * Post-training quantization: `cnnc quantize model.onnx --calibrate random:N -o model.int8.onnx`
 * writes a QDQ ONNX model (what onnxruntime's quantizer writes, which onnxruntime and cnnc run):
 *
 * - The f32 model is imported and BatchNormalization folded into the convs (passes), then written
 *   back as ONNX; quantization works on that.
 * - Residual streams (tensors that Adds chain with no activation between) are centred and scaled
 *   per channel, exactly, in the convs around them (cli/equalize-streams.ts), so that one u8 scale
 *   fits all their channels (`--equalize 0` leaves them).
 * - Weights of Conv, Gemm (transA=0, alpha=beta=1) and MatMul with constant 2-D weights: int8,
 *   symmetric (zero point 0, range ±127), one scale per output channel: max|w_c| / 127.
 * - Activations (the inputs of those ops, and their outputs, after a following Relu/Clip when
 *   there is one): u8, asymmetric, per tensor, from the min and max (0 included) seen over the
 *   calibration inputs (a folder of .npy/.pb inputs, or `random:N`: N seeded standard-normal inputs).
 * - Biases: int32 in units of x_scale·w_scale[c], zero point 0; by default bias-corrected first
 *   (`biasShift`: minus the mean output shift of the weight rounding, E[x] per channel from the
 *   calibration pass; `--no-bias-correction` leaves them as they are).
 * - `--keep-f32 first,last` leaves the first and/or last of those layers in f32; by default the
 *   leading layers whose weights are ≤ 1.3% of all stay f32 where the fully quantized model's outputs
 *   on the calibration inputs are more than 2% off the f32 model's (`--f32-lead`, default auto).
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { CnncError } from '../runtime/errors.js';
import { tensor, toF64, type Tensor } from '../runtime/tensor.js';
import { decodeModel, importOnnx, readTensorProto } from '../frontends/onnx/import.js';
import { exportOnnx } from '../frontends/onnx/export.js';
import { onnx, tensorToProto, tensorFromProto } from '../frontends/onnx/proto.js';
import { interpret } from '../ir/interpreter.js';
import { roundHalfEven } from '../ir/scalar.js';
import { runPipeline } from '../passes/pipeline.js';
import { compile } from '../index.js';
import { equalizeStreams, findStreams, initializerAccess, type ChannelRange } from './equalize-streams.js';
import { readNpy } from './npy.js';
import { randomInput } from './util.js';

type ModelProto = ReturnType<typeof decodeModel>;
type NodeProto = NonNullable<NonNullable<ModelProto['graph']>['node']>[number];
/** One inference of a compiled (or interpreted) model: its outputs by name. */
type Run = (feed: Record<string, Tensor>) => Promise<Record<string, Tensor>>;

export interface QuantizeOptions {
  /** Calibration inputs: each a map from graph input name to tensor. */
  calibration: Record<string, Tensor>[];
  /** Layers (quantizable ops in graph order) left in f32: the first and/or the last. */
  keepFloat?: readonly ('first' | 'last')[];
  /** How activation ranges come from the calibration values (default min-max). */
  method?: Calibration;
  /** What runs the f32 model on the calibration inputs: cnnc's wasm build (default, seconds) or the float64 reference interpreter (minutes for MobileNetV2). */
  engine?: 'wasm' | 'reference';
  /**
   * Which layer outputs get a QuantizeLinear: 'read' (default) only those a quantized layer reads
   * (the rest, e.g. the last Gemm's logits or a conv feeding a residual Add, stay f32: compilers
   * make them int8 layers with f32 output, no requantization); 'all' every layer's output.
   */
  outputs?: 'read' | 'all';
  /**
   * Bias correction (Nagel et al. 2019, "Data-Free Quantization"): each layer's bias minus the mean
   * output shift that quantization introduces there. true (default): the weight rounding's,
   * Σ (W_q − W)·E[x], with E[x] per input channel of the f32 model from the calibration pass.
   * 'empirical': the layer's whole local shift, Σ W_q·E[x̂] − W·E[x̃], where x̃ is the layer's input
   * in the quantized model before its QuantizeLinear and x̂ after it (so the input's rounding and
   * clipping too), both from a second calibration pass through the quantized model. See `biasShift`.
   */
  biasCorrection?: boolean | 'empirical';
  /**
   * Mixed precision: leading layers left in f32 while their weights together stay within this share
   * of all quantizable weights (0: none). The error of an early layer passes through every later
   * one, so those are the most sensitive, and they are the smallest. 'auto' (default): 0.013 only
   * where the fully quantized model's outputs on the calibration inputs are off by more than 2%.
   */
  leadingF32Share?: number | 'auto';
  /** Under 'auto': the relative RMS error of the outputs above which the leading layers stay f32 (default 0.02). */
  autoLeadError?: number;
  /**
   * Residual-stream equalization before calibration (cli/equalize-streams.ts): the exponent α of the
   * per-channel scales, in [0, 1] (1, default: every channel of a stream gets the whole u8 range;
   * 0: the streams are left as they are).
   */
  equalizeStreams?: number;
  /** Told what 'auto' chose and why (the CLI prints it). */
  log?: (line: string) => void;
}

/**
 * min-max: the whole range seen; percentile: outliers beyond the p-th percentile of |x| clipped;
 * mse: the range [t·min, t·max] (0 < t ≤ 1) whose u8 quantization has the least expected squared
 * error over the calibration values (clipping error beyond it plus step²/12 inside it).
 */
export type Calibration = { kind: 'minmax' } | { kind: 'percentile'; percentile: number } | { kind: 'mse' };

/** N seeded standard-normal inputs for every graph input of the model. */
export function randomCalibration(bytes: Uint8Array, n: number): Record<string, Tensor>[] {
  const g = importOnnx(bytes);
  return Array.from({ length: n }, (_, k) => Object.fromEntries(g.inputs.map((name, i) => [name, randomInput('f32', g.type(name).shape, 1000 + 31 * k + i)])));
}

/**
 * Calibration inputs from a folder: each .npy or .pb file (sorted by name) is one input of a
 * single-input model, checked against the model's input type.
 */
export function folderCalibration(bytes: Uint8Array, dir: string): Record<string, Tensor>[] {
  const g = importOnnx(bytes);
  if (g.inputs.length !== 1) throw new CnncError('UNSUPPORTED', `--calibrate DIR takes single-input models; this one has ${g.inputs.length} inputs (use random:N)`);
  const [name] = g.inputs;
  const want = g.type(name);
  const files = readdirSync(dir).filter((f) => f.endsWith('.npy') || f.endsWith('.pb')).sort();
  if (files.length === 0) throw new CnncError('BAD_ATTRIBUTE', `no .npy or .pb files in ${dir}`);
  return files.map((f) => {
    const raw = readFileSync(join(dir, f));
    const t = f.endsWith('.npy') ? readNpy(raw) : readTensorProto(raw);
    if (t.dtype !== want.dtype || t.shape.join() !== want.shape.join()) {
      throw new CnncError('SHAPE_MISMATCH', `${f} is ${t.dtype}[${t.shape}], the model's input '${name}' is ${want.dtype}[${want.shape}]`, { value: f });
    }
    return { [name]: t };
  });
}

/** A quantizable node: which input is the activation, which the weight, and its output channel axis. */
interface Site { node: NodeProto; weightAxis: number; bias?: string }

const ACTS = new Set(['Relu', 'Clip']);

/** Quantizes an f32 ONNX model into a QDQ ONNX model (see the file comment). */
export async function quantizeOnnx(bytes: Uint8Array, opts: QuantizeOptions): Promise<Uint8Array> {
  const folded = runPipeline(importOnnx(bytes), 'reference', { passes: ['fold-constants', 'simplify', 'dce', 'fold-batchnorm', 'dce'] }).graph;
  const model = decodeModel(exportOnnx(folded));
  const alpha = opts.equalizeStreams ?? 1;
  if (!(alpha >= 0 && alpha <= 1)) throw new CnncError('BAD_ATTRIBUTE', `equalizeStreams must be in [0, 1], got ${alpha}`, { value: String(alpha) });
  if (alpha > 0) await equalize(model, opts.calibration, opts.engine ?? 'wasm', alpha, opts.log);
  const graph = model.graph!;
  const inits = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  const f32Init = (name: string): Tensor | undefined => {
    const t = inits.get(name);
    return t && t.dataType === 1 ? tensorFromProto(t, { maxTensorBytes: 2 ** 31 }) : undefined;
  };
  const keep = opts.keepFloat ?? [];
  const share = opts.leadingF32Share ?? 'auto';
  if (opts.autoLeadError !== undefined && !(opts.autoLeadError >= 0 && Number.isFinite(opts.autoLeadError))) {
    throw new CnncError('BAD_ATTRIBUTE', `autoLeadError must be a finite number ≥ 0, got ${opts.autoLeadError}`, { value: String(opts.autoLeadError) });
  }
  const pick = (m: ModelProto, lead: number) => {
    const all = findSites(m.graph!.node ?? [], f32Init);
    const k = leadingCount(all.map((s) => f32Init(s.node.input![1])!.data.length), lead);
    return all.filter((_, i) => i >= k && !(keep.includes('first') && i === 0) && !(keep.includes('last') && i === all.length - 1));
  };
  // calibrated once for the most layers any choice below quantizes (no f32 lead under 'auto')
  const sites = pick(model, share === 'auto' ? 0 : share);
  const consumers = new Map<string, NodeProto[]>();
  for (const n of graph.node ?? []) for (const i of n.input ?? []) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  // Activations to quantize: each site's input, and with outputs 'all' its output (after a following activation).
  const actsOf = (chosen: Site[]) => {
    const acts = new Set<string>(chosen.map((s) => s.node.input![0]));
    for (const s of (opts.outputs ?? 'read') === 'all' ? chosen : []) {
      let out = s.node.output![0];
      const next = consumers.get(out) ?? [];
      if (next.length === 1 && ACTS.has(next[0].opType ?? '')) out = next[0].output![0];
      acts.add(out);
    }
    return acts;
  };
  const acts = actsOf(sites);
  const mode = opts.biasCorrection ?? true, engine = opts.engine ?? 'wasm';
  const meanOf = mode === true ? new Set(sites.map((s) => s.node.input![0])) : new Set<string>();
  const { ranges, means, run } = await calibrate(model, [...acts], meanOf, opts.calibration, opts.method ?? { kind: 'minmax' }, engine);
  /** The QDQ model with the leading layers within `lead` of the weights left in f32 (written from a copy). */
  const build = async (lead: number) => {
    const copy = decodeModel(onnx.ModelProto.encode(model).finish());
    const chosen = pick(copy, lead), mine = actsOf(chosen);
    const used = new Map([...ranges].filter(([name]) => mine.has(name)));
    const shifts = mode === 'empirical'
      ? await empiricalShifts(copy, (m) => pick(m, lead), used, opts.calibration, engine, f32Init)
      : chosen.map((s) => { const m = means.get(s.node.input![0]); return m && weightTimesMean(s, f32Init, true, m, m); });
    return writeQdq(copy, chosen, used, shifts, f32Init).bytes;
  };
  if (share !== 'auto') return build(share);
  const whole = await build(0);
  const err = await outputError(model, run, whole, opts.calibration, engine);
  const keepLead = err > (opts.autoLeadError ?? AUTO_LEAD_ERROR);
  opts.log?.(`fully quantized, the outputs on the calibration inputs are ${(100 * err).toFixed(2)}% off f32 (relative RMS): ${keepLead ? `leading layers within ${100 * AUTO_LEAD_SHARE}% of the weights kept in f32` : 'no layer kept in f32'}`);
  return keepLead ? build(AUTO_LEAD_SHARE) : whole;
}

/**
 * Equalizes the model's residual streams (in place) from their per-channel ranges over the
 * calibration inputs (one pass of the f32 model observing the streams' tensors).
 */
export async function equalize(model: ModelProto, inputs: Record<string, Tensor>[], engine: 'wasm' | 'reference', alpha: number, log?: (line: string) => void): Promise<void> {
  const { init, setInit } = initializerAccess(model);
  const streams = findStreams(model, init);
  if (!streams.length || !inputs.length) return;
  const names = [...new Set(streams.flatMap((s) => s.tensors))];
  const run = await observer(model, names, engine);
  const ranges = new Map<string, ChannelRange>();
  for (const feed of inputs) {
    const res = await run(feed);
    for (const n of names) {
      const t = res[n], C = t.shape[1] ?? 1, inner = t.shape.slice(2).reduce((a, b) => a * b, 1), d = t.data as ArrayLike<number>;
      const r = ranges.get(n) ?? { lo: new Float64Array(C).fill(Infinity), hi: new Float64Array(C).fill(-Infinity) };
      ranges.set(n, r);
      for (let i = 0; i < d.length; i++) { const c = Math.floor(i / inner) % C, v = d[i]; if (v < r.lo[c]) r.lo[c] = v; if (v > r.hi[c]) r.hi[c] = v; }
    }
  }
  const done = equalizeStreams(model, streams, ranges, alpha, init, setInit);
  log?.(`${done} residual stream${done === 1 ? '' : 's'} equalized (α = ${alpha})`);
}

/**
 * `leadingF32Share: 'auto'` (the default): the model fully quantized when its outputs on the
 * calibration inputs stay within 2% (relative RMS) of the f32 model's, else with its leading layers
 * within 1.3% of the weights in f32. Those layers are early, so their error passes through every
 * later one (MobileNetV2: agreement 80.5% → 88% with them), and they run at full resolution, so they
 * cost time (ResNet-18: its stem and three 3×3 convs, a quarter of its MACs, for 0.6% error without).
 */
const AUTO_LEAD_ERROR = 0.02, AUTO_LEAD_SHARE = 0.013;

/**
 * Relative RMS error, over all outputs of all calibration inputs, of the QDQ model's outputs against
 * the f32 model's (`ref`: the calibration's compiled observer, which has the graph outputs too; both
 * run input by input, so no calibration output is kept).
 */
async function outputError(f32: ModelProto, ref: Run, qdq: Uint8Array, inputs: Record<string, Tensor>[], engine: 'wasm' | 'reference'): Promise<number> {
  const run = await observer(decodeModel(qdq), [], engine);
  let num = 0, den = 0;
  for (const feed of inputs) {
    const [want, got] = [await ref(feed), await run(feed)];
    for (const o of f32.graph!.output ?? []) {
      const a = toF64(got[o.name ?? '']), b = toF64(want[o.name ?? '']);
      for (let i = 0; i < b.length; i++) { num += (a[i] - b[i]) ** 2; den += b[i] ** 2; }
    }
  }
  return den > 0 ? Math.sqrt(num / den) : Math.sqrt(num);
}

/**
 * Empirical bias correction: the uncorrected QDQ model (written from a copy) run on the calibration
 * inputs gives E[x̃] and E[x̂] per channel of each site's input, before its QuantizeLinear and after
 * its DequantizeLinear; the shift is Σ W_q·E[x̂] − W·E[x̃] (weightTimesMean).
 */
async function empiricalShifts(model: ModelProto, pick: (m: ModelProto) => Site[], ranges: Map<string, [number, number]>, calibration: Record<string, Tensor>[], engine: 'wasm' | 'reference', f32Init: (name: string) => Tensor | undefined): Promise<(Float64Array | undefined)[]> {
  const copy = decodeModel(onnx.ModelProto.encode(model).finish());
  const { bytes, taps } = writeQdq(copy, pick(copy), ranges, [], f32Init);
  const names = [...taps.values()].flat();
  const run = await observer(decodeModel(bytes), names, engine);
  const sums = new Map<string, ChannelMean>();
  for (const feed of calibration) { const res = await run(feed); for (const n of names) addChannelSums(sums, n, res[n]); }
  finishMeans(sums);
  return pick(model).map((s) => { const [pre, dq] = taps.get(s.node.input![0])!; return weightTimesMean(s, f32Init, false, sums.get(pre)!, sums.get(dq)!); });
}

/** How many leading layers (weights counts `sizes`) fit within `share` of all their weights together. */
export function leadingCount(sizes: readonly number[], share: number): number {
  if (!(share >= 0 && share <= 1)) throw new CnncError('BAD_ATTRIBUTE', `the leading f32 share must be in [0, 1], got ${share}`, { value: String(share) });
  const budget = share * sizes.reduce((a, b) => a + b, 0);
  let k = 0, used = 0;
  while (k < sizes.length && used + sizes[k] <= budget) used += sizes[k++];
  return k;
}

function findSites(nodes: readonly NodeProto[], f32Init: (name: string) => Tensor | undefined): Site[] {
  const sites: Site[] = [];
  const attr = (n: NodeProto, name: string, def: number) => {
    const a = (n.attribute ?? []).find((x) => x.name === name);
    if (!a) return def;
    return a.type === onnx.AttributeProto.AttributeType.FLOAT ? Number(a.f) : Number(a.i);
  };
  for (const n of nodes) {
    const w = f32Init(n.input?.[1] ?? '');
    if (!w || f32Init(n.input?.[0] ?? '')) continue;
    const bias = n.input?.[2] || undefined;
    if (bias && (!f32Init(bias) || f32Init(bias)!.shape.length !== 1)) continue;
    if (n.opType === 'Conv') sites.push({ node: n, weightAxis: 0, bias });
    else if (n.opType === 'Gemm' && w.shape.length === 2 && attr(n, 'transA', 0) === 0 && attr(n, 'alpha', 1) === 1 && attr(n, 'beta', 1) === 1) {
      sites.push({ node: n, weightAxis: attr(n, 'transB', 0) ? 0 : 1, bias });
    } else if (n.opType === 'MatMul' && w.shape.length === 2) sites.push({ node: n, weightAxis: 1 });
  }
  return sites;
}

/** The model with the named values added as graph outputs, compiled for wasm (f32): a run observes them all. */
async function observer(model: ModelProto, names: string[], engine: 'wasm' | 'reference'): Promise<Run> {
  const probe = onnx.ModelProto.decode(onnx.ModelProto.encode(model).finish());
  const outs = probe.graph!.output!.map((o) => o.name ?? '');
  probe.graph!.output = [...probe.graph!.output!, ...names.filter((n) => !outs.includes(n)).map((name) => onnx.ValueInfoProto.create({ name }))];
  const bytes = onnx.ModelProto.encode(probe).finish();
  if (engine === 'reference') {
    const g = importOnnx(bytes);
    return async (feed) => interpret(g, feed);
  }
  const compiled = await compile(bytes, 'wasm');
  return (feed) => compiled.run(feed);
}

/**
 * [lo, hi] of each named value over the calibration inputs, 0 included (and the per-channel means
 * of those in `meanOf`, for bias correction): min-max, or with
 * `percentile` p the p-th percentile P of |x| over all values of all inputs, as [max(min, −P),
 * min(max, P)] (outliers clipped). P comes from a second pass: a histogram of |x| over [0, max|x|].
 */
async function calibrate(model: ModelProto, names: string[], meanOf: Set<string>, inputs: Record<string, Tensor>[], method: Calibration, engine: 'wasm' | 'reference'): Promise<{ ranges: Map<string, [number, number]>; means: Map<string, ChannelMean>; run: Run }> {
  if (inputs.length === 0) throw new CnncError('BAD_ATTRIBUTE', 'calibration needs at least one input');
  const run = await observer(model, names, engine);
  const ranges = new Map<string, [number, number]>(names.map((n) => [n, [0, 0]]));
  const sums = new Map<string, ChannelMean>();
  for (const feed of inputs) {
    const res = await run(feed);
    for (const [name, r] of ranges) {
      const d = res[name].data as ArrayLike<number>;
      for (let i = 0; i < d.length; i++) { const v = d[i]; if (v < r[0]) r[0] = v; if (v > r[1]) r[1] = v; }
      if (meanOf.has(name)) addChannelSums(sums, name, res[name]);
    }
  }
  finishMeans(sums);
  return { ranges: method.kind === 'minmax' ? ranges : method.kind === 'mse' ? await mseRanges(run, inputs, ranges) : await percentileRanges(run, inputs, ranges, method.percentile), means: sums, run };
}

/** E[x] per channel (axis 1: NCHW, or the K of a 2-D [M, K]) of a layer input, and its shape. */
interface ChannelMean { mean: Float64Array; count: number; shape: readonly number[] }

/** Running sums → means. */
function finishMeans(sums: Map<string, ChannelMean>): void {
  for (const m of sums.values()) m.mean.forEach((v, c) => { m.mean[c] = v / m.count; });
}

/** Adds t's values, summed per channel (axis 1), to the running sums under `name`. */
function addChannelSums(sums: Map<string, ChannelMean>, name: string, t: Tensor): void {
  const C = t.shape[1] ?? 1, inner = t.shape.slice(2).reduce((a, b) => a * b, 1);
  const m = sums.get(name) ?? { mean: new Float64Array(C), count: 0, shape: t.shape };
  sums.set(name, m);
  const d = t.data as ArrayLike<number>;
  for (let i = 0; i < d.length; i++) m.mean[Math.floor(i / inner) % C] += d[i];
  m.count += d.length / C;
}

/** The percentile ranges (see calibrate) from a second pass: a histogram of |x| over [0, max|x|]. */
async function percentileRanges(run: (feed: Record<string, Tensor>) => Promise<Record<string, Tensor>>, inputs: Record<string, Tensor>[], ranges: Map<string, [number, number]>, percentile: number): Promise<Map<string, [number, number]>> {
  const names = [...ranges.keys()];
  const BINS = 1 << 14;
  const hist = new Map(names.map((n) => [n, new Float64Array(BINS)]));
  for (const feed of inputs) {
    const res = await run(feed);
    for (const [name, [lo, hi]] of ranges) {
      const h = hist.get(name)!, amax = Math.max(-lo, hi), k = amax > 0 ? BINS / amax : 0;
      const d = res[name].data as ArrayLike<number>;
      for (let i = 0; i < d.length; i++) h[Math.min(BINS - 1, Math.floor(Math.abs(d[i]) * k))]++;
    }
  }
  for (const [name, r] of ranges) {
    const h = hist.get(name)!, amax = Math.max(-r[0], r[1]);
    const total = h.reduce((a, b) => a + b, 0), tail = total * (1 - percentile / 100);
    let above = 0, bin = BINS - 1;
    while (bin > 0 && above + h[bin] <= tail) above += h[bin--];
    const P = ((bin + 1) / BINS) * amax;
    ranges.set(name, [Math.max(r[0], -P), Math.min(r[1], P)]);
  }
  return ranges;
}

/** The MSE-optimal ranges (see Calibration) from a histogram of each value over its min-max range. */
async function mseRanges(run: (feed: Record<string, Tensor>) => Promise<Record<string, Tensor>>, inputs: Record<string, Tensor>[], ranges: Map<string, [number, number]>): Promise<Map<string, [number, number]>> {
  const BINS = 1 << 12;
  const hist = new Map([...ranges.keys()].map((n) => [n, new Float64Array(BINS)]));
  for (const feed of inputs) {
    const res = await run(feed);
    for (const [name, [lo, hi]] of ranges) {
      const h = hist.get(name)!, k = hi > lo ? BINS / (hi - lo) : 0;
      const d = res[name].data as ArrayLike<number>;
      for (let i = 0; i < d.length; i++) h[Math.min(BINS - 1, Math.floor((d[i] - lo) * k))]++;
    }
  }
  return new Map([...ranges].map(([name, r]) => [name, mseClip(hist.get(name)!, r)]));
}

/**
 * The range [t·lo, t·hi] (t from 1 down to 0.2) whose u8 quantization has the least expected squared
 * error over the values counted in `hist` (equal bins over [lo, hi]): clipping error outside, step²/12 inside.
 */
export function mseClip(hist: Float64Array, [lo, hi]: [number, number]): [number, number] {
  const w = (hi - lo) / hist.length;
  let best = Infinity, bestT = 1;
  for (let k = 0; k <= 160; k++) {
    const t = 1 - k * 0.005, a = t * lo, b = t * hi, step = (b - a) / 255;
    let err = 0;
    for (let i = 0; i < hist.length; i++) {
      if (!hist[i]) continue;
      const v = lo + (i + 0.5) * w;
      err += hist[i] * (v < a ? (a - v) ** 2 : v > b ? (v - b) ** 2 : step * step / 12);
    }
    if (err < best) { best = err; bestT = t; }
  }
  return [bestT * lo, bestT * hi];
}

/** u8 asymmetric parameters of a range that includes 0. */
function activationParams([lo, hi]: [number, number]): { scale: number; zp: number } {
  const scale = Math.fround((hi - lo) / 255) || 1;
  return { scale, zp: Math.min(255, Math.max(0, roundHalfEven(-lo / scale))) };
}

/** int8 symmetric per-channel quantization of w along `axis`. */
function quantizeWeight(w: Tensor, axis: number): { q: Tensor; scales: number[] } {
  const C = w.shape[axis], inner = w.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const v = toF64(w);
  const ch = (i: number) => Math.floor(i / inner) % C;
  const amax = new Float64Array(C);
  v.forEach((x, i) => { amax[ch(i)] = Math.max(amax[ch(i)], Math.abs(x)); });
  const scales = Array.from(amax, (a) => Math.fround(a / 127) || 1);
  const q = Int8Array.from(v, (x, i) => Math.min(127, Math.max(-127, roundHalfEven(Math.fround(x / scales[ch(i)])))));
  return { q: tensor('i8', w.shape, q), scales };
}

/** The integer attribute `name` of a node (ints), or `def`. */
function intsAttr(n: NodeProto, name: string, def: number[]): number[] {
  const a = (n.attribute ?? []).find((x) => x.name === name);
  return a ? (a.ints?.length ? a.ints.map(Number) : [Number(a.i)]) : def;
}

/**
 * The mean output shift per output channel that quantizing the weights introduces,
 * Σ_k,taps (W_q − W)[c, k, taps]·E[x_k], to subtract from the bias (bias correction).
 *
 * Conv: each tap's term is weighted by the fraction of output positions at which that tap reads
 * inside the input (zero padding reads 0), so the shift is the mean over output positions, exactly
 * when each input channel has the same mean at every position; that is the approximation (the
 * calibration keeps E[x] per channel, not per position). Grouped/depthwise convs read channel
 * g·(C_in/group) + k. Gemm: Σ_k ΔW[k, n]·E[x_k] (ΔW[n, k] with transB). Undefined for other layers.
 */
export function biasShift(node: NodeProto, dw: Float64Array, wShape: readonly number[], mean: Float64Array, xShape: readonly number[]): Float64Array | undefined {
  if (node.opType === 'Gemm') {
    const transB = intsAttr(node, 'transB', [0])[0] === 1;
    const [K, N] = transB ? [wShape[1], wShape[0]] : wShape;
    const out = new Float64Array(N);
    for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) out[n] += dw[transB ? n * K + k : k * N + n] * mean[k];
    return out;
  }
  if (node.opType !== 'Conv') return undefined;
  const [Co, Cg, ...ks] = wShape, spatial = xShape.slice(2), r = ks.length;
  const group = intsAttr(node, 'group', [1])[0], strides = intsAttr(node, 'strides', ks.map(() => 1)), dil = intsAttr(node, 'dilations', ks.map(() => 1));
  const autoPad = (node.attribute ?? []).find((a) => a.name === 'auto_pad')?.s;
  const mode = autoPad ? new TextDecoder().decode(autoPad) : 'NOTSET';
  let pads = intsAttr(node, 'pads', Array(2 * r).fill(0));
  if (mode === 'SAME_UPPER' || mode === 'SAME_LOWER') {
    pads = Array(2 * r).fill(0);
    spatial.forEach((D, i) => {
      const total = Math.max(0, (Math.ceil(D / strides[i]) - 1) * strides[i] + dil[i] * (ks[i] - 1) + 1 - D);
      pads[i] = mode === 'SAME_UPPER' ? Math.floor(total / 2) : Math.ceil(total / 2);
      pads[i + r] = total - pads[i];
    });
  }
  // frac[i][t]: the share of output positions along spatial axis i whose tap t lands inside the input
  const frac = spatial.map((D, i) => {
    const O = Math.floor((D + pads[i] + pads[i + r] - dil[i] * (ks[i] - 1) - 1) / strides[i]) + 1;
    return Array.from({ length: ks[i] }, (_, t) => {
      let inside = 0;
      for (let o = 0; o < O; o++) { const x = o * strides[i] - pads[i] + t * dil[i]; if (x >= 0 && x < D) inside++; }
      return O > 0 ? inside / O : 0;
    });
  });
  const taps = ks.reduce((a, b) => a * b, 1);
  const tapFrac = Float64Array.from({ length: taps }, (_, t) => {
    let f = 1;
    for (let i = r - 1, rest = t; i >= 0; i--) { f *= frac[i][rest % ks[i]]; rest = Math.floor(rest / ks[i]); }
    return f;
  });
  const out = new Float64Array(Co), perGroup = Co / group;
  for (let c = 0; c < Co; c++) {
    for (let k = 0; k < Cg; k++) {
      const m = mean[Math.floor(c / perGroup) * Cg + k], base = (c * Cg + k) * taps;
      for (let t = 0; t < taps; t++) out[c] += dw[base + t] * tapFrac[t] * m;
    }
  }
  return out;
}

/**
 * The QDQ model, biases minus `shifts[i]` for sites[i]; `taps`: for each quantized activation v, the
 * names of its value before its QuantizeLinear and after its DequantizeLinear.
 */
function writeQdq(model: ModelProto, sites: Site[], ranges: Map<string, [number, number]>, shifts: (Float64Array | undefined)[], f32Init: (name: string) => Tensor | undefined): { bytes: Uint8Array; taps: Map<string, [string, string]> } {
  const graph = model.graph!;
  const newInits: ReturnType<typeof tensorToProto>[] = [];
  const used = new Set<string>([...(graph.node ?? []).flatMap((n) => [...(n.input ?? []), ...(n.output ?? [])]), ...(graph.initializer ?? []).map((t) => t.name ?? '')]);
  const fresh = (base: string) => { let s = base, k = 0; while (used.has(s)) s = `${base}_${++k}`; used.add(s); return s; };
  const init = (base: string, t: Tensor) => { const name = fresh(base); newInits.push(tensorToProto(t, name)); return name; };
  const mk = (opType: string, input: string[], output: string[], attrs: { name: string; i: number }[] = []) => onnx.NodeProto.create({
    name: fresh(`${output[0]}_${opType}`), opType, input, output,
    attribute: attrs.map((a) => onnx.AttributeProto.create({ name: a.name, type: onnx.AttributeProto.AttributeType.INT, i: a.i })),
  });
  const graphInputs = new Set((graph.input ?? []).map((v) => v.name ?? ''));
  const params = new Map<string, { scale: string; zp: string; s: number }>();
  for (const [v, r] of ranges) {
    const { scale, zp } = activationParams(r);
    params.set(v, { scale: init(`${v}_scale`, tensor('f32', [], [scale])), zp: init(`${v}_zero_point`, tensor('u8', [], [zp])), s: scale });
  }
  // Q → DQ for each activation: after its producer (renamed to write v_f32), or for graph inputs, at the start.
  const before: NodeProto[] = [];
  const after = new Map<NodeProto, NodeProto[]>();
  const rename = new Map<string, string>();
  const taps = new Map<string, [string, string]>();
  const producers = new Map<string, NodeProto>();
  for (const n of graph.node ?? []) for (const o of n.output ?? []) producers.set(o, n);
  for (const v of ranges.keys()) {
    const p = params.get(v)!;
    const q = fresh(`${v}_quantized`);
    if (graphInputs.has(v)) {
      const dq = fresh(`${v}_dequantized`);
      before.push(mk('QuantizeLinear', [v, p.scale, p.zp], [q]), mk('DequantizeLinear', [q, p.scale, p.zp], [dq]));
      rename.set(v, dq);
      taps.set(v, [v, dq]);
    } else {
      const prod = producers.get(v)!;
      const raw = fresh(`${v}_f32`);
      prod.output = prod.output!.map((o) => (o === v ? raw : o));
      taps.set(v, [raw, v]);
      after.set(prod, [...(after.get(prod) ?? []), mk('QuantizeLinear', [raw, p.scale, p.zp], [q]), mk('DequantizeLinear', [q, p.scale, p.zp], [v])]);
    }
  }
  // Weights and biases: int8/int32 constants behind DequantizeLinear.
  for (const [si, s] of sites.entries()) {
    const n = s.node;
    const x = params.get(n.input![0])!;
    const w = f32Init(n.input![1])!;
    const { q, scales } = quantizeWeight(w, s.weightAxis);
    const wName = n.input![1];
    const wdq = fresh(`${wName}_dequantized`);
    const ws = init(`${wName}_scale`, tensor('f32', [scales.length], scales));
    const wz = init(`${wName}_zero_point`, tensor('i8', [scales.length], new Int8Array(scales.length)));
    before.push(mk('DequantizeLinear', [init(`${wName}_quantized`, q), ws, wz], [wdq], [{ name: 'axis', i: s.weightAxis }]));
    const inputs = [...n.input!];
    inputs[1] = wdq;
    const shift = shifts[si];
    if (s.bias || shift) {
      const bName = s.bias ?? `${n.output![0]}_bias`;
      const b = s.bias ? toF64(f32Init(s.bias)!) : new Float64Array(scales.length);
      if (shift) b.forEach((v, c) => { b[c] = v - shift[c]; });
      const bs = scales.map((sw) => Math.fround(x.s * sw));
      const bq = Int32Array.from(b, (v, c) => Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, roundHalfEven(v / bs[c]))));
      const bdq = fresh(`${bName}_dequantized`);
      before.push(mk('DequantizeLinear', [init(`${bName}_quantized`, tensor('i32', [bq.length], bq)),
        init(`${bName}_scale`, tensor('f32', [bs.length], bs)), init(`${bName}_zero_point`, tensor('i32', [bq.length], new Int32Array(bq.length)))], [bdq], [{ name: 'axis', i: 0 }]));
      inputs[2] = bdq;
    }
    n.input = inputs;
  }
  const nodes: NodeProto[] = [...before];
  for (const n of graph.node ?? []) {
    n.input = (n.input ?? []).map((i) => rename.get(i) ?? i);
    nodes.push(n, ...(after.get(n) ?? []));
  }
  graph.node = nodes;
  const usedNames = new Set(nodes.flatMap((n) => n.input ?? []));
  graph.initializer = [...(graph.initializer ?? []).filter((t) => usedNames.has(t.name ?? '')), ...newInits];
  return { bytes: onnx.ModelProto.encode(model).finish(), taps };
}

/**
 * A site's bias shift: biasShift(W_q, E[x̂]) − biasShift(W, E[x̃]) (biasShift is linear in both),
 * W_q the int8 weights dequantized; with x̂ = x̃ (`same`) that is biasShift(W_q − W, E[x]).
 */
function weightTimesMean(s: Site, f32Init: (name: string) => Tensor | undefined, same: boolean, pre: ChannelMean, dq: ChannelMean): Float64Array | undefined {
  const w = f32Init(s.node.input![1])!;
  const { q, scales } = quantizeWeight(w, s.weightAxis);
  const C = w.shape[s.weightAxis], inner = w.shape.slice(s.weightAxis + 1).reduce((a, b) => a * b, 1);
  const wf = toF64(w), qi = q.data as Int8Array;
  const wq = Float64Array.from(wf, (_, i) => Math.fround(qi[i] * scales[Math.floor(i / inner) % C]));
  if (same) return biasShift(s.node, wq.map((v, i) => v - wf[i]), w.shape, pre.mean, pre.shape);
  const a = biasShift(s.node, wq, w.shape, dq.mean, dq.shape), b = biasShift(s.node, wf, w.shape, pre.mean, pre.shape);
  return a && b && a.map((v, c) => v - b[c]);
}

/** The --calibration/--percentile options as a Calibration, or a typed error. */
export function calibrationMethod(kind: string, percentile: string): Calibration {
  if (kind === 'minmax' || kind === 'mse') return { kind };
  const p = Number(percentile);
  if (kind !== 'percentile') throw new CnncError('BAD_ATTRIBUTE', `--calibration takes minmax, percentile or mse; got '${kind}'`, { value: kind });
  if (!(p > 0 && p <= 100)) throw new CnncError('BAD_ATTRIBUTE', `--percentile takes a number in (0, 100]; got '${percentile}'`, { value: percentile });
  return { kind, percentile: p };
}

/** `cnnc quantize`: registered by cli/main.ts. */
export function addQuantizeCommand(program: Command): void {
  program.command('quantize')
    .description('post-training int8 quantization: writes a QDQ ONNX model (per-channel int8 weights, per-tensor u8 activations)')
    .argument('<model>', 'an .onnx file')
    .requiredOption('--calibrate <source>', 'calibration inputs: a folder of .npy/.pb inputs, or random:N (N seeded standard-normal inputs)')
    .requiredOption('-o, --output <file>', 'the QDQ .onnx file to write')
    .option('--keep-f32 <layers>', 'leave these quantizable layers in f32: first, last or first,last')
    .option('--calibration <method>', 'activation ranges: minmax (the whole range seen), percentile (|x| beyond --percentile clipped) or mse (the clipping with the least squared error)', 'minmax')
    .option('--percentile <p>', 'the percentile of |x| for --calibration percentile', '99.99')
    .option('--bias-correction [mode]', 'subtract from each bias the mean output shift of its weights\' int8 rounding (the default); empirical: of the layer\'s whole quantization, measured by a second calibration pass')
    .option('--no-bias-correction', 'leave the biases as they are')
    .option('--equalize <alpha>', 'residual-stream equalization: the exponent of the per-channel scales, in [0, 1] (0: none)', '1')
    .option('--f32-lead <share>', 'leave the leading layers in f32 while their weights stay within this share of all weights (0: none); auto: 0.013 where the fully quantized model\'s outputs on the calibration inputs are more than 2% off f32', 'auto')
    .action(async (file: string, o: { calibrate: string; output: string; keepF32?: string; calibration: string; percentile: string; biasCorrection?: boolean | string; f32Lead: string; equalize: string }) => {
      const keepFloat = (o.keepF32 ?? '').split(',').filter(Boolean);
      const bad = keepFloat.find((k) => k !== 'first' && k !== 'last');
      if (bad) throw new CnncError('BAD_ATTRIBUTE', `--keep-f32 takes first, last or first,last; got '${bad}'`);
      if (typeof o.biasCorrection === 'string' && o.biasCorrection !== 'empirical') throw new CnncError('BAD_ATTRIBUTE', `--bias-correction takes no value or 'empirical'; got '${o.biasCorrection}'`, { value: o.biasCorrection });
      const alpha = Number(o.equalize);
      if (!(o.equalize.trim() !== '' && alpha >= 0 && alpha <= 1)) throw new CnncError('BAD_ATTRIBUTE', `--equalize takes a number in [0, 1]; got '${o.equalize}'`, { value: o.equalize });
      const lead = o.f32Lead === 'auto' ? 'auto' : Number(o.f32Lead);
      if (lead !== 'auto' && !(o.f32Lead.trim() !== '' && lead >= 0 && lead <= 1)) throw new CnncError('BAD_ATTRIBUTE', `--f32-lead takes auto or a share in [0, 1]; got '${o.f32Lead}'`, { value: o.f32Lead });
      const bytes = readFileSync(file);
      const m = /^random:(\d+)$/.exec(o.calibrate);
      if (o.calibrate.startsWith('random:') && !(m && Number(m[1]) >= 1)) throw new CnncError('BAD_ATTRIBUTE', `--calibrate random:N needs N ≥ 1, got '${o.calibrate}'`);
      if (!m && !existsSync(o.calibrate)) throw new CnncError('BAD_ATTRIBUTE', `--calibrate takes a folder of .npy/.pb inputs or random:N; '${o.calibrate}' is neither`);
      const calibration = m ? randomCalibration(bytes, Number(m[1])) : folderCalibration(bytes, o.calibrate);
      const out = await quantizeOnnx(bytes, { calibration, keepFloat: keepFloat as ('first' | 'last')[], method: calibrationMethod(o.calibration, o.percentile), biasCorrection: (o.biasCorrection ?? true) as boolean | 'empirical', leadingF32Share: lead, equalizeStreams: alpha, log: (line) => console.log(line) });
      writeFileSync(o.output, out);
      console.log(`wrote ${o.output} (${out.length} bytes, f32 model ${bytes.length} bytes)`);
    });
}
