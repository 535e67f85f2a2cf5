/**
 * Ops on the wasm target that come from their definitions (traits.scalar, ACTIVATIONS) rather
 * than from wasm code of their own, against the reference interpreter:
 * - every activation of the registry (each defined only by its formula in ir/ops/activation.ts —
 *   among them Elu, Celu, Selu, ThresholdedRelu, Softplus, Softsign, Mish, Shrink): standalone, and
 *   as fused Conv / FusedDwPw / Gemm epilogues;
 * - every op with a scalar formula on special values (±0, ±Inf, NaN, ±1e30, ±1e-40 denormals,
 *   ±1, ±3.5, ±88, 100): NaN exactly where the reference gives NaN, the same infinities, and f32
 *   tolerance otherwise (|wasm − ref| ≤ 1e-5 + 1e-4·|ref|; denormals are computed, not flushed);
 * - supports(): a reason for exactly the nodes lowering refuses;
 * - function names: kernel and variant, unique.
 * Random-input golden checks use the kernels' tolerance: max |ref − wasm| ≤ 1e-4 · max |ref|.
 */
import { describe, expect, it } from 'vitest';
import { compile } from '../index.js';
import { compileWasm, WASM_OPS } from '../codegen/wasm/index.js';
import { supports, supportsOp } from '../codegen/wasm/supports.js';
import { hasF32Form } from '../codegen/wasm/lower.js';
import { Graph } from '../ir/graph.js';
import { interpret } from '../ir/interpreter.js';
import type { AttrValue } from '../ir/op.js';
import { allOps, getOp } from '../ir/ops/index.js';
import { zoo } from '../models/index.js';
import { CnncError } from '../runtime/errors.js';
import { fromF64, tensor, type Tensor } from '../runtime/tensor.js';
import { F32_TOL, relErr } from './golden.js';
import { errorOf } from './op-harness.js';
import { SPECIAL, mismatch } from './wasm-golden.js';
import { ACTIVATION_CASES } from './wgsl-scalar-cases.js';

function values(n: number, seed: number, scale = 1): Float32Array {
  let s = seed * 2654435761 >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return (s / 2 ** 31 - 1) * scale;
  });
}
const randT = (shape: number[], seed: number, scale = 1) => tensor('f32', shape, values(shape.reduce((a, b) => a * b, 1), seed, scale));

/** One node over graph inputs `live` (indices into ins) and constants (the rest). */
function oneNode(op: string, ins: (Tensor | undefined)[], attrs: Record<string, AttrValue>, live = [0]) {
  const g = new Graph('t');
  const feeds: Record<string, Tensor> = {};
  const names = ins.map((t, i) => {
    if (!t) return '';
    if (live.includes(i)) { feeds[`x${i}`] = t; return g.addInput(`x${i}`, { dtype: t.dtype, shape: t.shape }); }
    return g.addConstant(`c${i}`, t);
  });
  g.setOutputs([g.add(op, names, attrs, { name: 'n0' })]);
  return { g, feeds };
}

/** Golden check at -O0 (NCHW) and with the wasm defaults (NHWC layout, fusion). */
async function expectGolden(g: Graph, feeds: Record<string, Tensor>): Promise<void> {
  const ref = interpret(g, feeds);
  for (const opts of [{ opt: 'O0' as const }, {}]) {
    const got = await (await compile(g, 'wasm', opts)).run(feeds);
    for (const k of Object.keys(ref)) {
      expect(relErr(ref[k].data as Float32Array, got[k].data as Float32Array), `${k} with ${JSON.stringify(opts)}`).toBeLessThan(F32_TOL);
    }
  }
}

/** Every activation of the registry (ops with an epilogue form), with attributes that move them off their defaults. */
const NEW_ACTIVATIONS = ACTIVATION_CASES;

/** The epilogue attributes (activation, act_alpha, act_beta) a standalone activation node maps to. */
function epilogueOf(op: string, attrs: Record<string, AttrValue>): Record<string, AttrValue> {
  const g = new Graph('probe');
  g.addInput('x', { dtype: 'f32', shape: [1] });
  g.add(op, ['x'], attrs);
  const ep = getOp(op).traits.asActivation!(g.nodes[0].attrs)!;
  return { ...ep };
}

describe('every activation (each defined only in ir/ops/activation.ts), on wasm vs reference', () => {
  for (const [op, attrs] of NEW_ACTIVATIONS) {
    it(`${op}: standalone, and fused into Conv, depthwise Conv, FusedDwPw and Gemm epilogues`, async () => {
      const x = randT([1, 6, 5, 7], op.length, 5);
      await expectGolden(...(Object.values(oneNode(op, [x], attrs)) as [Graph, Record<string, Tensor>]));
      const ep = epilogueOf(op, attrs);
      // dense conv (tile 4×12, partial last block) and depthwise conv, epilogue given as attributes
      const conv = oneNode('Conv', [x, randT([14, 6, 3, 3], 2), randT([14], 3)], { pads: [1, 1, 1, 1], ...ep });
      await expectGolden(conv.g, conv.feeds);
      const dw = oneNode('Conv', [x, randT([6, 1, 3, 3], 4), randT([6], 5)], { group: 6, strides: [2, 2], pads: [1, 1, 1, 1], ...ep });
      await expectGolden(dw.g, dw.feeds);
      const fused = oneNode('FusedDwPw', [x, randT([6, 1, 3, 3], 6), randT([6], 7), randT([9, 6, 1, 1], 8), randT([9], 9)], {
        pads: [1, 1, 1, 1], dw_activation: ep.activation, dw_alpha: ep.act_alpha, dw_beta: ep.act_beta, ...ep,
      });
      await expectGolden(fused.g, fused.feeds);
      const gemm = oneNode('Gemm', [randT([3, 10], 10, 3), randT([10, 7], 11), randT([7], 12)], ep);
      await expectGolden(gemm.g, gemm.feeds);
      // the graph as an importer gives it: Conv then the op (the fusion pass may or may not fuse it)
      const g = new Graph('chain');
      g.addInput('x', { dtype: 'f32', shape: [1, 6, 5, 7] });
      g.setOutputs([g.add(op, [g.add('Conv', ['x', g.addConstant('w', randT([8, 6, 3, 3], 13))], { pads: [1, 1, 1, 1] })], attrs)]);
      await expectGolden(g, { x });
    });
  }
});

/** Attribute sets per op beyond the defaults (ops not named run with their defaults only). */
const ATTR_CASES: Record<string, Record<string, AttrValue>[]> = {
  LeakyRelu: [{ alpha: 0.1 }], Clip: [{ min: -1, max: 2.5 }, { min: 0, max: 6 }, { min: 0, max: Infinity }],
  HardSigmoid: [{ alpha: 0.3, beta: 0.4 }], Gelu: [{ approximate: 'tanh' }], Elu: [{ alpha: 0.5 }], Celu: [{ alpha: 2 }],
  ThresholdedRelu: [{ alpha: 0.5 }, { alpha: -1 }],
};

/** Ops with a scalar formula that the wasm target lowers (f32 in, f32 out). */
const SCALAR_OPS = allOps().filter((d) => d.traits.scalar !== undefined);

describe('every op with a scalar formula, on special values, wasm vs reference', () => {
  it('each op either lowers on wasm or supportsOp gives the reason (bool ops: no f32 form)', () => {
    for (const d of SCALAR_OPS) {
      const why = supportsOp(d.name);
      expect(WASM_OPS.has(d.name), d.name).toBe(why === undefined);
    }
    // none is left out: the bool-valued ones (And … Xor) lower through the typed kernel (test/wasm-typed.test.ts)
    const out = SCALAR_OPS.filter((d) => supportsOp(d.name)).map((d) => d.name).sort();
    expect(out).toEqual([]);
  });

  // f32 special values for the ops with an f32 form; the bool-valued ones are covered in test/wasm-typed.test.ts
  for (const d of SCALAR_OPS.filter((x) => !supportsOp(x.name) && hasF32Form(x))) {
    it(`${d.name}`, async () => {
      const arity = Math.max(1, d.inputs[0]);
      // unary: every special value; binary and more: every pair (a third input, if any, cycles through them)
      const n = SPECIAL.length, count = arity === 1 ? n : n * n;
      const ins = Array.from({ length: arity }, (_, k) => tensor('f32', [1, count], Float32Array.from({ length: count }, (_, i) =>
        SPECIAL[k === 0 ? (arity === 1 ? i : Math.floor(i / n)) : k === 1 ? i % n : (i * 7) % n])));
      for (const attrs of [{}, ...(ATTR_CASES[d.name] ?? [])]) {
        const { g, feeds } = oneNode(d.name, ins, attrs, ins.map((_, i) => i));
        const ref = interpret(g, feeds)[g.outputs[0]].data as Float32Array;
        for (const opts of [{ opt: 'O0' as const }, {}]) {
          const got = (await (await compile(g, 'wasm', opts)).run(feeds))[g.outputs[0]].data as Float32Array;
          const at = (i: number) => `${d.name}${JSON.stringify(attrs)} ${JSON.stringify(opts)} at (${ins.map((t) => t.data[i]).join(', ')})`;
          expect(mismatch(ref, got, at)).toBeUndefined();
        }
      }
    });
  }
});

/** A graph whose node n0 the wasm target refuses, and the words its reason contains. */
const REFUSED: [string, () => Graph, string][] = [
  ['MaxPool of f16 tensors', () => oneNode('MaxPool', [fromF64('f16', [1, 1, 2, 2], [1, 2, 3, 4])], { kernel_shape: [2, 2] }).g, 'MaxPool on u8/i8'],
  ['Cast from i32 to bf16', () => oneNode('Cast', [tensor('i32', [4], Int32Array.from([1, 2, 3, 4]))], { to: 'bf16' }).g, 'round twice'],
  ['Pow of f64 by an f64 exponent', () => oneNode('Pow', [tensor('f64', [2], Float64Array.from([2, 3])), tensor('f64', [2], Float64Array.from([0.5, 1]))], {}, [0, 1]).g, 'not for an f64 result'],
  ['Exp of f64 tensors', () => oneNode('Exp', [tensor('f64', [4], Float64Array.from([1, 2, 3, 4]))], {}).g, 'computes exp in f32 only'],
  ['Concat of i32 tensors', () => oneNode('Concat', [tensor('i32', [2, 2], Int32Array.from([1, 2, 3, 4])), tensor('i32', [2, 2], Int32Array.from([1, 2, 3, 4]))], { axis: 0 }, [0, 1]).g, 'f32 tensors only'],
  ['LayerNormalization with a broadcast run-time scale', () => oneNode('LayerNormalization', [randT([2, 3, 4], 1), randT([4], 2)], { axis: 1 }, [0, 1]).g, 'normalized shape'],
];

/** Nodes the wasm target lowers, including ones near the refused ones. */
const ACCEPTED: [string, () => Graph][] = [
  ['Pad in constant mode', () => oneNode('Pad', [randT([1, 2, 3, 3], 1)], { pads: [0, 0, 1, 1, 0, 0, 1, 1] }).g],
  ['Conv with constant weights and a Mish epilogue', () => oneNode('Conv', [randT([1, 2, 5, 5], 1), randT([3, 2, 3, 3], 2)], { activation: 'mish' }).g],
  ['Pow with an f32 exponent', () => oneNode('Pow', [randT([4], 1), randT([4], 2)], {}, [0, 1]).g],
  ['ReduceMean over H, W', () => oneNode('ReduceMean', [randT([1, 4, 3, 3], 1)], { axes: [2, 3], keepdims: 1 }).g],
  ['Pad in reflect mode', () => oneNode('Pad', [randT([1, 2, 3, 3], 1)], { pads: [0, 0, 1, 1, 0, 0, 1, 1], mode: 'reflect' }).g],
  ['Resize linear', () => oneNode('Resize', [randT([1, 2, 3, 3], 1)], { mode: 'linear', scales: [1, 1, 2, 2] }).g],
  ['Gather with run-time indices', () => oneNode('Gather', [randT([4, 3], 1), tensor('i64', [2], BigInt64Array.from([0n, 2n]))], {}, [0, 1]).g],
  ['ReduceMax of bool tensors', () => oneNode('ReduceMax', [tensor('bool', [4], [0, 1, 1, 0])], { keepdims: 0 }).g],
  ['Transpose of i32 tensors', () => oneNode('Transpose', [tensor('i32', [2, 2], Int32Array.from([1, 2, 3, 4]))], { perm: [1, 0] }).g],
  // refused before the generic and typed kernels (their goldens: test/wasm-generic.test.ts, test/wasm-typed.test.ts, test/wasm-movement.test.ts)
  ['Conv with live weights', () => oneNode('Conv', [randT([1, 2, 5, 5], 1), randT([3, 2, 3, 3], 2)], {}, [0, 1]).g],
  ['3-D Conv', () => oneNode('Conv', [randT([1, 2, 4, 4, 4], 1), randT([3, 2, 2, 2, 2], 2)], {}).g],
  ['MaxPool on batch 2', () => oneNode('MaxPool', [randT([2, 2, 4, 4], 1)], { kernel_shape: [2, 2] }).g],
  ['Equal (bool output)', () => oneNode('Equal', [randT([4], 1), randT([4], 2)], {}, [0, 1]).g],
  ['Add of i32 tensors', () => oneNode('Add', [tensor('i32', [4], Int32Array.from([1, 2, 3, 4])), tensor('i32', [4], Int32Array.from([1, 1, 1, 1]))], {}, [0, 1]).g],
  ['Gemm with a live B', () => oneNode('Gemm', [randT([2, 3], 1), randT([3, 4], 2)], {}, [0, 1]).g],
  ['ReduceMean over the channels', () => oneNode('ReduceMean', [randT([1, 4, 3, 3], 1)], { axes: [1], keepdims: 1 }).g],
  // refused before the generic pool's u8/i8 MaxPool, the fill of tf_crop_and_resize's outside rows, the typed pow (test/cast-special.test.ts and the conformance suite run them)
  ['MaxPool of u8 tensors', () => oneNode('MaxPool', [tensor('u8', [1, 1, 2, 2], [1, 2, 3, 4])], { kernel_shape: [2, 2] }).g],
  ['Resize tf_crop_and_resize sampling outside the box', () => oneNode('Resize', [randT([1, 1, 3, 3], 1)], { mode: 'linear', coordinate_transformation_mode: 'tf_crop_and_resize', roi: [0, 0, -0.5, -0.5, 1, 1, 1.5, 1.5], sizes: [1, 1, 4, 4] }).g],
  ['Pow of i32 by an f32 exponent', () => oneNode('Pow', [tensor('i32', [4], Int32Array.from([1, 2, 3, 4])), randT([4], 2)], {}, [0, 1]).g],
  ['Cast from f32 to f8e4m3fn', () => oneNode('Cast', [randT([4], 1)], { to: 'f8e4m3fn', saturate: 0 }).g],
];

describe('wasm supports(): a reason for exactly the nodes lowering refuses', () => {
  for (const [what, make, words] of REFUSED) {
    it(`refuses ${what}, with the reason compile() gives`, async () => {
      const g = make();
      const why = supports(g.nodes[0], g);
      expect(why).toContain(words);
      const e = errorOf(() => compileWasm(g));
      expect(e.code).toBe('UNSUPPORTED');
      expect(e.message).toContain(why);
      // and through compile() (default pipeline): refused all the same
      await expect(compile(g, 'wasm', { opt: 'O0' })).rejects.toBeInstanceOf(CnncError);
    });
  }

  for (const [what, make] of ACCEPTED) {
    it(`accepts ${what}`, () => {
      const g = make();
      expect(supports(g.nodes[0], g)).toBeUndefined();
      expect(compileWasm(g).kernels).toBeGreaterThan(0);
    });
  }

  it('accepts every node of compiled zoo models (after the wasm pipeline)', async () => {
    for (const name of ['mobilenet_v2', 'efficientnet_b0', 'googlenet']) {
      const c = await compile(zoo(name, { size: 32 }), 'wasm');
      for (const n of c.graph.nodes) expect(supports(n, c.graph), `${name}: ${n.name} (${n.op})`).toBeUndefined();
    }
  });
});

describe('wasm function names', () => {
  it('name kernels and variants (conv3x3_s1_nhwc_2x16_relu, dwconv3x3_s2, maxpool2x2_s2, add_bcast, elementwise_…), uniquely, with a name section', async () => {
    const g = new Graph('names');
    g.addInput('x', { dtype: 'f32', shape: [1, 8, 8, 8] });
    const a = g.add('Conv', ['x', g.addConstant('w1', randT([16, 8, 3, 3], 1))], { pads: [1, 1, 1, 1], activation: 'relu' });
    const b = g.add('Conv', [a, g.addConstant('w2', randT([16, 16, 3, 3], 2))], { pads: [1, 1, 1, 1], activation: 'relu' });
    const d = g.add('Conv', [b, g.addConstant('w3', randT([16, 1, 3, 3], 3))], { group: 16, strides: [2, 2], pads: [1, 1, 1, 1] });
    const p = g.add('MaxPool', [b], { kernel_shape: [2, 2], strides: [2, 2] });
    const s = g.add('Add', [d, p]);
    const e = g.add('Elu', [g.add('Add', [s, g.addConstant('bias', randT([16, 1, 1], 4))])]);
    g.setOutputs([e]);
    const c = compileWasm(g);
    const names = c.plan.steps.map((st) => st.fn);
    expect(names).toEqual(expect.arrayContaining([
      'conv3x3_s1_nhwc_2x16_relu', 'conv3x3_s1_nhwc_2x16_relu_2', 'dwconv3x3_s2', 'maxpool2x2_s2', 'add', 'add_bcast', 'elementwise_elu',
    ]));
    expect(new Set(names).size).toBe(names.length);
    const mod = new WebAssembly.Module(c.artifact.sections.module as Uint8Array<ArrayBuffer>);
    expect(WebAssembly.Module.customSections(mod, 'name')).toHaveLength(1);
    const exported = WebAssembly.Module.exports(mod).map((x) => x.name);
    for (const n of names) expect(exported).toContain(n);
  });
});
