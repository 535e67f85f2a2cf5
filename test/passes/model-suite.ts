/**
 * Differential tests of the whole -O3 pipeline on real models: the DSL zoo and the ONNX exports in
 * ../shared/models. One reference run per model, shared by every assertion about it.
 * Tolerances (relative to max |reference output|): f32 1e-4; fp16 1e-2 and the same top-1.
 * Also the "must show" figures: BN/ReLU/residual fusion in ResNet-18, dw+pw pairs in
 * MobileNetV2, transposes only at graph boundaries in NHWC, arena vs liveness bound, fp16 weights.
 */
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toF64, type Tensor } from '../../runtime/tensor.js';
import type { Graph } from '../../ir/graph.js';
import { interpret, type TensorMap } from '../../ir/interpreter.js';
import { weightBytes } from '../../ir/cost.js';
import { zoo } from '../../models/index.js';
import { loadOnnxFile, readTensorProto } from '../../frontends/onnx/import.js';
import { runPipeline, type CompileOptions } from '../../passes/pipeline.js';
import { planMemory, type MemoryPlan } from '../../codegen/memory-plan.js';
import { transposeCount } from '../../passes/layout.js';
import { isDepthwise } from '../../passes/fuse-dwpw.js';
import { DEFAULT_FP16_POLICY } from '../../passes/fp16.js';
import { checkPlan, ops, randomInputs, relError } from './helpers.js';

const SHARED = new URL('../../../shared/models/', import.meta.url).pathname;

export interface Case { label: string; name: string; load: () => Graph; inputs: (g: Graph) => TensorMap; nchw: boolean }

const dsl = (name: string): Case => ({ label: `zoo:${name}`, name, load: () => zoo(name), inputs: (g) => randomInputs(g, 7), nchw: false });
const onnx = (name: string): Case => ({
  label: `onnx:${name}`,
  name,
  load: () => loadOnnxFile(`${SHARED}${name}/model.onnx`),
  inputs: (g) => ({ [g.inputs[0]]: readTensorProto(readFileSync(`${SHARED}${name}/test_data_set_0/input_0.pb`)) }),
  nchw: true,
});

export const MODEL_NAMES = ['lenet5', 'resnet18', 'mobilenet_v2', 'squeezenet1_1', 'efficientnet_b0', 'unet_small'];
export const ZOO_CASES = MODEL_NAMES.map(dsl);
/** The shared models present on this machine (all six in ../shared/models). */
export const ONNX_CASES = MODEL_NAMES.filter((n) => existsSync(`${SHARED}${n}/model.onnx`)).map(onnx);
const CLASSIFIERS = new Set(['lenet5', 'resnet18', 'mobilenet_v2', 'squeezenet1_1', 'efficientnet_b0']);

const NHWC: CompileOptions = { opt: 'O3', layout: 'NHWC', verify: true };
const FIGURES: string[] = [];

function argmax(t: Tensor): number {
  const v = toF64(t);
  return v.reduce((best, x, i) => (x > v[best] ? i : best), 0);
}

/** Defines the suite over `cases` (one describe block per model) and prints the figures at the end. */
export function modelSuite(cases: Case[]): void {
  afterAll(() => {
    console.log(['model              nodes  O3   T  arena(KiB)  bound(KiB)  ratio  unplanned(KiB)  fp16 arena  fp16 w-bytes  err f32  err fp16', ...FIGURES].join('\n'));
  });

  describe.each(cases)('$label at -O3', (c) => {
    let g: Graph, ref: TensorMap, inputs: TensorMap;
    let nhwc: Graph, half: Graph, nchw: Graph | undefined;
    let plan: MemoryPlan, halfPlan: MemoryPlan;
    let errF32 = 0, errF16 = 0;

    beforeAll(() => {
      g = c.load();
      inputs = c.inputs(g);
      ref = interpret(g, inputs);
      nhwc = runPipeline(g, 'wasm', NHWC).graph;
      half = runPipeline(g, 'wasm', { ...NHWC, fp16: true }).graph;
      if (c.nchw) nchw = runPipeline(g, 'wgsl', { opt: 'O3', layout: 'NCHW', verify: true }).graph;
      plan = planMemory(nhwc);
      halfPlan = planMemory(half);
    });

    it('NHWC f32 graph: same outputs as the reference within 1e-4', () => {
      errF32 = relError(ref, interpret(nhwc, inputs));
      expect(errF32).toBeLessThanOrEqual(1e-4);
    });

    if (c.nchw) it('NCHW f32 graph: same outputs within 1e-4', () => {
      expect(relError(ref, interpret(nchw!, inputs))).toBeLessThanOrEqual(1e-4);
    });

    it('fp16 graph: within 1e-2; same top-1 for classifiers (or, when the reference top-2 are within the tolerance band, a near-tie class)', () => {
      const out = interpret(half, inputs);
      errF16 = relError(ref, out);
      expect(errF16).toBeLessThanOrEqual(1e-2);
      if (!CLASSIFIERS.has(c.name)) return;
      const r = toF64(ref[g.outputs[0]]);
      const top = argmax(ref[g.outputs[0]]);
      const got = argmax(out[g.outputs[0]]);
      const band = 2 * 1e-2 * Math.max(...r.map(Math.abs));
      const margin = r[top] - Math.max(...r.filter((_, i) => i !== top));
      if (margin > band) expect(got).toBe(top);
      else expect(r[top] - r[got]).toBeLessThanOrEqual(band);
    });

    it('no BatchNormalization left; NHWC keeps at most one transpose per graph input and output, at the boundary', () => {
      for (const h of [nhwc, half, nchw].filter((x): x is Graph => !!x)) expect(ops(h).BatchNormalization).toBeUndefined();
      expect(transposeCount(nhwc)).toBeLessThanOrEqual(g.inputs.length + g.outputs.length);
      for (const t of nhwc.nodes.filter((n) => n.op === 'Transpose')) {
        expect(nhwc.inputs.includes(t.inputs[0]) || nhwc.outputs.includes(t.outputs[0]), `${t.name} is inside the graph`).toBe(true);
      }
      expect(nhwc.nodes.filter((n) => 'layout' in n.attrs && nhwc.type(n.inputs[0]).shape.length === 4).every((n) => n.attrs.layout === 'NHWC')).toBe(true);
    });

    it('memory: arena ≤ 1.1 × liveness lower bound, no two live values overlap', () => {
      for (const [h, p] of [[nhwc, plan], [half, halfPlan]] as const) {
        expect(p.arenaBytes).toBeLessThanOrEqual(1.1 * p.lowerBound);
        checkPlan(h, p);
      }
    });

    it('fp16: f16 ops read and write f16 (weights included); weight bytes halve when no layer is pinned to f32', () => {
      const f16 = new Set(DEFAULT_FP16_POLICY.f16Ops);
      const weighted = half.nodes.filter((n) => ['Conv', 'ConvTranspose', 'FusedDwPw', 'Gemm', 'MatMul'].includes(n.op));
      const pinned = new Set([weighted[0], weighted.at(-1)]);
      let checked = 0;
      for (const n of half.nodes) {
        if (!f16.has(n.op) || pinned.has(n)) continue;
        for (const i of n.inputs) if (i) expect(half.type(i).dtype, `${n.name} reads ${i}`).toBe('f16');
        expect(half.type(n.outputs[0]).dtype).toBe('f16');
        checked++;
      }
      expect(checked).toBeGreaterThan(0);
      for (const o of half.outputs) expect(half.type(o).dtype).toBe(g.type(o).dtype);
      const all = runPipeline(g, 'wasm', { ...NHWC, verify: false, fp16: true, fp16Policy: { keepFirst: false, keepLast: false } }).graph;
      expect(weightBytes(all)).toBeLessThanOrEqual(0.5 * weightBytes(nhwc) + 64);
      const kib = (b: number) => (b / 1024).toFixed(0).padStart(10);
      FIGURES.push(`${c.label.padEnd(18)} ${String(g.nodes.length).padStart(5)} ${String(nhwc.nodes.length).padStart(4)} ${String(transposeCount(nhwc)).padStart(3)} ${kib(plan.arenaBytes)}  ${kib(plan.lowerBound)}  ${(plan.arenaBytes / plan.lowerBound).toFixed(3)}  ${kib(plan.unplannedBytes)}      ${kib(halfPlan.arenaBytes)}  ${(weightBytes(half) / weightBytes(nhwc)).toFixed(3)} (all: ${(weightBytes(all) / weightBytes(nhwc)).toFixed(3)})  ${errF32.toExponential(1)}  ${errF16.toExponential(1)}`);
    });

    if (c.name === 'resnet18') it('ResNet-18: 0 BatchNormalization, 0 standalone Relu, all 8 residual Adds in conv epilogues', () => {
      expect(ops(g).BatchNormalization).toBe(20);
      for (const h of [nhwc, nchw].filter((x): x is Graph => !!x)) {
        const o = ops(h);
        expect([o.BatchNormalization, o.Relu, o.Add]).toEqual([undefined, undefined, undefined]);
        expect(h.nodes.filter((n) => n.op === 'Conv' && n.inputs[3]).length).toBe(8);
        expect(h.nodes.filter((n) => n.op === 'Conv' && n.attrs.activation === 'relu').length).toBe(17);
      }
    });

    if (c.name === 'mobilenet_v2') it('MobileNetV2: every depthwise→pointwise pair fused', () => {
      const pairs = g.nodes.filter((n) => isDepthwise(g, n)).length;
      expect(pairs).toBe(17);
      for (const h of [nhwc, half, nchw].filter((x): x is Graph => !!x)) {
        expect(ops(h).FusedDwPw).toBe(pairs);
        expect(h.nodes.filter((n) => isDepthwise(h, n)).length).toBe(0);
      }
      console.log(`${c.label}: ${ops(nhwc).FusedDwPw} of ${pairs} depthwise→pointwise pairs fused into FusedDwPw`);
    });
  });
}
