/**
 * LeNet-5 (LeCun et al. 1998) as in ../shared/models/lenet5: 1×1×32×32, tanh, average pooling,
 * C1 6@5×5 (156 params), C3 16@5×5 (2,416), F5 120 (48,120), F6 84 (10,164), output 10 (850): 61,706.
 */
import type { Graph } from '../ir/graph.js';
import { nn } from '../frontends/dsl/layers.js';
import { Model } from '../frontends/dsl/model.js';
import { inputShape, type ZooOptions } from './common.js';

export function lenet5(opts: ZooOptions = {}): Graph {
  const m = new Model('lenet5', opts);
  let x = m.input(inputShape(opts, 1, 32));
  x = m.sequential(x, 'features', [
    nn.conv2d(6, 5), nn.tanh(), nn.avgPool2d(2),
    nn.conv2d(16, 5), nn.tanh(), nn.avgPool2d(2),
  ]);
  x = m.sequential(x, 'classifier', [
    nn.flatten(), nn.linear(120), nn.tanh(), nn.linear(84), nn.tanh(), nn.linear(10),
  ]);
  m.output(x);
  return m.build();
}
