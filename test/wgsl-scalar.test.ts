/**
 * The WGSL rendering of every scalar formula (codegen/c-like.ts with the WGSL dialect) on special
 * values, run on the WebGPU runtime (in CI: Dawn on Mesa llvmpipe): every op with a
 * `traits.scalar`, on every tuple of ±0, ±∞, NaN, ±1e30, ±1e-40, ±1, ±3.5, 88, −88, 100 (and 2, 3,
 * 0.5, −2 for pow), against the reference: NaN where it is NaN, equal infinities, else within
 * rtol 1e-4 + atol 1e-5. All cases run in ONE shader (one compile: llvmpipe compiles slowly).
 */
import { describe, expect, it } from 'vitest';
import { WGSL } from '../codegen/wgsl/scalar.js';
import { CRenderer } from '../codegen/c-like.js';
import { encodeArtifact } from '../runtime/artifact.js';
import { load } from '../runtime/index.js';
import { tensor, toF64 } from '../runtime/tensor.js';
import { ATOL, RTOL, mismatches, referenceOf, scalarCases, tuples, type ScalarCase } from './wgsl-scalar-cases.js';

const WG = 64;

interface Layout { c: ScalarCase; args: Float32Array[]; xOff: number; yOff: number; n: number }

/** One shader evaluating every case: thread i computes element i of each case that has one. */
function specialShader(cases: ScalarCase[]) {
  const r = new CRenderer(WGSL);
  const layout: Layout[] = [];
  let xs = 0, ys = 0;
  for (const c of cases) {
    const args = tuples(c.arity);
    layout.push({ c, args, xOff: xs, yOff: ys, n: args[0].length });
    xs += args.length * args[0].length;
    ys += args[0].length;
  }
  const body = layout.map(({ c, args, xOff, yOff, n }) => {
    const loads = args.map((_, k) => `let a${k} = X[${xOff + k * n}u + i];`).join(' ');
    return `  if (i < ${n}u) { ${loads} Y[${yOff}u + i] = ${r.render(c.expr, args.map((_, k) => `a${k}`))}; } // ${c.name}`;
  });
  const code = [
    '@group(0) @binding(0) var<storage, read> X: array<f32>;',
    '@group(0) @binding(1) var<storage, read_write> Y: array<f32>;',
    r.helpers(),
    `@compute @workgroup_size(${WG})`,
    'fn main(@builtin(global_invocation_id) gid: vec3<u32>) {',
    '  let i = gid.x;',
    ...body,
    '}',
  ].join('\n');
  const x = new Float32Array(xs);
  for (const l of layout) l.args.forEach((a, k) => x.set(a, l.xOff + k * l.n));
  return { code, layout, x, ys, rows: Math.max(...layout.map((l) => l.n)) };
}

/** A one-kernel wgsl artifact around `code` (buffer 0 in, buffer 1 out), run by the runtime. */
async function runShader(code: string, x: Float32Array, ys: number, rows: number): Promise<Float64Array> {
  const plan = {
    buffers: [{ dtype: 'f32', elems: x.length }, { dtype: 'f32', elems: ys }],
    inputs: [{ name: 'x', buffer: 0 }], outputs: [{ name: 'y', buffer: 1 }],
    steps: [{ kernel: 'special_values', node: 'special_values', op: 'Special', shader: 0, bindings: [0, 1], dispatch: [Math.ceil(rows / WG), 1, 1] }],
    hasF16: false,
    limits: { maxComputeInvocationsPerWorkgroup: WG, maxComputeWorkgroupStorageSize: 0, maxStorageBuffersPerShaderStage: 2, maxComputeWorkgroupSizeX: WG, maxComputeWorkgroupSizeY: 1 },
  };
  const bytes = encodeArtifact({
    header: { version: 1, target: 'wgsl', inputs: [{ name: 'x', dtype: 'f32', shape: [x.length] }], outputs: [{ name: 'y', dtype: 'f32', shape: [ys] }], plan, meta: {} },
    sections: { weights: new Uint8Array(0), 'wgsl.f32': new TextEncoder().encode(JSON.stringify([code])) },
  });
  const session = await load(bytes);
  return toF64((await session.run({ x: tensor('f32', [x.length], x) })).y);
}

describe(`wgsl scalar formulas on special values vs the reference (rtol ${RTOL}, atol ${ATOL}, one shader)`, () => {
  const cases = scalarCases();
  const { code, layout, x, ys, rows } = specialShader(cases);
  let got: Float64Array | undefined;
  const results = async () => (got ??= await runShader(code, x, ys, rows));

  it('covers every op with a scalar formula', () => {
    expect(cases.map((c) => c.op)).toEqual(expect.arrayContaining(['Pow', 'Max', 'Min', 'Sigmoid', 'Tanh', 'Elu', 'Celu', 'Selu', 'ThresholdedRelu', 'Softplus', 'Softsign', 'Mish', 'Where']));
  });

  for (const l of layout) {
    it(`${l.c.name} on ${l.n} tuples`, async () => {
      const y = await results();
      expect(mismatches(l.c, l.args, referenceOf(l.c, l.args), y.subarray(l.yOff, l.yOff + l.n))).toEqual([]);
    });
  }
});
