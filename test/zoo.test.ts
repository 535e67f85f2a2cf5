/**
 * The model zoo against published figures: parameter counts equal torchvision's (and the other
 * sources named below) exactly; MACs of the conv/linear layers — what torchvision's GFLOPS
 * column counts — within 3% of the published figure (or half its last printed digit).
 * Every model verifies and its summary formats; the small ones run through the reference
 * interpreter with finite outputs that depend on the input.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../frontends/dsl/random.js';
import type { Graph } from '../ir/graph.js';
import { interpret } from '../ir/interpreter.js';
import { formatSummary, summarize } from '../ir/summary.js';
import { verify } from '../ir/verify.js';
import { zoo, ZOO_NAMES } from '../models/index.js';
import { CnncError } from '../runtime/errors.js';
import { tensor, toF64 } from '../runtime/tensor.js';

/** [params, GMACs] — torchvision 0.14 model docs unless noted. */
const PUBLISHED: Record<string, [number, number | undefined]> = {
  lenet5: [61_706, undefined],            // LeCun 1998 / ../shared/models/lenet5
  alexnet: [61_100_840, 0.71],
  vgg11: [132_863_336, 7.61],
  vgg11_bn: [132_868_840, 7.61],
  vgg16: [138_357_544, 15.47],
  vgg16_bn: [138_365_992, 15.47],
  googlenet: [6_624_904, 1.5],
  resnet18: [11_689_512, 1.81],
  resnet34: [21_797_672, 3.66],
  resnet50: [25_557_032, 4.09],
  squeezenet1_1: [1_235_496, 0.35],
  mobilenet_v2: [3_504_872, 0.3],
  mobilenet_v3_small: [2_542_856, 0.06],
  efficientnet_b0: [5_288_548, 0.39],
  convnext_tiny: [28_589_128, 4.46],
  unet_small: [482_754, undefined],        // ../shared/models/unet_small/info.json
  unet: [31_037_698, undefined],           // milesial/Pytorch-UNet UNet(3, 2), summed by hand in unet.ts's layer list
  yolov5s: [7_235_389, 8.25],              // Ultralytics YOLOv5s v6: 7,235,389 params, 16.5 GFLOPs (= 2·MACs) at 640
};

const MATMUL_OPS = new Set(['Conv', 'ConvTranspose', 'Gemm', 'MatMul']);

describe('zoo: parameter counts and MACs equal the published figures', () => {
  it('every zoo name has a published figure', () => {
    expect([...ZOO_NAMES].sort()).toEqual(Object.keys(PUBLISHED).sort());
  });

  for (const name of ZOO_NAMES) {
    it(`${name}: verifies, params exact, MACs close, summary formats`, () => {
      const g = zoo(name, { weights: 'zeros' });
      verify(g);
      expect(g.inputs).toEqual(['input']);
      expect(g.outputs).toEqual(['output']);
      const s = summarize(g);
      const [params, gmacs] = PUBLISHED[name];
      expect(s.totalParams).toBe(params);
      if (gmacs !== undefined) {
        const macs = s.rows.filter((r) => MATMUL_OPS.has(r.op)).reduce((a, r) => a + r.flops, 0) / 2 / 1e9;
        expect(Math.abs(macs - gmacs)).toBeLessThanOrEqual(Math.max(0.03 * gmacs, 0.005));
      }
      const text = formatSummary(s);
      expect(text).toContain(`Total params: ${params.toLocaleString('en-US')}`);
      expect(text.split('\n').length).toBe(g.nodes.length + 7); // title, 3 rules, header, totals ×2
    });
  }

  it('LeNet-5 layer by layer: C1 156, C3 2,416, F5 48,120, F6 10,164, output 850', () => {
    const rows = summarize(zoo('lenet5')).rows.filter((r) => r.params > 0);
    expect(rows.map((r) => [r.name, r.params])).toEqual([
      ['features.0', 156], ['features.3', 2_416], ['classifier.1', 48_120], ['classifier.3', 10_164], ['classifier.5', 850],
    ]);
    expect(rows.map((r) => r.outputShape)).toEqual([[1, 6, 28, 28], [1, 16, 10, 10], [1, 120], [1, 84], [1, 10]]);
  });

  it('an unknown name is a typed error listing the zoo', () => {
    expect(() => zoo('resnet9000')).toThrow(CnncError);
    expect(() => zoo('resnet9000')).toThrow(/resnet18/);
  });

  it('batch and size options change the input, not the weights', () => {
    const g = zoo('resnet18', { batch: 2, size: 64, weights: 'zeros' });
    expect(g.type('input').shape).toEqual([2, 3, 64, 64]);
    expect(g.type('output').shape).toEqual([2, 1000]);
    expect(summarize(g).totalParams).toBe(11_689_512);
  });
});

/** Seeded N(0, 1) input of the graph's input shape. */
function randomInput(g: Graph, seed: number) {
  const shape = g.type('input').shape;
  const r = new Rng(seed);
  return tensor('f32', shape, r.fillNormal(new Float32Array(shape.reduce((a, b) => a * b, 1)), 0, 1));
}

describe('zoo: small models run in the reference interpreter', () => {
  // [name, options]: reduced input sizes keep the 2-core CI fast; the architecture is unchanged.
  const RUN: [string, { size?: number }][] = [
    ['lenet5', {}], ['mobilenet_v3_small', { size: 96 }], ['squeezenet1_1', { size: 64 }],
    ['unet_small', { size: 32 }], ['yolov5s', { size: 64 }], ['convnext_tiny', { size: 32 }],
    ['googlenet', { size: 32 }], ['resnet50', { size: 32 }], ['efficientnet_b0', { size: 64 }],
  ];
  for (const [name, opts] of RUN) {
    it(`${name}${opts.size ? ` at ${opts.size}×${opts.size}` : ''}: finite outputs that depend on the input`, () => {
      const g = zoo(name, { seed: 0, ...opts });
      const a = toF64(interpret(g, { input: randomInput(g, 1) }).output);
      const b = toF64(interpret(g, { input: randomInput(g, 2) }).output);
      expect(a.every(Number.isFinite) && b.every(Number.isFinite)).toBe(true);
      let diff = 0, max = 0;
      for (let i = 0; i < a.length; i++) {
        diff = Math.max(diff, Math.abs(a[i] - b[i]));
        max = Math.max(max, Math.abs(a[i]));
      }
      // the criterion of ../shared/models: max |y(x0) − y(x1)| / max |y| ≥ 1e-3 (signals do not vanish)
      expect(diff / max).toBeGreaterThan(1e-3);
      expect(max).toBeGreaterThan(0);
    });
  }
});
