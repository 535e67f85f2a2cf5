/**
 * Every zoo model not already covered by the per-target model tests (test/models-suite.ts:
 * lenet5, resnet18/50, mobilenet_v2/v3, squeezenet, efficientnet,
 * googlenet, unet_small) compiles and runs on every target that runs here, golden against the
 * reference interpreter: f32, 1e-4 relative to the largest |reference|. One reference run per model.
 * Small inputs keep the suite short: AlexNet at 64×64 and the VGGs at 32×32 (their adaptive pools then
 * upsample a 1×1 map, nearest-neighbour as torch does; every layer and all the weights are still there:
 * AlexNet's 151 MB classifier weight is what the wgsl target splits under the 128 MiB binding limit),
 * U-Net and ConvNeXt-T at 32×32 (U-Net's four 2× downsamplings reach a 2×2 bottleneck, ConvNeXt's last
 * stage a 1×1 map), the rest at 64×64.
 * A model, size and target that test/models-suite.ts runs already (the same compile and comparison)
 * is not run twice: its test here says where it runs.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { compile, type TargetName } from '../index.js';
import type { Graph } from '../ir/graph.js';
import { interpret } from '../ir/interpreter.js';
import { summarize, formatSummary } from '../ir/summary.js';
import { zoo } from '../models/index.js';
import { load } from '../runtime/index.js';
import { toF64, type Tensor } from '../runtime/tensor.js';
import { F32_TOL, relErr, sineInput } from './golden.js';
import { suiteRuns } from './models-suite.js';

const MODELS: [string, number][] = [
  ['resnet34', 64], ['convnext_tiny', 32], ['unet', 32], ['yolov5s', 64],
  ['alexnet', 64], ['vgg11', 32], ['vgg11_bn', 32], ['vgg16', 32], ['vgg16_bn', 32],
];
const TARGETS: TargetName[] = ['wasm', 'wgsl'];


for (const [name, size] of MODELS) {
  const here = TARGETS.filter((t) => !suiteRuns(t, name, size));
  const elsewhere = TARGETS.filter((t) => !here.includes(t)).map((t) => `${t} in test/models-${t}.test.ts`);
  describe(`zoo:${name} at ${size}×${size} on every target${elsewhere.length ? ` (${elsewhere.join(', ')})` : ''}`, () => {
    let g: Graph, x: Tensor, want: Tensor;
    beforeAll(() => {
      g = zoo(name, { size });
      x = sineInput(g);
      if (here.length > 0) want = interpret(g, { input: x }).output;
    }, 600_000);

    it('summary prints', () => {
      expect(formatSummary(summarize(g))).toContain('Total params:');
    });

    for (const target of here) {
      it(`${target}: compile().run and save → load match the reference`, async () => {
        const c = await compile(g, target);
        expect(relErr(toF64(want), toF64((await c.run({ input: x })).output))).toBeLessThan(F32_TOL);
        const s = await load(c.save());
        expect(relErr(toF64(want), toF64((await s.run({ input: x })).output))).toBeLessThan(F32_TOL);
      }, 600_000);
    }
  });
}
