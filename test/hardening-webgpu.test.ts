/**
 * Finding 11 on WebGPU (Dawn in Node; llvmpipe where there is no GPU): concurrent run() calls are
 * queued and each gets its own right outputs; dispose() frees the buffers, later runs are a typed
 * error; RSS over 60 load/run/dispose cycles of LeNet-5 stays within a bound.
 */
import { describe, expect, it } from 'vitest';
import { compile } from '../index.js';
import { zoo } from '../models/index.js';
import { load } from '../runtime/index.js';
import { randT, relErr } from './wgsl-harness.js';
import { interpret } from '../ir/interpreter.js';

describe('wgsl sessions: queued runs, dispose, no leak', () => {
  it('20 concurrent runs are correct; dispose → BAD_INPUT on later runs; 60 load/run/dispose cycles keep RSS within 32 MiB (was ~2.5 MiB per cycle before pipelines were reused)', async () => {
    const g = zoo('lenet5');
    const bytes = (await compile(g, 'wgsl')).save();
    const s = await load(bytes);
    const xs = Array.from({ length: 20 }, (_, k) => ({ input: randT([1, 1, 32, 32], k + 1) }));
    const outs = await Promise.all(xs.map((x) => s.run(x)));
    outs.forEach((o, k) => expect(relErr(interpret(g, xs[k]), o)).toBeLessThan(1e-4));
    s.dispose();
    expect(await s.run(xs[0]).then(() => 'ok', (e) => e.code)).toBe('BAD_INPUT');

    const cycle = async () => { using t = await load(bytes); await t.run(xs[0]); };
    for (let i = 0; i < 5; i++) await cycle();
    const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
    gc();
    const before = process.memoryUsage().rss;
    for (let i = 0; i < 60; i++) await cycle();
    gc();
    const grown = process.memoryUsage().rss - before;
    console.log(`wgsl RSS growth over 60 cycles: ${(grown / 2 ** 20).toFixed(1)} MiB`);
    expect(grown, `RSS grew ${(grown / 2 ** 20).toFixed(1)} MiB over 60 cycles`).toBeLessThan(32 * 2 ** 20);
  });
});
