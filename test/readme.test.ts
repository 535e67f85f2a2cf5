/**
 * README's examples work as written: the library block runs (imports mapped from the package name to
 * this checkout) and its logits equal the reference interpreter's; every CLI line exits 0.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { interpret, Model, tensor, toF64 } from '../index.js';

const ROOT = resolve(__dirname, '..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** The fenced block that follows `<!-- example:NAME`. */
function block(name: string): string {
  const at = README.indexOf(`<!-- example:${name}`);
  const m = /```\w*\n([\s\S]*?)```/.exec(README.slice(at));
  if (at < 0 || !m) throw new Error(`README has no example '${name}'`);
  return m[1];
}

describe('README examples', () => {
  it('the library example runs and prints the reference interpreter\'s logits', () => {
    const code = block('api')
      .replace("from 'cnnc/runtime'", `from '${join(ROOT, 'dist/runtime/index.js')}'`)
      .replace("from 'cnnc'", `from '${join(ROOT, 'dist/index.js')}'`)
      .replace('console.log(', 'console.log(JSON.stringify(Array.from(')
      .replace('.output.data);', '.output.data)));');
    const file = join(mkdtempSync(join(tmpdir(), 'cnnc-readme-')), 'api.mjs');
    writeFileSync(file, code);
    const r = spawnSync(process.execPath, [file], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.status).toBe(0);
    const got: number[] = JSON.parse(r.stdout.trim().split('\n').pop()!);
    // The same model, built the same way, through the reference interpreter.
    const m = new Model('tiny', { seed: 0 });
    let x = m.input([1, 3, 32, 32]);
    x = m.relu(m.batchNorm2d(m.conv2d(x, 16, 3, { padding: 1 })));
    m.output(m.linear(m.flatten(m.adaptiveAvgPool2d(x, 1)), 10));
    const want = toF64(interpret(m.build(), { input: tensor('f32', [1, 3, 32, 32], new Float32Array(3072).fill(0.5)) }).output);
    expect(got).toHaveLength(10);
    const scale = Math.max(...want.map(Math.abs));
    got.forEach((v, i) => expect(Math.abs(v - want[i])).toBeLessThanOrEqual(1e-4 * scale));
  });

  it.skipIf(!existsSync(join(ROOT, '../shared/models/mobilenet_v2')))('every command-line example exits 0', () => {
    const lines = block('cli').split('\n').map((l) => l.replace(/\s+#.*$/, '').trim()).filter(Boolean);
    expect(lines.length).toBeGreaterThanOrEqual(7);
    for (const line of lines) {
      const args = line.split(/\s+/).slice(1);
      const r = spawnSync(process.execPath, [join(ROOT, 'bin/cnnc.js'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 600_000 });
      expect(r.status, `${line}\n${r.stderr}`).toBe(0);
      expect(r.stdout.length).toBeGreaterThan(0);
    }
  });
});
