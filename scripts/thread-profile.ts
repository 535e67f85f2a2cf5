/**
 * `npx tsx scripts/thread-profile.ts [--models a,b] [--runs N] [--threads T]`: how much of a model
 * the threaded wasm runtime can share out, measured on ONE thread, so that the figure does not
 * depend on what else the machine runs. Each step is timed alone in CPU time (process.cpuUsage:
 * time this process ran, not time it waited for a core; median over runs) and assigned
 * to the phase the thread pool would run it in (runtime/wasm/threads.ts phasesOf): a serial phase
 * runs on thread 0 while the others wait; a parallel phase of R units splits as ⌈R/T⌉ : R at worst.
 * Prints per model: the share of time in serial phases, the Amdahl bound on T threads with that
 * imbalance, the number of barriers, and the largest serial steps.
 */
import * as path from 'node:path';
import { compile } from '../index.js';
import { loadOnnxFile } from '../frontends/onnx/import.js';
import { decodeArtifact } from '../runtime/artifact.js';
import { tensor } from '../runtime/tensor.js';
import { WasmSession } from '../runtime/wasm/index.js';
import { phasesOf } from '../runtime/wasm/threads.js';
import { enableRelaxedSimd } from '../bench/litert.js';
import { f32File } from '../bench/common.js';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const MODELS = path.resolve(import.meta.dirname, '../../shared/models');
const names = arg('models', 'resnet18,mobilenet_v2,squeezenet1_1,efficientnet_b0').split(',');
const runs = Number(arg('runs', '15'));
const T = Number(arg('threads', '2'));

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
/** CPU milliseconds of this process (one thread runs: the session is single-threaded). */
const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };

export interface ThreadProfile { model: string; ms: number; serialShare: number; bound: number; barriers: number; top: string[] }

export async function threadProfile(name: string): Promise<ThreadProfile> {
  const dir = path.join(MODELS, name);
  const c = await compile(loadOnnxFile(path.join(dir, 'model.onnx')), 'wasm');
  const s = await WasmSession.create(decodeArtifact(c.save()), { threads: 1 });
  const x = tensor('f32', c.inputs[0].shape, f32File(path.join(dir, 'test_data_set_0/input_0.bin')));
  s.setInputs({ [s.inputNames[0]]: x });
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
    bound += ms * Math.ceil(p.rows! / T) / p.rows!;
  }
  total += serial;
  bound += serial;
  serialSteps.sort((a, b) => b[1] - a[1]);
  const top = serialSteps.slice(0, 4).map(([fn, ms]) => `${fn} ${(100 * ms / total).toFixed(1)}%`);
  return { model: name, ms: total, serialShare: serial / total, bound: total / bound, barriers: phases.length, top };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  enableRelaxedSimd();
  console.log(`| model | 1-thread step sum (CPU) | serial share | bound on ${T} threads | phases (barriers) | largest serial steps |`);
  console.log('|---|---|---|---|---|---|');
  for (const name of names) {
    const p = await threadProfile(name);
    console.log(`| ${p.model} | ${p.ms.toFixed(1)} ms | ${(100 * p.serialShare).toFixed(1)}% | ${p.bound.toFixed(2)}× | ${p.barriers} | ${p.top.join(', ')} |`);
  }
}
