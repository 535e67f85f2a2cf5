/**
 * Shared by the CUDA tests (CPU emulation here, the GPU under test/gpu): a graph that exercises
 * every CUDA kernel over randomly generated shapes, seeded inputs, and error measures.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Graph } from '../../ir/graph.js';
import type { CudaPlan } from '../../runtime/cuda/plan.js';
import { fromF64, tensor, toF64, type DType, type Tensor } from '../../runtime/tensor.js';

/** Deterministic uniform numbers in [-1, 1) (LCG; fine for test data). */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  };
}

export function randomTensor(dtype: DType, shape: readonly number[], r: () => number, scale = 1): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return fromF64(dtype, shape, Float64Array.from({ length: n }, () => r() * scale));
}

/** max |got − ref| / max |ref| (ref's scale, so near-zero outputs do not inflate it). */
export function relError(got: Tensor, ref: Tensor): number {
  const a = toF64(got), b = toF64(ref);
  if (a.length !== b.length) return Infinity;
  let d = 0, m = 1e-12;
  for (let i = 0; i < a.length; i++) {
    if (!(Math.abs(a[i] - b[i]) <= d)) d = Number.isNaN(a[i] - b[i]) ? Infinity : Math.abs(a[i] - b[i]);
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / m;
}

/** Index of the largest value in each row of a [N, K] tensor. */
export function top1(t: Tensor): number[] {
  const v = toF64(t);
  const k = t.shape[t.shape.length - 1];
  const out: number[] = [];
  for (let r = 0; r < v.length / k; r++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (v[r * k + j] > v[r * k + best]) best = j;
    out.push(best);
  }
  return out;
}

export const TOLERANCE: Record<'f32' | 'f16', number> = { f32: 1e-4, f16: 1e-2 };

/** Seeded random inputs for a graph. */
export function graphInputs(g: Graph, seed: number): Record<string, Tensor> {
  const r = rng(seed);
  return Object.fromEntries(g.inputs.map((n) => [n, randomTensor(g.type(n).dtype, g.type(n).shape, r)]));
}

const ACTS: [string, number, number][] = [
  ['', 0, 0], ['relu', 0, 0], ['leaky_relu', 0.1, 0], ['clip', 0, 6], ['sigmoid', 0, 0], ['hard_sigmoid', 0.2, 0.5],
  ['hard_swish', 0, 0], ['silu', 0, 0], ['gelu', 0, 0], ['gelu_tanh', 0, 0], ['tanh', 0, 0],
];

/**
 * One graph whose outputs cover every CUDA kernel: convs (strides, asymmetric pads, dilations,
 * groups, depthwise with multiplier, 1×1, tiles with ragged edges, epilogues with residual), NHWC
 * variants, ConvTranspose, FusedDwPw, pools (ceil_mode, count_include_pad), Gemm/MatMul,
 * elementwise (broadcast, half2 pairs), BN, Softmax, LayerNorm, reductions, movement ops.
 * Shapes and choices come from `seed`.
 */
export function kernelCaseGraph(seed: number, dtype: 'f32' | 'f16'): Graph {
  const r = rng(seed * 7919 + 13);
  const int = (lo: number, hi: number) => lo + Math.floor(((r() + 1) / 2) * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)];
  const g = new Graph(`kernels_${seed}_${dtype}`);
  const N = int(1, 2), C = pick([3, 4, 6, 8]), H = int(6, 13), W = int(5, 12);
  const x = g.addInput('x', { dtype, shape: [N, C, H, W] });
  const xh = g.addInput('xh', { dtype, shape: [N, H, W, C] });
  let k = 0;
  const w = (shape: number[], scale = 0.5) => g.addConstant(`w${k++}`, randomTensor(dtype, shape, r, scale));
  const outs: string[] = [];
  const act = () => { const [a, al, be] = pick(ACTS); return { activation: a, act_alpha: al, act_beta: be }; };

  // convolutions through the implicit GEMM and the direct depthwise kernel
  for (let i = 0; i < 6; i++) {
    const depthwise = i === 3 || i === 4;
    const group = depthwise ? C : pick([1, 1, C % 2 === 0 ? 2 : 1]);
    const M = depthwise ? C * pick([1, 2]) : group * int(1, 5) * (i === 5 ? 16 : 1);
    const kh = pick([1, 2, 3, 5].filter((q) => q <= H)), kw = pick([1, 3].filter((q) => q <= W));
    const s = [pick([1, 2, 3]), pick([1, 2])], d = [kh > 1 ? pick([1, 2]) : 1, 1];
    const pads = [int(0, kh - 1), int(0, kw - 1), int(0, kh - 1), int(0, kw - 1)];
    if ((H + pads[0] + pads[2] - d[0] * (kh - 1) - 1) < 0) d[0] = 1;
    const attrs = { kernel_shape: [kh, kw], strides: s, pads, dilations: d, group, ...act() };
    const wt = w([M, C / group, kh, kw]);
    const bias = i % 2 === 0 ? w([M]) : '';
    const y0 = g.add('Conv', [x, wt, bias], attrs);
    if (i === 2) {
      // residual epilogue: act(conv + b + R)
      const res = g.addInput('res', { dtype, shape: [...g.type(y0).shape] });
      outs.push(g.add('Conv', [x, wt, bias, res], attrs));
    } else {
      outs.push(y0);
    }
  }
  // a 1×1 conv large enough for 64×64 tiles with ragged edges
  outs.push(g.add('Conv', [x, w([70, C, 1, 1]), w([70])], { kernel_shape: [1, 1], activation: 'relu' }));
  // GEMM-sized layers (K, M, N ≥ 16: the f16 tensor-core path), ragged tile edges
  const wide = outs[outs.length - 1];
  outs.push(g.add('Conv', [x, w([24, C, 3, 3], 0.3), w([24])], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], ...act() }));
  outs.push(g.add('Conv', [wide, w([33, 70, 1, 1], 0.2)], { kernel_shape: [1, 1], ...act() }));
  outs.push(g.add('FusedDwPw', [wide, w([70, 1, 3, 3]), w([70]), w([20, 70, 1, 1], 0.2), w([20])], { pads: [1, 1, 1, 1], dw_activation: 'relu', activation: 'clip', act_alpha: 0, act_beta: 6 }));
  const a2 = g.addInput('a2', { dtype, shape: [20, 24] });
  outs.push(g.add('Gemm', [a2, w([18, 24], 0.3), w([18])], { transB: 1, ...act() }));
  outs.push(g.add('MatMul', [g.addInput('a3', { dtype, shape: [2, 17, 20] }), w([20, 19], 0.3)]));
  // NHWC conv, depthwise, pool, global pool, BN
  outs.push(g.add('Conv', [xh, w([5, C, 3, 3]), w([5])], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [2, 1], layout: 'NHWC', ...act() }));
  outs.push(g.add('Conv', [xh, w([C, 1, 3, 3])], { kernel_shape: [3, 3], pads: [1, 0, 1, 2], group: C, layout: 'NHWC' }));
  outs.push(g.add('MaxPool', [xh], { kernel_shape: [2, 2], strides: [2, 2], layout: 'NHWC' }));
  outs.push(g.add('GlobalAveragePool', [xh], { layout: 'NHWC' }));
  const bn = (c: number) => [w([c]), w([c]), w([c]), g.addConstant(`var${k++}`, fromF64(dtype, [c], Array.from({ length: c }, () => 0.5 + (r() + 1) / 2)))];
  outs.push(g.add('BatchNormalization', [xh, ...bn(C)], { layout: 'NHWC' }));
  outs.push(g.add('BatchNormalization', [x, ...bn(C)], {}));
  // ConvTranspose (gather form), grouped and strided
  for (let i = 0; i < 2; i++) {
    const group = i === 1 && C % 2 === 0 ? 2 : 1;
    const kk = pick([2, 3]), s = pick([1, 2]);
    outs.push(g.add('ConvTranspose', [x, w([C, 2 * group > C ? 1 : 2, kk, kk]), ''], {
      kernel_shape: [kk, kk], strides: [s, s], pads: [int(0, kk - 1), 0, 0, int(0, kk - 1)], output_padding: s > 1 ? [1, 0] : [], group, ...act(),
    }));
  }
  // FusedDwPw: depthwise 3×3 + act, then 1×1 + act (+ residual)
  for (let i = 0; i < 2; i++) {
    const s = i === 0 ? 1 : 2, Mo = i === 0 ? C : int(3, 40);
    const dwAct = pick(ACTS), lay = i === 0 ? 'NCHW' : 'NHWC';
    const src = lay === 'NHWC' ? xh : x;
    const ins = [src, w([C, 1, 3, 3]), w([C]), w([Mo, C, 1, 1]), w([Mo])];
    if (i === 0) ins.push(g.addInput('res2', { dtype, shape: [N, C, H, W] }));
    outs.push(g.add('FusedDwPw', ins, { strides: [s, s], pads: [1, 1, 1, 1], dw_activation: dwAct[0], dw_alpha: dwAct[1], dw_beta: dwAct[2], layout: lay, ...act() }));
  }
  // pooling
  outs.push(g.add('MaxPool', [x], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], ceil_mode: 1 }));
  outs.push(g.add('MaxPool', [x], { kernel_shape: [2, 3], strides: [1, 2], dilations: [2, 1] }));
  outs.push(g.add('AveragePool', [x], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], count_include_pad: 1, ceil_mode: 1 }));
  outs.push(g.add('AveragePool', [x], { kernel_shape: [2, 2], strides: [2, 2], pads: [0, 0, 1, 1] }));
  outs.push(g.add('GlobalAveragePool', [x]));
  outs.push(g.add('GlobalMaxPool', [x]));
  // Gemm (transB, broadcast C, alpha/beta, epilogue) and batched MatMul
  const flat = g.add('Flatten', [x], { axis: 1 });
  const K = C * H * W;
  outs.push(g.add('Gemm', [flat, w([37, K], 0.1), w([37])], { transB: 1, ...act() }));
  outs.push(g.add('Gemm', [flat, w([K, 9], 0.1), w([N, 1])], { alpha: 0.5, beta: 2 }));
  const a4 = g.addInput('a4', { dtype, shape: [2, 3, 5, 7] });
  outs.push(g.add('MatMul', [a4, w([7, 11])]));
  outs.push(g.add('MatMul', [a4, w([3, 7, 4])]));
  // elementwise: unary, broadcast binary, same-shape (half2 pairs in f16)
  for (const op of ['Relu', 'Sigmoid', 'HardSwish', 'Tanh', 'Gelu', 'Erf', 'Abs', 'Neg', 'Exp']) outs.push(g.add(op, [x]));
  outs.push(g.add('Clip', [x], { min: -0.5, max: 0.25 }));
  outs.push(g.add('LeakyRelu', [x], { alpha: 0.2 }));
  outs.push(g.add('HardSigmoid', [x], { alpha: 0.3, beta: 0.4 }));
  outs.push(g.add('Add', [x, w([1, C, 1, 1])]));
  outs.push(g.add('Mul', [x, w([W])]));
  outs.push(g.add('Sub', [w([C, 1, 1]), x]));
  outs.push(g.add('Div', [x, g.addConstant(`two${k++}`, fromF64(dtype, [1], [2]))]));
  outs.push(g.add('Mul', [x, g.add('Sigmoid', [x])]));
  outs.push(g.add('Max', [x, g.add('Neg', [x])]));
  outs.push(g.add('PRelu', [x, w([C, 1, 1])]));
  // rows: Softmax, LayerNorm, reductions
  outs.push(g.add('Softmax', [x], { axis: 1 }));
  outs.push(g.add('Softmax', [flat], { axis: -1 }));
  outs.push(g.add('LayerNormalization', [xh, w([C]), w([C])], { axis: -1 }));
  outs.push(g.add('ReduceMean', [x], { axes: [2, 3], keepdims: 1 }));
  outs.push(g.add('ReduceMax', [x], { axes: [1], keepdims: 0 }));
  // movement: Concat, Transpose, Slice, Pad, Resize nearest, Reshape
  outs.push(g.add('Concat', [x, g.add('Relu', [x]), outs[0].length ? x : x], { axis: 1 }));
  outs.push(g.add('Concat', [x, x], { axis: 3 }));
  outs.push(g.add('Transpose', [x], { perm: [0, 2, 3, 1] }));
  outs.push(g.add('Slice', [x], { starts: [1, 0], ends: [H, W], axes: [2, 3], steps: [2, 3] }));
  outs.push(g.add('Pad', [x], { pads: [0, 0, 1, 2, 0, 0, 2, 1], mode: 'constant', value: 0.5 }));
  outs.push(g.add('Pad', [x], { pads: [0, 0, 2, 1, 0, 0, 1, 2], mode: 'reflect' }));
  outs.push(g.add('Resize', [x], { scales: [1, 1, 2, 2], mode: 'nearest' }));
  outs.push(g.add('Relu', [g.add('Reshape', [x], { shape: [N, -1] })]));
  outs.push(g.add('Expand', [w([1, C, 1, W])], { shape: [N, C, 2, W] }));
  outs.push(...g.addNode('Split', [x], { axis: 2, split: [2, H - 2] }));
  outs.push(g.add('Tile', [x], { repeats: [1, 1, 2, 1] }));
  outs.push(g.add('Gather', [x, g.addConstant(`idx${k++}`, tensor('i64', [3], BigInt64Array.from([0n, BigInt(C - 1), 1n])))], { axis: 1 }));
  outs.push(g.add('SpaceToDepth', [g.add('Slice', [x], { starts: [0, 0], ends: [2 * (H >> 1), 2 * (W >> 1)], axes: [2, 3] })], { blocksize: 2 }));
  outs.push(g.add('Unsqueeze', [g.add('Squeeze', [g.add('GlobalMaxPool', [x])], { axes: [2, 3] })], { axes: [1] }));
  const other = dtype === 'f32' ? 'f16' : 'f32';
  outs.push(g.add('Cast', [g.add('Relu', [g.add('Cast', [x], { to: other })])], { to: dtype }));
  outs.push(g.add('LogSoftmax', [x], { axis: 3 }));
  outs.push(g.add('ReduceSum', [x], { axes: [0, 3], keepdims: 1 }));
  outs.push(g.add('ReduceMin', [x], { axes: [], keepdims: 0 }));
  outs.push(g.add('Pow', [g.add('Abs', [x]), w([W])]));
  outs.push(g.add('Sum', [x, w([W]), w([C, 1, 1])]));
  outs.push(g.add('Mean', [x, g.add('Tanh', [x])]));
  outs.push(g.add('Min', [x, w([1, 1, H, 1])]));
  outs.push(g.add('InstanceNormalization', [x, w([C]), w([C])], { epsilon: 1e-3 }));
  outs.push(g.add('LRN', [x], { size: 3, alpha: 0.5, beta: 0.75, bias: 2 }));
  outs.push(g.add('LRN', [xh], { size: 4, layout: 'NHWC' }));
  g.setOutputs(outs);
  return g;
}

/** Writes the inputs (in plan order) as one raw file, runs a standalone binary, reads its outputs. */
export function runStandalone(binary: string, dir: string, plan: CudaPlan, inputs: Record<string, Tensor>, extraArgs: string[] = []): { outputs: Record<string, Tensor>; stdout: string } {
  writeFileSync(join(dir, 'input.bin'), Buffer.concat(plan.inputs.map((x) => {
    const d = inputs[x.name].data;
    return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
  })));
  const stdout = execFileSync(binary, ['weights.bin', 'input.bin', 'output.bin', ...extraArgs], { cwd: dir, encoding: 'utf8', maxBuffer: 64 << 20 });
  const raw = readFileSync(join(dir, 'output.bin'));
  const outputs: Record<string, Tensor> = {};
  let off = 0;
  for (const o of plan.outputs) {
    const t = tensor(o.dtype, o.shape);
    new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength).set(raw.subarray(off, off + o.bytes));
    off += o.bytes;
    outputs[o.name] = t;
  }
  return { outputs, stdout };
}

/** The largest relative error over all outputs, and the outputs over `tol` (name: error). */
export function compareAll(got: Record<string, Tensor>, ref: Record<string, Tensor>, tol: number): { worst: number; bad: string[] } {
  let worst = 0;
  const bad: string[] = [];
  for (const [name, r] of Object.entries(ref)) {
    const e = got[name] ? relError(got[name], r) : Infinity;
    worst = Math.max(worst, e);
    if (!(e <= tol)) bad.push(`${name}: ${e.toExponential(2)}`);
  }
  return { worst, bad };
}

/** Special values where the reference has them (same NaN positions, same infinities), finite ones within `tol` of the largest finite |reference|. */
export function specialMismatch(got: Tensor, want: Tensor, tol: number): string | undefined {
  const a = toF64(got), b = toF64(want);
  if (a.length !== b.length) return `length ${a.length} vs ${b.length}`;
  let m = 1e-12;
  for (const v of b) if (Number.isFinite(v)) m = Math.max(m, Math.abs(v));
  for (let i = 0; i < a.length; i++) {
    const ok = Number.isNaN(b[i]) ? Number.isNaN(a[i]) : !Number.isFinite(b[i]) ? a[i] === b[i] : Math.abs(a[i] - b[i]) <= tol * m;
    if (!ok) return `element ${i}: ${a[i]} vs reference ${b[i]}`;
  }
  return undefined;
}
