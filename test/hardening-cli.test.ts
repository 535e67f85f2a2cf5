/**
 * Findings 8 and 13 (CLI): output paths checked before any work (IO_ERROR naming the path and the
 * reason), write failures typed (a full disk), `--print-after` with an unknown pass refused like
 * `--disable`; each a one-line error, exit 1, never "internal error".
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkOutputPath, writeOutput } from '../cli/output.js';
import { errorOf } from './op-harness.js';

const ROOT = resolve(__dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'cnnc-out-'));
const root = process.getuid?.() === 0;

function cnnc(...args: string[]) {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/cnnc.js'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('output paths (finding 8)', () => {
  mkdirSync(join(dir, 'adir'));
  mkdirSync(join(dir, 'locked'));
  chmodSync(join(dir, 'locked'), 0o500);
  writeFileSync(join(dir, 'file'), 'x');

  const cases: [string, string, RegExp][] = [
    ['a missing folder', join(dir, 'nope', 'm.cnnc'), /its folder '.*nope' does not exist/],
    ['a folder', join(dir, 'adir'), /it is a folder/],
    ['a path through a file', join(dir, 'file', 'm.cnnc'), /is not a folder/],
  ];
  if (!root) cases.push(['an unwritable folder', join(dir, 'locked', 'm.cnnc'), /is not writable/]);
  for (const [what, file, reason] of cases) {
    it(`${what} → IO_ERROR naming the path and the reason`, () => {
      const e = errorOf(() => checkOutputPath(file));
      expect(e.code).toBe('IO_ERROR');
      expect(e.message).toContain(`cannot write '${file}'`);
      expect(e.message).toMatch(reason);
    });
  }

  it.skipIf(!existsSync('/dev/full'))('a full disk is IO_ERROR "the disk is full"', () => {
    const e = errorOf(() => writeOutput('/dev/full', new Uint8Array(16)));
    expect(e.message).toBe("IO_ERROR: cannot write '/dev/full': the disk is full");
  });

  it('every command that writes checks the path before loading the model: one line, exit 1, no internal error', () => {
    const out = join(dir, 'nope', 'x');
    for (const args of [['compile', 'no-such-model.onnx', '-o', out], ['opt', 'no-such-model.onnx', '-o', out], ['viz', 'no-such-model.onnx', '-o', out]]) {
      const r = cnnc(...args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.err.trim()).toBe(`cnnc: IO_ERROR: cannot write '${out}': its folder '${join(dir, 'nope')}' does not exist`);
    }
    const full = cnnc('compile', 'zoo:lenet5', '-o', '/dev/full');
    if (existsSync('/dev/full')) { // after the compile (progress lines on stderr first): the last line is the typed error
      expect(full.code).toBe(1);
      expect(full.err.trim().split(/[\r\n]+/).pop()).toBe("cnnc: IO_ERROR: cannot write '/dev/full': the disk is full");
    }
  });

  it('--print-after with an unknown pass is an error, like --disable (finding 13)', () => {
    const r = cnnc('compile', 'zoo:lenet5', '--print-after', 'no-such-pass', '-o', join(dir, 'l.cnnc'));
    expect(r.code).toBe(1);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/--print-after: unknown pass 'no-such-pass'/);
  });
});
