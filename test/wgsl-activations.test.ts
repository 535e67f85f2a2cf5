/**
 * Golden tests of the seven activations that came to wgsl by their definition alone (a scalar
 * formula in ir/ops/activation.ts rendered by codegen/c-like.ts): Elu, Celu, Selu, ThresholdedRelu,
 * Softplus, Softsign, Mish, each standalone and as the fused epilogue of a Conv, on the WebGPU
 * runtime (Dawn/llvmpipe in CI) vs the reference interpreter. f32, per element:
 * |got − ref| ≤ atol + rtol·|ref| with rtol 1e-4, atol 1e-5. One graph, one compile.
 */
import { describe, expect, it } from 'vitest';
import { compile } from '../index.js';
import { interpret } from '../ir/interpreter.js';
import { tensor, toF64, type Tensor } from '../runtime/tensor.js';
import { SEVEN, outside, sevenActivationsGraph } from './wgsl-scalar-cases.js';

const RTOL = 1e-4, ATOL = 1e-5;

describe(`wgsl: the seven activations standalone and as Conv epilogues vs the reference (f32, rtol ${RTOL}, atol ${ATOL})`, () => {
  const { g, x } = sevenActivationsGraph('f32');
  const feeds = { x: tensor('f32', [1, 4, 7, 7], x) };
  const ref = interpret(g, feeds);
  let got: Promise<Record<string, Tensor>> | undefined;
  const run = () => (got ??= compile(g, 'wgsl', { opt: 'O0' }).then((c) => c.run(feeds)));

  for (const [op] of SEVEN) {
    for (const name of [op, `conv_${op}`]) {
      it(name === op ? `${op} standalone` : `Conv + ${op} epilogue`, async () => {
        const y = (await run())[name];
        expect(y.shape).toEqual(ref[name].shape);
        expect(outside(name, toF64(ref[name]), toF64(y), RTOL, ATOL)).toEqual([]);
      });
    }
  }
});
