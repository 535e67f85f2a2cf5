/**
 * Per-target conformance in the suite: a fixed, stratified share of the tests that pass on the
 * reference target (every SHARE-th test of each op, and of each pytorch source, sorted by id; the
 * first of each always), run through compile(model, target) on wasm, wgsl and cuda (emulated on the
 * CPU) by targets.ts. `npm run conformance` runs all of them (targets-report.tsv).
 *
 * Each test: pass, or refused at compile time (shown as skipped, with compile()'s reason); a wrong
 * answer or dtype, or any other error, fails, unless listed in targets-known-wrong.tsv (codegen bugs
 * being fixed elsewhere): a listed test must still be wrong or error, so the list cannot go stale.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, discover, runTest } from './runner.js';
import { CUDA_EMU_MISSING, TARGETS, runTestOn, stratified } from './targets.js';

/** Every SHARE-th reference-passing test per op (measured: see the file's commit message). */
const SHARE = 12;

const share = stratified(discover().filter((t) => runTest(t).status === 'pass'), SHARE);

/** targets-known-wrong.tsv: `target<TAB>source/test_name<TAB>reason`; '#' starts a comment. */
function knownWrong(): Map<string, string> {
  const file = path.join(REPO_ROOT, 'test/conformance/targets-known-wrong.tsv');
  const m = new Map<string, string>();
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim() || line.startsWith('#')) continue;
    const [target, id, reason = ''] = line.split('\t');
    m.set(`${target.trim()} ${id.trim()}`, reason.trim());
  }
  return m;
}
const known = knownWrong();

it(`lists known-wrong tests of the share only (${share.length} tests, every ${SHARE}-th per op), each with a reason`, () => {
  for (const [key, reason] of known) {
    const [target, id] = key.split(' ');
    expect((TARGETS as readonly string[]).includes(target), key).toBe(true);
    expect(share.some((t) => t.id === id), `${id} is not in the share`).toBe(true);
    expect(reason.length, `${key} has no reason`).toBeGreaterThan(10);
  }
});

for (const target of TARGETS) {
  const title = target === 'cuda' ? `cuda (emulated on the CPU${CUDA_EMU_MISSING ? `; SKIPPED: ${CUDA_EMU_MISSING}` : ''})` : target;
  describe.skipIf(target === 'cuda' && !!CUDA_EMU_MISSING)(`conformance on ${title}`, () => {
    for (const test of share) {
      const listed = known.get(`${target} ${test.id}`);
      it(listed ? `${test.id} (KNOWN WRONG: ${listed})` : test.id, async (ctx) => {
        const r = await runTestOn(test, target);
        if (listed !== undefined) {
          expect(['wrong', 'error'], `${test.id} on ${target} is now ${r.status}: remove it from targets-known-wrong.tsv`).toContain(r.status);
          return;
        }
        if (r.status === 'refused') ctx.skip(`refused at compile time: ${r.reason}`);
        expect(r.status, `${test.id} on ${target}: ${r.reason}`).toBe('pass');
      });
    }
  });
}
