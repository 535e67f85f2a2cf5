/**
 * The CLI as an app developer meets it (issue 19): compile's default output name, errors in the order
 * a user fixes them (unknown flag, bad -O, missing file, fixed batch), --fp16 on wasm, --version,
 * run --expect against a reference tensor (.pb and .npy; non-zero over the tolerance), progress lines
 * with elapsed time per pass and per WebGPU pipeline, and summary titled by the file.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeNpy } from '../cli/npy.js';
import { Progress } from '../cli/progress.js';
import { defaultOutput } from '../cli/util.js';
import { readTensorProto } from '../frontends/onnx/import.js';
import { fromF64, toF64 } from '../runtime/tensor.js';

const ROOT = resolve(__dirname, '..');
const LENET = join(ROOT, '../shared/models/lenet5');
const dir = mkdtempSync(join(tmpdir(), 'cnnc-cli-app-'));

function cnnc(...args: string[]) {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/cnnc.js'), ...args], { cwd: dir, encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('cnnc compile: -o defaults, and errors in the order a user fixes them', () => {
  it('names the artifact <model>.<target>.cnnc in the current folder', () => {
    expect(defaultOutput('zoo:lenet5', 'wasm')).toBe('lenet5.wasm.cnnc');
    expect(defaultOutput('models/resnet18.onnx', 'wgsl')).toBe('resnet18.wgsl.cnnc');
    expect(defaultOutput('../shared/models/mobilenet_v2/model.onnx', 'wasm')).toBe('mobilenet_v2.wasm.cnnc');
    const r = cnnc('compile', 'zoo:lenet5', '--progress', 'none');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('→ lenet5.wasm.cnnc');
    expect(readFileSync(join(dir, 'lenet5.wasm.cnnc')).subarray(0, 4).toString()).toBe('CNNC');
  });

  const cases: [string, string[], RegExp][] = [
    ['a missing model file', ['compile', 'nope.onnx'], /no such file 'nope.onnx'/],
    ['an unknown flag', ['compile', 'zoo:lenet5', '--bogus'], /unknown option '--bogus'/],
    ['a bad level', ['compile', 'zoo:lenet5', '-O7'], /unknown optimization level '-O7': use -O0, -O1, -O2 or -O3/],
    ['a bad level before a missing file', ['compile', 'nope.onnx', '-O7'], /unknown optimization level '-O7'/],
    ['an unknown progress mode', ['compile', 'zoo:lenet5', '--progress', 'loud'], /argument 'loud' is invalid/],
  ];
  for (const [what, args, msg] of cases) {
    it(`${what}: says so, exits non-zero, no stack`, () => {
      const r = cnnc(...args);
      expect(r.code).not.toBe(0);
      expect(r.err).toMatch(msg);
      expect(r.err).not.toMatch(/required option|\n\s+at /);
    });
  }

  it.skipIf(!existsSync(LENET))('--batch on a model with a fixed batch is an error naming the input, not a silent no-op', () => {
    const r = cnnc('compile', join(LENET, 'model.onnx'), '--batch', '4');
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/--batch 4: .* has a fixed batch of 1 \(input 'input' is \[1, 1, 32, 32\]\)/);
    expect(cnnc('summary', join(LENET, 'model.onnx'), '--batch', '2').err).toMatch(/fixed batch of 1/);
    // a symbolic batch (the zoo models build it in) still takes --batch
    const ok = cnnc('summary', 'zoo:lenet5', '--batch', '4', '--json');
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out).rows[0].outputShape[0]).toBe(4);
  });

  it('--version prints the package version', () => {
    const r = cnnc('--version');
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
  });

  it('--progress plain prints every pass with its elapsed time and node count; none prints nothing', () => {
    const r = cnnc('compile', 'zoo:lenet5', '-o', 'p.cnnc', '--progress', 'plain');
    expect(r.code).toBe(0);
    const passLines = r.err.split('\n').filter((l) => /^cnnc \[\s*[\d.]+s\]\s+optimizing \(\d+ passes\) \d+\/\d+: [\w-]+ \(\d+ nodes\) \(\d+ ms\)$/.test(l));
    const total = Number(/optimizing \((\d+) passes\)/.exec(r.err)![1]);
    expect(passLines).toHaveLength(total);
    const reported = r.out.split('\n').filter((l) => /^\s{2}[\w-]+\s+\d+ → \d+\s+nodes/.test(l));
    expect(reported).toHaveLength(total);
    expect(r.err).toMatch(/generating wasm kernels/);
    // the code generator's load is its own phase, before the first pass (it used to be counted in it)
    expect(r.err.indexOf('loading the wasm code generator')).toBeGreaterThan(-1);
    expect(r.err.indexOf('loading the wasm code generator')).toBeLessThan(r.err.indexOf('optimizing'));
    // every kernel of both builds (SIMD128 and relaxed SIMD), with its time; then the stages after them
    const kernels = Number(/kernels: (\d+)/.exec(r.out)![1]);
    const kernelLines = r.err.split('\n').filter((l) => /generating wasm kernels (\d+)\/(\d+): \w+ \[(simd128|relaxed-simd)\] \(\d+ ms\)$/.test(l));
    expect(kernelLines).toHaveLength(2 * kernels);
    expect(kernelLines.filter((l) => l.includes('[relaxed-simd]'))).toHaveLength(kernels);
    expect(r.err).toMatch(/generating wasm kernels: encode \(\d+ ms\)/);
    expect(cnnc('compile', 'zoo:lenet5', '-o', 'q.cnnc', '--progress', 'none').err).toBe('');
  });
});

describe.skipIf(!existsSync(LENET))('cnnc run --expect', () => {
  const input = join(LENET, 'test_data_set_0/input_0.pb');
  const want = join(LENET, 'test_data_set_0/output_0.pb');

  it('prints the max errors and exits 0 within the tolerance (.pb and .npy)', () => {
    expect(cnnc('compile', join(LENET, 'model.onnx'), '-o', 'lenet.cnnc', '--progress', 'none').code).toBe(0);
    const r = cnnc('run', 'lenet.cnnc', '-i', input, '--expect', want, '--progress', 'none');
    expect(r.code, r.err).toBe(0);
    const m = /max abs error ([\d.e+-]+), max \|expected\| ([\d.e+-]+), relative ([\d.e+-]+) \(tolerance 0.0001\)/.exec(r.out);
    expect(m).not.toBeNull();
    expect(Number(m![3])).toBeLessThanOrEqual(1e-4);
    const npy = join(dir, 'want.npy');
    writeFileSync(npy, writeNpy(readTensorProto(readFileSync(want))));
    expect(cnnc('run', 'lenet.cnnc', '-i', input, '--expect', npy).code).toBe(0);
  });

  it('--threads N runs the wasm artifact on N threads, says so, and gives the same answer (1, 2 and 3)', () => {
    expect(cnnc('compile', join(LENET, 'model.onnx'), '-o', 'lenet.cnnc', '--progress', 'none').code).toBe(0);
    for (const n of [1, 2, 3]) {
      const r = cnnc('run', 'lenet.cnnc', '-i', input, '--expect', want, '--threads', String(n), '--progress', 'none');
      expect(r.code, r.err).toBe(0);
      expect(r.out).toContain(`threads: ${n}`);
    }
    expect(cnnc('run', 'lenet.cnnc', '--threads', '0').err).toMatch(/BAD_ATTRIBUTE: '0' is not a positive integer/);
  });

  it('--fp16 --target wasm: f16 weights (half the weight bytes), outputs within the fp16 tolerance 1e-2 of PyTorch', () => {
    const f32 = cnnc('compile', join(LENET, 'model.onnx'), '-t', 'wasm', '-o', 'lenet.cnnc', '--progress', 'none');
    const r = cnnc('compile', join(LENET, 'model.onnx'), '--fp16', '--target', 'wasm', '-o', 'lenet16.cnnc', '--progress', 'none');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('(target wasm, O3, fp16 weights)');
    const weights = (out: string) => /weights: ([\d.]+) (B|KiB|MiB)/.exec(out)!.slice(1);
    const [w16, unit16] = weights(r.out), [w32, unit32] = weights(f32.out);
    expect(unit16).toBe(unit32);
    expect(Number(w16) / Number(w32)).toBeCloseTo(0.5, 2);
    const run = cnnc('run', 'lenet16.cnnc', '-i', input, '--expect', want, '--tolerance', '1e-2', '--progress', 'none');
    expect(run.code, run.err).toBe(0);
    const m = /max abs error ([\d.e+-]+), max \|expected\| ([\d.e+-]+), relative ([\d.e+-]+) \(tolerance 0.01\)/.exec(run.out);
    expect(m).not.toBeNull();
    console.log(`cnnc run lenet16.cnnc --expect: ${m![0]}`);
    expect(Number(m![3])).toBeLessThanOrEqual(1e-2);
    expect(Number(m![3])).toBeGreaterThan(0); // the weights really were rounded
  });

  it('exits non-zero over the tolerance and names the output; a wrong shape and a missing file are errors before any run', () => {
    const t = readTensorProto(readFileSync(want));
    const v = toF64(t);
    v[3] += 0.01;
    const off = join(dir, 'off.npy');
    writeFileSync(off, writeNpy(fromF64('f32', t.shape, v)));
    const r = cnnc('run', 'lenet.cnnc', '-i', input, '--expect', off);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/output 'output' differs from .*off\.npy: relative error .* over the tolerance 0\.0001 \(worst at index 3\)/);
    expect(cnnc('run', 'lenet.cnnc', '-i', input, '--expect', off, '--tolerance', '0.5').code).toBe(0);
    const wrong = join(dir, 'wrong.npy');
    writeFileSync(wrong, writeNpy(fromF64('f32', [1, 5], [1, 2, 3, 4, 5])));
    expect(cnnc('run', 'lenet.cnnc', '-i', input, '--expect', wrong).err).toMatch(/SHAPE_MISMATCH: output 'output' is \[1,10\], .* holds \[1,5\]/);
    expect(cnnc('run', 'lenet.cnnc', '--expect', 'nope.npy').err).toMatch(/cannot read expected output file 'nope.npy'/);
  });
});

describe('cnnc summary and run progress', () => {
  it.skipIf(!existsSync(LENET))('summary of an ONNX file is titled by the file, not the exporter graph name', () => {
    const file = join(LENET, 'model.onnx');
    const r = cnnc('summary', file);
    expect(r.code).toBe(0);
    expect(r.out.split('\n')[0]).toBe(`Model: ${file}`);
  });

  it('run of a wgsl artifact reports each WebGPU pipeline it builds (or NO_DEVICE where there is no adapter)', () => {
    expect(cnnc('compile', 'zoo:lenet5', '-t', 'wgsl', '--progress', 'none').code).toBe(0);
    const r = cnnc('run', 'lenet5.wgsl.cnnc', '--progress', 'plain');
    if (r.code !== 0) {
      expect(r.err).toMatch(/NO_DEVICE/);
      return;
    }
    const lines = r.err.split('\n').filter((l) => /building the webgpu session \d+\/\d+: \S+ \(\d+ ms\)$/.test(l));
    expect(lines.length).toBeGreaterThan(0);
    const [, last, total] = /(\d+)\/(\d+)/.exec(lines.at(-1)!)!;
    expect(last).toBe(total);
  });
});

describe('Progress', () => {
  const sink = (isTTY: boolean) => { const out: string[] = []; return { out, stream: { isTTY, write: (x: string) => out.push(x) } }; };

  it('on a terminal: one bar redrawn in place with the elapsed time and the current step, then a newline', () => {
    const { out, stream } = sink(true);
    const p = new Progress('auto', stream);
    p.phase('optimizing (2 passes)', 0.5);
    p.step('cse (10 nodes)', 1, 2);
    p.done();
    expect(out.slice(0, 2).every((l) => l.startsWith('\r['))).toBe(true);
    expect(out[0]).toMatch(/^\r\[#{12}\.{12}\]\s+0\.\ds optimizing \(2 passes\)$/);
    expect(out[1]).toMatch(/optimizing \(2 passes\) 1\/2: cse \(10 nodes\)$/);
    expect(out.at(-1)).toBe('\n');
  });

  it('elsewhere: a line per phase, steps only when slow (auto) or always (plain)', () => {
    const auto = sink(false);
    const p = new Progress('auto', auto.stream, 1e9); // nothing is slow
    p.phase('loading', 0);
    p.step('fast', 1, 1);
    p.done();
    expect(auto.out).toEqual([expect.stringMatching(/^cnnc \[\s+0\.\ds\] loading\n$/)]);
    const plain = sink(false);
    const q = new Progress('plain', plain.stream, 1e9);
    q.phase('loading', 0);
    q.step('fast', 1, 1);
    expect(plain.out[1]).toMatch(/^cnnc \[\s+0\.\ds\]   loading 1\/1: fast \(\d+ ms\)\n$/);
  });

  it('steps move the bar across their phase; notes do not; a time given by the library is the one shown', () => {
    const { out, stream } = sink(true);
    const p = new Progress('auto', stream);
    p.phase('generating wasm kernels', 0.5, 1);
    p.step('conv [simd128]', 1, 4, 12);
    expect(out.at(-1)).toMatch(/^\r\[#{15}\.{9}\].* generating wasm kernels 1\/4: conv \[simd128\]$/);
    p.note('encode', 5);
    expect(out.at(-1)).toMatch(/^\r\[#{15}\.{9}\].* generating wasm kernels: encode *$/); // padded over the longer line before
    p.step('gemm [simd128]', 4, 4);
    expect(out.at(-1)).toMatch(/^\r\[#{24}\]/);
    const plain = sink(false);
    const q = new Progress('plain', plain.stream);
    q.phase('generating wasm kernels', 0.4, 0.9);
    q.step('conv [relaxed-simd]', 2, 2, 1234.4);
    q.note('module [simd128]', 7);
    expect(plain.out.slice(1)).toEqual([
      expect.stringMatching(/ {3}generating wasm kernels 2\/2: conv \[relaxed-simd\] \(1234 ms\)\n$/),
      expect.stringMatching(/ {3}generating wasm kernels: module \[simd128\] \(7 ms\)\n$/),
    ]);
  });
});
