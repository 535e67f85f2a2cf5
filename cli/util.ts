/** Small helpers shared by the CLI commands. */
import { basename, dirname, resolve } from 'node:path';
import { CnncError } from '../runtime/errors.js';
import { fromF64, sizeOf, toF64, type Tensor } from '../runtime/tensor.js';

/** Seeded N(0,1) input so that `--input random` runs are reproducible. */
export function randomInput(dtype: Tensor['dtype'], shape: readonly number[], seed = 1): Tensor {
  let s = seed >>> 0;
  const next = () => { s = (s + 0x6d2b79f5) >>> 0; let t = s; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
  const v = new Float64Array(sizeOf(shape));
  for (let i = 0; i < v.length; i++) v[i] = Math.sqrt(-2 * Math.log(next() + 1e-12)) * Math.cos(2 * Math.PI * next());
  return fromF64(dtype, shape, v);
}

/** Top-k (index, value) pairs of a classifier output [1, K] or [K]. */
export function topK(t: Tensor, k: number): [number, number][] {
  const v = toF64(t);
  return [...v.keys()].sort((a, b) => v[b] - v[a]).slice(0, k).map((i) => [i, v[i]]);
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Median ms of `run` over `runs` timed calls after `warmup` untimed ones. */
export async function timeRuns(run: () => unknown, runs: number, warmup: number): Promise<number> {
  for (let i = 0; i < warmup; i++) await run();
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await run();
    ms.push(performance.now() - t0);
  }
  return median(ms);
}

/** How far `got` is from `want`: max |got − want|, max |want|, their ratio and where the worst is. */
export function compareTensors(got: Tensor, want: Tensor, name: string, file: string): { maxAbs: number; scale: number; rel: number; worst: number } {
  if (got.shape.length !== want.shape.length || got.shape.some((d, i) => d !== want.shape[i])) {
    throw new CnncError('SHAPE_MISMATCH', `output '${name}' is [${got.shape}], ${file} holds [${want.shape}]`, { value: name });
  }
  const g = toF64(got), w = toF64(want);
  let maxAbs = 0, scale = 0, worst = 0;
  for (let i = 0; i < w.length; i++) {
    const d = Math.abs(g[i] - w[i]);
    if (d > maxAbs || Number.isNaN(d)) { maxAbs = Number.isNaN(d) ? Infinity : d; worst = i; }
    scale = Math.max(scale, Math.abs(w[i]));
  }
  return { maxAbs, scale, rel: scale > 0 ? maxAbs / scale : maxAbs, worst };
}

/** `<model>.<target>.cnnc` in the current folder: resnet18.onnx → resnet18.wasm.cnnc, zoo:lenet5 → lenet5.wasm.cnnc. */
export function defaultOutput(model: string, target: string): string {
  const base = model.startsWith('zoo:') ? model.slice(4) : basename(model).replace(/\.onnx$/i, '');
  // ../shared/models/resnet18/model.onnx: the folder names the model better than 'model'
  const name = base === 'model' && !model.startsWith('zoo:') ? basename(dirname(resolve(model))) || base : base;
  return `${name}.${target}.cnnc`;
}
