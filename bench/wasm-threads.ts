/**
 * `npm run bench -- --target wasm-threads`: cnnc's wasm builds and threads against each other, in
 * the same interleaved rounds (medians): the relaxed-SIMD build vs the SIMD128 build on one thread,
 * and the relaxed build on 2 threads (and on every core when there are more than 2) vs 1 thread.
 * Beside them a figure that does not depend on the machine's load (threadProfile): the share of
 * one thread's CPU time spent in steps that run serially, and the speed-up bound it leaves on 2
 * threads. Outputs checked against PyTorch's. Writes its table into docs/benchmarks.md (own section).
 */

import * as os from 'node:os';
import * as path from 'node:path';
import { compile } from '../index.js';
import { loadOnnxFile } from '../frontends/onnx/import.js';
import { decodeArtifact } from '../runtime/artifact.js';
import { tensor } from '../runtime/tensor.js';
import { WasmSession } from '../runtime/wasm/index.js';
import { phasesOf, splitBounds, type Phase } from '../runtime/wasm/threads.js';
import type { Tensor } from '../runtime/tensor.js';
import { enableRelaxedSimd } from './litert.js';
import { f32File, relErr, timeInterleaved, writeDocSection } from './common.js';
import type { BenchOptions } from './wasm.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const MODELS = path.resolve(ROOT, '../shared/models');

export interface ThreadProfile { ms: number; serialShare: number; bound: number; phases: number; top: string[] }

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
/** CPU milliseconds of this process (the profiled session runs on this thread alone). */
const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };

/** The share of a phase's work that its busiest of T threads does, cut as the pool cuts it (1 for a serial phase). */
export function busiestShare(p: Phase, T: number): number {
  if (p.rows === undefined) return 1;
  const w = p.work ?? new Array<number>(p.rows).fill(1);
  const b = splitBounds(p.rows, T, p.work);
  const total = w.reduce((x, y) => x + y, 0);
  let most = 0;
  for (let t = 0; t < T; t++) most = Math.max(most, w.slice(b[t], b[t + 1]).reduce((x, y) => x + y, 0));
  return total > 0 ? most / total : 1 / T;
}

/**
 * How much of a model the thread pool can share out, from a ONE-thread session `s`, so that the
 * figure does not depend on what else the machine runs: each step is timed alone in CPU time
 * (time this process ran, not time it waited for a core; median of `runs`) and assigned to the
 * phase the pool would run it in (runtime/wasm/threads.ts phasesOf). A serial phase runs on thread
 * 0 while the others wait; a parallel phase takes its busiest thread's share (busiestShare) of its time.
 * Returns the step sum, the serial share, the speed-up bound on T threads (Amdahl with that
 * imbalance; barriers not counted), the number of phases (barriers) and the largest serial steps.
 */
export function threadProfile(s: WasmSession, feeds: Record<string, Tensor>, runs: number, T = 2): ThreadProfile {
  s.setInputs(feeds);
  const steps = s.plan.steps.map((st) => st.fn);
  const fns = steps.map((fn) => s.exports[fn] as () => void);
  const times = steps.map(() => [] as number[]);
  for (let r = 0; r < runs + 3; r++) {
    fns.forEach((f, i) => {
      const t0 = cpuMs();
      f();
      if (r >= 3) times[i].push(cpuMs() - t0);
    });
  }
  const t = new Map(steps.map((fn, i) => [fn, median(times[i])]));
  const phases = phasesOf(s.plan.steps, s.exports);
  let serial = 0, total = 0, bound = 0;
  const serialSteps: [string, number][] = [];
  for (const p of phases) {
    if (p.serial) {
      for (const fn of p.serial) { serial += t.get(fn)!; serialSteps.push([fn, t.get(fn)!]); }
      continue;
    }
    const ms = t.get(p.fn)!;
    total += ms;
    bound += ms * busiestShare(p, T);
  }
  total += serial;
  bound += serial;
  serialSteps.sort((a, b) => b[1] - a[1]);
  const top = serialSteps.slice(0, 4).map(([fn, ms]) => `${fn} ${(100 * ms / total).toFixed(1)}%`);
  return { ms: total, serialShare: serial / total, bound: total / bound, phases: phases.length, top };
}

export async function benchWasmThreads(opt: BenchOptions): Promise<string> {
  const names = opt.models ?? ['resnet18', 'mobilenet_v2', 'squeezenet1_1'];
  const relaxed = enableRelaxedSimd();
  const load0 = os.loadavg()[0];
  const cores = os.availableParallelism?.() ?? os.cpus().length;
  const counts = [...new Set([2, Math.min(cores, 4)])].filter((t) => t > 1);
  const f = (x: number, d = 2) => x.toFixed(d);
  const rows: string[] = [];
  for (const name of names) {
    const dir = path.join(MODELS, name);
    const c = await compile(loadOnnxFile(path.join(dir, 'model.onnx')), 'wasm');
    const a = decodeArtifact(c.save());
    const x = tensor('f32', c.inputs[0].shape, f32File(path.join(dir, 'test_data_set_0/input_0.bin')));
    const want = f32File(path.join(dir, 'test_data_set_0/output_0.bin'));
    const simd = relaxed ? 'relaxed' : 'simd128';
    const one = await WasmSession.create(a, { simd, threads: 1 });
    const plain = await WasmSession.create(a, { simd: 'simd128', threads: 1 });
    const many = await Promise.all(counts.map((t) => WasmSession.create(a, { simd, threads: t })));
    let err = 0;
    for (const s of [one, plain, ...many]) err = Math.max(err, relErr(want, s.runSync({ input: x }).output.data as Float32Array));
    const [t1, tPlain, ...tMany] = await timeInterleaved([one, plain, ...many].map((s) => () => s.runSync({ input: x })), opt.runs, opt.warmup);
    for (const s of many) s.stopThreads();
    const p = threadProfile(one, { input: x }, opt.runs);
    rows.push(`| ${name} | ${f(tPlain)} ms | ${f(t1)} ms | ${relaxed ? `${f(tPlain / t1)}×` : '–'} | ` +
      many.map((s, i) => `${s.threads} threads: ${f(tMany[i])} ms (${f(t1 / tMany[i])}×)`).join(', ') +
      ` | ${(100 * p.serialShare).toFixed(1)}% → ${f(p.bound)}× (${p.phases} phases) | ${err.toExponential(1)} |`);
    process.stderr.write(`${rows[rows.length - 1]}\n`);
  }
  const out = [
    `Machine: ${os.cpus()[0]?.model ?? '?'}, ${cores} cores, Node ${process.version}; relaxed SIMD ${relaxed ? 'on (V8 flag set at start)' : 'unavailable'}. ` +
      `Medians of ${opt.runs} interleaved rounds after ${opt.warmup} warm-up runs (${new Date().toISOString().slice(0, 16)}Z); ` +
      `load average (1 min) at start/end ${f(load0, 1)} / ${f(os.loadavg()[0], 1)}: on a shared machine a second thread competes with other work, so thread speed-ups here are a floor.`,
    '',
    'Serial share: of one thread\'s CPU time per step (load-independent), the part in steps that run on one thread while the others wait; → the speed-up bound it leaves on 2 threads (with the split\'s imbalance; barriers not counted).',
    '',
    '| model | SIMD128 build, 1 thread | relaxed build, 1 thread | relaxed speed-up | relaxed build on N threads (speed-up vs 1) | serial share → bound on 2 threads | max rel. error vs PyTorch |',
    '|---|---|---|---|---|---|---|',
    ...rows,
  ];
  const text = out.join('\n');
  if (opt.write) writeDocSection('wasm-threads-bench', `## WebAssembly: relaxed SIMD and threads (cnnc against itself)\n\n${text}`);
  return text;
}

