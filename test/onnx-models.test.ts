/**
 * The real CNNs in ../shared/models (exported from PyTorch 1.13, opset 13) through the ONNX
 * importer: each imports, verifies, runs in the reference interpreter and matches PyTorch's
 * output (test_data_set_K/output_0.pb) within 1e-4 of the output's max magnitude. Round trip:
 * the exported graph, as imported and after the O3 pipeline (BN folding, fused epilogues,
 * FusedDwPw, NHWC layout), runs in onnxruntime-node and gives the reference interpreter's
 * output within the same tolerance. One import and one interpreter run per model and data set.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { exportOnnx } from '../frontends/onnx/export.js';
import { loadOnnxFile, readTensorProto } from '../frontends/onnx/import.js';
import type { Graph } from '../ir/graph.js';
import { interpret } from '../ir/interpreter.js';
import { verify } from '../ir/verify.js';
import { runPipeline } from '../passes/pipeline.js';
import { toF64, type Tensor } from '../runtime/tensor.js';
import { relErr, runOrt } from './conformance/compare.js';
import { SHARED } from './conformance/runner.js';

/** Tolerance: max |got - want| / max |want| (f32 outputs). */
const REL_TOL = 1e-4;

const modelsDir = path.join(SHARED, 'models');
const MODELS = fs.readdirSync(modelsDir).filter((d) => fs.existsSync(path.join(modelsDir, d, 'model.onnx'))).sort();

it('finds the six shared models', () => {
  expect(MODELS).toEqual(['efficientnet_b0', 'lenet5', 'mobilenet_v2', 'resnet18', 'squeezenet1_1', 'unet_small']);
});

for (const name of MODELS) {
  describe(`shared model ${name}`, () => {
    const dir = path.join(modelsDir, name);
    const info = JSON.parse(fs.readFileSync(path.join(dir, 'info.json'), 'utf8'));
    const sets = fs.readdirSync(dir).filter((d) => d.startsWith('test_data_set_')).sort();
    let g: Graph;
    const inputs: Tensor[] = [];
    const wanted: Tensor[] = [];
    const ref: Tensor[] = [];

    beforeAll(() => {
      g = loadOnnxFile(path.join(dir, 'model.onnx'));
      for (const s of sets) {
        inputs.push(readTensorProto(fs.readFileSync(path.join(dir, s, 'input_0.pb'))));
        wanted.push(readTensorProto(fs.readFileSync(path.join(dir, s, 'output_0.pb'))));
      }
    });

    it('imports and verifies, with the declared input and output', () => {
      verify(g);
      expect(g.inputs).toEqual(['input']);
      expect(g.outputs).toEqual(['output']);
      expect(g.type('input').shape).toEqual(info.input_shape);
      expect(g.type('output').shape).toEqual([...wanted[0].shape]);
      // Constant-chains and Constant nodes are folded: no Shape/Constant/Identity nodes remain.
      expect(g.nodes.filter((n) => ['Constant', 'Shape', 'Identity', 'Dropout'].includes(n.op))).toEqual([]);
    });

    it(`matches PyTorch on ${sets.length} data sets within ${REL_TOL} of max |output|`, () => {
      sets.forEach((_, k) => {
        const out = interpret(g, { input: inputs[k] }).output;
        ref.push(out);
        expect(relErr(toF64(out), toF64(wanted[k]))).toBeLessThan(REL_TOL);
      });
    });

    it('round trip: export → onnxruntime-node gives the reference output', async () => {
      const got = await runOrt(exportOnnx(g), { input: inputs[0] });
      expect(relErr(got.output, toF64(ref[0]))).toBeLessThan(REL_TOL);
    });

    it('round trip after the O3 NHWC pipeline (fused epilogues, FusedDwPw, transposes) runs in onnxruntime-node', async () => {
      const opt = runPipeline(g, 'wasm', { opt: 'O3', layout: 'NHWC' }).graph;
      verify(opt);
      expect(opt.nodes.some((n) => n.attrs.layout === 'NHWC')).toBe(true);
      expect(opt.nodes.some((n) => n.attrs.activation)).toBe(true);
      const got = await runOrt(exportOnnx(opt), { [opt.inputs[0]]: inputs[0] });
      expect(relErr(got[opt.outputs[0]], toF64(ref[0]))).toBeLessThan(REL_TOL);
    });
  });
}
