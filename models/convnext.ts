/**
 * ConvNeXt-Tiny (Liu et al. 2022) as torchvision builds it. Its LayerNorms are over channels:
 * Transpose → LayerNormalization → Transpose (the layout pass can cancel the transposes);
 * the block's Linear layers act per pixel, so they are written as 1×1 convolutions in NCHW
 * (same weights and MACs). Layer scale is drawn U(0.5, 1.5) (its default 1e-6 makes each block a no-op).
 */
import type { Graph } from '../ir/graph.js';
import { Model, type Value } from '../frontends/dsl/model.js';
import { inputShape, type ZooOptions } from './common.js';

function cnBlock(m: Model, x: Value): Value {
  const dim = m.channels(x);
  const y = m.scope('block', () => {
    let v = m.conv2d(x, dim, 7, { padding: 3, groups: dim, name: '0' });
    v = m.layerNorm2d(v, { eps: 1e-6, name: '2' });
    v = m.gelu(m.conv2d(v, 4 * dim, 1, { name: '3' }), { name: '4' });
    return m.conv2d(v, dim, 1, { name: '5' });
  });
  const gamma = m.param(m.path('layer_scale'), '', [dim, 1, 1], { kind: 'uniform', lo: 0.5, hi: 1.5 });
  return m.add(m.mul(y, gamma), x);
}

export function convnextTiny(opts: ZooOptions = {}): Graph {
  const m = new Model('convnext_tiny', opts);
  let x = m.input(inputShape(opts, 3, 224));
  const depths = [3, 3, 9, 3];
  const dims = [96, 192, 384, 768];
  m.scope('features', () => {
    x = m.scope(0, () => m.layerNorm2d(m.conv2d(x, dims[0], 4, { stride: 4, name: '0' }), { eps: 1e-6, name: '1' }));
    depths.forEach((n, stage) => {
      if (stage > 0) {
        x = m.scope(2 * stage, () => m.conv2d(m.layerNorm2d(x, { eps: 1e-6, name: '0' }), dims[stage], 2, { stride: 2, name: '1' }));
      }
      m.scope(2 * stage + 1, () => {
        for (let i = 0; i < n; i++) x = m.scope(i, () => cnBlock(m, x));
      });
    });
  });
  x = m.adaptiveAvgPool2d(x, 1);
  x = m.scope('classifier', () => m.linear(m.flatten(m.layerNorm2d(x, { eps: 1e-6, name: '0' }), { name: '1' }), 1000, { name: '2' }));
  m.output(x);
  return m.build();
}
