/**
 * The threaded peers of the Node benchmark (`npm run bench -- --target wasm-peers-threads`,
 * bench/wasm-peers.ts) load in Node, compute the same function as PyTorch and run on 2 threads:
 *   - LiteRT.js: its threaded build (pthreads on worker_threads) beside its non-threaded build in one
 *     process (bench/litert.ts loads the two through two instances of the package);
 *   - onnxruntime-web with `numThreads` 2 in a worker_thread (bench/ort-web-worker.ts).
 * Tolerance as in test/bench-litert.test.ts: 1e-4 of the output's max magnitude (XNNPACK and ORT sum
 * in another order). "Runs on 2 threads" is bench/wasm-peers.ts's own check (busyThreads: threads
 * other than V8's and Node's with CPU time ≥ ¼ of the busiest). Correctness of the harness only.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { litertPeer } from '../bench/litert.js';
import { ortWebPeer } from '../bench/ort-web-worker.js';
import { busyThreads, platformThreads } from '../bench/wasm-peers.js';
import { readTensorProto } from '../frontends/onnx/import.js';
import { CnncError } from '../runtime/errors.js';
import { relErr } from './conformance/compare.js';
import { SHARED } from './conformance/runner.js';

const REL_TOL = 1e-4;
const dir = path.join(SHARED, 'models', 'squeezenet1_1');
const read = (f: string) => readTensorProto(new Uint8Array(fs.readFileSync(path.join(dir, 'test_data_set_0', f))));
const onLinux = fs.existsSync('/proc/self/task');

describe('threaded peers of the Node benchmark, squeezenet1_1', () => {
  const x = read('input_0.pb');
  const want = read('output_0.pb').data as Float32Array;
  const input = x.data as Float32Array;

  it('LiteRT.js: threaded build on 2 threads beside the 1-thread build, both match PyTorch', async () => {
    const one = await litertPeer('squeezenet1_1');
    const ignore = platformThreads(); // V8's, Node's and vitest's threads, before the peer starts its own
    const two = await litertPeer('squeezenet1_1', 2);
    try {
      expect([one.build, one.threads]).toEqual(['relaxed', 1]);
      expect([two.build, two.threads]).toEqual(['threaded', 2]);
      const y1 = await one.run(input), y2 = await two.run(input);
      expect(relErr(y1, want)).toBeLessThan(REL_TOL);
      expect(relErr(y2, want)).toBeLessThan(REL_TOL);
      if (onLinux) {
        expect(await busyThreads(() => two.run(input), 5, ignore)).toBeGreaterThanOrEqual(2);
        expect(await busyThreads(() => one.run(input), 5, ignore)).toBe(1); // the count tells 1 thread from 2
      }
      await expect(litertPeer('squeezenet1_1', 0)).rejects.toThrow(CnncError);
    } finally {
      one.dispose();
      two.dispose();
    }
  }, 120_000);

  it('onnxruntime-web in a worker: numThreads 2 holds, output matches PyTorch', async () => {
    const model = new Uint8Array(fs.readFileSync(path.join(dir, 'model.onnx')));
    const ignore = platformThreads(); // V8's, Node's and vitest's threads, before the peer starts its own
    const ort = await ortWebPeer(model, input, x.shape, 2);
    try {
      expect(ort.threads).toBe(2);
      expect(relErr(await ort.run(), want)).toBeLessThan(REL_TOL);
      await ort.ping();
      if (onLinux) expect(await busyThreads(() => ort.run(), 5, ignore)).toBeGreaterThanOrEqual(2);
    } finally {
      await ort.dispose();
    }
    await expect(ortWebPeer(model, input, x.shape, 1.5)).rejects.toThrow(CnncError);
  }, 120_000);
});
