/**
 * Bias correction in `cnnc quantize` (cli/quantize.ts): the mean output shift that rounding the
 * weights to int8 introduces, Σ (W_q − W)·E[x] per output channel, is subtracted from the bias.
 * A conv whose input channels have constant means and whose weights all round the same way per
 * channel has a clear mean output error without it; with it, that error mostly goes. The shift's
 * padding/stride/group handling is exact for inputs whose channel means are the same everywhere.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { biasShift, quantizeOnnx, randomCalibration } from '../cli/quantize.js';
import { decodeModel, importOnnx } from '../frontends/onnx/import.js';
import { onnx } from '../frontends/onnx/proto.js';
import { interpret } from '../ir/interpreter.js';
import { tensor, toF64, type Tensor } from '../runtime/tensor.js';

const A = onnx.AttributeProto.AttributeType;

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32; };
}

interface ConvSpec { cin: number; cout: number; k: number; group: number; strides: number[]; pads: number[]; hw: number; bias?: boolean }

/** An f32 ONNX model x [1, cin, hw, hw] → Conv(w, b) → y. */
function convModel(s: ConvSpec, w: number[], b: number[]): Uint8Array {
  const vi = (name: string) => ({ name, type: { tensorType: { elemType: 1 } } });
  const inits = [{ name: 'w', dataType: 1, dims: [s.cout, s.cin / s.group, s.k, s.k], floatData: w }, ...(s.bias === false ? [] : [{ name: 'b', dataType: 1, dims: [s.cout], floatData: b }])];
  const attribute = [
    { name: 'group', type: A.INT, i: s.group }, { name: 'strides', type: A.INTS, ints: s.strides },
    { name: 'pads', type: A.INTS, ints: s.pads }, { name: 'kernel_shape', type: A.INTS, ints: [s.k, s.k] },
  ];
  const x = { name: 'x', type: { tensorType: { elemType: 1, shape: { dim: [1, s.cin, s.hw, s.hw].map((d) => ({ dimValue: d })) } } } };
  return onnx.ModelProto.encode(onnx.ModelProto.create({
    irVersion: 8, opsetImport: [{ domain: '', version: 13 }],
    graph: { name: 'conv', node: [{ opType: 'Conv', name: 'conv', input: s.bias === false ? ['x', 'w'] : ['x', 'w', 'b'], output: ['y'], attribute }], input: [x], output: [vi('y')], initializer: inits },
  })).finish();
}

/** x with channel c = means[c] + uniform noise in ±0.5 (a constant mean per channel, the same at every position). */
function input(means: number[], hw: number, seed: number): Tensor {
  const r = rng(seed);
  return tensor('f32', [1, means.length, hw, hw], Float32Array.from({ length: means.length * hw * hw }, (_, i) => means[Math.floor(i / (hw * hw))] + r() - 0.5));
}

const run = (bytes: Uint8Array, x: Tensor) => { const g = importOnnx(bytes); return toF64(interpret(g, { [g.inputs[0]]: x })[g.outputs[0]]); };

/** Per output channel, the mean over positions and inputs of (int8 model − f32 model). */
function meanError(q: Uint8Array, f: Uint8Array, xs: Tensor[], cout: number): number[] {
  const err = new Array<number>(cout).fill(0);
  for (const x of xs) {
    const a = run(q, x), b = run(f, x), per = a.length / cout;
    for (let i = 0; i < a.length; i++) err[Math.floor(i / per)] += (a[i] - b[i]) / (per * xs.length);
  }
  return err;
}

describe('bias correction (cnnc quantize)', () => {
  // Each output channel's weights: one at ±1.27 (scale 0.01), the rest k·0.01 + 0.004·sign(c): every
  // one rounds by ∓0.004, so over 2×3×3 taps and input means 3 and 2 the shift is ≈ ∓0.16·(share of taps inside).
  const spec: ConvSpec = { cin: 2, cout: 4, k: 3, group: 1, strides: [1, 1], pads: [1, 1, 1, 1], hw: 8 };
  const r = rng(7);
  const w = Array.from({ length: 4 * 18 }, (_, i) => {
    const c = Math.floor(i / 18), sign = c % 2 ? -1 : 1;
    return i % 18 === 0 ? 1.27 : (Math.floor(r() * 60) - 30) * 0.01 + 0.004 * sign;
  });
  const f32 = convModel(spec, w, [0.1, -0.2, 0.3, 0]);
  const means = [3, 2];
  const calibration = Array.from({ length: 8 }, (_, k) => ({ x: input(means, 8, 100 + k) }));
  const heldBack = Array.from({ length: 8 }, (_, k) => input(means, 8, 900 + k));

  it('removes the mean output shift of the weight rounding (int8 output mean error before vs after)', async () => {
    const off = await quantizeOnnx(f32, { calibration, engine: 'reference', biasCorrection: false });
    const on = await quantizeOnnx(f32, { calibration, engine: 'reference' });
    const before = meanError(off, f32, heldBack, 4), after = meanError(on, f32, heldBack, 4);
    for (let c = 0; c < 4; c++) {
      expect(Math.abs(before[c]), `channel ${c} before`).toBeGreaterThan(0.1);
      expect(Math.sign(before[c])).toBe(c % 2 ? 1 : -1);
      expect(Math.abs(after[c]), `channel ${c} after (before ${before[c]})`).toBeLessThan(0.05 * Math.abs(before[c]));
    }
  });

  it('empirical: the shift measured through the quantized model (weights and input rounding) goes too', async () => {
    const off = await quantizeOnnx(f32, { calibration, engine: 'reference', biasCorrection: false });
    const emp = await quantizeOnnx(f32, { calibration, engine: 'reference', biasCorrection: 'empirical' });
    const before = meanError(off, f32, heldBack, 4), after = meanError(emp, f32, heldBack, 4);
    for (let c = 0; c < 4; c++) expect(Math.abs(after[c]), `channel ${c} after (before ${before[c]})`).toBeLessThan(0.05 * Math.abs(before[c]));
  });

  it('adds a bias to a conv that has none when there is a shift to correct', async () => {
    const noBias = convModel({ ...spec, bias: false }, w, []);
    const on = await quantizeOnnx(noBias, { calibration, engine: 'reference' });
    expect(decodeModel(on).graph!.node!.find((n) => n.opType === 'Conv')!.input).toHaveLength(3);
    const off = await quantizeOnnx(noBias, { calibration, engine: 'reference', biasCorrection: false });
    const before = meanError(off, noBias, heldBack, 4), after = meanError(on, noBias, heldBack, 4);
    for (let c = 0; c < 4; c++) expect(Math.abs(after[c])).toBeLessThan(0.05 * Math.abs(before[c]));
  });

  it('`cnnc quantize` corrects by default; --no-bias-correction writes the uncorrected biases, like the library call', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cnnc-bc-'));
    writeFileSync(join(dir, 'conv.onnx'), f32);
    const ROOT = resolve(__dirname, '..');
    const cli = (out: string, ...args: string[]) => {
      const r = spawnSync(process.execPath, [join(ROOT, 'bin/cnnc.js'), 'quantize', join(dir, 'conv.onnx'), '--calibrate', 'random:2', '-o', join(dir, out), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      return readFileSync(join(dir, out));
    };
    const randomCal = randomCalibration(f32, 2);
    const on = cli('on.onnx'), off = cli('off.onnx', '--no-bias-correction');
    expect(Buffer.from(on).equals(Buffer.from(await quantizeOnnx(f32, { calibration: randomCal })))).toBe(true);
    expect(Buffer.from(off).equals(Buffer.from(await quantizeOnnx(f32, { calibration: randomCal, biasCorrection: false })))).toBe(true);
    expect(on.equals(off)).toBe(false);
    expect(decodeModel(cli('emp.onnx', '--bias-correction', 'empirical')).graph!.node!.some((n) => n.opType === 'QuantizeLinear')).toBe(true);
    const bad = spawnSync(process.execPath, [join(ROOT, 'bin/cnnc.js'), 'quantize', join(dir, 'conv.onnx'), '--calibrate', 'random:2', '-o', join(dir, 'bad.onnx'), '--bias-correction', 'exact'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain("--bias-correction takes no value or 'empirical'; got 'exact'");
  });

  it('the shift equals the mean over output positions of Conv(E[x], ΔW): padding, strides and groups', () => {
    for (const s of [
      { cin: 4, cout: 8, k: 3, group: 2, strides: [2, 1], pads: [1, 0, 2, 1], hw: 7 },
      { cin: 6, cout: 6, k: 3, group: 6, strides: [2, 2], pads: [1, 1, 1, 1], hw: 9 },
      { cin: 3, cout: 5, k: 5, group: 1, strides: [1, 1], pads: [2, 2, 2, 2], hw: 6 },
    ] satisfies ConvSpec[]) {
      const g = rng(s.cin * 31 + s.k);
      const dw = Array.from({ length: s.cout * (s.cin / s.group) * s.k * s.k }, () => g() - 0.5);
      const mean = Array.from({ length: s.cin }, () => 4 * g() - 1);
      const node = decodeModel(convModel(s, dw, new Array(s.cout).fill(0))).graph!.node![0];
      const got = biasShift(node, Float64Array.from(dw), [s.cout, s.cin / s.group, s.k, s.k], Float64Array.from(mean), [1, s.cin, s.hw, s.hw])!;
      const x = tensor('f32', [1, s.cin, s.hw, s.hw], Float32Array.from({ length: s.cin * s.hw * s.hw }, (_, i) => mean[Math.floor(i / (s.hw * s.hw))]));
      const y = run(convModel(s, dw, new Array(s.cout).fill(0)), x), per = y.length / s.cout;
      for (let c = 0; c < s.cout; c++) {
        let want = 0;
        for (let i = 0; i < per; i++) want += y[c * per + i] / per;
        expect(got[c]).toBeCloseTo(want, 5);
      }
    }
  });
});
