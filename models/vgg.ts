/** VGG-11/16 (Simonyan & Zisserman 2014), with or without BatchNorm, and AlexNet, as torchvision builds them. */
import type { Graph } from '../ir/graph.js';
import { nn, type Layer } from '../frontends/dsl/layers.js';
import { Model } from '../frontends/dsl/model.js';
import { inputShape, type ZooOptions } from './common.js';

const CONFIGS: Record<'vgg11' | 'vgg16', (number | 'M')[]> = {
  vgg11: [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
  vgg16: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'],
};

function vgg(cfg: 'vgg11' | 'vgg16', bn: boolean, opts: ZooOptions): Graph {
  const m = new Model(bn ? `${cfg}_bn` : cfg, opts);
  let x = m.input(inputShape(opts, 3, 224));
  const features: Layer[] = CONFIGS[cfg].flatMap((c): Layer[] => c === 'M'
    ? [nn.maxPool2d(2)]
    : [nn.conv2d(c, 3, { padding: 1 }), ...(bn ? [nn.batchNorm2d()] : []), nn.relu()]);
  x = m.sequential(x, 'features', features);
  x = m.flatten(m.adaptiveAvgPool2d(x, 7));
  x = m.sequential(x, 'classifier', [
    nn.linear(4096), nn.relu(), nn.dropout(), nn.linear(4096), nn.relu(), nn.dropout(), nn.linear(1000),
  ]);
  m.output(x);
  return m.build();
}

export const vgg11 = (opts: ZooOptions = {}) => vgg('vgg11', false, opts);
export const vgg11Bn = (opts: ZooOptions = {}) => vgg('vgg11', true, opts);
export const vgg16 = (opts: ZooOptions = {}) => vgg('vgg16', false, opts);
export const vgg16Bn = (opts: ZooOptions = {}) => vgg('vgg16', true, opts);

/** AlexNet (Krizhevsky et al. 2012), torchvision's one-tower variant (64/192/384/256/256 channels). */
export function alexnet(opts: ZooOptions = {}): Graph {
  const m = new Model('alexnet', opts);
  let x = m.input(inputShape(opts, 3, 224));
  x = m.sequential(x, 'features', [
    nn.conv2d(64, 11, { stride: 4, padding: 2 }), nn.relu(), nn.maxPool2d(3, { stride: 2 }),
    nn.conv2d(192, 5, { padding: 2 }), nn.relu(), nn.maxPool2d(3, { stride: 2 }),
    nn.conv2d(384, 3, { padding: 1 }), nn.relu(),
    nn.conv2d(256, 3, { padding: 1 }), nn.relu(),
    nn.conv2d(256, 3, { padding: 1 }), nn.relu(), nn.maxPool2d(3, { stride: 2 }),
  ]);
  x = m.flatten(m.adaptiveAvgPool2d(x, 6));
  x = m.sequential(x, 'classifier', [
    nn.dropout(), nn.linear(4096), nn.relu(), nn.dropout(), nn.linear(4096), nn.relu(), nn.linear(1000),
  ]);
  m.output(x);
  return m.build();
}
