/**
 * `npm run fuzz [-- --runs N --seed S]`: three fuzzers, N mutants each (default 10,000), counts by outcome:
 * 1. LeNet-5's ONNX model (../shared/models/lenet5) mutated at the byte and field level, imported:
 *    a verified Graph or a CnncError (any other exception, with its shrunk mutation, fails the run);
 * 2. a small CNN mutated in ops, attributes, shapes, dtypes and structure (test/fuzz/deep.ts), pushed
 *    through import, passes, wasm compile and run, compared with the reference: a match or a typed error;
 * 3. a LeNet-5 wasm artifact mutated in header fields and section bytes, CRC recomputed
 *    (test/fuzz/artifact.ts): a run to the declared outputs or a typed error.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { SHARED } from '../conformance/runner.js';
import { mutate, mutationArb, outcome } from './mutate.js';
import { baseModel, deepOutcome, mutateModel } from './deep.js';
import { artifactOutcome, mutateArtifact, rng } from './artifact.js';
import { compile } from '../../index.js';
import { zoo } from '../../models/index.js';
import { tensor } from '../../runtime/tensor.js';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const runs = arg('runs', 10_000);
const seed = arg('seed', Date.now() % 2 ** 31);
const original = fs.readFileSync(path.join(SHARED, 'models/lenet5/model.onnx'));
const counts = new Map<string, number>();
const byKind = new Map<string, number>();
const t0 = Date.now();
fc.assert(
  fc.property(mutationArb(original.length), (m) => {
    const code = outcome(mutate(original, m));
    counts.set(code, (counts.get(code) ?? 0) + 1);
    byKind.set(m.kind, (byKind.get(m.kind) ?? 0) + 1);
  }),
  { numRuns: runs, seed },
);
console.log(`${runs} mutants of lenet5/model.onnx (seed ${seed}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
console.log(`mutations: ${[...byKind].map(([k, n]) => `${k} ${n}`).join(', ')}`);
console.log('outcome            count');
for (const [code, n] of [...counts].sort((a, b) => b[1] - a[1])) console.log(`${code.padEnd(18)} ${n}`);
console.log('every outcome was a verified Graph or a CnncError');

/** Runs `n` mutants through `one`, printing counts by outcome and the slowest mutant; throws on the first failure. */
async function campaign(title: string, n: number, one: (i: number) => Promise<string>): Promise<void> {
  const tally = new Map<string, number>();
  const start = Date.now();
  let slowest = 0;
  for (let i = 0; i < n; i++) {
    const t = Date.now();
    const o = await one(i);
    slowest = Math.max(slowest, Date.now() - t);
    tally.set(o, (tally.get(o) ?? 0) + 1);
  }
  console.log(`\n${title}: ${n} mutants (seed ${seed}) in ${((Date.now() - start) / 1000).toFixed(1)} s, slowest ${slowest} ms`);
  for (const [o, k] of [...tally].sort((a, b) => b[1] - a[1])) console.log(`${o.padEnd(28)} ${k}`);
}

const base = baseModel();
const modelRand = rng(seed);
await campaign('model mutants through import, passes, wasm compile and run vs the reference', runs, async (i) => {
  const m = mutateModel(base, modelRand);
  try { return await deepOutcome(m.bytes); } catch (e) { throw new Error(`mutant ${i} (${m.kind}: ${m.detail}): ${(e as Error).message}`); }
});
console.log('every model mutant matched the reference or failed with a typed error');

const art = (await compile(zoo('lenet5'), 'wasm')).save();
const x = { input: tensor('f32', [1, 1, 32, 32], Array.from({ length: 1024 }, (_, i) => Math.sin(i))) };
const artRand = rng(seed + 1);
await campaign('LeNet-5 wasm artifact mutants (header fields and section bytes, CRC recomputed)', runs, async (i) => {
  const m = mutateArtifact(art, artRand);
  try { return await artifactOutcome(m.bytes, x); } catch (e) { throw new Error(`artifact mutant ${i} (${m.kind}: ${m.detail}): ${e}`); }
});
console.log('every artifact mutant ran to its declared outputs or failed with a typed error');
