/**
 * U-Net (Ronneberger et al. 2015) with padded 3×3 convolutions, BatchNorm after each conv (as
 * common PyTorch ports do, e.g. milesial/Pytorch-UNet), ConvTranspose 2×2 up-sampling and skip
 * concatenation; widths 64…1024. `unetSmall` is exactly ../shared/models/unet_small (16…128).
 */
import type { Graph } from '../ir/graph.js';
import { nn, type Layer } from '../frontends/dsl/layers.js';
import { Model, type Value } from '../frontends/dsl/model.js';
import { inputShape, type ZooOptions } from './common.js';

/** (3×3 conv without bias, BN, ReLU) × 2, as one nn.Sequential. */
const doubleConv = (out: number): Layer[] => [
  nn.conv2d(out, 3, { padding: 1, bias: false }), nn.batchNorm2d(), nn.relu(),
  nn.conv2d(out, 3, { padding: 1, bias: false }), nn.batchNorm2d(), nn.relu(),
];

/** Ronneberger's U-Net, 4 levels (64, 128, 256, 512) and a 1024 bottleneck; input 1×3×256×256. */
export function unet(opts: ZooOptions & { classes?: number } = {}): Graph {
  const m = new Model('unet', opts);
  let x = m.input(inputShape(opts, 3, 256));
  const widths = [64, 128, 256, 512];
  const skips: Value[] = [];
  x = m.sequential(x, 'inc.double_conv', doubleConv(64));
  widths.forEach((_, i) => {
    skips.push(x);
    const out = i + 1 < widths.length ? widths[i + 1] : 1024;
    x = m.scope(`down${i + 1}.maxpool_conv`, () => m.sequential(m.maxPool2d(x, 2, { name: '0' }), '1.double_conv', doubleConv(out)));
  });
  [...widths].reverse().forEach((w, i) => {
    x = m.scope(`up${i + 1}`, () => {
      const up = m.convTranspose2d(x, w, 2, { stride: 2, name: 'up' });
      return m.sequential(m.cat([skips.pop()!, up], 1), 'conv.double_conv', doubleConv(w));
    });
  });
  m.output(m.conv2d(x, opts.classes ?? 2, 1, { name: 'outc.conv' }));
  return m.build();
}

/** The small U-Net of ../shared/models/unet_small: widths 16/32/64, bottleneck 128, 1×3×128×128 → 1×2×128×128. */
export function unetSmall(opts: ZooOptions = {}): Graph {
  const m = new Model('unet_small', opts);
  let x = m.input(inputShape(opts, 3, 128));
  const widths = [16, 32, 64];
  const skips: Value[] = [];
  widths.forEach((w, i) => {
    x = m.sequential(x, `downs.${i}`, doubleConv(w));
    skips.push(x);
    x = m.maxPool2d(x, 2, { name: 'pool' });
  });
  x = m.sequential(x, 'bottleneck', doubleConv(128));
  [...widths].reverse().forEach((w, i) => {
    const up = m.convTranspose2d(x, w, 2, { stride: 2, name: `ups.${i}` });
    x = m.sequential(m.cat([skips.pop()!, up], 1), `up_convs.${i}`, doubleConv(w));
  });
  m.output(m.conv2d(x, 2, 1, { name: 'head' }));
  return m.build();
}
