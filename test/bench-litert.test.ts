/**
 * The LiteRT.js peer of the WASM benchmark (bench/litert.ts) runs the .tflite copy of a model in
 * Node and computes the same function as PyTorch: on squeezenet1_1's test_data_set_0 its output
 * equals PyTorch's within 1e-4 of the output's max magnitude (XNNPACK sums in another order; the
 * models README measured 5.8e-7). It uses LiteRT's relaxed-SIMD build (the V8 flag is set at run
 * time). Correctness of the harness only; its speed is measured by `npm run bench`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { litertPeer } from '../bench/litert.js';
import { readTensorProto } from '../frontends/onnx/import.js';
import { CnncError } from '../runtime/errors.js';
import { relErr } from './conformance/compare.js';
import { SHARED } from './conformance/runner.js';

const REL_TOL = 1e-4;

describe('LiteRT.js peer squeezenet1_1', () => {
  const dir = path.join(SHARED, 'models', 'squeezenet1_1', 'test_data_set_0');
  const read = (f: string) => readTensorProto(new Uint8Array(fs.readFileSync(path.join(dir, f))));

  it('matches PyTorch on test_data_set_0 (NCHW input transposed to NHWC)', async () => {
    const x = read('input_0.pb');
    const want = read('output_0.pb');
    const peer = await litertPeer('squeezenet1_1');
    try {
      expect(peer.build).toBe('relaxed');
      const got = await peer.run(x.data as Float32Array);
      expect(got.length).toBe(1000);
      expect(relErr(got, want.data as Float32Array)).toBeLessThan(REL_TOL);
      // a second run on the same input gives the same logits (the cached NHWC copy is reused)
      expect(Array.from(await peer.run(x.data as Float32Array))).toEqual(Array.from(got));
      await expect(peer.run(new Float32Array(10))).rejects.toThrow(CnncError);
    } finally {
      peer.dispose();
    }
  }, 120_000);

  it('refuses a model without a .tflite copy', async () => {
    await expect(litertPeer('lenet5')).rejects.toThrow(CnncError);
  });
});
