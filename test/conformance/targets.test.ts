/**
 * Per-target conformance in the suite: a fixed, stratified share of the tests that pass on the
 * reference target (every SHARE[target]-th test of each op, and of each source's other tests, sorted
 * by id; the first of each always, so every op is represented on every target), run through compile(model, target) on wasm, wgsl and cuda (emulated on the
 * CPU) by targets.ts. `npm run conformance` runs all of them (targets-report.tsv).
 *
 * Each test: pass, or refused at compile time (shown as skipped, with compile()'s reason); a wrong
 * answer or dtype, or any other error, fails, unless listed in targets-known-wrong.tsv (codegen bugs
 * being fixed elsewhere): a listed test must still be wrong or error, so the list cannot go stale.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, discover, runTest, type ConformanceTest } from './runner.js';
import { CUDA_EMU_MISSING, TARGETS, runTestOn, stratified, type ConfTarget } from './targets.js';

/**
 * Every SHARE[target]-th reference-passing test per op. Measured on the shared 2-core machine (cold
 * g++ cache): wasm all 1193 tests 4-10 s; wgsl all 1193 15-30 s (one Dawn device for the file);
 * emulated cuda 65 tests (48 that compile: one g++ build each, cached by source) 59-147 s.
 * wgsl runs every 3rd here (CI time); CNNC_SLOW=1 (npm run test:all) runs all of them, as does
 * `npm run conformance` (every target, every test).
 */
const SHARE: Record<ConfTarget, number> = { wasm: 1, wgsl: process.env.CNNC_SLOW === '1' ? 1 : 3, cuda: 40 };

const refPass = discover().filter((t) => runTest(t).status === 'pass');
const shares = Object.fromEntries(TARGETS.map((t) => [t, stratified(refPass, SHARE[t])])) as Record<ConfTarget, ConformanceTest[]>;

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

it(`lists known-wrong tests of the target's share only (${TARGETS.map((t) => `${t}: ${shares[t].length} tests, every ${SHARE[t]}-th per op`).join('; ')}), each with a reason`, () => {
  for (const [key, reason] of known) {
    const [target, id] = key.split(' ');
    expect((TARGETS as readonly string[]).includes(target), key).toBe(true);
    expect(shares[target as ConfTarget].some((t) => t.id === id), `${id} is not in ${target}'s share`).toBe(true);
    expect(reason.length, `${key} has no reason`).toBeGreaterThan(10);
  }
});

for (const target of TARGETS) {
  const share = SHARE[target] > 1 ? `: every ${SHARE[target]}th test of each op, for CI time; npm run conformance runs all` : '';
  const title = target === 'cuda' ? `cuda (emulated on the CPU${share}${CUDA_EMU_MISSING ? `; SKIPPED: ${CUDA_EMU_MISSING}` : ''})` : `${target}${share && ` (${share.slice(2)}, as does CNNC_SLOW=1)`}`;
  describe.skipIf(target === 'cuda' && !!CUDA_EMU_MISSING)(`conformance on ${title}`, () => {
    for (const test of shares[target]) {
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
