/**
 * Hostile input, property-based: 1,000 mutants of LeNet-5's ONNX model (bit flips, truncation,
 * spliced garbage, structural field edits; see test/fuzz/mutate.ts) each import to a Graph that
 * verifies or fail with a CnncError — never another exception type. `npm run fuzz` runs 10,000+.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { SHARED } from './conformance/runner.js';
import { mutate, mutationArb, outcome } from './fuzz/mutate.js';

const original = fs.readFileSync(path.join(SHARED, 'models/lenet5/model.onnx'));

it('1,000 mutated LeNet-5 models each give a verified Graph or a CnncError', () => {
  const seen = new Map<string, number>();
  fc.assert(
    fc.property(mutationArb(original.length), (m) => {
      const code = outcome(mutate(original, m)); // throws (failing the property) on any non-CnncError
      seen.set(code, (seen.get(code) ?? 0) + 1);
    }),
    { numRuns: 1000 },
  );
  // The mutations reach past the protobuf decoder: some mutants still import, others fail in graph checks.
  expect(seen.get('ok') ?? 0).toBeGreaterThan(0);
  expect(seen.get('BAD_MODEL') ?? 0).toBeGreaterThan(0);
  expect([...seen.keys()].filter((k) => k !== 'ok' && k !== 'BAD_MODEL').length).toBeGreaterThan(2);
});
