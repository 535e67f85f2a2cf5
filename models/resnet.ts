/**
 * ResNet-18/34 (BasicBlock) and ResNet-50 (Bottleneck, stride on the 3×3 as torchvision's v1.5),
 * named as torchvision's modules: conv1, bn1, layer1.0.conv1, layer1.0.downsample.0, fc.
 */
import type { Graph } from '../ir/graph.js';
import { Model, type Value } from '../frontends/dsl/model.js';
import { inputShape, type ZooOptions } from './common.js';

type Block = (m: Model, x: Value, planes: number, stride: number) => Value;

/** conv1x1 + BN on the identity path when the shape changes (torchvision's `downsample`). */
function shortcut(m: Model, x: Value, out: number, stride: number): Value {
  if (stride === 1 && m.channels(x) === out) return x;
  return m.scope('downsample', () => m.batchNorm2d(m.conv2d(x, out, 1, { stride, bias: false, name: '0' }), { name: '1' }));
}

export const basicBlock: Block = (m, x, planes, stride) => m.relu(m.residual(x, (x) => {
  const y = m.relu(m.batchNorm2d(m.conv2d(x, planes, 3, { stride, padding: 1, bias: false, name: 'conv1' }), { name: 'bn1' }));
  return m.batchNorm2d(m.conv2d(y, planes, 3, { padding: 1, bias: false, name: 'conv2' }), { name: 'bn2' });
}, (x) => shortcut(m, x, planes, stride)));

export const bottleneck: Block = (m, x, planes, stride) => m.relu(m.residual(x, (x) => {
  let y = m.relu(m.batchNorm2d(m.conv2d(x, planes, 1, { bias: false, name: 'conv1' }), { name: 'bn1' }));
  y = m.relu(m.batchNorm2d(m.conv2d(y, planes, 3, { stride, padding: 1, bias: false, name: 'conv2' }), { name: 'bn2' }));
  return m.batchNorm2d(m.conv2d(y, planes * 4, 1, { bias: false, name: 'conv3' }), { name: 'bn3' });
}, (x) => shortcut(m, x, planes * 4, stride)));

function resnet(name: string, block: Block, depths: readonly number[], opts: ZooOptions): Graph {
  const m = new Model(name, opts);
  let x = m.input(inputShape(opts, 3, 224));
  x = m.conv2d(x, 64, 7, { stride: 2, padding: 3, bias: false, name: 'conv1' });
  x = m.relu(m.batchNorm2d(x, { name: 'bn1' }));
  x = m.maxPool2d(x, 3, { stride: 2, padding: 1, name: 'maxpool' });
  depths.forEach((n, stage) => {
    m.scope(`layer${stage + 1}`, () => {
      for (let i = 0; i < n; i++) {
        const stride = stage > 0 && i === 0 ? 2 : 1;
        x = m.scope(i, () => block(m, x, 64 << stage, stride));
      }
    });
  });
  x = m.flatten(m.adaptiveAvgPool2d(x, 1, { name: 'avgpool' }));
  m.output(m.linear(x, 1000, { name: 'fc' }));
  return m.build();
}

export const resnet18 = (opts: ZooOptions = {}) => resnet('resnet18', basicBlock, [2, 2, 2, 2], opts);
export const resnet34 = (opts: ZooOptions = {}) => resnet('resnet34', basicBlock, [3, 4, 6, 3], opts);
export const resnet50 = (opts: ZooOptions = {}) => resnet('resnet50', bottleneck, [3, 4, 6, 3], opts);
