/**
 * The TensorFlow.js peer of the WASM benchmark (bench/tfjs.ts) computes the same function as the
 * ONNX model it was rebuilt from: on test_data_set_0 its output equals PyTorch's within 1e-3 of
 * the output's max magnitude (XNNPACK reorders f32 sums), and it runs on the wasm backend.
 * Correctness only; its speed is measured by `npm run bench`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tfjsPeer, type TfjsModelName } from '../bench/tfjs.js';
import { readTensorProto } from '../frontends/onnx/import.js';
import { CnncError } from '../runtime/errors.js';
import { relErr } from './conformance/compare.js';
import { SHARED } from './conformance/runner.js';

/** Tolerance: max |tfjs - PyTorch| / max |PyTorch| (f32, different summation order). */
const REL_TOL = 1e-3;

const MODELS: TfjsModelName[] = ['mobilenet_v2', 'resnet18'];

for (const name of MODELS) {
  describe(`tfjs peer ${name}`, () => {
    const dir = path.join(SHARED, 'models', name, 'test_data_set_0');
    const read = (f: string) => readTensorProto(new Uint8Array(fs.readFileSync(path.join(dir, f))));

    it('matches PyTorch on test_data_set_0 with the wasm backend', async () => {
      const x = read('input_0.pb');
      const want = read('output_0.pb');
      const peer = await tfjsPeer(name);
      try {
        expect(peer.backend).toBe('wasm');
        const got = await peer.run(x.data as Float32Array);
        expect(got.length).toBe(1000);
        expect(relErr(got, want.data as Float32Array)).toBeLessThan(REL_TOL);
        await expect(peer.run(new Float32Array(10))).rejects.toThrow(CnncError);
      } finally {
        peer.dispose();
      }
    }, 120_000);
  });
}
