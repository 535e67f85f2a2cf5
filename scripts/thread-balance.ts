/**
 * `npx tsx scripts/thread-balance.ts [--models a,b] [--threads 2,3] [--all]`: how evenly the threaded
 * wasm runtime shares each model's work, without running it (so the figure does not depend on the
 * machine's load): for each phase (one barrier each) the work each thread gets — the step's flops
 * cut where runtime/wasm/threads.ts splitBounds cuts its units, weighted by the plan's `unitWork` —
 * and the flop-weighted efficiency bound Σ mean / Σ max over all phases (serial phases count whole
 * on one thread). Prints the phases under 97% (all with --all), then one summary line per model.
 */
import * as path from 'node:path';
import { compile } from '../index.js';
import { loadOnnxFile } from '../frontends/onnx/import.js';
import { decodeArtifact } from '../runtime/artifact.js';
import { WasmSession } from '../runtime/wasm/index.js';
import { phasesOf, type Phase } from '../runtime/wasm/threads.js';
import { busiestShare } from '../bench/wasm-threads.js';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const MODELS = path.resolve(import.meta.dirname, '../../shared/models');
const names = arg('models', 'resnet18,mobilenet_v2,squeezenet1_1,efficientnet_b0').split(',');
const counts = arg('threads', '2,3').split(',').map(Number);
const all = process.argv.includes('--all');

const summary: string[] = [];
for (const name of names) {
  const c = await compile(loadOnnxFile(path.join(MODELS, name, 'model.onnx')), 'wasm');
  const s = await WasmSession.create(decodeArtifact(c.save()), { threads: 1 });
  const flops = new Map(s.plan.steps.map((st) => [st.fn, st.flops]));
  const phases = phasesOf(s.plan.steps, s.exports);
  const work = (p: Phase) => (p.serial ?? [p.fn]).reduce((x, fn) => x + flops.get(fn)!, 0);
  const total = phases.reduce((x, p) => x + work(p), 0);
  console.log(`\n${name}: ${phases.length} phases (barriers per run), ${phases.filter((p) => p.serial).length} serial`);
  console.log(`| phase | units | share of flops | ${counts.map((T) => `T=${T} max/mean`).join(' | ')} |`);
  const sums = counts.map(() => ({ mean: 0, max: 0 }));
  for (const p of phases) {
    const f = work(p), shares = counts.map((T) => busiestShare(p, T));
    counts.forEach((T, k) => { sums[k].mean += f / T; sums[k].max += f * shares[k]; });
    const effs = counts.map((T, k) => 1 / (T * shares[k]));
    if (all || effs.some((e) => e < 0.97 && f / total > 0.002)) {
      const label = p.serial ? `serial: ${p.serial.join(', ')}` : p.fn;
      console.log(`| ${label.slice(0, 60)} | ${p.rows ?? '-'} | ${(100 * f / total).toFixed(1)}% | ${counts.map((T, k) => `${(T * shares[k]).toFixed(3)}`).join(' | ')} |`);
    }
  }
  summary.push(`${name}: ${counts.map((T, k) => `T=${T} bound ${(sums[k].mean / sums[k].max).toFixed(3)}`).join(', ')}; ${phases.length} barriers`);
  s.stopThreads();
}
console.log(`\n${summary.join('\n')}`);
