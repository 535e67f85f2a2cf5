/**
 * The main job (README's first command runs examples/demo.ts) and examples/node, run as a user runs
 * them: plain node on the built files, output checked for values.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(__dirname, '..');
const LENET = resolve(ROOT, '../shared/models/lenet5/model.onnx');

function node(...args: string[]) {
  return spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', timeout: 600_000 });
}

describe('examples', () => {
  it('the demo prints both summaries and a compiled run within 1e-4 of the reference', () => {
    const r = node(join(ROOT, 'dist/examples/demo.js'));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('Total params: 61,706');
    expect(r.stdout).toContain('Total params: 11,689,512');
    const errs = [...r.stdout.matchAll(/max \|wasm − reference\| \/ max \|reference\| = ([\d.e+-]+)/g)].map((m) => Number(m[1]));
    expect(errs).toHaveLength(2);
    for (const e of errs) expect(e).toBeLessThan(1e-4);
    expect([...r.stdout.matchAll(/class\s+\d+\s+-?[\d.]+/g)]).toHaveLength(10);
  });

  it.skipIf(!existsSync(LENET))('examples/node compiles lenet5.onnx, runs it in the runtime alone, matches PyTorch', () => {
    const r = node(join(ROOT, 'dist/examples/node/compile-onnx.js'), LENET);
    expect(r.status, r.stderr).toBe(0);
    const err = Number(/max \|cnnc − PyTorch\| \/ max \|PyTorch\| = ([\d.e+-]+)/.exec(r.stdout)![1]);
    expect(err).toBeLessThan(1e-4);
  });
});
