/**
 * GoogLeNet / Inception v1 (Szegedy et al. 2014) as torchvision builds it, without the auxiliary
 * classifiers: BasicConv2d = conv (no bias) + BN (eps 0.001) + ReLU; branch 3 uses a 3×3 conv as torchvision does.
 */
import type { Graph } from '../ir/graph.js';
import { Model, type Value } from '../frontends/dsl/model.js';
import { inputShape, type ZooOptions } from './common.js';

function basicConv(m: Model, x: Value, out: number, k: number, name: string, o: { stride?: number; padding?: number } = {}): Value {
  return m.scope(name, () => m.relu(m.batchNorm2d(m.conv2d(x, out, k, { ...o, bias: false, name: 'conv' }), { eps: 0.001, name: 'bn' })));
}

function inception(m: Model, x: Value, name: string, c1: number, c3r: number, c3: number, c5r: number, c5: number, pool: number): Value {
  return m.scope(name, () => {
    const b1 = basicConv(m, x, c1, 1, 'branch1');
    const b2 = m.scope('branch2', () => basicConv(m, basicConv(m, x, c3r, 1, '0'), c3, 3, '1', { padding: 1 }));
    const b3 = m.scope('branch3', () => basicConv(m, basicConv(m, x, c5r, 1, '0'), c5, 3, '1', { padding: 1 }));
    const b4 = m.scope('branch4', () => basicConv(m, m.maxPool2d(x, 3, { stride: 1, padding: 1, ceilMode: true, name: '0' }), pool, 1, '1'));
    return m.cat([b1, b2, b3, b4], 1);
  });
}

export function googlenet(opts: ZooOptions = {}): Graph {
  const m = new Model('googlenet', opts);
  let x = m.input(inputShape(opts, 3, 224));
  const pool = (v: Value, k: number, name: string) => m.maxPool2d(v, k, { stride: 2, ceilMode: true, name });
  x = basicConv(m, x, 64, 7, 'conv1', { stride: 2, padding: 3 });
  x = pool(x, 3, 'maxpool1');
  x = basicConv(m, x, 64, 1, 'conv2');
  x = basicConv(m, x, 192, 3, 'conv3', { padding: 1 });
  x = pool(x, 3, 'maxpool2');
  x = inception(m, x, 'inception3a', 64, 96, 128, 16, 32, 32);
  x = inception(m, x, 'inception3b', 128, 128, 192, 32, 96, 64);
  x = pool(x, 3, 'maxpool3');
  x = inception(m, x, 'inception4a', 192, 96, 208, 16, 48, 64);
  x = inception(m, x, 'inception4b', 160, 112, 224, 24, 64, 64);
  x = inception(m, x, 'inception4c', 128, 128, 256, 24, 64, 64);
  x = inception(m, x, 'inception4d', 112, 144, 288, 32, 64, 64);
  x = inception(m, x, 'inception4e', 256, 160, 320, 32, 128, 128);
  x = pool(x, 2, 'maxpool4');
  x = inception(m, x, 'inception5a', 256, 160, 320, 32, 128, 128);
  x = inception(m, x, 'inception5b', 384, 192, 384, 48, 128, 128);
  x = m.flatten(m.adaptiveAvgPool2d(x, 1));
  m.output(m.linear(m.dropout(x, 0.2), 1000, { name: 'fc' }));
  return m.build();
}
