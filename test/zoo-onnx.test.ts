/**
 * The zoo against independent runtimes:
 * - PyTorch: the DSL models take the weights of the PyTorch exports in ../shared/models
 *   (loadOnnxWeights) and must reproduce PyTorch's own outputs through the reference interpreter;
 * - onnxruntime-node: every zoo model exported to ONNX (exportOnnx) must give the reference
 *   interpreter's output.
 * Tolerance: 1e-4 of max |output| (f32 weights; the interpreter accumulates in float64).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { loadOnnxWeights } from '../frontends/dsl/weights.js';
import { Rng } from '../frontends/dsl/random.js';
import { exportOnnx } from '../frontends/onnx/export.js';
import { decodeModel, readTensorProto } from '../frontends/onnx/import.js';
import { interpret } from '../ir/interpreter.js';
import { zoo } from '../models/index.js';
import { CnncError } from '../runtime/errors.js';
import { tensor, toF64 } from '../runtime/tensor.js';

const MODELS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../shared/models');
const HAVE = fs.existsSync(MODELS);
const TOL = 1e-4;

const read = (name: string, file: string) => fs.readFileSync(path.join(MODELS, name, file));

/** max |a − b| / max |b| */
function relErr(a: Float64Array, b: Float64Array): number {
  let d = 0, m = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / m;
}

describe.skipIf(!HAVE)('zoo models with PyTorch weights reproduce PyTorch (skipped when ../shared/models is absent)', () => {
  for (const name of ['lenet5', 'unet_small', 'squeezenet1_1', 'mobilenet_v2', 'efficientnet_b0', 'resnet18']) {
    it(`${name}: output_0 within ${TOL} of max |output|`, () => {
      const dsl = zoo(name, { weights: 'zeros' });
      const g = loadOnnxWeights(dsl, read(name, 'model.onnx'));
      const x = readTensorProto(read(name, 'test_data_set_0/input_0.pb'));
      const want = readTensorProto(read(name, 'test_data_set_0/output_0.pb'));
      const got = interpret(g, { input: x }).output;
      expect(got.shape).toEqual(want.shape);
      expect(relErr(toF64(got), toF64(want))).toBeLessThan(TOL);
      // the DSL graph itself is untouched (its weights stay zero)
      expect(toF64(dsl.value(dsl.nodes[0].inputs[1]).const!).every((v) => v === 0)).toBe(true);
    });
  }

  it('zoo weight names are PyTorch state_dict names (the ONNX initializers and their Identity aliases)', () => {
    for (const name of ['lenet5', 'unet_small', 'squeezenet1_1', 'mobilenet_v2', 'efficientnet_b0', 'resnet18']) {
      const graph = decodeModel(read(name, 'model.onnx')).graph!;
      const onnxNames = [
        ...(graph.initializer ?? []).map((t) => t.name ?? ''),
        ...(graph.node ?? []).filter((n) => n.opType === 'Identity').map((n) => n.output?.[0] ?? ''),
      ];
      const ours = [...zoo(name, { weights: 'zeros' }).values.values()].filter((v) => v.const).map((v) => v.name);
      expect(ours.sort(), name).toEqual(onnxNames.sort());
    }
  });

  it('weights of another architecture are a BAD_MODEL error naming the layer', () => {
    const bytes = read('lenet5', 'model.onnx');
    let err: unknown;
    try {
      loadOnnxWeights(zoo('squeezenet1_1', { weights: 'zeros' }), bytes);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CnncError);
    expect((err as CnncError).code).toBe('BAD_MODEL');
    expect((err as CnncError).value).toBe('features.0.weight');
  });
});

describe('zoo models exported to ONNX run in onnxruntime-node like the reference interpreter', () => {
  // [name, input size]: reduced sizes keep the interpreter fast; the architecture (and the exported graph) is the same.
  const RUN: [string, number | undefined][] = [
    ['lenet5', undefined], ['resnet18', 32], ['resnet50', 32], ['mobilenet_v2', 64],
    ['mobilenet_v3_small', 96], ['squeezenet1_1', 64], ['efficientnet_b0', 64], ['googlenet', 32],
    ['convnext_tiny', 32], ['unet_small', 64], ['yolov5s', 64],
  ];
  for (const [name, size] of RUN) {
    it(`${name}${size ? ` at ${size}×${size}` : ''}: ORT output within ${TOL} of max |output|`, async () => {
      const g = zoo(name, { seed: 0, size });
      const shape = g.type('input').shape;
      const x = new Rng(1).fillNormal(new Float32Array(shape.reduce((a, b) => a * b, 1)), 0, 1);
      const session = await ort.InferenceSession.create(exportOnnx(g));
      const out = (await session.run({ input: new ort.Tensor('float32', x, [...shape]) })).output;
      const want = interpret(g, { input: tensor('f32', shape, x) }).output;
      expect(out.dims).toEqual(want.shape);
      expect(relErr(Float64Array.from(out.data as Float32Array), toF64(want))).toBeLessThan(TOL);
    });
  }
  // Checked by hand (same script, same tolerance): alexnet 6.1e-7, vgg11_bn 6.3e-7, unet@32 5.7e-7, resnet34@32 5.4e-7.
  it.skip('alexnet, vgg11/16(±bn): skipped for CI time, their classifiers need 224×224 (0.7–15.5 GMACs and 61–138 M weights to draw, export and load)', () => {});
  it.skip('unet, resnet34: skipped for CI time, 31 M / 22 M weights and the same ops as unet_small / resnet18, which run above', () => {});
});
