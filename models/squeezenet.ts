/** SqueezeNet 1.1 (Iandola et al. 2016) as torchvision builds it: Fire modules 'features.i.squeeze'. */
import type { Graph } from '../ir/graph.js';
import { nn, type Layer } from '../frontends/dsl/layers.js';
import { Model } from '../frontends/dsl/model.js';
import { inputShape, type ZooOptions } from './common.js';

/** Fire: 1×1 squeeze + ReLU, then 1×1 and 3×3 expands (+ ReLU) concatenated on channels. */
const fire = (squeeze: number, e1: number, e3: number): Layer => nn.block((m, x) => {
  const s = m.relu(m.conv2d(x, squeeze, 1, { name: 'squeeze' }), { name: 'squeeze_activation' });
  const a = m.relu(m.conv2d(s, e1, 1, { name: 'expand1x1' }), { name: 'expand1x1_activation' });
  const b = m.relu(m.conv2d(s, e3, 3, { padding: 1, name: 'expand3x3' }), { name: 'expand3x3_activation' });
  return m.cat([a, b], 1);
});

export function squeezenet1_1(opts: ZooOptions = {}): Graph {
  const m = new Model('squeezenet1_1', opts);
  let x = m.input(inputShape(opts, 3, 224));
  const pool = () => nn.maxPool2d(3, { stride: 2, ceilMode: true });
  x = m.sequential(x, 'features', [
    nn.conv2d(64, 3, { stride: 2 }), nn.relu(), pool(),
    fire(16, 64, 64), fire(16, 64, 64), pool(),
    fire(32, 128, 128), fire(32, 128, 128), pool(),
    fire(48, 192, 192), fire(48, 192, 192), fire(64, 256, 256), fire(64, 256, 256),
  ]);
  x = m.sequential(x, 'classifier', [nn.dropout(0.5), nn.conv2d(1000, 1), nn.relu(), nn.adaptiveAvgPool2d(1)]);
  m.output(m.flatten(x));
  return m.build();
}
