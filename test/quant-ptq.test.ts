/**
 * Post-training quantization (cli/quantize.ts) of ../shared/models/lenet5 (random weights, so the
 * measure is agreement with the f32 model, not accuracy): onnxruntime-node runs the written QDQ
 * model and its output is close to the f32 model's; cnnc imports the same file and its reference
 * output matches onnxruntime's within one step of the output quantization, before and after the
 * quantize-qdq pass; `cnnc quantize` writes the file.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { folderCalibration, leadingCount, mseClip, quantizeOnnx, randomCalibration } from '../cli/quantize.js';
import { writeNpy } from '../cli/npy.js';
import { randomInput } from '../cli/util.js';
import { decodeModel, importOnnx } from '../frontends/onnx/import.js';
import { tensorFromProto } from '../frontends/onnx/proto.js';
import { interpret } from '../ir/interpreter.js';
import { quantizeQdq } from '../passes/quantize-qdq.js';
import { toF64, type Tensor } from '../runtime/tensor.js';

const ROOT = resolve(__dirname, '..');
const LENET = join(ROOT, '../shared/models/lenet5/model.onnx');
const f32Bytes = readFileSync(LENET);
// every layer int8 (no leading f32 layers: LeNet's first conv is within the default share)
const int8Bytes = await quantizeOnnx(f32Bytes, { calibration: randomCalibration(f32Bytes, 8), leadingF32Share: 0 });
// every layer's output requantized (the last one's too): the graph output is a DequantizeLinear
const int8AllBytes = await quantizeOnnx(f32Bytes, { calibration: randomCalibration(f32Bytes, 8), outputs: 'all', leadingF32Share: 0 });
const inputs: Tensor[] = [0, 1, 2, 3].map((k) => randomInput('f32', [1, 1, 32, 32], 500 + k));

/** onnxruntime's output; `literal`: graph optimizations off, so Q/DQ run as the spec ops (not fused int8 kernels). */
async function ortRun(bytes: Uint8Array, x: Tensor, literal = false): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(bytes, literal ? { graphOptimizationLevel: 'disabled' } : {});
  const out = await s.run({ [s.inputNames[0]]: new ort.Tensor('float32', x.data as Float32Array, [...x.shape]) });
  return out[s.outputNames[0]].data as Float32Array;
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) { d += a[i] * b[i]; na += a[i] ** 2; nb += b[i] ** 2; }
  return d / Math.sqrt(na * nb);
}

/** The scale of the DequantizeLinear that defines the graph output. */
function outputStep(bytes: Uint8Array): number {
  const g = decodeModel(bytes).graph!;
  const out = g.output![0].name;
  const dq = g.node!.find((n) => n.output![0] === out && n.opType === 'DequantizeLinear');
  const s = g.initializer!.find((t) => t.name === dq!.input![1])!;
  return toF64(tensorFromProto(s, { maxTensorBytes: 1024 }))[0];
}

describe('cnnc quantize (post-training, QDQ)', () => {
  it('writes int8 weights with per-channel scales: the file is ≤ 0.35× the f32 one', () => {
    const g = decodeModel(int8Bytes).graph!;
    const ops = g.node!.map((n) => n.opType);
    expect(ops.filter((o) => o === 'Conv' || o === 'Gemm')).toHaveLength(5);
    expect(ops.filter((o) => o === 'QuantizeLinear').length).toBeGreaterThanOrEqual(5);
    expect(g.initializer!.filter((t) => t.dataType === 1 && (t.dims ?? []).length > 1)).toEqual([]);
    expect(int8Bytes.length).toBeLessThanOrEqual(0.35 * f32Bytes.length);
  });

  it('onnxruntime-node runs the QDQ model; its output is close to the f32 model’s', async () => {
    for (const x of inputs) {
      const a = await ortRun(f32Bytes, x);
      const b = await ortRun(int8Bytes, x);
      expect(cosine(a, b)).toBeGreaterThan(0.97);
    }
  });

  // onnxruntime's optimized session fuses the QDQ groups into its own int8 kernels, whose rounding
  // differs from the spec ops; over lenet5's five layers (with Tanh between) that drifts by several
  // output steps, so the comparison is with the spec ops (graph optimizations off).
  it('cnnc imports it; the reference matches onnxruntime (spec ops) within one output quantization step, also after quantize-qdq', async () => {
    const step = outputStep(int8AllBytes);
    expect(step).toBeGreaterThan(0);
    const g = importOnnx(int8AllBytes);
    const q = quantizeQdq(g);
    expect(q.nodes.filter((n) => n.op === 'QConv' || n.op === 'QGemm').length).toBeGreaterThanOrEqual(2);
    for (const x of inputs) {
      const want = await ortRun(int8AllBytes, x, true);
      for (const graph of [g, q]) {
        const got = toF64(interpret(graph, { [graph.inputs[0]]: x })[graph.outputs[0]]);
        for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(step * 1.0001);
      }
    }
  });

  it('by default the last layer\'s output is not requantized: quantize-qdq makes an int8 Gemm with f32 output, close to onnxruntime', async () => {
    const g = decodeModel(int8Bytes).graph!;
    const out = g.output![0].name;
    expect(g.node!.find((n) => n.output!.includes(out!))!.opType).toBe('Gemm');
    // only the layers' inputs are quantized: one QuantizeLinear per quantized layer
    expect(g.node!.filter((n) => n.opType === 'QuantizeLinear')).toHaveLength(5);
    const q = quantizeQdq(importOnnx(int8Bytes));
    const last = q.nodes.find((n) => n.outputs.includes(q.outputs[0]))!;
    expect([last.op, last.attrs.out_dtype]).toEqual(['QGemm', 'f32']);
    for (const x of inputs) {
      const want = await ortRun(int8Bytes, x, true);
      const got = toF64(interpret(q, { [q.inputs[0]]: x })[q.outputs[0]]);
      const range = Math.max(...want) - Math.min(...want);
      expect(range).toBeGreaterThan(0);
      for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i]), `output ${i}`).toBeLessThanOrEqual(1e-3 * range);
    }
  });

  it('`cnnc quantize --calibrate random:2 -o` writes the model', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'cnnc-quant-')), 'lenet5.int8.onnx');
    const r = spawnSync(process.execPath, [join(ROOT, 'bin/cnnc.js'), 'quantize', LENET, '--calibrate', 'random:2', '-o', out], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/fully quantized, the outputs on the calibration inputs are [\d.]+% off f32/);
    expect(existsSync(out)).toBe(true);
    expect(decodeModel(readFileSync(out)).graph!.node!.some((n) => n.opType === 'QuantizeLinear')).toBe(true);
    const bad = spawnSync(process.execPath, [join(ROOT, 'bin/cnnc.js'), 'quantize', LENET, '--calibrate', 'no-such-dir', '-o', out], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('random:N');
  });

  it('--keep-f32 first,last leaves the first conv and the last gemm in f32; onnxruntime runs it', async () => {
    const kept = await quantizeOnnx(f32Bytes, { calibration: randomCalibration(f32Bytes, 4), keepFloat: ['first', 'last'], leadingF32Share: 0 });
    const g = decodeModel(kept).graph!;
    const weightOf = (op: string, which: 'first' | 'last') => {
      const nodes = g.node!.filter((n) => n.opType === op);
      return nodes[which === 'first' ? 0 : nodes.length - 1].input![1];
    };
    const f32Weights = new Set(g.initializer!.filter((t) => t.dataType === 1 && (t.dims ?? []).length > 1).map((t) => t.name));
    expect(f32Weights.has(weightOf('Conv', 'first'))).toBe(true);
    expect(f32Weights.has(weightOf('Gemm', 'last'))).toBe(true);
    expect(f32Weights.size).toBe(2);
    for (const x of inputs.slice(0, 2)) expect(cosine(await ortRun(f32Bytes, x), await ortRun(kept, x))).toBeGreaterThan(0.97);
  });

  it('leading layers stay f32 within a share of all weights (1.3%: LeNet\'s first conv, 150 of 61706); a bad share is a typed error', async () => {
    expect(leadingCount([10, 20, 30, 940], 0.02)).toBe(1);
    expect(leadingCount([10, 20, 30, 940], 0.03)).toBe(2);
    expect(leadingCount([10, 20, 30, 940], 0.06)).toBe(3);
    expect(leadingCount([10, 20, 30, 940], 0)).toBe(0);
    expect(leadingCount([10, 20, 30, 940], 1)).toBe(4);
    for (const bad of [-0.1, 1.5, Number.NaN]) expect(() => leadingCount([1], bad)).toThrow(expect.objectContaining({ code: 'BAD_ATTRIBUTE' }));
    const def = await quantizeOnnx(f32Bytes, { calibration: randomCalibration(f32Bytes, 2), leadingF32Share: 0.013 });
    const g = decodeModel(def).graph!;
    const f32Weights = g.initializer!.filter((t) => t.dataType === 1 && (t.dims ?? []).length > 1).map((t) => t.name);
    expect(f32Weights).toEqual([g.node!.find((n) => n.opType === 'Conv')!.input![1]]);
    for (const x of inputs.slice(0, 2)) expect(cosine(await ortRun(f32Bytes, x), await ortRun(def, x))).toBeGreaterThan(0.97);
  });

  it('auto (default): fully quantized where the outputs on the calibration inputs stay within the error bound, else the 1.3% lead in f32; it says which; a bad bound is a typed error', async () => {
    const calibration = randomCalibration(f32Bytes, 3);
    const lines: string[] = [];
    const def = await quantizeOnnx(f32Bytes, { calibration, log: (l) => lines.push(l) });
    const err = Number(/are ([\d.]+)% off/.exec(lines[0])![1]) / 100;
    expect(err).toBeGreaterThan(0);
    const none = await quantizeOnnx(f32Bytes, { calibration, leadingF32Share: 0 }), lead = await quantizeOnnx(f32Bytes, { calibration, leadingF32Share: 0.013 });
    expect(Buffer.from(none).equals(Buffer.from(lead))).toBe(false);
    expect(Buffer.from(def).equals(Buffer.from(err <= 0.02 ? none : lead)), lines[0]).toBe(true);
    // the bound decides: below the measured error the lead stays f32, above it nothing does
    const strict: string[] = [];
    expect(Buffer.from(await quantizeOnnx(f32Bytes, { calibration, autoLeadError: err / 2, log: (l) => strict.push(l) })).equals(Buffer.from(lead))).toBe(true);
    expect(strict[0]).toContain('kept in f32');
    expect(Buffer.from(await quantizeOnnx(f32Bytes, { calibration, autoLeadError: err * 2 })).equals(Buffer.from(none))).toBe(true);
    for (const bad of [-0.1, Number.NaN, Infinity]) await expect(quantizeOnnx(f32Bytes, { calibration, autoLeadError: bad })).rejects.toMatchObject({ code: 'BAD_ATTRIBUTE' });
  });

  /** The activation scales (scalar f32 initializers) of a QDQ model, by name. */
  const activationScales = (bytes: Uint8Array) => new Map(decodeModel(bytes).graph!.initializer!
    .filter((t) => t.dataType === 1 && (t.dims ?? []).length === 0).map((t) => [t.name!, toF64(tensorFromProto(t, { maxTensorBytes: 64 }))[0]]));

  it('calibrating through the compiled f32 wasm model gives the reference interpreter’s ranges (to f32 rounding)', async () => {
    const calibration = randomCalibration(f32Bytes, 3);
    const viaWasm = activationScales(await quantizeOnnx(f32Bytes, { calibration, leadingF32Share: 0 }));
    const viaRef = activationScales(await quantizeOnnx(f32Bytes, { calibration, engine: 'reference', leadingF32Share: 0 }));
    expect([...viaWasm.keys()]).toEqual([...viaRef.keys()]);
    expect(viaWasm.size).toBeGreaterThanOrEqual(5);
    for (const [name, s] of viaRef) expect(Math.abs(viaWasm.get(name)! - s) / s, name).toBeLessThan(1e-4);
  });

  it('percentile calibration clips outliers: scales ≤ min-max’s, some smaller; the 100th percentile is min-max', async () => {
    const calibration = randomCalibration(f32Bytes, 4);
    const minmax = await quantizeOnnx(f32Bytes, { calibration, method: { kind: 'minmax' } });
    const pct = activationScales(await quantizeOnnx(f32Bytes, { calibration, method: { kind: 'percentile', percentile: 99 } }));
    const mm = activationScales(minmax);
    let smaller = 0;
    for (const [name, s] of mm) {
      expect(pct.get(name)!, name).toBeLessThanOrEqual(s);
      if (pct.get(name)! < 0.99 * s) smaller++;
    }
    expect(smaller).toBeGreaterThan(mm.size / 2);
    const all = await quantizeOnnx(f32Bytes, { calibration, method: { kind: 'percentile', percentile: 100 } });
    expect(Buffer.from(all).equals(Buffer.from(minmax))).toBe(true);
  });

  it('mse calibration: ranges within min-max’s; a Gaussian with far outliers is clipped near ±4σ, a uniform one hardly', async () => {
    const calibration = randomCalibration(f32Bytes, 4);
    const mm = activationScales(await quantizeOnnx(f32Bytes, { calibration, method: { kind: 'minmax' } }));
    const mse = activationScales(await quantizeOnnx(f32Bytes, { calibration, method: { kind: 'mse' } }));
    expect([...mse.keys()]).toEqual([...mm.keys()]);
    for (const [name, s] of mm) {
      expect(mse.get(name)!, name).toBeLessThanOrEqual(s * (1 + 1e-6));
      expect(mse.get(name)!, name).toBeGreaterThanOrEqual(0.2 * s);
    }
    // histograms over [-10, 10] (4096 bins): 10^6 standard-normal values plus one at each end; then uniform
    const bins = 4096, gauss = new Float64Array(bins), uniform = new Float64Array(bins).fill(100);
    for (let i = 0; i < bins; i++) { const v = -10 + (i + 0.5) * (20 / bins); gauss[i] = 1e6 * (20 / bins) * Math.exp(-v * v / 2) / Math.sqrt(2 * Math.PI); }
    gauss[0] += 1; gauss[bins - 1] += 1;
    const [a, b] = mseClip(gauss, [-10, 10]);
    expect(b).toBeGreaterThan(3);
    expect(b).toBeLessThan(5);
    expect(a).toBeCloseTo(-b, 10);
    const [u0, u1] = mseClip(uniform, [-1, 3]);
    expect(u0).toBeLessThanOrEqual(-0.99);
    expect(u1).toBeGreaterThanOrEqual(0.99 * 3);
  });

  it('`cnnc quantize --calibration percentile` writes the model; a bad method, percentile or --f32-lead is a typed error', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'cnnc-quant-')), 'lenet5.int8.onnx');
    const cli = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, 'bin/cnnc.js'), 'quantize', LENET, '--calibrate', 'random:2', '-o', out, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    const ok = cli('--calibration', 'percentile', '--percentile', '99.9');
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    expect(decodeModel(readFileSync(out)).graph!.node!.some((n) => n.opType === 'QuantizeLinear')).toBe(true);
    const badMethod = cli('--calibration', 'entropy');
    expect(badMethod.status).not.toBe(0);
    expect(badMethod.stderr).toContain("--calibration takes minmax, percentile or mse; got 'entropy'");
    const badP = cli('--calibration', 'percentile', '--percentile', '0');
    expect(badP.status).not.toBe(0);
    expect(badP.stderr).toContain('--percentile takes a number in (0, 100]');
    for (const lead of ['abc', '1.5', '']) {
      const badLead = cli('--f32-lead', lead);
      expect(badLead.status).not.toBe(0);
      expect(badLead.stderr).toContain(`--f32-lead takes auto or a share in [0, 1]; got '${lead}'`);
    }
  });

  it('calibrates from a folder of .npy inputs like from the same inputs given directly', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cnnc-calib-'));
    const cal = randomCalibration(f32Bytes, 3);
    cal.forEach((feed, k) => writeFileSync(join(dir, `in${k}.npy`), writeNpy(Object.values(feed)[0])));
    const fromDir = folderCalibration(f32Bytes, dir);
    expect(fromDir).toHaveLength(3);
    expect(Buffer.from(await quantizeOnnx(f32Bytes, { calibration: fromDir })).equals(Buffer.from(await quantizeOnnx(f32Bytes, { calibration: cal })))).toBe(true);
    writeFileSync(join(dir, 'in9.npy'), writeNpy(randomInput('f32', [1, 1, 16, 16], 1)));
    expect(() => folderCalibration(f32Bytes, dir)).toThrow(/in9.npy is f32\[1,1,16,16\]/);
  });
});
