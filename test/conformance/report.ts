/**
 * Prints the conformance table: per op (node tests of both sources) and per pytorch source,
 * passed / failed / skipped, with every failure and skip reason, a total line, and how many of
 * all of libonnx's node/ tests pass (in scope or not).
 *
 *   npx tsx test/conformance/report.ts [--quiet]
 */
import { discover, readExpectedFailures, runTest, type Result } from './runner.js';

const quiet = process.argv.includes('--quiet');
const t0 = Date.now();
const tests = discover();
const results = tests.map(runTest);
const expected = readExpectedFailures();

const groups = new Map<string, Result[]>();
for (const r of results.filter((r) => r.test.inScope)) {
  const key = r.test.op || r.test.source;
  groups.set(key, [...(groups.get(key) ?? []), r]);
}

const count = (rs: readonly Result[], s: Result['status']) => rs.filter((r) => r.status === s).length;
const rows = [...groups].sort(([a], [b]) => a.localeCompare(b));
const pad = (s: string | number, n: number) => String(s).padEnd(n);
console.log(`${pad('op / source', 22)}${pad('tests', 7)}${pad('passed', 8)}${pad('failed', 8)}skipped`);
for (const [key, rs] of rows) {
  console.log(`${pad(key, 22)}${pad(rs.length, 7)}${pad(count(rs, 'pass'), 8)}${pad(count(rs, 'fail'), 8)}${count(rs, 'skip')}`);
}
const scope = results.filter((r) => r.test.inScope);
const failed = scope.filter((r) => r.status === 'fail');
console.log(`${pad('TOTAL', 22)}${pad(scope.length, 7)}${pad(count(scope, 'pass'), 8)}${pad(failed.length, 8)}${count(scope, 'skip')}`);
const run = scope.length - count(scope, 'skip');
console.log(`pass rate of the tests run: ${(100 * count(scope, 'pass') / Math.max(1, run)).toFixed(1)}%; failures ${(100 * failed.length / scope.length).toFixed(1)}% of the in-scope tests (limit 5%)`);
const node = results.filter((r) => r.test.source === 'node');
console.log(`libonnx node/: ${count(node, 'pass')} of all ${node.length} tests pass (in scope or not)`);
const shared = results.filter((r) => r.test.source === 'onnx-node-tests');
console.log(`../shared/onnx-node-tests: ${count(shared, 'pass')} of all ${shared.length} tests pass`);

const unexpected = failed.filter((r) => !expected.has(r.test.id));
const fixed = [...expected.keys()].filter((id) => results.find((r) => r.test.id === id)?.status !== 'fail');
console.log(`unexpected failures: ${unexpected.length}; listed failures that no longer fail: ${fixed.length}`);
if (!quiet) {
  const show = (title: string, rs: readonly Result[]) => {
    if (!rs.length) return;
    console.log(`\n${title}:`);
    for (const r of rs) console.log(`  ${r.test.id}\t${r.reason}`);
  };
  show('failed (in scope)', failed);
  show('skipped (in scope)', scope.filter((r) => r.status === 'skip'));
  if (fixed.length) console.log(`\nno longer failing: ${fixed.join(', ')}`);
}
console.log(`(${((Date.now() - t0) / 1000).toFixed(1)} s)`);
