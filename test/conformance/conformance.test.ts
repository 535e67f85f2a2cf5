/**
 * ONNX backend conformance through import + the reference interpreter (see runner.ts for the
 * sources, the scope and the tolerances per dtype). A listed expected failure that passes, or
 * an unlisted failure, fails the suite; so does a list longer than 5% of the in-scope tests.
 */
import { describe, expect, it } from 'vitest';
import { discover, readExpectedFailures, runTest, type Source } from './runner.js';

const tests = discover();
const expected = readExpectedFailures();
const inScope = tests.filter((t) => t.inScope);

describe('conformance test set', () => {
  it('finds the libonnx-testdata and ../shared/onnx-node-tests suites', () => {
    const count = (s: Source) => tests.filter((t) => t.source === s).length;
    expect(count('node')).toBe(932);
    expect(count('onnx-node-tests')).toBe(589);
    expect(count('pytorch-converted')).toBeGreaterThan(80);
    expect(count('pytorch-operator')).toBeGreaterThan(30);
  });

  it('lists at most 5% of the in-scope tests as expected failures, each an in-scope test with a reason', () => {
    expect(expected.size).toBeLessThanOrEqual(0.05 * inScope.length);
    for (const [id, reason] of expected) {
      expect(inScope.some((t) => t.id === id), `${id} is not an in-scope test`).toBe(true);
      expect(reason.length, `${id} has no reason`).toBeGreaterThan(10);
    }
  });
});

for (const source of ['node', 'onnx-node-tests', 'pytorch-converted', 'pytorch-operator'] as const) {
  describe(`conformance: ${source}`, () => {
    for (const test of inScope.filter((t) => t.source === source)) {
      const listed = expected.get(test.id);
      const title = listed ? `${test.name} (expected to fail: ${listed})` : test.name;
      it(title, () => {
        const r = runTest(test);
        if (listed !== undefined) {
          expect(r.status, `${test.id} is listed as an expected failure but now ${r.status === 'pass' ? 'passes' : 'is skipped'}: remove it from expected-failures.tsv`).toBe('fail');
        } else {
          expect(r.status === 'fail' ? r.reason : '', `${test.id} failed`).toBe('');
        }
      });
    }
  });
}
