/**
 * A QDQ MobileNetV2 made by `cnnc quantize` (../shared/models/mobilenet_v2, random weights, a
 * small seeded calibration set) on the wasm target: the O3 pipeline turns every conv and the
 * classifier into int8 kernels (QConv/QGemm); the artifact's output equals the reference
 * interpreter's on the same optimized graph bit for bit (on one thread and on three), and stays close to onnxruntime-node's
 * spec ops on the QDQ file.
 *
 * Within one output quantization step everywhere does not hold over 52 requantized layers for any
 * pair of implementations measured here: a rounding tie decided differently in an early layer
 * (onnxruntime's spec ops convolve the dequantized values in f32; cnnc sums integers exactly)
 * moves later layers by a step. Measured on this model (4-input calibration): cnnc's reference on
 * the unrewritten QDQ graph vs onnxruntime's spec ops: up to 2.5 steps; onnxruntime's own optimized
 * (int8 kernels) vs spec sessions: up to 5.5 steps. With the 2-input calibration here: wasm vs spec
 * ops up to 5 steps, 75% of outputs within one step; onnxruntime's int8 kernels vs its spec ops up
 * to 13 steps. So what is asserted: cnnc's int8 wasm output is no further from onnxruntime's spec
 * ops than onnxruntime's own int8 kernels are, and ≥ 70% of its outputs are within one step.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { quantizeOnnx, randomCalibration } from '../cli/quantize.js';
import { randomInput } from '../cli/util.js';
import { compile } from '../index.js';
import { decodeModel } from '../frontends/onnx/import.js';
import { tensorFromProto } from '../frontends/onnx/proto.js';
import { interpret } from '../ir/interpreter.js';
import { load } from '../runtime/index.js';
import { toF64, type Tensor } from '../runtime/tensor.js';

const MODEL = join(resolve(__dirname, '..'), '../shared/models/mobilenet_v2/model.onnx');

/** The scale of the DequantizeLinear that defines the graph output: one output quantization step. */
function outputStep(bytes: Uint8Array): number {
  const g = decodeModel(bytes).graph!;
  const out = g.output![0].name;
  const dq = g.node!.find((n) => n.output![0] === out && n.opType === 'DequantizeLinear');
  const s = g.initializer!.find((t) => t.name === dq!.input![1])!;
  return toF64(tensorFromProto(s, { maxTensorBytes: 1024 }))[0];
}

async function ortRun(bytes: Uint8Array, x: Tensor, spec: boolean): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(bytes, spec ? { graphOptimizationLevel: 'disabled' } : {});
  const out = await s.run({ [s.inputNames[0]]: new ort.Tensor('float32', x.data as Float32Array, [...x.shape]) });
  return out[s.outputNames[0]].data as Float32Array;
}

describe.skipIf(!existsSync(MODEL))('int8 MobileNetV2 (cnnc quantize) on wasm', () => {
  it('compiles to int8 kernels, equals the reference bit for bit, and tracks onnxruntime', async () => {
    const f32 = readFileSync(MODEL);
    // every layer int8 (no leading f32 layers) and its output requantized, the classifier's too: its DequantizeLinear gives the output step
    const q = await quantizeOnnx(f32, { calibration: randomCalibration(f32, 2), outputs: 'all', leadingF32Share: 0 });
    const c = await compile(q, 'wasm');
    const ops = c.graph.nodes.map((n) => n.op);
    expect(ops.filter((o) => o === 'QConv')).toHaveLength(52);
    expect(ops).toContain('QGemm');
    expect(ops).not.toContain('Conv');
    const step = outputStep(q);
    expect(step).toBeGreaterThan(0);
    let within = 0, total = 0, worst = 0, ortWorst = 0;
    for (const seed of [7, 8]) {
      const x = randomInput('f32', c.inputs[0].shape, seed);
      const got = Object.values(await c.run({ [c.inputs[0].name]: x }))[0].data as Float32Array;
      if (seed === 7) {
        const ref = toF64(interpret(c.graph, { [c.graph.inputs[0]]: x })[c.graph.outputs[0]]);
        expect(Array.from(got)).toEqual(Array.from(ref, Math.fround));
        // the int8 convs split across 3 threads: the same bits
        const s3 = await load(c.save(), { threads: 3 });
        expect(s3.threads).toBe(3);
        expect(Array.from(Object.values(await s3.run({ [c.inputs[0].name]: x }))[0].data as Float32Array)).toEqual(Array.from(got));
        s3.dispose();
      }
      const want = await ortRun(q, x, true), ortInt8 = await ortRun(q, x, false);
      for (let i = 0; i < want.length; i++) {
        ortWorst = Math.max(ortWorst, Math.abs(ortInt8[i] - want[i]) / step);
        const d = Math.abs(got[i] - want[i]) / step;
        worst = Math.max(worst, d);
        if (d <= 1.0001) within++;
        total++;
      }
    }
    console.log(`int8 MobileNetV2 wasm vs onnxruntime spec ops: worst ${worst.toFixed(2)} steps, ${(100 * within / total).toFixed(1)}% within one step; onnxruntime int8 kernels vs spec ops: worst ${ortWorst.toFixed(2)} steps`);
    expect(worst).toBeLessThanOrEqual(ortWorst + 1e-4);
    expect(within / total).toBeGreaterThanOrEqual(0.7);
  }, 600_000);
});
