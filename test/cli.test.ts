/**
 * The real `cnnc` process on a zoo model and on a ../shared/models model: each command's output
 * is checked for values (against the reference interpreter, onnxruntime-node or the summary),
 * and bad invocations give a one-line message, a non-zero exit and no stack trace.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { onnx } from 'onnx-proto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { interpret } from '../ir/interpreter.js';
import { zoo } from '../models/index.js';
import { loadOnnxFile, readTensorProto } from '../frontends/onnx/import.js';
import { randomInput, topK } from '../cli/util.js';
import { toF64 } from '../runtime/tensor.js';
import { readNpy } from '../cli/npy.js';

const ROOT = resolve(__dirname, '..');
const SHARED = resolve(ROOT, '../shared/models');
const LENET_ONNX = join(SHARED, 'lenet5/model.onnx');
const dir = mkdtempSync(join(tmpdir(), 'cnnc-cli-'));

function cnnc(...args: string[]) {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/cnnc.js'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** A tiny ONNX model with an op cnnc does not know. */
function unsupportedModel(): string {
  const vi = (name: string) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 1 }, { dimValue: 4 }, { dimValue: 4 }] } } } });
  const bytes = onnx.ModelProto.encode(onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    graph: { name: 'g', node: [{ opType: 'NonMaxSuppression', input: ['x', 'x'], output: ['y'], name: 'nms0' }], input: [vi('x')], output: [vi('y')] },
  })).finish();
  const file = join(dir, 'unsupported.onnx');
  writeFileSync(file, bytes);
  return file;
}

/** Parses the "class  i  v" lines that `cnnc run` prints. */
function printedTop(out: string): [number, number][] {
  return [...out.matchAll(/class\s+(\d+)\s+(-?[\d.]+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
}

describe('cnnc zoo and summary', () => {
  it('zoo lists the embedded models with their parameter counts', () => {
    const r = cnnc('zoo');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/zoo:lenet5\s+61,706 params/);
    expect(r.out).toMatch(/zoo:resnet18\s+11,689,512 params/);
  });

  it('summary of zoo:lenet5 gives the LeNet-5 parameter counts and receptive fields', () => {
    const r = cnnc('summary', 'zoo:lenet5', '--json');
    expect(r.code).toBe(0);
    const s = JSON.parse(r.out);
    expect(s.totalParams).toBe(61706);
    const params = s.rows.filter((row: { params: number }) => row.params > 0).map((row: { params: number }) => row.params);
    expect(params).toEqual([156, 2416, 48120, 10164, 850]);
    const text = cnnc('summary', 'zoo:lenet5');
    expect(text.out).toContain('Total params: 61,706');
  });

  it.skipIf(!existsSync(LENET_ONNX))('summary of the exported lenet5.onnx counts the same 61,706 parameters', () => {
    const r = cnnc('summary', LENET_ONNX);
    expect(r.code).toBe(0);
    expect(r.out).toContain('Total params: 61,706');
  });
});

describe('cnnc compile and run', () => {
  it('compiles zoo:lenet5 for wasm and runs it: top-5 equals the reference interpreter on the same seeded input', () => {
    const art = join(dir, 'lenet5.cnnc');
    const c = cnnc('compile', 'zoo:lenet5', '--target', 'wasm', '-O3', '-o', art);
    expect(c.code).toBe(0);
    expect(c.out).toMatch(/passes:/);
    expect(c.out).toMatch(/arena: .*weights: .*kernels: \d+/);
    expect(c.out).toMatch(/fusion: (no elementwise groups formed|\d+ elementwise ops in \d+ kernels; kernels \d+ → \d+)/);
    const r = cnnc('run', art, '--input', 'random', '--output', join(dir, 'out.npy'));
    expect(r.code).toBe(0);
    expect(r.out).toContain('output output: f32[1, 10]');
    const g = zoo('lenet5');
    const want = interpret(g, { input: randomInput('f32', [1, 1, 32, 32]) }).output;
    const top = printedTop(r.out);
    expect(top.map(([i]) => i)).toEqual(topK(want, 5).map(([i]) => i));
    const got = toF64(readNpy(readFileSync(join(dir, 'out.npy'))));
    const ref = toF64(want);
    const scale = Math.max(...ref.map(Math.abs));
    for (let i = 0; i < ref.length; i++) expect(Math.abs(got[i] - ref[i])).toBeLessThanOrEqual(1e-4 * scale);
  });

  it.skipIf(!existsSync(LENET_ONNX))('compiles lenet5.onnx and runs its test input (.pb): output equals PyTorch\'s output_0.pb', () => {
    const art = join(dir, 'lenet5-onnx.cnnc');
    expect(cnnc('compile', LENET_ONNX, '--target', 'wasm', '-o', art).code).toBe(0);
    const r = cnnc('run', art, '--input', join(SHARED, 'lenet5/test_data_set_0/input_0.pb'), '--output', join(dir, 'o.npy'));
    expect(r.code).toBe(0);
    const want = toF64(readTensorProto(readFileSync(join(SHARED, 'lenet5/test_data_set_0/output_0.pb'))));
    const got = toF64(readNpy(readFileSync(join(dir, 'o.npy'))));
    const scale = Math.max(...want.map(Math.abs));
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(1e-4 * scale);
    expect(printedTop(r.out)[0][0]).toBe(topK(readTensorProto(readFileSync(join(SHARED, 'lenet5/test_data_set_0/output_0.pb'))), 1)[0][0]);
  });
});

describe('cnnc passes and the target registry', () => {
  it("passes prints the pipeline with each target's defaults, and the level, layout and fp16 given", () => {
    const wasm = cnnc('passes', '-t', 'wasm');
    expect(wasm.code).toBe(0);
    expect(wasm.out).toMatch(/^pipeline for wasm \(-O3, NHWC\):/);
    expect(wasm.out).toMatch(/\d+\. layout-nhwc /);
    expect(cnnc('passes', '-t', 'wgsl').out).not.toContain('layout-nhwc');
    expect(cnnc('passes', '-t', 'reference').out.trim()).toBe('pipeline for reference (-O0, NCHW):');
    const o1 = cnnc('passes', '-t', 'cuda', '-O1', '--fp16');
    expect(o1.out.trim()).toMatch(/^pipeline for cuda \(-O1, NCHW, fp16\):\n +1\. fold-constants .*\n +2\. simplify .*\n +3\. dce .*$/);
  });

  it("--target's choices and help come from the registry; an unknown target is refused", () => {
    const help = cnnc('compile', '--help');
    for (const t of ['wasm', 'wgsl', 'cuda']) expect(help.out).toContain(`"${t}"`);
    expect(help.out).toContain('WebAssembly SIMD');
    expect(help.out).not.toContain('"reference"');
    const bad = cnnc('compile', 'zoo:lenet5', '-t', 'tpu', '-o', join(dir, 'x.cnnc'));
    expect(bad.code).not.toBe(0);
    expect(bad.err).toMatch(/'tpu' is invalid/);
  });
});

describe('cnnc viz and opt', () => {
  it('viz writes valid SVG with one node element per graph node, before and after -O3', () => {
    for (const after of [[], ['--after', 'O3']]) {
      const svg = join(dir, `g${after.length}.svg`);
      const r = cnnc('viz', 'zoo:resnet18', ...after, '-o', svg);
      expect(r.code).toBe(0);
      const n = Number(/(\d+) nodes/.exec(r.out)![1]);
      const text = readFileSync(svg, 'utf8');
      expect(text.startsWith('<svg')).toBe(true);
      expect(text.trimEnd().endsWith('</svg>')).toBe(true);
      expect(text.match(/<g class="node/g)!.length).toBe(n);
      // Well formed: every opened element is closed (self-closing ones aside).
      const opens = text.match(/<(?!\/)(?![^>]*\/>)[a-zA-Z][^>]*>/g)!.length;
      const closes = text.match(/<\/[a-zA-Z]+>/g)!.length;
      expect(opens).toBe(closes);
      if (after.length) expect(text).toContain('+residual');
    }
  });

  it.skipIf(!existsSync(LENET_ONNX))('viz draws the shared squeezenet1_1.onnx with one node element per node', () => {
    const svg = join(dir, 'sq.svg');
    const r = cnnc('viz', join(SHARED, 'squeezenet1_1/model.onnx'), '-o', svg);
    expect(r.code).toBe(0);
    const n = Number(/(\d+) nodes/.exec(r.out)![1]);
    expect(n).toBe(loadOnnxFile(join(SHARED, 'squeezenet1_1/model.onnx')).nodes.length);
    expect(readFileSync(svg, 'utf8').match(/<g class="node/g)!.length).toBe(n);
  });

  it('opt writes zoo:lenet5 optimized as ONNX that onnxruntime-node runs to the reference output', async () => {
    const out = join(dir, 'zoo-lenet5-opt.onnx');
    expect(cnnc('opt', 'zoo:lenet5', '-o', out).code).toBe(0);
    const x = randomInput('f32', [1, 1, 32, 32]);
    const want = toF64(interpret(zoo('lenet5'), { input: x }).output);
    const session = await ort.InferenceSession.create(readFileSync(out));
    const res = await session.run({ input: new ort.Tensor('float32', x.data as Float32Array, [1, 1, 32, 32]) });
    const got = res[session.outputNames[0]].data as Float32Array;
    const scale = Math.max(...want.map(Math.abs));
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(1e-4 * scale);
  });

  it.skipIf(!existsSync(LENET_ONNX))('opt writes an optimized ONNX model that onnxruntime-node runs to the reference output', async () => {
    const out = join(dir, 'lenet5-opt.onnx');
    const r = cnnc('opt', LENET_ONNX, '-O3', '-o', out);
    expect(r.code).toBe(0);
    const g = loadOnnxFile(LENET_ONNX);
    const x = readTensorProto(readFileSync(join(SHARED, 'lenet5/test_data_set_0/input_0.pb')));
    const want = toF64(interpret(g, { input: x }).output);
    const session = await ort.InferenceSession.create(readFileSync(out));
    const res = await session.run({ input: new ort.Tensor('float32', x.data as Float32Array, [...x.shape]) });
    const got = res[session.outputNames[0]].data as Float32Array;
    const scale = Math.max(...want.map(Math.abs));
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(1e-4 * scale);
  });
});

describe('cnnc bench', () => {
  for (const model of ['zoo:lenet5', LENET_ONNX]) {
    it.skipIf(!model.startsWith('zoo:') && !existsSync(model))(`prints a cnnc median and the onnxruntime-node comparison (${model.startsWith('zoo:') ? model : 'lenet5.onnx'})`, () => {
      const r = cnnc('bench', model, '--target', 'wasm', '-n', '5', '--warmup', '2');
      expect(r.code).toBe(0);
      const ours = Number(/cnnc wasm\s+([\d.]+) ms/.exec(r.out)![1]);
      const theirs = Number(/onnxruntime-node\s+([\d.]+) ms/.exec(r.out)![1]);
      const ratio = Number(/ratio cnnc \/ ort-node: ([\d.]+)/.exec(r.out)![1]);
      expect(ours).toBeGreaterThan(0);
      expect(theirs).toBeGreaterThan(0);
      expect(Math.abs(ratio - ours / theirs) / (ours / theirs)).toBeLessThan(0.01); // printed to 3-4 digits
    });
  }

  it('--threads 2 runs cnnc and onnxruntime-node on two threads each and says so', () => {
    const r = cnnc('bench', 'zoo:lenet5', '--target', 'wasm', '-n', '3', '--warmup', '1', '--threads', '2');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/batch 1, 2 threads, median of 3 runs/);
    expect(Number(/cnnc wasm\s+([\d.]+) ms/.exec(r.out)![1])).toBeGreaterThan(0);
  });
});

describe('cnnc errors are one line with a hint, non-zero, no stack trace', () => {
  const cases: [string, string[], RegExp][] = [
    ['a wrong flag', ['compile', 'zoo:lenet5', '--bogus', '-o', 'x.cnnc'], /unknown option '--bogus'/],
    ['a missing file', ['summary', 'missing.onnx'], /no such file 'missing.onnx'.*zoo:NAME/],
    ['an unknown zoo model', ['summary', 'zoo:nope'], /no zoo model 'nope'.*cnnc zoo/],
    ['a corrupt artifact', ['run', join(ROOT, 'package.json')], /BAD_ARTIFACT/],
    ['an unsupported model', ['summary', unsupportedModel()], /UNKNOWN_OP: .*NonMaxSuppression.*nms0/],
  ];
  for (const [what, args, msg] of cases) {
    it(what, () => {
      const r = cnnc(...args);
      expect(r.code).not.toBe(0);
      expect(r.err).toMatch(msg);
      expect(r.err).not.toMatch(/\n\s+at /);
    });
  }
});
