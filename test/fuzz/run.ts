/**
 * `npm run fuzz [-- --runs N --seed S]`: imports N (default 10,000) mutants of LeNet-5's ONNX
 * model (../shared/models/lenet5) and prints how many ended in a verified Graph and how many in
 * each CnncError code. Any other exception, with its shrunk mutation, fails the run.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { SHARED } from '../conformance/runner.js';
import { mutate, mutationArb, outcome } from './mutate.js';

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
