/**
 * Per-layer efficiency of the wasm target (`npm run bench -- --target layers`, not a test): every
 * conv, depthwise conv, fused dw+pw and Gemm step of ResNet-18, MobileNetV2 and EfficientNet-B0
 * (../shared/models), each step function called alone (its inputs in place from a full run), one
 * thread, relaxed SIMD on where the engine has it (the V8 flag, set before any module compiles).
 *
 * Against what: two limits measured in the same process, interleaved with every layer round by
 * round and each sized to take about as long as the layer (so that the shared machine's load falls
 * on both alike):
 *   - the SIMD peak: K independent multiply-add chains over f32x4 (the better of the mul+add and the
 *     `f32x4.relaxed_madd` kernel, chosen once at start);
 *   - the stream bandwidth for this layer's traffic: a kernel that reads as many bytes as the layer
 *     reads and writes as many as it writes (ir/cost.ts's bytesRead/bytesWritten), over buffers of
 *     the same size, so that it sees the same cache level the layer does.
 * Per round: % of peak = (flops / t_layer) / peak rate, % of bandwidth = (bytes / t_layer) / stream
 * rate; the table gives medians over rounds. The layer's roofline share is the larger of the two
 * (compute-bound layers are held to the peak, memory-bound ones — depthwise, batch-1 Gemm, the
 * squeeze-excitation 1×1 convs on one pixel — to the bandwidth). Then "what the activation costs":
 * EfficientNet-B0 layer shapes compiled alone with no activation, ReLU and SiLU, against the same
 * limits, beside the bound a SiLU epilogue puts on the share of the peak (`--models activations`
 * runs only that table). Writes docs/benchmarks.md's layers section.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import binaryen from 'binaryen';
import { compile } from '../index.js';
import { Graph } from '../ir/graph.js';
import { loadOnnxFile } from '../frontends/onnx/import.js';
import { nodeCost } from '../ir/cost.js';
import { decodeArtifact } from '../runtime/artifact.js';
import { tensor } from '../runtime/tensor.js';
import { WasmSession } from '../runtime/wasm/index.js';
import { FnBuilder, Ops, newModule } from '../codegen/wasm/builder.js';
import { SIGMOID_MULTIPLIES } from '../codegen/wasm/math.js';
import { enableRelaxedSimd } from './litert.js';
import { f32File, median, writeDocSection } from './common.js';
import type { BenchOptions } from './wasm.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const MODELS = path.resolve(ROOT, '../shared/models');
const NAMES = ['resnet18', 'mobilenet_v2', 'efficientnet_b0'];
/** Target share of the roofline (issue 16). */
const GOAL = 0.7;

/** Steps that count as layers here: dense/grouped/depthwise convs, fused dw+pw, Gemm/MatMul. */
const isLayer = (op: string) => /^(Conv|FusedDwPw|Gemm|MatMul)\b/.test(op);

// ---- the two limits ---------------------------------------------------------------------------

interface Limits {
  /** Runs the peak kernel for `iters` steps; flops per step. */
  peak(iters: number): void;
  flopsPerIter: number;
  /** Reads `rd` bytes at 0 and writes `wr` bytes after them, `reps` times. */
  stream(rd: number, wr: number, reps: number): void;
  build: string;
}

const PEAK_K = 12, PEAK_UNROLL = 4;
/** The stream kernel's memory: the largest layer traffic here (ResNet-18's layer4 convs, 9.4 MB of weights) fits. */
const STREAM_BYTES = 64 << 20;

/** `peak(n)`: n steps of acc_k = acc_k·b + a over K f32x4 chains (a mul+add, or relaxed_madd in a relaxed module). */
function addPeak(m: binaryen.Module): void {
  const fb = new FnBuilder(m, 1), o = new Ops(m);
  const acc = Array.from({ length: PEAK_K }, () => fb.local(binaryen.v128));
  const a = fb.local(binaryen.v128), b = fb.local(binaryen.v128), i = fb.local(binaryen.i32);
  const step = Array.from({ length: PEAK_UNROLL }, () => acc.map((x) => fb.set(x, o.fmadd(fb.getv(a), fb.getv(x), fb.getv(b))))).flat();
  let sum = fb.getv(acc[0]);
  for (const x of acc.slice(1)) sum = m.f32x4.add(sum, fb.getv(x));
  m.addFunction('peak', binaryen.i32, binaryen.none, fb.vars, m.block(null, [
    fb.set(a, o.splat(0.001)), fb.set(b, o.splat(0.999)),
    ...acc.map((x, k) => fb.set(x, o.splat(k))),
    fb.loopDyn(i, o.c(0), fb.geti(0), 1, step),
    o.vstore(o.c(0), sum),
  ]));
  m.addFunctionExport('peak', 'peak');
}

/**
 * `stream(rd, wr, reps)`: xors rd bytes from address 64 into four v128 accumulators (xor: one cycle
 * of latency, so the loop is bound by loads, not by a chain) and stores the result over the wr bytes
 * that follow, reps times.
 */
function addStream(m: binaryen.Module): void {
  const fb = new FnBuilder(m, 3), o = new Ops(m);
  const acc = Array.from({ length: 4 }, () => fb.local(binaryen.v128));
  const p = fb.local(binaryen.i32), end = fb.local(binaryen.i32), w0 = fb.local(binaryen.i32), r = fb.local(binaryen.i32), v = fb.local(binaryen.v128);
  const BASE = 64;
  const read = [
    fb.set(end, o.addc(fb.geti(0), BASE)),
    fb.loopDyn(p, o.c(BASE), fb.geti(end), 64, acc.map((x, k) => fb.set(x, m.v128.xor(fb.getv(x), o.vload(fb.geti(p), 16 * k))))),
  ];
  const write = [
    fb.set(v, m.v128.xor(m.v128.xor(fb.getv(acc[0]), fb.getv(acc[1])), m.v128.xor(fb.getv(acc[2]), fb.getv(acc[3])))),
    fb.set(w0, fb.geti(end)), // the written region follows the read one
    fb.set(end, o.add(fb.geti(end), fb.geti(1))),
    fb.loopDyn(p, fb.geti(w0), fb.geti(end), 64, [0, 1, 2, 3].map((k) => o.vstore(fb.geti(p), fb.getv(v), 16 * k))),
  ];
  m.addFunction('stream', binaryen.createType([binaryen.i32, binaryen.i32, binaryen.i32]), binaryen.none, fb.vars,
    fb.loopDyn(r, o.c(0), fb.geti(2), 1, [...read, ...write]));
  m.addFunctionExport('stream', 'stream');
}

async function limitsModule(relaxed: boolean, bytes: number): Promise<Limits> {
  const m = newModule({ relaxed });
  const pages = Math.ceil((bytes + 4096) / 65536);
  m.setMemory(pages, pages, 'memory');
  addPeak(m);
  addStream(m);
  if (!m.validate()) throw new Error('limits module does not validate');
  const bin = m.emitBinary();
  m.dispose();
  const inst = await WebAssembly.instantiate(await WebAssembly.compile(bin as Uint8Array<ArrayBuffer>), {});
  const peak = inst.exports.peak as (n: number) => void;
  const stream = inst.exports.stream as (rd: number, wr: number, reps: number) => void;
  return { peak, stream, flopsPerIter: PEAK_UNROLL * PEAK_K * 8, build: relaxed ? 'relaxed_madd' : 'mul+add' };
}

/** GFLOP/s of a peak kernel: best of 20 after tier-up. */
function peakRate(l: Limits): number {
  const iters = 400_000;
  for (let w = 0; w < 30; w++) l.peak(iters / 4);
  let best = Infinity;
  for (let r = 0; r < 20; r++) best = Math.min(best, timeIt(() => l.peak(iters)));
  return (iters * l.flopsPerIter) / best / 1e6;
}

// ---- per-layer timing ---------------------------------------------------------------------------

interface LayerRow {
  model: string; node: string; fn: string; op: string; flops: number; bytes: number;
  ms: number; gflops: number; pctPeak: number; gbs: number; pctBw: number;
  /** The same shares from the best times of the rounds (the least disturbed estimate on a shared machine). */
  bestPeak: number; bestBw: number;
}

/** Round `fn` up to a batch of calls lasting ≥ `ms` (one call of a 1×1-pixel conv is microseconds). */
function batchOf(fn: () => void, ms: number): number {
  const one = Math.max(timeIt(fn), 1e-3);
  return Math.max(1, Math.ceil(ms / one));
}

/**
 * Milliseconds of CPU time this process spends in `f` (process.cpuUsage: user + system). With a load
 * average of 15 on 2 cores, wall-clock times mostly measure how long the process waited to be
 * scheduled; CPU time leaves that out (cache and core sharing still count). The process runs one
 * thread here (the kernels are single-threaded; V8's background compiles are done after warm-up).
 */
const timeIt = (f: () => void): number => {
  const t0 = process.cpuUsage();
  f();
  const d = process.cpuUsage(t0);
  return (d.user + d.system) / 1000;
};

interface LayerTime { ms: number; pctPeak: number; pctBw: number; bestPeak: number; bestBw: number }

/**
 * One layer's step function against the two limits: `runs` rounds, each the layer (a batch of calls
 * lasting ≥ 2 ms), the peak kernel and the stream kernel sized to about the layer's time; medians of
 * the per-round shares, and the shares of the best times.
 */
function timeLayer(fn: () => void, flops: number, rd: number, wr: number, lim: Limits, rate: number, runs: number): LayerTime {
  const k = batchOf(fn, 2);
  const layer = () => { for (let i = 0; i < k; i++) fn(); };
  for (let w = 0; w < 3; w++) layer();
  // size the limit kernels to about the layer's time
  const tl = median(Array.from({ length: 3 }, () => timeIt(layer)));
  const iters = Math.max(1000, Math.round((tl * rate * 1e6) / lim.flopsPerIter));
  const reps = Math.max(1, Math.round(tl / Math.max(timeIt(() => lim.stream(rd, wr, 1)), 1e-4)));
  lim.peak(iters);
  lim.stream(rd, wr, reps);
  const t: number[] = [], pk: number[] = [], bw: number[] = [], tp: number[] = [], tsm: number[] = [];
  for (let r = 0; r < runs; r++) {
    const tL = timeIt(layer) / k;
    const tP = timeIt(() => lim.peak(iters));
    const tS = timeIt(() => lim.stream(rd, wr, reps));
    const gflops = flops / tL / 1e6, peakNow = (iters * lim.flopsPerIter) / tP / 1e6;
    const gbs = (rd + wr) / tL / 1e6, bwNow = ((rd + wr) * reps) / tS / 1e6;
    t.push(tL); pk.push(gflops / peakNow); bw.push(gbs / bwNow); tp.push(tP); tsm.push(tS);
  }
  const bestL = Math.min(...t);
  return {
    ms: median(t), pctPeak: median(pk), pctBw: median(bw),
    bestPeak: (flops / bestL) / ((iters * lim.flopsPerIter) / Math.min(...tp)),
    bestBw: ((rd + wr) / bestL) / (((rd + wr) * reps) / Math.min(...tsm)),
  };
}

async function benchModel(name: string, lim: Limits, rate: number, opt: BenchOptions): Promise<{ rows: LayerRow[]; otherMs: number; totalMs: number }> {
  const dir = path.join(MODELS, name);
  const compiled = await compile(loadOnnxFile(path.join(dir, 'model.onnx')), 'wasm');
  const s = await WasmSession.create(decodeArtifact(compiled.save()));
  const x = tensor('f32', compiled.inputs[0].shape, f32File(path.join(dir, 'test_data_set_0/input_0.bin')));
  for (let i = 0; i < Math.max(2, opt.warmup); i++) s.runSync({ input: x });
  const g = compiled.graph;
  const nodes = new Map(g.nodes.map((n) => [n.name, n]));
  const rows: LayerRow[] = [];
  let otherMs = 0, totalMs = 0;
  for (const st of s.plan.steps) {
    const fn = s.exports[st.fn] as () => void;
    const node = nodes.get(st.node);
    if (!isLayer(st.op) || !node) {
      // not a layer: its median time only, for the share of the model the table covers
      const ts = Array.from({ length: 5 }, () => timeIt(fn));
      otherMs += median(ts);
      totalMs += median(ts);
      continue;
    }
    const cost = nodeCost(g, node);
    const rd = cost.bytesRead, wr = cost.bytesWritten;
    if (rd + wr + 1024 > STREAM_BYTES) throw new Error(`${st.node} moves ${rd + wr} bytes, more than the stream kernel's ${STREAM_BYTES}-byte memory`);
    const t = timeLayer(fn, st.flops, rd, wr, lim, rate, opt.runs);
    totalMs += t.ms;
    rows.push({ model: name, node: st.node, fn: st.fn, op: st.op, flops: st.flops, bytes: rd + wr, gflops: st.flops / t.ms / 1e6, gbs: (rd + wr) / t.ms / 1e6, ...t });
    process.stderr.write(`${name} ${st.fn}: ${t.ms.toFixed(3)} ms, ${pct(t.pctPeak)} of peak (best ${pct(t.bestPeak)}), ${pct(t.pctBw)} of stream bandwidth (best ${pct(t.bestBw)})\n`);
  }
  s.dispose();
  return { rows, otherMs, totalMs };
}

// ---- what the activation costs ------------------------------------------------------------------

/** EfficientNet-B0 layer shapes (input channels, size, output channels, kernel, stride; depthwise when C = M and dw). */
const ACT_SHAPES: { label: string; C: number; H: number; M: number; k: number; s: number; dw: boolean }[] = [
  { label: 'stem 3×3/2, 3→32, 224²', C: 3, H: 224, M: 32, k: 3, s: 2, dw: false },
  { label: 'dw 3×3, 32 ch, 112²', C: 32, H: 112, M: 32, k: 3, s: 1, dw: true },
  { label: 'dw 3×3, 480 ch, 14²', C: 480, H: 14, M: 480, k: 3, s: 1, dw: true },
  { label: 'dw 5×5, 240 ch, 28²', C: 240, H: 28, M: 240, k: 5, s: 1, dw: true },
  { label: '1×1, 16→96, 112²', C: 16, H: 112, M: 96, k: 1, s: 1, dw: false },
  { label: '1×1, 40→240, 28²', C: 40, H: 28, M: 240, k: 1, s: 1, dw: false },
  { label: '1×1, 112→672, 14²', C: 112, H: 14, M: 672, k: 1, s: 1, dw: false },
];
const ACTS = ['', 'Relu', 'SiLU'] as const;

interface ActRow { label: string; taps: number; share: Record<string, number>; best: Record<string, number>; ms: Record<string, number> }

/** The shape's conv with each activation fused, timed alone against the same limits as the model layers. */
async function activationCost(lim: Limits, rate: number, runs: number): Promise<ActRow[]> {
  const rows: ActRow[] = [];
  for (const sh of ACT_SHAPES) {
    const row: ActRow = { label: sh.label, taps: (sh.dw ? 1 : sh.C) * sh.k * sh.k, share: {}, best: {}, ms: {} };
    for (const act of ACTS) {
      const g = new Graph('act');
      const x = g.addInput('x', { dtype: 'f32', shape: [1, sh.C, sh.H, sh.H] });
      const wv = Float32Array.from({ length: sh.M * (sh.dw ? 1 : sh.C) * sh.k * sh.k }, (_, i) => Math.sin(i * 0.37) * 0.2);
      const w = g.addConstant('w', tensor('f32', [sh.M, sh.dw ? 1 : sh.C, sh.k, sh.k], wv));
      const b = g.addConstant('b', tensor('f32', [sh.M], Float32Array.from({ length: sh.M }, (_, i) => 0.01 * (i % 7))));
      const p = sh.k >> 1;
      let y = g.add('Conv', [x, w, b], { group: sh.dw ? sh.C : 1, kernel_shape: [sh.k, sh.k], strides: [sh.s, sh.s], pads: [p, p, p, p] }, { name: 'layer' });
      if (act === 'Relu') y = g.add('Relu', [y], {});
      if (act === 'SiLU') y = g.add('Mul', [y, g.add('Sigmoid', [y], {})], {});
      g.setOutputs([y]);
      const compiled = await compile(g, 'wasm');
      const s = await WasmSession.create(decodeArtifact(compiled.save()));
      s.runSync({ x: tensor('f32', [1, sh.C, sh.H, sh.H], Float32Array.from({ length: sh.C * sh.H * sh.H }, (_, i) => Math.cos(i * 0.11))) });
      const st = s.plan.steps.find((t) => t.op.startsWith('Conv'));
      const node = compiled.graph.nodes.find((n) => n.name === st?.node);
      if (!st || !node) throw new Error(`${sh.label}: no conv step in the plan`);
      const cost = nodeCost(compiled.graph, node);
      const t = timeLayer(s.exports[st.fn] as () => void, st.flops, cost.bytesRead, cost.bytesWritten, lim, rate, runs);
      const key = act || 'none';
      row.share[key] = Math.max(t.pctPeak, t.pctBw); row.best[key] = Math.max(t.bestPeak, t.bestBw); row.ms[key] = t.ms;
      process.stderr.write(`activation cost ${sh.label} ${key} (${st.fn}): ${t.ms.toFixed(3)} ms, ${pct(row.share[key])} of roofline\n`);
      s.dispose();
    }
    rows.push(row);
  }
  return rows;
}

function activationReport(rows: ActRow[]): string {
  const out = [
    '### What the activation costs',
    '',
    'EfficientNet-B0 layer shapes, each conv compiled alone with no activation, ReLU and SiLU fused (x·sigmoid(x)), timed as the model layers above (roofline share, median; best in brackets). ' +
    `"SiLU bound": the most of the multiply-add peak a SiLU layer can reach when its ${SIGMOID_MULTIPLIES} multiply-class instructions per 4 outputs (codegen/wasm/math.ts: x/(1 + e^−x) to f32 accuracy) share the two pipes with the conv's multiply-adds per 4 outputs ("FMAs / 4 outputs": taps × input channels per group): FMAs / (FMAs + ${SIGMOID_MULTIPLIES}).`,
    '',
    '| layer | FMAs / 4 outputs | none | ReLU | SiLU | SiLU ms / none ms | SiLU bound |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.label} | ${r.taps} | ${ACTS.map((a) => `${pct(r.share[a || 'none'])} (${pct(r.best[a || 'none'])})`).join(' | ')} | ${(r.ms.SiLU / r.ms.none).toFixed(2)}× | ${pct(r.taps / (r.taps + SIGMOID_MULTIPLIES))} |`),
  ];
  return out.join('\n');
}

// ---- report -----------------------------------------------------------------------------------

const share = (r: LayerRow) => Math.max(r.pctPeak, r.pctBw);
const shareBest = (r: LayerRow) => Math.max(r.bestPeak, r.bestBw);
const pct = (x: number) => `${(100 * x).toFixed(0)}%`;

function report(models: { name: string; rows: LayerRow[]; otherMs: number; totalMs: number }[], peaks: { build: string; gflops: number }[], chosen: string, load: [number, number], opt: BenchOptions): string {
  const out: string[] = [];
  out.push(`Machine: ${os.cpus()[0]?.model ?? 'unknown'}, ${os.cpus().length} cores, Node ${process.version}; one thread, batch 1; the relaxed-SIMD build of each artifact (V8 flag set at start). ${new Date().toISOString().slice(0, 16)}Z, load average (1 min) at start/end ${load[0].toFixed(1)} / ${load[1].toFixed(1)}.`);
  out.push(`SIMD peak at start (best of 20, 12 chains): ${peaks.map((p) => `${p.build} ${p.gflops.toFixed(1)} GFLOP/s`).join(', ')}; the ${chosen} kernel is the peak the layers are held to.`);
  out.push('Times are CPU time of the benchmark process (process.cpuUsage), not wall-clock: the machine is shared (see the load average), and CPU time leaves out the time the process waits to be scheduled.');
  out.push(`Each layer: ${opt.runs} rounds, each round the layer (a batch of calls lasting ≥ 2 ms), the peak kernel and the stream kernel sized to about the layer's time; shares are medians of the per-round ratios ("median"), and the ratio of the best layer time to the best limit-kernel time over the same rounds ("best": the least disturbed estimate on this shared machine); ms is the median layer time. Bold: below ${pct(GOAL)}.`);
  out.push('"roofline" = max(% of peak, % of stream bandwidth): a compute-bound layer is held to the peak, a memory-bound one (depthwise, batch-1 Gemm, 1×1 convs on one pixel) to the bandwidth its own traffic gets from the stream kernel.');
  for (const m of models) {
    const layerMs = m.rows.reduce((a, r) => a + r.ms, 0);
    const ok = m.rows.filter((r) => share(r) >= GOAL), okBest = m.rows.filter((r) => shareBest(r) >= GOAL);
    const okMs = ok.reduce((a, r) => a + r.ms, 0), okBestMs = okBest.reduce((a, r) => a + r.ms, 0);
    const flops = m.rows.reduce((a, r) => a + r.flops, 0);
    out.push('');
    out.push(`### ${m.name}`);
    out.push('');
    out.push(`${m.rows.length} layers, ${layerMs.toFixed(2)} ms of ${m.totalMs.toFixed(2)} ms summed over all steps (other steps: ${m.otherMs.toFixed(2)} ms); ` +
      `at ≥ ${pct(GOAL)} of their roofline: ${ok.length} of ${m.rows.length} layers by medians (${pct(okMs / layerMs)} of layer time), ${okBest.length} by best times (${pct(okBestMs / layerMs)}); all layers together ${((flops / layerMs) / 1e6).toFixed(1)} GFLOP/s.`);
    out.push('');
    out.push('| node | kernel | op | MFLOP | MB moved | ms | GFLOP/s | % of peak | GB/s | % of stream | roofline (median) | roofline (best) |');
    out.push('|---|---|---|---|---|---|---|---|---|---|---|---|');
    const mark = (x: number) => (x >= GOAL ? pct(x) : `**${pct(x)}**`);
    for (const r of m.rows) {
      out.push(`| ${r.node.length > 48 ? `…${r.node.slice(-47)}` : r.node} | ${r.fn} | ${r.op} | ${(r.flops / 1e6).toFixed(1)} | ${(r.bytes / 1e6).toFixed(2)} | ${r.ms.toFixed(3)} | ${r.gflops.toFixed(1)} | ${pct(r.pctPeak)} | ${r.gbs.toFixed(1)} | ${pct(r.pctBw)} | ${mark(share(r))} | ${mark(shareBest(r))} |`);
    }
  }
  return out.join('\n');
}


export async function benchLayers(opt: BenchOptions): Promise<string> {
  const load0 = os.loadavg()[0];
  const relaxed = enableRelaxedSimd();
  const kinds = [await limitsModule(false, STREAM_BYTES), ...(relaxed ? [await limitsModule(true, STREAM_BYTES)] : [])];
  const peaks = kinds.map((l) => ({ l, build: l.build, gflops: peakRate(l) }));
  const best = peaks.reduce((a, b) => (b.gflops > a.gflops ? b : a));
  process.stderr.write(`SIMD peak: ${peaks.map((p) => `${p.build} ${p.gflops.toFixed(1)}`).join(', ')} GFLOP/s\n`);
  const models = [];
  // `--models activations` (alone or with model names): the activation-cost table; it runs by default too
  for (const name of (opt.models ?? NAMES).filter((n) => n !== 'activations')) models.push({ name, ...(await benchModel(name, best.l, best.gflops, opt)) });
  const acts = !opt.models || opt.models.includes('activations') ? await activationCost(best.l, best.gflops, opt.runs) : [];
  const text = report(models, peaks, best.build, [load0, os.loadavg()[0]], opt) + (acts.length ? `\n\n${activationReport(acts)}` : '');
  if (opt.write) writeDocSection('layers-bench', `## WebAssembly per layer: share of the SIMD peak and of the stream bandwidth\n\n\`npm run bench -- --target layers\` (bench/layers.ts).\n\n${text}`, '<!-- wasm-bench:end -->');
  return text;
}
