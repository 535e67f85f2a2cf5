/**
 * `npx tsx scripts/thread-profile.ts [--models a,b] [--runs N] [--threads T]`: how much of each
 * model the threaded wasm runtime can share out, from a ONE-thread CPU-time profile (so the figure
 * does not depend on what else the machine runs; bench/wasm-threads.ts threadProfile): the share of
 * time in serial phases, the speed-up bound on T threads, the phases (barriers), the largest serial steps.
 */
import * as path from 'node:path';
import { compile } from '../index.js';
import { loadOnnxFile } from '../frontends/onnx/import.js';
import { decodeArtifact } from '../runtime/artifact.js';
import { tensor } from '../runtime/tensor.js';
import { WasmSession } from '../runtime/wasm/index.js';
import { enableRelaxedSimd } from '../bench/litert.js';
import { f32File } from '../bench/common.js';
import { threadProfile } from '../bench/wasm-threads.js';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const MODELS = path.resolve(import.meta.dirname, '../../shared/models');
const names = arg('models', 'resnet18,mobilenet_v2,squeezenet1_1,efficientnet_b0').split(',');
const runs = Number(arg('runs', '15'));
const T = Number(arg('threads', '2'));

enableRelaxedSimd();
console.log(`| model | 1-thread step sum (CPU) | serial share | bound on ${T} threads | phases (barriers) | largest serial steps |`);
console.log('|---|---|---|---|---|---|');
for (const name of names) {
  const dir = path.join(MODELS, name);
  const c = await compile(loadOnnxFile(path.join(dir, 'model.onnx')), 'wasm');
  const s = await WasmSession.create(decodeArtifact(c.save()), { threads: 1 });
  const x = tensor('f32', c.inputs[0].shape, f32File(path.join(dir, 'test_data_set_0/input_0.bin')));
  const p = threadProfile(s, { [s.inputNames[0]]: x }, runs, T);
  console.log(`| ${name} | ${p.ms.toFixed(1)} ms | ${(100 * p.serialShare).toFixed(1)}% | ${p.bound.toFixed(2)}× | ${p.phases} | ${p.top.join(', ')} |`);
}
