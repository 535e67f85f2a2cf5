/**
 * Round trip of the DSL model zoo: each model, as the DSL builds it, is exported to ONNX and run in
 * onnxruntime-node (CPU); its outputs match the reference interpreter's within 1e-4 of the
 * output's max magnitude. Inputs are 64×64 where the model allows it, so the float64 reference
 * stays fast; the layers are the same at any size.
 */
import { describe, expect, it } from 'vitest';
import { exportOnnx } from '../frontends/onnx/export.js';
import { interpret } from '../ir/interpreter.js';
import { zoo, ZOO_NAMES } from '../models/index.js';
import { tensor, toF64 } from '../runtime/tensor.js';
import { relErr, runOrt } from './conformance/compare.js';

const REL_TOL = 1e-4;
/** 130M+ parameters at 224×224 (the size their adaptive pooling needs): minutes in the float64 reference. */
const SLOW = new Set(['vgg11', 'vgg11_bn', 'vgg16', 'vgg16_bn']);
/** Models run at their own input size (LeNet-5 32×32; AlexNet and the VGGs 224×224 for their fixed adaptive pooling). */
const OWN_SIZE = new Set(['lenet5', 'alexnet', ...SLOW]);
const slowOk = process.env.CNNC_SLOW === '1';

describe('DSL zoo: export → onnxruntime-node matches the reference interpreter', () => {
  for (const name of ZOO_NAMES) {
    const skip = SLOW.has(name) && !slowOk;
    const title = skip
      ? `${name} (skipped: 130M+ parameters at 224×224 take minutes in the float64 reference; CNNC_SLOW=1 runs it)`
      : `${name}`;
    it.skipIf(skip)(title, async () => {
      const g = zoo(name, { size: OWN_SIZE.has(name) ? undefined : 64 });
      const xt = g.type(g.inputs[0]);
      const n = xt.shape.reduce((a, b) => a * b, 1);
      const x = tensor('f32', xt.shape, Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37)));
      const ref = interpret(g, { [g.inputs[0]]: x });
      const got = await runOrt(exportOnnx(g), { [g.inputs[0]]: x });
      for (const o of g.outputs) expect(relErr(got[o], toF64(ref[o])), o).toBeLessThan(REL_TOL);
    });
  }
});
