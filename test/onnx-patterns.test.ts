/**
 * Patterns of real exported CNNs, as ONNX models written here with onnx-proto (what a PyTorch
 * export of that layer looks like), compiled with compile(bytes, 'wasm' | 'wgsl') and compared
 * with the reference interpreter AND onnxruntime-node on the same input (max |got − want| / max |want|
 * ≤ 1e-4; the reference itself must match onnxruntime within the same tolerance).
 *
 * A pattern a target refuses today is listed in REFUSED_TODAY with the refusal it gives; its test
 * asserts that compile() refuses it with that reason (UNSUPPORTED, before anything runs), so it FAILS
 * once the kernel lands: then remove the entry and the full comparison applies. A pattern that
 * compiles but gives a wrong answer today is listed in WRONG_TODAY the same way (it fails when fixed).
 */
import { describe, expect, it } from 'vitest';
import { compile } from '../index.js';
import { importOnnx } from '../frontends/onnx/import.js';
import { onnx } from '../frontends/onnx/proto.js';
import { interpret } from '../ir/interpreter.js';
import { CnncError } from '../runtime/errors.js';
import { tensor, toF64, type Tensor } from '../runtime/tensor.js';
import { relErr, runOrt } from './conformance/compare.js';

const TOL = 1e-4;

// ---- a small ONNX builder (float models) ----
type Attr = Record<string, unknown>;
const A = onnx.AttributeProto.AttributeType;
const ai = (name: string, i: number): Attr => ({ name, type: A.INT, i });
const af = (name: string, f: number): Attr => ({ name, type: A.FLOAT, f });
const ais = (name: string, ints: number[]): Attr => ({ name, type: A.INTS, ints });
const as = (name: string, s: string): Attr => ({ name, type: A.STRING, s: new TextEncoder().encode(s) });
const FLOAT = 1, INT64 = 7;
const vi = (name: string, dims: number[]) => ({ name, type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } });
const node = (opType: string, input: string[], output: string[], attribute: Attr[] = []) => ({ opType, input, output, attribute, name: `${output[0]}_${opType}` });

let seed = 12345;
const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
const values = (dims: number[], scale = 1, offset = 0) => Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => offset + scale * rnd());
const init = (name: string, dims: number[], scale = 0.5, offset = 0) => ({ name, dims, dataType: FLOAT, floatData: values(dims, scale, offset) });
const i64 = (name: string, v: number[]) => ({ name, dims: [v.length], dataType: INT64, int64Data: v });
const f32c = (name: string, v: number[]) => ({ name, dims: [v.length], dataType: FLOAT, floatData: v });

interface Pattern {
  /** What it is and where it comes from. */
  title: string;
  opset: number;
  /** Graph inputs: name → shape, and their value ranges (variances must stay positive). */
  inputs: [string, number[], { scale?: number; offset?: number }?][];
  output: [string, number[]];
  nodes: Attr[];
  inits?: Attr[];
}

function encode(p: Pattern): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'cnnc test/onnx-patterns',
    opsetImport: [{ domain: '', version: p.opset }],
    graph: { name: 'pattern', node: p.nodes, input: p.inputs.map(([n, d]) => vi(n, d)), output: [vi(...p.output)], initializer: p.inits ?? [] },
  })).finish();
}

const feedsOf = (p: Pattern): Record<string, Tensor> =>
  Object.fromEntries(p.inputs.map(([n, d, r]) => [n, tensor('f32', d, values(d, r?.scale ?? 1, r?.offset ?? 0))]));

const PATTERNS: Record<string, Pattern> = {
  'spatial-mean-head': {
    title: 'spatial mean without keepdims (ShuffleNetV2 / MNASNet head: x.mean([2, 3]) → Linear)',
    opset: 13,
    inputs: [['x', [2, 8, 7, 7]]],
    output: ['y', [2, 10]],
    nodes: [
      node('Conv', ['x', 'w', 'b'], ['c'], [ais('kernel_shape', [1, 1])]),
      node('Relu', ['c'], ['r']),
      node('ReduceMean', ['r'], ['m'], [ais('axes', [2, 3]), ai('keepdims', 0)]),
      node('Gemm', ['m', 'fc_w', 'fc_b'], ['y'], [ai('transB', 1)]),
    ],
    inits: [init('w', [16, 8, 1, 1]), init('b', [16]), init('fc_w', [10, 16]), init('fc_b', [10])],
  },
  'bilinear-head-half-pixel': {
    title: 'bilinear upsampling head (F.interpolate(scale_factor=2, mode="bilinear"): Resize linear, half_pixel, scales)',
    opset: 13,
    inputs: [['x', [1, 4, 8, 8]]],
    output: ['y', [1, 3, 16, 16]],
    nodes: [
      node('Conv', ['x', 'w', 'b'], ['c'], [ais('kernel_shape', [3, 3]), ais('pads', [1, 1, 1, 1])]),
      node('Resize', ['c', '', 'scales'], ['y'], [as('mode', 'linear'), as('coordinate_transformation_mode', 'half_pixel')]),
    ],
    inits: [init('w', [3, 4, 3, 3]), init('b', [3]), f32c('scales', [1, 1, 2, 2])],
  },
  'bilinear-head-align-corners': {
    title: 'bilinear upsampling head (align_corners=True, to a size: Resize linear, align_corners, sizes)',
    opset: 13,
    inputs: [['x', [1, 4, 7, 7]]],
    output: ['y', [1, 3, 20, 20]],
    nodes: [
      node('Conv', ['x', 'w', 'b'], ['c'], [ais('kernel_shape', [1, 1])]),
      node('Resize', ['c', '', '', 'sizes'], ['y'], [as('mode', 'linear'), as('coordinate_transformation_mode', 'align_corners')]),
    ],
    inits: [init('w', [3, 4, 1, 1]), init('b', [3]), i64('sizes', [1, 3, 20, 20])],
  },
  'conv3d-block': {
    title: '3-D conv block (video ResNet stem: Conv3d + BatchNorm3d + ReLU + MaxPool3d)',
    opset: 13,
    inputs: [['x', [1, 2, 4, 8, 8]]],
    output: ['y', [1, 4, 2, 4, 4]],
    nodes: [
      node('Conv', ['x', 'w', 'b'], ['c'], [ais('kernel_shape', [3, 3, 3]), ais('pads', [1, 1, 1, 1, 1, 1])]),
      node('BatchNormalization', ['c', 'gamma', 'beta', 'mean', 'var'], ['n'], [af('epsilon', 1e-5)]),
      node('Relu', ['n'], ['r']),
      node('MaxPool', ['r'], ['y'], [ais('kernel_shape', [2, 2, 2]), ais('strides', [2, 2, 2])]),
    ],
    inits: [init('w', [4, 2, 3, 3, 3]), init('b', [4]), init('gamma', [4], 0.3, 1), init('beta', [4]), init('mean', [4]), init('var', [4], 0.2, 1)],
  },
  'layernorm-opset13-expanded': {
    title: 'LayerNorm written out at opset 13 (ConvNeXt export: ReduceMean, Sub, Pow 2, ReduceMean, Add, Sqrt, Div, Mul, Add)',
    opset: 13,
    inputs: [['x', [1, 4, 4, 8]]],
    output: ['y', [1, 4, 4, 8]],
    nodes: [
      node('ReduceMean', ['x'], ['mu'], [ais('axes', [-1])]),
      node('Sub', ['x', 'mu'], ['d']),
      node('Pow', ['d', 'two'], ['d2']),
      node('ReduceMean', ['d2'], ['var'], [ais('axes', [-1])]),
      node('Add', ['var', 'eps'], ['ve']),
      node('Sqrt', ['ve'], ['s']),
      node('Div', ['d', 's'], ['n']),
      node('Mul', ['n', 'gamma'], ['ng']),
      node('Add', ['ng', 'beta'], ['y']),
    ],
    inits: [{ name: 'two', dims: [], dataType: FLOAT, floatData: [2] }, { name: 'eps', dims: [], dataType: FLOAT, floatData: [1e-6] }, init('gamma', [8], 0.3, 1), init('beta', [8])],
  },
  'conv-weights-as-inputs': {
    title: 'Conv whose weight and bias are graph inputs (weights fed at run time)',
    opset: 13,
    inputs: [['x', [1, 3, 8, 8]], ['w', [4, 3, 3, 3], { scale: 0.5 }], ['b', [4]]],
    output: ['y', [1, 4, 8, 8]],
    nodes: [node('Conv', ['x', 'w', 'b'], ['y'], [ais('kernel_shape', [3, 3]), ais('pads', [1, 1, 1, 1])])],
  },
  'gemm-weights-as-inputs': {
    title: 'Gemm (Linear) whose weight and bias are graph inputs',
    opset: 13,
    inputs: [['x', [2, 32]], ['w', [10, 32], { scale: 0.3 }], ['b', [10]]],
    output: ['y', [2, 10]],
    nodes: [node('Gemm', ['x', 'w', 'b'], ['y'], [ai('transB', 1)])],
  },
  'batchnorm-weights-as-inputs': {
    title: 'BatchNormalization whose scale, bias, mean and variance are graph inputs',
    opset: 13,
    inputs: [['x', [2, 4, 5, 5]], ['gamma', [4]], ['beta', [4]], ['mean', [4]], ['var', [4], { scale: 0.2, offset: 1 }]],
    output: ['y', [2, 4, 5, 5]],
    nodes: [node('BatchNormalization', ['x', 'gamma', 'beta', 'mean', 'var'], ['y'], [af('epsilon', 1e-5)])],
  },
  'layernorm-weights-as-inputs': {
    title: 'LayerNormalization (opset 17) whose scale and bias are graph inputs',
    opset: 17,
    inputs: [['x', [2, 6, 16]], ['gamma', [16]], ['beta', [16]]],
    output: ['y', [2, 6, 16]],
    nodes: [node('LayerNormalization', ['x', 'gamma', 'beta'], ['y'], [ai('axis', -1), af('epsilon', 1e-5)])],
  },
};

/**
 * Today's refusals (target → pattern → a part of compile()'s UNSUPPORTED message). The test of a
 * listed pair fails as soon as compile() stops refusing it: then delete the entry.
 */
const REFUSED_TODAY: Record<'wasm' | 'wgsl', Record<string, string>> = { wasm: {}, wgsl: {} };

/**
 * Wrong today (codegen bugs, fixed elsewhere): target → pattern → why. The test asserts the output
 * still differs, so it FAILS once the bug is fixed: then delete the entry.
 */
const WRONG_TODAY: Record<'wasm' | 'wgsl', Record<string, string>> = {
  wasm: {},
  wgsl: {},
};

/** The reference interpreter's output (checked against onnxruntime once per pattern). */
async function references(p: Pattern, bytes: Uint8Array, feeds: Record<string, Tensor>) {
  const ref = toF64(interpret(importOnnx(bytes), feeds)[p.output[0]]);
  const ort = (await runOrt(bytes, feeds))[p.output[0]];
  return { ref, ort };
}

for (const [name, p] of Object.entries(PATTERNS)) {
  describe(`${name}: ${p.title}`, () => {
    const bytes = encode(p);
    const feeds = feedsOf(p);
    let want: Promise<{ ref: Float64Array; ort: Float32Array }> | undefined;
    const wanted = () => (want ??= references(p, bytes, feeds));

    it(`the reference interpreter matches onnxruntime-node within ${TOL}`, async () => {
      const { ref, ort } = await wanted();
      expect(ref.length).toBe(p.output[1].reduce((a, b) => a * b, 1));
      expect(relErr(ref, ort)).toBeLessThan(TOL);
    });

    for (const target of ['wasm', 'wgsl'] as const) {
      const refusal = REFUSED_TODAY[target][name];
      if (refusal !== undefined) {
        it(`${target}: compile() refuses it before running (today: ${refusal}; kernels pending)`, async () => {
          const err = await compile(bytes, target).then(() => undefined, (e) => e);
          expect(err, `${name} now compiles on ${target}: remove it from REFUSED_TODAY so its output is checked`).toBeInstanceOf(CnncError);
          expect((err as CnncError).code).toBe('UNSUPPORTED');
          expect((err as CnncError).message).toContain(refusal);
        });
        continue;
      }
      const wrong = WRONG_TODAY[target][name];
      if (wrong !== undefined) {
        it(`${target}: KNOWN WRONG today (${wrong}): compiles but differs from the reference`, async () => {
          const c = await compile(bytes, target);
          const got = toF64((await c.run(feeds))[p.output[0]]);
          const err = relErr(got, (await wanted()).ref);
          expect(err, `${name} now matches on ${target}: remove it from WRONG_TODAY`).not.toBeLessThan(TOL);
        });
        continue;
      }
      it(`${target}: compile() output matches the reference and onnxruntime within ${TOL}`, async () => {
        const c = await compile(bytes, target);
        const got = (await c.run(feeds))[p.output[0]];
        expect(got.dtype).toBe('f32');
        expect([...got.shape]).toEqual(p.output[1]);
        const { ref, ort } = await wanted();
        expect(relErr(toF64(got), ref), 'vs reference').toBeLessThan(TOL);
        expect(relErr(toF64(got), ort), 'vs onnxruntime').toBeLessThan(TOL);
      });
    }
  });
}
