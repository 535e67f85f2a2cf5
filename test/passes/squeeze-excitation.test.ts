import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadOnnxFile } from '../../frontends/onnx/import.js';
import type { Graph } from '../../ir/graph.js';
import { zoo } from '../../models/index.js';
import { findSqueezeExcitation } from '../../passes/find-squeeze-excitation.js';
import { runPipeline } from '../../passes/pipeline.js';

const SHARED = new URL('../../../shared/models/', import.meta.url).pathname;
const onnxModel = (name: string) => `${SHARED}${name}/model.onnx`;

/** [label, graph, SE blocks]: EfficientNet-B0 has one per MBConv (16), MobileNetV3-Small in 9 of its 11 bnecks. */
const MODELS: [string, () => Graph, number][] = [
  ['zoo:efficientnet_b0', () => zoo('efficientnet_b0', { weights: 'zeros' }), 16],
  ['zoo:mobilenet_v3_small', () => zoo('mobilenet_v3_small', { weights: 'zeros' }), 9],
  ['zoo:resnet18', () => zoo('resnet18', { weights: 'zeros' }), 0],
  ['zoo:mobilenet_v2', () => zoo('mobilenet_v2', { weights: 'zeros' }), 0],
  ...(existsSync(onnxModel('efficientnet_b0')) ? [['onnx:efficientnet_b0', () => loadOnnxFile(onnxModel('efficientnet_b0')), 16] as [string, () => Graph, number]] : []),
];

describe('squeeze-excitation detection (pattern report)', () => {
  it.each(MODELS)('%s: as built and after the -O3 pipelines (activations in epilogues, NHWC)', (label, load, count) => {
    const g = load();
    const se = findSqueezeExcitation(g);
    const wasm = findSqueezeExcitation(runPipeline(g, 'wasm', { opt: 'O3', layout: 'NHWC' }).graph);
    const wgsl = findSqueezeExcitation(runPipeline(g, 'wgsl', { opt: 'O3', layout: 'NCHW' }).graph);
    console.log(`${label}: ${se.length} SE blocks (gate ops: ${se[0]?.gate.map((n) => n.op).join(' → ') ?? '-'}); after -O3 wasm ${wasm.length} (${wasm[0]?.gate.map((n) => n.op).join(' → ') ?? '-'}), wgsl ${wgsl.length}`);
    expect([se.length, wasm.length, wgsl.length]).toEqual([count, count, count]);
    for (const b of se) {
      expect(b.pool.inputs[0]).toBe(b.x);
      expect(b.gate.some((n) => n.op === 'Conv' || n.op === 'Gemm')).toBe(true);
    }
  });
});
