/**
 * The zoo against PyTorch: the DSL models take the weights of the PyTorch exports in
 * ../shared/models (loadOnnxWeights) and must reproduce PyTorch's own outputs through the
 * reference interpreter, within 1e-4 of max |output| (f32 weights, float64 accumulation).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadOnnxWeights } from '../frontends/dsl/weights.js';
import { readTensorProto } from '../frontends/onnx/import.js';
import { interpret } from '../ir/interpreter.js';
import { zoo } from '../models/index.js';
import { CnncError } from '../runtime/errors.js';
import { toF64 } from '../runtime/tensor.js';

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
