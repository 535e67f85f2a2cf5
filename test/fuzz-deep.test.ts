/**
 * Fuzzing past the importer, in the suite: 1,000 mutants of a small CNN (test/fuzz/deep.ts) through
 * import, verify, the wasm passes, wasm codegen and a run, compared with the reference; and 1,000 more
 * artifact mutants of a LeNet-5 wasm artifact (test/fuzz/artifact.ts). Each ends in a match (or, for
 * artifacts, a run to the declared outputs) or a typed error. `npm run fuzz` runs 10,000 of each.
 */
import { expect, it } from 'vitest';
import { compile } from '../index.js';
import { zoo } from '../models/index.js';
import { tensor } from '../runtime/tensor.js';
import { artifactOutcome, mutateArtifact, rng } from './fuzz/artifact.js';
import { baseModel, deepOutcome, mutateModel } from './fuzz/deep.js';

it('1,000 model mutants: each matches the reference on wasm or fails with a typed error at some stage', async () => {
  const base = baseModel();
  const rand = rng(20261201);
  const counts: Record<string, number> = {};
  for (let i = 0; i < 1000; i++) {
    const m = mutateModel(base, rand);
    let o: string;
    try { o = await deepOutcome(m.bytes); } catch (e) { throw new Error(`mutant ${i} (${m.kind}: ${m.detail}): ${(e as Error).message}`); }
    counts[o] = (counts[o] ?? 0) + 1;
  }
  console.log(`model mutants: ${JSON.stringify(counts)}`);
  expect(counts.match).toBeGreaterThan(200); // a good share reaches the end and is compared
  expect(Object.keys(counts).filter((k) => k.startsWith('import:')).length).toBeGreaterThan(3);
});

it('1,000 LeNet-5 artifact mutants: each runs to its declared outputs or fails with a typed error', async () => {
  const bytes = (await compile(zoo('lenet5'), 'wasm')).save();
  const x = { input: tensor('f32', [1, 1, 32, 32], Array.from({ length: 1024 }, (_, i) => Math.sin(i))) };
  const rand = rng(7);
  const counts: Record<string, number> = {};
  for (let i = 0; i < 1000; i++) {
    const m = mutateArtifact(bytes, rand);
    let o: string;
    try { o = await artifactOutcome(m.bytes, x); } catch (e) { throw new Error(`artifact mutant ${i} (${m.kind}: ${m.detail}): ${e}`); }
    counts[o] = (counts[o] ?? 0) + 1;
  }
  console.log(`artifact mutants: ${JSON.stringify(counts)}`);
  expect(counts.ok).toBeGreaterThan(50);
  expect(counts.BAD_ARTIFACT).toBeGreaterThan(300);
});
