/** Comparisons for the model tests: relative error against a reference, and running a model in onnxruntime-node. */
import * as ort from 'onnxruntime-node';
import { expect } from 'vitest';
import type { Tensor } from '../../runtime/tensor.js';

/** max |got - want| / max |want| (Infinity when got has a NaN). */
export function relErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  expect(got.length).toBe(want.length);
  let diff = 0, scale = 0;
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
    if (Number.isNaN(got[i])) return Infinity;
  }
  return diff / scale;
}

/** Runs an ONNX model in onnxruntime-node (CPU) on float32 inputs. */
export async function runOrt(bytes: Uint8Array, feeds: Record<string, Tensor>): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], intraOpNumThreads: 1 });
  const ortFeeds: Record<string, ort.Tensor> = {};
  for (const [k, t] of Object.entries(feeds)) ortFeeds[k] = new ort.Tensor('float32', t.data as Float32Array, [...t.shape]);
  const out = await session.run(ortFeeds);
  const res: Record<string, Float32Array> = {};
  for (const [k, v] of Object.entries(out)) res[k] = v.data as Float32Array;
  await session.release();
  return res;
}

