/**
 * ConvNeXt-Tiny as PyTorch exports it at opset 13 (every LayerNorm as ReduceMean, Sub, Pow,
 * ReduceMean, Add, Sqrt, Div, Mul, Add; GELU as its erf formula) compiles to at most 1.1× the
 * kernels of the same network built with LayerNormalization nodes, on wasm, wgsl and cuda, and
 * matches the reference interpreter on wasm and wgsl. Two spellings of its channels LayerNorm: torchvision's (Transpose to
 * NHWC, LN over the last axis, Transpose back) and the original ConvNeXt code's (over axis 1 of
 * NCHW, γ/β [C,1,1]). 32×32 input: kernel counts do not depend on the size. The counts are
 * printed (before the canonicalize pass the wasm target cannot lower the decomposed form at all).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { compile, type TargetName as Target } from '../index.js';
import type { Graph } from '../ir/graph.js';
import { interpret } from '../ir/interpreter.js';
import { importOnnx } from '../frontends/onnx/import.js';
import { zoo } from '../models/index.js';
import { toF64, type Tensor } from '../runtime/tensor.js';
import { runOrt } from './conformance/compare.js';
import { opset13Bytes } from './decomposed.js';
import { F32_TOL, relErr, sineInput } from './golden.js';
import { ops } from './passes/helpers.js';

/** Kernel counts on every target (cuda compiles without a device); runs where a target runs here. */
const TARGETS: Target[] = ['wasm', 'wgsl', 'cuda'];

describe('ConvNeXt-Tiny exported at opset 13 (LayerNorms written out)', () => {
  let withLn: Graph;
  const lnKernels = new Map<Target, number>();
  beforeAll(async () => {
    withLn = zoo('convnext_tiny', { size: 32 });
    for (const t of TARGETS) lnKernels.set(t, (await compile(withLn, t)).stats.kernels);
  }, 600_000);

  describe.each([
    ['torchvision LayerNorm2d (Transpose, LN over the last axis, Transpose)', false, ['wasm', 'wgsl'] as Target[]],
    ['channels-first LN over axis 1', true, ['wasm'] as Target[]],
  ] as const)('%s', (_label, channelsFirst, runOn) => {
    let bytes: Uint8Array, opset13: Graph, x: Tensor, want: Float64Array;
    beforeAll(() => {
      bytes = opset13Bytes(withLn, channelsFirst);
      opset13 = importOnnx(bytes);
      x = sineInput(opset13);
      want = toF64(interpret(opset13, { input: x }).output);
    }, 600_000);

    it('is the decomposed form: no LayerNormalization, one Pow and two ReduceMeans per LayerNorm of the original', () => {
      const o = ops(opset13);
      expect(o.LayerNormalization).toBeUndefined();
      expect(o.Pow).toBe(ops(withLn).LayerNormalization);
      expect(o.ReduceMean).toBe(2 * ops(withLn).LayerNormalization);
    });

    it('is a valid opset-13 model: onnxruntime runs it and matches the reference', async () => {
      const got = Object.values(await runOrt(bytes, { input: x }))[0];
      expect(relErr(want, got)).toBeLessThan(F32_TOL);
    });

    for (const target of TARGETS) {
      it(`${target}: at most 1.1× the kernels of the LayerNormalization build${runOn.includes(target) ? ', and matches the reference' : ''}`, async () => {
        const c = await compile(opset13, target);
        console.log(`convnext_tiny ${target}${channelsFirst ? ' (channels-first LN)' : ''}: opset-13 export ${c.stats.kernels} kernels (${opset13.nodes.length} nodes imported), LayerNormalization build ${lnKernels.get(target)}`);
        // every LayerNorm recovered: wgsl and cuda run the channel ones as ChannelLayerNorm (their transposes folded)
        const lns = ops(c.graph).LayerNormalization + (ops(c.graph).ChannelLayerNorm ?? 0);
        expect(lns).toBe(ops(withLn).LayerNormalization);
        expect(c.stats.kernels).toBeLessThanOrEqual(1.1 * lnKernels.get(target)!);
        if (runOn.includes(target)) expect(relErr(want, toF64((await c.run({ input: x })).output))).toBeLessThan(F32_TOL);
      }, 600_000);
    }
  });
});
